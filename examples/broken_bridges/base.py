"""A small, correct bridge that each broken bridge in this folder breaks in exactly one place.

It follows the contract the compliance suite checks: resolution by registry, then the standard
run-id format, else ``LookupError``; a fail-fast factory; events validated before anything is
sent, stored per thread with a contiguous ``seq``, then sent; ``replay`` from that store. It
reuses ``reference_impl``'s run-id parser and orchestrator check, as a downstream project would.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import defaultdict
from datetime import datetime, timezone
from typing import Any

from reference_impl import check_orchestrator, thread_id_from_run_id

__all__ = ["SmallBridge", "create_bridge"]

logger = logging.getLogger("examples.broken_bridges")

Message = dict[str, Any]


class SmallBridge:
    """Routes agent events to ``connection_manager.send_to_thread``; see the module docstring."""

    max_bytes = 256 * 1024

    def __init__(self, *, connection_manager: Any, orchestrator: Any) -> None:
        self.connection_manager = connection_manager
        self.orchestrator = orchestrator
        self.epoch = uuid.uuid4().hex
        self.runs: dict[str, str] = {}
        self.history: defaultdict[str, list[Message]] = defaultdict(list)
        self.head: defaultdict[str, int] = defaultdict(int)

    async def start(self) -> None:
        """Refuse a missing, unhealthy or hanging orchestrator."""
        await check_orchestrator(self.orchestrator, timeout=0.5)

    # -- threads --------------------------------------------------------------------------

    async def register_run(self, run_id: str, thread_id: str) -> None:
        for name, value in (("run_id", run_id), ("thread_id", thread_id)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} must be a non-empty str, got {value!r}")
        if self.runs.setdefault(run_id, thread_id) != thread_id:
            raise ValueError(f"run {run_id!r} already belongs to thread {self.runs[run_id]!r}")

    def resolve(self, run_id: object) -> str:
        if not isinstance(run_id, str) or not run_id:
            raise ValueError(f"run_id must be a non-empty str, got {run_id!r}")
        thread_id = self.runs.get(run_id) or thread_id_from_run_id(run_id)
        if thread_id is None:
            raise LookupError(f"run {run_id!r} has no thread: register it first")
        return thread_id

    # -- events ---------------------------------------------------------------------------

    def build(self, kind: str, run_id: str, agent_name: str, payload: dict[str, Any]) -> Message:
        """Validate the event completely, then number it in its thread."""
        thread_id = self.resolve(run_id)
        try:
            size = len(json.dumps(payload))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{kind} payload is not JSON-serializable: {exc}") from exc
        if size > self.max_bytes:
            raise ValueError(f"{kind} payload is {size} bytes; the limit is {self.max_bytes}")
        self.head[thread_id] += 1
        return {
            "type": kind,
            "thread_id": thread_id,
            "run_id": run_id,
            "seq": self.head[thread_id],
            "epoch": self.epoch,
            "timestamp": datetime.now(timezone.utc).isoformat(),
            "agent_name": agent_name,
            "payload": payload,
        }

    async def send(self, message: Message) -> bool:
        return bool(await self.connection_manager.send_to_thread(message["thread_id"], message))

    async def emit(self, kind: str, run_id: str, agent_name: str, **payload: Any) -> bool:
        """Store the event, then send it; a failed send leaves it stored for replay."""
        message = self.build(kind, run_id, agent_name, payload)
        self.history[message["thread_id"]].append(message)
        try:
            return await self.send(message)
        except Exception:
            logger.warning("send of seq %s failed; kept for replay", message["seq"])
            return False

    async def replay(self, thread_id: str, after_seq: int) -> list[Message]:
        if isinstance(after_seq, bool) or not isinstance(after_seq, int) or after_seq < 0:
            raise ValueError(f"after_seq must be an int >= 0, got {after_seq!r}")
        if after_seq > self.head[thread_id]:
            raise LookupError(f"seq {after_seq} was never issued in thread {thread_id!r}")
        return [m for m in self.history[thread_id] if m["seq"] > after_seq]

    # -- the notify API -------------------------------------------------------------------

    async def notify_agent_started(
        self, run_id: str, agent_name: str, context: dict[str, Any] | None = None
    ) -> bool:
        return await self.emit("agent_started", run_id, agent_name, context=context)

    async def notify_agent_thinking(
        self,
        run_id: str,
        agent_name: str,
        reasoning: str,
        step_number: int | None = None,
        progress_percentage: float | None = None,
    ) -> bool:
        return await self.emit(
            "agent_thinking",
            run_id,
            agent_name,
            reasoning=reasoning,
            step_number=step_number,
            progress_percentage=progress_percentage,
        )

    async def notify_tool_executing(
        self, run_id: str, agent_name: str, tool_name: str, parameters: dict[str, Any] | None = None
    ) -> bool:
        return await self.emit(
            "tool_executing", run_id, agent_name, tool_name=tool_name, parameters=parameters
        )

    async def notify_tool_completed(
        self,
        run_id: str,
        agent_name: str,
        tool_name: str,
        result: Any = None,
        execution_time_ms: float | None = None,
    ) -> bool:
        return await self.emit(
            "tool_completed",
            run_id,
            agent_name,
            tool_name=tool_name,
            result=result,
            execution_time_ms=execution_time_ms,
        )

    async def notify_agent_completed(
        self,
        run_id: str,
        agent_name: str,
        result: Any = None,
        execution_time_ms: float | None = None,
    ) -> bool:
        return await self.emit(
            "agent_completed",
            run_id,
            agent_name,
            result=result,
            execution_time_ms=execution_time_ms,
        )

    async def notify_agent_error(
        self,
        run_id: str,
        agent_name: str,
        error: str,
        error_context: dict[str, Any] | None = None,
    ) -> bool:
        return await self.emit(
            "agent_error", run_id, agent_name, error=error, error_context=error_context
        )


async def create_bridge(*, connection_manager: Any, orchestrator: Any) -> SmallBridge:
    """The correct factory: passes every compliance case (the control in the tests)."""
    bridge = SmallBridge(connection_manager=connection_manager, orchestrator=orchestrator)
    await bridge.start()
    return bridge
