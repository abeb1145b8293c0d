"""The fakes the plugin injects faults with: a truthful manager and orchestrator stand-ins."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from pytest_wsbridge.fakes import (
    Delivery,
    FakeConnectionManager,
    HangingOrchestrator,
    ReplayUnsupported,
    UnhealthyOrchestrator,
    normalize_message,
)
from reference_impl import (
    InvalidResumePoint,
    ReferenceOrchestrator,
    create_bridge,
    generate_run_id,
)
from reference_impl.events import EventDraft


def msg(seq: int, thread_id: str = "t") -> dict[str, Any]:
    return {"type": "agent_thinking", "thread_id": thread_id, "seq": seq}


class ListBridge:
    """A bridge stand-in whose replay returns the stored messages after a seq."""

    def __init__(self) -> None:
        self.stored: list[dict[str, Any]] = []

    def replay(self, thread_id: str, after_seq: int) -> list[dict[str, Any]]:
        return [m for m in self.stored if m["seq"] > after_seq]


@pytest.mark.asyncio
async def test_send_is_truthful() -> None:
    manager = FakeConnectionManager()
    assert await manager.send_to_thread("t", msg(1)) is False
    connection = await manager.connect("t")
    assert await manager.send_to_thread("t", msg(1)) is True
    assert await manager.send_to_thread("other", msg(1)) is False
    await connection.close()
    assert await manager.send_to_thread("t", msg(2)) is False
    assert connection.messages == [msg(1)]
    assert manager.send_calls == 4
    assert manager.connections("t") == []


@pytest.mark.asyncio
async def test_deliveries_are_recorded_and_reported() -> None:
    seen: list[Delivery] = []
    manager = FakeConnectionManager(on_delivery=seen.append)
    a = await manager.connect("t", user_id="alice")
    b = await manager.connect("t")
    await manager.send_to_thread("t", msg(1))
    assert [d.connection for d in seen] == [a, b]
    assert manager.messages_for("t") == [msg(1), msg(1)]
    assert manager.messages_for("other") == []
    assert a.user_id == "alice"
    assert a.live
    assert a.last_seq == 1


@pytest.mark.asyncio
async def test_dropped_connection_swallows_messages() -> None:
    manager = FakeConnectionManager()
    connection = await manager.connect("t")
    manager.drop(connection)
    assert await manager.send_to_thread("t", msg(1)) is True  # the lie a broken socket tells
    assert connection.messages == []
    assert connection.live


@pytest.mark.asyncio
async def test_injected_failures_and_latency() -> None:
    manager = FakeConnectionManager()
    await manager.connect("t")
    manager.fail_next_sends(2)
    for _ in range(2):
        with pytest.raises(ConnectionError, match="injected"):
            await manager.send_to_thread("t", msg(1))
    assert await manager.send_to_thread("t", msg(1)) is True
    manager.fail_next_sends(1, lambda: TimeoutError("slow"))
    with pytest.raises(TimeoutError, match="slow"):
        await manager.send_to_thread("t", msg(2))
    manager.latency = 0.01
    assert await manager.send_to_thread("t", msg(3)) is True


@pytest.mark.asyncio
async def test_resume_replays_then_goes_live_without_overlap() -> None:
    manager = FakeConnectionManager()
    bridge = ListBridge()
    bridge.stored = [msg(1), msg(2), msg(3)]
    manager.bridge = bridge
    connection = await manager.connect("t", last_seq=1)
    assert [m["seq"] for m in connection.messages] == [2, 3]
    assert connection.resumed_from == 1
    await manager.send_to_thread("t", msg(4))
    assert [m["seq"] for m in connection.messages] == [2, 3, 4]


@pytest.mark.asyncio
async def test_live_sends_during_replay_are_held_and_deduplicated() -> None:
    manager = FakeConnectionManager()

    class SlowBridge(ListBridge):
        async def replay(  # type: ignore[override]
            self, thread_id: str, after_seq: int
        ) -> list[dict[str, Any]]:
            # A live event arrives while the replay is being read.
            await manager.send_to_thread("t", msg(3))
            await manager.send_to_thread("t", msg(4))
            return [m for m in [msg(2), msg(3)] if m["seq"] > after_seq]

    manager.bridge = SlowBridge()
    connection = await manager.connect("t", last_seq=1)
    assert [m["seq"] for m in connection.messages] == [2, 3, 4]


@pytest.mark.asyncio
async def test_reconnect_resumes_from_the_last_seq() -> None:
    manager = FakeConnectionManager()
    bridge = ListBridge()
    manager.bridge = bridge
    first = await manager.connect("t", user_id="u")
    bridge.stored.append(msg(1))
    await manager.send_to_thread("t", msg(1))
    await first.close()
    bridge.stored += [msg(2), msg(3)]
    second = await first.reconnect()
    assert second is not first
    assert second.user_id == "u"
    assert second.resumed_from == 1
    assert [m["seq"] for m in second.messages] == [2, 3]
    fresh = await manager.connect("t")
    assert (await fresh.reconnect()).resumed_from == 0


@pytest.mark.asyncio
async def test_resume_without_replay_raises_and_registers_nothing() -> None:
    manager = FakeConnectionManager()
    with pytest.raises(ReplayUnsupported, match="has no replay"):
        await manager.connect("t", last_seq=0)
    assert manager.connections("t") == []


@pytest.mark.asyncio
async def test_resume_against_the_reference_bridge() -> None:
    manager = FakeConnectionManager()
    bridge = await create_bridge(connection_manager=manager, orchestrator=ReferenceOrchestrator())
    manager.bridge = bridge
    run_id = generate_run_id("t")
    await bridge.notify_agent_started(run_id, "a")
    await bridge.notify_agent_thinking(run_id, "a", "x")
    late = await manager.connect("t", last_seq=0)
    assert [m["seq"] for m in late.messages] == [1, 2]
    with pytest.raises(InvalidResumePoint, match="beyond the head seq 2"):
        await manager.connect("t", last_seq=5)
    assert manager.connections("t") == [late]


@pytest.mark.asyncio
async def test_wait_for() -> None:
    manager = FakeConnectionManager()
    connection = await manager.connect("t")

    async def later() -> None:
        await asyncio.sleep(0)
        await manager.send_to_thread("t", msg(1))
        await manager.send_to_thread("t", msg(2))

    task = asyncio.ensure_future(later())
    assert [m["seq"] for m in await connection.wait_for(2, timeout=2)] == [1, 2]
    await task
    with pytest.raises(TimeoutError, match="got 2 of 3 messages"):
        await connection.wait_for(3, timeout=0.01)


def test_normalize_message() -> None:
    assert normalize_message(msg(1)) == msg(1)
    assert normalize_message(json.dumps(msg(2))) == msg(2)
    assert normalize_message(json.dumps(msg(3)).encode()) == msg(3)
    model = EventDraft.build(
        "agent_thinking", thread_id="t", run_id="r", agent_name="a", payload={"reasoning": "x"}
    )
    assert normalize_message(model)["thread_id"] == "t"
    for bad in (json.dumps([1]), 5, None):
        with pytest.raises(TypeError, match="send_to_thread takes a dict"):
            normalize_message(bad)


def test_unhealthy_orchestrator_raises_everywhere() -> None:
    orchestrator = UnhealthyOrchestrator()
    with pytest.raises(ConnectionError, match="health_check"):
        orchestrator.health_check()
    with pytest.raises(ConnectionError, match="get_thread_id_for_run"):
        orchestrator.get_thread_id_for_run("r")
    with pytest.raises(AttributeError):
        orchestrator.__wrapped__  # noqa: B018


@pytest.mark.asyncio
async def test_hanging_orchestrator_hangs_until_released() -> None:
    orchestrator = HangingOrchestrator()
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(orchestrator.health_check(), 0.05)
    pending = asyncio.ensure_future(orchestrator.get_thread_id_for_run("r"))
    await asyncio.sleep(0)
    assert not pending.done()
    orchestrator.release()
    assert await asyncio.wait_for(pending, 1) is None
    with pytest.raises(AttributeError):
        orchestrator.__wrapped__  # noqa: B018
    HangingOrchestrator().release()  # releasing before any call is harmless
