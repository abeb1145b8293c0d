"""The exported JSON Schema of the wire message."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from reference_impl.events import EVENTS
from reference_impl.schema import main, wire_schema

ENVELOPE = {"type", "thread_id", "run_id", "seq", "epoch", "timestamp", "agent_name", "payload"}


def test_python_m_prints_the_schema() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "reference_impl.schema"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    schema = json.loads(done.stdout)
    assert schema == json.loads(json.dumps(wire_schema()))
    assert schema["type"] == "object"
    assert set(schema["properties"]) >= ENVELOPE
    assert set(schema["required"]) | {"timestamp", "payload"} >= ENVELOPE
    assert set(schema["x-payloads"]) == set(EVENTS.types)


def test_schema_is_valid_json_schema() -> None:
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(wire_schema())


def test_timestamp_is_a_date_time_string() -> None:
    timestamp = wire_schema()["properties"]["timestamp"]
    assert timestamp["type"] == "string"
    assert timestamp["format"] == "date-time"


def test_real_messages_validate_against_the_schema() -> None:
    from jsonschema import Draft202012Validator

    from reference_impl.events import EventDraft

    validator = Draft202012Validator(wire_schema())
    message = EventDraft.build(
        "tool_executing", thread_id="t", run_id="r", agent_name="a", payload={"tool_name": "x"}
    ).stamp(1, "e")
    validator.validate(json.loads(message.to_wire()))
    assert not validator.is_valid({**message.to_dict(), "seq": 0})
    assert not validator.is_valid({k: v for k, v in message.to_dict().items() if k != "run_id"})


def test_main_prints_sorted_indented_json(capsys: pytest.CaptureFixture[str]) -> None:
    main()
    out = capsys.readouterr().out
    assert json.loads(out) == json.loads(json.dumps(wire_schema()))
    assert out.startswith('{\n  "$id"')
