"""Family 3, fail-fast start-up: the factory refuses an orchestrator that is missing or unfit.

The verdicts come from :mod:`pytest_wsbridge.failfast`, the one implementation the
``wsbridge_fail_fast`` marker uses too: the refusal cases (3.1 to 3.4, 3.6) each run
:func:`~pytest_wsbridge.failfast.probe_case` for their orchestrator, so the marker and WSB-3.x
give one factory the same verdict. Any exception the factory raises within the init timeout
(plus :func:`~pytest_wsbridge.failfast.grace`) is a refusal, ``TimeoutError`` included; only
the probe's own limit makes a hang.
"""

from __future__ import annotations

import asyncio

from reference_impl import ReferenceOrchestrator

from ..checks import FailFastOutcome
from ..failfast import CASES_BY_ID, probe_case, start
from .harness import CaseContext
from .model import Outcome, case

__all__: list[str] = []


def _words(outcome: FailFastOutcome) -> str:
    if outcome.result == "raised":
        return f"the factory raised {outcome.detail} after {outcome.elapsed:.2f}s"
    if outcome.result == "returned":
        return (
            f"the factory returned {outcome.detail} after {outcome.elapsed:.2f}s; it starts "
            "'fine' and fails later, at the first event"
        )
    if outcome.result == "hung":
        return f"the factory hangs: {outcome.detail}"
    return outcome.detail


async def _probe(ctx: CaseContext, case_id: str) -> FailFastOutcome:
    """The shared probe for ``case_id``, in its own thread (it may block synchronously)."""
    return await asyncio.to_thread(
        probe_case, ctx.factory, CASES_BY_ID[case_id], init_timeout=ctx.options.init_timeout
    )


async def _must_refuse(ctx: CaseContext, case_id: str) -> Outcome:
    outcome = await _probe(ctx, case_id)
    words = f"{outcome.case}: {_words(outcome)}"
    return Outcome.ok(words) if outcome.refused else Outcome.failed(words)


@case(
    "failfast",
    1,
    "No orchestrator: the factory refuses to build a bridge",
    "factory(orchestrator=None) raises at start-up, within the init timeout",
    builds_bridge=True,
)
async def no_orchestrator(ctx: CaseContext) -> Outcome:
    return await _must_refuse(ctx, "WSB-3.1")


@case(
    "failfast",
    2,
    "An orchestrator whose health check says False is refused",
    "the reference orchestrator with healthy=False (health_check() returns False): the factory "
    "raises at start-up, within the init timeout",
    builds_bridge=True,
)
async def unhealthy(ctx: CaseContext) -> Outcome:
    return await _must_refuse(ctx, "WSB-3.2")


@case(
    "failfast",
    3,
    "A hanging orchestrator is refused within the init timeout",
    "an orchestrator whose every method never returns: the factory raises (any exception, "
    "TimeoutError included) within the init timeout plus a grace period; waiting longer is "
    "FAILED",
    builds_bridge=True,
)
async def hanging(ctx: CaseContext) -> Outcome:
    return await _must_refuse(ctx, "WSB-3.3")


@case(
    "failfast",
    4,
    "An orchestrator that raises from every method is refused",
    "an orchestrator whose every method raises ConnectionError: the factory raises at "
    "start-up, within the init timeout",
    builds_bridge=True,
)
async def raising(ctx: CaseContext) -> Outcome:
    return await _must_refuse(ctx, "WSB-3.4")


@case(
    "failfast",
    5,
    "A healthy orchestrator gives a working bridge within the init timeout",
    "the reference orchestrator: the factory returns within the init timeout, and a full run "
    "then reaches a connection",
    builds_bridge=True,
)
async def healthy(ctx: CaseContext) -> Outcome:
    ctx.orchestrator = ReferenceOrchestrator()
    started = await start(
        ctx.factory,
        connection_manager=ctx.manager,
        orchestrator=ctx.orchestrator,
        init_timeout=ctx.options.init_timeout,
        hand=ctx.options.init_timeout,  # a real start-up: all the time it may take
    )
    ctx.bridge = started.bridge  # closed with the case, whatever the verdict
    if started.result != "returned":
        return Outcome.failed(f"healthy reference orchestrator: {started.words()}")
    ctx.manager.bridge = started.bridge
    connection = await ctx.connect("failfast-5")
    outcome = await ctx.expect(
        [(connection, await ctx.full_run(await ctx.new_run("failfast-5")))],
        f"{started.words()}; a full run then arrived",
    )
    return outcome


@case(
    "failfast",
    6,
    "An object that is no orchestrator at all is refused",
    "factory(orchestrator=object()) (no health check, no methods): raises at start-up",
    builds_bridge=True,
)
async def not_an_orchestrator(ctx: CaseContext) -> Outcome:
    return await _must_refuse(ctx, "WSB-3.6")


@case(
    "failfast",
    7,
    "The start-up error says what is wrong",
    "the exception for orchestrator=None mentions the orchestrator (NON-STRICT if it raises "
    "without saying so, e.g. an AttributeError on None)",
    builds_bridge=True,
)
async def error_names_orchestrator(ctx: CaseContext) -> Outcome:
    outcome = await _probe(ctx, "WSB-3.1")
    if not outcome.refused:
        return Outcome.failed(f"orchestrator=None: {_words(outcome)}")
    if "orchestrator" in (outcome.error or "").lower():
        return Outcome.ok(outcome.detail)
    return Outcome.non_strict(f"{outcome.detail} (does not name the orchestrator)")
