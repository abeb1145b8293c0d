"""Shared set-up for the server and client tests: a bridge served on 127.0.0.1, port 0."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from reference_impl import ConnectionManager, ReferenceOrchestrator, create_bridge
from reference_impl.auth import OwnerAuthorizer, TokenAuthenticator
from reference_impl.bridge import AgentWebSocketBridge
from reference_impl.ids import generate_run_id
from reference_impl.server import BridgeServer

TOKENS = {"token-alice": "alice", "token-bob": "bob"}
# Bounds waits for something that must happen: a good run never waits it out, so it is
# generous for a loaded CI machine (two suites under coverage on 2 cores); WSBRIDGE_TEST_TIMEOUT
# overrides it.
TIMEOUT = float(os.environ.get("WSBRIDGE_TEST_TIMEOUT", "30"))
# What a loaded machine may add to a wait that must be bounded (a limit plus clean-up): the
# assertion still tells "bounded" from "hangs"; WSBRIDGE_TEST_SLACK overrides it.
SLACK = float(os.environ.get("WSBRIDGE_TEST_SLACK", "3"))


@dataclass
class Stack:
    """A running bridge and server; threads ``alice-1``/``alice-2`` are alice's, ``bob-1`` bob's."""

    bridge: AgentWebSocketBridge
    orchestrator: ReferenceOrchestrator
    manager: ConnectionManager
    server: BridgeServer
    runs: dict[str, str]

    async def emit(self, thread_id: str, count: int = 1, **payload: Any) -> list[int]:
        """Emit ``count`` custom events on the thread; return their seqs."""
        run_id = self.runs.setdefault(thread_id, generate_run_id(thread_id))
        seqs = []
        for index in range(count):
            receipt = await self.bridge.notify_custom(run_id, "tester", {"i": index, **payload})
            seqs.append(receipt.seq)
        return seqs


@asynccontextmanager
async def running_stack(
    port: int = 0, *, allow_unowned: bool = False, **server_options: Any
) -> AsyncIterator[Stack]:
    """Build a reference bridge and serve it; close both afterwards."""
    orchestrator = ReferenceOrchestrator()
    for user, thread in (("alice", "alice-1"), ("alice", "alice-2"), ("bob", "bob-1")):
        orchestrator.create_thread(user, thread)
    manager = ConnectionManager()
    bridge = await create_bridge(connection_manager=manager, orchestrator=orchestrator)
    options: dict[str, Any] = {
        "authenticator": TokenAuthenticator(TOKENS),
        "authorizer": OwnerAuthorizer(orchestrator, allow_unowned=allow_unowned),
        "close_timeout": 1.0,
    }
    options.update(server_options)
    server = BridgeServer(bridge, manager, **options)
    await server.start(port=port)
    try:
        yield Stack(bridge, orchestrator, manager, server, {})
    finally:
        await server.close()
        await bridge.close()


@asynccontextmanager
async def raw(
    url: str, token: str | None = "token-alice", **kwargs: Any
) -> AsyncIterator[ClientConnection]:
    """A plain websockets connection (bearer token in the header)."""
    headers = {"Authorization": f"Bearer {token}"} if token else None
    async with connect(url, additional_headers=headers, **kwargs) as ws:
        yield ws


async def send(ws: ClientConnection, frame: dict[str, Any]) -> None:
    """Send a frame as JSON text."""
    await ws.send(json.dumps(frame))


async def recv(ws: ClientConnection, timeout: float = TIMEOUT) -> dict[str, Any]:
    """Receive one JSON frame, within ``timeout``."""
    data = await asyncio.wait_for(ws.recv(), timeout)
    message = json.loads(data)
    assert isinstance(message, dict)
    return message


async def subscribe(ws: ClientConnection, thread_id: str, **fields: Any) -> dict[str, Any]:
    """Subscribe and return the server's answer."""
    await send(ws, {"type": "subscribe", "thread_id": thread_id, **fields})
    return await recv(ws)


async def closed_code(ws: ClientConnection, timeout: float = TIMEOUT) -> int | None:
    """Wait for the server to close ``ws``; return the close code it sent."""
    await asyncio.wait_for(ws.wait_closed(), timeout)
    received = ws.protocol.close_rcvd  # ws.close_code is websockets >= 14.1 only
    return received.code if received is not None else None


class Lines(io.StringIO):
    """An output stream a test can await lines from."""

    def __init__(self) -> None:
        super().__init__()
        self.changed = asyncio.Event()

    def write(self, text: str) -> int:
        self.changed.set()
        return super().write(text)

    async def wait_for(self, pattern: str) -> re.Match[str]:
        async def scan() -> re.Match[str]:
            while (match := re.search(pattern, self.getvalue())) is None:
                self.changed.clear()
                await self.changed.wait()
            return match

        return await asyncio.wait_for(scan(), TIMEOUT)


#: ``wsbridge`` as a subprocess of this interpreter (the venv's, whatever is on PATH).
WSBRIDGE = [sys.executable, "-m", "pytest_wsbridge.cli"]
#: The environment of ``wsbridge`` subprocesses: unbuffered, so their lines come as printed.
WSBRIDGE_ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def serve_demo(interval: float = 0.05) -> subprocess.Popen[str]:
    """``wsbridge serve --demo --port 0`` as a subprocess; stop it with SIGTERM."""
    return subprocess.Popen(
        [*WSBRIDGE, "serve", "--demo", "--port", "0", "--demo-interval", str(interval)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=WSBRIDGE_ENV,
    )
