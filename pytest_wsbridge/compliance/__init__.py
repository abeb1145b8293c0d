"""The compliance suite: numbered cases (``WSB-<family>.<n>``) any bridge can be run against.

Importing this package registers every packaged case. Run them with :func:`run_suite` (or
``wsbridge check MODULE:CALLABLE``, or ``pytest --wsbridge-compliance``) and write the results
with :func:`write_report`.
"""

from __future__ import annotations

from . import badinput, delivery, failfast, isolation, lifecycle, replay, resolution
from .harness import CaseContext, CaseOptions
from .model import (
    FAMILIES,
    REGISTRY,
    Case,
    CaseResult,
    Family,
    Outcome,
    SuiteResult,
    Verdict,
    select_cases,
)
from .runner import run_case, run_suite

__all__ = [
    "CASES",
    "FAMILIES",
    "Case",
    "CaseContext",
    "CaseOptions",
    "CaseResult",
    "Family",
    "Outcome",
    "SuiteResult",
    "Verdict",
    "run_case",
    "run_suite",
    "select_cases",
]

_FAMILY_MODULES = (delivery, resolution, failfast, lifecycle, replay, isolation, badinput)

CASES: list[Case] = select_cases(REGISTRY.values())
"""Every packaged case, in id order."""
