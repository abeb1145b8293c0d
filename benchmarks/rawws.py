"""A lean RFC 6455 client connection for the client process: handshake, frames, nothing else.

The benchmarks measure servers, so their clients must cost less than the servers they
measure: this client parses unmasked server frames straight from ``data_received`` (no
per-message task, queue or UTF-8 incremental decoder), masks what it sends as the RFC
requires, answers pings, and never negotiates compression. Fragmented messages are
reassembled. It is still a real WebSocket client over TCP, identical for every server kind.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import struct
from urllib.parse import urlsplit

__all__ = ["RawWebSocket", "open_raw"]

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_TEXT, _BINARY, _CONT, _CLOSE, _PING, _PONG = 1, 2, 0, 8, 9, 10


class RawWebSocket(asyncio.Protocol):
    """One client connection; :meth:`recv` returns the next whole message's text."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._handshake: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._messages: asyncio.Queue[str | None] = asyncio.Queue()
        self._fragments: list[bytes] = []
        self._upgraded = False
        self.closed = False

    # -- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if not self._upgraded:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self._buffer[:end])
            del self._buffer[: end + 4]
            self._upgraded = True
            if not self._handshake.done():
                self._handshake.set_result(head)
        self._parse()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self._handshake.done():
            self._handshake.set_exception(ConnectionError("closed during the handshake"))
        self._messages.put_nowait(None)

    # -- frames -----------------------------------------------------------------------------

    def _parse(self) -> None:
        buf = self._buffer
        pos = 0
        size = len(buf)
        while size - pos >= 2:
            first, second = buf[pos], buf[pos + 1]
            length = second & 0x7F
            head = 2
            if length == 126:
                if size - pos < 4:
                    break
                (length,) = struct.unpack_from("!H", buf, pos + 2)
                head = 4
            elif length == 127:
                if size - pos < 10:
                    break
                (length,) = struct.unpack_from("!Q", buf, pos + 2)
                head = 10
            if second & 0x80:
                raise ConnectionError("server frames must not be masked")
            if size - pos < head + length:
                break
            payload = bytes(buf[pos + head : pos + head + length])
            pos += head + length
            self._frame(first & 0x80, first & 0x0F, payload)
        del buf[:pos]

    def _frame(self, fin: int, opcode: int, payload: bytes) -> None:
        if opcode in (_TEXT, _BINARY, _CONT):
            if not fin:
                self._fragments.append(payload)
                return
            if self._fragments:
                payload = b"".join([*self._fragments, payload])
                self._fragments.clear()
            self._messages.put_nowait(payload.decode())
        elif opcode == _PING:
            self._send_frame(_PONG, payload)
        elif opcode == _CLOSE:
            if not self.closed:
                self._send_frame(_CLOSE, payload[:2])
                self.closed = True
            assert self.transport is not None
            self.transport.close()

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        assert self.transport is not None
        mask = os.urandom(4)
        length = len(payload)
        if length < 126:
            header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
        elif length < 1 << 16:
            header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
        key = int.from_bytes((mask * (length // 4 + 1))[:length], "big")
        masked = (int.from_bytes(payload, "big") ^ key).to_bytes(length, "big") if length else b""
        self.transport.write(header + mask + masked)

    # -- API --------------------------------------------------------------------------------

    def send(self, text: str) -> None:
        """Send one text message (buffered by the transport; nothing to await)."""
        self._send_frame(_TEXT, text.encode())

    async def recv(self) -> str:
        """Return the next message; raise :class:`ConnectionError` once the connection closed."""
        message = await self._messages.get()
        if message is None:
            self._messages.put_nowait(None)
            raise ConnectionError("connection closed")
        return message

    async def close(self) -> None:
        """Send a normal close and drop the connection."""
        if self.transport is None or self.transport.is_closing():
            return
        if not self.closed:
            self.closed = True
            self._send_frame(_CLOSE, struct.pack("!H", 1000))
        self.transport.close()


async def open_raw(url: str, headers: dict[str, str] | None = None) -> RawWebSocket:
    """Connect to ``ws://host:port/path`` and complete the opening handshake."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    loop = asyncio.get_running_loop()
    _, ws = await loop.create_connection(RawWebSocket, host, port)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        *(f"{name}: {value}" for name, value in (headers or {}).items()),
    ]
    assert ws.transport is not None
    ws.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = (await ws._handshake).decode("latin-1")
    status = head.split("\r\n", 1)[0]
    accept = base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest()).decode()
    if " 101 " not in status + " " or accept not in head:
        ws.transport.close()
        raise ConnectionError(f"handshake refused: {status}")
    return ws
