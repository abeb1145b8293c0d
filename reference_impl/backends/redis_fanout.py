"""Cross-node fan-out: every node delivers every thread's events to its own connections.

One :class:`RedisFanout` runs per server process (node). It subscribes to the Redis
backend's wake-up channel and is also the bridge's sender for events emitted on this node.
Both paths go through one :class:`~reference_impl.subscription.SeqGate` per thread, under a
per-thread lock, so local connections get each event once and in seq order:

* an event emitted on this node is delivered directly (the bridge's ``DeliveryReceipt`` stays
  truthful for local connections); its wake-up, when it comes back, is a duplicate and dropped;
* a wake-up from another node is delivered when it is the next seq;
* pub/sub is at-most-once: a seq jump is filled from the thread's stream before delivering;
* after losing Redis the node resubscribes by itself (``reconnect_delay`` doubling up to
  ``max_reconnect_delay``), reads what it missed from the streams and hands each thread's
  head to the connection manager (``check_head``): every local subscription behind it fills
  its gap, every one on a lost epoch gets ``resync_required`` at once, without waiting for
  the next event;
* when history cannot fill a gap (trimmed, or a new epoch after Redis lost its data) the
  events are passed on as they are: each subscription's own gate in the server sees the gap
  or the epoch change and answers ``resync_required`` — the fan-out never hides a gap.

The gate of a thread starts at the first wake-up seen while the thread has local connections;
what came before is the subscription's replay, which the server serves from the log. Wake-ups
arrive in the order Redis stored the events, direct sends do not: a direct send into a fresh
gate waits (up to the backend's ``max_wait``) for the subscriber to anchor the gate, else it
could anchor past another node's earlier event whose wake-up is still in flight and drop it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from redis.exceptions import RedisError

from ..connections import SendsToThread
from ..eventlog import LogHead
from ..events import EventMessage, Message
from ..exceptions import BackendUnavailableError, InvalidResumePoint, ResyncRequired
from ..subscription import SeqGate, Step
from .redis_codec import decode_wakeup

__all__ = ["FanoutStore", "RedisFanout"]

logger = logging.getLogger("reference_impl.fanout")


# Receipts remembered per thread, for a direct send whose event a wake-up delivered first.
_RESULTS_KEPT = 1024


class FanoutStore(Protocol):
    """What a fan-out needs of its backend (:class:`~reference_impl.backends.redis.RedisBackend`
    is one): the wake-up channel, a subscription to it, and the log."""

    channel: str

    @property
    def max_wait(self) -> float: ...

    def wakeups(self) -> AbstractAsyncContextManager[AsyncIterator[dict[str, Any]]]:
        """Subscribe to the wake-up channel on entry (raise a ``RedisError`` or ``OSError`` if
        that fails); iterate the messages, as redis-py's pub/sub items; close on exit."""
        ...

    async def read_after(
        self, thread_id: str, after_seq: int, epoch: str | None = None
    ) -> list[EventMessage]: ...

    async def head(self, thread_id: str) -> LogHead: ...


class _ThreadState:
    __slots__ = ("anchored", "gate", "lock", "results")

    def __init__(self) -> None:
        self.gate = SeqGate()
        self.lock = asyncio.Lock()
        self.results: OrderedDict[int, bool] = OrderedDict()
        # Set once the gate has a last seq (or the state is forgotten): releases direct sends.
        self.anchored = asyncio.Event()

    def record(self, message: Message, taken: bool) -> None:
        seq = message.get("seq")
        if isinstance(seq, int):
            self.results[seq] = taken
            while len(self.results) > _RESULTS_KEPT:
                self.results.popitem(last=False)


class RedisFanout:
    """A node's fan-out: the bridge's ``send_to_thread`` and the wake-up subscriber.

    ``connection_manager`` holds this node's connections (``send_to_thread``; with
    ``connections_for_thread`` the fan-out skips threads that have none here).
    """

    def __init__(
        self,
        backend: FanoutStore,
        connection_manager: SendsToThread,
        *,
        reconnect_delay: float = 0.05,
        max_reconnect_delay: float = 1.0,
        max_threads: int = 10_000,
    ) -> None:
        self.backend = backend
        self.local = connection_manager
        self.reconnect_delay = reconnect_delay
        self.max_reconnect_delay = max_reconnect_delay
        self.max_threads = max_threads
        self.subscriptions = 0
        self.gaps_filled = 0
        self._threads: OrderedDict[str, _ThreadState] = OrderedDict()
        self._subscribed = asyncio.Event()
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        """Whether the wake-up subscription is live right now."""
        return self._subscribed.is_set()

    async def start(self) -> None:
        """Subscribe to wake-ups; raise :class:`BackendUnavailableError` if Redis is down."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="wsbridge-redis-fanout")
        try:
            await asyncio.wait_for(self._subscribed.wait(), self.backend.max_wait)
        except asyncio.TimeoutError:
            await self.close()
            raise BackendUnavailableError(
                f"could not subscribe to {self.backend.channel!r} within "
                f"{self.backend.max_wait:.2f}s"
            ) from None

    async def wait_subscribed(self, count: int = 1) -> None:
        """Return once the subscription was made ``count`` times (2: after one reconnect)
        and is live."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.subscriptions >= count and self.connected)

    async def _now_subscribed(self) -> None:
        async with self._changed:
            self.subscriptions += 1
            self._subscribed.set()
            self._changed.notify_all()

    async def close(self) -> None:
        """Stop the subscriber task."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def send_to_thread(self, thread_id: str, message: Message) -> bool:
        """Deliver an event stored by this node; ``True`` if a local connection took it."""
        if not self._has_local(thread_id):
            self._forget(thread_id)
            return bool(await self.local.send_to_thread(thread_id, message))
        state = self._state(thread_id)
        if state.gate.last_seq is None and self.connected and isinstance(message.get("seq"), int):
            # See the module docstring: the subscriber anchors a fresh gate, in Redis order.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(state.anchored.wait(), self.backend.max_wait)
        return await self._offer(thread_id, message)

    # -- the gate ---------------------------------------------------------------------------

    def _has_local(self, thread_id: str) -> bool:
        connections_for_thread = getattr(self.local, "connections_for_thread", None)
        return connections_for_thread is None or bool(connections_for_thread(thread_id))

    def _forget(self, thread_id: str) -> None:
        state = self._threads.pop(thread_id, None)
        if state is not None:
            state.anchored.set()

    def _state(self, thread_id: str) -> _ThreadState:
        state = self._threads.get(thread_id)
        if state is None:
            state = self._threads[thread_id] = _ThreadState()
            while len(self._threads) > self.max_threads:
                self._threads.popitem(last=False)[1].anchored.set()
        else:
            self._threads.move_to_end(thread_id)
        return state

    async def _offer(self, thread_id: str, message: Message) -> bool:
        state = self._state(thread_id)
        async with state.lock:
            step = state.gate.push(message)
            if step.resync:
                # Another epoch: the thread's history was lost. Start over from this event;
                # each subscription's gate sees the epoch change and asks for a resync.
                state.gate = SeqGate()
                state.results.clear()
                step = state.gate.push(message)
            await self._complete(thread_id, state, step, message)
            if state.gate.last_seq is not None:
                state.anchored.set()
        seq = message.get("seq")
        return state.results.get(seq, False) if isinstance(seq, int) else False

    async def _complete(
        self, thread_id: str, state: _ThreadState, step: Step, message: Message
    ) -> None:
        for _ in range(3):
            for event in step.deliver:
                state.record(event, bool(await self.local.send_to_thread(thread_id, event)))
            if step.fetch_after is None:
                return
            try:
                history = await self.backend.read_after(
                    thread_id, step.fetch_after, state.gate.epoch
                )
            except (ResyncRequired, BackendUnavailableError) as exc:
                logger.warning("thread %r: cannot fill a gap from the stream (%s)", thread_id, exc)
                break
            self.gaps_filled += 1
            step = state.gate.fill([event.to_dict() for event in history])
        # History cannot close the gap: pass the event on as it is (see the module docstring).
        state.gate = SeqGate()
        step = state.gate.push(message)
        for event in step.deliver:
            state.record(event, bool(await self.local.send_to_thread(thread_id, event)))

    async def _catch_up(self) -> None:
        """After (re)subscribing, bring every local subscriber to where its thread's log stands.

        Wake-ups published while this node was not subscribed are lost, and nothing else may
        come to show it (a burst, then quiet). For each thread with local connections: read
        the log after this node's gate and deliver it, re-anchor the gate at the head (a new
        epoch if Redis lost its data), then hand the head to the connection manager, so that
        each subscription behind it fills its gap and each of another epoch gets
        ``resync_required`` now, not at the next event.
        """
        threads = dict.fromkeys(self._threads)
        threads.update(dict.fromkeys(self._local_threads()))
        for thread_id in threads:
            if not self._has_local(thread_id):
                self._forget(thread_id)
                continue
            state = self._state(thread_id)
            async with state.lock:
                head = await self._sync(thread_id, state)
                state.anchored.set()
                check_head = getattr(self.local, "check_head", None)
                if check_head is not None:
                    check_head(head)

    async def _sync(self, thread_id: str, state: _ThreadState) -> LogHead:
        """Pass on what the log holds after the thread's gate; return the head it stops at."""
        gate = state.gate
        if gate.last_seq is None or gate.epoch is None:
            # Nothing passed on yet: the subscriptions' own replay covers the log so far.
            return self._anchor(state, await self.backend.head(thread_id))
        try:
            history = await self.backend.read_after(thread_id, gate.last_seq, gate.epoch)
        except InvalidResumePoint:
            return self._anchor(state, await self.backend.head(thread_id))
        except ResyncRequired as lost:
            if lost.epoch == gate.epoch:
                # Trimmed: what is left cannot close the gap; each subscription learns it
                # from the head it is handed.
                return self._anchor(state, LogHead(thread_id, lost.epoch, lost.head_seq))
            # Another epoch (Redis lost its data): pass the new epoch on from its start, as
            # the live path would; each subscription's gate sees the epoch change.
            self._anchor(state, LogHead(thread_id, lost.epoch, 0))
            gate = state.gate
            try:
                history = await self.backend.read_after(thread_id, 0, lost.epoch)
            except ResyncRequired as again:
                return self._anchor(state, LogHead(thread_id, again.epoch, again.head_seq))
        step = gate.fill([event.to_dict() for event in history])
        for event in step.deliver:
            state.record(event, bool(await self.local.send_to_thread(thread_id, event)))
        # read_after never returns a gap, so the gate stands at the head it read.
        return LogHead(thread_id, gate.epoch or "", gate.last_seq or 0)

    @staticmethod
    def _anchor(state: _ThreadState, head: LogHead) -> LogHead:
        state.gate = SeqGate(head.head_seq, head.epoch)
        state.results.clear()
        return head

    def _local_threads(self) -> list[str]:
        threads = getattr(self.local, "threads", None)
        return list(threads()) if threads is not None else []

    # -- the subscriber ---------------------------------------------------------------------

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                async with self.backend.wakeups() as wakeups:
                    await self._now_subscribed()
                    failures = 0
                    await self._catch_up()
                    async for item in wakeups:
                        await self._on_wakeup(item)
            except (RedisError, OSError, asyncio.TimeoutError, BackendUnavailableError) as exc:
                logger.warning("wake-up subscription lost (%r); reconnecting", exc)
            except Exception:
                # Whatever broke (a connection manager, say), this node keeps its fan-out.
                logger.exception("wake-up subscriber failed; resubscribing")
            finally:
                self._subscribed.clear()
            await asyncio.sleep(min(self.reconnect_delay * 2**failures, self.max_reconnect_delay))
            failures += 1

    async def _on_wakeup(self, item: dict[str, Any]) -> None:
        if item.get("type") != "message":
            return
        try:
            wakeup = decode_wakeup(item["data"])
        except ValueError:
            logger.warning("ignoring a foreign message on %r", self.backend.channel)
            return
        thread_id = wakeup.thread_id
        if not self._has_local(thread_id):
            self._forget(thread_id)
            return
        state = self._threads.get(thread_id)
        if state is not None and state.gate.has_delivered(wakeup.seq, wakeup.epoch):
            # This node's own event (sent directly) or a repeat: dropped before it is parsed.
            state.gate.duplicates += 1
            return
        try:
            message = wakeup.message()
        except ValueError:
            logger.warning("ignoring a foreign message on %r", self.backend.channel)
            return
        try:
            await self._offer(thread_id, message)
        except Exception:
            # One connection manager failure must not stop fan-out to every other thread.
            logger.exception("delivering seq %d of thread %r failed", wakeup.seq, wakeup.thread_id)
