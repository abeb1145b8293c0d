"""Defect: every event is broadcast to every thread the bridge has seen.

"Clients filter by thread_id" — so one user's events reach every other open thread. Caught by
the isolation family.
"""

from __future__ import annotations

from typing import Any

from .base import Message, SmallBridge

__all__ = ["BroadcastBridge", "create_bridge"]


class BroadcastBridge(SmallBridge):
    def __init__(self, *, connection_manager: Any, orchestrator: Any) -> None:
        super().__init__(connection_manager=connection_manager, orchestrator=orchestrator)
        self.threads_seen: list[str] = []

    async def send(self, message: Message) -> bool:
        if message["thread_id"] not in self.threads_seen:
            self.threads_seen.append(message["thread_id"])
        taken = False
        for thread_id in self.threads_seen:  # the defect: every thread, not the run's
            taken = bool(await self.connection_manager.send_to_thread(thread_id, message)) or taken
        return taken


async def create_bridge(*, connection_manager: Any, orchestrator: Any) -> BroadcastBridge:
    bridge = BroadcastBridge(connection_manager=connection_manager, orchestrator=orchestrator)
    await bridge.start()
    return bridge
