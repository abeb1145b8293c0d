"""A broken rule found in a stream of events: the shape every pure checker returns.

:mod:`reference_impl.lifecycle` (a run's event order) and :mod:`reference_impl.sequence` (a
thread's seq numbering) each subclass :class:`RuleViolation`, so a caller can tell which kind of
rule broke by type as well as by ``rule`` id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["RuleViolation"]


@dataclass(frozen=True)
class RuleViolation:
    """One broken rule: which rule, the offending event and its index in the checked sequence."""

    rule: str
    message: str
    index: int
    event: Mapping[str, Any]

    def __str__(self) -> str:
        return f"[{self.rule}] event #{self.index} ({self.event.get('type')}): {self.message}"
