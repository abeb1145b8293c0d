"""A lean, pipelined RESP2 connection for the Redis backend's hot paths: the event append and
the wake-up subscription.

redis-py spends about 70 µs of CPU per command above a bare asyncio round trip (its pool,
retry wrapper, observability hooks and per-call reader set-up), and an append is one command
per event; its pub/sub reader costs as much per message, and every node receives every
wake-up. :class:`RespConnection` writes each command at once (``hiredis.pack_command``), keeps
the replies' futures in order and parses with ``hiredis.Reader``: a command costs what the
round trip costs. :class:`RespSubscriber` is the same connection in subscribe mode. They do
these two jobs; everything else stays on redis-py.

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

__all__ = ["RespConnection", "RespSubscriber", "supports"]


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
        #: Subscribe mode: replies nobody waits for are pushed messages, kept here.
        self.pushes: deque[Any] | None = None
        self.push_waiter: asyncio.Future[None] | None = None

    def send(self, command: tuple[str | int | bytes, ...]) -> asyncio.Future[Any]:
        """Write ``command``; return the future its reply (in order) will resolve."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending.append(future)
        assert self.transport is not None
        self.transport.write(_pack(command))
        return future

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        pending = self.pending
        while (reply := self.reader.gets()) is not False:
            if not pending and self.pushes is not None:
                self.pushes.append(reply)
                self._wake()
                continue
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
        self._wake()

    def _wake(self) -> None:
        waiter = self.push_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


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
        future = protocol.send(args)
        try:
            return await future
        except asyncio.CancelledError:
            # The caller gave up (a timeout): the server may be stuck, so this connection is
            # dropped and the next command opens another. Commands still pending on it fail
            # with a connection error; callers retry them (the append's token makes that safe).
            assert protocol.transport is not None
            protocol.transport.close()
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
            try:
                await asyncio.wait_for(protocol.send(command), self.connect_timeout)
            except BaseException:
                assert protocol.transport is not None
                protocol.transport.close()
                raise
        return protocol

    async def close(self) -> None:
        """Close the connection (pending commands fail with a connection error)."""
        protocol, self._protocol = self._protocol, None
        if protocol is not None and protocol.transport is not None:
            protocol.transport.close()


class RespSubscriber:
    """One connection subscribed to ``channel``.

    ``async with RespSubscriber(url, channel) as messages:`` subscribes (raising
    :class:`redis.exceptions.ConnectionError` if it cannot); ``async for item in messages``
    yields each message as redis-py's pub/sub does, ``{"type": "message", "channel", "data"}``,
    and raises :class:`redis.exceptions.ConnectionError` once the connection is lost.
    """

    def __init__(self, url: str, channel: str, *, connect_timeout: float = 1.0) -> None:
        self.channel = channel
        self._connection = RespConnection(url, connect_timeout=connect_timeout)
        self._protocol: _Protocol | None = None

    async def __aenter__(self) -> RespSubscriber:
        connection = self._connection
        try:
            protocol = await connection._connect()
            protocol.pushes = deque()
            reply = await asyncio.wait_for(
                connection.execute("SUBSCRIBE", self.channel), connection.connect_timeout
            )
        except BaseException:
            await connection.close()
            raise
        if not (isinstance(reply, list) and reply[:2] == ["subscribe", self.channel]):
            await connection.close()
            raise RedisConnectionError(f"unexpected answer to SUBSCRIBE: {reply!r}")
        self._protocol = protocol
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._connection.close()

    def __aiter__(self) -> RespSubscriber:
        return self

    async def __anext__(self) -> dict[str, Any]:
        protocol = self._protocol
        assert protocol is not None, "enter it first"
        pushes = protocol.pushes
        assert pushes is not None
        while True:
            while pushes:
                push = pushes.popleft()
                if isinstance(push, list) and len(push) == 3 and push[0] == "message":
                    return {"type": "message", "channel": push[1], "data": push[2]}
            if protocol.lost is not None:
                raise protocol.lost
            protocol.push_waiter = asyncio.get_running_loop().create_future()
            try:
                await protocol.push_waiter
            finally:
                protocol.push_waiter = None
