"""The baselines a user would otherwise pick, served on 127.0.0.1 and an OS-chosen port.

- :class:`BareWebsocketsServer`: a bare ``websockets`` server that ``broadcast``\\s each event's
  JSON to the thread's subscribers: no log, no checks, the ceiling.
- :class:`SocketIOServer`: ``python-socketio`` rooms on ``aiohttp`` (the ``bench`` extra).

Both speak to :mod:`benchmarks.wsclients` and publish the same wire dicts the bridge sends
(:func:`wire_event`).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, broadcast, serve

__all__ = ["BareWebsocketsServer", "SocketIOServer", "socketio_available", "wire_event"]


def wire_event(seq: int, ts: float, *, thread_id: str, run_id: str, epoch: str) -> dict[str, Any]:
    """Return the wire dict the bridge sends for the benchmark's event ``seq`` emitted at ``ts``.

    Same envelope and payload as ``notify_agent_started`` (seq 1) and ``notify_agent_thinking``.
    """
    payload: dict[str, Any]
    if seq == 1:
        kind, payload = "agent_started", {"context": {"ts": ts}}
    else:
        kind = "agent_thinking"
        payload = {"reasoning": repr(ts), "step_number": seq, "progress_percentage": None}
    return {
        "type": kind,
        "thread_id": thread_id,
        "run_id": run_id,
        "timestamp": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
        "agent_name": "bench",
        "payload": payload,
        "seq": seq,
        "epoch": epoch,
    }


class BareWebsocketsServer:
    """Subscribe by ``{"type": "subscribe", "thread_id": ...}``; publish by broadcast."""

    kind = "bare"

    def __init__(self) -> None:
        self.subscribers: dict[str, set[ServerConnection]] = {}
        self._server: Server | None = None
        self.url = ""

    async def __aenter__(self) -> BareWebsocketsServer:
        self._server = await serve(
            self._handler, "127.0.0.1", 0, compression=None, ping_interval=None, max_size=2**16
        )
        port = next(iter(self._server.sockets)).getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handler(self, ws: ServerConnection) -> None:
        frame = json.loads(await ws.recv())
        members = self.subscribers.setdefault(str(frame["thread_id"]), set())
        members.add(ws)
        try:
            await ws.send('{"type":"subscribed"}')
            await ws.wait_closed()
        finally:
            members.discard(ws)

    async def publish(self, thread_id: str, message: dict[str, Any]) -> None:
        """Send ``message`` to every subscriber of ``thread_id``."""
        broadcast(self.subscribers.get(thread_id, ()), json.dumps(message, separators=(",", ":")))


def socketio_available() -> bool:
    """``python-socketio`` and ``aiohttp`` are installed (``pip install -e '.[bench]'``)."""
    try:
        import aiohttp  # noqa: F401
        import socketio  # noqa: F401
    except ImportError:
        return False
    return True


class SocketIOServer:
    """``python-socketio`` on ``aiohttp``: a client joins the room named in its connect auth."""

    kind = "socketio"

    def __init__(self) -> None:
        import socketio
        from aiohttp import web

        self.sio = socketio.AsyncServer(async_mode="aiohttp", logger=False, engineio_logger=False)
        self.app = web.Application()
        self.sio.attach(self.app)
        self.sio.on("connect", self._connect)
        self._runner = web.AppRunner(self.app, access_log=None)
        self.url = ""

    async def _connect(self, sid: str, environ: dict[str, Any], auth: dict[str, Any]) -> None:
        await self.sio.enter_room(sid, auth["room"])

    async def __aenter__(self) -> SocketIOServer:
        from aiohttp import web

        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"ws://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.sio.shutdown()
        await self._runner.cleanup()

    async def publish(self, thread_id: str, message: dict[str, Any]) -> None:
        """Emit ``message`` as event ``"event"`` to the room ``thread_id``."""
        await self.sio.emit("event", message, room=thread_id)
