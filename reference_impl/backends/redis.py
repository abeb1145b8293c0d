"""The Redis backend: registry and event logs shared by several server processes.

Needs the ``redis`` extra (``pip install 'pytest-wsbridge[redis]'``). Everything that must be
atomic runs as one Lua script (``redis_lua/*.lua``, shipped with the package):

======================================  ==================================================
key (``P`` = ``key_prefix``)            holds
======================================  ==================================================
``P run:<run_id>``                      the run's thread id; expires ``registry_ttl`` after
                                        its registration or its last event
``P gone:<run_id>``                     tombstone ``expired`` / ``unregistered``, kept
                                        ``tombstone_ttl`` longer, so a miss says why
``P runs:<thread_id>``                  sorted set of the thread's runs, scored by the time
                                        of their last registration or event
``P meta:<thread_id>``                  hash ``epoch``, ``seq`` (the per-thread counter)
``P log:<thread_id>``                   stream, entry ID ``<seq>-0``, fields ``d`` (event
                                        without seq/epoch) and ``k`` (append token);
                                        ``XADD MAXLEN ~ max_events``
channel ``P events``                    wake-up per append: JSON ``{t, e, s, d}`` = thread,
                                        epoch, seq, event
======================================  ==================================================

The append, one command per event, runs over :class:`~reference_impl.backends.resp.RespConnection`
(a lean pipelined connection) and each node's wake-up subscription over
:class:`~reference_impl.backends.resp.RespSubscriber` where the URL is ``redis://`` or
``unix://``; every other call uses redis-py.

``meta`` and ``log`` expire ``log_ttl`` after the thread's last append. When ``meta`` is
missing (never written, expired, or Redis lost its data) the next append or read starts a new
epoch, so clients that resume with the old one get ``resync_required``.

Every call is bounded: ``attempts`` tries of at most ``timeout`` seconds each, with
``retry_delay`` doubling between them; then :class:`BackendUnavailableError`. An append is
retried safely: it carries a token, and a retry whose first attempt did reach Redis returns
the stored event instead of adding it twice (a retry looks for the token among the thread's 16
newest entries; a first attempt, whose token is new, does not look).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from importlib.resources import files
from typing import Any, TypeVar

try:
    import redis.asyncio as aioredis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import NoScriptError, ReadOnlyError, RedisError
    from redis.exceptions import TimeoutError as RedisTimeoutError
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "the Redis backend needs the 'redis' package: pip install 'pytest-wsbridge[redis]'"
    ) from exc

from ..connections import SendsToThread
from ..eventlog import LogHead, new_epoch
from ..events import EventDraft, EventMessage
from ..exceptions import (
    BackendUnavailableError,
    InvalidResumePoint,
    RegistryConflictError,
    ResyncRequired,
)
from ..ids import validate_thread_id
from ..registry import Lookup, LookupMiss
from .redis_codec import WakeUp, decode_wakeup, stored_event
from .redis_fanout import RedisFanout
from .resp import RespConnection, RespSubscriber, supports

__all__ = ["RedisBackend", "WakeUp", "decode_wakeup"]

T = TypeVar("T")

# Worth another attempt: the connection dropped, timed out, or the server is loading/failing over.
_TRANSIENT: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    ReadOnlyError,
    asyncio.TimeoutError,
    OSError,
)
# How many of a thread's newest entries an append searches for its own token on a retry.
_TOKEN_WINDOW = 16


if sys.version_info >= (3, 11):

    async def _bounded(awaitable: Awaitable[T], seconds: float) -> T:
        """``wait_for`` without the task it creates before Python 3.12."""
        async with asyncio.timeout(seconds):
            return await awaitable

else:  # pragma: no cover - Python 3.10
    _bounded = asyncio.wait_for


def _script(name: str) -> str:
    return (files(__package__) / "redis_lua" / f"{name}.lua").read_text(encoding="utf-8")


class RedisBackend:
    """:class:`~reference_impl.backends.base.SharedBackend` on one Redis server (not Cluster).

    Several bridges (server processes) on the same Redis and ``key_prefix`` share runs and
    event logs; each one's :class:`~reference_impl.backends.redis_fanout.RedisFanout`
    (:meth:`start_fanout`) carries every event to the connections of its own process.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        key_prefix: str = "wsbridge:",
        registry_ttl: float = 24 * 3600.0,
        tombstone_ttl: float | None = None,
        max_events_per_thread: int = 10_000,
        log_ttl: float = 3600.0,
        attempts: int = 3,
        timeout: float = 1.0,
        retry_delay: float = 0.05,
    ) -> None:
        if min(registry_ttl, log_ttl, timeout) <= 0 or max_events_per_thread <= 0:
            raise ValueError("ttls, timeout and max_events_per_thread must be positive")
        if attempts < 1 or retry_delay < 0:
            raise ValueError("attempts must be >= 1 and retry_delay >= 0")
        self.url = url
        self.key_prefix = key_prefix
        self.channel = f"{key_prefix}events"
        self.registry_ttl_ms = _ms(registry_ttl)
        self.tombstone_ttl_ms = _ms(registry_ttl if tombstone_ttl is None else tombstone_ttl)
        self.max_events_per_thread = max_events_per_thread
        self.log_ttl_ms = _ms(log_ttl)
        self.attempts = attempts
        self.timeout = timeout
        self.retry_delay = retry_delay
        self.redis = self.client()
        self._append = self.redis.register_script(_script("append"))
        self._read = self.redis.register_script(_script("read"))
        self._register = self.redis.register_script(_script("register"))
        self._runs = self.redis.register_script(_script("runs"))
        self._unregister = self.redis.register_script(_script("unregister"))
        # The append, one command per event, goes over a lean pipelined connection where the
        # URL allows it (see reference_impl.backends.resp); everything else uses redis-py.
        self._hot = RespConnection(url, connect_timeout=timeout) if supports(url) else None

    @property
    def max_wait(self) -> float:
        """The longest a call waits before :class:`BackendUnavailableError`, in seconds."""
        delays = sum(self.retry_delay * 2.0**i for i in range(self.attempts - 1))
        return float(self.attempts * self.timeout + delays)

    def client(self, *, pubsub: bool = False) -> aioredis.Redis:
        """Return a new client for ``url`` with no retries of its own (ours are bounded).

        A ``pubsub`` client has no read timeout: it waits for messages.
        """
        return aioredis.Redis.from_url(
            self.url,
            decode_responses=True,
            socket_timeout=None if pubsub else self.timeout,
            socket_connect_timeout=self.timeout,
            retry=Retry(NoBackoff(), 0),
        )

    def wakeups(self) -> AbstractAsyncContextManager[AsyncIterator[dict[str, Any]]]:
        """Subscribe to the wake-up channel: ``async with backend.wakeups() as items:`` then
        ``async for item in items`` (redis-py's pub/sub items; a lost connection raises).

        Over :class:`~reference_impl.backends.resp.RespSubscriber` where the URL allows it:
        every node receives every wake-up, so its cost per message counts once per node.
        """
        if supports(self.url):
            return RespSubscriber(self.url, self.channel, connect_timeout=self.timeout)
        return _RedisPyWakeups(self.client(pubsub=True), self.channel)

    def key(self, kind: str, name: str) -> str:
        """Return the key of ``kind`` (``run``, ``gone``, ``runs``, ``meta``, ``log``)."""
        return f"{self.key_prefix}{kind}:{name}"

    async def _call(self, what: str, operation: Callable[[], Awaitable[T]]) -> T:
        last: BaseException | None = None
        for attempt in range(self.attempts):
            if attempt:
                await asyncio.sleep(self.retry_delay * 2 ** (attempt - 1))
            try:
                return await _bounded(operation(), self.timeout)
            except _TRANSIENT as exc:
                last = exc
            except RedisError as exc:
                raise BackendUnavailableError(f"redis {what} failed: {exc}") from exc
        raise BackendUnavailableError(
            f"redis at {_safe(self.url)} unavailable: {what} failed {self.attempts} times "
            f"within {self.max_wait:.2f}s (last error: {last!r})"
        ) from last

    async def ping(self) -> None:
        """Check that Redis answers; raise :class:`BackendUnavailableError` otherwise."""
        await self._call("PING", self.redis.ping)

    async def start_fanout(self, connection_manager: SendsToThread) -> RedisFanout:
        """Join the nodes on this Redis: return this node's started fan-out.

        Raises :class:`BackendUnavailableError` when Redis does not answer, or the wake-up
        subscription is not made, within :attr:`max_wait`.
        """
        await self.ping()
        fanout = RedisFanout(self, connection_manager)
        await fanout.start()
        return fanout

    # -- registry ------------------------------------------------------------------------------

    async def register(self, run_id: str, thread_id: str) -> None:
        if not isinstance(run_id, str) or not run_id:
            raise ValueError(f"run_id must be a non-empty str, got {run_id!r}")
        validate_thread_id(thread_id)
        conflict = await self._call(
            "register",
            lambda: self._register(
                keys=[
                    self.key("run", run_id),
                    self.key("gone", run_id),
                    self.key("runs", thread_id),
                ],
                args=[run_id, thread_id, self.registry_ttl_ms, self.tombstone_ttl_ms],
            ),
        )
        if conflict is not None:
            raise RegistryConflictError(run_id, str(conflict), thread_id)

    async def get_thread(self, run_id: str) -> Lookup:
        keys = [self.key("run", run_id), self.key("gone", run_id)]
        thread_id, gone = await self._call("lookup", lambda: self.redis.mget(keys))
        if thread_id is not None:
            return Lookup(run_id, str(thread_id))
        if gone is None:
            return Lookup(run_id, None, LookupMiss.NEVER_REGISTERED)
        miss = LookupMiss.UNREGISTERED if gone == "unregistered" else LookupMiss.EXPIRED
        return Lookup(run_id, None, miss)

    async def runs_for_thread(self, thread_id: str) -> list[str]:
        runs = await self._call(
            "runs_for_thread",
            lambda: self._runs(keys=[self.key("runs", thread_id)], args=[self.registry_ttl_ms]),
        )
        return [str(run_id) for run_id in runs]

    async def unregister(self, run_id: str) -> bool:
        removed = await self._call(
            "unregister",
            lambda: self._unregister(
                keys=[self.key("run", run_id), self.key("gone", run_id)],
                args=[run_id, self.key("runs", ""), self.tombstone_ttl_ms],
            ),
        )
        return bool(removed)

    # -- event log -----------------------------------------------------------------------------

    async def append(self, draft: EventDraft) -> EventMessage:
        return await self._append_draft(draft, check_registry=False)

    async def append_checked(self, draft: EventDraft) -> EventMessage:
        """Append, unless the draft's run is registered to another thread: then raise
        :class:`RegistryConflictError` (nothing stored). One round trip where a lookup and an
        append take two (see :class:`~reference_impl.backends.base.ChecksRegistry`)."""
        return await self._append_draft(draft, check_registry=True)

    async def _append_draft(self, draft: EventDraft, *, check_registry: bool) -> EventMessage:
        thread_id = draft.thread_id
        token = uuid.uuid4().hex
        epoch = new_epoch()
        keys = [
            self.key("meta", thread_id),
            self.key("log", thread_id),
            self.key("run", draft.run_id),
            self.key("gone", draft.run_id),
            self.key("runs", thread_id),
        ]
        args: list[str | int] = [
            draft.model_dump_json(),
            token,
            epoch,
            self.max_events_per_thread,
            self.log_ttl_ms,
            self.channel,
            thread_id,
            draft.run_id,
            self.registry_ttl_ms,
            self.tombstone_ttl_ms,
        ]
        window = 0  # a fresh token cannot be stored yet: only a retry looks for it
        check = int(check_registry)

        def attempt() -> Awaitable[Any]:
            nonlocal window
            result = self._run_hot(self._append, keys, [*args, window, check])
            window = _TOKEN_WINDOW
            return result

        seq, stored_epoch, outcome = await self._call("append", attempt)
        if int(outcome) == 2:
            raise RegistryConflictError(draft.run_id, str(stored_epoch), thread_id)
        return draft.stamp(int(seq), str(stored_epoch))

    async def _run_hot(self, script: Any, keys: list[str], args: list[str | int]) -> Any:
        """Run ``script`` over the lean connection (redis-py's when there is none)."""
        if self._hot is None:
            return await script(keys=keys, args=args)
        try:
            return await self._hot.execute("EVALSHA", script.sha, len(keys), *keys, *args)
        except NoScriptError:  # a restarted or flushed Redis: EVAL caches it again
            return await self._hot.execute("EVAL", script.script, len(keys), *keys, *args)

    async def read_after(
        self, thread_id: str, after_seq: int, epoch: str | None = None
    ) -> list[EventMessage]:
        if isinstance(after_seq, bool) or not isinstance(after_seq, int) or after_seq < 0:
            raise ValueError(f"after_seq must be an int >= 0, got {after_seq!r}")
        current, head, entries = await self._read_log(thread_id, after_seq)
        if epoch is not None and epoch != current:
            raise ResyncRequired(thread_id, current, head, "epoch changed")
        if after_seq > head:
            raise InvalidResumePoint(thread_id, after_seq, head)
        # IDs are unique seqs in (after_seq, head]: the right count means no gap.
        if len(entries) != head - after_seq:
            raise ResyncRequired(thread_id, current, head, "history trimmed")
        return [_entry_message(entry, current) for entry in entries]

    async def head(self, thread_id: str) -> LogHead:
        epoch, head, _ = await self._read_log(thread_id, -1)
        return LogHead(thread_id, epoch, head)

    async def _read_log(self, thread_id: str, after_seq: int) -> tuple[str, int, list[Any]]:
        keys = [self.key("meta", thread_id), self.key("log", thread_id)]
        args: list[str | int] = [after_seq, new_epoch(), self.log_ttl_ms]
        epoch, head, entries = await self._call("read", lambda: self._read(keys=keys, args=args))
        return str(epoch), int(head), list(entries)

    async def close(self) -> None:
        if self._hot is not None:
            await self._hot.close()
        await self.redis.aclose()


class _RedisPyWakeups:
    """:meth:`RedisBackend.wakeups` on redis-py's pub/sub (URLs the lean connection does not
    speak, such as ``rediss://``)."""

    def __init__(self, client: aioredis.Redis, channel: str) -> None:
        self._client = client
        self._pubsub = client.pubsub(ignore_subscribe_messages=True)
        self._channel = channel

    async def __aenter__(self) -> AsyncIterator[dict[str, Any]]:
        try:
            await self._pubsub.subscribe(self._channel)
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self._messages()

    async def _messages(self) -> AsyncIterator[dict[str, Any]]:
        async for item in self._pubsub.listen():
            yield item

    async def __aexit__(self, *exc_info: object) -> None:
        with contextlib.suppress(Exception):
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]
        with contextlib.suppress(Exception):
            await self._client.aclose()


def _entry_message(entry: Any, epoch: str) -> EventMessage:
    entry_id, fields = entry
    values = dict(zip(fields[::2], fields[1::2], strict=True))
    return stored_event(values["d"], int(entry_id.split("-")[0]), epoch)


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def _safe(url: str) -> str:
    """Return ``url`` without its password."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.split("@", 1)[1]
    return f"{scheme}{sep}{rest}"
