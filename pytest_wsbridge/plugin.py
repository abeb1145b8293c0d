"""The pytest entry point (``pytest11: wsbridge``): options, ini keys, markers and hooks.

The work is elsewhere: settings in :mod:`~pytest_wsbridge.config`, fixtures in
:mod:`~pytest_wsbridge.fixtures`, recording in :mod:`~pytest_wsbridge.ledger`, verdicts in
:mod:`~pytest_wsbridge.checks`, the per-test flow in :mod:`~pytest_wsbridge.flow` and
the summary and files in :mod:`~pytest_wsbridge.report`.

Checks run in a ``pytest_runtest_call`` wrapper, after the test body and before fixture
teardown, so a violation fails the test in its call phase (not as a teardown error) while
the bridge, its connections and the test's event loop are still alive to settle on.
"""

from __future__ import annotations

import sys
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from .agui.testing import agui_stream, check_agui_item
from .config import (
    DEFAULT_DELIVERY_TIMEOUT,
    DEFAULT_INIT_TIMEOUT,
    SettingsError,
    parse_settings,
)
from .factory import DEFAULT_FACTORY, Factory, FactoryError, load_factory
from .fixtures import (
    fake_connection_manager,
    real_ws_server,
    ws_bridge,
    wsbridge_factory,
    wsbridge_server_options,
)
from .flow import STATE_KEY, PluginState, applicable_checks, check_item, plugin_state
from .markers import MARKERS
from .report import SessionReport

__all__ = [
    "MARKERS",
    "agui_stream",
    "fake_connection_manager",
    "pytest_addoption",
    "pytest_configure",
    "pytest_itemcollected",
    "pytest_report_header",
    "pytest_runtest_call",
    "pytest_sessionfinish",
    "pytest_terminal_summary",
    "pytest_testnodedown",
    "real_ws_server",
    "ws_bridge",
    "wsbridge_factory",
    "wsbridge_server_options",
]

_WORKER_KEY = "wsbridge"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("wsbridge", "pytest-wsbridge: prove a bridge loses no agent event")
    group.addoption(
        "--wsbridge-strict",
        action="store_const",
        const=True,
        default=None,
        dest="wsbridge_strict",
        help="apply every wsbridge check to every test that uses ws_bridge or real_ws_server",
    )
    group.addoption(
        "--wsbridge-factory",
        dest="wsbridge_factory",
        metavar="MODULE:CALLABLE",
        help=f"the bridge factory under test (default {DEFAULT_FACTORY})",
    )
    group.addoption(
        "--wsbridge-report",
        dest="wsbridge_report",
        metavar="PATH",
        help="write the wsbridge report to PATH (.json or .html)",
    )
    group.addoption(
        "--wsbridge-delivery-timeout",
        dest="wsbridge_delivery_timeout",
        metavar="SECONDS",
        help=f"wait this long for in-flight events (default {DEFAULT_DELIVERY_TIMEOUT:g})",
    )
    group.addoption(
        "--wsbridge-init-timeout",
        dest="wsbridge_init_timeout",
        metavar="SECONDS",
        help=f"a factory must fail within this long (default {DEFAULT_INIT_TIMEOUT:g})",
    )
    group.addoption(
        "--wsbridge-compliance",
        action="store_true",
        default=None,
        dest="wsbridge_compliance",
        help="also collect and run the packaged bridge compliance suite against the factory",
    )
    parser.addini("wsbridge_strict", "apply every wsbridge check (true/false)", default="")
    parser.addini("wsbridge_factory", "the bridge factory, MODULE:CALLABLE", default="")
    parser.addini("wsbridge_report", "write the wsbridge report here (.json/.html)", default="")
    parser.addini(
        "wsbridge_delivery_timeout",
        f"seconds to wait for in-flight events (default {DEFAULT_DELIVERY_TIMEOUT:g})",
        default="",
    )
    parser.addini(
        "wsbridge_compliance",
        "also collect and run the packaged bridge compliance suite (true/false)",
        default="",
    )
    parser.addini(
        "wsbridge_init_timeout",
        f"seconds a factory may take to fail (default {DEFAULT_INIT_TIMEOUT:g})",
        default="",
    )


def pytest_configure(config: pytest.Config) -> None:
    for marker in MARKERS:
        config.addinivalue_line("markers", marker.ini_line())
    try:
        settings = parse_settings(
            lambda name: config.getoption(name, None),
            config.getini,
        )
    except SettingsError as exc:
        raise pytest.UsageError(f"pytest-wsbridge: {exc}") from None
    try:
        factory = _load_factory(settings.factory, config.rootpath)
    except FactoryError as exc:
        raise pytest.UsageError(
            f"pytest-wsbridge: {exc} (set by --wsbridge-factory or the wsbridge_factory ini key)"
        ) from None
    report = SessionReport(factory=settings.factory, strict=settings.strict)
    state = config.stash[STATE_KEY] = PluginState(settings, factory, report)
    if settings.strict and not _is_xdist_controller(config):
        state.start_probe()  # strict checks fail-fast on every bridge test: overlap collection
    if settings.compliance:
        from .compliance import collect  # imported only when asked: it loads every case

        collect.register(
            config,
            factory=settings.factory,
            loaded=factory,
            report=settings.report,
            init_timeout=settings.init_timeout,
            delivery_timeout=settings.delivery_timeout,
        )


def _load_factory(spec: str, rootdir: Path) -> Factory:
    """Load the factory; a module that sits in the rootdir is found as pytest finds tests."""
    try:
        return load_factory(spec)
    except FactoryError:
        top = spec.partition(":")[0].split(".")[0]
        local = (rootdir / f"{top}.py").is_file() or (rootdir / top / "__init__.py").is_file()
        if not top or not local or str(rootdir) in sys.path:
            raise
    sys.path.insert(0, str(rootdir))
    return load_factory(spec)


def _is_xdist_controller(config: pytest.Config) -> bool:
    """The xdist controller runs no test: only its workers probe."""
    return not hasattr(config, "workerinput") and bool(getattr(config.option, "numprocesses", 0))


def pytest_itemcollected(item: pytest.Item) -> None:
    """Start the fail-fast probe in the background as soon as a test that needs it is
    collected, so it runs while the rest of the session is collected."""
    state = plugin_state(item.config)
    if state.background is not None or _is_xdist_controller(item.config):
        return
    if "fail_fast" in applicable_checks(item, state.settings.strict):
        state.start_probe()


def pytest_report_header(config: pytest.Config) -> str:
    settings = plugin_state(config).settings
    return (
        f"wsbridge: factory {settings.factory}, strict {'on' if settings.strict else 'off'}, "
        f"delivery timeout {settings.delivery_timeout:g}s, "
        f"init timeout {settings.init_timeout:g}s"
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    result = yield  # a failing body raises here and is reported as it is
    check_item(item)
    check_agui_item(item, strict=plugin_state(item.config).settings.strict)
    return result


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    state = plugin_state(config)
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput[_WORKER_KEY] = state.report.to_dict()
        return
    if state.settings.report is not None and not state.settings.compliance:
        state.report.write(state.settings.report)  # with compliance, its report goes there


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """xdist: add a worker's report to the controller's."""
    data = getattr(node, "workeroutput", {}).get(_WORKER_KEY)
    if data:
        plugin_state(node.config).report.merge(data)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return
    state = plugin_state(config)
    report = state.report
    own_report = state.settings.report is not None and not state.settings.compliance
    wanted = state.settings.strict or own_report
    if not (report.tests_checked or report.sections or wanted):
        return
    terminalreporter.write_sep("-", "wsbridge")
    for line in report.terminal_lines():
        terminalreporter.write_line(line)
    if own_report:
        terminalreporter.write_line(f"report written to {state.settings.report}")
