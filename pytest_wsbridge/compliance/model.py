"""The compliance suite's data: verdicts, families, cases, results, and the case registry.

Pure: no asyncio, no pytest. A case is a numbered, described check (``WSB-<family>.<n>``) whose
``check`` coroutine function takes a :class:`~pytest_wsbridge.compliance.harness.CaseContext`
and returns an :class:`Outcome`. Family modules add their cases with :func:`case`; ids are
stable: a number, once published, keeps its meaning (retired numbers are not reused).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

__all__ = [
    "FAMILIES",
    "REGISTRY",
    "Case",
    "CaseResult",
    "Family",
    "Outcome",
    "SuiteResult",
    "Verdict",
    "case",
    "select_cases",
]


class Verdict(str, Enum):
    """How a bridge did on one case (the Autobahn testsuite's scale, plus UNIMPLEMENTED)."""

    OK = "OK"
    NON_STRICT = "NON-STRICT"
    INFORMATIONAL = "INFORMATIONAL"
    UNIMPLEMENTED = "UNIMPLEMENTED"
    FAILED = "FAILED"

    @property
    def passed(self) -> bool:
        """Everything but FAILED lets a run pass."""
        return self is not Verdict.FAILED


@dataclass(frozen=True)
class Family:
    """A group of cases: ``WSB-<number>.*``."""

    number: int
    name: str
    title: str


FAMILIES: tuple[Family, ...] = (
    Family(1, "delivery", "Delivery: every event reaches the connections of its run's thread"),
    Family(2, "resolution", "Thread resolution: registry, standard run ids, never a fallback"),
    Family(3, "failfast", "Fail-fast start-up: no bridge without a healthy orchestrator"),
    Family(4, "lifecycle", "Lifecycle: started first, terminal last, per-thread seq contiguous"),
    Family(5, "replay", "Reconnect and replay: missed events resumed, no gap, no duplicate"),
    Family(6, "isolation", "Isolation: nothing of one thread or user reaches another"),
    Family(7, "badinput", "Bad input: a clear exception, nothing half-sent, still working"),
)
_FAMILY_BY_NAME = {family.name: family for family in FAMILIES}


@dataclass(frozen=True)
class Outcome:
    """What a case's check concluded: a verdict and what it observed, in words."""

    verdict: Verdict
    observed: str

    @classmethod
    def ok(cls, observed: str) -> Outcome:
        return cls(Verdict.OK, observed)

    @classmethod
    def failed(cls, observed: str) -> Outcome:
        return cls(Verdict.FAILED, observed)

    @classmethod
    def non_strict(cls, observed: str) -> Outcome:
        return cls(Verdict.NON_STRICT, observed)

    @classmethod
    def informational(cls, observed: str) -> Outcome:
        return cls(Verdict.INFORMATIONAL, observed)

    @classmethod
    def unimplemented(cls, observed: str) -> Outcome:
        return cls(Verdict.UNIMPLEMENTED, observed)


Check = Callable[[Any], Awaitable[Outcome]]


@dataclass(frozen=True)
class Case:
    """One numbered case: what it checks (``description``) and what passes (``expected``).

    ``needs_replay`` cases are UNIMPLEMENTED for a bridge without ``replay``. A
    ``builds_bridge`` case calls the factory itself (the fail-fast cases); the runner builds
    the bridge for every other one.
    """

    family: Family
    number: int
    description: str
    expected: str
    check: Check = field(repr=False, compare=False)
    needs_replay: bool = False
    builds_bridge: bool = False

    @property
    def id(self) -> str:
        return f"WSB-{self.family.number}.{self.number}"

    def matches(self, pattern: str) -> bool:
        """Match a glob against the id (``WSB-2.*``) or the family name (``resolution``)."""
        pattern = pattern.strip()
        return fnmatch.fnmatchcase(self.id, pattern) or fnmatch.fnmatchcase(
            self.family.name, pattern
        )


REGISTRY: dict[str, Case] = {}
"""Every packaged case by id; filled when the family modules are imported."""


def case(
    family: str,
    number: int,
    description: str,
    expected: str,
    *,
    needs_replay: bool = False,
    builds_bridge: bool = False,
) -> Callable[[Check], Check]:
    """Register the decorated check as case ``WSB-<family>.<number>``."""

    def register(check: Check) -> Check:
        new = Case(
            _FAMILY_BY_NAME[family],
            number,
            description,
            expected,
            check,
            needs_replay,
            builds_bridge,
        )
        if new.id in REGISTRY:
            raise ValueError(f"case {new.id} is defined twice")
        REGISTRY[new.id] = new
        return check

    return register


def _sort_key(item: Case) -> tuple[int, int]:
    return item.family.number, item.number


def select_cases(
    cases: Iterable[Case], include: Sequence[str] = (), exclude: Sequence[str] = ()
) -> list[Case]:
    """Return the cases matching any ``include`` glob (all if none) and no ``exclude`` glob.

    Each pattern may hold several globs separated by commas.
    """

    def globs(patterns: Sequence[str]) -> list[str]:
        return [g for p in patterns for g in p.split(",") if g.strip()]

    wanted, unwanted = globs(include), globs(exclude)
    chosen = [
        c
        for c in cases
        if (not wanted or any(c.matches(g) for g in wanted))
        and not any(c.matches(g) for g in unwanted)
    ]
    return sorted(chosen, key=_sort_key)


@dataclass(frozen=True)
class CaseResult:
    """One case run against one bridge: the JSON report's record."""

    id: str
    family: str
    description: str
    verdict: Verdict
    expected: str
    observed: str
    duration: float

    def to_dict(self) -> dict[str, Any]:
        record = asdict(self)
        record["verdict"] = self.verdict.value
        record["duration"] = round(self.duration, 4)
        return record

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> CaseResult:
        return cls(
            id=str(record["id"]),
            family=str(record["family"]),
            description=str(record["description"]),
            verdict=Verdict(record["verdict"]),
            expected=str(record["expected"]),
            observed=str(record["observed"]),
            duration=float(record["duration"]),
        )

    @property
    def family_number(self) -> int:
        return int(self.id.removeprefix("WSB-").split(".")[0])

    @property
    def number(self) -> int:
        return int(self.id.split(".")[1])


@dataclass
class SuiteResult:
    """The results of a run of the suite against one bridge factory."""

    factory: str
    results: list[CaseResult] = field(default_factory=list)
    bridge_class: str | None = None
    started: str = ""
    duration: float = 0.0

    def counts(self) -> dict[Verdict, int]:
        """How many cases got each verdict (every verdict present, zeros included)."""
        totals = dict.fromkeys(Verdict, 0)
        for result in self.results:
            totals[result.verdict] += 1
        return totals

    @property
    def failed(self) -> list[CaseResult]:
        return [r for r in self.results if r.verdict is Verdict.FAILED]

    @property
    def passed(self) -> bool:
        return not self.failed
