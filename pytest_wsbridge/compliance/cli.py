"""``wsbridge check``: run the compliance suite against a bridge factory from the shell.

Exit status: 0 when no case FAILED, 1 when one did, 2 for a usage error (a factory string that
cannot be loaded, a pattern that selects no case, a report path that is neither .json nor .html,
``--coverage`` without the coverage package). ``--coverage`` adds which lines of the bridge's
own package the suite ran (:mod:`pytest_wsbridge.compliance.coverage`).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from ..factory import Factory, FactoryError, load_factory
from . import CASES, CaseOptions, CaseResult, SuiteResult, run_suite, select_cases
from .coverage import CoverageUnavailable, measured_package, measuring
from .model import Case
from .report import render_summary, write_report

__all__ = ["add_commands", "cases_table", "check"]


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``check`` to the ``wsbridge`` command line."""
    parser = subparsers.add_parser(
        "check",
        help="run the numbered compliance suite against a bridge factory",
        description="Run the compliance suite (WSB-<family>.<n>) against MODULE:CALLABLE. "
        "The current directory is importable. Exit status 1 if any case FAILED.",
    )
    parser.add_argument(
        "factory", nargs="?", help="bridge factory, e.g. reference_impl:create_bridge"
    )
    parser.add_argument("--report", metavar="PATH", help="write the report (.json or .html)")
    parser.add_argument(
        "--cases",
        metavar="PATTERN",
        action="append",
        default=[],
        help="only cases whose id or family matches a glob (WSB-2.*, replay); repeatable, "
        "comma-separated",
    )
    parser.add_argument(
        "--exclude", metavar="PATTERN", action="append", default=[], help="skip matching cases"
    )
    parser.add_argument("--list", action="store_true", help="print the cases as a table and exit")
    parser.add_argument(
        "--case-timeout", type=float, default=10.0, metavar="S", help="limit per case (10)"
    )
    parser.add_argument(
        "--init-timeout",
        type=float,
        default=5.0,
        metavar="S",
        help="how long a factory may take to refuse a bad orchestrator (5)",
    )
    parser.add_argument(
        "--delivery-timeout", type=float, default=1.0, metavar="S", help="wait per delivery (1)"
    )
    parser.add_argument(
        "--coverage",
        action="store_true",
        help="measure which lines of the bridge's own package the suite ran (the coverage "
        "extra): an HTML report next to --report (else in wsbridge-coverage/), linked from it",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="only the summary")
    parser.add_argument(
        "--show-logs", action="store_true", help="let the bridge's log records through to stderr"
    )
    parser.set_defaults(func=check)


def cases_table(cases: Sequence[Case]) -> str:
    """The cases as a Markdown table (id, family, description, expected)."""
    lines = ["| id | family | case | expected |", "| --- | --- | --- | --- |"]
    for item in cases:
        cells = [item.id, item.family.name, item.description, item.expected]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def _usage_error(message: str) -> int:
    print(f"wsbridge check: error: {message}", file=sys.stderr)
    return 2


def check(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run ``wsbridge check``; return the exit status."""
    out = out or sys.stdout
    chosen = select_cases(CASES, args.cases, args.exclude)
    if not chosen:
        return _usage_error(
            f"no case matches --cases {args.cases or ['*']} --exclude {args.exclude}"
        )
    if args.list:
        print(cases_table(chosen), file=out)
        return 0
    if not args.factory:
        return _usage_error("give the bridge factory as MODULE:CALLABLE")
    if args.report and not args.report.lower().endswith((".json", ".html", ".htm")):
        return _usage_error(f"--report {args.report!r} must end in .json or .html")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    with contextlib.ExitStack() as stack:
        measurement = None
        if args.coverage:
            try:
                measurement = stack.enter_context(measuring(measured_package(args.factory)))
            except CoverageUnavailable as exc:
                return _usage_error(str(exc))
        try:
            factory = load_factory(args.factory)
        except FactoryError as exc:
            return _usage_error(str(exc))
        suite = _run(args, factory, chosen, out)
    extra: dict[str, Any] = {}
    if measurement is not None:
        directory = (
            Path(args.report).with_suffix("").with_name(Path(args.report).stem + "-coverage")
            if args.report
            else Path("wsbridge-coverage")
        )
        try:
            summary = measurement.write_html(directory)
        except CoverageUnavailable as exc:
            print(f"coverage: {exc}", file=out)
        else:
            extra["coverage"] = summary.to_dict()
            if args.report:  # linked from the report: relative to where it is
                extra["coverage"]["html"] = f"{directory.name}/index.html"
            print(
                f"coverage of {summary.package}: {summary.percent:.1f}% of its lines ran "
                f"(line by line: {summary.html})",
                file=out,
            )
    if args.report:
        print(f"report: {write_report(suite, args.report, extra)}", file=out)
    return 0 if suite.passed else 1


def _run(
    args: argparse.Namespace, factory: Factory, chosen: Sequence[Case], out: TextIO
) -> SuiteResult:
    if not args.show_logs:
        logging.getLogger().addHandler(logging.NullHandler())

    def progress(result: CaseResult) -> None:
        if not args.quiet:
            line = f"{result.id:<9} {result.verdict.value:<14} {result.description}"
            print(line, file=out, flush=True)
            if result.verdict.value != "OK":
                print(f"{'':24}{result.observed}", file=out, flush=True)

    options = CaseOptions(
        case_timeout=args.case_timeout,
        init_timeout=args.init_timeout,
        delivery_timeout=args.delivery_timeout,
    )
    suite = run_suite(
        factory, chosen, factory_name=args.factory, options=options, on_result=progress
    )
    print(
        f"\nwsbridge compliance: {suite.factory}"
        f"{f' ({suite.bridge_class})' if suite.bridge_class else ''}, "
        f"{len(suite.results)} cases in {suite.duration:.1f}s",
        file=out,
    )
    print(render_summary(suite), file=out)
    return suite
