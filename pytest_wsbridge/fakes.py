"""Fakes for injecting faults: a truthful in-memory connection manager and orchestrator stand-ins.

Nothing here needs pytest. :class:`FakeConnectionManager` implements the connection-manager
contract (``send_to_thread`` is ``True`` only when a live connection of that thread took the
message) and lets a test connect, drop and resume subscribers and make sends fail or lag.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

from reference_impl.events import Message
from reference_impl.orchestrator import ReferenceOrchestrator
from reference_impl.protocol import as_message_dict

from .exceptions import ReplayUnsupported

__all__ = [
    "Delivery",
    "FakeConnection",
    "FakeConnectionManager",
    "FalseHealthOrchestrator",
    "HangingOrchestrator",
    "ReplayUnsupported",
    "UnhealthyOrchestrator",
    "normalize_message",
]

T = TypeVar("T")


def normalize_message(message: object) -> Message:
    """Return a bridge's message as a dict: dicts, pydantic models and JSON text are accepted."""
    return as_message_dict(message)


@dataclass(frozen=True)
class Delivery:
    """One message taken by one connection."""

    thread_id: str
    message: Message
    connection: FakeConnection


class FakeConnection:
    """A subscriber of one thread; ``messages`` holds what it received, in arrival order."""

    def __init__(
        self,
        manager: FakeConnectionManager,
        thread_id: str,
        *,
        user_id: str | None = None,
        last_seq: int | None = None,
    ) -> None:
        self.manager = manager
        self.thread_id = thread_id
        self.user_id = user_id
        self.resumed_from = last_seq
        self.messages: list[Message] = []
        self.closed = False
        self.dropped = False
        self._arrived = asyncio.Event()
        self._held: list[Message] | None = None

    @property
    def live(self) -> bool:
        """Registered and not closed (a dropped connection still looks live to the manager)."""
        return not self.closed

    @property
    def last_seq(self) -> int | None:
        """The highest ``seq`` received, else the resume point, else ``None``."""
        seqs = [m["seq"] for m in self.messages if isinstance(m.get("seq"), int)]
        return max(seqs) if seqs else self.resumed_from

    def deliver(self, message: Message) -> bool:
        """Take a message; a dropped connection takes it into the void, a closed one refuses."""
        if self.closed:
            return False
        if self._held is not None:
            self._held.append(message)
        elif not self.dropped:
            self._accept(message)
        return True

    def _accept(self, message: Message) -> None:
        self.messages.append(message)
        self.manager.record(Delivery(self.thread_id, message, self))
        self._arrived.set()

    def _hold_live(self) -> None:
        self._held = []

    def _resume(self, replayed: list[Message]) -> None:
        """Deliver the replay, then the live messages held meanwhile that it did not cover.

        Only the overlap this fake itself creates (live sends during the replay call) is
        dropped; duplicates a bridge sends are kept, so the checks can see them.
        """
        held, self._held = self._held or [], None
        for message in replayed:
            self._accept(message)
        covered = max((m["seq"] for m in replayed if isinstance(m.get("seq"), int)), default=None)
        for message in held:
            seq = message.get("seq")
            if covered is not None and isinstance(seq, int) and seq <= covered:
                continue
            self._accept(message)

    async def wait_for(self, count: int, timeout: float = 2.0) -> list[Message]:
        """Wait for at least ``count`` messages; raise ``TimeoutError`` after ``timeout``."""

        async def arrived() -> None:
            while len(self.messages) < count:
                self._arrived.clear()
                await self._arrived.wait()

        try:
            await asyncio.wait_for(arrived(), timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(
                f"connection of thread {self.thread_id!r} got {len(self.messages)} of {count} "
                f"messages within {timeout:g}s"
            ) from None
        return self.messages

    async def close(self) -> None:
        """Close the connection; the manager stops counting it as live."""
        self.closed = True
        self.manager.forget(self)

    async def reconnect(self) -> FakeConnection:
        """Close this connection and open a new one resuming from :attr:`last_seq`."""
        await self.close()
        return await self.manager.connect(
            self.thread_id, last_seq=self.last_seq or 0, user_id=self.user_id
        )


class FakeConnectionManager:
    """An in-memory, truthful connection manager with fault injection.

    ``bridge`` (set after the bridge is built) is asked for ``replay`` when a connection
    resumes. ``on_delivery`` is called for every message a connection took.
    """

    def __init__(self, *, on_delivery: Callable[[Delivery], None] | None = None) -> None:
        self.bridge: object | None = None
        self.on_delivery = on_delivery
        self.deliveries: list[Delivery] = []
        self.send_calls = 0
        self.latency = 0.0
        self._connections: dict[str, list[FakeConnection]] = {}
        self._failures_left = 0
        self._failure: Callable[[], BaseException] = lambda: ConnectionError(
            "injected send failure"
        )

    # -- what the bridge calls --------------------------------------------------------------

    async def send_to_thread(self, thread_id: str, message: object) -> bool:
        """Offer the message to the thread's live connections; ``True`` if any took it."""
        self.send_calls += 1
        if self.latency:
            await asyncio.sleep(self.latency)
        if self._failures_left:
            self._failures_left -= 1
            raise self._failure()
        decoded = normalize_message(message)
        taken = False
        for connection in list(self._connections.get(thread_id, [])):
            taken = connection.deliver(decoded) or taken
        return taken

    # -- what tests call --------------------------------------------------------------------

    async def connect(
        self, thread_id: str, last_seq: int | None = None, *, user_id: str | None = None
    ) -> FakeConnection:
        """Subscribe a new connection; with ``last_seq``, first replay what it missed."""
        connection = FakeConnection(self, thread_id, user_id=user_id, last_seq=last_seq)
        if last_seq is not None:
            connection._hold_live()
        self._connections.setdefault(thread_id, []).append(connection)
        if last_seq is not None:
            try:
                replayed = await self._replay(thread_id, last_seq)
            except BaseException:
                self.forget(connection)
                raise
            connection._resume(replayed)
        return connection

    def connections(self, thread_id: str) -> list[FakeConnection]:
        """Return the live connections of a thread."""
        return list(self._connections.get(thread_id, []))

    def forget(self, connection: FakeConnection) -> None:
        """Stop routing to ``connection`` (it was closed)."""
        bucket = self._connections.get(connection.thread_id, [])
        if connection in bucket:
            bucket.remove(connection)

    def drop(self, connection: FakeConnection) -> None:
        """Break ``connection`` without closing it: sends 'succeed' and reach nobody."""
        connection.dropped = True

    def fail_next_sends(
        self, count: int = 1, error: Callable[[], BaseException] | None = None
    ) -> None:
        """Make the next ``count`` calls of ``send_to_thread`` raise."""
        self._failures_left = count
        if error is not None:
            self._failure = error

    def messages_for(self, thread_id: str) -> list[Message]:
        """Every message delivered to any connection of ``thread_id``, in delivery order."""
        return [d.message for d in self.deliveries if d.thread_id == thread_id]

    # -- internals --------------------------------------------------------------------------

    async def _replay(self, thread_id: str, last_seq: int) -> list[Message]:
        replay = getattr(self.bridge, "replay", None)
        if not callable(replay):
            raise ReplayUnsupported(
                f"{type(self.bridge).__name__} has no replay(thread_id, after_seq); "
                "a resuming connection cannot get the events it missed"
            )
        result = replay(thread_id, last_seq)
        if inspect.isawaitable(result):
            result = await result
        return [normalize_message(m) for m in (result or [])]

    def record(self, delivery: Delivery) -> None:
        """Note a message a connection took (called by the connection)."""
        self.deliveries.append(delivery)
        if self.on_delivery is not None:
            self.on_delivery(delivery)


# -- orchestrator stand-ins -------------------------------------------------------------------


class _ClosesUnawaited:
    """Remembers the coroutines its methods made, so the unawaited ones can be closed.

    A bridge that calls a method without awaiting it leaves a coroutine that was never
    started; closing it (:meth:`close_unawaited`) keeps the "never awaited" ``RuntimeWarning``
    from surfacing later, in whatever test happens to collect it (possibly in another thread).
    """

    def _made(self) -> list[Coroutine[Any, Any, Any]]:
        made: list[Coroutine[Any, Any, Any]] = self.__dict__.setdefault("_coroutines", [])
        return made

    def _track(self, coroutine: Coroutine[Any, Any, T]) -> Coroutine[Any, Any, T]:
        self._made().append(coroutine)
        return coroutine

    def close_unawaited(self) -> None:
        """Close every coroutine a method returned that nobody ever started."""
        for coroutine in self._made():
            if inspect.getcoroutinestate(coroutine) == inspect.CORO_CREATED:
                coroutine.close()
        self._made().clear()


class UnhealthyOrchestrator(_ClosesUnawaited):
    """An orchestrator whose every method raises (a backend that is down)."""

    def __getattr__(self, name: str) -> Callable[..., NoReturn]:
        if name.startswith("__") or name.startswith("_"):
            raise AttributeError(name)

        def broken(*args: Any, **kwargs: Any) -> NoReturn:
            raise ConnectionError(f"orchestrator unavailable (stand-in: {name}() always raises)")

        return broken


class FalseHealthOrchestrator(ReferenceOrchestrator, _ClosesUnawaited):
    """The reference orchestrator, unhealthy: ``health_check()`` answers ``False``."""

    def __init__(self) -> None:
        super().__init__()
        self.healthy = False

    def health_check(self) -> Coroutine[Any, Any, bool]:
        return self._track(super().health_check())

    def get_thread_id_for_run(self, run_id: str) -> Coroutine[Any, Any, str | None]:
        return self._track(super().get_thread_id_for_run(run_id))


class HangingOrchestrator(_ClosesUnawaited):
    """An orchestrator whose every method never returns (a backend that does not answer).

    Methods return awaitables that wait until :meth:`release` is called (or they are
    cancelled), so a bridge that awaits them without a timeout hangs.
    """

    def __init__(self) -> None:
        self._released: asyncio.Event | None = None

    def release(self) -> None:
        """Let every pending call finish (with ``None``), and close the never-awaited ones."""
        if self._released is not None:
            self._released.set()
        self.close_unawaited()

    def __getattr__(self, name: str) -> Callable[..., Awaitable[None]]:
        if name.startswith("_"):
            raise AttributeError(name)

        async def hang() -> None:
            if self._released is None:
                self._released = asyncio.Event()
            await self._released.wait()

        def call(*args: Any, **kwargs: Any) -> Awaitable[None]:
            return self._track(hang())

        return call
