"""``SeqGate.take_next``: the fan-out's fast path decides exactly as ``push`` does."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from reference_impl.subscription import SeqGate, Step


def ev(seq: Any, epoch: Any = "e1") -> dict[str, Any]:
    return {"type": "custom", "seq": seq, "epoch": epoch}


def test_only_the_next_seq_of_the_same_epoch_is_taken() -> None:
    gate = SeqGate(2, "e1")
    for refused in (ev(2), ev(4), ev(3, "e2"), ev(3, None), {"type": "custom"}, ev(True)):
        assert not gate.take_next(refused)
        assert gate.last_seq == 2
    assert gate.take_next(ev(3))
    assert gate.last_seq == 3
    assert gate.push(ev(3)) == Step()  # a repeat is still a duplicate for push


def test_a_gate_without_a_resume_point_or_while_holding_defers_to_push() -> None:
    assert not SeqGate(None, "e1").take_next(ev(1))
    assert not SeqGate(0, None).take_next(ev(1))
    holding = SeqGate(0, "e1", holding=True)
    assert not holding.take_next(ev(1))
    assert holding.held == 0


messages = st.builds(
    ev,
    st.one_of(st.integers(min_value=0, max_value=12), st.none(), st.just(True)),
    st.sampled_from(["e1", "e2", None]),
)


@given(
    last_seq=st.one_of(st.none(), st.integers(min_value=0, max_value=5)),
    epoch=st.sampled_from(["e1", None]),
    stream=st.lists(messages, max_size=30),
)
def test_take_next_then_push_delivers_what_push_alone_delivers(
    last_seq: int | None, epoch: str | None, stream: list[dict[str, Any]]
) -> None:
    fast, plain = SeqGate(last_seq, epoch), SeqGate(last_seq, epoch)
    for message in stream:
        expected = plain.push(message)
        got = Step(deliver=[message]) if fast.take_next(message) else fast.push(message)
        assert got == expected
        assert (fast.last_seq, fast.epoch, fast.held) == (plain.last_seq, plain.epoch, plain.held)
