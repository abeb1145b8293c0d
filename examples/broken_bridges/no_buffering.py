"""Defect: an event is kept for replay only if a connection took it.

Events emitted while nobody is connected are gone; a client that reconnects never gets them.
Caught by the replay family.
"""

from __future__ import annotations

from typing import Any

from .base import SmallBridge

__all__ = ["NoBufferBridge", "create_bridge"]


class NoBufferBridge(SmallBridge):
    async def emit(self, kind: str, run_id: str, agent_name: str, **payload: Any) -> bool:
        message = self.build(kind, run_id, agent_name, payload)
        delivered = await self.send(message)
        if delivered:  # the defect: only what was delivered is kept
            self.history[message["thread_id"]].append(message)
        return delivered


async def create_bridge(*, connection_manager: Any, orchestrator: Any) -> NoBufferBridge:
    bridge = NoBufferBridge(connection_manager=connection_manager, orchestrator=orchestrator)
    await bridge.start()
    return bridge
