"""A thread's sequence: seq contiguity, gaps, duplicates and resume points."""

from __future__ import annotations

from typing import Any

import pytest

from reference_impl import lifecycle
from reference_impl.lifecycle import LifecycleViolation
from reference_impl.sequence import SequenceViolation, check_thread_sequence
from reference_impl.violations import RuleViolation


def rules(violations: list[SequenceViolation]) -> list[tuple[str, int]]:
    return [(v.rule, v.index) for v in violations]


def seqs(*numbers: object) -> list[dict[str, Any]]:
    return [{"type": "agent_thinking", "seq": n} for n in numbers]


def test_contiguous_sequence_is_clean() -> None:
    assert check_thread_sequence(seqs(1, 2, 3)) == []
    assert check_thread_sequence(seqs(5, 6), after_seq=4) == []
    assert check_thread_sequence([]) == []


@pytest.mark.parametrize(
    ("numbers", "after", "expected"),
    [
        ((1, 3), 0, [("seq-gap", 1)]),
        ((2,), 0, [("seq-gap", 0)]),
        ((1, 1, 2), 0, [("seq-duplicate", 1)]),
        ((1, 2, 1), 0, [("seq-duplicate", 2)]),
        ((1, 3, 2), 0, [("seq-gap", 1), ("seq-order", 2)]),
        ((3, 4), 3, [("seq-duplicate", 0)]),
        ((1, "2", None, 2), 0, [("seq-missing", 1), ("seq-missing", 2)]),
        ((1, True, 2), 0, [("seq-missing", 1)]),
        ((1, 3, 2, 2, 4), 0, [("seq-gap", 1), ("seq-order", 2), ("seq-duplicate", 3)]),
    ],
)
def test_sequence_violations(
    numbers: tuple[object, ...], after: int, expected: list[tuple[str, int]]
) -> None:
    events = seqs(*numbers)
    found = check_thread_sequence(events, after_seq=after)
    assert rules(found) == expected
    for violation in found:
        assert violation.event is events[violation.index]

        assert isinstance(violation, SequenceViolation)
        assert isinstance(violation, RuleViolation)
        assert not isinstance(violation, LifecycleViolation)


def test_still_importable_from_the_lifecycle_module() -> None:
    assert lifecycle.check_thread_sequence is check_thread_sequence
