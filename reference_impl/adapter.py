"""The agent side: emit events without repeating the run id, and never into the void.

An agent is handed a bridge and its run id once, with ``set_websocket_bridge``; afterwards
its ``emit_*`` calls need neither. There is one ``emit_*`` method per row of
:data:`~reference_impl.events.EVENTS` (:func:`install_emit_methods`). Emitting before that
raises :class:`BridgeNotSetError`: the "graceful" silent no-op of older adapters is one more
way to lose events.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeAlias

from .events import EVENTS, EventSpec, EventTable, NotifyContract
from .exceptions import BridgeNotSetError

__all__ = [
    "AgentBase",
    "BridgeNotSetError",
    "NotifyingBridge",
    "WebSocketBridgeAdapter",
    "install_emit_methods",
]


NotifyingBridge: TypeAlias = NotifyContract[Any]
"""The notify half of the bridge contract, as an agent sees it: any bridge with the contract's
six ``notify_*`` methods. At run time the adapter looks each method up when it emits, so
``emit_custom`` (and any row added to the table) needs the bridge to have that method too."""


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

    async def _forward(self, spec: EventSpec, *args: Any) -> Any:
        bridge, run_id = self._target()
        notify = getattr(bridge, spec.notify, None)
        if notify is None:
            raise BridgeNotSetError(
                f"agent {self.agent_name!r} emitted {spec.type}, but the bridge "
                f"{type(bridge).__name__} has no {spec.notify}(); the event would be lost"
            )
        return await notify(run_id, self.agent_name, *args)

    if TYPE_CHECKING:

        async def emit_agent_started(self, context: dict[str, Any] | None = None) -> Any: ...

        async def emit_thinking(
            self,
            reasoning: str,
            step_number: int | None = None,
            progress_percentage: float | None = None,
        ) -> Any: ...

        async def emit_tool_executing(
            self, tool_name: str, parameters: dict[str, Any] | None = None
        ) -> Any: ...

        async def emit_tool_completed(
            self, tool_name: str, result: Any = None, execution_time_ms: float | None = None
        ) -> Any: ...

        async def emit_agent_completed(
            self, result: Any = None, execution_time_ms: float | None = None
        ) -> Any: ...

        async def emit_error(
            self, error: str, error_context: dict[str, Any] | None = None
        ) -> Any: ...

        async def emit_custom(self, payload: dict[str, Any]) -> Any: ...


def install_emit_methods(cls: type[WebSocketBridgeAdapter], table: EventTable = EVENTS) -> None:
    """Give ``cls`` an ``emit_*`` method for each row of ``table`` that it lacks.

    Each takes the row's notify parameters without ``run_id`` and ``agent_name`` and forwards
    them, positionally and in order, to the bridge's ``notify_<type>`` for the adapter's run.
    """
    for spec in table:
        if spec.emit_method not in cls.__dict__:
            setattr(cls, spec.emit_method, _emit_method(cls, spec))


def _emit_method(cls: type[WebSocketBridgeAdapter], spec: EventSpec) -> Callable[..., Any]:
    parameters = spec.parameters()
    signature = inspect.Signature(
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD), *parameters]
    )

    async def emit(self: WebSocketBridgeAdapter, *args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        values = [bound.arguments[p.name] for p in parameters]
        return await self._forward(spec, *values)

    emit.__name__ = spec.emit_method
    emit.__qualname__ = f"{cls.__qualname__}.{spec.emit_method}"
    emit.__doc__ = f"Emit ``{spec.type}`` for this run (its bridge's ``{spec.notify}``)."
    emit.__signature__ = signature  # type: ignore[attr-defined]
    return emit


install_emit_methods(WebSocketBridgeAdapter)


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
