"""The in-memory backend: one process, nothing persisted, a new epoch per process."""

from __future__ import annotations

from ..eventlog import EventLog, LogHead
from ..events import EventDraft, EventMessage
from ..registry import Lookup, ThreadRegistry

__all__ = ["MemoryBackend"]


class MemoryBackend:
    """:class:`~reference_impl.backends.base.Backend` over the pure registry and event log.

    None of its coroutines awaits, so an append and the send that follows it are not
    interleaved with other emits on the same event loop.
    """

    def __init__(
        self, registry: ThreadRegistry | None = None, event_log: EventLog | None = None
    ) -> None:
        # `is None`, not `or`: an empty ThreadRegistry is falsy (it has __len__).
        self.registry = registry if registry is not None else ThreadRegistry()
        self.event_log = event_log if event_log is not None else EventLog()

    async def register(self, run_id: str, thread_id: str) -> None:
        self.registry.register(run_id, thread_id)

    async def get_thread(self, run_id: str) -> Lookup:
        return self.registry.get_thread(run_id)

    async def runs_for_thread(self, thread_id: str) -> list[str]:
        return self.registry.runs_for_thread(thread_id)

    async def unregister(self, run_id: str) -> bool:
        return self.registry.unregister(run_id)

    async def append(self, draft: EventDraft) -> EventMessage:
        return self.event_log.append(draft)

    async def read_after(
        self, thread_id: str, after_seq: int, epoch: str | None = None
    ) -> list[EventMessage]:
        return self.event_log.read_after(thread_id, after_seq, epoch)

    async def head(self, thread_id: str) -> LogHead:
        return self.event_log.head(thread_id)

    async def close(self) -> None:
        return None
