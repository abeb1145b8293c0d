"""Dialects: the native one, the registry, and one encoding per event per dialect."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from reference_impl.dialects import (
    BUILT_IN,
    DIALECTS,
    NATIVE,
    Dialect,
    DialectRegistry,
    EncodedEvent,
    EncodeOnce,
    MappedDialect,
    get_dialect,
)
from reference_impl.events import EVENTS, EventDraft, EventMessage, EventSpec
from reference_impl.exceptions import UnknownDialectError, WsBridgeError
from reference_impl.protocol import encode_message


def _sample_payload(spec: EventSpec) -> dict[str, Any]:
    """A valid payload for any row, the ones added later included: each required field gets
    the first simple value its model accepts."""
    if spec.payload_arg:
        return {"k": 1}
    payload: dict[str, Any] = {}
    for name, info in spec.payload.model_fields.items():
        if info.is_required():
            payload[name] = next(v for v in ("x", 1, {}, []) if _fits(spec.payload, name, v))
    return payload


def _fits(model: type[BaseModel], name: str, value: object) -> bool:
    try:
        model.model_validate({name: value})
    except ValidationError as exc:
        return all(err["loc"][:1] != (name,) for err in exc.errors())
    return True


def sample(spec: EventSpec, seq: int = 1) -> dict[str, Any]:
    draft = EventDraft.build(
        spec.type,
        thread_id="t_1",
        run_id="thread_t_1_run_1_0123abcd",
        agent_name="planner",
        payload=_sample_payload(spec),
    )
    return draft.stamp(seq, "e1").to_dict()


class Counting:
    """A dialect that counts its encodings: two frames per event."""

    def __init__(self, name: str = "counting") -> None:
        self.name = name
        self.calls = 0

    def encode(self, message: Mapping[str, Any]) -> list[str]:
        self.calls += 1
        return [f"{message['type']}:begin", f"{message['type']}:end"]


@pytest.mark.parametrize("spec", list(EVENTS), ids=lambda spec: spec.type)
def test_native_is_one_frame_of_the_wire_json(spec: EventSpec) -> None:
    message = sample(spec)
    (frame,) = NATIVE.encode(message)
    assert frame == encode_message(message)
    assert EventMessage.from_wire(frame).to_dict() == message


@pytest.mark.parametrize("name", sorted(DIALECTS.names))
def test_every_dialect_writes_every_event_type(name: str) -> None:
    """Adding a row to the table cannot leave a registered dialect unable to write it."""
    dialect = get_dialect(name)
    assert isinstance(dialect, Dialect)
    assert dialect.name == name
    for spec in EVENTS:
        message = sample(spec)
        before = json.dumps(message, sort_keys=True)
        frames = dialect.encode(message)
        assert frames, spec.type
        assert all(isinstance(frame, str) and frame for frame in frames), spec.type
        assert json.dumps(message, sort_keys=True) == before  # the message is left alone


@given(
    st.dictionaries(
        st.text(min_size=1, max_size=8),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=8),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(st.text(max_size=4), inner, max_size=3)
            ),
            max_leaves=8,
        ),
        max_size=4,
    )
)
def test_native_round_trips_any_custom_payload(payload: dict[str, Any]) -> None:
    message = (
        EventDraft.build("custom", thread_id="t", run_id="r", agent_name="a", payload=payload)
        .stamp(7, "e")
        .to_dict()
    )
    (frame,) = NATIVE.encode(message)
    assert json.loads(frame) == message


def test_an_event_is_encoded_once_per_dialect_however_many_read_it() -> None:
    counting, other = Counting(), Counting("other")
    event = EncodedEvent(sample(EVENTS["tool_executing"]))
    subscribers = [counting, other, NATIVE] * 50
    frames = [event.frames(dialect) for dialect in subscribers]
    assert (counting.calls, other.calls) == (1, 1)
    assert frames[0] == ("tool_executing:begin", "tool_executing:end")
    assert frames[2] == (encode_message(event.message),)
    assert event.encoded_in == {"counting", "other", "native"}
    assert event.frames("native") is frames[2]  # by name, from the same cache


def test_encode_once_reuses_only_the_same_message_object() -> None:
    counting = Counting()
    encode = EncodeOnce()
    first, second = sample(EVENTS["custom"], 1), sample(EVENTS["custom"], 2)
    assert encode(first, counting) == encode(first, counting)
    assert counting.calls == 1
    encode(second, counting)
    encode(dict(second), counting)  # equal but another object: encoded again
    assert counting.calls == 3
    assert encode(second) == (encode_message(second),)


def test_a_mapped_dialect_uses_its_encoders_then_its_fallback() -> None:
    split = MappedDialect(
        "split",
        {"tool_executing": lambda m: [f"START {m['seq']}", f"ARGS {m['seq']}", f"END {m['seq']}"]},
        fallback=lambda m: [f"OTHER {m['type']}"],
    )
    assert split.encode(sample(EVENTS["tool_executing"], 4)) == ("START 4", "ARGS 4", "END 4")
    assert split.encode(sample(EVENTS["custom"])) == ("OTHER custom",)
    strict = MappedDialect("strict", {"custom": lambda m: ["c"]})
    with pytest.raises(UnknownDialectError, match="'strict' has no encoding for event type"):
        strict.encode(sample(EVENTS["agent_started"]))
    with pytest.raises(ValueError, match="non-empty name"):
        MappedDialect("", {})


def test_the_registry_names_what_it_knows() -> None:
    registry = DialectRegistry()
    assert registry.names == set(BUILT_IN)
    known = "known: ag-ui, native"
    with pytest.raises(UnknownDialectError, match=f"unknown dialect 'klingon'; {known}") as e:
        registry.get("klingon")
    assert isinstance(e.value, WsBridgeError)
    assert isinstance(e.value, LookupError)
    counting = Counting()
    registry.register(counting)
    assert registry.get("counting") is counting
    assert "counting" in registry
    with pytest.raises(ValueError, match="registered already"):
        registry.register(Counting())
    with pytest.raises(ValueError, match="registered already"):
        registry.register(Counting("native"))
    registry.register(Counting("native"), replace=True)
    assert isinstance(registry.get("native"), Counting)
    with pytest.raises(TypeError, match="not a Dialect"):
        registry.register(object())  # type: ignore[arg-type]
    assert "counting" not in DIALECTS  # the process's registry is untouched


def test_a_built_in_path_must_name_a_dialect_of_that_name() -> None:
    registry = DialectRegistry({"native": "reference_impl.dialects:NATIVE", "x": "json:dumps"})
    assert registry.get("native") is NATIVE
    with pytest.raises(TypeError, match="json:dumps is not a Dialect named 'x'"):
        registry.get("x")
    assert [d.name for d in DialectRegistry()] == sorted(BUILT_IN)
