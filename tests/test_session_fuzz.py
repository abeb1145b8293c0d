"""Hostile frames against a live server on a real socket (issue 11 §2, generalised).

The server runs in its own thread (its own event loop, started and stopped by the fixture);
Hypothesis drives a blocking ``websockets`` client from the test's thread. Whatever a client
sends, the server answers with control frames (``error`` for bad input) or closes with a
documented code other than 1011; it logs no error and no traceback, the connection stays
usable after an ``error``, and a subscriber on the side gets every event, once, in order.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import ExitStack, suppress

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from server_support import TIMEOUT, Stack, running_stack
from test_protocol_fuzz import frame_texts
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from reference_impl.protocol import CLOSE_CODES, CONTROL_FRAME_TYPES, CloseCode

SIDE_THREAD = "alice-1"
#: Close codes a hostile frame may earn: every documented one but "internal error".
EXPECTED_CLOSES = set(CLOSE_CODES) - {CloseCode.INTERNAL_ERROR, CloseCode.GOING_AWAY}


def allow_but_bob(user_id: str, thread_id: str) -> bool:
    """Any thread but those starting with ``bob``: most subscriptions pass, 1008 is reachable."""
    return not thread_id.startswith("bob")


class Records(logging.Handler):
    """Keeps every record of the reference implementation's loggers."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def bad(self) -> list[str]:
        return [
            f"{r.levelname} {r.name}: {r.getMessage()}"
            for r in self.records
            if r.levelno >= logging.ERROR or r.exc_info
        ]


class ServerThread:
    """A reference stack served from a thread of its own."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stack: Stack | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, daemon=True)
        self.error: BaseException | None = None

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported by the fixture
            self.error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with running_stack(authorizer=allow_but_bob, max_queue=10_000) as stack:
            self.stack = stack
            self._ready.set()
            await self._stop.wait()

    def start(self) -> None:
        self._thread.start()
        assert self._ready.wait(TIMEOUT), "the server thread did not start"
        if self.error is not None:
            raise self.error

    def stop(self) -> None:
        if self.loop is not None and self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(TIMEOUT)
        assert not self._thread.is_alive(), "the server thread did not stop"

    def emit(self, thread_id: str) -> int:
        assert self.loop is not None
        assert self.stack is not None
        future: Future[list[int]] = asyncio.run_coroutine_threadsafe(
            self.stack.emit(thread_id), self.loop
        )
        return future.result(TIMEOUT)[0]

    @property
    def url(self) -> str:
        assert self.stack is not None
        return self.stack.server.url


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[ServerThread, Records]]:
    records = Records()
    logger = logging.getLogger("reference_impl")
    logger.addHandler(records)
    thread = ServerThread()
    thread.start()
    try:
        yield thread, records
    finally:
        thread.stop()
        logger.removeHandler(records)


def open_client(url: str, exits: ExitStack) -> ClientConnection:
    """A blocking client of alice, closed when ``exits`` closes."""
    return exits.enter_context(
        connect(url, additional_headers={"Authorization": "Bearer token-alice"})
    )


class Fuzzer:
    """One hostile client, reconnected whenever the server closes it with a documented code."""

    def __init__(self, url: str, exits: ExitStack) -> None:
        self.url = url
        self.exits = exits
        self.ws = open_client(url, exits)
        self.probes = 0
        self.closes: list[int] = []

    def send(self, data: str | bytes) -> None:
        if isinstance(data, str):
            try:
                data.encode()
            except UnicodeEncodeError:
                # A text frame carries UTF-8 only (websockets >= 17 closes a client that tries
                # to send a lone surrogate): the same code points go as a binary frame.
                data = data.encode("utf-8", "surrogatepass")
        try:
            self.ws.send(data)
            self.probe()
        except ConnectionClosed:
            self.reopen()

    def probe(self) -> None:
        """Ping and read to the pong: the connection is still usable; only frames, no 1011."""
        self.probes += 1
        probe_id = f"probe-{self.probes}"
        self.ws.send(json.dumps({"type": "ping", "id": probe_id}))
        while True:
            frame = json.loads(self.ws.recv(timeout=TIMEOUT))
            assert isinstance(frame, dict)
            kind = frame.get("type")
            assert kind in CONTROL_FRAME_TYPES or isinstance(frame.get("seq"), int), frame
            if kind == "error":
                assert frame["code"] != "internal_error", frame
            if kind == "pong" and frame.get("id") == probe_id:
                return

    def reopen(self) -> None:
        self.ws.close_timeout = TIMEOUT
        with suppress(ConnectionClosed):
            self.ws.recv(timeout=TIMEOUT)
        received = self.ws.protocol.close_rcvd
        code = received.code if received is not None else None
        assert code in EXPECTED_CLOSES, f"closed with {code}"
        self.closes.append(code)
        self.ws.close()
        self.ws = open_client(self.url, self.exits)


def test_hostile_frames_get_errors_not_1011_and_a_side_subscriber_misses_nothing(
    server: tuple[ServerThread, Records],
) -> None:
    thread, records = server
    emitted: list[int] = []
    with ExitStack() as exits:
        side = open_client(thread.url, exits)
        fuzzer = Fuzzer(thread.url, exits)
        side.send(json.dumps({"type": "subscribe", "thread_id": SIDE_THREAD}))
        assert json.loads(side.recv(timeout=TIMEOUT))["type"] == "subscribed"

        @settings(
            max_examples=150,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        )
        @given(st.one_of(frame_texts(), st.binary(max_size=8).map(lambda b: b"b" + b)))
        def hostile(data: str | bytes) -> None:
            fuzzer.send(data)
            emitted.append(thread.emit(SIDE_THREAD))

        hostile()
        # the two inputs of the issue, on one connection that stays usable
        for data in ("[" * 1000 + "]" * 1000, '{"type": "ping", "id": "\\udfff"}'):
            fuzzer.ws.send(data)
            error = json.loads(fuzzer.ws.recv(timeout=TIMEOUT))
            assert (error["type"], error["code"]) == ("error", "invalid_frame"), error
            fuzzer.probe()

        seqs = []
        while len(seqs) < len(emitted):
            event = json.loads(side.recv(timeout=TIMEOUT))
            seqs.append(event["seq"])
        assert seqs == emitted == list(range(emitted[0], emitted[0] + len(emitted)))
    assert records.bad() == []
    assert CloseCode.INTERNAL_ERROR not in fuzzer.closes
