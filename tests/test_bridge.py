"""The bridge: resolution, append-before-send, receipts, counters, bad input, lifecycle."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
import pytest_asyncio

from pytest_wsbridge.fakes import FakeConnectionManager, UnhealthyOrchestrator
from reference_impl.backends import SharedBackend, open_backend
from reference_impl.backends.memory import MemoryBackend
from reference_impl.bridge import AgentWebSocketBridge, DeliveryReceipt, create_bridge
from reference_impl.connections import ConnectionManager, LocalConnection, SendsToThread
from reference_impl.eventlog import EventLog
from reference_impl.exceptions import (
    InvalidEventError,
    InvalidResumePoint,
    LifecycleError,
    OrchestratorInitError,
    RegistryConflictError,
    ResyncRequired,
    ThreadResolutionError,
)
from reference_impl.ids import generate_run_id
from reference_impl.lifecycle import check_run_lifecycle, check_thread_sequence
from reference_impl.orchestrator import ReferenceOrchestrator
from reference_impl.registry import ThreadRegistry

THREAD = "thread_a_b_run_c"


@pytest.fixture
def manager() -> ConnectionManager:
    return ConnectionManager()


@pytest_asyncio.fixture
async def bridge(manager: ConnectionManager) -> AgentWebSocketBridge:
    return await create_bridge(connection_manager=manager, orchestrator=ReferenceOrchestrator())


async def bridge_with_log(
    manager: ConnectionManager, **options: Any
) -> tuple[AgentWebSocketBridge, EventLog]:
    """A started bridge whose event log the test can inspect."""
    log = EventLog()
    bridge = await create_bridge(
        connection_manager=manager,
        orchestrator=ReferenceOrchestrator(),
        backend=MemoryBackend(event_log=log),
        **options,
    )
    return bridge, log


def subscribe(manager: ConnectionManager, thread_id: str = THREAD) -> LocalConnection:
    connection = LocalConnection(thread_id, user_id="u1")
    manager.add(connection)
    return connection


async def full_run(bridge: AgentWebSocketBridge, run_id: str) -> list[DeliveryReceipt]:
    return [
        await bridge.notify_agent_started(run_id, "planner", {"question": "why?"}),
        await bridge.notify_agent_thinking(run_id, "planner", "let me see", 1, 10.0),
        await bridge.notify_tool_executing(run_id, "planner", "search", {"q": "why"}),
        await bridge.notify_tool_completed(run_id, "planner", "search", ["because"], 12.5),
        await bridge.notify_custom(run_id, "planner", {"kind": "chart", "points": [1, 2]}),
        await bridge.notify_agent_completed(run_id, "planner", {"answer": 42}, 99.0),
    ]


# -- every notify method -------------------------------------------------------------------


@pytest.mark.asyncio
async def test_every_notify_method_reaches_the_thread(
    bridge: AgentWebSocketBridge, manager: ConnectionManager
) -> None:
    connection = subscribe(manager)
    run_id = generate_run_id(THREAD)
    receipts = await full_run(bridge, run_id)
    assert [r.seq for r in receipts] == [1, 2, 3, 4, 5, 6]
    assert all(r.delivered and r and r.status == "delivered" for r in receipts)
    got = connection.messages
    assert [m["type"] for m in got] == [
        "agent_started",
        "agent_thinking",
        "tool_executing",
        "tool_completed",
        "custom",
        "agent_completed",
    ]
    assert {m["run_id"] for m in got} == {run_id}
    assert {m["thread_id"] for m in got} == {THREAD}
    assert {m["agent_name"] for m in got} == {"planner"}
    assert len({m["epoch"] for m in got}) == 1
    assert got[0]["payload"] == {"context": {"question": "why?"}}
    assert got[1]["payload"] == {
        "reasoning": "let me see",
        "step_number": 1,
        "progress_percentage": 10.0,
    }
    assert got[2]["payload"] == {"tool_name": "search", "parameters": {"q": "why"}}
    assert got[3]["payload"] == {
        "tool_name": "search",
        "result": ["because"],
        "execution_time_ms": 12.5,
    }
    assert got[4]["payload"] == {"kind": "chart", "points": [1, 2]}
    assert got[5]["payload"] == {"result": {"answer": 42}, "execution_time_ms": 99.0}
    assert check_run_lifecycle(got, require_terminal=True) == []
    assert check_thread_sequence(got) == []


@pytest.mark.asyncio
async def test_notify_agent_error(bridge: AgentWebSocketBridge, manager: ConnectionManager) -> None:
    connection = subscribe(manager)
    run_id = generate_run_id(THREAD)
    await bridge.notify_agent_started(run_id, "planner")
    receipt = await bridge.notify_agent_error(
        run_id,
        "planner",
        RuntimeError("tool down"),
        {"tool": "search"},  # type: ignore[arg-type]
    )
    assert receipt.delivered
    assert connection.messages[-1]["type"] == "agent_error"
    assert connection.messages[-1]["payload"] == {
        "error": "tool down",
        "error_context": {"tool": "search"},
    }


# -- resolution -------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_seed_regression_unregistered_legacy_run_id_is_sent_nowhere(
    manager: ConnectionManager,
) -> None:
    """``run_xyz789`` was never registered: raise, and send it to nobody, store it nowhere."""
    bridge, log = await bridge_with_log(manager)
    watchers = [subscribe(manager, t) for t in (THREAD, "run_xyz789", "xyz789", "run", "")]
    await bridge.notify_agent_started(generate_run_id(THREAD), "planner")
    before = {t: log.head(t).head_seq for t in list(log._threads)}
    for notify in (
        bridge.notify_agent_started("run_xyz789", "planner"),
        bridge.notify_agent_thinking("run_xyz789", "planner", "hm"),
        bridge.notify_tool_executing("run_xyz789", "planner", "search"),
        bridge.notify_tool_completed("run_xyz789", "planner", "search"),
        bridge.notify_agent_completed("run_xyz789", "planner"),
        bridge.notify_agent_error("run_xyz789", "planner", "x"),
    ):
        with pytest.raises(ThreadResolutionError) as caught:
            await notify
        assert caught.value.run_id == "run_xyz789"
        assert "never registered" in str(caught.value)
        assert "register_run" in str(caught.value)
    assert [len(w.messages) for w in watchers] == [1, 0, 0, 0, 0]
    assert {t: log.head(t).head_seq for t in list(log._threads)} == before
    assert "run_xyz789" not in before
    assert bridge.metrics.resolution_failures == 6
    assert bridge.metrics.emitted == 1


@pytest.mark.asyncio
async def test_seed_regression_with_the_fake_manager() -> None:
    manager = FakeConnectionManager()
    bridge = await create_bridge(connection_manager=manager, orchestrator=ReferenceOrchestrator())
    manager.bridge = bridge
    connection = await manager.connect("run_xyz789")
    with pytest.raises(ThreadResolutionError):
        await bridge.notify_agent_started("run_xyz789", "planner")
    assert manager.send_calls == 0
    assert connection.messages == []
    assert await bridge.replay("run_xyz789", 0) == []


@pytest.mark.asyncio
@pytest.mark.parametrize("run_id", ["run_thread_x_deadbeef", "thread_x_run_1_zzzzzzzz", "x"])
async def test_foreign_formats_are_never_guessed(bridge: AgentWebSocketBridge, run_id: str) -> None:
    with pytest.raises(ThreadResolutionError):
        await bridge.resolve_thread(run_id)


@pytest.mark.asyncio
async def test_registry_first(bridge: AgentWebSocketBridge, manager: ConnectionManager) -> None:
    connection = subscribe(manager)
    await bridge.register_run("run_xyz789", THREAD)
    receipt = await bridge.notify_agent_started("run_xyz789", "planner")
    assert receipt.delivered
    assert receipt.thread_id == THREAD
    assert connection.messages[0]["run_id"] == "run_xyz789"
    # The registry is asked before the run-id format.
    standard = generate_run_id("encoded")
    await bridge.backend.register(standard, "registered")
    assert await bridge.resolve_thread(standard) == "registered"


@pytest.mark.asyncio
async def test_standard_format_second(bridge: AgentWebSocketBridge) -> None:
    run_id = generate_run_id("t_1_run_2")
    assert await bridge.resolve_thread(run_id) == "t_1_run_2"
    receipt = await bridge.notify_agent_started(run_id, "planner")
    assert receipt.thread_id == "t_1_run_2"


@pytest.mark.asyncio
async def test_expired_registration_is_named(manager: ConnectionManager) -> None:
    now = [0.0]
    backend = MemoryBackend(registry=ThreadRegistry(ttl=10, clock=lambda: now[0]))
    bridge = await create_bridge(
        connection_manager=manager, orchestrator=ReferenceOrchestrator(), backend=backend
    )
    await bridge.register_run("legacy-1", THREAD)
    assert await bridge.resolve_thread("legacy-1") == THREAD
    now[0] = 11
    with pytest.raises(ThreadResolutionError, match="registration expired"):
        await bridge.resolve_thread("legacy-1")


@pytest.mark.asyncio
async def test_many_runs_on_one_thread(
    bridge: AgentWebSocketBridge, manager: ConnectionManager
) -> None:
    connection = subscribe(manager)
    runs = ["legacy-a", "legacy-b", generate_run_id(THREAD)]
    for run_id in runs[:2]:
        await bridge.register_run(run_id, THREAD)
    for run_id in runs:
        await bridge.notify_agent_started(run_id, "planner")
    assert [m["run_id"] for m in connection.messages] == runs
    assert [m["seq"] for m in connection.messages] == [1, 2, 3]


# -- register_run -----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_register_run_conflicts(bridge: AgentWebSocketBridge) -> None:
    await bridge.register_run("legacy", "t1")
    await bridge.register_run("legacy", "t1")  # same thread: fine
    with pytest.raises(RegistryConflictError, match="t1"):
        await bridge.register_run("legacy", "t2")
    standard = generate_run_id("t1")
    await bridge.register_run(standard, "t1")
    with pytest.raises(RegistryConflictError) as caught:
        await bridge.register_run(standard, "t2")
    assert caught.value.registered_thread_id == "t1"
    assert await bridge.resolve_thread(standard) == "t1"


@pytest.mark.asyncio
@pytest.mark.parametrize(("run_id", "thread_id"), [("", "t"), (None, "t"), ("r", ""), ("r", 3)])
async def test_register_run_refuses_bad_ids(
    bridge: AgentWebSocketBridge, run_id: Any, thread_id: Any
) -> None:
    with pytest.raises(ValueError, match="must be a non-empty str"):
        await bridge.register_run(run_id, thread_id)


# -- append before send; receipts -------------------------------------------------------------


@pytest.mark.asyncio
async def test_emitted_with_nobody_connected_is_buffered_and_replayed(
    bridge: AgentWebSocketBridge, manager: ConnectionManager
) -> None:
    run_id = generate_run_id(THREAD)
    receipt = await bridge.notify_agent_started(run_id, "planner")
    assert not receipt
    assert receipt.buffered
    assert receipt.status == "buffered"
    assert (receipt.seq, receipt.thread_id, receipt.run_id) == (1, THREAD, run_id)
    replayed = await bridge.replay(THREAD, 0)
    assert [(m["seq"], m["type"], m["epoch"]) for m in replayed] == [
        (1, "agent_started", receipt.epoch)
    ]
    connection = subscribe(manager)
    second = await bridge.notify_agent_thinking(run_id, "planner", "hm")
    assert second.delivered
    assert second.seq == 2
    assert [m["seq"] for m in connection.messages] == [2]
    assert [m["seq"] for m in await bridge.replay(THREAD, 1, receipt.epoch)] == [2]
    assert bridge.metrics.replayed == 2


@pytest.mark.asyncio
async def test_event_is_in_the_log_when_it_is_sent() -> None:
    seen_in_log: list[list[int]] = []

    class Spy:
        async def send_to_thread(self, thread_id: str, message: dict[str, Any]) -> bool:
            seen_in_log.append([m["seq"] for m in await bridge.replay(thread_id, 0)])
            return False

    bridge = await create_bridge(connection_manager=Spy(), orchestrator=ReferenceOrchestrator())
    run_id = generate_run_id(THREAD)
    await bridge.notify_agent_started(run_id, "planner")
    await bridge.notify_agent_thinking(run_id, "planner", "hm")
    assert seen_in_log == [[1], [1, 2]]


@pytest.mark.asyncio
async def test_replay_errors_pass_through(bridge: AgentWebSocketBridge) -> None:
    run_id = generate_run_id(THREAD)
    await bridge.notify_agent_started(run_id, "planner")
    with pytest.raises(InvalidResumePoint):
        await bridge.replay(THREAD, 5)
    with pytest.raises(ResyncRequired):
        await bridge.replay(THREAD, 0, "another-epoch")
    for bad in (None, "", 7):
        with pytest.raises(ValueError, match="thread_id must be a non-empty str"):
            await bridge.replay(bad, 0)  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_counters(bridge: AgentWebSocketBridge, manager: ConnectionManager) -> None:
    run_id = generate_run_id(THREAD)
    await bridge.notify_agent_started(run_id, "planner")
    subscribe(manager)
    await bridge.notify_agent_thinking(run_id, "planner", "a")
    await bridge.notify_agent_thinking(run_id, "planner", "b")
    with pytest.raises(ThreadResolutionError):
        await bridge.notify_agent_thinking("nobody", "planner", "c")
    with pytest.raises(InvalidEventError):
        await bridge.notify_agent_thinking(run_id, "planner", None)  # type: ignore[arg-type]
    await bridge.replay(THREAD, 0)
    snapshot = bridge.metrics.snapshot()
    assert snapshot["emitted"] == 3
    assert snapshot["delivered"] == 2
    assert snapshot["buffered"] == 1
    assert snapshot["resolution_failures"] == 1
    assert snapshot["rejected_events"] == 1
    assert snapshot["replayed"] == 3
    assert snapshot["emitted"] == snapshot["delivered"] + snapshot["buffered"]


@pytest.mark.asyncio
async def test_refusing_connections_mean_buffered(
    bridge: AgentWebSocketBridge, manager: ConnectionManager
) -> None:
    connection = subscribe(manager)
    connection.close()
    receipt = await bridge.notify_agent_started(generate_run_id(THREAD), "planner")
    assert receipt.buffered
    assert bridge.metrics.buffered == 1


# -- send failures ----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_send_exception_leaves_the_event_buffered(caplog: pytest.LogCaptureFixture) -> None:
    manager = FakeConnectionManager()
    bridge = await create_bridge(connection_manager=manager, orchestrator=ReferenceOrchestrator())
    manager.bridge = bridge
    await manager.connect(THREAD)
    run_id = generate_run_id(THREAD)
    manager.fail_next_sends(1)
    with caplog.at_level(logging.ERROR, logger="reference_impl.bridge"):
        receipt = await bridge.notify_agent_started(run_id, "planner")
    assert receipt.buffered
    assert receipt.seq == 1
    assert "stays buffered" in caplog.text
    assert bridge.metrics.send_errors == 1
    assert bridge.metrics.buffered == 1
    assert (await bridge.notify_agent_thinking(run_id, "planner", "hm")).delivered
    late = await manager.connect(THREAD, last_seq=0)
    assert [m["seq"] for m in late.messages] == [1, 2]


@pytest.mark.asyncio
async def test_cancelled_send_is_counted_as_buffered_and_propagates() -> None:
    entered = asyncio.Event()

    class Stuck:
        async def send_to_thread(self, thread_id: str, message: dict[str, Any]) -> bool:
            entered.set()
            await asyncio.Event().wait()
            return True

    bridge = await create_bridge(connection_manager=Stuck(), orchestrator=ReferenceOrchestrator())
    run_id = generate_run_id(THREAD)
    task = asyncio.ensure_future(bridge.notify_agent_started(run_id, "a"))
    await asyncio.wait_for(entered.wait(), 2)
    # A second emit on the thread waits for the first; cancelling it while it waits is clean.
    waiting = asyncio.ensure_future(bridge.notify_agent_thinking(run_id, "a", "queued"))
    for _ in range(5):
        await asyncio.sleep(0)
    assert bridge._thread_locks[THREAD][1] == 2
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert bridge._thread_locks[THREAD][1] == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert bridge.metrics.emitted == bridge.metrics.buffered == 1
    assert [m["seq"] for m in await bridge.replay(THREAD, 0)] == [1]
    assert bridge._thread_locks == {}


# -- invalid input ----------------------------------------------------------------------------


class Unserializable:
    pass


BAD_CALLS: list[tuple[str, tuple[Any, ...], str]] = [
    ("notify_agent_started", (None, "a"), "run_id must be a non-empty str"),
    ("notify_agent_started", ("", "a"), "run_id must be a non-empty str"),
    ("notify_agent_started", (123, "a"), "run_id must be a non-empty str"),
    ("notify_agent_started", (b"run", "a"), "run_id must be a non-empty str"),
    ("notify_agent_started", ("RUN", ""), "agent_name"),
    ("notify_agent_started", ("RUN", None), "agent_name"),
    ("notify_agent_started", ("RUN", "a", {"x": Unserializable()}), "JSON"),
    ("notify_agent_started", ("RUN", "a", "not a dict"), "invalid agent_started"),
    ("notify_agent_thinking", ("RUN", "a", None), "invalid agent_thinking"),
    ("notify_agent_thinking", ("RUN", "a", "r", None, 150), "invalid agent_thinking"),
    ("notify_tool_executing", ("RUN", "a", None), "invalid tool_executing"),
    ("notify_tool_completed", ("RUN", "a", "t", Unserializable()), "invalid tool_completed"),
    ("notify_tool_completed", ("RUN", "a", "t", b"\xff\xfe"), "invalid tool_completed"),
    ("notify_agent_completed", ("RUN", "a", {1, Unserializable()}), "invalid agent_completed"),
    ("notify_agent_completed", ("RUN", "a", None, -1), "invalid agent_completed"),
    ("notify_agent_error", ("RUN", "a", "e", {"x": Unserializable()}), "invalid agent_error"),
    ("notify_custom", ("RUN", "a", ["not", "a", "dict"]), "must be a dict"),
    ("notify_agent_completed", ("RUN", "a", "x" * 2000), "max_payload_bytes"),
    ("notify_custom", ("RUN", "a", {"blob": "y" * 2000}), "max_payload_bytes"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("method", "args", "message"), BAD_CALLS)
async def test_invalid_input_is_refused_and_nothing_is_stored(
    manager: ConnectionManager, method: str, args: tuple[Any, ...], message: str
) -> None:
    bridge, log = await bridge_with_log(manager, max_payload_bytes=1024)
    connection = subscribe(manager)
    run_id = generate_run_id(THREAD)
    args = tuple(run_id if a == "RUN" else a for a in args)
    await bridge.notify_agent_started(run_id, "planner")
    with pytest.raises(InvalidEventError, match=message):
        await getattr(bridge, method)(*args)
    assert log.head(THREAD).head_seq == 1
    assert len(connection.messages) == 1
    assert bridge.metrics.emitted == 1
    assert bridge.metrics.rejected_events == 1
    # The bridge keeps working.
    receipt = await bridge.notify_agent_completed(run_id, "planner", "ok")
    assert receipt.delivered
    assert receipt.seq == 2


@pytest.mark.asyncio
async def test_payload_limit_counts_the_whole_event(manager: ConnectionManager) -> None:
    bridge = AgentWebSocketBridge(
        connection_manager=manager, orchestrator=ReferenceOrchestrator(), max_payload_bytes=400
    )
    run_id = generate_run_id(THREAD)
    await bridge.notify_custom(run_id, "a", {"x": "y" * 100})
    with pytest.raises(InvalidEventError, match="bytes"):
        await bridge.notify_custom(run_id, "a", {"x": "é" * 200})  # 400 bytes of UTF-8


# -- lifecycle --------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_lifecycle_warn_counts_logs_and_delivers(
    bridge: AgentWebSocketBridge, manager: ConnectionManager, caplog: pytest.LogCaptureFixture
) -> None:
    connection = subscribe(manager)
    run_id = generate_run_id(THREAD)
    with caplog.at_level(logging.WARNING, logger="reference_impl.bridge"):
        await bridge.notify_agent_thinking(run_id, "a", "before start")
        await bridge.notify_agent_started(run_id, "a")
        await bridge.notify_tool_completed(run_id, "a", "search")
        await bridge.notify_agent_completed(run_id, "a")
        await bridge.notify_agent_thinking(run_id, "a", "after end")
    assert len(connection.messages) == 5
    assert bridge.metrics.lifecycle_violations == 3
    assert "started-first" in caplog.text
    assert "tool-pairing" in caplog.text
    assert "after-terminal" in caplog.text


@pytest.mark.asyncio
async def test_lifecycle_strict_raises_and_stores_nothing(manager: ConnectionManager) -> None:
    bridge = await create_bridge(
        connection_manager=manager, orchestrator=ReferenceOrchestrator(), lifecycle_policy="strict"
    )
    connection = subscribe(manager)
    run_id = generate_run_id(THREAD)
    with pytest.raises(LifecycleError, match="started-first"):
        await bridge.notify_agent_thinking(run_id, "a", "early")
    await bridge.notify_agent_started(run_id, "a")
    with pytest.raises(LifecycleError, match="tool-pairing"):
        await bridge.notify_tool_completed(run_id, "a", "search")
    await bridge.notify_tool_executing(run_id, "a", "search")
    await bridge.notify_tool_completed(run_id, "a", "search")
    await bridge.notify_agent_error(run_id, "a", "boom")
    with pytest.raises(LifecycleError, match="after-terminal"):
        await bridge.notify_agent_completed(run_id, "a")
    assert [m["type"] for m in connection.messages] == [
        "agent_started",
        "tool_executing",
        "tool_completed",
        "agent_error",
    ]
    assert [m["seq"] for m in connection.messages] == [1, 2, 3, 4]
    assert bridge.metrics.lifecycle_violations == 3
    assert bridge._thread_locks == {}


@pytest.mark.asyncio
async def test_lifecycle_off(manager: ConnectionManager) -> None:
    bridge = AgentWebSocketBridge(
        connection_manager=manager, orchestrator=ReferenceOrchestrator(), lifecycle_policy="off"
    )
    await bridge.notify_agent_completed(generate_run_id(THREAD), "a")
    assert bridge.metrics.lifecycle_violations == 0


@pytest.mark.asyncio
async def test_lifecycle_state_advances_only_for_stored_events(manager: ConnectionManager) -> None:
    class Down(MemoryBackend):
        fail = True

        async def append(self, draft: Any) -> Any:
            if self.fail:
                raise ConnectionError("store down")
            return await super().append(draft)

    backend = Down()
    bridge = AgentWebSocketBridge(
        connection_manager=manager,
        orchestrator=ReferenceOrchestrator(),
        backend=backend,
        lifecycle_policy="strict",
    )
    run_id = generate_run_id(THREAD)
    with pytest.raises(ConnectionError):
        await bridge.notify_agent_started(run_id, "a")
    backend.fail = False
    await bridge.notify_agent_started(run_id, "a")  # not "a second agent_started"
    assert bridge.metrics.emitted == 1


@pytest.mark.asyncio
async def test_tracked_runs_are_bounded_least_recently_used_out(
    manager: ConnectionManager,
) -> None:
    bridge = AgentWebSocketBridge(
        connection_manager=manager,
        orchestrator=ReferenceOrchestrator(),
        lifecycle_policy="strict",
        max_tracked_runs=2,
    )
    a, b, c = (generate_run_id(f"t{n}") for n in range(3))
    await bridge.notify_agent_started(a, "x")
    await bridge.notify_agent_started(b, "x")
    await bridge.notify_agent_thinking(a, "x", "still running")  # a is recent again
    await bridge.notify_agent_started(c, "x")  # evicts b, not a
    await bridge.notify_agent_thinking(a, "x", "a is still known")
    assert list(bridge._runs) == [c, a]


# -- ordering under concurrency ---------------------------------------------------------------


@pytest.mark.asyncio
async def test_concurrent_emits_reach_the_connection_in_seq_order() -> None:
    class Jittery:
        """Delays the first send, so an unserialised bridge would overtake it."""

        def __init__(self) -> None:
            self.received: list[int] = []
            self.calls = 0

        async def send_to_thread(self, thread_id: str, message: dict[str, Any]) -> bool:
            self.calls += 1
            if self.calls == 1:
                await asyncio.sleep(0.05)
            self.received.append(message["seq"])
            return True

    manager = Jittery()
    bridge = await create_bridge(connection_manager=manager, orchestrator=ReferenceOrchestrator())
    run_id = generate_run_id(THREAD)
    other = generate_run_id("other")
    receipts = await asyncio.wait_for(
        asyncio.gather(
            bridge.notify_agent_started(run_id, "a"),
            *(bridge.notify_agent_thinking(run_id, "a", str(n)) for n in range(20)),
            bridge.notify_agent_started(other, "a"),
        ),
        5,
    )
    assert [r.seq for r in receipts[:21]] == list(range(1, 22))
    thread_seqs = [s for s in manager.received]
    assert thread_seqs.count(1) == 2  # one per thread
    assert [s for s in thread_seqs if s != 1] == list(range(2, 22))
    assert manager.received[0] == 1
    assert bridge._thread_locks == {}


@pytest.mark.asyncio
async def test_many_threads_concurrently_keep_contiguous_seqs(manager: ConnectionManager) -> None:
    bridge = await create_bridge(connection_manager=manager, orchestrator=ReferenceOrchestrator())
    threads = [f"t_{n}" for n in range(10)]
    connections = {t: subscribe(manager, t) for t in threads}

    async def run(thread_id: str) -> None:
        run_id = generate_run_id(thread_id)
        await bridge.notify_agent_started(run_id, "a")
        for step in range(10):
            await bridge.notify_agent_thinking(run_id, "a", str(step))
        await bridge.notify_agent_completed(run_id, "a")

    await asyncio.wait_for(asyncio.gather(*(run(t) for t in threads)), 10)
    for thread_id, connection in connections.items():
        assert check_thread_sequence(connection.messages) == []
        assert len(connection.messages) == 12
        assert {m["thread_id"] for m in connection.messages} == {thread_id}


# -- construction -----------------------------------------------------------------------------


def test_construction_refuses_a_missing_orchestrator(manager: ConnectionManager) -> None:
    with pytest.raises(OrchestratorInitError, match="orchestrator is None"):
        AgentWebSocketBridge(connection_manager=manager, orchestrator=None)


def test_construction_refuses_a_missing_manager() -> None:
    with pytest.raises(TypeError, match="connection_manager is required"):
        AgentWebSocketBridge(
            connection_manager=None,  # type: ignore[arg-type]
            orchestrator=ReferenceOrchestrator(),
        )


def test_construction_refuses_an_unknown_lifecycle_policy(manager: ConnectionManager) -> None:
    with pytest.raises(ValueError, match="lifecycle_policy must be"):
        AgentWebSocketBridge(
            connection_manager=manager,
            orchestrator=ReferenceOrchestrator(),
            lifecycle_policy="loose",  # type: ignore[arg-type]
        )


def test_the_old_lifecycle_keyword_still_works_and_says_its_new_name(
    manager: ConnectionManager,
) -> None:
    with pytest.warns(DeprecationWarning, match="now lifecycle_policy"):
        bridge = AgentWebSocketBridge(
            connection_manager=manager, orchestrator=ReferenceOrchestrator(), lifecycle="strict"
        )
    assert bridge.lifecycle_policy == "strict"
    assert bridge.lifecycle_mode == "strict"
    with pytest.raises(ValueError, match="pass lifecycle_policy only"):
        AgentWebSocketBridge(
            connection_manager=manager,
            orchestrator=ReferenceOrchestrator(),
            lifecycle="off",
            lifecycle_policy="warn",
        )
    assert (
        AgentWebSocketBridge(
            connection_manager=manager, orchestrator=ReferenceOrchestrator()
        ).lifecycle_policy
        == "warn"
    )


@pytest.mark.asyncio
async def test_start_and_close(manager: ConnectionManager) -> None:
    closed: list[bool] = []

    class Backend(MemoryBackend):
        async def close(self) -> None:
            closed.append(True)

    bridge = AgentWebSocketBridge(
        connection_manager=manager, orchestrator=ReferenceOrchestrator(), backend=Backend()
    )
    assert not bridge.started
    await bridge.start(init_timeout=1)
    assert bridge.started
    await bridge.close()
    assert closed == [True]


class _SharedMemory(MemoryBackend):
    """A backend of several nodes, as far as create_bridge can tell: it starts a fan-out."""

    def __init__(self) -> None:
        super().__init__()
        self.fanouts: list[_Fanout] = []
        self.closed = False

    async def start_fanout(self, connection_manager: SendsToThread) -> _Fanout:
        fanout = _Fanout(connection_manager)
        self.fanouts.append(fanout)
        return fanout

    async def close(self) -> None:
        self.closed = True


class _Fanout:
    def __init__(self, local: SendsToThread) -> None:
        self.local = local
        self.sent: list[int] = []
        self.closed = False

    async def send_to_thread(self, thread_id: str, message: dict[str, Any]) -> bool:
        self.sent.append(message["seq"])
        return await self.local.send_to_thread(thread_id, message)

    async def close(self) -> None:
        self.closed = True


@pytest.mark.asyncio
async def test_a_shared_backend_gets_its_fanout_started_and_the_bridge_sends_through_it(
    manager: ConnectionManager,
) -> None:
    backend = _SharedMemory()
    assert isinstance(backend, SharedBackend)
    assert not isinstance(MemoryBackend(), SharedBackend)
    bridge = await create_bridge(
        connection_manager=manager, orchestrator=ReferenceOrchestrator(), backend=backend
    )
    (fanout,) = backend.fanouts
    assert bridge.fanout is fanout
    assert fanout.local is manager
    connection = LocalConnection("t_shared")
    manager.add(connection)
    assert await bridge.notify_custom(generate_run_id("t_shared"), "agent", {"n": 1})
    assert fanout.sent == [1]
    assert [m["seq"] for m in connection.messages] == [1]
    await bridge.close()
    assert fanout.closed
    assert backend.closed


@pytest.mark.asyncio
async def test_a_bridge_that_fails_to_start_releases_its_fanout_and_backend(
    manager: ConnectionManager,
) -> None:
    backend = _SharedMemory()
    with pytest.raises(OrchestratorInitError):
        await create_bridge(
            connection_manager=manager, orchestrator=UnhealthyOrchestrator(), backend=backend
        )
    assert backend.fanouts[0].closed
    assert backend.closed  # the bridge owns its backend, also when it did not start


@pytest.mark.asyncio
async def test_create_bridge_builds_a_backend_from_a_url(manager: ConnectionManager) -> None:
    bridge = await create_bridge(
        connection_manager=manager, orchestrator=ReferenceOrchestrator(), backend="memory://"
    )
    assert isinstance(bridge.backend, MemoryBackend)
    assert bridge.fanout is None
    await bridge.close()
    with pytest.raises(ValueError, match=r"unknown backend URL 'postgres://x'.*redis://"):
        await create_bridge(
            connection_manager=manager, orchestrator=ReferenceOrchestrator(), backend="postgres://x"
        )
    with pytest.raises(ValueError, match="expected one of memory://"):
        open_backend("127.0.0.1:6379")
    with pytest.raises(ValueError, match="memory:// takes no options"):
        open_backend("memory://", max_events=3)


@pytest.mark.asyncio
async def test_create_bridge_passes_options(manager: ConnectionManager) -> None:
    backend = MemoryBackend()
    bridge = await create_bridge(
        connection_manager=manager,
        orchestrator=ReferenceOrchestrator(),
        backend=backend,
        max_payload_bytes=10,
        lifecycle_policy="off",
    )
    assert bridge.started
    assert bridge.backend is backend
    assert bridge.max_payload_bytes == 10
    assert bridge.lifecycle_policy == "off"
    with pytest.raises(TypeError):
        await create_bridge(
            connection_manager=manager, orchestrator=ReferenceOrchestrator(), colour="red"
        )
    with (
        pytest.warns(DeprecationWarning, match="deprecated"),
        pytest.raises(ValueError, match="need a redis_url"),
    ):
        await create_bridge(
            connection_manager=manager,
            orchestrator=ReferenceOrchestrator(),
            redis_options={"prefix": "x"},
        )
    with (
        pytest.warns(DeprecationWarning, match="deprecated"),
        pytest.raises(ValueError, match="either backend or"),
    ):
        await create_bridge(
            connection_manager=manager,
            orchestrator=ReferenceOrchestrator(),
            backend=backend,
            redis_url="redis://127.0.0.1:1",
        )
