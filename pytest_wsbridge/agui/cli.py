"""``wsbridge agui``: verify AG-UI streams from the shell, and print the rule catalogue.

    wsbridge agui verify SOURCE... [--input RUNAGENTINPUT.json] [--json] [--thread T --token TOK]
    wsbridge agui rules

Exit status of ``verify``: 0 when every source is conformant, 1 when any has a violation
(warnings do not count), 2 when a source cannot be read or the command line is wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from reference_impl.agui import RULES_BY_ID, Finding, Report

from .exceptions import AguiSourceError
from .readers import AguiStream, collect_bytes, collect_file, collect_http, collect_ws, load_input

__all__ = ["add_commands", "format_report", "verify_command", "verify_source"]


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``agui`` (with ``verify`` and ``rules``) on the ``wsbridge`` parser."""
    agui = subparsers.add_parser("agui", help="AG-UI 1.1 conformance: verify streams")
    sub = agui.add_subparsers(dest="agui_command", required=True, metavar="COMMAND")
    verify = sub.add_parser(
        "verify",
        help="judge AG-UI streams against the 1.1 rules",
        description="Judge AG-UI event streams against the AG-UI 1.1 rules. A SOURCE is a .sse "
        "file (raw bytes: the wire rules apply), a .jsonl file, a .json array, - (stdin), an "
        "http(s):// endpoint (POSTs the run input, reads the SSE response) or a ws:// URL "
        "(our AG-UI WebSocket binding; needs --thread). Exit 0: conformant; 1: a violation; "
        "2: a source could not be read, or bad usage.",
    )
    verify.add_argument("sources", nargs="+", metavar="SOURCE")
    verify.add_argument("--input", metavar="RUNAGENTINPUT.json",
                        help="the RunAgentInput: sent to http(s):// and ws:// sources (a minimal "
                        "one otherwise), and enables the rules that need it")  # fmt: skip
    verify.add_argument("--json", action="store_true", help="one JSON object per source per line")
    verify.add_argument("--thread", metavar="T", help="the thread to run on (ws:// sources)")
    verify.add_argument("--token", metavar="TOK", help="bearer token (ws:// and http(s)://)")
    verify.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                        help="connect/read limit for network sources (default 30)")  # fmt: skip
    verify.set_defaults(func=verify_command)
    rules = sub.add_parser("rules", help="print the rule catalogue (markdown)")
    rules.set_defaults(func=lambda args: _print_rules())


def _print_rules() -> int:
    from .catalogue import render_rules_markdown  # not at import: `python -m` runs that module

    sys.stdout.write(render_rules_markdown())
    return 0


def verify_source(
    source: str,
    *,
    input: Mapping[str, Any] | None = None,
    thread: str | None = None,
    token: str | None = None,
    timeout: float = 30.0,
    stdin: Any = None,
) -> AguiStream:
    """Read and judge one source (blocking); :class:`AguiSourceError` when it cannot be read."""
    if source == "-":
        stream = stdin if stdin is not None else sys.stdin.buffer
        return collect_bytes(stream.read(), source="<stdin>", input=input)
    if source.startswith(("http://", "https://")):
        headers = {"Authorization": f"Bearer {token}"} if token else None
        return collect_http(source, input=input, timeout=timeout, headers=headers)
    if source.startswith(("ws://", "wss://")):
        if not thread:
            raise AguiSourceError(f"{source}: a ws:// source needs --thread")
        return asyncio.run(collect_ws(source, thread=thread, token=token, input=input,
                                      timeout=timeout))  # fmt: skip
    return collect_file(source, input=input)


def _line(finding: Finding) -> str:
    rule = RULES_BY_ID[finding.rule]
    where = f"#{finding.index} {finding.type or '(stream)'}"
    anchor = f"#{rule.anchor}" if rule.anchor else ""
    return (
        f"  {where}: [{finding.rule}] {finding.message}\n"
        f"      change: {rule.fix} ({rule.page}{anchor})"
    )


def format_report(report: Report) -> str:
    """The human form of one source's verdict."""
    verdict = "conformant" if report.conformant else "NOT conformant"
    head = (
        f"{report.source}: {verdict} — {len(report.violations)} violation(s), "
        f"{len(report.warnings)} warning(s) in {report.events} event(s)"
    )
    lines = [head]
    lines += [_line(f) for f in report.violations]
    lines += [_line(f).replace("  #", "  warning #", 1) for f in report.warnings]
    return "\n".join(lines)


def verify_command(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run ``wsbridge agui verify``; return its exit status."""
    out = out or sys.stdout
    try:
        run_input = load_input(args.input) if args.input else None
    except AguiSourceError as exc:
        print(f"wsbridge agui verify: {exc}", file=sys.stderr)
        return 2
    unreadable = violations = conformant = 0
    for source in args.sources:
        try:
            stream = verify_source(source, input=run_input, thread=args.thread,
                                   token=args.token, timeout=args.timeout)  # fmt: skip
        except AguiSourceError as exc:
            unreadable += 1
            print(f"wsbridge agui verify: {exc}", file=sys.stderr)
            continue
        report = stream.report
        conformant += report.conformant
        violations += len(report.violations)
        if args.json:
            out.write(json.dumps(report.to_json(), separators=(",", ":")) + "\n")
        else:
            out.write(format_report(report) + "\n")
        out.flush()
    if not args.json:
        total = len(args.sources)
        extra = f", {unreadable} unreadable" if unreadable else ""
        out.write(f"summary: {conformant} of {total} source(s) conformant, "
                  f"{violations} violation(s){extra}\n")  # fmt: skip
    if unreadable:
        return 2
    return 1 if violations else 0
