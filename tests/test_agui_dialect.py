"""The ag-ui dialect: native events as AG-UI 1.1 events (pure), the demo in both dialects over
real sockets, and BridgeClient's resume in the dialect."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import given, settings
from hypothesis import strategies as st
from server_support import TIMEOUT, Lines
from websockets.asyncio.server import ServerConnection, serve

from pytest_wsbridge.cli import build_parser
from reference_impl import cli
from reference_impl.agui import Validator, check_event_shape
from reference_impl.agui.dialect import (
    AGUI,
    PROTOCOL_VERSION,
    agui_frames,
    relayed_payload,
    to_agui,
    tool_call_id,
)
from reference_impl.client import BridgeClient
from reference_impl.dialects import get_dialect
from reference_impl.events import EVENTS

Event = dict[str, Any]


def native(kind: str, seq: int, run: str = "r1", **payload: Any) -> Event:
    return {
        "type": kind,
        "thread_id": "t1",
        "run_id": run,
        "seq": seq,
        "epoch": "e1",
        "timestamp": "2026-12-02T04:00:00.250Z",
        "agent_name": "agent",
        "payload": payload,
    }


RUN = [
    native("agent_started", 1, context={"q": 1}),
    native("agent_thinking", 2, reasoning="hmm", step_number=1, progress_percentage=10.0),
    native("tool_executing", 3, tool_name="weather", parameters={"city": "Lisbon"}),
    native("tool_completed", 4, tool_name="weather", result={"sky": "clear"}, execution_time_ms=2),
    native("custom", 5, name="progress", value=50),
    native("agent_completed", 6, result="done"),
]


def judged(messages: list[Event]) -> list[tuple[str, str]]:
    validator = Validator()
    validator.feed_many([event for message in messages for event in to_agui(message)])
    validator.finish()
    return [(f.rule, f.message) for f in validator.findings]


def test_a_native_run_maps_to_a_conformant_agui_run() -> None:
    events = [event for message in RUN for event in to_agui(message)]
    assert [e["type"] for e in events] == [
        "RUN_STARTED",
        "REASONING_MESSAGE_CHUNK",
        "TOOL_CALL_START",
        "TOOL_CALL_ARGS",
        "TOOL_CALL_END",
        "TOOL_CALL_RESULT",
        "CUSTOM",
        "RUN_FINISHED",
    ]
    assert events[0] == {
        "type": "RUN_STARTED",
        "threadId": "t1",
        "runId": "r1",
        "protocolVersion": PROTOCOL_VERSION,
        "timestamp": 1796184000250,
        "metadata": {"wsbridge": {"agent_name": "agent", "context": {"q": 1}}},
    }
    assert events[1] == {
        "type": "REASONING_MESSAGE_CHUNK",
        "messageId": "r1/reasoning/2",
        "delta": "hmm",
        "timestamp": 1796184000250,
        "metadata": {"wsbridge": {"step_number": 1, "progress_percentage": 10.0}},
    }
    assert events[3]["delta"] == '{"city":"Lisbon"}'
    assert events[5]["toolCallId"] == events[2]["toolCallId"] == tool_call_id("r1", "weather")
    assert events[5]["content"] == '{"sky":"clear"}'
    assert events[6] == {
        "type": "CUSTOM",
        "name": "progress",
        "value": 50,
        "timestamp": 1796184000250,
    }
    assert events[7]["result"] == "done"
    assert judged(RUN) == []


def test_thinking_is_one_reasoning_chunk_that_whatever_follows_closes() -> None:
    """One frame per ``agent_thinking``: a ``REASONING_MESSAGE_CHUNK`` outside any span, which
    the next thinking, tool call, custom event or the run's end closes (1.1's chunk rules)."""
    empty = to_agui(native("agent_thinking", 3, reasoning=""))
    assert empty == [
        {
            "type": "REASONING_MESSAGE_CHUNK",
            "messageId": "r1/reasoning/3",
            "timestamp": 1796184000250,
        }
    ]  # no content: the expanded message opens and closes with no delta
    assert to_agui(native("agent_thinking", 4))[0].keys() == empty[0].keys()
    start, finish, error = RUN[0], RUN[-1], native("agent_error", 9, error="boom")
    thinking = [native("agent_thinking", n, reasoning=f"r{n}" * (n % 2)) for n in range(10, 14)]
    for then in ([RUN[2], finish], [RUN[4], finish], [finish], [error]):
        run = [start, *thinking, *then]
        assert [e["type"] for m in run for e in to_agui(m)].count("REASONING_MESSAGE_CHUNK") == 4
        assert judged(run) == []
    # A chunk left open at the end is what the chunk rules close: RUN_FINISHED does it here;
    # without it the run (not the message) is what is reported.
    assert [rule for rule, _ in judged([start, thinking[0]])] == ["lifecycle.truncated"]


def test_a_native_order_that_breaks_a_rule_is_delivered_and_reported() -> None:
    late = [*RUN, native("custom", 7, name="late", value=1)]
    assert to_agui(late[-1])[0]["name"] == "late"  # still mapped, still delivered
    assert [rule for rule, _ in judged(late)] == ["lifecycle.after-close"]
    early = [native("custom", 1, name="early", value=1), *RUN]
    assert [rule for rule, _ in judged(early)] == ["lifecycle.first-event"]


def test_errors_and_custom_payloads() -> None:
    failed = to_agui(native("agent_error", 9, error="boom", error_context={"code": "E42"}))
    assert failed == [
        {
            "type": "RUN_ERROR",
            "message": "boom",
            "code": "E42",
            "timestamp": 1796184000250,
            "metadata": {"wsbridge": {"error_context": {"code": "E42"}}},
        }
    ]
    other = to_agui(native("custom", 9, anything=[1, 2]))
    assert other[0]["name"] == "custom"
    assert other[0]["value"] == {"anything": [1, 2]}
    carried = {"type": "TEXT_MESSAGE_START", "messageId": "m", "role": "assistant"}
    assert to_agui(native("custom", 9, **relayed_payload(carried))) == [carried]
    assert to_agui(native("from_the_future", 9, x=1))[0] == {
        "type": "CUSTOM",
        "name": "from_the_future",
        "value": {"x": 1},
        "timestamp": 1796184000250,
    }


def test_frames_carry_the_position_and_one_event_each() -> None:
    frames = agui_frames(RUN[2])
    assert [(f["seq"], f["epoch"], f["part"], f["parts"]) for f in frames] == [
        (3, "e1", 0, 3),
        (3, "e1", 1, 3),
        (3, "e1", 2, 3),
    ]
    assert all(
        set(f) == {"type", "thread_id", "seq", "epoch", "part", "parts", "event"} for f in frames
    )
    assert get_dialect("ag-ui") is AGUI
    assert [json.loads(t) for t in AGUI.encode(RUN[2])] == frames


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(
    kind=st.sampled_from(sorted(spec.type for spec in EVENTS)),
    payload=st.dictionaries(st.sampled_from(["tool_name", "reasoning", "result", "parameters",
                                             "error", "error_context", "context", "name",
                                             "value", "step_number"]), JSON, max_size=4),
)  # fmt: skip
def test_every_mapped_event_has_a_valid_shape(kind: str, payload: dict[str, Any]) -> None:
    for event in to_agui(native(kind, 5, **payload)):
        assert check_event_shape(event) == [], event
        assert None not in (event.get(key) for key in event if key != "value")


@pytest.mark.agui
def test_ag_ui_protocol_models_accept_the_mapped_run() -> None:
    from ag_ui.core import Event as AguiEvent
    from pydantic import TypeAdapter

    adapter: TypeAdapter[Any] = TypeAdapter(AguiEvent)
    for message in [*RUN, native("agent_thinking", 7, reasoning="")]:
        for event in to_agui(message):
            model = adapter.validate_python(event)
            assert model.model_dump(by_alias=True, exclude_none=True, mode="json") == event


# -- the demo in both dialects, over real sockets ---------------------------------------------


@pytest.mark.asyncio
async def test_the_demo_speaks_both_dialects() -> None:
    args = build_parser().parse_args(
        ["serve", "--demo", "--port", "0", "--demo-runs", "2", "--demo-interval", "0"]
    )
    out, stop = Lines(), asyncio.Event()
    server = asyncio.ensure_future(cli.serve(args, out, stop=stop))
    try:
        url = (await out.wait_for(r"serving (ws://\S+)"))[1]
        await out.wait_for("demo done: 2 runs")
        base = ["tail", url, "--thread", "demo-thread", "--token", "demo-token", "--last-seq", "0"]
        base.append("--json")
        printed = Lines()
        tail_native = build_parser().parse_args([*base, "--count", "12"])
        assert await asyncio.wait_for(cli.tail(tail_native, printed), TIMEOUT) == 0
        natives = [json.loads(line) for line in printed.getvalue().splitlines()]
        expected = [event for message in natives for event in to_agui(message)]
        printed = Lines()
        tail_agui = build_parser().parse_args(
            [*base, "--dialect", "ag-ui", "--count", str(len(expected))]
        )
        assert await asyncio.wait_for(cli.tail(tail_agui, printed), TIMEOUT) == 0
        bare = [json.loads(line) for line in printed.getvalue().splitlines()]
    finally:
        stop.set()
        assert await asyncio.wait_for(server, TIMEOUT) == 0
    assert [m["type"] for m in natives].count("agent_completed") == 2
    assert bare == expected  # bare AG-UI events, one per line, no envelope
    validator = Validator()
    validator.feed_many(bare)
    validator.finish()
    assert [str(f) for f in validator.report().violations] == []
    assert [e["type"] for e in bare].count("RUN_STARTED") == 2


# -- BridgeClient in the dialect: a connection cut between the parts of one seq ---------------


class CutServer:
    """Serves seqs 1 and 2 (one part each) and one of seq 3's three parts, then, once the test
    says ``cut``, drops the connection (1011); the resumed connection gets what the log has
    after the client's ``last_seq``.

    The cut waits for the test because websockets 13.0 (the floor) drops frames still unread
    when a close arrives: a cut right after sending would race the client's reads there."""

    def __init__(self) -> None:
        self.subscribes: list[Event] = []
        self.log = [frame for message in RUN[:3] for frame in agui_frames(message)]
        self.cut = asyncio.Event()

    async def handler(self, ws: ServerConnection) -> None:
        subscribe = json.loads(await ws.recv())
        self.subscribes.append(subscribe)
        last = subscribe.get("last_seq") or 0
        await ws.send(json.dumps({"type": "subscribed", "thread_id": "t1", "epoch": "e1",
                                  "head_seq": 3, "recovered": 0}))  # fmt: skip
        frames = [f for f in self.log if f["seq"] > last]
        if len(self.subscribes) == 1:
            frames = frames[:3]  # seq 1, seq 2, seq 3 part 0
        for frame in frames:
            await ws.send(json.dumps(frame))
        if len(self.subscribes) == 1:
            await self.cut.wait()
            await ws.close(1011, "cut")
        else:
            await ws.wait_closed()


@pytest_asyncio.fixture
async def cut_server() -> AsyncIterator[tuple[str, CutServer]]:
    state = CutServer()
    async with serve(state.handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}", state


@pytest.mark.asyncio
async def test_bridge_client_resumes_a_cut_seq_whole_and_hands_each_part_on_once(
    cut_server: tuple[str, CutServer],
) -> None:
    url, state = cut_server
    client = BridgeClient(url, thread_id="t1", last_seq=0, dialect="ag-ui", backoff_initial=0.01)
    try:
        got = [await client.receive(timeout=TIMEOUT) for _ in range(2)]  # seqs 1 and 2
        state.cut.set()  # seq 3 is cut after its first part
        got += [await client.receive(timeout=TIMEOUT) for _ in range(len(state.log) - 2)]
    finally:
        await client.close()
    assert got == state.log
    assert [s.get("last_seq") for s in state.subscribes] == [0, 2]
    assert all(s["dialect"] == "ag-ui" for s in state.subscribes)
    assert client.last_seq == 3
