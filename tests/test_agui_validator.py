"""The sans-I/O AG-UI validator's API: feed, finish, findings, report."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reference_impl.agui import RULES_BY_ID, Finding, Severity, Validator, validate_events


def run(*body: dict[str, Any], run_id: str = "r1") -> list[dict[str, Any]]:
    started = {"type": "RUN_STARTED", "threadId": "t1", "runId": run_id, "protocolVersion": "1.1"}
    finished = {"type": "RUN_FINISHED", "threadId": "t1", "runId": run_id}
    return [started, *body, finished]


def test_feed_returns_what_each_event_broke_and_finish_what_the_end_broke() -> None:
    v = Validator()
    assert v.feed({"type": "TEXT_MESSAGE_CONTENT", "messageId": "m", "delta": "x"}) == [
        Finding("lifecycle.first-event", 0, "TEXT_MESSAGE_CONTENT", v.findings[0].message)
    ]
    assert (
        v.feed({"type": "RUN_STARTED", "threadId": "t", "runId": "r", "protocolVersion": "1.1"})
        == []
    )
    assert [f.rule for f in v.finish()] == ["lifecycle.truncated"]
    assert v.finish() == []
    report = v.report("s")
    assert report.events == 2
    assert not report.conformant
    assert [f.rule for f in report.violations] == ["lifecycle.first-event", "lifecycle.truncated"]


def test_every_violation_is_reported_not_only_the_first() -> None:
    events = run(
        {"type": "TEXT_MESSAGE_END", "messageId": "a"},
        {"type": "TOOL_CALL_ARGS", "toolCallId": "c", "delta": "{"},
        {"type": "STEP_FINISHED", "stepName": "s"},
    )
    rules = [f.rule for f in validate_events(events).violations]
    assert rules == ["text.not-open", "tool.not-open", "step.not-open"]


def test_a_conformant_stream_has_no_findings() -> None:
    events = run(
        {"type": "TEXT_MESSAGE_START", "messageId": "m", "role": "assistant"},
        {"type": "TEXT_MESSAGE_CONTENT", "messageId": "m", "delta": "hello"},
        {"type": "TEXT_MESSAGE_END", "messageId": "m"},
    )
    report = validate_events(events, source="ok")
    assert report.findings == []
    assert report.to_json() == {
        "source": "ok",
        "events": 5,
        "conformant": True,
        "violations": [],
        "warnings": [],
    }


def test_non_object_events_are_findings_not_exceptions() -> None:
    v = Validator()
    assert [f.rule for f in v.feed(["not", "an", "event"])] == ["schema.bad-value"]
    assert [f.rule for f in v.feed({"no": "type"})] == ["schema.missing-field"]


def test_warnings_do_not_break_conformance() -> None:
    events = run()
    del events[0]["protocolVersion"]
    report = validate_events(events)
    assert report.conformant
    assert [(f.rule, f.severity) for f in report.warnings] == [
        ("version.undeclared", Severity.WARNING)
    ]


def test_every_finding_names_a_catalogued_rule() -> None:
    v = Validator()
    v.feed_many([{"type": "NOPE"}, 3, {"type": "RUN_FINISHED"}])
    v.finish()
    assert v.findings
    assert all(f.rule in RULES_BY_ID for f in v.findings)


DOC = {"a": [1, 2], "b": {"c": 1}}


@pytest.mark.parametrize(
    ("patch", "result"),
    [
        ([{"op": "add", "path": "/a/-", "value": 3}], {"a": [1, 2, 3], "b": {"c": 1}}),
        ([{"op": "add", "path": "/a/0", "value": 0}], {"a": [0, 1, 2], "b": {"c": 1}}),
        ([{"op": "replace", "path": "/b/c", "value": None}], {"a": [1, 2], "b": {"c": None}}),
        ([{"op": "move", "from": "/b", "path": "/x"}], {"a": [1, 2], "x": {"c": 1}}),
        ([{"op": "copy", "from": "/a", "path": "/y"}], {"a": [1, 2], "b": {"c": 1}, "y": [1, 2]}),
        ([{"op": "remove", "path": "/a/1", "value": "ignored"}], {"a": [1], "b": {"c": 1}}),
        ([{"op": "test", "path": "/b/c", "value": 1}], DOC),
        ([{"op": "replace", "path": "", "value": 5}], 5),
        ([{"op": "add", "path": "/~1k~0", "value": 1}], {**DOC, "/k~": 1}),
    ],
)
def test_apply_patch_applies_rfc_6902(patch: list[dict[str, Any]], result: Any) -> None:
    from reference_impl.agui.patch import apply_patch

    before = json.dumps(DOC)
    assert apply_patch(DOC, patch) == (result, None)
    assert json.dumps(DOC) == before  # the input is never changed


@pytest.mark.parametrize(
    ("patch", "why"),
    [
        ([{"op": "remove", "path": "/zz"}], "no member 'zz'"),
        ([{"op": "replace", "path": "/a/5", "value": 1}], "out of range"),
        ([{"op": "add", "path": "/a/01", "value": 1}], "not an array index"),
        ([{"op": "test", "path": "/a/0", "value": 9}], "the test failed"),
        ([{"op": "add", "path": "/q/r", "value": 1}], "no member 'q'"),
        ([{"op": "move", "from": "/b", "path": "/b/d"}], "into itself"),
        ([{"op": "add", "path": "/b/c/d", "value": 1}], "cannot add into a int"),
        ([{"op": "remove", "path": "/b/c/d/e"}], "cannot step into a int"),
        (
            [{"op": "add", "path": "/a/-", "value": 1}, {"op": "remove", "path": "/zz"}],
            "operation 1",
        ),
    ],
)
def test_apply_patch_reports_why_and_changes_nothing(patch: list[dict[str, Any]], why: str) -> None:
    from reference_impl.agui.patch import apply_patch

    document, reason = apply_patch(DOC, patch)
    assert document is DOC
    assert reason is not None
    assert why in reason
