"""The event-type table, the wire models it names, and their JSON.

**The table.** :data:`EVENTS` is the one place an event type is defined: one
:class:`EventSpec` row gives its ``type`` name, its payload model, its :class:`EventRole` in a
run, and from those the bridge's ``notify_<type>`` method (name and signature: ``run_id``,
``agent_name``, then the payload model's fields in order), the adapter's ``emit_*`` method,
the lifecycle transitions (:mod:`reference_impl.lifecycle`), the plugin's recorded methods
and the compliance harness's calls. Adding an event type is one edit here: a payload model
and its row (``CONTRIBUTING.md`` walks through one). The wire encodings per dialect live in
:mod:`reference_impl.dialects`.

**The wire.** Every message the bridge sends is an :class:`EventMessage`. The envelope fields
are the wire contract (``type``, ``thread_id``, ``run_id``, ``seq``, ``epoch``, ``timestamp``,
``agent_name``, ``payload``); ``payload`` is validated by its row's model. An
:class:`EventDraft` is an event before its thread's log has numbered it;
:meth:`EventDraft.stamp` adds ``seq`` and ``epoch``.
"""

from __future__ import annotations

import inspect
import keyword
import string
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_serializer,
    field_validator,
)

__all__ = [
    "CALL_KEY",
    "EVENTS",
    "NOTIFY_PREFIX",
    "PAYLOAD_MODELS",
    "TERMINAL_EVENT_TYPES",
    "AgentCompletedPayload",
    "AgentErrorPayload",
    "AgentStartedPayload",
    "AgentThinkingPayload",
    "CustomPayload",
    "EventDraft",
    "EventMessage",
    "EventRole",
    "EventSpec",
    "EventTable",
    "EventType",
    "Message",
    "NotifyContract",
    "NotifyMethods",
    "ToolCompletedPayload",
    "ToolExecutingPayload",
    "event_type_of",
    "summary_fields",
    "summary_parts",
    "utc_now",
]

R_co = TypeVar("R_co", covariant=True)
_FROM_TABLE = "made from the event table at run time"
PayloadModel: TypeAlias = "type[BaseModel]"

Message: TypeAlias = dict[str, Any]
"""A wire message as a JSON-compatible dict (what :meth:`EventMessage.to_dict` returns and what
a connection manager's ``send_to_thread`` takes): the one definition every module imports."""

NOTIFY_PREFIX = "notify_"
"""A bridge emits event type ``T`` through its method ``notify_T`` (the notify contract)."""

CALL_KEY = "tool_name"
"""The payload field that pairs a :attr:`EventRole.CALL_END` event with its
:attr:`EventRole.CALL_START`: each end closes the oldest open start with the same value."""


class EventType(str, Enum):
    """The built-in event types, as names for typed code; :data:`EVENTS` is what counts."""

    AGENT_STARTED = "agent_started"
    AGENT_THINKING = "agent_thinking"
    TOOL_EXECUTING = "tool_executing"
    TOOL_COMPLETED = "tool_completed"
    AGENT_COMPLETED = "agent_completed"
    AGENT_ERROR = "agent_error"
    CUSTOM = "custom"


class EventRole(str, Enum):
    """Where an event type may come in a run; :mod:`reference_impl.lifecycle` is built on it.

    A run is ``NEW`` until its ``START`` event, ``RUNNING`` until its ``END`` event and then
    ``FINISHED``: nothing of it follows.
    """

    START = "start"
    """Opens the run (``NEW -> RUNNING``); once only."""
    STEP = "step"
    """Any number of times while the run is running."""
    CALL_START = "call_start"
    """A step that opens a call, keyed by the payload's :data:`CALL_KEY`."""
    CALL_END = "call_end"
    """A step that closes the oldest open call with the same :data:`CALL_KEY`."""
    END = "end"
    """Closes the run (``RUNNING -> FINISHED``): a terminal event."""
    FREE = "free"
    """Allowed before the start and while running (application-defined events)."""


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
    """``agent_error``: the run failed; nothing of it follows.

    An exception passed as ``error`` is stored as its text.
    """

    error: str
    error_context: dict[str, Any] | None = None

    @field_validator("error", mode="before")
    @classmethod
    def _exception_text(cls, value: object) -> object:
        return str(value) if isinstance(value, BaseException) else value


class CustomPayload(BaseModel):
    """``custom``: an application-defined event; any JSON object."""

    model_config = ConfigDict(extra="allow", frozen=True)


def summary_parts(template: str) -> list[tuple[str, bool]]:
    """``template`` of an :attr:`EventSpec.summary` cut into ``(text, optional)`` parts: the
    ``[...]`` parts are optional. Raises :class:`ValueError` on an unbalanced bracket."""
    parts: list[tuple[str, bool]] = []
    rest = template
    while rest:
        start = rest.find("[")
        if start < 0:
            parts.append((rest, False))
            break
        end = rest.find("]", start)
        if end < 0 or "[" in rest[start + 1 : end]:
            raise ValueError(f"unbalanced [ in summary {template!r}")
        parts += [(rest[:start], False), (rest[start + 1 : end], True)]
        rest = rest[end + 1 :]
    if any("]" in text for text, optional in parts if not optional):
        raise ValueError(f"unbalanced ] in summary {template!r}")
    return [(text, optional) for text, optional in parts if text]


def summary_fields(template: str) -> list[str]:
    """The field names an :attr:`EventSpec.summary` template reads, in order."""
    return [
        name
        for text, _ in summary_parts(template)
        for _, name, _, _ in string.Formatter().parse(text)
        if name is not None
    ]


@dataclass(frozen=True)
class EventSpec:
    """One row of the event-type table: everything that is particular to one event type.

    ``payload_arg`` names the one parameter that carries the whole payload (``custom``'s
    ``payload`` dict); without it, each field of the payload model is a parameter of its own.
    ``emit`` is the adapter's method name when it is not ``emit_<type>``.

    ``summary`` is how one event of this type reads on one line (``wsbridge tail`` on a
    terminal, :mod:`reference_impl.display`): a :meth:`str.format` template over the payload's
    fields and ``agent_name``. A part in ``[...]`` is shown only when every field it names has
    a value (not missing, ``None`` or empty), and ``{field:spec}`` only when the value is a
    number. Without a summary the payload is shown as JSON.
    """

    type: str
    payload: PayloadModel
    role: EventRole
    emit: str = ""
    payload_arg: str = ""
    summary: str = ""

    def __post_init__(self) -> None:
        for name in (self.type, self.notify, self.emit_method, *self.parameter_names):
            if not name.isidentifier() or keyword.iskeyword(name):
                raise ValueError(f"event type {self.type!r}: {name!r} is not a Python name")
        if {"run_id", "agent_name"} & set(self.parameter_names):
            raise ValueError(f"event type {self.type!r}: run_id and agent_name are reserved")
        if self.summary and not self.payload_arg:
            known = {"agent_name", *self.parameter_names}
            unknown = set(summary_fields(self.summary)) - known
            if unknown:
                raise ValueError(
                    f"event type {self.type!r}: its summary names {sorted(unknown)}, "
                    f"not fields of {self.payload.__name__}"
                )

    @property
    def notify(self) -> str:
        """The bridge method that emits it: ``notify_<type>``."""
        return NOTIFY_PREFIX + self.type

    @property
    def emit_method(self) -> str:
        """The adapter method that emits it for the adapter's run."""
        return self.emit or f"emit_{self.type}"

    @property
    def terminal(self) -> bool:
        """Nothing of the run follows an event of this type."""
        return self.role is EventRole.END

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """The notify parameters after ``run_id`` and ``agent_name``, in order."""
        return (self.payload_arg,) if self.payload_arg else tuple(self.payload.model_fields)

    def parameters(self) -> list[inspect.Parameter]:
        """The notify parameters after ``run_id`` and ``agent_name``, as in its signature."""
        kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
        if self.payload_arg:
            return [inspect.Parameter(self.payload_arg, kind, annotation="dict[str, Any]")]
        out = []
        for name, info in self.payload.model_fields.items():
            default = inspect.Parameter.empty if info.is_required() else info.default
            out.append(inspect.Parameter(name, kind, default=default, annotation=info.annotation))
        return out

    def payload_from(self, arguments: Mapping[str, Any]) -> object:
        """The payload of a notify call with these arguments: a model instance, or the
        ``payload_arg`` value as given (the caller checks it is a dict). Raises
        :class:`pydantic.ValidationError` when the fields do not fit the model."""
        if self.payload_arg:
            return arguments[self.payload_arg]
        return self.payload(**{name: arguments[name] for name in self.parameter_names})


class EventTable:
    """The event types, in order: look rows up by type or notify-method name."""

    def __init__(self, specs: Iterable[EventSpec]) -> None:
        self._specs = tuple(specs)
        self._by_type = {spec.type: spec for spec in self._specs}
        self._by_notify = {spec.notify: spec for spec in self._specs}
        emits = {spec.emit_method for spec in self._specs}
        if len({len(self._specs), len(self._by_type), len(emits)}) != 1:
            raise ValueError("event types and their emit methods must be unique")

    def __iter__(self) -> Iterator[EventSpec]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def __contains__(self, event_type: object) -> bool:
        return event_type in self._by_type

    def __getitem__(self, event_type: str) -> EventSpec:
        """The row of ``event_type``; :class:`KeyError` naming the known types otherwise."""
        try:
            return self._by_type[event_type]
        except KeyError:
            known = ", ".join(self._by_type)
            raise KeyError(f"unknown event type {event_type!r}; known: {known}") from None

    def get(self, event_type: object) -> EventSpec | None:
        """The row of ``event_type``, or ``None``."""
        return self._by_type.get(event_type) if isinstance(event_type, str) else None

    def for_notify(self, method: str) -> EventSpec | None:
        """The row whose notify method is ``method``, or ``None``."""
        return self._by_notify.get(method)

    @property
    def types(self) -> tuple[str, ...]:
        """Every event type, in table order."""
        return tuple(self._by_type)

    def with_role(self, *roles: EventRole) -> tuple[str, ...]:
        """The event types that have one of ``roles``, in table order."""
        return tuple(spec.type for spec in self._specs if spec.role in roles)


EVENTS = EventTable(
    [
        EventSpec(
            "agent_started",
            AgentStartedPayload,
            EventRole.START,
            summary="{agent_name} started[ {context}]",
        ),
        EventSpec(
            "agent_thinking",
            AgentThinkingPayload,
            EventRole.STEP,
            emit="emit_thinking",
            summary="[step {step_number}: ]{reasoning}[ ({progress_percentage:g}%)]",
        ),
        EventSpec(
            "tool_executing",
            ToolExecutingPayload,
            EventRole.CALL_START,
            summary="{tool_name}([{parameters}])",
        ),
        EventSpec(
            "tool_completed",
            ToolCompletedPayload,
            EventRole.CALL_END,
            summary="{tool_name} -> {result}[ in {execution_time_ms:g} ms]",
        ),
        EventSpec(
            "agent_completed",
            AgentCompletedPayload,
            EventRole.END,
            summary="completed[: {result}]",
        ),
        EventSpec(
            "agent_error",
            AgentErrorPayload,
            EventRole.END,
            emit="emit_error",
            summary="error: {error}",
        ),
        EventSpec("custom", CustomPayload, EventRole.FREE, payload_arg="payload"),
    ]
)
"""The event-type table: one row per event type."""

PAYLOAD_MODELS: Mapping[str, type[BaseModel]] = {spec.type: spec.payload for spec in EVENTS}
"""Event type -> its payload model (from :data:`EVENTS`)."""

TERMINAL_EVENT_TYPES = frozenset(EVENTS.with_role(EventRole.END))
"""The event types that end a run (from :data:`EVENTS`)."""


def event_type_of(method: str) -> str | None:
    """``notify_agent_thinking -> agent_thinking``: the type a notify method name emits.

    Any ``notify_*`` name counts, in the table or not (a bridge may emit more types than this
    table knows); ``None`` for any other name.
    """
    return method[len(NOTIFY_PREFIX) :] if method.startswith(NOTIFY_PREFIX) else None


class NotifyContract(Protocol[R_co]):
    """The six notify methods of the bridge contract, as static type checkers see them.

    Any bridge with these methods is a ``NotifyContract[Any]``: what an agent's adapter
    accepts. At run time the reference bridge's methods are made from :data:`EVENTS` (see
    :func:`reference_impl.bridge.install_notify_methods`); ``R_co`` is what they return. A test
    checks that these declarations and the table agree. Their bodies raise rather than being
    ``...``, so that mypy does not take them for abstract methods a subclass lacks.
    """

    if TYPE_CHECKING:

        async def notify_agent_started(
            self, run_id: str, agent_name: str, context: dict[str, Any] | None = None
        ) -> R_co:
            raise AssertionError(_FROM_TABLE)

        async def notify_agent_thinking(
            self,
            run_id: str,
            agent_name: str,
            reasoning: str,
            step_number: int | None = None,
            progress_percentage: float | None = None,
        ) -> R_co:
            raise AssertionError(_FROM_TABLE)

        async def notify_tool_executing(
            self,
            run_id: str,
            agent_name: str,
            tool_name: str,
            parameters: dict[str, Any] | None = None,
        ) -> R_co:
            raise AssertionError(_FROM_TABLE)

        async def notify_tool_completed(
            self,
            run_id: str,
            agent_name: str,
            tool_name: str,
            result: Any = None,
            execution_time_ms: float | None = None,
        ) -> R_co:
            raise AssertionError(_FROM_TABLE)

        async def notify_agent_completed(
            self,
            run_id: str,
            agent_name: str,
            result: Any = None,
            execution_time_ms: float | None = None,
        ) -> R_co:
            raise AssertionError(_FROM_TABLE)

        async def notify_agent_error(
            self,
            run_id: str,
            agent_name: str,
            error: str,
            error_context: dict[str, Any] | None = None,
        ) -> R_co:
            raise AssertionError(_FROM_TABLE)


class NotifyMethods(NotifyContract[R_co], Protocol[R_co]):
    """Every built-in row's notify method (the contract's six and ``notify_custom``), as static
    type checkers see them; :class:`~reference_impl.bridge.AgentWebSocketBridge` subclasses it.
    A row added later may add its declaration here, for typed callers."""

    if TYPE_CHECKING:

        async def notify_custom(
            self, run_id: str, agent_name: str, payload: dict[str, Any]
        ) -> R_co:
            raise AssertionError(_FROM_TABLE)


class EventDraft(BaseModel):
    """An event resolved to its thread, not yet numbered by the thread's log."""

    model_config = ConfigDict(frozen=True)

    type: str = Field(json_schema_extra={"enum": list(EVENTS.types)})
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
        model = EVENTS[kind].payload
        checked = value if isinstance(value, model) else model.model_validate(value)
        return checked.model_dump(mode="json")

    @field_validator("type", mode="before")
    @classmethod
    def _known_type(cls, value: object) -> object:
        if isinstance(value, EventType):
            return value.value
        if isinstance(value, str) and value not in EVENTS:
            raise ValueError(f"unknown event type {value!r}; known: {', '.join(EVENTS.types)}")
        return value

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
        event_type: str,
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
                "type": event_type,
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
