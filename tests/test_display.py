"""``wsbridge tail`` for people: one readable line per event (reference_impl.display)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from server_support import TIMEOUT, Lines

from pytest_wsbridge.cli import build_parser
from reference_impl import cli
from reference_impl.display import format_event, short_run, summarize

RUN = "thread_demo-thread_run_1796185444183_0c7e8eb0"


def event(kind: str, seq: int, **payload: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "thread_id": "demo-thread",
        "run_id": RUN,
        "seq": seq,
        "epoch": "e",
        "timestamp": "2026-12-02T04:24:04.237000+00:00",
        "agent_name": "demo-agent",
        "payload": payload,
    }


@pytest.mark.parametrize(
    ("message", "line"),
    [
        (
            event("agent_started", 1, context={"request": "q"}),
            '04:24:04.237  …0c7e8eb0   agent_started    demo-agent started {"request": "q"}  #1',
        ),
        (
            event("agent_thinking", 2, reasoning="plan", step_number=1, progress_percentage=25.0),
            "04:24:04.237  …0c7e8eb0   agent_thinking   step 1: plan (25%)  #2",
        ),
        (
            event("tool_executing", 3, tool_name="weather", parameters={"city": "Lisbon"}),
            '04:24:04.237  …0c7e8eb0   tool_executing   weather({"city": "Lisbon"})  #3',
        ),
        (
            event(
                "tool_completed", 4, tool_name="weather", result={"f": 1}, execution_time_ms=12.5
            ),
            '04:24:04.237  …0c7e8eb0   tool_completed   weather -> {"f": 1} in 12.5 ms  #4',
        ),
        (
            event("agent_completed", 5, result="sunny"),
            "04:24:04.237  …0c7e8eb0   agent_completed  completed: sunny  #5",
        ),
        (
            event("agent_error", 6, error="boom\nline two"),
            "04:24:04.237  …0c7e8eb0   agent_error      error: boom line two  #6",
        ),
        (
            {"type": "RUN_STARTED", "threadId": "t", "runId": "run-7", "timestamp": 0},
            "00:00:00.000  run-7       RUN_STARTED",
        ),
    ],
)
def test_each_event_type_reads_as_one_line(message: dict[str, Any], line: str) -> None:
    assert format_event(message) == line


@pytest.mark.parametrize(
    ("message", "summary"),
    [
        (event("tool_executing", 1, tool_name="clock", parameters=None), "clock()"),
        (event("tool_completed", 2, tool_name="clock", result=None), "clock -> null"),
        (event("agent_thinking", 3, reasoning="hm", step_number=0), "step 0: hm"),
        (event("agent_thinking", 4, reasoning="hm", progress_percentage="x"), "hm"),
        (event("agent_completed", 5, result=None), "completed"),
        (event("agent_started", 6, context={}), "demo-agent started"),
        (event("custom", 7, note="hi", n=1), '{"note": "hi", "n": 1}'),
        (event("not_in_the_table", 8, a=1), '{"a": 1}'),
    ],
)
def test_a_summary_shows_the_parts_that_have_values(message: dict[str, Any], summary: str) -> None:
    """Each row's ``summary`` in the event table: optional parts only with a value, numbers
    formatted only when they are numbers; a row without one shows its payload."""
    assert summarize(message) == summary


def test_control_characters_never_break_the_line() -> None:
    message = event("tool_executing", 9, tool_name="a\nb", parameters={"k": "x\ny"})
    assert format_event(message).endswith('tool_executing   a b({"k": "x\\ny"})  #9')


def test_run_ids_are_shortened_only_when_standard() -> None:
    assert short_run(RUN) == "…0c7e8eb0"
    assert short_run("my-run") == "my-run"
    assert short_run(None) == "-"


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # a loaded CI machine
@given(
    st.dictionaries(
        st.sampled_from(["type", "run_id", "seq", "timestamp", "payload", "runId", "delta"]),
        st.none()
        | st.integers()
        | st.text(max_size=30)
        | st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=3),
    )
)
def test_any_object_still_gets_one_line(message: dict[str, Any]) -> None:
    line = format_event(message)
    assert "\n" not in line
    assert isinstance(summarize(message), str)


class Terminal(Lines):
    """An output that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.mark.asyncio
async def test_tail_prints_readable_lines_on_a_terminal_and_json_with_the_flag() -> None:
    args = build_parser().parse_args(["serve", "--demo", "--port", "0", "--demo-interval", "0.01"])
    out, stop = Lines(), asyncio.Event()
    server = asyncio.ensure_future(cli.serve(args, out, stop=stop))
    try:
        hint = (await out.wait_for(r"wsbridge tail .*"))[0].split()[1:]
        screen = Terminal()
        tail_args = build_parser().parse_args([*hint, "--count", "6"])
        assert await asyncio.wait_for(cli.tail(tail_args, screen), TIMEOUT) == 0
        lines = screen.getvalue().splitlines()
        assert [line.split()[2] for line in lines] == [
            "agent_started",
            "agent_thinking",
            "tool_executing",
            "tool_completed",
            "agent_thinking",
            "agent_completed",
        ]
        assert [line.rsplit(" ", 1)[1] for line in lines] == [f"#{n}" for n in range(1, 7)]
        assert 'weather({"city": "Lisbon"})' in lines[2]

        agui = Terminal()
        agui_args = build_parser().parse_args([*hint, "--count", "7", "--dialect", "ag-ui"])
        assert await asyncio.wait_for(cli.tail(agui_args, agui), TIMEOUT) == 0
        shown = [(line.split()[2], line.rsplit(" ", 1)[1]) for line in agui.getvalue().splitlines()]
        assert shown == [
            ("RUN_STARTED", "#1"),
            ("REASONING_MESSAGE_CHUNK", "#2"),
            ("TOOL_CALL_START", "#3.0"),
            ("TOOL_CALL_ARGS", "#3.1"),
            ("TOOL_CALL_END", "#3.2"),
            ("TOOL_CALL_RESULT", "#4"),
            ("REASONING_MESSAGE_CHUNK", "#5"),
        ]

        forced = Terminal()
        json_args = build_parser().parse_args([*hint, "--count", "2", "--json"])
        assert await asyncio.wait_for(cli.tail(json_args, forced), TIMEOUT) == 0
        assert [line[:1] for line in forced.getvalue().splitlines()] == ["{", "{"]
    finally:
        stop.set()
        assert await asyncio.wait_for(server, TIMEOUT) == 0
