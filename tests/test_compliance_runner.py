"""The runner bounds every case, whatever the bridge does, and drives sync and async bridges."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import warnings
from typing import Any

import pytest
from server_support import SLACK

from pytest_wsbridge.compliance import (
    CASES,
    Case,
    CaseOptions,
    Outcome,
    Verdict,
    run_case,
    run_suite,
    select_cases,
)
from pytest_wsbridge.compliance.harness import describe_difference
from pytest_wsbridge.compliance.model import FAMILIES
from reference_impl import AgentWebSocketBridge, create_bridge

SHORT = CaseOptions(case_timeout=0.5, init_timeout=0.3, delivery_timeout=0.3)
# For verdicts that must be OK: the waits end as soon as everything arrived, so generous limits
# cost nothing on a good run and keep a loaded machine (CI runs two suites at once) from failing.
PATIENT = CaseOptions(case_timeout=30.0, delivery_timeout=10.0)


def _case(case_id: str) -> Case:
    return next(c for c in CASES if c.id == case_id)


class HangingNotifyBridge:
    """Every notify call waits for ever (a bridge stuck on a lock or a dead backend)."""

    def __init__(self, **_: Any) -> None:
        self.gate = asyncio.Event()

    async def register_run(self, run_id: str, thread_id: str) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        if not name.startswith("notify_"):
            raise AttributeError(name)

        async def hang(*args: Any, **kwargs: Any) -> None:
            await self.gate.wait()

        return hang


def test_a_hanging_bridge_is_failed_within_the_case_limit() -> None:
    started = time.perf_counter()
    result = run_case(_case("WSB-1.1"), HangingNotifyBridge, SHORT)
    assert result.verdict is Verdict.FAILED
    assert "did not finish within 0.5s" in result.observed
    assert "notify_agent_started() never returned" in result.observed
    assert time.perf_counter() - started < 0.5 + SLACK


def test_a_factory_that_blocks_its_loop_is_failed_and_abandoned() -> None:
    release = threading.Event()

    def blocking_factory(**_: Any) -> object:
        release.wait(30)  # a synchronous call that does not return: the loop is blocked
        return object()

    try:
        started = time.perf_counter()
        result = run_case(_case("WSB-1.1"), blocking_factory, SHORT)
        assert time.perf_counter() - started < 2.5 + SLACK  # case limit + thread grace
    finally:
        release.set()
    assert result.verdict is Verdict.FAILED
    assert "blocked its event loop" in result.observed


def test_a_fail_fast_case_with_a_hanging_factory_is_bounded_by_the_init_timeout() -> None:
    async def hangs_on_health(*, connection_manager: Any, orchestrator: Any) -> object:
        await orchestrator.health_check()  # no timeout; every orchestrator method hangs
        return object()

    started = time.perf_counter()
    result = run_case(_case("WSB-3.3"), hangs_on_health, SHORT)
    assert result.verdict is Verdict.FAILED
    assert "the factory hangs: still waiting at the limit of 0.58s" in result.observed
    assert time.perf_counter() - started < 0.58 + 1.0 + SLACK  # limit, cancel


def test_a_factory_that_raises_on_a_healthy_orchestrator_fails_every_built_case() -> None:
    def broken_factory(**_: Any) -> object:
        raise RuntimeError("config missing")

    suite = run_suite(broken_factory, select_cases(CASES, ["delivery"]), options=SHORT)
    assert {r.verdict for r in suite.results} == {Verdict.FAILED}
    assert "the factory raised with a healthy reference orchestrator: RuntimeError" in (
        suite.results[0].observed
    )


class SyncBridge:
    """Sync methods that hand the work to the reference bridge in background tasks."""

    def __init__(self, inner: AgentWebSocketBridge) -> None:
        self.inner = inner
        self.tasks: set[asyncio.Task[Any]] = set()

    def register_run(self, run_id: str, thread_id: str) -> None:
        self._spawn(self.inner.register_run(run_id, thread_id))

    def __getattr__(self, name: str) -> Any:
        if not name.startswith("notify_"):
            raise AttributeError(name)
        method = getattr(self.inner, name)

        def notify(*args: Any, **kwargs: Any) -> bool:
            self._spawn(method(*args, **kwargs))
            return True

        return notify

    def _spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


def test_a_sync_bridge_that_sends_from_background_tasks_is_driven_and_waited_for() -> None:
    def factory(*, connection_manager: Any, orchestrator: Any) -> SyncBridge:
        return SyncBridge(
            AgentWebSocketBridge(connection_manager=connection_manager, orchestrator=orchestrator)
        )

    cases = select_cases(CASES, ["WSB-1.1", "WSB-1.3", "WSB-1.4", "WSB-1.5", "WSB-1.10"])
    suite = run_suite(factory, cases, options=PATIENT)
    assert [(r.id, r.verdict) for r in suite.results] == [(c.id, Verdict.OK) for c in cases]


def test_an_async_factory_and_a_sync_one_give_the_same_verdicts() -> None:
    async def async_factory(**kwargs: Any) -> AgentWebSocketBridge:
        return await create_bridge(**kwargs)

    def sync_factory(**kwargs: Any) -> AgentWebSocketBridge:
        return AgentWebSocketBridge(**kwargs)

    cases = select_cases(CASES, ["WSB-1.*", "WSB-2.6"])
    for factory in (async_factory, sync_factory):
        suite = run_suite(factory, cases, options=PATIENT)
        assert suite.passed, suite.failed


def test_a_case_that_crashes_is_failed_with_the_reason() -> None:
    async def crash(ctx: Any) -> Outcome:
        await ctx.build()
        raise KeyError("oops")

    broken = Case(FAMILIES[0], 99, "crashes", "nothing", crash, builds_bridge=True)
    result = run_case(broken, create_bridge, SHORT)
    assert result.verdict is Verdict.FAILED
    assert "KeyError" in result.observed


@pytest.mark.parametrize(
    ("include", "exclude", "expected"),
    [
        (["WSB-2.1"], [], ["WSB-2.1"]),
        (["WSB-3.*"], ["WSB-3.3,WSB-3.5"], ["WSB-3.1", "WSB-3.2", "WSB-3.4", "WSB-3.6", "WSB-3.7"]),
        (["failfast"], ["WSB-3.[2-7]"], ["WSB-3.1"]),
        (["nothing-*"], [], []),
    ],
)
def test_select_cases_by_id_glob_or_family(
    include: list[str], exclude: list[str], expected: list[str]
) -> None:
    assert [c.id for c in select_cases(CASES, include, exclude)] == expected


def test_cases_are_in_id_order_and_numbered_from_one_per_family() -> None:
    for family in FAMILIES:
        numbers = [c.number for c in CASES if c.family is family]
        assert numbers == list(range(1, len(numbers) + 1))


def test_describe_difference_names_missing_repeated_and_reordered_events() -> None:
    expected = [("r", "agent_started"), ("r", "agent_thinking"), ("r", "agent_completed")]
    assert describe_difference(expected, expected) is None
    missing = describe_difference(expected, expected[:1] + expected[2:])
    assert missing is not None
    assert "missing agent_thinking (#2)" in missing
    repeated = describe_difference(expected, [*expected, expected[1]])
    assert repeated is not None
    assert "repeated or unexpected agent_thinking" in repeated
    reordered = describe_difference(expected, list(reversed(expected)))
    assert reordered is not None
    assert "out of order" in reordered


def test_never_awaited_orchestrator_calls_leave_no_warning_behind() -> None:
    def sloppy(*, connection_manager: Any, orchestrator: Any) -> AgentWebSocketBridge:
        """Forgets to await the health check: a coroutine is truthy, so anything passes."""
        if orchestrator is None or not orchestrator.health_check():
            raise RuntimeError("unhealthy orchestrator")
        return AgentWebSocketBridge(
            connection_manager=connection_manager, orchestrator=orchestrator
        )

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        suite = run_suite(sloppy, select_cases(CASES, ["WSB-3.2", "WSB-3.3"]), options=SHORT)
        gc.collect()
    assert [r.verdict for r in suite.results] == [Verdict.FAILED, Verdict.FAILED]
    assert "the factory returned a AgentWebSocketBridge" in suite.results[0].observed
    assert [str(w.message) for w in caught if "never awaited" in str(w.message)] == []
