"""``wsbridge check --coverage``: which lines of the bridge's own code the suite exercised.

The suite is run under :mod:`coverage` (the ``coverage`` extra), measuring the top-level
package of the factory's module (``myapp`` for ``myapp.bridge:create_bridge``), started before
the factory is even imported so its module-level lines count (a package imported earlier
still, such as ``reference_impl``, which the plugin itself imports, is measured from the start
of the run: only its import-time lines show as not run). Every case runs in its own
thread; coverage follows threads started after it, so all of them are measured. The result
is coverage's own line-by-line HTML report, linked from the compliance report: the lines no
case reached are the bridge's untested paths.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..exceptions import CoverageUnavailable

__all__ = ["CoverageSummary", "CoverageUnavailable", "measured_package", "measuring"]


@dataclass(frozen=True)
class CoverageSummary:
    """What ``--coverage`` measured: the package, the share of its lines that ran, the HTML."""

    package: str
    percent: float
    html: Path

    def to_dict(self) -> dict[str, Any]:
        return {"package": self.package, "percent": round(self.percent, 1), "html": str(self.html)}


def measured_package(factory_spec: str) -> str:
    """The top-level package of ``MODULE:CALLABLE``'s module: the bridge's own code."""
    return factory_spec.partition(":")[0].split(".")[0]


class _Measurement:
    def __init__(self, package: str) -> None:
        try:
            import coverage
        except ImportError:
            raise CoverageUnavailable(
                "--coverage needs the coverage package: pip install 'pytest-wsbridge[coverage]'"
            ) from None
        self.package = package
        # config_file=False: the project's own coverage settings (source, parallel) must not
        # widen or redirect what is measured here.
        self._coverage = coverage.Coverage(source_pkgs=[package], data_file=None, config_file=False)
        # A package imported before the run (reference_impl, which this plugin imports) is
        # still measured from here on, only its import-time lines count as not run: said in
        # the docs, not warned about on every run.
        self._coverage.set_option("run:disable_warnings", ["module-not-measured"])
        self.summary: CoverageSummary | None = None

    def write_html(self, directory: Path) -> CoverageSummary:
        """Write the line-by-line HTML report into ``directory``; return the summary."""
        title = f"wsbridge check --coverage: {self.package}"
        try:
            percent = self._coverage.html_report(directory=str(directory), title=title)
        except Exception as exc:  # coverage.exceptions.NoDataError: nothing of it ran
            raise CoverageUnavailable(f"no coverage data for {self.package!r}: {exc}") from exc
        self.summary = CoverageSummary(self.package, percent, directory / "index.html")
        return self.summary


@contextlib.contextmanager
def measuring(package: str) -> Iterator[_Measurement]:
    """Measure ``package`` while the block runs (threads it starts included)."""
    measurement = _Measurement(package)
    measurement._coverage.start()
    try:
        yield measurement
    finally:
        measurement._coverage.stop()
