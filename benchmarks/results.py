"""Pure result handling: percentiles, result rows, the printed table and the JSON record."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "RESULTS_END",
    "RESULTS_START",
    "Measurement",
    "Row",
    "format_table",
    "percentile",
    "replace_results",
    "results_markdown",
    "rows_to_json",
]


def percentile(values: Sequence[float], q: float) -> float:
    """Return the ``q``-th percentile (0-100) of ``values`` by nearest rank; NaN if empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class Measurement:
    """One system measured in one benchmark: a headline value plus any details."""

    system: str
    value: float
    unit: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Row:
    """One line of the table: the measured system against its baseline, and the target.

    ``higher_is_better`` says which way the ratio ``value / baseline`` should point;
    ``target`` is the ratio the issue asks for (``None`` when there is only an absolute
    target, written in ``note``).
    """

    benchmark: str
    subject: Measurement
    baseline: Measurement | None = None
    target: float | None = None
    higher_is_better: bool = True
    note: str = ""
    correct: bool = True

    @property
    def ratio(self) -> float | None:
        """``subject / baseline``, or ``None`` without a baseline."""
        if self.baseline is None or self.baseline.value == 0:
            return None
        return self.subject.value / self.baseline.value

    @property
    def met(self) -> bool | None:
        """Whether the ratio meets the target; ``None`` when there is no ratio target."""
        ratio = self.ratio
        if ratio is None or self.target is None:
            return None
        return ratio >= self.target if self.higher_is_better else ratio <= self.target


def _fmt(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def format_table(rows: Sequence[Row]) -> str:
    """Return the rows as a Markdown table (readable in a terminal and pasteable)."""
    header = [
        "benchmark",
        "subject",
        "value",
        "baseline",
        "baseline value",
        "ratio",
        "target",
        "ok",
    ]
    lines = [header]
    for row in rows:
        ratio = row.ratio
        if row.target is None:
            target = ""
        else:
            target = ("≥ " if row.higher_is_better else "≤ ") + f"{row.target:g}×"
        met = row.met
        ok = "" if met is None else ("yes" if met else "NO")
        if not row.correct:
            ok = "WRONG COUNTS"
        lines.append(
            [
                row.benchmark,
                row.subject.system,
                f"{_fmt(row.subject.value)} {row.subject.unit}",
                row.baseline.system if row.baseline else "",
                f"{_fmt(row.baseline.value)} {row.baseline.unit}" if row.baseline else "",
                f"{ratio:.2f}×" if ratio is not None else "",
                target,
                ok,
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for n, line in enumerate(lines):
        out.append("| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |")
        if n == 0:
            out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    notes = [f"- {row.benchmark}: {row.note}" for row in rows if row.note]
    return "\n".join(out + (["", *notes] if notes else []))


def rows_to_json(rows: Sequence[Row], meta: dict[str, Any]) -> str:
    """Return the run as JSON: ``meta`` (command, date, sizes) and one record per row."""
    records = []
    for row in rows:
        record = asdict(row)
        record["ratio"] = row.ratio
        record["met"] = row.met
        records.append(record)
    return json.dumps({"meta": meta, "rows": records}, indent=2, default=str)


#: The generated part of ``docs/benchmarks.md`` sits between these two lines.
RESULTS_START = "<!-- results:start (python -m benchmarks ... --docs PATH rewrites this part) -->"
RESULTS_END = "<!-- results:end -->"


def results_markdown(rows: Sequence[Row], meta: dict[str, Any]) -> str:
    """The results section of the docs: where and how it was measured, then the table."""
    lines = [
        f"Measured {meta['date']} on {meta['machine']}, Python {meta['python']}, "
        f"load average {meta['load']} at the start (a loaded machine inflates and scatters "
        "wall-clock figures; the server-CPU rows and the ratios of one run are steadier).",
        "",
        f"Command: `{meta['command']}` ({meta['seconds']} s).",
        "",
        format_table(rows),
    ]
    return "\n".join(lines)


def replace_results(document: str, section: str) -> str:
    """Return ``document`` with the text between :data:`RESULTS_START` and
    :data:`RESULTS_END` replaced by ``section``; ``ValueError`` if the markers are missing."""
    start = document.find(RESULTS_START)
    end = document.find(RESULTS_END)
    if start < 0 or end < start:
        raise ValueError(f"the document has no {RESULTS_START!r} ... {RESULTS_END!r} block")
    head = document[: start + len(RESULTS_START)]
    return f"{head}\n\n{section}\n\n{document[end:]}"
