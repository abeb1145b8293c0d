"""Wire models: the event envelope, one payload model per event type, and their JSON.

Every message the bridge sends is an :class:`EventMessage`. The envelope fields are the wire
contract (``type``, ``thread_id``, ``run_id``, ``seq``, ``epoch``, ``timestamp``,
``agent_name``, ``payload``); ``payload`` is validated by the model named in
:data:`PAYLOAD_MODELS` for that type. An :class:`EventDraft` is an event before its thread's
log has numbered it; :meth:`EventDraft.stamp` adds ``seq`` and ``epoch``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from enum import Enum
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_serializer,
    field_validator,
)

__all__ = [
    "PAYLOAD_MODELS",
    "TERMINAL_EVENT_TYPES",
    "AgentCompletedPayload",
    "AgentErrorPayload",
    "AgentStartedPayload",
    "AgentThinkingPayload",
    "CustomPayload",
    "EventDraft",
    "EventMessage",
    "EventType",
    "ToolCompletedPayload",
    "ToolExecutingPayload",
    "utc_now",
]


class EventType(str, Enum):
    """The event types an agent emits."""

    AGENT_STARTED = "agent_started"
    AGENT_THINKING = "agent_thinking"
    TOOL_EXECUTING = "tool_executing"
    TOOL_COMPLETED = "tool_completed"
    AGENT_COMPLETED = "agent_completed"
    AGENT_ERROR = "agent_error"
    CUSTOM = "custom"


TERMINAL_EVENT_TYPES = frozenset({EventType.AGENT_COMPLETED, EventType.AGENT_ERROR})


def utc_now() -> datetime:
    """Return the current time, timezone-aware, in UTC."""
    return datetime.now(timezone.utc)


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AgentStartedPayload(_Payload):
    """``agent_started``: the run began; ``context`` is whatever the agent was started with."""

    context: dict[str, Any] | None = None


class AgentThinkingPayload(_Payload):
    """``agent_thinking``: a reasoning step, optionally numbered and with progress."""

    reasoning: str
    step_number: int | None = None
    progress_percentage: float | None = Field(default=None, ge=0, le=100)


class ToolExecutingPayload(_Payload):
    """``tool_executing``: a tool call started."""

    tool_name: str
    parameters: dict[str, Any] | None = None


class ToolCompletedPayload(_Payload):
    """``tool_completed``: a tool call finished."""

    tool_name: str
    result: Any = None
    execution_time_ms: float | None = Field(default=None, ge=0)


class AgentCompletedPayload(_Payload):
    """``agent_completed``: the run finished; nothing of it follows."""

    result: Any = None
    execution_time_ms: float | None = Field(default=None, ge=0)


class AgentErrorPayload(_Payload):
    """``agent_error``: the run failed; nothing of it follows."""

    error: str
    error_context: dict[str, Any] | None = None


class CustomPayload(BaseModel):
    """``custom``: an application-defined event; any JSON object."""

    model_config = ConfigDict(extra="allow", frozen=True)


PAYLOAD_MODELS: dict[EventType, type[BaseModel]] = {
    EventType.AGENT_STARTED: AgentStartedPayload,
    EventType.AGENT_THINKING: AgentThinkingPayload,
    EventType.TOOL_EXECUTING: ToolExecutingPayload,
    EventType.TOOL_COMPLETED: ToolCompletedPayload,
    EventType.AGENT_COMPLETED: AgentCompletedPayload,
    EventType.AGENT_ERROR: AgentErrorPayload,
    EventType.CUSTOM: CustomPayload,
}


class EventDraft(BaseModel):
    """An event resolved to its thread, not yet numbered by the thread's log."""

    model_config = ConfigDict(frozen=True, use_enum_values=True)

    type: EventType
    thread_id: str = Field(min_length=1)
    run_id: str = Field(min_length=1)
    timestamp: datetime = Field(default_factory=utc_now)
    agent_name: str
    payload: dict[str, Any] = Field(default_factory=dict, validate_default=True)

    @field_validator("payload", mode="before")
    @classmethod
    def _payload_fits_type(cls, value: object, info: ValidationInfo) -> object:
        # Every way in (build, the constructor, from_wire) validates the payload against the
        # model of its type and stores its JSON form; an invalid ``type`` fails on its own.
        kind = info.data.get("type")
        if kind is None:
            return value
        model = PAYLOAD_MODELS[EventType(kind)]
        checked = value if isinstance(value, model) else model.model_validate(value)
        return checked.model_dump(mode="json")

    @field_validator("timestamp")
    @classmethod
    def _in_utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("timestamp must be timezone-aware")
        return value.astimezone(timezone.utc)

    @field_serializer("timestamp")
    def _iso(self, value: datetime) -> str:
        return value.isoformat().replace("+00:00", "Z")

    @classmethod
    def build(
        cls,
        event_type: EventType | str,
        *,
        thread_id: str,
        run_id: str,
        agent_name: str,
        payload: BaseModel | dict[str, Any],
        timestamp: datetime | None = None,
    ) -> EventDraft:
        """Validate ``payload`` against its type's model and return the draft."""
        # A payload model instance of the right type is not validated a second time.
        return cls.model_validate(
            {
                "type": EventType(event_type),
                "thread_id": thread_id,
                "run_id": run_id,
                "agent_name": agent_name,
                "payload": payload,
                "timestamp": timestamp or utc_now(),
            }
        )

    def stamp(self, seq: int, epoch: str) -> EventMessage:
        """Return the wire message this draft becomes at ``seq`` in ``epoch``."""
        fields = {**self.__dict__, "seq": seq, "epoch": epoch}
        if type(seq) is int and seq >= 1 and isinstance(epoch, str) and epoch:
            # The draft is validated already; only the two new fields needed checking.
            return EventMessage.model_construct(**fields)
        return EventMessage.model_validate(fields)  # raises the ValidationError


class EventMessage(EventDraft):
    """An event as sent on the wire: the draft plus its place in the thread's log."""

    seq: int = Field(ge=1)
    epoch: str = Field(min_length=1)

    def to_wire(self) -> str:
        """Return the compact JSON text sent to clients."""
        return self.model_dump_json()

    def to_dict(self) -> dict[str, Any]:
        """Return the wire message as a JSON-compatible dict."""
        return self.model_dump(mode="json")

    @classmethod
    def from_wire(cls, data: str | bytes | dict[str, Any]) -> EventMessage:
        """Parse a wire message (JSON text or decoded dict) and validate it."""
        if isinstance(data, dict):
            return cls.model_validate(data)
        return cls.model_validate_json(data)
