"""Wire models: the envelope, payload validation per type, JSON round trip, UTC timestamps."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from reference_impl.events import (
    EVENTS,
    PAYLOAD_MODELS,
    TERMINAL_EVENT_TYPES,
    AgentStartedPayload,
    EventDraft,
    EventMessage,
    EventType,
    ToolExecutingPayload,
    utc_now,
)

ENVELOPE = {"type", "thread_id", "run_id", "seq", "epoch", "timestamp", "agent_name", "payload"}

VALID_PAYLOADS: dict[str, dict[str, Any]] = {
    "agent_started": {"context": {"user": "u1"}},
    "agent_thinking": {"reasoning": "hmm", "step_number": 2, "progress_percentage": 50},
    "tool_executing": {"tool_name": "search", "parameters": {"q": "x"}},
    "tool_completed": {"tool_name": "search", "result": [1, 2], "execution_time_ms": 3.5},
    "agent_completed": {"result": {"answer": 42}, "execution_time_ms": 10},
    "agent_error": {"error": "boom", "error_context": {"where": "tool"}},
    "custom": {"anything": ["goes"], "nested": {"a": 1}},
}

INVALID_PAYLOADS: list[tuple[str, dict[str, Any]]] = [
    ("agent_started", {"unknown": 1}),
    ("agent_thinking", {}),
    ("agent_thinking", {"reasoning": "x", "progress_percentage": 101}),
    ("agent_thinking", {"reasoning": "x", "progress_percentage": -1}),
    ("agent_thinking", {"reasoning": "x", "step_number": "two"}),
    ("tool_executing", {}),
    ("tool_executing", {"tool_name": "x", "parameters": "not a dict"}),
    ("tool_completed", {"result": 1}),
    ("tool_completed", {"tool_name": "x", "execution_time_ms": -1}),
    ("agent_completed", {"execution_time_ms": -0.5}),
    ("agent_error", {}),
    ("agent_error", {"error": "x", "error_context": [1]}),
]


def draft(kind: str = "agent_thinking", **overrides: Any) -> EventDraft:
    fields: dict[str, Any] = {
        "thread_id": "t_1",
        "run_id": "run-1",
        "agent_name": "planner",
        "payload": VALID_PAYLOADS[kind],
    }
    fields.update(overrides)
    return EventDraft.build(kind, **fields)


def test_every_type_has_a_payload_model() -> None:
    assert set(PAYLOAD_MODELS) == set(EVENTS.types)
    assert set(PAYLOAD_MODELS) >= set(EventType)
    assert {"agent_completed", "agent_error"} == TERMINAL_EVENT_TYPES


@pytest.mark.parametrize("kind", list(VALID_PAYLOADS))
def test_valid_payload_is_kept(kind: str) -> None:
    built = draft(kind)
    assert built.type == kind
    for key, value in VALID_PAYLOADS[kind].items():
        assert built.payload[key] == value


@pytest.mark.parametrize(("kind", "payload"), INVALID_PAYLOADS)
def test_invalid_payload_is_refused_by_build(kind: str, payload: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        EventDraft.build(kind, thread_id="t", run_id="r", agent_name="a", payload=payload)


@pytest.mark.parametrize(("kind", "payload"), INVALID_PAYLOADS)
def test_invalid_payload_is_refused_by_constructor_and_wire(
    kind: str, payload: dict[str, Any]
) -> None:
    fields = {"type": kind, "thread_id": "t", "run_id": "r", "agent_name": "a"}
    with pytest.raises(ValidationError):
        EventDraft(**fields, payload=payload)
    wire = {**fields, "payload": payload, "seq": 1, "epoch": "e", "timestamp": "2024-01-01T00:00Z"}
    with pytest.raises(ValidationError):
        EventMessage.from_wire(wire)
    with pytest.raises(ValidationError):
        EventMessage.from_wire(json.dumps(wire))


def test_missing_payload_is_validated_too() -> None:
    with pytest.raises(ValidationError, match="reasoning"):
        EventDraft(type="agent_thinking", thread_id="t", run_id="r", agent_name="a")
    started = EventDraft(type="agent_started", thread_id="t", run_id="r", agent_name="a")
    assert started.payload == {"context": None}


def test_payload_model_instances_are_accepted() -> None:
    built = EventDraft.build(
        EventType.TOOL_EXECUTING,
        thread_id="t",
        run_id="r",
        agent_name="a",
        payload=ToolExecutingPayload(tool_name="x"),
    )
    assert built.payload == {"tool_name": "x", "parameters": None}


def test_payload_model_of_another_type_is_refused() -> None:
    with pytest.raises(ValidationError):
        EventDraft.build(
            "agent_started",
            thread_id="t",
            run_id="r",
            agent_name="a",
            payload=ToolExecutingPayload(tool_name="x"),
        )


def test_unknown_type_is_refused() -> None:
    with pytest.raises(ValueError, match="agent_dancing"):
        EventDraft.build("agent_dancing", thread_id="t", run_id="r", agent_name="a", payload={})
    with pytest.raises(ValidationError):
        EventDraft(type="agent_dancing", thread_id="t", run_id="r", agent_name="a", payload={})


@pytest.mark.parametrize("field", ["thread_id", "run_id"])
def test_empty_ids_are_refused(field: str) -> None:
    with pytest.raises(ValidationError):
        draft(**{field: ""})


def test_payload_is_stored_as_json_values() -> None:
    built = draft("custom", payload={"when": datetime(2024, 1, 1, tzinfo=timezone.utc)})
    assert built.payload == {"when": "2024-01-01T00:00:00Z"}


def test_non_json_payload_is_refused() -> None:
    with pytest.raises(ValueError, match="serializ"):
        draft("agent_started", payload={"context": {"obj": object()}})


def test_stamp_adds_seq_and_epoch_and_keeps_the_rest() -> None:
    built = draft("tool_executing")
    message = built.stamp(7, "epoch-1")
    assert isinstance(message, EventMessage)
    assert (message.seq, message.epoch) == (7, "epoch-1")
    for name in ("type", "thread_id", "run_id", "timestamp", "agent_name", "payload"):
        assert getattr(message, name) == getattr(built, name)


@pytest.mark.parametrize(("seq", "epoch"), [(0, "e"), (-1, "e"), (1, "")])
def test_stamp_refuses_bad_positions(seq: int, epoch: str) -> None:
    with pytest.raises(ValidationError):
        draft().stamp(seq, epoch)


def test_wire_message_has_the_envelope() -> None:
    wire = json.loads(draft().stamp(1, "e").to_wire())
    assert set(wire) == ENVELOPE
    assert wire["type"] == "agent_thinking"
    assert wire["seq"] == 1
    assert wire["payload"]["reasoning"] == "hmm"


@pytest.mark.parametrize("kind", list(VALID_PAYLOADS))
def test_wire_round_trip(kind: str) -> None:
    message = draft(kind, thread_id="ünï_thread").stamp(3, "e")
    text = message.to_wire()
    assert EventMessage.from_wire(text) == message
    assert EventMessage.from_wire(text.encode()) == message
    assert EventMessage.from_wire(message.to_dict()) == message
    assert json.loads(text) == message.to_dict()


def test_wire_is_compact_and_keeps_non_ascii() -> None:
    text = draft(thread_id="スレッド").stamp(1, "e").to_wire()
    assert "スレッド" in text
    assert ": " not in text
    assert ", " not in text


def test_timestamp_is_iso8601_utc() -> None:
    before = utc_now()
    wire = draft().stamp(1, "e").to_dict()
    stamp = wire["timestamp"]
    assert stamp.endswith("Z")
    parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    assert parsed.utcoffset() == timedelta(0)
    assert before <= parsed <= utc_now()


def test_other_timezones_are_converted_to_utc() -> None:
    paris = timezone(timedelta(hours=1))
    built = draft(timestamp=datetime(2024, 1, 1, 13, 0, tzinfo=paris))
    assert built.stamp(1, "e").to_dict()["timestamp"] == "2024-01-01T12:00:00Z"


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValidationError, match="timezone-aware"):
        draft(timestamp=datetime(2024, 1, 1))


def test_messages_are_frozen() -> None:
    message = draft().stamp(1, "e")
    with pytest.raises(ValidationError):
        message.seq = 2


def test_utc_now_is_aware() -> None:
    assert utc_now().tzinfo is timezone.utc


def test_payload_models_forbid_extras_except_custom() -> None:
    for kind, model in PAYLOAD_MODELS.items():
        assert issubclass(model, BaseModel)
        extra = model.model_config.get("extra")
        assert extra == ("allow" if kind == EventType.CUSTOM else "forbid")
    assert AgentStartedPayload().context is None
