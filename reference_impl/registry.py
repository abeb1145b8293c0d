"""The thread registry: ``run_id -> thread_id``, many runs per thread, bounded.

Pure logic with an injectable clock; no I/O and no asyncio, so every call is atomic for
coroutines of one event loop (it never awaits). Entries expire after ``ttl``
seconds without a :meth:`ThreadRegistry.touch` and the oldest go first past ``max_runs``. A
failed lookup says *why* (never registered, expired, evicted) so an error can name the cause.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from .exceptions import RegistryConflictError
from .ids import validate_thread_id

__all__ = ["Lookup", "LookupMiss", "ThreadRegistry"]

Clock = Callable[[], float]


class LookupMiss(str, Enum):
    """Why a run id has no thread in the registry."""

    NEVER_REGISTERED = "never registered"
    EXPIRED = "registration expired"
    EVICTED = "evicted by the registry's size cap"
    UNREGISTERED = "unregistered"


@dataclass(frozen=True)
class Lookup:
    """The answer to :meth:`ThreadRegistry.get_thread`: a thread id, or the reason for none."""

    run_id: str
    thread_id: str | None
    miss: LookupMiss | None = None

    def __bool__(self) -> bool:
        return self.thread_id is not None


@dataclass
class _Entry:
    thread_id: str
    expires_at: float


class ThreadRegistry:
    """Maps run ids to thread ids, with a TTL and a count cap.

    Registering a run to a second, different thread raises :class:`RegistryConflictError`;
    registering it again to the same thread refreshes its TTL.
    """

    def __init__(
        self,
        *,
        ttl: float = 24 * 3600.0,
        max_runs: int = 100_000,
        clock: Clock = time.monotonic,
        forget_limit: int = 10_000,
    ) -> None:
        if ttl <= 0 or max_runs <= 0 or forget_limit < 0:
            raise ValueError(
                f"ttl and max_runs must be positive and forget_limit >= 0, got ttl={ttl!r}, "
                f"max_runs={max_runs!r}, forget_limit={forget_limit!r}"
            )
        self.ttl = ttl
        self.max_runs = max_runs
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        # thread -> its live runs, oldest registration first (an ordered set).
        self._by_thread: dict[str, OrderedDict[str, None]] = {}
        self._forgotten: OrderedDict[str, LookupMiss] = OrderedDict()
        self._forget_limit = forget_limit

    def __len__(self) -> int:
        self._expire()
        return len(self._entries)

    def register(self, run_id: str, thread_id: str) -> None:
        """Record that ``run_id`` belongs to ``thread_id``."""
        if not isinstance(run_id, str) or not run_id:
            raise ValueError(f"run_id must be a non-empty str, got {run_id!r}")
        validate_thread_id(thread_id)
        self._expire()
        entry = self._entries.get(run_id)
        if entry is not None and entry.thread_id != thread_id:
            raise RegistryConflictError(run_id, entry.thread_id, thread_id)
        self._entries[run_id] = _Entry(thread_id, self._clock() + self.ttl)
        self._entries.move_to_end(run_id)
        runs = self._by_thread.setdefault(thread_id, OrderedDict())
        runs[run_id] = None
        runs.move_to_end(run_id)
        self._forgotten.pop(run_id, None)
        while len(self._entries) > self.max_runs:
            oldest = next(iter(self._entries))
            self._drop(oldest, LookupMiss.EVICTED)

    def touch(self, run_id: str) -> bool:
        """Refresh the TTL of a live registration; return whether there was one."""
        self._expire()
        entry = self._entries.get(run_id)
        if entry is None:
            return False
        entry.expires_at = self._clock() + self.ttl
        self._entries.move_to_end(run_id)
        self._by_thread[entry.thread_id].move_to_end(run_id)
        return True

    def get_thread(self, run_id: str) -> Lookup:
        """Return the thread of ``run_id``, or a :class:`Lookup` that says why there is none."""
        self._expire()
        entry = self._entries.get(run_id)
        if entry is not None:
            return Lookup(run_id, entry.thread_id)
        return Lookup(run_id, None, self._forgotten.get(run_id, LookupMiss.NEVER_REGISTERED))

    def runs_for_thread(self, thread_id: str) -> list[str]:
        """Return the live run ids of ``thread_id``, least recently (re-)registered first."""
        self._expire()
        return list(self._by_thread.get(thread_id, ()))

    def unregister(self, run_id: str) -> bool:
        """Forget ``run_id``; return whether it was registered."""
        self._expire()
        if run_id not in self._entries:
            return False
        self._drop(run_id, LookupMiss.UNREGISTERED)
        return True

    def _expire(self) -> None:
        # Every write moves its entry to the end with the same TTL, so the dict is ordered by
        # expiry: stop at the first live entry.
        now = self._clock()
        while self._entries:
            run_id, entry = next(iter(self._entries.items()))
            if entry.expires_at > now:
                return
            self._drop(run_id, LookupMiss.EXPIRED)

    def _drop(self, run_id: str, why: LookupMiss) -> None:
        entry = self._entries.pop(run_id)
        runs = self._by_thread[entry.thread_id]
        del runs[run_id]
        if not runs:
            del self._by_thread[entry.thread_id]
        self._forgotten[run_id] = why
        while len(self._forgotten) > self._forget_limit:
            self._forgotten.popitem(last=False)
