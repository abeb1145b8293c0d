"""Fail-fast start-up: the one implementation behind ``wsbridge_fail_fast`` and family WSB-3.

:func:`start` calls a factory once and classifies what it did, with one tolerance
(:func:`limit`: the init timeout plus :func:`grace`):

- ``raised``: the factory raised *anything* within the limit. ``TimeoutError`` and
  ``asyncio.TimeoutError`` are refusals like any other exception: a bridge that bounds its
  health check with ``asyncio.wait_for`` lets one out, and that is the right answer.
- ``returned``: it returned a bridge within the limit (for an unfit orchestrator: wrong).
- ``hung``: only the probe's own limit makes a hang. The factory runs in a task the probe
  waits on with :func:`asyncio.wait` (which never raises on timeout), so an exception from
  the factory can never be mistaken for the probe giving up; an answer that came after the
  limit (a synchronous block that ended late) is a hang too.

:func:`probe_case` runs :func:`start` in a worker thread with its own event loop, so a
factory that blocks synchronously is judged ``hung`` when the thread does not answer, and the
caller's loop is never touched. :func:`probe_factory` runs every case of :data:`CASES`; the
compliance cases WSB-3.1, 3.2, 3.3, 3.4 and 3.6 call :func:`probe_case` for their case, so
the marker and WSB-3.x cannot disagree. :class:`BackgroundProbe` runs the marker's probe in a
background thread from the start of the session, joined when its verdict is first needed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from .checks import FailFastOutcome
from .factory import Factory, call_factory, close_bridge
from .fakes import (
    FakeConnectionManager,
    FalseHealthOrchestrator,
    HangingOrchestrator,
    UnhealthyOrchestrator,
)
from .waiting import answer_within
from .worker import run_in_worker

__all__ = [
    "CASES",
    "JOIN_MARGIN",
    "PROBE_TIMEOUT",
    "BackgroundProbe",
    "ProbeCase",
    "Start",
    "grace",
    "limit",
    "probe_bound",
    "probe_case",
    "probe_factory",
    "start",
]

PROBE_TIMEOUT = 0.25
"""The ``init_timeout`` handed to a factory that declares one when it is given an unfit
orchestrator (the stand-ins answer at once or never). The verdict still allows the configured
init timeout (plus :func:`grace`), but a factory that honours what it is given answers sooner,
so a correct bridge costs the probe a quarter of a second, not the init timeout."""

JOIN_MARGIN = 1.0
"""How long past :func:`limit` a probe's worker thread may take to report (thread start-up
and scheduling on a loaded machine). A thread that has not reported by then is blocked: the
factory made a synchronous call that does not return."""

_CANCEL_TIMEOUT = 1.0
_CLOSE_TIMEOUT = 1.0


def grace(init_timeout: float) -> float:
    """Slack allowed past the init timeout for scheduling (a factory's own timer fires late)."""
    return 0.25 + 0.1 * init_timeout


def limit(init_timeout: float) -> float:
    """The one fail-fast tolerance: an answer later than this is a hang."""
    return init_timeout + grace(init_timeout)


def probe_bound(init_timeout: float) -> float:
    """The longest one :func:`probe_case` can take: its limit, the join margin, clean-up."""
    return limit(init_timeout) + JOIN_MARGIN + _CANCEL_TIMEOUT + _CLOSE_TIMEOUT


@dataclass(frozen=True)
class ProbeCase:
    """One unfit orchestrator the factory must refuse, and the compliance case that asks."""

    id: str
    """The compliance case id (``WSB-3.1``)."""
    name: str
    """How the report names the orchestrator (``orchestrator=None``)."""
    make: Callable[[], object]


CASES: tuple[ProbeCase, ...] = (
    ProbeCase("WSB-3.1", "orchestrator=None", lambda: None),
    ProbeCase(
        "WSB-3.2", "an unhealthy orchestrator (health_check() is False)", FalseHealthOrchestrator
    ),
    ProbeCase("WSB-3.3", "a hanging orchestrator (no method ever returns)", HangingOrchestrator),
    ProbeCase("WSB-3.4", "an unhealthy orchestrator (every method raises)", UnhealthyOrchestrator),
    ProbeCase("WSB-3.6", "orchestrator=object() (not an orchestrator)", object),
)
"""Every orchestrator the factory must refuse, in report order (the marker probes them all)."""

CASES_BY_ID = {case.id: case for case in CASES}


@dataclass
class Start:
    """What one call of the factory did (see the module docstring for the three results)."""

    result: Literal["raised", "returned", "hung"]
    elapsed: float
    limit: float
    bridge: Any = None
    error: BaseException | None = None
    late: bool = False
    """The factory answered, but only after the limit (so ``result`` is ``hung``)."""

    def detail(self) -> str:
        """What happened, in words, without the verdict."""
        if self.result == "raised" and self.error is not None:
            return f"{type(self.error).__name__}: {self.error}"
        if self.result == "returned":
            return f"a {type(self.bridge).__name__}"
        if self.late:
            what = "raised" if self.error is not None else "returned"
            return f"it {what} only after {self.elapsed:.2f}s, past the limit of {self.limit:.2f}s"
        return f"still waiting at the limit of {self.limit:.2f}s: cancelled"

    def words(self) -> str:
        """A sentence for a compliance verdict."""
        if self.result == "raised":
            return f"the factory raised {self.detail()} after {self.elapsed:.2f}s"
        if self.result == "returned":
            return f"the factory returned {self.detail()} after {self.elapsed:.2f}s"
        return f"the factory hangs: {self.detail()}"


async def start(
    factory: Factory,
    *,
    connection_manager: object,
    orchestrator: object,
    init_timeout: float,
    hand: float | None = None,
) -> Start:
    """Call ``factory`` once, bounded by :func:`limit`; never raises for what the factory does.

    The factory is handed ``hand`` (default ``min(PROBE_TIMEOUT, init_timeout)``) when it
    declares an ``init_timeout``. A bridge it returns (in time or late) is in
    :attr:`Start.bridge`: the caller closes it.
    """
    bound = limit(init_timeout)
    answer = await answer_within(
        call_factory(
            factory,
            connection_manager=connection_manager,
            orchestrator=orchestrator,
            init_timeout=min(PROBE_TIMEOUT, init_timeout) if hand is None else hand,
        ),
        bound,
        cancel_timeout=_CANCEL_TIMEOUT,
    )
    bridge, error, elapsed = answer.value, answer.error, answer.elapsed
    if answer.timed_out:
        return Start("hung", elapsed, bound, bridge=bridge)
    if elapsed > bound:  # a synchronous block held the loop past the limit
        return Start("hung", elapsed, bound, bridge=bridge, error=error, late=True)
    if error is not None:
        return Start("raised", elapsed, bound, error=error)
    return Start("returned", elapsed, bound, bridge=bridge)


def probe_case(factory: Factory, case: ProbeCase, *, init_timeout: float) -> FailFastOutcome:
    """Call ``factory`` with ``case``'s orchestrator in a worker thread; say what it did."""
    box: list[Start] = []

    async def attempt() -> None:
        orchestrator = case.make()
        try:
            outcome = await start(
                factory,
                connection_manager=FakeConnectionManager(),
                orchestrator=orchestrator,
                init_timeout=init_timeout,
            )
            box.append(outcome)  # the verdict is in before any clean-up can block
            if outcome.bridge is not None:
                await close_bridge(outcome.bridge, timeout=_CLOSE_TIMEOUT)
        finally:
            release = getattr(orchestrator, "release", None) or getattr(
                orchestrator, "close_unawaited", None
            )
            if release is not None:
                release()

    bound = limit(init_timeout)
    started = time.perf_counter()
    finished = run_in_worker(
        attempt,
        join_timeout=bound + JOIN_MARGIN,
        name=f"wsbridge-fail-fast: {case.id}",
        quiet_unawaited=False,
    )
    if box:
        outcome = box[0]
        return FailFastOutcome(
            case.name,
            outcome.result,
            outcome.detail(),
            outcome.elapsed,
            id=case.id,
            error=None if outcome.error is None else str(outcome.error),
        )
    elapsed = time.perf_counter() - started
    if finished is None:
        detail = f"it blocked its thread (a synchronous wait) for more than {bound:.2f}s"
        return FailFastOutcome(case.name, "hung", detail, elapsed, id=case.id)
    # The worker's loop broke before the factory was called: not an answer from the factory.
    detail = f"the probe could not run: {finished.error!r}"
    return FailFastOutcome(case.name, "error", detail, elapsed, id=case.id)


def probe_factory(factory: Factory, *, init_timeout: float) -> list[FailFastOutcome]:
    """Call ``factory`` once per case of :data:`CASES`, one after another."""
    return [probe_case(factory, case, init_timeout=init_timeout) for case in CASES]


class BackgroundProbe:
    """:func:`probe_factory` in a daemon thread, started now and joined by :meth:`result`."""

    def __init__(self, factory: Factory, *, init_timeout: float) -> None:
        self._outcomes: list[FailFastOutcome] | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run,
            args=(factory, init_timeout),
            name="wsbridge-fail-fast-probe",
            daemon=True,
        )
        self._thread.start()

    def _run(self, factory: Factory, init_timeout: float) -> None:
        try:
            self._outcomes = probe_factory(factory, init_timeout=init_timeout)
        except BaseException as exc:  # reported by result(), in the test that needs it
            self._error = exc

    def result(self) -> list[FailFastOutcome]:
        """The outcomes, waiting for the probe if it is still running."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._outcomes is not None
        return self._outcomes
