"""The ledger records calls on the bridge instance; the checks judge what it recorded."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_wsbridge.checks import (
    FailFastOutcome,
    analyze,
    check_delivery,
    check_fail_fast,
    check_lifecycle,
    check_threads,
    format_violations,
    in_flight,
    run_checks,
    undelivered_threads,
)
from pytest_wsbridge.fakes import FakeConnectionManager
from pytest_wsbridge.ledger import AwaitableResult, Ledger, short
from reference_impl import ConnectionManager, ReferenceOrchestrator, create_bridge, generate_run_id


class SyncBridge:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def register_run(self, run_id: str, thread_id: str) -> None:
        self.calls.append(run_id)

    def notify_agent_started(self, run_id: str, agent_name: str) -> bool:
        return self.notify_agent_thinking(run_id, agent_name, "nested")

    def notify_agent_thinking(self, run_id: str, agent_name: str, reasoning: str) -> bool:
        self.calls.append(reasoning)
        return True


@pytest.mark.asyncio
async def test_sync_methods_are_recorded_once_and_awaitable() -> None:
    bridge, ledger = SyncBridge(), Ledger()
    ledger.instrument(bridge)
    held_by_the_app = bridge  # the same object: calls through it are recorded too
    result = held_by_the_app.notify_agent_started("run_1", "a")
    assert isinstance(result, AwaitableResult)
    assert result
    assert result == True  # noqa: E712 - equality goes to the value
    assert await bridge.notify_agent_thinking("run_1", "a", "x") is True
    await bridge.register_run("run_1", "t")
    assert [c.method for c in ledger.calls] == [
        "notify_agent_started",  # its nested notify_agent_thinking is not a second emission
        "notify_agent_thinking",
        "register_run",
    ]
    assert [c.index for c in ledger.emissions()] == [0, 1]
    assert ledger.true_thread("run_1") == ("t", "register_run")
    assert ledger.true_thread("thread_x_run_1_0123abcd") == ("x", "run-id format")
    assert ledger.true_thread("run_2") == (None, None)


@pytest.mark.asyncio
async def test_async_errors_are_recorded_and_reraised() -> None:
    manager = FakeConnectionManager()
    bridge = await create_bridge(
        connection_manager=manager, orchestrator=ReferenceOrchestrator(), init_timeout=1
    )
    ledger = Ledger()
    ledger.instrument(bridge)
    ledger.watch_sends(manager)
    with pytest.raises(LookupError):
        await bridge.notify_agent_started("run_xyz789", "a")
    [call] = ledger.calls
    assert call.outcome == "raised"
    assert call.describe_outcome().startswith("raised ThreadResolutionError(")
    assert ledger.sends == []
    assert run_checks(ledger, ["delivery", "threads", "lifecycle"]) == []


async def _reference(ledger: Ledger) -> tuple[Any, FakeConnectionManager]:
    manager = FakeConnectionManager(
        on_delivery=lambda d: ledger.record_delivery(
            d.thread_id, d.message, connection=d.connection, resumed_from=d.connection.resumed_from
        )
    )
    bridge = await create_bridge(
        connection_manager=manager, orchestrator=ReferenceOrchestrator(), init_timeout=1
    )
    manager.bridge = bridge
    ledger.instrument(bridge)
    ledger.watch_sends(manager)
    return bridge, manager


@pytest.mark.asyncio
async def test_two_connections_are_not_duplicates_but_replaying_old_events_is() -> None:
    ledger = Ledger()
    bridge, manager = await _reference(ledger)
    run = generate_run_id("t")
    first = await manager.connect("t")
    await manager.connect("t")
    await bridge.notify_agent_started(run, "a")
    await bridge.notify_agent_thinking(run, "a", "one")
    assert analyze(ledger).duplicates == []
    assert check_delivery(ledger) == []
    # a bridge that replays from the start although the connection resumed after seq 2
    replay = bridge.replay
    bridge.replay = lambda thread_id, after_seq, epoch=None: replay(thread_id, 0, epoch)
    await first.reconnect()
    [violation] = check_delivery(ledger)
    assert violation.summary == "events delivered twice"
    assert [e.type for e in violation.events] == ["agent_started", "agent_thinking"]
    assert "resumed after seq 2 and was sent seq 1 again" in violation.events[0].what


@pytest.mark.asyncio
async def test_a_dropped_connection_is_true_but_nobody_took_it() -> None:
    ledger = Ledger()
    manager = FakeConnectionManager()
    ledger.watch_sends(manager)
    connection = await manager.connect("t")
    manager.drop(connection)

    class Forgetful:
        async def notify_agent_started(self, run_id: str, agent_name: str) -> bool:
            return await manager.send_to_thread("t", {"type": "agent_started", "run_id": run_id})

    bridge = Forgetful()
    ledger.instrument(bridge)
    run = generate_run_id("t")
    assert await bridge.notify_agent_started(run, "a") is True
    assert not in_flight(ledger, asynchronous_delivery=False)
    assert in_flight(ledger, asynchronous_delivery=True)  # a socket might still bring it
    assert undelivered_threads(ledger) == ["t"]
    [violation] = check_delivery(ledger)
    assert violation.events[0].what == (
        "send_to_thread returned True but no connection took it; the notify call returned True"
    )


def test_out_of_order_and_resume_gap_are_reported() -> None:
    ledger = Ledger()

    class Bridge:
        def notify_agent_started(self, run_id: str, agent_name: str) -> None:
            pass

        def notify_agent_completed(self, run_id: str, agent_name: str) -> None:
            pass

    bridge = Bridge()
    ledger.instrument(bridge)
    run = generate_run_id("t")
    bridge.notify_agent_started(run, "a")
    bridge.notify_agent_completed(run, "a")
    connection = object()
    for seq, kind in ((2, "agent_completed"), (1, "agent_started")):
        message = {"type": kind, "run_id": run, "seq": seq}
        ledger.record_delivery("t", message, connection=connection)
    resumed = object()
    ledger.record_delivery(
        "t",
        {"type": "agent_completed", "run_id": run, "seq": 2},
        connection=resumed,
        resumed_from=0,
    )
    [delivery] = check_delivery(ledger)
    assert delivery.summary == "events delivered out of order"
    assert "got it after agent_completed [index 1]" in delivery.events[0].what
    rules = [v.events[0].what for v in check_lifecycle(ledger)]
    assert any("first event is seq 2, expected 1" in what for what in rules)
    assert any("agent_completed before agent_started" in what for what in rules)


def test_accepting_a_run_without_thread_is_a_threads_violation() -> None:
    ledger = Ledger()
    manager = ConnectionManager()
    ledger.watch_sends(manager)

    class Lenient:
        def notify_agent_error(self, run_id: str, agent_name: str, error: str) -> bool:
            return False

    bridge = Lenient()
    ledger.instrument(bridge)
    bridge.notify_agent_error("job-42", "a", "boom")
    [violation] = check_threads(ledger)
    assert violation.thread_id is None
    text = format_violations([violation])
    assert text.splitlines()[0] == "wsbridge: 1 violation"
    assert "[threads] run 'job-42' (no thread): notify accepted events for a run" in text
    assert "agent_error [index 0, emitted at +" in text
    assert "accepted (returned False) instead of raising" in text


def test_fail_fast_verdicts() -> None:
    ok = FailFastOutcome("orchestrator=None", "raised", "RuntimeError: no", 0.01)
    hung = FailFastOutcome("a hanging orchestrator", "hung", "cancelled after 1.35s", 1.4)
    assert check_fail_fast("m:f", [ok], 1.0) == []
    [violation] = check_fail_fast("m:f", [ok, hung], 1.0)
    assert violation.check == "fail_fast"
    assert "a hanging orchestrator: hang after 1.40s (init timeout 1s)" in violation.render()


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("with_seq", "why"), [(True, "(seq 1 again)"), (False, "(more copies than emissions)")]
)
async def test_a_bridge_that_sends_twice_delivers_twice(with_seq: bool, why: str) -> None:
    ledger = Ledger()
    manager = FakeConnectionManager(
        on_delivery=lambda d: ledger.record_delivery(
            d.thread_id, d.message, connection=d.connection
        )
    )
    ledger.watch_sends(manager)

    class Stutter:
        async def notify_agent_thinking(self, run_id: str, agent_name: str, reasoning: str) -> None:
            message = {"type": "agent_thinking", "run_id": run_id, "payload": reasoning}
            if with_seq:
                message["seq"] = 1
            await manager.send_to_thread("t", message)
            await manager.send_to_thread("t", dict(message))

    bridge = Stutter()
    ledger.instrument(bridge)
    await manager.connect("t")
    await bridge.notify_agent_thinking(generate_run_id("t"), "a", "once")
    [violation] = check_delivery(ledger)
    assert violation.events[0].what == f"delivered twice: connection #1 of 't' got it twice {why}"


@pytest.mark.asyncio
async def test_sends_during_a_call_are_attributed_to_it_whatever_the_message() -> None:
    ledger = Ledger()
    manager = FakeConnectionManager(
        on_delivery=lambda d: ledger.record_delivery(
            d.thread_id, d.message, connection=d.connection
        )
    )
    ledger.watch_sends(manager)

    class Terse:
        """Sends bare payloads (no run_id, no type) and falls back to the run id."""

        async def register_run(self, run_id: str, thread_id: str) -> None:
            pass

        async def notify_agent_thinking(self, run_id: str, agent_name: str, text: str) -> None:
            await manager.send_to_thread("status", {"type": "status", "busy": True})
            await manager.send_to_thread(run_id, {"text": text})

    bridge = Terse()
    ledger.instrument(bridge)
    await manager.connect("status")
    await bridge.register_run("run_xyz789", "thread_abc123")
    await bridge.notify_agent_thinking("run_xyz789", "planner", "hmm")
    [fate] = analyze(ledger).fates
    assert [s.thread_id for s in fate.sends] == ["run_xyz789"]  # not the status message
    [violation] = check_threads(ledger)
    assert "sent to thread 'run_xyz789' (the run id itself: the run-id fallback)" in (
        violation.events[0].what
    )


def test_short_names_a_value_or_an_exception_within_its_limit() -> None:
    assert short({"a": 1}) == "{'a': 1}"
    assert short(ValueError("boom")) == "ValueError('boom')"
    assert short("y" * 300) == repr("y" * 300)[:117] + "..."
    assert len(short(list(range(100)), 20)) == 20
