"""Verdicts on the AG-UI corpus, ours beside ag-ui-validate 0.4.0's, as a docs table.

``python -m benchmarks.agui_compare`` runs both validators on every corpus stream and rewrites
the table between the ``agui-compare`` markers in ``docs/agui.md``. Event streams are fed event
by event to each; SSE streams (with their HTTP status and content type) go through each one's
own wire layer (ag-ui-validate's ``validate_endpoint`` with an in-memory response).

A verdict is *right* when it matches the case: a violation case must be flagged, a warning case
and a legal stream must not be (ag-ui-validate's ``error`` diagnostics count as flags; its
refusal to read a response, a ``TransportError``, counts as one too).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_wsbridge.agui.corpus import CASES, LEGAL, Case
from reference_impl.agui import RULES_BY_ID, Severity, validate_events, verify_sse

__all__ = ["DOC", "Verdict", "compare", "main", "render_table", "update_doc"]

DOC = Path("docs") / "agui.md"
START = "<!-- agui-compare:start (python -m benchmarks.agui_compare) -->"
END = "<!-- agui-compare:end -->"


@dataclass(frozen=True)
class Verdict:
    """What one validator said about one case."""

    flagged: bool
    rules: tuple[str, ...]
    text: str


def _expect_flag(case: Case) -> bool:
    return case.expect is not None and RULES_BY_ID[case.expect].severity is Severity.VIOLATION


def _wire(case: Case) -> bool:
    return case.sse is not None or case.status != 200 or case.content_type != "text/event-stream"


def ours(case: Case) -> Verdict:
    if _wire(case):
        report = verify_sse([case.as_sse], input=case.input, status=case.status,
                            content_type=case.content_type)  # fmt: skip
    else:
        report = validate_events(case.events, input=case.input)
    flags = tuple(dict.fromkeys(f.rule for f in report.violations))
    warns = tuple(dict.fromkeys(f.rule for f in report.warnings))
    if flags:
        return Verdict(True, flags, "flags " + ", ".join(f"`{r}`" for r in flags))
    if warns:
        return Verdict(False, warns, "warns " + ", ".join(f"`{r}`" for r in warns))
    return Verdict(False, (), "passes")


def _their_report(diagnostics: Sequence[Any]) -> Verdict:
    errors = tuple(dict.fromkeys(d.rule for d in diagnostics if d.severity == "error"))
    warns = tuple(dict.fromkeys(d.rule for d in diagnostics if d.severity == "warning"))
    if errors:
        return Verdict(True, errors, "flags " + ", ".join(errors))
    if warns:
        return Verdict(False, warns, "warns " + ", ".join(warns))
    return Verdict(False, (), "passes")


def theirs(case: Case) -> Verdict:
    from ag_ui_validate import create_validator

    if not _wire(case):
        validator = create_validator()
        for event in case.events:
            validator.feed(event)
        validator.finalize()
        return _their_report(validator.report().diagnostics)
    return asyncio.run(_theirs_wire(case))


async def _theirs_wire(case: Case) -> Verdict:
    from ag_ui_validate.transport import (
        TransportError,
        TransportOptions,
        TransportResponseLike,
        validate_endpoint,
    )

    async def body() -> AsyncIterator[bytes]:
        yield case.as_sse

    async def fetch(url: str, **_: Any) -> Any:
        headers = {"content-type": case.content_type}
        return TransportResponseLike(status=case.status, headers=headers, body=body())

    options = TransportOptions(input=case.input, fetch_impl=fetch, recorded=True)
    try:
        result = await validate_endpoint("http://corpus.invalid/agent", options)
    except TransportError as exc:
        return Verdict(True, ("TransportError",), f"refuses to read it ({exc})")
    return _their_report(result.report.diagnostics)


def compare() -> list[tuple[Case, Verdict, Verdict]]:
    """Every corpus case with our verdict and ag-ui-validate's."""
    return [(case, ours(case), theirs(case)) for case in (*CASES, *LEGAL)]


def _mark(case: Case, verdict: Verdict) -> str:
    return "✓" if verdict.flagged == _expect_flag(case) else "✗"


def render_table(rows: Sequence[tuple[Case, Verdict, Verdict]]) -> str:
    """The markdown table and its tally."""
    ours_right = sum(_mark(c, o) == "✓" for c, o, _t in rows)
    theirs_right = sum(_mark(c, t) == "✓" for c, _o, t in rows)
    lines = [
        f"Right on {ours_right} of {len(rows)} streams: ours; {theirs_right} of {len(rows)}: "
        "ag-ui-validate 0.4.0.",
        "",
        "| stream | the case | expected | ours | | ag-ui-validate 0.4.0 | |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for case, mine, other in rows:
        if case.expect is None:
            expected = "legal: passes"
        elif _expect_flag(case):
            expected = f"flagged: `{case.expect}`"
        else:
            expected = f"passes, warns `{case.expect}`"
        text = other.text.replace("|", "\\|")
        lines.append(
            f"| {case.name} | {case.summary} | {expected} | {mine.text} | {_mark(case, mine)} "
            f"| {text} | {_mark(case, other)} |"
        )
    return "\n".join(lines)


def update_doc(path: Path, table: str) -> None:
    """Replace what sits between the markers in ``path`` with ``table``."""
    text = path.read_text(encoding="utf-8")
    head, _, rest = text.partition(START)
    _, found, tail = rest.partition(END)
    if not found:
        raise SystemExit(f"{path}: the markers {START!r} / {END!r} are missing")
    path.write_text(f"{head}{START}\n{table}\n{END}{tail}", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    """Regenerate the table in ``docs/agui.md`` (or the file given)."""
    args = list(sys.argv[1:] if argv is None else argv)
    update_doc(Path(args[0]) if args else DOC, render_table(compare()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
