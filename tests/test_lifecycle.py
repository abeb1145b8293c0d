"""The lifecycle table and the validators: every rule, every violation, with its event."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reference_impl.lifecycle import (
    TRANSITIONS,
    RunLifecycle,
    RunState,
    check_run_lifecycle,
    check_runs,
)
from reference_impl.violations import RuleViolation


def ev(kind: str, tool: str | None = None, run: str = "r1", **extra: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"type": kind, "run_id": run, **extra}
    if tool is not None:
        event["payload"] = {"tool_name": tool}
    return event


def rules(violations: Sequence[RuleViolation]) -> list[tuple[str, int]]:
    return [(v.rule, v.index) for v in violations]


def test_a_full_run_is_clean() -> None:
    events = [
        ev("agent_started"),
        ev("agent_thinking"),
        ev("tool_executing", "search"),
        ev("tool_executing", "search"),
        ev("custom"),
        ev("tool_completed", "search"),
        ev("tool_completed", "search"),
        ev("agent_completed"),
    ]
    assert check_run_lifecycle(events, require_terminal=True) == []


def test_error_is_a_terminal_event() -> None:
    events = [ev("agent_started"), ev("agent_error")]
    assert check_run_lifecycle(events, require_terminal=True) == []


def test_custom_events_may_precede_agent_started() -> None:
    assert check_run_lifecycle([ev("custom"), ev("agent_started")]) == []


def test_started_first() -> None:
    events = [ev("agent_thinking"), ev("agent_started"), ev("agent_completed")]
    found = check_run_lifecycle(events)
    assert rules(found) == [("started-first", 0)]
    assert found[0].event is events[0]


def test_a_run_that_never_starts_flags_every_event() -> None:
    events = [ev("agent_thinking"), ev("tool_executing", "x"), ev("agent_completed")]
    assert rules(check_run_lifecycle(events)) == [
        ("started-first", 0),
        ("started-first", 1),
        ("started-first", 2),
    ]


def test_started_once() -> None:
    events = [ev("agent_started"), ev("agent_started"), ev("agent_completed")]
    assert rules(check_run_lifecycle(events)) == [("started-once", 1)]


def test_nothing_after_terminal() -> None:
    events = [
        ev("agent_started"),
        ev("agent_completed"),
        ev("agent_thinking"),
        ev("agent_error"),
        ev("agent_started"),
    ]
    found = check_run_lifecycle(events)
    assert rules(found) == [("after-terminal", 2), ("after-terminal", 3), ("after-terminal", 4)]
    assert [v.event for v in found] == events[2:]


def test_terminal_last_only_when_required() -> None:
    events = [ev("agent_started"), ev("agent_thinking")]
    assert check_run_lifecycle(events) == []
    found = check_run_lifecycle(events, require_terminal=True)
    assert rules(found) == [("terminal-last", 1)]
    assert found[0].event is events[1]
    assert check_run_lifecycle([], require_terminal=True) == []


def test_tool_pairing_by_tool_name() -> None:
    events = [
        ev("agent_started"),
        ev("tool_completed", "search"),
        ev("tool_executing", "search"),
        ev("tool_completed", "fetch"),
        ev("tool_completed", "search"),
        ev("tool_completed", "search"),
        ev("agent_completed"),
    ]
    assert rules(check_run_lifecycle(events)) == [
        ("tool-pairing", 1),
        ("tool-pairing", 3),
        ("tool-pairing", 5),
    ]


def test_tool_name_at_top_level_is_read_too() -> None:
    events = [ev("agent_started"), ev("tool_executing", tool_name="t"), ev("tool_completed")]
    events[2]["tool_name"] = "t"
    assert check_run_lifecycle(events) == []
    bad = [ev("agent_started"), ev("tool_completed", payload={"tool_name": 3})]
    assert rules(check_run_lifecycle(bad)) == [("tool-pairing", 1)]


def test_unknown_types() -> None:
    events = [ev("agent_dancing"), ev("agent_started"), ev("nope"), {"run_id": "r1"}]
    found = check_run_lifecycle(events)
    assert rules(found) == [("unknown-type", 0), ("unknown-type", 2), ("unknown-type", 3)]
    assert "agent_dancing" in found[0].message


def test_every_violation_is_returned_not_just_the_first() -> None:
    events = [
        ev("agent_thinking"),
        ev("agent_started"),
        ev("tool_completed", "x"),
        ev("agent_started"),
        ev("agent_completed"),
        ev("agent_thinking"),
    ]
    assert rules(check_run_lifecycle(events, require_terminal=True)) == [
        ("started-first", 0),
        ("tool-pairing", 2),
        ("started-once", 3),
        ("after-terminal", 5),
    ]


def test_violation_str_names_rule_index_and_type() -> None:
    (violation,) = check_run_lifecycle([ev("agent_thinking")])
    assert str(violation) == "[started-first] event #0 (agent_thinking): " + violation.message


def test_check_runs_groups_by_run() -> None:
    events = [
        ev("agent_started", run="a"),
        ev("agent_started", run="b"),
        ev("agent_completed", run="a"),
        ev("agent_thinking", run="c"),
        ev("agent_thinking", run="b"),
    ]
    found = check_runs(events)
    assert set(found) == {"c"}
    assert rules(found["c"]) == [("started-first", 0)]
    strict = check_runs(events, require_terminal=True)
    assert set(strict) == {"b", "c"}
    assert rules(strict["b"]) == [("terminal-last", 1)]


def test_the_table_is_plain_data() -> None:
    assert TRANSITIONS[(RunState.NEW, "agent_started")] is RunState.RUNNING
    assert TRANSITIONS[(RunState.RUNNING, "agent_error")] is RunState.FINISHED
    assert not any(state is RunState.FINISHED for state, _ in TRANSITIONS)


def test_incremental_machine() -> None:
    run = RunLifecycle()
    assert run.violation_for("agent_started") is None
    run.advance("agent_started")
    assert run.violation_for("tool_completed", "x") == (
        "tool-pairing",
        "tool_completed for 'x' without tool_executing",
    )
    run.advance("tool_executing", "x")
    assert run.violation_for("tool_completed", "x") is None
    run.advance("tool_completed", "x")
    assert run.open_tools["x"] == 0
    run.advance("tool_completed", "x")  # unpaired completion does not go negative
    assert run.open_tools["x"] == 0
    run.advance("agent_completed")
    assert run.state is RunState.FINISHED
    assert run.violation_for("agent_thinking") is not None
