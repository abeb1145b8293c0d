"""Options, ini keys, markers, start-up validation, reports, xdist and asyncio auto mode."""

from __future__ import annotations

import json

import pytest
from wsbridge_projects import make_project

from pytest_wsbridge.config import SettingsError, WsBridgeSettings, parse_settings


def settings(option: dict[str, object], ini: dict[str, object]) -> WsBridgeSettings:
    return parse_settings(option.get, ini.get)


def test_command_line_wins_over_ini_and_defaults_apply() -> None:
    ini = {"wsbridge_strict": "true", "wsbridge_factory": "a:b", "wsbridge_delivery_timeout": "3"}
    parsed = settings({"wsbridge_factory": "c:d", "wsbridge_init_timeout": "1.5"}, ini)
    assert (parsed.strict, parsed.factory) == (True, "c:d")
    assert (parsed.delivery_timeout, parsed.init_timeout) == (3.0, 1.5)
    assert settings({}, {}) == WsBridgeSettings()


@pytest.mark.parametrize(
    ("key", "value", "names"),
    [
        ("wsbridge_strict", "maybe", "use one of: 1, true, yes, on, 0, false, no, off"),
        ("wsbridge_delivery_timeout", "soon", "use a positive number such as 2"),
        ("wsbridge_init_timeout", "-1", "use a positive number such as 5"),
        ("wsbridge_report", "out.txt", "must end in .json or .html"),
    ],
)
def test_bad_values_name_the_valid_ones(key: str, value: str, names: str) -> None:
    with pytest.raises(SettingsError, match=names):
        settings({}, {key: value})


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        ("no_such_module:create", "cannot import module 'no_such_module'"),
        ("bridges:missing", "module 'bridges' has no attribute 'missing'"),
        ("bridges:not_callable", "names a int, not a callable"),
        ("bridges", "is not of the form MODULE:CALLABLE"),
    ],
)
def test_bad_factory_stops_the_run_at_start_up(
    pytester: pytest.Pytester, factory: str, message: str
) -> None:
    make_project(pytester, "def test_never_runs(): pass\n")
    result = pytester.runpytest(f"--wsbridge-factory={factory}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: pytest-wsbridge: bridge factory *{message}*"])
    result.stdout.no_fnmatch_line("*test_never_runs*")


def test_bad_ini_value_is_a_usage_error(pytester: pytest.Pytester) -> None:
    make_project(pytester, "def test_never_runs(): pass\n", ini="wsbridge_strict = sometimes")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*wsbridge_strict = 'sometimes' is not a boolean; use one of*"])


def test_header_shows_ini_and_command_line_precedence(pytester: pytest.Pytester) -> None:
    make_project(
        pytester,
        "def test_nothing(): pass\n",
        ini="wsbridge_factory = bridges:dropping\nwsbridge_strict = true",
    )
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(
        ["wsbridge: factory bridges:dropping, strict on, delivery timeout 0.5s, init timeout 0.5s"]
    )
    result = pytester.runpytest("--wsbridge-factory=bridges:buffering", "--wsbridge-init-timeout=2")
    result.stdout.fnmatch_lines(
        ["wsbridge: factory bridges:buffering, strict on, *init timeout 2s"]
    )


def test_markers_are_registered_with_descriptions(pytester: pytest.Pytester) -> None:
    make_project(pytester, "")
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(
        [
            "@pytest.mark.wsbridge_delivery: every event the test emitted *",
            "@pytest.mark.wsbridge_threads: a notify call for a run without a thread raised*",
            "@pytest.mark.wsbridge_fail_fast: the bridge factory raises within *",
        ]
    )


MIXED_TESTS = """
import pytest
from reference_impl import generate_run_id

@pytest.mark.parametrize("n", range(4))
async def test_emits(ws_bridge, fake_connection_manager, n):
    run = generate_run_id(f"t{n}")
    await fake_connection_manager.connect(f"t{n}")
    await ws_bridge.notify_agent_started(run, "a")
    await ws_bridge.notify_agent_completed(run, "a")

@pytest.mark.wsbridge_delivery
async def test_dropped(ws_bridge):
    await ws_bridge.notify_agent_started(generate_run_id("lonely"), "a")
"""


def test_xdist_auto_mode_and_report_add_up(pytester: pytest.Pytester) -> None:
    make_project(
        pytester,
        MIXED_TESTS,
        mode="auto",
        ini="wsbridge_factory = bridges:buffering\nwsbridge_report = out/report.json",
    )
    result = pytester.runpytest_subprocess(
        "-n", "2", "--wsbridge-factory=bridges:dropping", "--wsbridge-strict"
    )
    assert "gw1" in result.stdout.str()
    result.assert_outcomes(failed=5)
    result.stdout.fnmatch_lines(
        [
            "*tests checked: 5 (5 with violations)*",
            "*events emitted: 9, delivered: 8*",
            "*violations by check: delivery 1, threads 0, fail_fast 5, lifecycle 0*",
            "report written to out/report.json",
        ]
    )
    data = json.loads((pytester.path / "out" / "report.json").read_text())
    assert data["summary"]["tests_checked"] == 5
    assert data["summary"]["violations_by_check"]["delivery"] == 1
    [dropped] = [t for t in data["tests"] if t["nodeid"].endswith("test_dropped")]
    [violation] = [v for v in dropped["violations"] if v["check"] == "delivery"]
    assert violation["thread_id"] == "lonely"
    assert "late subscriber" in violation["events"][0]["what"]


def test_html_report(pytester: pytest.Pytester) -> None:
    make_project(pytester, MIXED_TESTS, mode="auto", ini="wsbridge_factory = bridges:dropping")
    result = pytester.runpytest("--wsbridge-report=report.html", "-k", "dropped")
    result.assert_outcomes(failed=1)
    page = (pytester.path / "report.html").read_text()
    assert page.startswith("<!doctype html>")
    assert "test_dropped" in page
    assert "did not get it either" in page


class _RecordingParser:
    """Stands in for pytest's parser: records what the plugin declares."""

    def __init__(self) -> None:
        self.options: list[str] = []
        self.ini: list[str] = []

    def getgroup(self, *_: object) -> _RecordingParser:
        return self

    def addoption(self, *_: object, dest: str, **__: object) -> None:
        self.options.append(dest)

    def addini(self, name: str, *_: object, **__: object) -> None:
        self.ini.append(name)


def test_every_option_has_its_ini_key() -> None:
    from pytest_wsbridge import plugin

    parser = _RecordingParser()
    plugin.pytest_addoption(parser)  # type: ignore[arg-type]
    assert "wsbridge_compliance" in parser.options
    assert sorted(parser.options) == sorted(parser.ini)


def test_compliance_can_be_switched_on_from_the_ini() -> None:
    assert settings({}, {"wsbridge_compliance": "yes"}).compliance is True
    assert settings({"wsbridge_compliance": False}, {"wsbridge_compliance": "yes"}).compliance is (
        False
    )
    assert settings({}, {}).compliance is False
