"""The seq gate: each event once, in order; gaps filled from history; epochs; pass-through."""

from __future__ import annotations

from typing import Any

import pytest

from reference_impl.subscription import GateOverflow, SeqGate, Step


def ev(seq: int, epoch: str = "e1") -> dict[str, Any]:
    return {"type": "custom", "seq": seq, "epoch": epoch}


def seqs(step: Step) -> list[int]:
    return [m["seq"] for m in step.deliver]


def test_in_order_events_pass_and_duplicates_drop() -> None:
    gate = SeqGate(2, "e1")
    assert seqs(gate.push(ev(3))) == [3]
    assert gate.push(ev(3)) == Step()
    assert gate.push(ev(1)) == Step()
    assert gate.duplicates == 2
    assert seqs(gate.push(ev(4))) == [4]
    assert gate.last_seq == 4


def test_a_gap_holds_and_asks_for_history_then_fill_releases_in_order() -> None:
    gate = SeqGate(1, "e1")
    step = gate.push(ev(4))
    assert step == Step(fetch_after=1)
    assert gate.holding
    assert gate.push(ev(5)) == Step()  # held behind the gap
    assert gate.held == 2
    step = gate.fill([ev(2), ev(3), ev(4)])
    assert seqs(step) == [2, 3, 4, 5]
    assert step.fetch_after is None
    assert not gate.holding
    assert seqs(gate.push(ev(6))) == [6]


def test_a_fill_that_cannot_close_the_gap_asks_again() -> None:
    gate = SeqGate(1, "e1")
    gate.push(ev(5))
    step = gate.fill([ev(2)])
    assert seqs(step) == [2]
    assert step.fetch_after == 2
    assert gate.holding
    assert seqs(gate.fill([ev(3), ev(4)])) == [3, 4, 5]


def test_resume_holds_live_events_and_merges_them_with_the_replay() -> None:
    gate = SeqGate(3, "e1", holding=True)
    for seq in (5, 6, 7):  # live, during the log read; 5 and 6 are also in the replay
        assert gate.push(ev(seq)) == Step()
    step = gate.fill([ev(4), ev(5), ev(6)])
    assert seqs(step) == [4, 5, 6, 7]
    assert gate.last_seq == 7


def test_a_fresh_gate_anchors_on_the_head_and_drops_what_it_covers() -> None:
    gate = SeqGate(None, holding=True)
    gate.push(ev(10))
    gate.push(ev(11))
    step = gate.fill([], head_seq=10)
    assert seqs(step) == [11]
    assert gate.duplicates == 1
    assert gate.epoch == "e1"


def test_a_gate_without_history_anchors_on_the_first_event() -> None:
    gate = SeqGate()
    assert seqs(gate.push(ev(7))) == [7]
    assert seqs(gate.push(ev(8))) == [8]
    holding = SeqGate(holding=True)
    holding.push(ev(4))
    holding.push(ev(3))
    assert seqs(holding.fill([])) == [3, 4]


def test_unnumbered_messages_pass_through_and_wait_while_holding() -> None:
    gate = SeqGate(0, holding=True)
    note = {"type": "note"}
    assert gate.push(note) == Step()
    assert gate.push({"type": "x", "seq": True}) == Step()  # bool is no seq
    assert gate.fill([ev(1)]).deliver == [ev(1), note, {"type": "x", "seq": True}]
    assert gate.push(note).deliver == [note]


def test_another_epoch_asks_for_a_resync() -> None:
    gate = SeqGate(5, "e1")
    assert gate.push(ev(6, "e2")) == Step(resync=True)
    # history of another epoch is ignored, never merged
    gate = SeqGate(1, "e1", holding=True)
    assert seqs(gate.fill([ev(2, "e2"), ev(2)])) == [2]


def test_too_many_held_events_overflow() -> None:
    gate = SeqGate(0, holding=True, max_held=2)
    gate.push(ev(1))
    gate.push({"type": "note"})
    with pytest.raises(GateOverflow):
        gate.push(ev(2))


def test_check_head_asks_a_gate_behind_the_head_for_history_and_holds() -> None:
    gate = SeqGate(2, "e1")
    assert gate.check_head("e1", 2) == Step()  # level with the log: nothing to do
    assert gate.check_head("e1", 5) == Step(fetch_after=2)
    assert gate.holding
    assert gate.push(ev(6)) == Step()  # live events wait behind the fill
    assert gate.check_head("e1", 6) == Step()  # already reading: left alone
    assert seqs(gate.fill([ev(3), ev(4), ev(5)])) == [3, 4, 5, 6]


def test_check_head_of_another_epoch_asks_for_a_resync() -> None:
    gate = SeqGate(7, "e1")
    assert gate.check_head("e2", 0) == Step(resync=True)
    assert gate.check_head("e2", 9) == Step(resync=True)
    assert not gate.holding
    assert (gate.last_seq, gate.epoch) == (7, "e1")


def test_check_head_of_a_gate_ahead_of_a_stale_head_does_nothing() -> None:
    gate = SeqGate(5, "e1")
    assert gate.check_head("e1", 3) == Step()
    assert not gate.holding


def test_has_delivered_says_what_push_would_drop_as_a_duplicate() -> None:
    gate = SeqGate(3, "e1")
    assert [gate.has_delivered(seq, "e1") for seq in (1, 3, 4)] == [True, True, False]
    assert not gate.has_delivered(2, "e2")  # another epoch: push asks for a resync
    assert gate.push(ev(3)) == Step()  # agrees with push
    assert not SeqGate().has_delivered(1, "e1")  # not anchored: push would deliver it
    gate.push(ev(6))  # a gap: holding
    assert gate.holding
    assert not gate.has_delivered(2, "e1")  # holding: push decides


def test_gates_holding_at_once_never_share_what_they_hold() -> None:
    # An idle gate holds nothing without a dict or list of its own; the first event it holds
    # gets it one. Two gates holding at once must not see each other's events.
    first, second = SeqGate(1, "e1"), SeqGate(1, "e1", holding=True)
    first.push(ev(4))
    second.push(ev(3))
    second.push({"type": "custom"})
    assert first.held == 1
    assert second.held == 2
    assert [m.get("seq") for m in second.fill([ev(2)]).deliver] == [2, 3, None]
    assert seqs(first.fill([ev(2), ev(3)])) == [2, 3, 4]
    assert first.held == second.held == 0
    assert SeqGate().held == 0
