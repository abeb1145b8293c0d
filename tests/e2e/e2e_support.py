"""Outside-in support: a ``wsbridge serve`` subprocess and a bare ``websockets`` client.

Nothing here imports ``reference_impl`` or ``pytest_wsbridge`` (a test checks it): the client
knows the server only by its wire protocol, as documented in docs/protocol.md, the way a user's
own client does. The server is the console script of this virtualenv, run as a subprocess on
127.0.0.1 with port 0 (or a port it had before, for a restart); its printed URL is read back.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

__all__ = [
    "TIMEOUT",
    "Dropped",
    "Follower",
    "Served",
    "abort",
    "client",
    "close_code",
    "probe",
    "recv",
    "send",
    "stored",
    "subscribe",
    "until_closed",
    "wsbridge_script",
]

#: Bounds every wait for something that must happen (as in the rest of the suite).
TIMEOUT = float(os.environ.get("WSBRIDGE_TEST_TIMEOUT", "30"))

Frame = dict[str, Any]


def wsbridge_script() -> str:
    """The ``wsbridge`` console script of the running interpreter's environment."""
    script = Path(sys.executable).parent / "wsbridge"
    if not script.exists():
        raise FileNotFoundError(f"{script} is missing: install the project (pip install -e .)")
    return str(script)


class Served:
    """One ``wsbridge serve`` process: started, its output followed, stopped or killed."""

    def __init__(self, *options: str, port: int = 0) -> None:
        self.options = options
        self.port = port
        self.lines: list[str] = []
        self.errors: list[str] = []
        self.url = ""
        self._changed = threading.Condition()
        self._process: subprocess.Popen[str] | None = None
        self._readers: list[threading.Thread] = []

    def start(self) -> Served:
        """Start the process and wait (bounded) until it prints the URL it serves."""
        command = [wsbridge_script(), "serve", "--port", str(self.port), *self.options]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self._process = process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for stream, into in ((process.stdout, self.lines), (process.stderr, self.errors)):
            reader = threading.Thread(target=self._follow, args=(stream, into), daemon=True)
            reader.start()
            self._readers.append(reader)
        self.url = self.wait_for(r"serving (ws://127\.0\.0\.1:(\d+))")[1]
        self.port = int(self.url.rsplit(":", 1)[1])
        return self

    def _follow(self, stream: Any, into: list[str]) -> None:
        with stream:
            for line in stream:
                with self._changed:
                    into.append(line.rstrip("\n"))
                    self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def _reap(self) -> None:
        for reader in self._readers:
            reader.join(TIMEOUT)

    def wait_for(self, pattern: str, timeout: float = TIMEOUT) -> re.Match[str]:
        """Block until a line of output matches ``pattern`` (at most ``timeout`` seconds)."""

        def found() -> re.Match[str] | None:
            for line in self.lines:
                match = re.search(pattern, line)
                if match is not None:
                    return match
            return None

        with self._changed:
            match = self._changed.wait_for(lambda: found() is not None or not self.running, timeout)
            result = found()
        if result is None:
            raise AssertionError(
                f"wsbridge serve printed no {pattern!r} within {timeout}s "
                f"(running: {match and self.running}); stdout: {self.lines}; "
                f"stderr: {self.errors[-20:]}"
            )
        return result

    async def await_line(self, pattern: str, timeout: float = TIMEOUT) -> re.Match[str]:
        """:meth:`wait_for` without blocking the event loop."""
        return await asyncio.to_thread(self.wait_for, pattern, timeout)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> int:
        """SIGTERM, then wait (bounded; SIGKILL after it); return the exit status."""
        process = self._process
        assert process is not None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                return process.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
        status = process.wait(TIMEOUT)
        self._reap()
        return status

    def kill(self) -> None:
        """SIGKILL: the server dies without closing anything (a crash)."""
        process = self._process
        assert process is not None
        if process.poll() is None:
            process.kill()
        process.wait(TIMEOUT)
        self._reap()

    def tracebacks(self) -> list[str]:
        """Lines of stderr that show a traceback or an internal error."""
        return [
            line for line in self.errors if "Traceback" in line or "internal error" in line.lower()
        ]


@asynccontextmanager
async def client(
    url: str, token: str | None, *, tiny_buffers: bool = False
) -> AsyncIterator[ClientConnection]:
    """A bare websockets connection with a bearer token.

    ``tiny_buffers``: a 4 KiB socket receive buffer, a one-message incoming queue and no
    compression, so a client that stops reading pushes back on the server soon (a slow
    consumer; the server's kernel send buffer still takes a few MB first).
    """
    headers = {"Authorization": f"Bearer {token}"} if token else None
    options: dict[str, Any] = {"open_timeout": TIMEOUT, "close_timeout": 2}
    if tiny_buffers:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        host, port = url.removeprefix("ws://").split(":")
        await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
        options.update(sock=sock, max_queue=1, compression=None)
    async with connect(url, additional_headers=headers, **options) as ws:
        yield ws


def abort(ws: ClientConnection) -> None:
    """Drop the connection abruptly: no close frame, the TCP transport is aborted."""
    ws.transport.abort()


async def send(ws: ClientConnection, frame: Frame | str | bytes) -> None:
    await ws.send(frame if isinstance(frame, (str, bytes)) else json.dumps(frame))


async def recv(ws: ClientConnection, timeout: float = TIMEOUT) -> Frame:
    """The next frame, decoded (within ``timeout``)."""
    data = await asyncio.wait_for(ws.recv(), timeout)
    frame = json.loads(data)
    assert isinstance(frame, dict), frame
    return frame


async def subscribe(ws: ClientConnection, thread_id: str, **fields: Any) -> Frame:
    """Send ``subscribe`` and return the answer (``subscribed``, ``resync_required``, ``error``)."""
    await send(ws, {"type": "subscribe", "thread_id": thread_id, **fields})
    return await recv(ws)


async def probe(ws: ClientConnection, probe_id: str) -> list[Frame]:
    """Ping; return the frames that came before the matching pong."""
    await send(ws, {"type": "ping", "id": probe_id})
    before = []
    while True:
        frame = await recv(ws)
        if frame.get("type") == "pong" and frame.get("id") == probe_id:
            return before
        before.append(frame)


async def until_closed(ws: ClientConnection) -> tuple[list[Frame], int | None]:
    """Read until the server closes ``ws``; return the frames read and its close code."""
    frames = []
    try:
        while True:
            frames.append(await recv(ws))
    except ConnectionClosed:
        pass
    received = ws.protocol.close_rcvd  # ws.close_code: websockets >= 14.1 only
    return frames, received.code if received is not None else None


async def close_code(ws: ClientConnection) -> int | None:
    """Read until the server closes ``ws``; return its close code."""
    return (await until_closed(ws))[1]


async def stored(url: str, token: str, thread_id: str) -> tuple[str, list[Frame]]:
    """The thread's epoch and every event its log keeps: a fresh resume from ``last_seq=0``."""
    async with client(url, token) as ws:
        answer = await subscribe(ws, thread_id, last_seq=0)
        assert answer["type"] == "subscribed", answer
        events = [await recv(ws) for _ in range(answer["recovered"])]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1)), "the log has a gap"
    return answer["epoch"], events


class Dropped(Exception):
    """The server closed the connection (``code``) or it was lost."""

    def __init__(self, code: int | None) -> None:
        super().__init__(f"connection closed with {code}")
        self.code = code


@dataclass
class Follower:
    """A client that follows one thread across reconnects and resumes by ``last_seq``/``epoch``.

    It keeps every event it got, in order, and checks each against the last: the next seq of the
    same epoch, else the server must have said ``resync_required`` first. It never drops a
    duplicate silently: a duplicate or a gap fails at once.
    """

    url: str
    token: str
    thread_id: str
    events: list[Frame] = field(default_factory=list)
    epoch: str | None = None
    last_seq: int | None = None
    resyncs: list[Frame] = field(default_factory=list)
    closes: list[int | None] = field(default_factory=list)
    connections: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    async def wait_until(self, done: Callable[[Follower], bool]) -> None:
        """Wait until ``done(self)`` holds (bound it with ``asyncio.wait_for``)."""
        while not done(self):
            self.changed.clear()
            await self.changed.wait()

    def take(self, event: Frame) -> None:
        assert event.get("thread_id") == self.thread_id, event
        assert "seq" in event, event
        if self.last_seq is not None:
            assert (event["epoch"], event["seq"]) == (self.epoch, self.last_seq + 1), (
                f"silent gap or duplicate: after {self.epoch}/{self.last_seq} came "
                f"{event['epoch']}/{event['seq']}"
            )
        self.events.append(event)
        self.epoch, self.last_seq = event["epoch"], event["seq"]
        self.changed.set()

    def resume_fields(self) -> dict[str, Any]:
        if self.last_seq is None:
            return {"last_seq": 0}
        return {"last_seq": self.last_seq, "epoch": self.epoch}

    async def open(self, ws: ClientConnection) -> bool:
        """Subscribe, resuming; ``False`` after a ``resync_required`` (resume point reset)."""
        self.connections += 1
        answer = await subscribe(ws, self.thread_id, **self.resume_fields())
        if answer["type"] == "resync_required":
            self.resync(answer)
            return False
        assert answer["type"] == "subscribed", answer
        if self.epoch is None:
            self.epoch = answer["epoch"]
        return True

    def resync(self, frame: Frame) -> None:
        """What a client does on ``resync_required``: reload the thread, from the new epoch."""
        self.resyncs.append(frame)
        self.epoch, self.last_seq = frame["epoch"], None
        self.changed.set()

    async def read(self, ws: ClientConnection, count: int | None, timeout: float = TIMEOUT) -> int:
        """Take up to ``count`` events (``None``: until closed); return how many."""
        taken = 0
        while count is None or taken < count:
            try:
                frame = await recv(ws, timeout)
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd is not None else None
                self.closes.append(code)
                raise Dropped(code) from None
            if frame.get("type") == "resync_required":
                self.resync(frame)
                return taken
            assert frame.get("type") not in ("error", "subscribed"), frame
            self.take(frame)
            taken += 1
        return taken

    async def follow_until(self, total: int, *, timeout: float = TIMEOUT) -> None:
        """Reconnect and resume until ``total`` events of the current epoch are in."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (self.last_seq or 0) < total:
            assert loop.time() < deadline, f"{self.thread_id}: stuck at {self.last_seq}/{total}"
            try:
                async with client(self.url, self.token) as ws:
                    if await self.open(ws):
                        await self.read(ws, total - (self.last_seq or 0))
            except (Dropped, OSError):
                await asyncio.sleep(0.05)
