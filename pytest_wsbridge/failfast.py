"""The fail-fast probe: call a factory with unfit orchestrators and time what it does.

Each attempt runs in a worker thread with its own short-lived event loop (``asyncio.run``),
so a factory that blocks, even synchronously, cannot hang the test run or touch the test's
loop: after ``init_timeout`` plus a small grace the attempt is reported as a hang and the
thread (a daemon) is abandoned. :mod:`pytest_wsbridge.checks` turns the outcomes into
violations.
"""

from __future__ import annotations

import asyncio
import time
import warnings
from collections.abc import Callable
from typing import Any

from .checks import FailFastOutcome
from .factory import Factory, call_factory, close_bridge
from .fakes import FakeConnectionManager, HangingOrchestrator, UnhealthyOrchestrator
from .worker import run_in_worker

__all__ = ["CASES", "PROBE_TIMEOUT", "grace", "probe_factory"]

CASES: tuple[tuple[str, Callable[[], object]], ...] = (
    ("orchestrator=None", lambda: None),
    ("an unhealthy orchestrator (every method raises)", UnhealthyOrchestrator),
    ("a hanging orchestrator (no method ever returns)", HangingOrchestrator),
)
"""``(case, make orchestrator)`` for each probe, in report order."""


PROBE_TIMEOUT = 0.5
"""The ``init_timeout`` handed to a factory that declares one: the verdict still allows the
configured init timeout, but a factory that honours what it is given answers sooner."""


def grace(init_timeout: float) -> float:
    """Slack allowed past the init timeout for scheduling (a factory's own timer fires late)."""
    return 0.25 + 0.1 * init_timeout


def probe_factory(factory: Factory, *, init_timeout: float) -> list[FailFastOutcome]:
    """Call ``factory`` once per case in :data:`CASES`; return what happened each time.

    Warnings the attempts cause are silenced: a factory that calls an orchestrator method
    without awaiting it leaves a never-awaited coroutine of the stand-in, which would
    otherwise surface (under ``filterwarnings = error``) in whatever test runs next.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [_probe(factory, case, make, init_timeout) for case, make in CASES]


def _probe(
    factory: Factory, case: str, make: Callable[[], object], init_timeout: float
) -> FailFastOutcome:
    limit = init_timeout + grace(init_timeout)
    box: dict[str, Any] = {}

    async def attempt() -> None:
        orchestrator = make()
        try:
            bridge = await asyncio.wait_for(
                call_factory(
                    factory,
                    connection_manager=FakeConnectionManager(),
                    orchestrator=orchestrator,
                    init_timeout=min(PROBE_TIMEOUT, init_timeout),
                ),
                limit,
            )
        except asyncio.TimeoutError:
            box["hung"] = f"cancelled after {limit:.2f}s"
        except BaseException as exc:  # anything the factory raises counts as refusing
            box["raised"] = exc
        else:
            box["returned"] = bridge
            await close_bridge(bridge, timeout=1.0)
        finally:
            if isinstance(orchestrator, HangingOrchestrator):
                orchestrator.release()

    started = time.monotonic()
    finished = run_in_worker(attempt, join_timeout=limit + 1.0, name=f"wsbridge-fail-fast: {case}")
    elapsed = time.monotonic() - started
    if finished is None:
        return FailFastOutcome(case, "hung", "it blocked its thread (a synchronous wait)", elapsed)
    if finished.error is not None:  # a loop-level failure is still the factory's doing
        box.setdefault("raised", finished.error)
    if "hung" in box:
        return FailFastOutcome(case, "hung", box["hung"], elapsed)
    if "returned" in box:
        bridge = box["returned"]
        return FailFastOutcome(case, "returned", f"a {type(bridge).__name__}", elapsed)
    error = box.get("raised")
    detail = f"{type(error).__name__}: {error}" if error is not None else "no answer"
    if elapsed > limit:
        return FailFastOutcome(case, "hung", f"it raised only after {elapsed:.2f}s", elapsed)
    return FailFastOutcome(case, "raised", detail, elapsed)
