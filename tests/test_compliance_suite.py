"""The compliance suite discriminates: the reference passes every case, each broken bridge fails
exactly the cases its defect breaks (and at least one of its own family)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_wsbridge.compliance import CASES, FAMILIES, CaseOptions, SuiteResult, Verdict, run_suite
from pytest_wsbridge.factory import load_factory

ROOT = Path(__file__).resolve().parents[1]
FAST = CaseOptions(case_timeout=5.0, init_timeout=1.0, delivery_timeout=0.5)
# The reference must get every verdict OK: passing cases end as soon as they are done, so roomy
# limits cost nothing and keep a loaded CI machine (coverage, two suites at once) from failing.
ROOMY = CaseOptions(case_timeout=30.0, init_timeout=5.0, delivery_timeout=0.5)

# module -> (family of its defect, the cases that must FAIL, exactly)
BROKEN = {
    "run_id_fallback": ("resolution", {"WSB-2.6", "WSB-2.7", "WSB-2.9"}),
    "split_thread_parsing": (
        "resolution",
        {"WSB-2.2", "WSB-2.3", "WSB-2.4", "WSB-2.5", "WSB-2.9", "WSB-6.3"},
    ),
    "optional_orchestrator": ("failfast", {"WSB-3.1", "WSB-3.7"}),
    "unbounded_health_check": ("failfast", {"WSB-3.3"}),
    "no_buffering": ("replay", {"WSB-5.1", "WSB-5.2", "WSB-5.5", "WSB-5.9", "WSB-6.7"}),
    "duplicates_on_reconnect": ("replay", {"WSB-5.2", "WSB-5.3", "WSB-5.4", "WSB-5.5"}),
    "swallowed_send_errors": ("delivery", {"WSB-1.7"}),
    "cross_thread_broadcast": (
        "isolation",
        {"WSB-1.4", "WSB-4.8", "WSB-6.1", "WSB-6.2", "WSB-6.3", "WSB-6.4", "WSB-6.5", "WSB-6.8"},
    ),
}


@pytest.fixture(scope="module")
def examples_importable() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(ROOT))
        yield


@pytest.fixture(scope="module")
def reference_suite() -> SuiteResult:
    """The whole suite against the reference (given the short init timeout, like the others)."""
    factory = load_factory("reference_impl:create_bridge")
    return run_suite(factory, CASES, factory_name="reference_impl:create_bridge", options=ROOMY)


def _verdicts(suite: SuiteResult, verdict: Verdict) -> set[str]:
    return {r.id for r in suite.results if r.verdict is verdict}


def test_at_least_forty_cases_in_seven_families() -> None:
    assert len(CASES) >= 40
    assert {c.family.name for c in CASES} == {f.name for f in FAMILIES}
    assert all(len([c for c in CASES if c.family is f]) >= 5 for f in FAMILIES)
    assert len({c.id for c in CASES}) == len(CASES)
    assert all(c.description and c.expected for c in CASES)


def test_reference_is_ok_on_every_case(reference_suite: SuiteResult) -> None:
    not_ok = [
        (r.id, r.verdict.value, r.observed)
        for r in reference_suite.results
        if r.verdict is not Verdict.OK
    ]
    assert not_ok == []
    assert len(reference_suite.results) == len(CASES)
    assert reference_suite.bridge_class == "reference_impl.bridge.AgentWebSocketBridge"


@pytest.mark.usefixtures("examples_importable")
def test_the_correct_control_bridge_is_ok_on_every_case() -> None:
    suite = run_suite(
        load_factory("examples.broken_bridges.base:create_bridge"), CASES, options=ROOMY
    )
    assert {r.id: r.observed for r in suite.results if r.verdict is not Verdict.OK} == {}


@pytest.mark.usefixtures("examples_importable")
@pytest.mark.parametrize("module", sorted(BROKEN))
def test_each_broken_bridge_fails_exactly_its_cases(module: str) -> None:
    family, must_fail = BROKEN[module]
    factory = load_factory(f"examples.broken_bridges.{module}:create_bridge")
    suite = run_suite(factory, CASES, options=FAST)
    failed = _verdicts(suite, Verdict.FAILED)
    assert failed == must_fail, {r.id: r.observed for r in suite.failed}
    assert any(r.family == family for r in suite.failed), f"{module} not caught by {family}"
    assert _verdicts(suite, Verdict.UNIMPLEMENTED) == set()


@pytest.mark.usefixtures("examples_importable")
def test_a_weaker_bridge_gets_non_strict_and_unimplemented_but_nothing_failed() -> None:
    factory = load_factory("examples.broken_bridges.lenient_no_replay:create_bridge")
    suite = run_suite(factory, CASES, options=ROOMY)
    assert suite.passed
    assert _verdicts(suite, Verdict.NON_STRICT) == {"WSB-2.6", "WSB-2.7", "WSB-2.9"}
    replay_cases = {c.id for c in CASES if c.needs_replay}
    assert _verdicts(suite, Verdict.UNIMPLEMENTED) == replay_cases
    assert {c.family.name for c in CASES if c.needs_replay} >= {"replay", "isolation"}
    unimplemented = next(r for r in suite.results if r.verdict is Verdict.UNIMPLEMENTED)
    assert "has no replay" in unimplemented.observed
