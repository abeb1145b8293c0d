"""Family 3, fail-fast start-up: the factory refuses an orchestrator that is missing or unfit.

Each case calls the factory itself (passing ``init_timeout`` to a factory that takes one),
bounded by ``init_timeout`` plus a grace period; a factory that hangs is stopped there and
FAILED (one that blocks its loop synchronously is stopped by the runner's thread limit).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from reference_impl import ReferenceOrchestrator

from ..factory import call_factory
from ..fakes import HangingOrchestrator, UnhealthyOrchestrator
from .harness import CaseContext
from .model import Outcome, case

__all__: list[str] = []


@dataclass
class _Start:
    bridge: Any = None
    error: BaseException | None = None
    hung: bool = False
    elapsed: float = 0.0

    def words(self) -> str:
        if self.hung:
            return f"the factory was still waiting after {self.elapsed:.1f}s (hangs)"
        if self.error is not None:
            return (
                f"the factory raised {type(self.error).__name__} after {self.elapsed:.2f}s: "
                f"{self.error}"
            )
        return f"the factory returned a {type(self.bridge).__name__} after {self.elapsed:.2f}s"


async def _start(ctx: CaseContext, orchestrator: object) -> _Start:
    """Call the factory with ``orchestrator``, bounded; keep a built bridge for clean-up."""
    ctx.orchestrator = orchestrator
    limit = ctx.options.init_timeout + ctx.options.init_grace
    started = time.perf_counter()
    result = _Start()
    try:
        result.bridge = await asyncio.wait_for(
            call_factory(
                ctx.factory,
                connection_manager=ctx.manager,
                orchestrator=orchestrator,
                init_timeout=ctx.options.init_timeout,
            ),
            limit,
        )
        ctx.bridge = result.bridge
    except asyncio.TimeoutError:
        result.hung = True
    except Exception as exc:
        result.error = exc
    result.elapsed = time.perf_counter() - started
    return result


async def _must_refuse(ctx: CaseContext, orchestrator: object, what: str) -> Outcome:
    start = await _start(ctx, orchestrator)
    if start.error is not None:
        return Outcome.ok(f"{what}: {start.words()}")
    if start.hung:
        return Outcome.failed(f"{what}: {start.words()}")
    return Outcome.failed(
        f"{what}: {start.words()}; it starts 'fine' and fails later, at the first event"
    )


@case(
    "failfast",
    1,
    "No orchestrator: the factory refuses to build a bridge",
    "factory(orchestrator=None) raises at start-up, within the init timeout",
    builds_bridge=True,
)
async def no_orchestrator(ctx: CaseContext) -> Outcome:
    return await _must_refuse(ctx, None, "orchestrator=None")


@case(
    "failfast",
    2,
    "An orchestrator whose health check says False is refused",
    "the reference orchestrator with healthy=False (health_check() returns False): the factory "
    "raises at start-up, within the init timeout",
    builds_bridge=True,
)
async def unhealthy(ctx: CaseContext) -> Outcome:
    orchestrator = ReferenceOrchestrator()
    orchestrator.healthy = False
    return await _must_refuse(ctx, orchestrator, "health_check() -> False")


@case(
    "failfast",
    3,
    "A hanging orchestrator is refused within the init timeout",
    "an orchestrator whose every method never returns: the factory raises within the init "
    "timeout (plus a grace period); waiting longer is FAILED",
    builds_bridge=True,
)
async def hanging(ctx: CaseContext) -> Outcome:
    orchestrator = HangingOrchestrator()
    ctx.cleanups.append(orchestrator.release)
    bound = ctx.options.init_timeout + ctx.options.init_grace
    return await _must_refuse(ctx, orchestrator, f"hanging orchestrator, bound {bound:g}s")


@case(
    "failfast",
    4,
    "An orchestrator that raises from every method is refused",
    "an orchestrator whose every method raises ConnectionError: the factory raises at "
    "start-up, within the init timeout",
    builds_bridge=True,
)
async def raising(ctx: CaseContext) -> Outcome:
    return await _must_refuse(ctx, UnhealthyOrchestrator(), "orchestrator raising everywhere")


@case(
    "failfast",
    5,
    "A healthy orchestrator gives a working bridge within the init timeout",
    "the reference orchestrator: the factory returns within the init timeout, and a full run "
    "then reaches a connection",
    builds_bridge=True,
)
async def healthy(ctx: CaseContext) -> Outcome:
    start = await _start(ctx, ReferenceOrchestrator())
    if start.bridge is None:
        return Outcome.failed(f"healthy reference orchestrator: {start.words()}")
    ctx.manager.bridge = start.bridge
    connection = await ctx.connect("failfast-5")
    outcome = await ctx.expect(
        [(connection, await ctx.full_run(await ctx.new_run("failfast-5")))],
        f"{start.words()}; a full run then arrived",
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
    return await _must_refuse(ctx, object(), "orchestrator=object()")


@case(
    "failfast",
    7,
    "The start-up error says what is wrong",
    "the exception for orchestrator=None mentions the orchestrator (NON-STRICT if it raises "
    "without saying so, e.g. an AttributeError on None)",
    builds_bridge=True,
)
async def error_names_orchestrator(ctx: CaseContext) -> Outcome:
    start = await _start(ctx, None)
    if start.error is None:
        return Outcome.failed(f"orchestrator=None: {start.words()}")
    if "orchestrator" in str(start.error).lower():
        return Outcome.ok(f"{type(start.error).__name__}: {start.error}")
    return Outcome.non_strict(
        f"{type(start.error).__name__}: {start.error} (does not name the orchestrator)"
    )
