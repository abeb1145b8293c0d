"""``pytest --wsbridge-compliance``: one item per case, the outcome follows the verdict, reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BROKEN = "examples.broken_bridges"


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
        "wsbridge_init_timeout = 0.5\nwsbridge_delivery_timeout = 0.5\n"
    )
    # The example bridges, importable in the run and in every xdist worker.
    pytester.makeconftest(f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n")
    return pytester


def _run(pytester: pytest.Pytester, factory: str, *args: str) -> pytest.RunResult:
    return pytester.runpytest(
        "--wsbridge-compliance",
        f"--wsbridge-factory={BROKEN}.{factory}:create_bridge",
        "-p",
        "no:cacheprovider",
        *args,
    )


def test_a_failed_case_fails_its_item_with_expected_and_observed(project: pytest.Pytester) -> None:
    result = _run(project, "swallowed_send_errors", "-k", "WSB-1.7 or WSB-1.2")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*WSB-1.7 FAILED: A send that raises does not lose the event silently",
            "*expected: the connection manager's send raises once*",
            "*observed: the send raised, notify_agent_thinking returned True*",
            "FAILED wsbridge-compliance::WSB-1.7*",
        ]
    )


def test_verdicts_show_and_unimplemented_skips_with_the_reason(project: pytest.Pytester) -> None:
    report = project.path / "compliance.json"
    result = _run(
        project,
        "lenient_no_replay",
        f"--wsbridge-report={report}",
        "-v",
        "-rs",
        "-k",
        "WSB-1.1 or WSB-2.6 or WSB-5.1",
    )
    result.assert_outcomes(passed=5, skipped=1)  # WSB-1.1 selects 1.10-1.12 too
    result.stdout.fnmatch_lines(
        [
            "*wsbridge-compliance::WSB-2.6 NON-STRICT*",
            "*wsbridge-compliance::WSB-5.1 UNIMPLEMENTED*",
            "*wsbridge compliance: examples.broken_bridges.lenient_no_replay:create_bridge*",
            "total*4*1*0*1*0",
            "UNIMPLEMENTED*WSB-5.1 UNIMPLEMENTED: LenientBridge has no replay(thread_id, *)",
        ]
    )
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["index"] == {
        "WSB-1.1": "OK",
        "WSB-1.10": "OK",
        "WSB-1.11": "OK",
        "WSB-1.12": "OK",
        "WSB-2.6": "NON-STRICT",
        "WSB-5.1": "UNIMPLEMENTED",
    }
    assert data["bridge"]["class"] == "examples.broken_bridges.lenient_no_replay.LenientBridge"


def test_results_add_up_across_xdist_workers(project: pytest.Pytester) -> None:
    report = project.path / "compliance.html"
    result = _run(
        project, "run_id_fallback", f"--wsbridge-report={report}", "-n", "2", "-k", "resolution"
    )
    result.assert_outcomes(passed=9, failed=3)
    result.stdout.fnmatch_lines(["2 resolution*9*0*0*0*3"])
    page = report.read_text(encoding="utf-8")
    assert page.count('<section class="case"') == 12
    assert 'href="#WSB-2.6"' in page


def test_without_the_option_nothing_is_collected(project: pytest.Pytester) -> None:
    project.makepyfile("def test_own():\n    pass\n")
    result = project.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "wsbridge-compliance" not in result.stdout.str()


def test_the_factory_can_come_from_the_ini_and_the_json_report_keeps_the_session(
    project: pytest.Pytester,
) -> None:
    project.makeini(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
        "wsbridge_factory = reference_impl:create_bridge\nwsbridge_report = out.json\n"
    )
    project.makepyfile(
        """
        import pytest
        from reference_impl import generate_run_id

        @pytest.mark.asyncio
        @pytest.mark.wsbridge_delivery
        async def test_own(ws_bridge, fake_connection_manager):
            connection = await fake_connection_manager.connect("t1")
            await ws_bridge.notify_agent_started(generate_run_id("t1"), "agent")
            assert len(connection.messages) == 1
        """
    )
    result = project.runpytest(
        "--wsbridge-compliance", "-k", "own or WSB-4", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=12)
    data = json.loads((project.path / "out.json").read_text(encoding="utf-8"))
    assert data["bridge"]["factory"] == "reference_impl:create_bridge"
    assert set(data["index"].values()) == {"OK"}
    assert len(data["index"]) == 11
    assert data["session"]["summary"]["tests_checked"] == 1


def test_a_bad_factory_is_a_usage_error(project: pytest.Pytester) -> None:
    result = project.runpytest(
        "--wsbridge-compliance", "--wsbridge-factory=no_such_module_xyz:create_bridge"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*cannot import module 'no_such_module_xyz'*"])


def test_the_collection_can_be_registered_from_a_conftest(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makeconftest(
        """
        from pytest_wsbridge.compliance import collect

        def pytest_configure(config):
            collect.register(config, factory="reference_impl:create_bridge")
        """
    )
    result = pytester.runpytest("-k", "WSB-7.1 or WSB-7.2", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_the_ini_key_switches_the_suite_on(project: pytest.Pytester) -> None:
    project.makeini(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\nwsbridge_compliance = true\n"
        "wsbridge_init_timeout = 0.5\nwsbridge_delivery_timeout = 0.5\n"
    )
    result = project.runpytest("-p", "no:cacheprovider", "-v", "-k", "WSB-7.1")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*WSB-7.1*"])
