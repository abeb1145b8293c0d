"""The bridge's WebSocket server on ``websockets`` (asyncio API, >= 13): a thin adapter.

:class:`BridgeServer` accepts connections, reads the bearer token of the ``Authorization``
header and runs one :class:`~reference_impl.session.Session` per connection; the protocol
itself lives in :mod:`reference_impl.session` and :mod:`reference_impl.protocol`. Plain HTTP
requests on the same port (no ``Upgrade`` header) get :class:`~reference_impl.web.WebRoutes`'
answers: ``/metrics`` and the live viewer.
"""

from __future__ import annotations

import http
import logging
import sys
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import State

from .auth import Authenticator, Authorizer, allow_all, bearer_token
from .connections import ConnectionManager
from .history import History
from .prometheus import CONTENT_TYPE, registry_for, render
from .protocol import CloseCode
from .session import RunStarter, SessionHub
from .web import WebRoutes

__all__ = ["WILDCARD_HOSTS", "BridgeServer", "reachable_host"]

WILDCARD_HOSTS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}
"""Addresses that mean "every address", and the loopback address of the same family."""


def reachable_host(host: str) -> str:
    """The host to put in a URL for a server listening on ``host``: one a browser or client on
    this machine can open. A wildcard address becomes the loopback address of its family (a
    browser cannot open ``0.0.0.0``); an IPv6 address gets its brackets."""
    name = WILDCARD_HOSTS.get(host, host)
    return f"[{name}]" if ":" in name else name


logger = logging.getLogger("reference_impl.server")


class _WebSocketTransport:
    """:class:`~reference_impl.session.Transport` over a websockets connection."""

    #: Whether :meth:`send_now` writes at all: websockets reports a failed synchronous write only
    #: with ``broadcast(raise_exceptions=True)``, which needs Python 3.11 (``ExceptionGroup``);
    #: on 3.10 every frame takes the awaited :meth:`send_text`.
    fast_writes = sys.version_info >= (3, 11)

    def __init__(self, connection: ServerConnection) -> None:
        self.connection = connection
        # Looked up once: ready_now runs for every subscriber of every event (pyinstrument of
        # the fan-out: ~11 % of the server's time went to the properties behind it).
        self._protocol = connection.protocol
        self._socket = connection.transport
        self._high_water = self._socket.get_write_buffer_limits()[1]
        # Without extensions (no permessage-deflate negotiated) a server's text frame is the
        # same bytes on every connection: serialized once per event, written as is.
        self._plain_frames = not connection.protocol.extensions

    async def send_text(self, text: str) -> None:
        await self.connection.send(text)

    def send_now(self, text: str) -> bool:
        """Write ``text`` without awaiting if the connection is open and not backed up.

        ``websockets.broadcast`` to this one connection is the library's synchronous write;
        ``send_text`` would add a lock, a context manager and a drain await per frame.
        """
        if not self.ready_now():
            return False
        return not self.write_many((self,), text)

    def ready_now(self) -> bool:
        """Whether a write now would be taken at once: open, the socket not lost or closing
        (a write then only counts toward asyncio's "socket.send() raised exception."), and
        below the high-water mark."""
        socket = self._socket
        return (
            self.fast_writes
            and self._protocol.state is State.OPEN
            and not socket.is_closing()
            and socket.get_write_buffer_size() < self._high_water
        )

    def write_many(self, transports: Sequence[_WebSocketTransport], text: str) -> list[Any]:
        """Write ``text`` as one text frame to every one of ``transports``; return those whose
        write failed.

        Only called for transports that were :meth:`ready_now` (so never on Python 3.10). The
        frame is serialized once and handed to each socket, as ``websockets.broadcast`` would
        write it frame by frame: the connection's protocol is open and sends no fragmented
        message (the bridge sends none), so a whole frame between its frames keeps the stream
        valid. A connection with an extension (permessage-deflate compresses per connection)
        takes ``broadcast``, which reports a failed write without saying whose: the ones now
        closing are the culprits if they account for every failure, else all of them are
        reported (their sessions close and their clients resume: nothing is lost or repeated).
        """
        data = text.encode()
        frame: bytes | None = None
        failed: list[Any] = []
        extended: list[_WebSocketTransport] = []
        for transport in transports:
            if not transport._plain_frames:
                extended.append(transport)
                continue
            if frame is None:
                frame = Frame(Opcode.TEXT, data).serialize(mask=False, extensions=[])
            try:
                transport._socket.write(frame)
            except Exception as exc:  # write_eof or sendfile under way: not a frame boundary
                logger.debug("write to %s failed: %r", transport.connection.remote_address, exc)
                failed.append(transport)
        if extended:
            failed.extend(self._broadcast(extended, data))
        return failed

    @staticmethod
    def _broadcast(transports: list[_WebSocketTransport], data: bytes) -> list[Any]:
        try:
            broadcast([t.connection for t in transports], data, text=True, raise_exceptions=True)
        except Exception as exc:
            failures = len(getattr(exc, "exceptions", ())) or 1
            closing = [
                t
                for t in transports
                if t.connection.state is not State.OPEN or t.connection.transport.is_closing()
            ]
            logger.debug("broadcast: %d write(s) failed: %r", failures, exc)
            return closing if len(closing) >= failures else list(transports)
        return []

    async def receive(self) -> str | bytes | None:
        try:
            return await self.connection.recv()
        except (EOFError, AssertionError):
            # websockets 13.0 raises these when TCP ends without a close frame.
            return None
        except ConnectionClosed as exc:
            if exc.sent is not None and exc.sent.code == CloseCode.MESSAGE_TOO_BIG:
                logger.warning(
                    "connection %s closed: %s", self.connection.remote_address, exc.sent.reason
                )
            return None

    async def close(self, code: int, reason: str) -> None:
        await self.connection.close(code, reason)


class BridgeServer:
    """A WebSocket server for a bridge: ``async with BridgeServer(bridge, ...) as server:``.

    ``connection_manager`` is the :class:`~reference_impl.connections.ConnectionManager` the
    bridge sends to (default: ``bridge.connection_manager``). Without ``authenticator`` every
    connection is the user ``"anonymous"``; ``authorizer`` decides which threads a user may
    subscribe to. ``history`` defaults to what the bridge offers
    (:func:`~reference_impl.history.history_for`). ``max_queue`` bounds each connection's
    queue of live events; ``max_frame_bytes`` bounds client frames (larger: close 1009).
    ``compression=None`` turns permessage-deflate off: less CPU per connection on big fan-outs.
    ``http=False`` turns the plain-HTTP side off (``/metrics``, the viewer): every request
    must then be a WebSocket handshake. :attr:`registry` is this server's own Prometheus
    registry.
    ``relay`` starts the AG-UI runs of ``run`` frames (an
    :class:`~reference_impl.agui.relay.AguiRelay`); without it they are refused.
    """

    def __init__(
        self,
        bridge: object,
        connection_manager: ConnectionManager | None = None,
        *,
        authenticator: Authenticator | None = None,
        authorizer: Authorizer = allow_all,
        history: History | None = None,
        max_queue: int = 1000,
        max_frame_bytes: int = 64 * 1024,
        auth_timeout: float = 10.0,
        close_timeout: float = 5.0,
        ping_interval: float | None = 20.0,
        compression: str | None = "deflate",
        host: str = "127.0.0.1",
        port: int = 0,
        http: bool = True,
        relay: RunStarter | None = None,
    ) -> None:
        self.hub = SessionHub(
            bridge,
            connection_manager,
            authenticator=authenticator,
            authorizer=authorizer,
            history=history,
            max_queue=max_queue,
            auth_timeout=auth_timeout,
            drain_timeout=close_timeout,
            relay=relay,
        )
        self.max_frame_bytes = max_frame_bytes
        self.close_timeout = close_timeout
        self.ping_interval = ping_interval
        self.compression = compression
        self.host = host
        self.port = port
        self.registry = registry_for(self.hub)
        self.web: WebRoutes | None = (
            WebRoutes(metrics=lambda: (render(self.registry), CONTENT_TYPE)) if http else None
        )
        self._server: Server | None = None

    @property
    def bridge(self) -> object:
        """The bridge served."""
        return self.hub.bridge

    @property
    def metrics(self) -> Any:
        """The bridge's :class:`~reference_impl.metrics.BridgeMetrics` (or the server's own)."""
        return self.hub.metrics

    @property
    def url(self) -> str:
        """``ws://HOST:PORT`` of the running server, with a host a client on this machine can
        open (:func:`reachable_host`: ``0.0.0.0`` reads ``127.0.0.1``)."""
        if self._server is None:
            raise RuntimeError("the server is not started")
        return f"ws://{reachable_host(self.host)}:{self.port}"

    async def start(self, host: str | None = None, port: int | None = None) -> None:
        """Listen on ``host``:``port`` (port 0: the OS chooses; read it back from ``port``)."""
        if self._server is not None:
            raise RuntimeError("the server is already started")
        self.host = host if host is not None else self.host
        requested = port if port is not None else self.port
        self._server = await serve(
            self._handle,
            self.host,
            requested,
            max_size=self.max_frame_bytes,
            close_timeout=self.close_timeout,
            ping_interval=self.ping_interval,
            compression=self.compression,
            process_request=self._process_request if self.web is not None else None,
        )
        self.port = next(iter(self._server.sockets)).getsockname()[1]
        logger.info("serving %s", self.url)

    async def close(self) -> None:
        """Stop accepting, close every connection with 1001 and wait for them to end."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        await self.hub.close_all(CloseCode.GOING_AWAY, "server shutting down")
        await server.wait_closed()

    async def __aenter__(self) -> BridgeServer:
        if self._server is None:
            await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def http_url(self) -> str:
        """``http://HOST:PORT`` of the running server (``/metrics``, the viewer)."""
        return "http" + self.url.removeprefix("ws")

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """Answer a plain HTTP request; let a WebSocket handshake through (``None``)."""
        if "Upgrade" in request.headers or self.web is None:
            return None
        reply = self.web.handle("GET", request.path)
        headers = Headers(reply.headers)
        headers["Content-Length"] = str(len(reply.body))
        headers["Connection"] = "close"
        return Response(reply.status, http.HTTPStatus(reply.status).phrase, headers, reply.body)

    async def _handle(self, connection: ServerConnection) -> None:
        request = connection.request
        token = bearer_token(request.headers.get("Authorization") if request else None)
        await self.hub.serve(
            _WebSocketTransport(connection), token=token, peer=str(connection.remote_address)
        )
