"""Defect: the thread is read from a standard run id with ``split("_")[1]``.

Right for ``thread_abc123_run_…``, wrong for every thread id with an underscore (the event goes
to the first fragment). Caught by the resolution family.
"""

from __future__ import annotations

from typing import Any

from .base import SmallBridge

__all__ = ["SplitBridge", "create_bridge"]


class SplitBridge(SmallBridge):
    def resolve(self, run_id: object) -> str:
        if not isinstance(run_id, str) or not run_id:
            raise ValueError(f"run_id must be a non-empty str, got {run_id!r}")
        if run_id in self.runs:
            return self.runs[run_id]
        if run_id.startswith("thread_") and "_run_" in run_id:
            return run_id.split("_")[1]  # the defect
        raise LookupError(f"run {run_id!r} has no thread: register it first")


async def create_bridge(*, connection_manager: Any, orchestrator: Any) -> SplitBridge:
    bridge = SplitBridge(connection_manager=connection_manager, orchestrator=orchestrator)
    await bridge.start()
    return bridge
