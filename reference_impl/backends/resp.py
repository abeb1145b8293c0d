"""A lean, pipelined RESP2 connection for the Redis backend's hot path: the event append.

redis-py spends about 70 µs of CPU per command above a bare asyncio round trip (its pool,
retry wrapper, observability hooks and per-call reader set-up), and an append is one command
per event. This connection writes each command at once (``hiredis.pack_command``), keeps the
replies' futures in order and parses with ``hiredis.Reader``: a command costs what the round
trip costs. It does one job; everything else stays on redis-py.

Only plain TCP (``redis://``) and Unix sockets (``unix://``) are spoken, with ``AUTH`` and
``SELECT`` from the URL; :func:`supports` says whether a URL qualifies (``rediss://`` keeps
redis-py). Errors are redis-py's exception classes, so callers handle both alike: a lost
connection fails every pending command with :class:`redis.exceptions.ConnectionError` (the
next command reconnects), an error reply raises :class:`redis.exceptions.ResponseError`
(``NOSCRIPT``: :class:`redis.exceptions.NoScriptError`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

import hiredis
from redis.asyncio.connection import parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError

__all__ = ["RespConnection", "supports"]


def supports(url: str) -> bool:
    """Whether :class:`RespConnection` speaks to ``url`` (plain TCP or a Unix socket)."""
    return url.startswith(("redis://", "unix://"))


def _pack(command: tuple[str | int | bytes, ...]) -> bytes:
    # hiredis's stub types the command as a 1-tuple; it takes any number of arguments.
    packed: bytes = hiredis.pack_command(command)  # type: ignore[arg-type]
    return packed


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.reader = hiredis.Reader(encoding="utf-8")
        self.pending: deque[asyncio.Future[Any]] = deque()
        self.lost: Exception | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        pending = self.pending
        while (reply := self.reader.gets()) is not False:
            if not pending:  # a reply nobody asked for: the stream is out of step
                self._fail(RedisConnectionError("unexpected reply from redis"))
                assert self.transport is not None
                self.transport.close()
                return
            future = pending.popleft()
            if future.done():  # its caller gave up (a timeout): the reply is dropped
                continue
            if isinstance(reply, hiredis.ReplyError):
                message = str(reply)
                error = NoScriptError if message.startswith("NOSCRIPT") else ResponseError
                future.set_exception(error(message))
            else:
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(RedisConnectionError(f"connection to redis lost: {exc or 'closed'}"))

    def _fail(self, error: Exception) -> None:
        self.lost = error
        while self.pending:
            future = self.pending.popleft()
            if not future.done():
                future.set_exception(error)


class RespConnection:
    """One pipelined connection to ``url``, opened on the first :meth:`execute`."""

    def __init__(self, url: str, *, connect_timeout: float = 1.0) -> None:
        if not supports(url):
            raise ValueError(f"RespConnection speaks redis:// and unix:// only, not {url!r}")
        self.options = parse_url(url)
        self.connect_timeout = connect_timeout
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Task[_Protocol] | None = None

    async def execute(self, *args: str | int | bytes) -> Any:
        """Send one command and return its reply (commands may overlap: replies come in order)."""
        protocol = self._protocol
        if protocol is None or protocol.lost is not None:
            protocol = await self._connect()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        protocol.pending.append(future)
        transport = protocol.transport
        assert transport is not None
        transport.write(_pack(args))
        try:
            return await future
        except asyncio.CancelledError:
            # The caller gave up (a timeout): the server may be stuck, so this connection is
            # dropped and the next command opens another. Commands still pending on it fail
            # with a connection error; callers retry them (the append's token makes that safe).
            transport.close()
            raise

    async def _connect(self) -> _Protocol:
        # Commands that arrive while connecting wait for the same connection.
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._open())
        try:
            protocol = await asyncio.shield(self._connecting)
        finally:
            if self._connecting is not None and self._connecting.done():
                self._connecting = None
        self._protocol = protocol
        return protocol

    async def _open(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        options = self.options
        try:
            if "path" in options:
                opening = loop.create_unix_connection(_Protocol, options["path"])
            else:
                opening = loop.create_connection(
                    _Protocol, options.get("host", "127.0.0.1"), int(options.get("port", 6379))
                )
            _, protocol = await asyncio.wait_for(opening, self.connect_timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            raise RedisConnectionError(f"cannot connect to redis: {exc!r}") from exc
        setup: list[tuple[str | int, ...]] = []
        if options.get("password") is not None:
            user, password = options.get("username"), options["password"]
            setup.append(("AUTH", user, password) if user else ("AUTH", password))
        if options.get("db"):
            setup.append(("SELECT", int(options["db"])))
        for command in setup:
            future: asyncio.Future[Any] = loop.create_future()
            protocol.pending.append(future)
            assert protocol.transport is not None
            protocol.transport.write(_pack(command))
            try:
                await asyncio.wait_for(future, self.connect_timeout)
            except BaseException:
                protocol.transport.close()
                raise
        return protocol

    async def close(self) -> None:
        """Close the connection (pending commands fail with a connection error)."""
        protocol, self._protocol = self._protocol, None
        if protocol is not None and protocol.transport is not None:
            protocol.transport.close()
