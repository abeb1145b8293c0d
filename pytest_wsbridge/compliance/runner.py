"""Running cases: each in its own worker thread and event loop, bounded in time.

A case gets a fresh bridge from the factory. It runs in a new thread with a new event loop, so
a bridge that blocks its loop with a synchronous call (an orchestrator method that never
returns) costs that case a FAILED verdict after the time limit, not the whole run; and the
caller's own event loop (pytest-asyncio's, say) is never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any

from ..factory import Factory
from ..factory import factory_name as _name_of
from ..failfast import probe_bound
from ..waiting import answer_within
from ..worker import run_in_worker
from .harness import CaseContext, CaseError, CaseOptions
from .model import Case, CaseResult, Outcome, SuiteResult

__all__ = ["case_limit", "run_case", "run_suite"]

_CLOSE_TIMEOUT = 1.0
_THREAD_GRACE = 2.0


def case_limit(case: Case, options: CaseOptions) -> float:
    """The time a case may take: the per-case limit, or more for a fail-fast bound."""
    if case.builds_bridge:
        return max(options.case_timeout, probe_bound(options.init_timeout) + 1.0)
    return options.case_timeout


def run_case(
    case: Case,
    factory: Factory,
    options: CaseOptions | None = None,
    *,
    seen_bridge: Callable[[Any], None] | None = None,
) -> CaseResult:
    """Run one case against a fresh bridge from ``factory``; never raises, never hangs."""
    options = options or CaseOptions()
    limit = case_limit(case, options)
    started = time.perf_counter()
    finished = run_in_worker(
        lambda: _bounded(case, factory, options, limit, seen_bridge),
        join_timeout=limit + _THREAD_GRACE,
        name=f"wsbridge-{case.id}",
    )
    if finished is None:
        outcome = Outcome.failed(
            f"did not finish within {limit + _THREAD_GRACE:g}s: the bridge blocked its event "
            "loop (a synchronous call that never returns?); its worker thread was abandoned"
        )
    elif finished.value is None:
        outcome = Outcome.failed(f"the case's event loop failed: {finished.error!r}")
    else:
        outcome = finished.value
    return CaseResult(
        id=case.id,
        family=case.family.name,
        description=case.description,
        verdict=outcome.verdict,
        expected=case.expected,
        observed=outcome.observed,
        duration=time.perf_counter() - started,
    )


async def _bounded(
    case: Case,
    factory: Factory,
    options: CaseOptions,
    limit: float,
    seen_bridge: Callable[[Any], None] | None,
) -> Outcome:
    ctx = CaseContext(factory, options)
    try:
        answer = await answer_within(_execute(case, ctx, seen_bridge), limit)
        if not answer.timed_out:
            if answer.error is not None:  # _execute turns every Exception into a verdict
                return Outcome.failed(f"the case could not go on: {answer.error!r}")
            assert answer.value is not None
            return answer.value
        last = ctx.ledger.calls[-1] if ctx.ledger.calls else None
        if last is None:
            where = " (the factory never returned)" if ctx.bridge is None else ""
        elif last.outcome == "pending" or isinstance(last.error, asyncio.CancelledError):
            where = f"; {last.method}() never returned"  # cancelled by the case limit
        else:
            where = f"; the last call into the bridge, {last.method}(), {last.describe_outcome()}"
        return Outcome.failed(f"did not finish within {limit:g}s{where}")
    finally:
        # A bridge that cannot close does not change the verdict.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ctx.close(), _CLOSE_TIMEOUT)


async def _execute(
    case: Case, ctx: CaseContext, seen_bridge: Callable[[Any], None] | None
) -> Outcome:
    if not case.builds_bridge:
        try:
            await ctx.build()
        except Exception as exc:
            return Outcome.failed(
                "the factory raised with a healthy reference orchestrator: "
                f"{type(exc).__name__}: {exc}"
            )
        if seen_bridge is not None:
            seen_bridge(ctx.bridge)
        if case.needs_replay and not ctx.has_replay:
            return Outcome.unimplemented(
                f"{type(ctx.bridge).__name__} has no replay(thread_id, after_seq)"
            )
    try:
        return await case.check(ctx)
    except CaseError as exc:
        return Outcome.failed(str(exc))
    except Exception as exc:
        return Outcome.failed(f"the case could not go on: {type(exc).__name__}: {exc}")


def run_suite(
    factory: Factory,
    cases: Iterable[Case],
    *,
    factory_name: str | None = None,
    options: CaseOptions | None = None,
    on_result: Callable[[CaseResult], None] | None = None,
) -> SuiteResult:
    """Run ``cases`` one after another against ``factory``; ``on_result`` sees each result."""
    name = factory_name or _name_of(factory)
    suite = SuiteResult(factory=name, started=datetime.now(timezone.utc).isoformat())

    def seen(bridge: Any) -> None:
        if suite.bridge_class is None:
            suite.bridge_class = f"{type(bridge).__module__}.{type(bridge).__qualname__}"

    started = time.perf_counter()
    for item in cases:
        result = run_case(item, factory, options, seen_bridge=seen)
        suite.results.append(result)
        if on_result is not None:
            on_result(result)
    suite.duration = time.perf_counter() - started
    return suite
