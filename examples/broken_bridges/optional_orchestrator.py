"""Defect: the orchestrator is optional; ``None`` is accepted and the health check skipped.

The bridge starts "fine" and fails later, at the first event that needs the orchestrator.
Caught by the fail-fast family.
"""

from __future__ import annotations

from typing import Any

from .base import SmallBridge

__all__ = ["create_bridge"]


async def create_bridge(*, connection_manager: Any, orchestrator: Any = None) -> SmallBridge:
    bridge = SmallBridge(connection_manager=connection_manager, orchestrator=orchestrator)
    if orchestrator is not None:  # the defect: None should be refused, not skipped
        await bridge.start()
    return bridge
