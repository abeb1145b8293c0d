"""The contract every storage backend fulfils; the bridge and the server only use this.

:class:`Backend` is the registry and the event logs. A backend shared by several server
processes (nodes) is also a :class:`SharedBackend`: it starts each node's :class:`Fanout`, which
delivers every node's events to this node's connections. ``docs/redis.md`` states the contract
in full; ``tests/test_backend_contract.py`` runs it against every backend.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..connections import SendsToThread
from ..eventlog import LogHead
from ..events import EventDraft, EventMessage
from ..registry import Lookup

__all__ = ["Backend", "ChecksRegistry", "Fanout", "SharedBackend"]


@runtime_checkable
class Backend(Protocol):
    """Registry and event log behind one interface; every method may do I/O.

    Semantics are those of :class:`~reference_impl.registry.ThreadRegistry` and
    :class:`~reference_impl.eventlog.EventLog`; a backend that cannot reach its store raises
    :class:`~reference_impl.exceptions.BackendUnavailableError` rather than pretend.
    """

    async def register(self, run_id: str, thread_id: str) -> None:
        """Record ``run_id -> thread_id`` (conflicting re-registration raises)."""

    async def get_thread(self, run_id: str) -> Lookup:
        """Look up a run's thread; the :class:`Lookup` says why when there is none."""
        ...

    async def runs_for_thread(self, thread_id: str) -> list[str]:
        """Return the live runs of a thread."""
        ...

    async def unregister(self, run_id: str) -> bool:
        """Forget a run; return whether it was registered."""
        ...

    async def append(self, draft: EventDraft) -> EventMessage:
        """Store ``draft`` as the next event of its thread and return it numbered."""
        ...

    async def read_after(
        self, thread_id: str, after_seq: int, epoch: str | None = None
    ) -> list[EventMessage]:
        """Return the thread's events after ``after_seq`` or raise ``ResyncRequired``."""
        ...

    async def head(self, thread_id: str) -> LogHead:
        """Return the thread's current epoch and head seq."""
        ...

    async def close(self) -> None:
        """Release connections; the backend is not used afterwards."""


class Fanout(SendsToThread, Protocol):
    """A node's sender when several nodes share a backend (e.g. ``RedisFanout``): it delivers
    this node's events and other nodes' to the local connections, in one order."""

    async def close(self) -> None:
        """Stop delivering other nodes' events."""


@runtime_checkable
class SharedBackend(Backend, Protocol):
    """A :class:`Backend` that several nodes share; each node needs its own fan-out."""

    async def start_fanout(self, connection_manager: SendsToThread) -> Fanout:
        """Return this node's fan-out to ``connection_manager``, started; raise
        :class:`~reference_impl.exceptions.BackendUnavailableError` if the store does not
        answer within the backend's bounds."""
        ...


@runtime_checkable
class ChecksRegistry(Protocol):
    """A backend whose append can check the registry in the same step (one round trip).

    The bridge then resolves a standard run id without a lookup: it appends to the thread
    the id names, unless the registry names another one (registry first, as always).
    """

    async def append_checked(self, draft: EventDraft) -> EventMessage:
        """:meth:`Backend.append`, unless ``draft.run_id`` is registered to a thread other
        than ``draft.thread_id``: then raise
        :class:`~reference_impl.exceptions.RegistryConflictError` and store nothing."""
        ...
