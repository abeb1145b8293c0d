"""Defect: start-up awaits the orchestrator's health check with no timeout.

A healthy, unhealthy or missing orchestrator is judged right; one that does not answer hangs
the start-up for ever. Caught by the fail-fast family (within its bound).
"""

from __future__ import annotations

from typing import Any

from .base import SmallBridge

__all__ = ["create_bridge"]


async def create_bridge(*, connection_manager: Any, orchestrator: Any) -> SmallBridge:
    if orchestrator is None:
        raise RuntimeError("an orchestrator is required")
    try:
        healthy = await orchestrator.health_check()  # the defect: no timeout
    except Exception as exc:
        raise RuntimeError(f"orchestrator health check failed: {exc}") from exc
    if healthy is False:
        raise RuntimeError("orchestrator is unhealthy")
    return SmallBridge(connection_manager=connection_manager, orchestrator=orchestrator)
