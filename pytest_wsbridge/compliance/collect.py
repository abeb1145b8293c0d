"""pytest collection of the compliance suite: one test item per case, outcome from its verdict.

The plugin (``--wsbridge-compliance``) registers a :class:`CompliancePlugin` through
:func:`register`; loading this module with ``-p pytest_wsbridge.compliance.collect`` does the
same with the settings it can find. FAILED fails the item, UNIMPLEMENTED skips it with the
reason, NON-STRICT and INFORMATIONAL pass and say so (verbose status word, a report section
and the ``wsbridge_verdict`` user property). Results travel in each report's user properties,
so the JSON/HTML report and the terminal summary add up across pytest-xdist workers.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest

from ..exceptions import ComplianceFailed
from ..factory import DEFAULT_FACTORY, Factory, FactoryError, load_factory
from ..flow import STATE_KEY
from . import CASES
from .harness import CaseOptions
from .model import Case, CaseResult, SuiteResult, Verdict
from .report import render_summary, write_report
from .runner import run_case

__all__ = [
    "PLUGIN_NAME",
    "ComplianceItem",
    "CompliancePlugin",
    "ComplianceSuite",
    "pytest_configure",
    "register",
]

PLUGIN_NAME = "wsbridge-compliance"
_RESULT_KEY = "wsbridge_compliance"
_VERDICT_KEY = "wsbridge_verdict"
_STATUS = {
    Verdict.NON_STRICT: ("n", ("NON-STRICT", {"yellow": True})),
    Verdict.INFORMATIONAL: ("i", ("INFORMATIONAL", {"cyan": True})),
}


class CompliancePlugin:
    """Collects the packaged cases and gathers their results for the report and summary."""

    def __init__(
        self,
        *,
        factory_spec: str,
        factory: Factory,
        report: Path | None = None,
        options: CaseOptions | None = None,
    ) -> None:
        self.factory_spec = factory_spec
        self.factory = factory
        self.report = report
        self.options = options or CaseOptions()
        self.results: dict[str, CaseResult] = {}
        self.bridge_class: str | None = None

    def run(self, case: Case) -> CaseResult:
        def seen(bridge: Any) -> None:
            self.bridge_class = f"{type(bridge).__module__}.{type(bridge).__qualname__}"

        return run_case(case, self.factory, self.options, seen_bridge=seen)

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        suite = ComplianceSuite.from_parent(
            session, name=PLUGIN_NAME, nodeid=PLUGIN_NAME, plugin=self
        )
        cases = suite.collect()
        # Report the collection, so "collected N items" and -k/--deselect counts add up.
        nodes: list[pytest.Item | pytest.Collector] = [*cases]
        config.hook.pytest_collectreport(
            report=pytest.CollectReport(suite.nodeid, "passed", None, nodes)
        )
        items.extend(cases)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for name, value in report.user_properties:
            if name == _RESULT_KEY and isinstance(value, dict):
                self.results[str(value["id"])] = CaseResult.from_dict(value)
                self.bridge_class = value.get("bridge_class") or self.bridge_class

    def pytest_report_teststatus(
        self, report: pytest.TestReport, config: pytest.Config
    ) -> tuple[str, str, tuple[str, dict[str, bool]]] | None:
        if report.when != "call":
            return None
        verdict = dict(report.user_properties).get(_VERDICT_KEY)
        if verdict == Verdict.UNIMPLEMENTED.value and report.skipped:
            return "skipped", "u", ("UNIMPLEMENTED", {"yellow": True})
        status = _STATUS.get(Verdict(verdict)) if verdict in _VALUES else None
        if status is None or not report.passed:
            return None
        return "passed", status[0], status[1]

    def suite(self) -> SuiteResult:
        """The results gathered so far, in case order."""
        order = {c.id: n for n, c in enumerate(CASES)}
        results = sorted(self.results.values(), key=lambda r: order.get(r.id, len(order)))
        return SuiteResult(
            factory=self.factory_spec,
            results=results,
            bridge_class=self.bridge_class,
            duration=sum(r.duration for r in results),
        )

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if hasattr(session.config, "workerinput") or self.report is None or not self.results:
            return
        state = session.config.stash.get(STATE_KEY, None)
        checked = state is not None and state.report.tests_checked
        # The plugin's own checks of this session's tests ride along in the JSON.
        extra = {"session": state.report.to_dict()} if state is not None and checked else None
        write_report(self.suite(), self.report, extra)

    def pytest_terminal_summary(self, terminalreporter: Any, config: pytest.Config) -> None:
        if hasattr(config, "workerinput") or not self.results:
            return
        terminalreporter.write_sep("-", f"wsbridge compliance: {self.factory_spec}")
        for line in render_summary(self.suite()).splitlines():
            terminalreporter.write_line(line)
        if self.report is not None:
            terminalreporter.write_line(f"compliance report written to {self.report}")


_VALUES = {v.value for v in Verdict}


class ComplianceSuite(pytest.Collector):
    """The packaged cases as a collector node (``wsbridge-compliance::WSB-1.1`` ...)."""

    def __init__(self, *, plugin: CompliancePlugin, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.plugin = plugin

    def collect(self) -> list[pytest.Item]:
        return [ComplianceItem.from_parent(self, name=case.id, case=case) for case in CASES]


class ComplianceItem(pytest.Item):
    """One compliance case run against a fresh bridge from the factory."""

    def __init__(self, *, case: Case, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.add_marker(pytest.mark.wsbridge_compliance)
        self.extra_keyword_matches.add(case.family.name)  # -k replay
        self.user_properties.append(("wsbridge_case", case.id))

    @property
    def plugin(self) -> CompliancePlugin:
        parent = self.parent
        assert isinstance(parent, ComplianceSuite)
        return parent.plugin

    def runtest(self) -> None:
        result = self.plugin.run(self.case)
        record = {**result.to_dict(), "bridge_class": self.plugin.bridge_class}
        self.user_properties += [(_VERDICT_KEY, result.verdict.value), (_RESULT_KEY, record)]
        if result.verdict is Verdict.FAILED:
            raise ComplianceFailed(result)
        if result.verdict is Verdict.UNIMPLEMENTED:
            pytest.skip(f"{result.id} UNIMPLEMENTED: {result.observed}")
        self.add_report_section("call", "wsbridge", _details(result))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, ComplianceFailed):
            return _details(excinfo.value.result)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        source = inspect.getsourcefile(self.case.check)
        try:
            line: int | None = inspect.getsourcelines(self.case.check)[1]
        except (OSError, TypeError):
            line = None
        return (
            Path(source) if source else self.path,
            line,
            f"{self.case.id} {self.case.description}",
        )


def _details(result: CaseResult) -> str:
    return (
        f"{result.id} {result.verdict.value}: {result.description}\n"
        f"  expected: {result.expected}\n"
        f"  observed: {result.observed}"
    )


def register(
    config: pytest.Config,
    *,
    factory: str,
    loaded: Factory | None = None,
    report: Path | None = None,
    init_timeout: float | None = None,
    delivery_timeout: float | None = None,
) -> CompliancePlugin:
    """Register the compliance collection for ``factory`` (once); return the plugin object.

    ``loaded`` is the factory already loaded from ``factory``, if the caller has it. Raises
    :class:`pytest.UsageError` for a factory string that cannot be loaded.
    """
    existing = config.pluginmanager.get_plugin(PLUGIN_NAME)
    if isinstance(existing, CompliancePlugin):
        return existing
    if loaded is None:
        try:
            loaded = load_factory(factory)
        except FactoryError as exc:
            raise pytest.UsageError(f"pytest-wsbridge compliance: {exc}") from None
    defaults = CaseOptions()
    options = CaseOptions(
        init_timeout=defaults.init_timeout if init_timeout is None else init_timeout,
        delivery_timeout=defaults.delivery_timeout
        if delivery_timeout is None
        else delivery_timeout,
    )
    config.addinivalue_line(
        "markers", "wsbridge_compliance: a case of the packaged wsbridge compliance suite"
    )
    plugin = CompliancePlugin(factory_spec=factory, factory=loaded, report=report, options=options)
    config.pluginmanager.register(plugin, PLUGIN_NAME)
    return plugin


def _setting(config: pytest.Config, name: str) -> Any:
    value = config.getoption(name, default=None)
    if value is None:
        try:
            value = config.getini(name) or None
        except ValueError:  # the key is not declared (plugin not loaded)
            value = None
    return value


def pytest_configure(config: pytest.Config) -> None:
    """``-p pytest_wsbridge.compliance.collect``: collect the suite with the settings found."""
    report = _setting(config, "wsbridge_report")
    init_timeout = _setting(config, "wsbridge_init_timeout")
    delivery_timeout = _setting(config, "wsbridge_delivery_timeout")
    register(
        config,
        factory=str(_setting(config, "wsbridge_factory") or DEFAULT_FACTORY),
        report=Path(report) if report else None,
        init_timeout=float(init_timeout) if init_timeout else None,
        delivery_timeout=float(delivery_timeout) if delivery_timeout else None,
    )
