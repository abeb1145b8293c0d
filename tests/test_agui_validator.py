"""The sans-I/O AG-UI validator's API: feed, finish, findings, report."""

from __future__ import annotations

from typing import Any

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
