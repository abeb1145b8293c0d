"""The AG-UI corpus: each one-rule stream is flagged by exactly its rule, legal streams by none."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_wsbridge.agui.corpus import CASES, LEGAL, Case, one_rule_cases
from reference_impl.agui import RULES, RULES_BY_ID, Report, Severity, validate_events, verify_sse


def judge(case: Case) -> Report:
    if case.sse is not None or case.status != 200 or case.content_type != "text/event-stream":
        return verify_sse(
            [case.as_sse], input=case.input, status=case.status, content_type=case.content_type
        )
    return validate_events(case.events, input=case.input)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_one_rule_stream_is_flagged_by_exactly_its_rule(case: Case) -> None:
    report = judge(case)
    assert {f.rule for f in report.findings} == {case.expect}
    rule = RULES_BY_ID[str(case.expect)]
    assert all(f.severity is rule.severity for f in report.findings)
    assert report.conformant is (rule.severity is Severity.WARNING)


@pytest.mark.parametrize("case", LEGAL, ids=[c.name for c in LEGAL])
def test_legal_streams_are_not_flagged(case: Case) -> None:
    report = judge(case)
    assert report.findings == []
    assert report.conformant


def test_every_rule_has_a_one_rule_stream() -> None:
    assert set(one_rule_cases()) == {r.id for r in RULES}
    assert len(one_rule_cases()) == len(CASES)


EVENT_CASES = [c for c in (*CASES, *LEGAL) if c.sse is None and c.status == 200]


@pytest.mark.parametrize("case", EVENT_CASES, ids=[c.name for c in EVENT_CASES])
def test_the_same_stream_gets_the_same_verdict_over_sse(case: Case) -> None:
    as_events = judge(case)
    as_sse = verify_sse([case.as_sse], input=case.input)
    assert as_sse.findings == as_events.findings


@settings(max_examples=60, deadline=None)
@given(case=st.sampled_from([*CASES, *LEGAL]), data=st.data())
def test_sse_split_anywhere_decodes_the_same(case: Case, data: st.DataObject) -> None:
    body = case.as_sse
    cuts = sorted(data.draw(st.lists(st.integers(0, len(body)), max_size=8)))
    pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    kwargs: dict[str, Any] = {"input": case.input, "status": case.status}
    kwargs["content_type"] = case.content_type
    assert verify_sse(pieces, **kwargs).findings == verify_sse([body], **kwargs).findings


# -- generated streams ------------------------------------------------------------------------

KINDS = {
    "text": (
        lambda i: {"type": "TEXT_MESSAGE_START", "messageId": i, "role": "assistant"},
        lambda i: {"type": "TEXT_MESSAGE_CONTENT", "messageId": i, "delta": "x"},
        lambda i: {"type": "TEXT_MESSAGE_END", "messageId": i},
        "text.open-at-finish",
    ),
    "tool": (
        lambda i: {"type": "TOOL_CALL_START", "toolCallId": i, "toolCallName": "f"},
        lambda i: {"type": "TOOL_CALL_ARGS", "toolCallId": i, "delta": "{"},
        lambda i: {"type": "TOOL_CALL_END", "toolCallId": i},
        "tool.open-at-finish",
    ),
    "reasoning": (
        lambda i: {"type": "REASONING_MESSAGE_START", "messageId": i, "role": "reasoning"},
        lambda i: {"type": "REASONING_MESSAGE_CONTENT", "messageId": i, "delta": "x"},
        lambda i: {"type": "REASONING_MESSAGE_END", "messageId": i},
        "reasoning.open-at-finish",
    ),
    "span": (
        lambda i: {"type": "REASONING_START", "messageId": i},
        lambda i: {"type": "CUSTOM", "name": "n", "value": None},
        lambda i: {"type": "REASONING_END", "messageId": i},
        "reasoning.span-open-at-finish",
    ),
    "step": (
        lambda i: {"type": "STEP_STARTED", "stepName": i},
        lambda i: {"type": "STATE_SNAPSHOT", "snapshot": {"k": i}},
        lambda i: {"type": "STEP_FINISHED", "stepName": i},
        "step.open-at-finish",
    ),
}


@st.composite
def interleaved(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[tuple[str, int]]]:
    """A legal run of interleaved items; also where each item's closing event sits."""
    items = draw(
        st.lists(
            st.tuples(st.sampled_from(sorted(KINDS)), st.integers(0, 3)), min_size=1, max_size=6
        )
    )
    queues = []
    for n, (kind, contents) in enumerate(items):
        start, content, end, _rule = KINDS[kind]
        ident = f"{kind}-{n}"
        queues.append([start(ident), *[content(ident) for _ in range(contents)], end(ident)])
    events: list[dict[str, Any]] = []
    ends: list[tuple[str, int]] = []
    while any(queues):
        q = draw(st.sampled_from([i for i, queue in enumerate(queues) if queue]))
        event = queues[q].pop(0)
        if not queues[q]:
            ends.append((items[q][0], len(events) + 1))
        events.append(event)
    run = [{"type": "RUN_STARTED", "threadId": "t", "runId": "r", "protocolVersion": "1.1"}]
    return [*run, *events, {"type": "RUN_FINISHED", "threadId": "t", "runId": "r"}], ends


@settings(max_examples=150, deadline=None)
@given(interleaved())
def test_any_interleaving_of_well_formed_items_is_conformant(
    stream: tuple[list[dict[str, Any]], list[tuple[str, int]]],
) -> None:
    events, _ends = stream
    assert validate_events(events).findings == []


@settings(max_examples=150, deadline=None)
@given(interleaved(), st.data())
def test_dropping_one_closing_event_breaks_exactly_its_open_at_finish_rule(
    stream: tuple[list[dict[str, Any]], list[tuple[str, int]]], data: st.DataObject
) -> None:
    events, ends = stream
    kind, position = data.draw(st.sampled_from(ends))
    del events[position]
    findings = validate_events(events).findings
    assert [f.rule for f in findings] == [KINDS[kind][3]]
    assert findings[0].index == len(events) - 1


FUZZ_TYPES = sorted(
    {"RUN_STARTED", "RUN_FINISHED", "RUN_ERROR", "TEXT_MESSAGE_START", "TEXT_MESSAGE_CHUNK",
     "TOOL_CALL_CHUNK", "TOOL_CALL_END", "STEP_FINISHED", "REASONING_END", "SUBAGENT_FINISHED"}
)  # fmt: skip
FUZZ_KEYS = ["type", "messageId", "toolCallId", "delta", "stepName", "role", "subagentRunId"]
FUZZ_VALUES = st.one_of(
    st.sampled_from(FUZZ_TYPES),
    st.none(),
    st.integers(),
    st.text(max_size=3),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(FUZZ_KEYS), FUZZ_VALUES), max_size=12))
def test_arbitrary_input_never_raises_and_only_reports_catalogued_rules(
    events: list[dict[str, Any]],
) -> None:
    report = validate_events(events)
    assert {f.rule for f in report.findings} <= set(RULES_BY_ID)
    assert all(0 <= f.index <= len(events) for f in report.findings)


# -- the fast paths agree with the full checks ------------------------------------------------

CORPUS_EVENTS = [e for c in (*CASES, *LEGAL) for e in c.events if isinstance(e.get("type"), str)]


@settings(max_examples=300, deadline=None)
@given(
    event=st.sampled_from(CORPUS_EVENTS),
    key=st.sampled_from([*FUZZ_KEYS, "delta", "outcome", "content", "timestamp", "metadata"]),
    value=FUZZ_VALUES,
    drop=st.booleans(),
)
def test_the_fast_shape_test_agrees_with_the_full_check(
    event: dict[str, Any], key: str, value: Any, drop: bool
) -> None:
    from reference_impl.agui.shapes import EVENT_SPECS, check_event_shape

    mutated = dict(event)
    if drop:
        mutated.pop(key, None)
    else:
        mutated[key] = value
    spec = EVENT_SPECS.get(mutated.get("type")) if isinstance(mutated.get("type"), str) else None
    if spec is not None:
        assert spec.ok(mutated) == (check_event_shape(mutated) == [])


@pytest.mark.parametrize("case", EVENT_CASES, ids=[c.name for c in EVENT_CASES])
def test_the_validators_fast_path_changes_no_verdict(case: Case) -> None:
    """A timestamp on every event sends each one down the full path: same findings."""
    stamped = [{**e, "timestamp": 1} for e in case.events]
    assert validate_events(stamped, input=case.input).findings == judge(case).findings
