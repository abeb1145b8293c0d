"""The relay's faults and refusals, over real sockets: upstreams that refuse, answer wrongly,
stop or stall each end the run with a RUN_ERROR that says so (never silence, never a made-up
RUN_FINISHED); run frames the bridge refuses store nothing."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from agui_support import BY_NAME, corpus_app, serve
from server_support import TIMEOUT, Stack, raw, recv, running_stack, send, subscribe

from reference_impl import ConnectionManager, ReferenceOrchestrator, create_bridge
from reference_impl.agui.dialect import AGUI_FRAME_TYPE, relayed_event, to_agui
from reference_impl.agui.relay import FAULT_CODES, AguiRelay, RelayResult
from reference_impl.bridge import AgentWebSocketBridge
from reference_impl.connections import LocalConnection
from reference_impl.exceptions import ProtocolError

Event = dict[str, Any]


def given(thread: str = "t1", run: str = "r1", **extra: Any) -> dict[str, Any]:
    return {"threadId": thread, "runId": run, "messages": [], "tools": [], "context": [], **extra}


class Relayed:
    """A bridge with one in-process subscriber of thread ``t1``."""

    def __init__(self, bridge: AgentWebSocketBridge, seen: LocalConnection) -> None:
        self.bridge = bridge
        self.seen = seen

    async def run(self, url: str, **options: Any) -> tuple[RelayResult, list[Event]]:
        async with AguiRelay(self.bridge, url, **options) as relay:
            result = await relay.run(given())
        events = [event for message in self.seen.messages for event in to_agui(message)]
        # Stored verbatim: each native message carries exactly one AG-UI event.
        assert all(relayed_event(m["payload"]) is not None for m in self.seen.messages)
        return result, events


@pytest_asyncio.fixture
async def relayed() -> AsyncIterator[Relayed]:
    manager = ConnectionManager()
    seen = LocalConnection("t1")
    manager.add(seen)
    bridge = await create_bridge(connection_manager=manager, orchestrator=ReferenceOrchestrator())
    try:
        yield Relayed(bridge, seen)
    finally:
        await bridge.close()


@pytest_asyncio.fixture
async def upstream() -> AsyncIterator[str]:
    async with serve(corpus_app()) as url:
        yield url


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.asyncio
async def test_a_refused_connection_is_a_run_error(relayed: Relayed) -> None:
    result, events = await relayed.run(f"http://127.0.0.1:{closed_port()}/agent")
    assert [e["type"] for e in events] == ["RUN_ERROR"]
    assert events[0]["code"] == result.fault == "upstream_unreachable"
    assert "cannot connect" in events[0]["message"]
    assert relayed.bridge.metrics.agui_upstream_faults == 1


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("case", "code", "says"),
    [
        ("http-status", "upstream_status", "HTTP 500"),
        ("content-type", "upstream_content_type", "application/json"),
    ],
)
async def test_a_wrong_answer_is_a_run_error(
    relayed: Relayed, upstream: str, case: str, code: str, says: str
) -> None:
    result, events = await relayed.run(f"{upstream}/case/{case}")
    assert [e["type"] for e in events] == ["RUN_ERROR"]
    assert events[0]["code"] == result.fault == code
    assert says in events[0]["message"]
    assert BY_NAME[case].expect in {f.rule for f in result.violations}


@pytest.mark.asyncio
async def test_a_body_that_ends_mid_run_is_a_run_error(relayed: Relayed, upstream: str) -> None:
    result, events = await relayed.run(f"{upstream}/drop")
    assert [e["type"] for e in events] == ["RUN_STARTED", "RUN_ERROR"]
    assert events[1]["code"] == result.fault == "upstream_truncated"
    assert "1 events relayed" in events[1]["message"]
    assert result.events == 1


@pytest.mark.asyncio
async def test_a_stall_past_the_idle_timeout_is_a_run_error(
    relayed: Relayed, upstream: str
) -> None:
    result, events = await relayed.run(f"{upstream}/stall", idle_timeout=0.5)
    assert [e["type"] for e in events] == ["RUN_STARTED", "RUN_ERROR"]
    assert events[1]["code"] == result.fault == "upstream_stalled"
    assert "nothing for 0.5s" in events[1]["message"]


@pytest.mark.asyncio
@pytest.mark.parametrize("case", ["after-close", "cut-frame", "late-run-error"])
async def test_what_the_validator_flags_is_counted_and_relayed_all_the_same(
    relayed: Relayed, upstream: str, case: str
) -> None:
    corpus = BY_NAME[case]
    result, events = await relayed.run(f"{upstream}/case/{case}")
    assert result.fault is None  # the upstream closed its run: the relay adds nothing
    # Every event the upstream sent is relayed, in order, the one that breaks a rule included.
    if corpus.events:
        assert events == corpus.events
    else:  # raw SSE: the events of the well-formed frames (the cut one is discarded)
        assert [e["type"] for e in events][-1] == "RUN_FINISHED"
    rules = {f.rule for f in result.violations}
    assert rules == ({corpus.expect} if corpus.expect else set())
    assert relayed.bridge.metrics.agui_violations == len(result.violations)


@pytest.mark.asyncio
async def test_one_run_at_a_time_per_thread_and_closing_stops_the_active_run(
    relayed: Relayed, upstream: str
) -> None:
    arrived = asyncio.Event()

    class Waker(LocalConnection):
        def deliver(self, message: Event) -> bool:
            arrived.set()
            return super().deliver(message)

    relayed.bridge.connection_manager.add(Waker("t1"))  # type: ignore[attr-defined]
    relay = AguiRelay(relayed.bridge, f"{upstream}/stall", idle_timeout=TIMEOUT)
    try:
        assert await relay.start_run(given()) == "r1"
        with pytest.raises(ProtocolError, match="in progress") as refused:
            await relay.start_run(given(run="r2"))
        assert refused.value.code == "invalid_input"
        with pytest.raises(ProtocolError, match="being relayed already"):
            await relay.start_run(given())
        await asyncio.wait_for(arrived.wait(), TIMEOUT)  # RUN_STARTED: the run is active
    finally:
        await relay.aclose()
    assert relay.active_runs == []
    events = [event for message in relayed.seen.messages for event in to_agui(message)]
    assert [e["type"] for e in events] == ["RUN_STARTED", "RUN_ERROR"]
    assert events[1]["code"] == "relay_stopped"
    with pytest.raises(ProtocolError, match="closed"):
        await relay.start_run(given(run="r3"))


def test_every_fault_code_is_documented() -> None:
    with open("docs/agui-binding.md", encoding="utf-8") as docs:
        text = docs.read()
    assert all(f"`{code}`" in text for code in FAULT_CODES)


# -- run frames the bridge refuses ------------------------------------------------------------


@pytest_asyncio.fixture
async def stack(upstream: str) -> AsyncIterator[Stack]:
    async with running_stack() as running:
        yield running


async def refused(stack: Stack, frame_input: Any, token: str = "token-alice") -> dict[str, Any]:
    async with raw(stack.server.url, token) as ws:
        await send(ws, {"type": "run", "input": frame_input})
        answer = await recv(ws)
        # The connection stays open and usable after a refusal.
        await send(ws, {"type": "ping", "id": 1})
        assert await recv(ws) == {"type": "pong", "id": 1}
    return answer


@pytest.mark.asyncio
async def test_without_an_upstream_a_run_is_refused(stack: Stack) -> None:
    answer = await refused(stack, given("alice-1"))
    assert answer["type"] == "error"
    assert answer["code"] == "no_upstream"
    assert answer["thread_id"] == "alice-1"


@pytest.mark.asyncio
async def test_refused_runs_store_nothing(stack: Stack, upstream: str) -> None:
    relay = AguiRelay(stack.bridge, f"{upstream}/case/late-run-error")
    stack.server.hub.relay = relay
    try:
        cases = [
            (given("bob-1"), "forbidden"),  # alice may not see bob's thread
            ({"runId": "r1", "messages": []}, "invalid_input"),  # no threadId
            (given("alice-1", messages="not a list"), "invalid_input"),  # schema
            (given("alice-1", run="thread_alice-2_run_1_0123abcd"), "invalid_input"),  # conflict
        ]
        for frame_input, code in cases:
            answer = await refused(stack, frame_input)
            assert answer["type"] == "error", answer
            assert answer["code"] == code, answer
        for thread in ("alice-1", "alice-2", "bob-1"):
            assert (await stack.bridge.backend.head(thread)).head_seq == 0
        # A good input is accepted and its events reach a subscriber of the thread.
        async with raw(stack.server.url) as watcher, raw(stack.server.url) as starter:
            assert (await subscribe(watcher, "alice-1", dialect="ag-ui"))["type"] == "subscribed"
            await send(starter, {"type": "run", "input": given("alice-1", run="good")})
            assert await recv(starter) == {
                "type": "run_accepted",
                "thread_id": "alice-1",
                "run_id": "good",
            }
            frames = [await recv(watcher, TIMEOUT) for _ in BY_NAME["late-run-error"].events]
        assert {frame["type"] for frame in frames} == {AGUI_FRAME_TYPE}
        assert [frame["event"] for frame in frames] == BY_NAME["late-run-error"].events
    finally:
        await relay.aclose()


@pytest.mark.asyncio
async def test_an_unknown_dialect_is_refused(stack: Stack) -> None:
    async with raw(stack.server.url) as ws:
        answer = await subscribe(ws, "alice-1", dialect="klingon")
    assert answer["type"] == "error"
    assert answer["code"] == "invalid_frame"
    assert "unknown dialect 'klingon'" in answer["message"]
