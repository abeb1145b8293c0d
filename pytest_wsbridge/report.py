"""The session report: per-test records, the terminal summary lines, JSON and HTML files.

:class:`SessionReport` is plain data. xdist workers send :meth:`SessionReport.to_dict` to the
controller, which :meth:`~SessionReport.merge`-s them. Other parts of the plugin (the
compliance suite) add their own records with :meth:`SessionReport.extend_section`: sections
are lists of JSON-able records, concatenated across workers, written under ``"sections"``
in the JSON and as a table each in the HTML.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .checks import CHECKS

__all__ = ["SessionReport", "TestRecord", "render_html"]

SCHEMA = "pytest-wsbridge/report/1"


@dataclass
class TestRecord:
    """What the plugin checked in one test, and what it found."""

    nodeid: str
    checks: list[str]
    factory: str = ""
    emitted: int = 0
    delivered: int = 0
    violations: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.violations


@dataclass
class SessionReport:
    """Everything the plugin checked in one session (or one xdist worker)."""

    factory: str = ""
    strict: bool = False
    tests: list[TestRecord] = field(default_factory=list)
    sections: dict[str, list[Any]] = field(default_factory=dict)

    # -- building -----------------------------------------------------------------------------

    def add(self, record: TestRecord) -> None:
        """Add one checked test."""
        self.tests.append(record)

    def extend_section(self, name: str, records: Iterable[Any]) -> None:
        """Append JSON-able ``records`` to the named extra section (e.g. ``compliance``)."""
        self.sections.setdefault(name, []).extend(records)

    def merge(self, data: Mapping[str, Any]) -> None:
        """Add a worker's :meth:`to_dict` to this report."""
        for test in data.get("tests", []):
            self.tests.append(TestRecord(**test))
        for name, records in data.get("sections", {}).items():
            self.extend_section(name, records)

    # -- reading ------------------------------------------------------------------------------

    @property
    def tests_checked(self) -> int:
        return len(self.tests)

    @property
    def events_emitted(self) -> int:
        return sum(t.emitted for t in self.tests)

    @property
    def events_delivered(self) -> int:
        return sum(t.delivered for t in self.tests)

    def violations_by_check(self) -> dict[str, int]:
        """``check -> number of violations``, every check listed."""
        counts = Counter(v["check"] for t in self.tests for v in t.violations)
        return {check: counts.get(check, 0) for check in CHECKS}

    def to_dict(self) -> dict[str, Any]:
        """The JSON document (also what xdist workers send to the controller)."""
        return {
            "schema": SCHEMA,
            "factory": self.factory,
            "strict": self.strict,
            "summary": {
                "tests_checked": self.tests_checked,
                "tests_failed": sum(not t.passed for t in self.tests),
                "events_emitted": self.events_emitted,
                "events_delivered": self.events_delivered,
                "violations_by_check": self.violations_by_check(),
            },
            "tests": [asdict(t) for t in sorted(self.tests, key=lambda t: t.nodeid)],
            "sections": self.sections,
        }

    def terminal_lines(self) -> list[str]:
        """The short summary printed at the end of the run."""
        by_check = self.violations_by_check()
        failed = [t for t in self.tests if not t.passed]
        used = sorted({t.factory for t in self.tests if t.factory} or {self.factory})
        lines = [
            f"factory {', '.join(used)}, strict {'on' if self.strict else 'off'}",
            f"tests checked: {self.tests_checked} ({len(failed)} with violations)",
            f"events emitted: {self.events_emitted}, delivered: {self.events_delivered}",
            "violations by check: " + ", ".join(f"{k} {v}" for k, v in by_check.items()),
        ]
        lines += [f"  {t.nodeid}: {len(t.violations)} violation(s)" for t in failed[:20]]
        if len(failed) > 20:
            lines.append(f"  ... and {len(failed) - 20} more")
        notes = Counter(note for t in self.tests for note in dict.fromkeys(t.notes))
        lines += [f"note ({count} test(s)): {note}" for note, count in sorted(notes.items())]
        lines += [f"{name}: {len(records)} record(s)" for name, records in self.sections.items()]
        return lines

    def write(self, path: Path) -> None:
        """Write the report as JSON (``.json``) or a self-contained page (``.html``)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        data = self.to_dict()
        if path.suffix.lower() == ".html":
            path.write_text(render_html(data), encoding="utf-8")
        else:
            path.write_text(json.dumps(data, indent=2, default=repr) + "\n", encoding="utf-8")


_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;
text-align:left;vertical-align:top}.bad{background:#fde2e2}.ok{background:#e3f6e3}
pre{margin:0;white-space:pre-wrap}
"""


def render_html(data: Mapping[str, Any]) -> str:
    """A self-contained HTML page for a :meth:`SessionReport.to_dict` document."""
    esc = html.escape
    summary = data["summary"]
    rows = []
    for test in data["tests"]:
        found = "\n".join(
            f"[{v['check']}] {v['summary']}"
            + "".join(f"\n  - {e['type']}: {e['what']}" for e in v["events"])
            for v in test["violations"]
        )
        rows.append(
            f"<tr class={'bad' if test['violations'] else 'ok'}><td>{esc(test['nodeid'])}</td>"
            f"<td>{esc(', '.join(test['checks']))}</td><td>{test['emitted']}</td>"
            f"<td>{test['delivered']}</td><td><pre>{esc(found) or 'none'}</pre></td></tr>"
        )
    by_check = ", ".join(f"{k} {v}" for k, v in summary["violations_by_check"].items())
    parts = [
        "<!doctype html><html><head><meta charset=utf-8><title>pytest-wsbridge report</title>",
        f"<style>{_CSS}</style></head><body><h1>pytest-wsbridge report</h1>",
        f"<p>factory <code>{esc(str(data['factory']))}</code>, strict "
        f"{'on' if data['strict'] else 'off'}; {summary['tests_checked']} tests checked, "
        f"{summary['events_emitted']} events emitted, {summary['events_delivered']} delivered; "
        f"violations: {esc(by_check)}</p>",
        "<table><tr><th>test</th><th>checks</th><th>emitted</th><th>delivered</th>"
        "<th>violations</th></tr>",
        *rows,
        "</table>",
    ]
    for name, records in data.get("sections", {}).items():
        parts.append(f"<h2>{esc(name)}</h2>{_records_table(records)}")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _records_table(records: list[Any]) -> str:
    dicts = [r for r in records if isinstance(r, Mapping)]
    if not dicts:
        return f"<pre>{html.escape(json.dumps(records, indent=2, default=repr))}</pre>"
    columns = list(dict.fromkeys(key for record in dicts for key in record))
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(record.get(c)))}</td>" for c in columns) + "</tr>"
        for record in dicts
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, default=repr)
