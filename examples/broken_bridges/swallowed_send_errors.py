"""Defect: an exception from the connection manager's send is swallowed and the event dropped.

The caller is told all is well; the event is neither delivered nor kept for replay. Caught by
the delivery family.
"""

from __future__ import annotations

from typing import Any

from .base import SmallBridge

__all__ = ["SwallowingBridge", "create_bridge"]


class SwallowingBridge(SmallBridge):
    async def emit(self, kind: str, run_id: str, agent_name: str, **payload: Any) -> bool:
        message = self.build(kind, run_id, agent_name, payload)
        try:
            delivered = await self.send(message)
        except Exception:
            return True  # the defect: swallowed, not kept, reported as sent
        self.history[message["thread_id"]].append(message)
        return delivered


async def create_bridge(*, connection_manager: Any, orchestrator: Any) -> SwallowingBridge:
    bridge = SwallowingBridge(connection_manager=connection_manager, orchestrator=orchestrator)
    await bridge.start()
    return bridge
