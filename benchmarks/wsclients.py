"""The client side of every benchmark: N real WebSocket connections in a separate process.

:func:`spawn_clients` starts a process that opens ``plan.clients`` connections (one asyncio
connection each, handshakes bounded in concurrency), performs the subscribe handshake of the
server kind under test, reports ``ready``, then checks that every connection receives seq
``first_seq .. first_seq + events - 1`` exactly once and in order, recording the
emit-to-receive latency from the timestamp each event carries. Every wait is bounded by
``plan.timeout``.

Server kinds: ``bridge`` (the reference server's subscribe frame), ``bare`` (the bare
``websockets`` baseline), ``socketio`` (a minimal Engine.IO v4 / Socket.IO v5 client over the
WebSocket transport, so all kinds share one client implementation and one cost).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from .proc import raise_fd_limit
from .rawws import RawWebSocket, open_raw
from .results import percentile

ROOT = str(Path(__file__).resolve().parent.parent)
"""The checkout holding ``benchmarks/``: the working directory of the helper processes."""

__all__ = [
    "ROOT",
    "ClientPlan",
    "ClientReport",
    "ClientsHandle",
    "event_timestamp",
    "spawn_clients",
]

Kind = Literal["bridge", "bare", "socketio"]
MAX_ERRORS = 5


@dataclass(frozen=True)
class ClientPlan:
    """What the client process does.

    ``events == 0`` means idle: connect, subscribe, report ready, then wait for ``close``.
    ``last_seq``/``epoch`` make bridge clients resume instead of subscribing fresh.
    """

    url: str
    kind: Kind
    clients: int
    events: int
    thread_ids: tuple[str, ...]
    token: str | None = None
    first_seq: int = 1
    last_seq: int | None = None
    epoch: str | None = None
    timeout: float = 60.0
    connect_concurrency: int = 100
    headers_for_thread: dict[str, str] = field(default_factory=dict)
    #: Bridge clients: the subscribe frame's ``dialect`` (``None``: native).
    dialect: str | None = None


@dataclass
class ClientReport:
    """What the client process saw, sent back to the benchmark."""

    clients: int
    complete: int = 0
    received: int = 0
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    latency_percentiles: dict[str, float] = field(default_factory=dict)
    connect_seconds: float = 0.0
    subscribe_sent: float = 0.0
    first_receive: float = 0.0
    last_receive: float = 0.0
    subscribe_info: dict[str, Any] = field(default_factory=dict)

    @property
    def correct(self) -> bool:
        """Every client got exactly the planned events, in order."""
        return self.complete == self.clients and not self.errors

    def summary(self) -> dict[str, Any]:
        """The report as JSON-able data, latencies reduced to percentiles (seconds)."""
        data = asdict(self)
        data.pop("latencies")
        if self.latencies:
            data["latency_percentiles"] = {
                str(q): percentile(self.latencies, q) for q in (50, 90, 99, 100)
            }
        return data

    @classmethod
    def from_summary(cls, data: dict[str, Any]) -> ClientReport:
        """Rebuild a report sent by :meth:`summary`."""
        return cls(**data)


def event_timestamp(message: dict[str, Any]) -> float:
    """Return the ``time.monotonic()`` emit time a benchmark event carries in its payload."""
    payload = message["payload"]
    if "reasoning" in payload:
        return float(payload["reasoning"])
    return float(payload["context"]["ts"])


class _Client:
    """One connection: handshake per kind, then the ordered receive loop."""

    def __init__(self, plan: ClientPlan, index: int, report: ClientReport) -> None:
        self.plan = plan
        self.index = index
        self.report = report
        self.thread_id = plan.thread_ids[index % len(plan.thread_ids)]
        self.ws: RawWebSocket | None = None
        self.decode: Callable[[str | bytes], dict[str, Any] | None] = _decode_json

    def error(self, text: str) -> None:
        if len(self.report.errors) < MAX_ERRORS:
            self.report.errors.append(f"client {self.index}: {text}")

    async def open(self) -> None:
        plan = self.plan
        headers = {}
        if plan.kind == "bridge" and plan.token is not None:
            headers["Authorization"] = f"Bearer {plan.token}"
        url = plan.url
        if plan.kind == "socketio":
            url = url.rstrip("/") + "/socket.io/?EIO=4&transport=websocket"
        self.ws = await open_raw(url, headers)
        await HANDSHAKES[plan.kind](self)

    async def receive_all(self) -> None:
        assert self.ws is not None
        plan = self.plan
        expected = plan.first_seq
        end = plan.first_seq + plan.events
        latencies = self.report.latencies
        monotonic = time.monotonic
        decode = self.decode
        recv = self.ws.recv
        emitted_at: float | None = None
        while expected < end:
            message = decode(await recv())
            if message is None:
                continue
            now = monotonic()
            seq = message.get("seq")
            parts = message.get("parts")
            if parts is not None:
                # The ag-ui dialect: parts frames per seq, each carrying one AG-UI event; the
                # reasoning delta carries the emit time. A seq counts once its last part came.
                if seq != expected:
                    self.error(f"expected seq {expected}, got {seq} (part {message.get('part')})")
                    return
                delta = message.get("event", {}).get("delta")
                if isinstance(delta, str):
                    emitted_at = float(delta)
                if message.get("part") != parts - 1:
                    continue
                if expected == plan.first_seq and not self.report.first_receive:
                    self.report.first_receive = now
                if emitted_at is not None:
                    latencies.append(now - emitted_at)
                emitted_at = None
                expected += 1
                self.report.received += 1
                continue
            if seq is None:
                if message.get("type") in ("subscribed", "ping", "pong"):
                    continue
                self.error(f"unexpected frame {str(message)[:200]}")
                return
            if seq != expected:
                self.error(f"expected seq {expected}, got {seq}")
                return
            if expected == plan.first_seq and not self.report.first_receive:
                self.report.first_receive = now
            latencies.append(now - event_timestamp(message))
            expected += 1
            self.report.received += 1
        self.report.last_receive = max(self.report.last_receive, monotonic())
        self.report.complete += 1

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


def _decode_json(raw: str | bytes) -> dict[str, Any] | None:
    message = json.loads(raw)
    return message if isinstance(message, dict) else None


async def _expect(client: _Client, wanted: str) -> dict[str, Any]:
    assert client.ws is not None
    while True:
        message = json.loads(await client.ws.recv())
        if message.get("type") == wanted:
            return dict(message)
        if message.get("type") in ("error", "resync_required"):
            raise RuntimeError(f"handshake: {message}")


async def _bridge_handshake(client: _Client) -> None:
    assert client.ws is not None
    frame: dict[str, Any] = {"type": "subscribe", "thread_id": client.thread_id}
    if client.plan.last_seq is not None:
        frame["last_seq"] = client.plan.last_seq
    if client.plan.epoch is not None:
        frame["epoch"] = client.plan.epoch
    if client.plan.dialect is not None:
        frame["dialect"] = client.plan.dialect
    if not client.report.subscribe_sent:
        client.report.subscribe_sent = time.monotonic()
    client.ws.send(json.dumps(frame))
    info = await _expect(client, "subscribed")
    if client.index == 0:
        client.report.subscribe_info = info


async def _bare_handshake(client: _Client) -> None:
    assert client.ws is not None
    client.ws.send(json.dumps({"type": "subscribe", "thread_id": client.thread_id}))
    await _expect(client, "subscribed")


async def _socketio_handshake(client: _Client) -> None:
    ws = client.ws
    assert ws is not None
    opened = await ws.recv()
    if not str(opened).startswith("0"):
        raise RuntimeError(f"engine.io open expected, got {opened!r}")
    ws.send("40" + json.dumps({"room": client.thread_id}))
    connected = str(await ws.recv())
    if not connected.startswith("40"):
        raise RuntimeError(f"socket.io connect expected, got {connected!r}")

    def decode(raw: str | bytes) -> dict[str, Any] | None:
        text = str(raw)
        if text.startswith("42"):
            return dict(json.loads(text[2:])[1])
        if text == "2":  # engine.io ping: answer so the server keeps the connection
            ws.send("3")
        return None

    client.decode = decode


HANDSHAKES: dict[str, Callable[[_Client], Awaitable[None]]] = {
    "bridge": _bridge_handshake,
    "bare": _bare_handshake,
    "socketio": _socketio_handshake,
}


async def _run(plan: ClientPlan, say: Callable[[dict[str, Any]], None]) -> ClientReport:
    report = ClientReport(clients=plan.clients)
    clients = [_Client(plan, i, report) for i in range(plan.clients)]
    gate = asyncio.Semaphore(plan.connect_concurrency)

    async def open_one(client: _Client) -> None:
        async with gate:
            await client.open()

    started = time.monotonic()
    try:
        opening = [asyncio.ensure_future(open_one(c)) for c in clients]
        try:
            await asyncio.wait_for(asyncio.gather(*opening), plan.timeout)
        except BaseException:
            for task in opening:
                task.cancel()
            await asyncio.gather(*opening, return_exceptions=True)
            raise
        report.connect_seconds = time.monotonic() - started
        receiving = [asyncio.ensure_future(c.receive_all()) for c in clients]
        say({"ready": True, "connect_seconds": report.connect_seconds, **report.subscribe_info})
        if plan.events == 0:
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        else:
            done, pending = await asyncio.wait(receiving, timeout=plan.timeout)
            for task in done:
                exc = task.exception()
                if exc is not None:
                    report.errors.append(f"{type(exc).__name__}: {exc}")
            if pending:
                report.errors.append(f"{len(pending)} clients timed out after {plan.timeout}s")
        for task in receiving:
            task.cancel()
        await asyncio.gather(*receiving, return_exceptions=True)
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
    return report


def _child_main() -> None:
    """Entry of the client process: the plan on stdin, JSON lines out on stdout."""
    plan_data = json.loads(sys.stdin.readline())
    plan_data["thread_ids"] = tuple(plan_data["thread_ids"])
    plan = ClientPlan(**plan_data)
    raise_fd_limit(plan.clients + 256)
    ready = False

    def say(record: dict[str, Any]) -> None:
        nonlocal ready
        ready = ready or bool(record.get("ready"))
        sys.stdout.write(json.dumps(record) + "\n")
        sys.stdout.flush()

    try:
        report = asyncio.run(_run(plan, say))
    except BaseException as exc:  # report anything, never leave the parent waiting
        report = ClientReport(clients=plan.clients, errors=[f"{type(exc).__name__}: {exc}"])
        if not ready:
            say({"ready": False, "connect_seconds": 0.0})
    say({"done": True, **report.summary()})


class ClientsHandle:
    """The parent's side of a client process: wait for ready, then for the report."""

    def __init__(self, plan: ClientPlan, process: asyncio.subprocess.Process) -> None:
        self.plan = plan
        self.process = process
        self.connect_seconds = 0.0
        self.subscribe_info: dict[str, Any] = {}

    async def _line(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), self.plan.timeout + 30)
        if not line:
            raise RuntimeError("client process ended without a report")
        return dict(json.loads(line))

    async def ready(self) -> None:
        """Wait until every client is connected and subscribed."""
        record = await self._line()
        self.connect_seconds = float(record.pop("connect_seconds"))
        self.subscribe_info = record

    async def report(self) -> ClientReport:
        """Wait for the clients to finish (or time out) and return what they saw."""
        record = await self._line()
        record.pop("done")
        return ClientReport.from_summary(record)

    async def close_idle(self) -> ClientReport:
        """Tell idle clients to disconnect, then return their report."""
        assert self.process.stdin is not None
        self.process.stdin.write(b"close\n")
        await self.process.stdin.drain()
        return await self.report()

    async def join(self) -> None:
        """Reap the process (kill it if it does not end by itself)."""
        try:
            await asyncio.wait_for(self.process.wait(), 10)
        except asyncio.TimeoutError:
            self.process.kill()
            await self.process.wait()


async def spawn_clients(plan: ClientPlan) -> ClientsHandle:
    """Start the client process for ``plan``; ``await handle.ready()`` before emitting."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "benchmarks.wsclients",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    assert process.stdin is not None
    process.stdin.write((json.dumps(asdict(plan)) + "\n").encode())
    await process.stdin.drain()
    return ClientsHandle(plan, process)


if __name__ == "__main__":
    _child_main()
