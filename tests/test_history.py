"""History adapters: the reference backend, a bridge with only replay, no history."""

from __future__ import annotations

from typing import Any

import pytest

from reference_impl import ConnectionManager, ReferenceOrchestrator, create_bridge
from reference_impl.exceptions import InvalidResumePoint, ResyncRequired
from reference_impl.history import BridgeHistory, NoHistory, ReplayHistory, history_for
from reference_impl.ids import generate_run_id


class Replaying:
    def __init__(self, events: list[Any]) -> None:
        self.events = events

    def replay(self, thread_id: str, after_seq: int) -> list[Any]:
        return [
            e
            for e in self.events
            if not isinstance(e, dict) or e.get("seq", after_seq + 1) > after_seq
        ]


@pytest.mark.asyncio
async def test_the_reference_bridge_is_served_from_its_backend() -> None:
    bridge = await create_bridge(
        connection_manager=ConnectionManager(), orchestrator=ReferenceOrchestrator()
    )
    history = history_for(bridge)
    assert isinstance(history, BridgeHistory)
    run_id = generate_run_id("t")
    for _ in range(3):
        await bridge.notify_custom(run_id, "a", {})
    head = await history.head("t")
    assert head.head_seq == 3
    assert [e["seq"] for e in await history.read_after("t", 1, head.epoch)] == [2, 3]
    with pytest.raises(ResyncRequired):
        await history.read_after("t", 1, "other")
    with pytest.raises(InvalidResumePoint):
        await history.read_after("t", 4)
    await bridge.close()


@pytest.mark.asyncio
async def test_replay_history_derives_epoch_and_head_from_the_events() -> None:
    events = [{"seq": s, "epoch": "e"} for s in (1, 2, 3)]
    history = history_for(Replaying(events))
    assert isinstance(history, ReplayHistory)
    head = await history.head("t")
    assert (head.epoch, head.head_seq) == ("e", 3)
    assert await history.read_after("t", 1, "e") == events[1:]
    assert await history.read_after("t", 3) == []
    with pytest.raises(ResyncRequired, match="epoch changed"):
        await history.read_after("t", 1, "f")
    with pytest.raises(InvalidResumePoint):
        await history.read_after("t", 4)
    with pytest.raises(ResyncRequired, match="trimmed"):
        await ReplayHistory(Replaying(events[2:])).read_after("t", 0)


@pytest.mark.asyncio
async def test_replay_history_of_unnumbered_events_has_an_unknown_epoch() -> None:
    history = ReplayHistory(Replaying(['{"type": "note"}', {"type": "note"}]))
    head = await history.head("t")
    assert (head.epoch, head.head_seq) == ("", 0)
    assert await history.read_after("t", 0, "whatever") == [{"type": "note"}] * 2


@pytest.mark.asyncio
async def test_no_history_answers_every_resume_with_a_resync() -> None:
    history = history_for(object())
    assert isinstance(history, NoHistory)
    assert await history.head("t") is None
    with pytest.raises(ResyncRequired, match="no history"):
        await history.read_after("t", 0)
