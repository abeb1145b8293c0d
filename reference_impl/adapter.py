"""The agent side: emit events without repeating the run id, and never into the void.

An agent is handed a bridge and its run id once, with ``set_websocket_bridge``; afterwards
its ``emit_*`` calls need neither. Emitting before that raises :class:`BridgeNotSetError`: the
"graceful" silent no-op of older adapters is one more way to lose events.
"""

from __future__ import annotations

from typing import Any, Protocol

from .exceptions import BridgeNotSetError

__all__ = ["AgentBase", "BridgeNotSetError", "NotifyingBridge", "WebSocketBridgeAdapter"]


class NotifyingBridge(Protocol):
    """The notify half of the bridge contract, as an agent sees it."""

    async def notify_agent_started(
        self, run_id: str, agent_name: str, context: dict[str, Any] | None = None
    ) -> Any: ...

    async def notify_agent_thinking(
        self,
        run_id: str,
        agent_name: str,
        reasoning: str,
        step_number: int | None = None,
        progress_percentage: float | None = None,
    ) -> Any: ...

    async def notify_tool_executing(
        self, run_id: str, agent_name: str, tool_name: str, parameters: dict[str, Any] | None = None
    ) -> Any: ...

    async def notify_tool_completed(
        self,
        run_id: str,
        agent_name: str,
        tool_name: str,
        result: Any = None,
        execution_time_ms: float | None = None,
    ) -> Any: ...

    async def notify_agent_completed(
        self,
        run_id: str,
        agent_name: str,
        result: Any = None,
        execution_time_ms: float | None = None,
    ) -> Any: ...

    async def notify_agent_error(
        self,
        run_id: str,
        agent_name: str,
        error: str,
        error_context: dict[str, Any] | None = None,
    ) -> Any: ...


class WebSocketBridgeAdapter:
    """Holds one run's bridge and run id and forwards ``emit_*`` calls to the bridge."""

    def __init__(self, agent_name: str) -> None:
        if not isinstance(agent_name, str) or not agent_name:
            raise ValueError("agent_name must be a non-empty str")
        self.agent_name = agent_name
        self._bridge: NotifyingBridge | None = None
        self._run_id: str | None = None

    def set_websocket_bridge(self, bridge: NotifyingBridge, run_id: str) -> None:
        """Attach the bridge and the run every later ``emit_*`` belongs to."""
        if bridge is None:
            raise ValueError("bridge is None: pass the bridge the events must go through")
        if not isinstance(run_id, str) or not run_id:
            raise ValueError(f"run_id must be a non-empty str, got {run_id!r}")
        self._bridge = bridge
        self._run_id = run_id

    @property
    def run_id(self) -> str | None:
        """The run id set with :meth:`set_websocket_bridge`, if any."""
        return self._run_id

    @property
    def has_bridge(self) -> bool:
        """Whether :meth:`set_websocket_bridge` was called."""
        return self._bridge is not None

    def _target(self) -> tuple[NotifyingBridge, str]:
        if self._bridge is None or self._run_id is None:
            raise BridgeNotSetError(
                f"agent {self.agent_name!r} emitted an event before set_websocket_bridge(); "
                "the event would be lost"
            )
        return self._bridge, self._run_id

    async def emit_agent_started(self, context: dict[str, Any] | None = None) -> Any:
        """Emit ``agent_started`` for this run."""
        bridge, run_id = self._target()
        return await bridge.notify_agent_started(run_id, self.agent_name, context)

    async def emit_thinking(
        self,
        reasoning: str,
        step_number: int | None = None,
        progress_percentage: float | None = None,
    ) -> Any:
        """Emit ``agent_thinking`` for this run."""
        bridge, run_id = self._target()
        return await bridge.notify_agent_thinking(
            run_id, self.agent_name, reasoning, step_number, progress_percentage
        )

    async def emit_tool_executing(
        self, tool_name: str, parameters: dict[str, Any] | None = None
    ) -> Any:
        """Emit ``tool_executing`` for this run."""
        bridge, run_id = self._target()
        return await bridge.notify_tool_executing(run_id, self.agent_name, tool_name, parameters)

    async def emit_tool_completed(
        self, tool_name: str, result: Any = None, execution_time_ms: float | None = None
    ) -> Any:
        """Emit ``tool_completed`` for this run."""
        bridge, run_id = self._target()
        return await bridge.notify_tool_completed(
            run_id, self.agent_name, tool_name, result, execution_time_ms
        )

    async def emit_agent_completed(
        self, result: Any = None, execution_time_ms: float | None = None
    ) -> Any:
        """Emit ``agent_completed`` for this run."""
        bridge, run_id = self._target()
        return await bridge.notify_agent_completed(
            run_id, self.agent_name, result, execution_time_ms
        )

    async def emit_error(self, error: str, error_context: dict[str, Any] | None = None) -> Any:
        """Emit ``agent_error`` for this run."""
        bridge, run_id = self._target()
        return await bridge.notify_agent_error(run_id, self.agent_name, error, error_context)


class AgentBase:
    """A base class for agents: ``self.events`` is the adapter, named after ``name``.

    Subclasses set ``name`` and implement :meth:`execute`; :meth:`run` emits
    ``agent_started``, then ``agent_completed`` with the result or ``agent_error`` with the
    exception (which it re-raises).
    """

    name: str = "agent"

    def __init__(self) -> None:
        self.events = WebSocketBridgeAdapter(self.name)

    def set_websocket_bridge(self, bridge: NotifyingBridge, run_id: str) -> None:
        """Attach the bridge and run id (see :class:`WebSocketBridgeAdapter`)."""
        self.events.set_websocket_bridge(bridge, run_id)

    async def execute(self, request: Any) -> Any:
        """Do the agent's work, emitting thinking and tool events through ``self.events``."""
        raise NotImplementedError

    async def run(self, request: Any) -> Any:
        """Run :meth:`execute` between the lifecycle's first and last events."""
        await self.events.emit_agent_started({"request": request})
        try:
            result = await self.execute(request)
        except Exception as exc:
            await self.events.emit_error(str(exc), {"exception": type(exc).__name__})
            raise
        await self.events.emit_agent_completed(result)
        return result
