"""AG-UI validator throughput: ours (``reference_impl.agui``) against ag-ui-validate, same run.

Two 100,000-event streams, both conformant, fed event by event to each validator:

- **token stream**: what LLM agents send — per turn a reasoning span (20 reasoning deltas), a
  step, a text message (60 text deltas), a tool call (15 argument deltas, valid JSON once
  joined) and its result, a state delta; about nine events in ten are deltas;
- **structural mix**: few deltas per item (5 text, 1 argument), a step and a state delta per
  turn — the worst case for us, since every start/end/step event takes the full path.

Each validator gets a fresh instance per repeat, the two alternate, and the best CPU time
(``time.process_time``: this process's own, so other load on the machine does not count) of
the repeats is kept. The row
is correct when ours reports no violation and ag-ui-validate no error on either stream.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from reference_impl.agui import Validator

from .results import Measurement, Row

__all__ = ["run_agui", "structural_stream", "token_stream"]

Event = dict[str, Any]


def _wrap(body: list[Event], events: int) -> list[Event]:
    start = {"type": "RUN_STARTED", "threadId": "t", "runId": "r", "protocolVersion": "1.1"}
    return [start, *body[: events - 2], {"type": "RUN_FINISHED", "threadId": "t", "runId": "r"}]


def _turn_boundaries(turn: Callable[[int], list[Event]], events: int) -> list[Event]:
    body: list[Event] = []
    i = 0
    while len(body) + len(turn(i)) <= events - 2:
        body += turn(i)
        i += 1
    return body


def token_stream(events: int = 100_000) -> list[Event]:
    """A conformant stream of whole turns, mostly deltas (see the module docstring)."""

    def turn(i: int) -> list[Event]:
        r, m, c, s = f"r{i}", f"m{i}", f"c{i}", f"s{i}"
        return [
            {"type": "REASONING_START", "messageId": f"span{i}"},
            {"type": "REASONING_MESSAGE_START", "messageId": r, "role": "reasoning"},
            *[{"type": "REASONING_MESSAGE_CONTENT", "messageId": r, "delta": "hmm "}] * 20,
            {"type": "REASONING_MESSAGE_END", "messageId": r},
            {"type": "REASONING_END", "messageId": f"span{i}"},
            {"type": "STEP_STARTED", "stepName": s},
            {"type": "TEXT_MESSAGE_START", "messageId": m, "role": "assistant"},
            *[{"type": "TEXT_MESSAGE_CONTENT", "messageId": m, "delta": "token "}] * 60,
            {"type": "TEXT_MESSAGE_END", "messageId": m},
            {"type": "TOOL_CALL_START", "toolCallId": c, "toolCallName": "search",
             "parentMessageId": m},
            {"type": "TOOL_CALL_ARGS", "toolCallId": c, "delta": '{"q": "'},
            *[{"type": "TOOL_CALL_ARGS", "toolCallId": c, "delta": "ab"}] * 13,
            {"type": "TOOL_CALL_ARGS", "toolCallId": c, "delta": '"}'},
            {"type": "TOOL_CALL_END", "toolCallId": c},
            {"type": "TOOL_CALL_RESULT", "messageId": f"res{i}", "toolCallId": c,
             "content": "3 results"},
            {"type": "STATE_DELTA", "delta": [{"op": "add", "path": "/turn", "value": i}]},
            {"type": "STEP_FINISHED", "stepName": s},
        ]  # fmt: skip

    return _wrap(_turn_boundaries(turn, events), events)


def structural_stream(events: int = 100_000) -> list[Event]:
    """A conformant stream with few deltas per item (see the module docstring)."""

    def turn(i: int) -> list[Event]:
        m, c, s = f"m{i}", f"c{i}", f"s{i}"
        return [
            {"type": "TEXT_MESSAGE_START", "messageId": m, "role": "assistant"},
            *[{"type": "TEXT_MESSAGE_CONTENT", "messageId": m, "delta": "tok "}] * 5,
            {"type": "TEXT_MESSAGE_END", "messageId": m},
            {"type": "TOOL_CALL_START", "toolCallId": c, "toolCallName": "f", "parentMessageId": m},
            {"type": "TOOL_CALL_ARGS", "toolCallId": c, "delta": "{}"},
            {"type": "TOOL_CALL_END", "toolCallId": c},
            {"type": "TOOL_CALL_RESULT", "messageId": f"res{i}", "toolCallId": c, "content": "ok"},
            {"type": "STEP_STARTED", "stepName": s},
            {"type": "STATE_DELTA", "delta": [{"op": "add", "path": "/a", "value": i}]},
            {"type": "STEP_FINISHED", "stepName": s},
        ]

    return _wrap(_turn_boundaries(turn, events), events)


def _ours(stream: list[Event]) -> tuple[float, bool]:
    started = time.process_time()
    validator = Validator()
    feed = validator.feed
    for event in stream:
        feed(event)
    validator.finish()
    elapsed = time.process_time() - started
    return elapsed, validator.report().conformant


def _theirs(stream: list[Event]) -> tuple[float, bool]:
    from ag_ui_validate import create_validator

    started = time.process_time()
    validator = create_validator()
    feed = validator.feed
    for event in stream:
        feed(event)
    validator.finalize()
    report = validator.report()
    elapsed = time.process_time() - started
    return elapsed, report.summary.errors == 0


def _alternating(
    stream: list[Event], repeats: int, baseline: bool
) -> tuple[tuple[float, bool], tuple[float, bool] | None]:
    """Best CPU time of each validator, their runs alternating so load hits both alike."""
    ours: list[tuple[float, bool]] = []
    theirs: list[tuple[float, bool]] = []
    for _ in range(max(1, repeats)):
        ours.append(_ours(stream))
        if baseline:
            theirs.append(_theirs(stream))

    def best(results: list[tuple[float, bool]]) -> tuple[float, bool]:
        return min(r[0] for r in results), all(r[1] for r in results)

    return best(ours), (best(theirs) if baseline else None)


def run_agui(events: int = 100_000, repeats: int = 3) -> list[Row]:
    """Both streams, both validators alternating; events/s of CPU time, higher is better."""
    try:
        import ag_ui_validate  # noqa: F401
    except ImportError:
        have_baseline = False
    else:
        have_baseline = True
    rows: list[Row] = []
    for name, build in (("token stream", token_stream), ("structural mix", structural_stream)):
        stream = build(events)
        (ours_s, ours_ok), their_result = _alternating(stream, repeats, have_baseline)
        subject = Measurement("reference_impl.agui", len(stream) / ours_s, "events/s",
                              {"seconds": round(ours_s, 4), "events": len(stream)})  # fmt: skip
        baseline = None
        theirs_ok = True
        if their_result is not None:
            theirs_s, theirs_ok = their_result
            details = {"seconds": round(theirs_s, 4), "events": len(stream)}
            baseline = Measurement(
                "ag-ui-validate 0.4.0", len(stream) / theirs_s, "events/s", details
            )
        note = "" if have_baseline else "ag-ui-validate not installed (pip install '.[bench]')"
        rows.append(Row(f"agui {name} M={len(stream)}", subject, baseline, target=5.0,
                        note=note, correct=ours_ok and theirs_ok))  # fmt: skip
    return rows
