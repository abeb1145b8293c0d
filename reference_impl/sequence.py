"""A thread's sequence: ``seq`` runs 1, 2, 3, ... with no gap and no duplicate.

What one connection of one thread received is checked with :func:`check_thread_sequence`; a
resumed connection passes the ``last_seq`` it resumed from. This is about a *thread's*
numbering, not a run's lifecycle (:mod:`reference_impl.lifecycle`). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .violations import RuleViolation

__all__ = ["SequenceViolation", "check_thread_sequence"]


@dataclass(frozen=True)
class SequenceViolation(RuleViolation):
    """A broken rule of a thread's sequence (``seq-gap``, ``seq-duplicate``, ``seq-order``,
    ``seq-missing``)."""


def check_thread_sequence(
    events: Iterable[Mapping[str, Any]], *, after_seq: int = 0
) -> list[SequenceViolation]:
    """Check that ``seq`` runs ``after_seq + 1, after_seq + 2, ...`` with no gap or duplicate.

    Use it on what one connection of one thread received; a resumed connection passes its
    ``last_seq`` as ``after_seq``.
    """
    violations: list[SequenceViolation] = []
    expected = after_seq + 1
    seen: set[int] = set()
    for index, event in enumerate(events):
        seq = event.get("seq")
        if isinstance(seq, bool) or not isinstance(seq, int):
            violations.append(
                SequenceViolation("seq-missing", "event has no int seq", index, event)
            )
            continue
        if seq in seen or seq <= after_seq:
            violations.append(SequenceViolation("seq-duplicate", f"seq {seq} again", index, event))
            continue
        if seq < expected:
            message = f"seq {seq} after seq {expected - 1}"
            violations.append(SequenceViolation("seq-order", message, index, event))
            seen.add(seq)
            continue
        if seq > expected:
            violations.append(
                SequenceViolation("seq-gap", f"expected seq {expected}, got {seq}", index, event)
            )
        seen.add(seq)
        expected = seq + 1
    return violations
