"""Not broken, but weaker: no ``replay``, and a run without a thread returns ``False``.

Send errors propagate to the caller, so nothing is lost silently; the suite rates the missing
replay UNIMPLEMENTED and the quiet ``False`` NON-STRICT, and nothing FAILED.
"""

from __future__ import annotations

import logging
from typing import Any

from .base import SmallBridge

__all__ = ["LenientBridge", "create_bridge"]

logger = logging.getLogger("examples.broken_bridges")


class LenientBridge(SmallBridge):
    replay = None  # this bridge offers no replay(thread_id, after_seq)

    async def emit(self, kind: str, run_id: str, agent_name: str, **payload: Any) -> bool:
        try:
            message = self.build(kind, run_id, agent_name, payload)
        except LookupError:
            logger.warning("run %r has no thread; %s not sent", run_id, kind)
            return False
        return await self.send(message)


async def create_bridge(*, connection_manager: Any, orchestrator: Any) -> LenientBridge:
    bridge = LenientBridge(connection_manager=connection_manager, orchestrator=orchestrator)
    await bridge.start()
    return bridge
