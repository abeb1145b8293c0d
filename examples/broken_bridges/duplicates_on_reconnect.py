"""Defect: replay includes the event at ``after_seq`` (``>=`` instead of ``>``).

Every resuming client gets its last event twice. Caught by the replay family.
"""

from __future__ import annotations

from typing import Any

from .base import Message, SmallBridge

__all__ = ["DuplicatingBridge", "create_bridge"]


class DuplicatingBridge(SmallBridge):
    async def replay(self, thread_id: str, after_seq: int) -> list[Message]:
        if isinstance(after_seq, bool) or not isinstance(after_seq, int) or after_seq < 0:
            raise ValueError(f"after_seq must be an int >= 0, got {after_seq!r}")
        if after_seq > self.head[thread_id]:
            raise LookupError(f"seq {after_seq} was never issued in thread {thread_id!r}")
        return [m for m in self.history[thread_id] if m["seq"] >= after_seq]  # the defect


async def create_bridge(*, connection_manager: Any, orchestrator: Any) -> DuplicatingBridge:
    bridge = DuplicatingBridge(connection_manager=connection_manager, orchestrator=orchestrator)
    await bridge.start()
    return bridge
