"""The chat app's own bridge from agent runs to the browser's WebSocket connections.

It keeps every event of a thread in memory (numbered from 1) before sending it, so a browser
that reconnects with ``last_seq`` gets what it missed (``replay``). ``CHATAPP_BUG`` switches on
one of the bugs the plugin exists to catch, to show what a failure looks like:
``fallback`` (``register_run`` is left to "the orchestrator" and a run whose thread is not
known goes to a "thread" named after the run id: the audit's bug) or ``drop``
(events sent while nobody is connected are not kept).
"""

from __future__ import annotations

import asyncio
import os
from datetime import datetime, timezone
from typing import Any

from reference_impl import thread_id_from_run_id

__all__ = ["ChatBridge", "create_bridge"]


class ChatBridge:
    """Resolve the run's thread, store the event, then send it."""

    def __init__(self, connection_manager: Any, orchestrator: Any, bug: str = "") -> None:
        self.connection_manager = connection_manager
        self.orchestrator = orchestrator
        self.bug = bug
        self.runs: dict[str, str] = {}
        self.log: dict[str, list[dict[str, Any]]] = {}

    async def register_run(self, run_id: str, thread_id: str) -> None:
        if self.bug != "fallback":
            self.runs[run_id] = thread_id

    def thread_of(self, run_id: str) -> str:
        thread_id = self.runs.get(run_id) or thread_id_from_run_id(run_id)
        if thread_id is None:
            if self.bug == "fallback":
                return run_id
            raise LookupError(f"run {run_id!r} has no thread: call register_run first")
        return thread_id

    async def _emit(self, kind: str, run_id: str, agent_name: str, **payload: Any) -> bool:
        thread_id = self.thread_of(run_id)
        events = self.log.setdefault(thread_id, [])
        message = {
            "type": kind,
            "thread_id": thread_id,
            "run_id": run_id,
            "seq": len(events) + 1,
            "epoch": "chatapp",
            "timestamp": datetime.now(timezone.utc).isoformat(),
            "agent_name": agent_name,
            "payload": payload,
        }
        events.append(message)
        try:
            delivered = bool(await self.connection_manager.send_to_thread(thread_id, message))
        except ConnectionError:
            delivered = False  # kept in the log: a reconnecting browser gets it
        if not delivered and self.bug == "drop":
            events.remove(message)
        return delivered

    async def notify_agent_started(self, run_id: str, agent_name: str, context: Any = None) -> bool:
        return await self._emit("agent_started", run_id, agent_name, context=context)

    async def notify_agent_thinking(
        self,
        run_id: str,
        agent_name: str,
        reasoning: str,
        step_number: Any = None,
        progress_percentage: Any = None,
    ) -> bool:
        return await self._emit("agent_thinking", run_id, agent_name, reasoning=reasoning)

    async def notify_tool_executing(
        self, run_id: str, agent_name: str, tool_name: str, parameters: Any = None
    ) -> bool:
        return await self._emit("tool_executing", run_id, agent_name, tool_name=tool_name)

    async def notify_tool_completed(
        self,
        run_id: str,
        agent_name: str,
        tool_name: str,
        result: Any = None,
        execution_time_ms: Any = None,
    ) -> bool:
        return await self._emit("tool_completed", run_id, agent_name, tool_name=tool_name)

    async def notify_agent_completed(
        self, run_id: str, agent_name: str, result: Any = None, execution_time_ms: Any = None
    ) -> bool:
        return await self._emit("agent_completed", run_id, agent_name, result=result)

    async def notify_agent_error(
        self, run_id: str, agent_name: str, error: str, error_context: Any = None
    ) -> bool:
        return await self._emit("agent_error", run_id, agent_name, error=error)

    async def replay(self, thread_id: str, after_seq: int) -> list[dict[str, Any]]:
        return [m for m in self.log.get(thread_id, []) if m["seq"] > after_seq]


async def create_bridge(
    *, connection_manager: Any, orchestrator: Any, init_timeout: float = 5.0
) -> ChatBridge:
    """The factory pytest-wsbridge calls: refuses a missing, failing or silent orchestrator."""
    if orchestrator is None:
        raise RuntimeError("chatapp needs an orchestrator")
    try:
        healthy = await asyncio.wait_for(orchestrator.health_check(), init_timeout)
    except asyncio.TimeoutError:
        raise RuntimeError(f"orchestrator did not answer within {init_timeout}s") from None
    except Exception as exc:
        raise RuntimeError(f"orchestrator is unhealthy: {exc}") from exc
    if healthy is False:
        raise RuntimeError("orchestrator is unhealthy")
    return ChatBridge(connection_manager, orchestrator, bug=os.environ.get("CHATAPP_BUG", ""))
