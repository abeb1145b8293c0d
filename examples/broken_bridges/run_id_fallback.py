"""Defect: a run without a known thread falls back to the run id as the thread id.

The event is "sent" to a thread named after the run, which nobody subscribes to, and the call
returns as if all is well (the audit's proof of failure: run ``run_xyz789`` reaches nobody).
Caught by the resolution family.
"""

from __future__ import annotations

from typing import Any

from reference_impl import thread_id_from_run_id

from .base import SmallBridge

__all__ = ["FallbackBridge", "create_bridge"]


class FallbackBridge(SmallBridge):
    def resolve(self, run_id: object) -> str:
        if not isinstance(run_id, str) or not run_id:
            raise ValueError(f"run_id must be a non-empty str, got {run_id!r}")
        return self.runs.get(run_id) or thread_id_from_run_id(run_id) or run_id  # the defect


async def create_bridge(*, connection_manager: Any, orchestrator: Any) -> FallbackBridge:
    bridge = FallbackBridge(connection_manager=connection_manager, orchestrator=orchestrator)
    await bridge.start()
    return bridge
