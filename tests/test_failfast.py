"""Fail-fast start-up: one verdict for ``wsbridge_fail_fast`` and WSB-3.x, whatever the factory.

Any exception a factory raises within the init timeout is a refusal, ``TimeoutError`` and
``asyncio.TimeoutError`` included; only the probe's own limit makes a hang (issue 11 §1). The
factories are in ``failfast_bridges.py``; each is judged by the marker's probe, by the
compliance runner, by ``pytest --wsbridge-compliance`` next to a marked test, and by
``wsbridge check``.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import failfast_bridges as bridges
import pytest
from failfast_bridges import EXPECTED, FACTORIES, INIT_TIMEOUT, LIMIT

from pytest_wsbridge.checks import check_fail_fast
from pytest_wsbridge.cli import main
from pytest_wsbridge.compliance import CASES, CaseOptions, Verdict, run_suite, select_cases
from pytest_wsbridge.factory import close_bridge
from pytest_wsbridge.failfast import CASES as PROBE_CASES
from pytest_wsbridge.failfast import limit, probe_case, probe_factory, start
from pytest_wsbridge.fakes import FakeConnectionManager, HangingOrchestrator
from pytest_wsbridge.fixtures import _late_fake_subscriber
from pytest_wsbridge.ledger import Ledger
from pytest_wsbridge.waiting import answer_within

HERE = Path(__file__).resolve().parent
FAILFAST_IDS = [case.id for case in PROBE_CASES]


@pytest.fixture(autouse=True)
def _unblock() -> Iterator[None]:
    """Let a blocked ``sync_blocks`` thread go when the test is over."""
    bridges.UNBLOCK.clear()
    yield
    bridges.UNBLOCK.set()


def test_the_test_factories_share_the_probes_limit() -> None:
    assert limit(INIT_TIMEOUT) == pytest.approx(LIMIT)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_the_marker_and_wsb3_agree(name: str) -> None:
    factory = FACTORIES[name]
    outcomes = probe_factory(factory, init_timeout=INIT_TIMEOUT)
    assert [o.id for o in outcomes] == FAILFAST_IDS
    assert {o.id: o.result for o in outcomes if not o.refused} == EXPECTED[name], [
        (o.id, o.detail) for o in outcomes
    ]
    suite = run_suite(
        factory, select_cases(CASES, FAILFAST_IDS), options=CaseOptions(init_timeout=INIT_TIMEOUT)
    )
    verdicts = {r.id: r.verdict for r in suite.results}
    assert verdicts == {o.id: Verdict.OK if o.refused else Verdict.FAILED for o in outcomes}, [
        (r.id, r.observed) for r in suite.results
    ]
    marker_passes = check_fail_fast(name, outcomes, INIT_TIMEOUT) == []
    assert marker_passes == all(v is Verdict.OK for v in verdicts.values())


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "error",
    [TimeoutError("own timer"), asyncio.TimeoutError("own timer"), asyncio.CancelledError()],
    ids=["TimeoutError", "asyncio.TimeoutError", "CancelledError"],
)
async def test_start_counts_any_exception_in_time_as_a_refusal(error: BaseException) -> None:
    async def factory(**_: Any) -> object:
        await asyncio.sleep(0)
        raise error

    started = await start(
        factory, connection_manager=FakeConnectionManager(), orchestrator=None, init_timeout=0.2
    )
    assert started.result == "raised"
    assert type(started.error).__name__ == type(error).__name__


def test_a_factory_that_swallows_cancellation_is_still_judged_hung() -> None:
    async def stubborn(**_: Any) -> object:
        for _ in range(3):
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(10)
        return object()

    outcome = probe_case(stubborn, PROBE_CASES[2], init_timeout=0.2)
    assert outcome.result == "hung"
    assert outcome.id == "WSB-3.3"


def test_the_hanging_stand_in_leaves_no_unawaited_coroutine() -> None:
    orchestrator = HangingOrchestrator()
    pending = orchestrator.health_check()
    orchestrator.release()
    assert pending.cr_frame is None  # type: ignore[attr-defined]  # closed, never awaited


# -- the same verdicts through pytest and the shell ---------------------------------------------

PROJECT_TESTS = """
import pytest

@pytest.mark.wsbridge_fail_fast
def test_marker():
    pass
"""

ISSUE_FACTORIES = {
    "wait_for_timeout": "passed",  # TimeoutError out of asyncio.wait_for
    "raises_asyncio_timeout": "passed",  # asyncio.TimeoutError raised by the factory
    "custom_error_late": "passed",  # its own error at 0.9 x the init timeout
    "sync_blocks": "failed",  # a synchronous factory that blocks
    "sync_returns_late": "failed",  # returns after the limit
}


@pytest.mark.parametrize("name", sorted(ISSUE_FACTORIES))
def test_marker_and_compliance_agree_in_one_pytest_run(
    pytester: pytest.Pytester, name: str
) -> None:
    pytester.makeini(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
        "addopts = -p no:cacheprovider -p no:hypothesispytest\n"
        f"wsbridge_factory = failfast_bridges:{name}\n"
        f"wsbridge_init_timeout = {INIT_TIMEOUT}\nwsbridge_delivery_timeout = 0.5\n"
    )
    pytester.makepyfile(
        failfast_bridges=(HERE / "failfast_bridges.py").read_text(encoding="utf-8"),
        test_project=PROJECT_TESTS,
    )
    result = pytester.runpytest_subprocess("--wsbridge-compliance", "-k", "WSB-3 or test_marker")
    if ISSUE_FACTORIES[name] == "passed":
        result.assert_outcomes(passed=8)
        return
    result.assert_outcomes(passed=6, failed=2)
    result.stdout.fnmatch_lines(
        ["*- a hanging orchestrator (no method ever returns) (WSB-3.3): hang after *"]
    )
    result.stdout.fnmatch_lines(["*WSB-3.3 FAILED: *", "*observed: *the factory hangs: *"])
    assert "FAILED test_project.py::test_marker" in result.stdout.str()


@pytest.mark.parametrize(("name", "status"), [("raises_asyncio_timeout", 0), ("sync_blocks", 1)])
def test_wsbridge_check_gives_the_same_verdicts(
    name: str, status: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(HERE)
    monkeypatch.setattr("sys.path", [str(HERE), *sys.path])
    code = main(
        ["check", f"failfast_bridges:{name}", "--cases", "failfast", "--init-timeout", "1.0"]
    )
    out = capsys.readouterr().out
    assert code == status, out
    failed = {w[0] for w in map(str.split, out.splitlines()) if w[:1] and w[1:2] == ["FAILED"]}
    assert failed == ({"WSB-3.3"} if status else set()), out


# -- every other wait that decides a verdict keeps the two apart ---------------------------------


@pytest.mark.asyncio
async def test_answer_within_tells_a_raised_timeout_from_its_own_limit() -> None:
    async def raises() -> None:
        raise TimeoutError("mine")

    async def hangs() -> None:
        await asyncio.Event().wait()

    raised = await answer_within(raises(), 5.0)
    assert not raised.timed_out
    assert isinstance(raised.error, TimeoutError)
    limited = await answer_within(hangs(), 0.01)
    assert limited.timed_out
    assert limited.error is None


@pytest.mark.asyncio
async def test_a_late_subscriber_whose_replay_raises_timeout_error_says_it_raised() -> None:
    class Bridge:
        async def replay(self, thread_id: str, after_seq: int) -> list[object]:
            raise TimeoutError("the store did not answer")

    manager = FakeConnectionManager()
    manager.bridge = Bridge()
    note = await _late_fake_subscriber(manager, Ledger(), "t", 5.0)
    assert note.startswith("a late subscriber resuming from seq 0: replay raised TimeoutError")


@pytest.mark.asyncio
async def test_close_bridge_says_how_a_close_went_wrong() -> None:
    class Closes:
        def __init__(self, error: BaseException | None, hang: bool = False) -> None:
            self.error, self.hang = error, hang

        async def aclose(self) -> None:
            if self.hang:
                await asyncio.Event().wait()
            if self.error is not None:
                raise self.error

    assert await close_bridge(Closes(None)) is None
    assert await close_bridge(object()) is None
    raised = await close_bridge(Closes(TimeoutError("slow disk")))
    assert raised == "aclose() raised TimeoutError('slow disk')"
    assert await close_bridge(Closes(None, hang=True), timeout=0.01) == (
        "aclose() did not finish within 0.01s"
    )
