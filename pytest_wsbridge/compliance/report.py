"""Compliance reports: a JSON record per case and a self-contained HTML matrix.

The JSON (``index.json``-style) holds the bridge under test, the versions, a verdict count, an
``index`` of ``case id -> verdict`` and one record per case (id, family, description, verdict,
expected, observed, duration). The HTML page needs no external asset: a families x cases
matrix coloured by verdict, each cell a link to that case's details on the same page.
"""

from __future__ import annotations

import html
import json
import platform
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from .model import FAMILIES, CaseResult, SuiteResult, Verdict

__all__ = [
    "REPORT_FORMAT",
    "render_html",
    "render_summary",
    "suite_from_dict",
    "suite_to_dict",
    "versions",
    "write_report",
]

REPORT_FORMAT = "pytest-wsbridge-compliance/1"

COLOURS: Mapping[Verdict, str] = {
    Verdict.OK: "#2e9d4f",
    Verdict.NON_STRICT: "#b7c43a",
    Verdict.INFORMATIONAL: "#4a8fd8",
    Verdict.UNIMPLEMENTED: "#9a9a9a",
    Verdict.FAILED: "#d23f31",
}


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def versions() -> dict[str, str | None]:
    """The versions a report was made with."""
    return {
        "python": platform.python_version(),
        "pytest-wsbridge": _version("pytest-wsbridge"),
        "websockets": _version("websockets"),
        "pydantic": _version("pydantic"),
        "pytest": _version("pytest"),
    }


def suite_to_dict(suite: SuiteResult, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The JSON report of ``suite``; ``extra`` keys (e.g. the plugin's ``session``) are added."""
    return {
        **(extra or {}),
        "format": REPORT_FORMAT,
        "bridge": {"factory": suite.factory, "class": suite.bridge_class},
        "versions": versions(),
        "started": suite.started,
        "duration": round(suite.duration, 3),
        "summary": {verdict.value: count for verdict, count in suite.counts().items()},
        "families": [{"number": f.number, "name": f.name, "title": f.title} for f in FAMILIES],
        "index": {r.id: r.verdict.value for r in suite.results},
        "cases": [r.to_dict() for r in suite.results],
    }


def suite_from_dict(data: Mapping[str, Any]) -> SuiteResult:
    """Read a report made by :func:`suite_to_dict` back."""
    bridge = data.get("bridge") or {}
    return SuiteResult(
        factory=str(bridge.get("factory", "")),
        results=[CaseResult.from_dict(record) for record in data.get("cases", [])],
        bridge_class=bridge.get("class"),
        started=str(data.get("started", "")),
        duration=float(data.get("duration", 0.0)),
    )


def render_summary(suite: SuiteResult) -> str:
    """A plain-text table: one row per family, one column per verdict, then the failures."""
    columns = [v.value for v in Verdict]
    width = max(len(f"{f.number} {f.name}") for f in FAMILIES) + 2
    lines = [f"{'family':<{width}}" + "".join(f"{c:>15}" for c in columns)]
    for family in FAMILIES:
        counts = dict.fromkeys(Verdict, 0)
        for result in suite.results:
            if result.family == family.name:
                counts[result.verdict] += 1
        if any(counts.values()):
            name = f"{family.number} {family.name}"
            lines.append(f"{name:<{width}}" + "".join(f"{counts[v]:>15}" for v in Verdict))
    totals = suite.counts()
    lines.append(f"{'total':<{width}}" + "".join(f"{totals[v]:>15}" for v in Verdict))
    for result in suite.failed:
        lines.append(f"FAILED {result.id} {result.description}")
        lines.append(f"    expected: {result.expected}")
        lines.append(f"    observed: {result.observed}")
    return "\n".join(lines)


_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em; color: #222; }
table.matrix { border-collapse: collapse; margin: 1em 0; }
table.matrix th, table.matrix td { border: 1px solid #ddd; padding: 4px 6px; text-align: center; }
table.matrix th.family { text-align: left; font-weight: normal; }
table.matrix td a { display: block; color: #fff; text-decoration: none; font-weight: 600; }
.legend span { display: inline-block; padding: 2px 8px; margin-right: 6px; color: #fff; }
section.case { border-left: 6px solid #ccc; padding: 0.3em 1em; margin: 0.8em 0; }
section.case:target { background: #fff8d0; }
section.case h3 { margin: 0.2em 0; font-size: 15px; }
dl { margin: 0.3em 0; } dt { font-weight: 600; }
dd { margin: 0 0 0.4em 1.5em; white-space: pre-wrap; }
"""


def _cell_style(verdict: Verdict) -> str:
    return f"background:{COLOURS[verdict]}"


def render_html(suite: SuiteResult, coverage: Mapping[str, Any] | None = None) -> str:
    """A self-contained HTML page: the verdict matrix and every case's details.

    ``coverage`` (``wsbridge check --coverage``: ``package``, ``percent``, ``html``) adds a
    line linking coverage's line-by-line report of the bridge's package.
    """
    esc = html.escape
    meta = suite_to_dict(suite)
    numbers = sorted({r.number for r in suite.results}) or [1]
    by_family: dict[int, dict[int, CaseResult]] = {}
    for result in suite.results:
        by_family.setdefault(result.family_number, {})[result.number] = result
    head = "".join(f"<th>{n}</th>" for n in range(1, max(numbers) + 1))
    rows = []
    for family in FAMILIES:
        cases = by_family.get(family.number)
        if not cases:
            continue
        cells = []
        for n in range(1, max(numbers) + 1):
            cell = cases.get(n)
            if cell is None:
                cells.append("<td></td>")
                continue
            tip = esc(f"{cell.id} {cell.verdict.value}: {cell.description}", quote=True)
            cells.append(
                f'<td style="{_cell_style(cell.verdict)}" title="{tip}">'
                f'<a href="#{esc(cell.id)}">{esc(_short_verdict(cell.verdict))}</a></td>'
            )
        rows.append(
            f'<tr><th class="family">{family.number} {esc(family.name)}</th>{"".join(cells)}</tr>'
        )
    sections = []
    for result in suite.results:
        sections.append(
            f'<section class="case" id="{esc(result.id)}" '
            f'style="border-left-color:{COLOURS[result.verdict]}">'
            f"<h3>{esc(result.id)} — {esc(result.verdict.value)} — {esc(result.description)}</h3>"
            f"<dl><dt>family</dt><dd>{esc(result.family)}</dd>"
            f"<dt>expected</dt><dd>{esc(result.expected)}</dd>"
            f"<dt>observed</dt><dd>{esc(result.observed)}</dd>"
            f"<dt>duration</dt><dd>{result.duration:.3f} s</dd></dl></section>"
        )
    legend = "".join(
        f'<span style="{_cell_style(v)}">{esc(v.value)}: {n}</span>'
        for v, n in suite.counts().items()
    )
    version_text = ", ".join(f"{k} {v}" for k, v in meta["versions"].items() if v)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>wsbridge compliance: {esc(suite.factory)}</title><style>{_CSS}</style></head>"
        f"<body><h1>wsbridge compliance report</h1>"
        f"<p>Bridge factory <code>{esc(suite.factory)}</code>"
        f"{f' (<code>{esc(suite.bridge_class)}</code>)' if suite.bridge_class else ''}; "
        f"{len(suite.results)} cases in {suite.duration:.1f} s; started {esc(suite.started)}.<br>"
        f"{esc(version_text)}</p>"
        f'<p class="legend">{legend}</p>'
        f"{_coverage_line(coverage)}"
        f'<table class="matrix"><tr><th>family \\ case</th>{head}</tr>{"".join(rows)}</table>'
        f"<h2>Cases</h2>{''.join(sections)}</body></html>\n"
    )


def _coverage_line(coverage: Mapping[str, Any] | None) -> str:
    if not coverage:
        return ""
    esc = html.escape
    return (
        f'<p class="coverage">The suite ran {float(coverage["percent"]):.1f}% of the lines of '
        f"<code>{esc(str(coverage['package']))}</code>, the bridge's package: "
        f'<a href="{esc(str(coverage["html"]), quote=True)}">line by line</a> '
        "(the lines no case reached are its untested paths).</p>"
    )


def _short_verdict(verdict: Verdict) -> str:
    return {
        Verdict.OK: "OK",
        Verdict.NON_STRICT: "NS",
        Verdict.INFORMATIONAL: "INFO",
        Verdict.UNIMPLEMENTED: "UNIMPL",
        Verdict.FAILED: "FAIL",
    }[verdict]


def write_report(
    suite: SuiteResult, path: str | Path, extra: Mapping[str, Any] | None = None
) -> Path:
    """Write ``suite`` as JSON (``.json``, with ``extra`` keys) or HTML (``.html``/``.htm``).

    Raises :class:`ValueError` for any other extension.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix == ".json":
        data = suite_to_dict(suite, extra)
        text = json.dumps(data, indent=2, ensure_ascii=False, default=repr) + "\n"
    elif suffix in (".html", ".htm"):
        text = render_html(suite, (extra or {}).get("coverage"))
    else:
        raise ValueError(f"report path {str(path)!r} must end in .json or .html")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target
