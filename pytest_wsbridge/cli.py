"""``wsbridge``: the command line of the distribution.

Each subcommand is registered by the module that owns it and sets ``func(args) -> int``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from reference_impl import cli as reference_cli

from . import bench
from .agui import cli as agui_cli
from .compliance import cli as compliance_cli

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """Return the ``wsbridge`` argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="wsbridge", description="Serve, watch and check agent-event WebSocket bridges."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    reference_cli.add_commands(subparsers)
    compliance_cli.add_commands(subparsers)
    bench.add_commands(subparsers)
    agui_cli.add_commands(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``wsbridge``; return the process exit code."""
    args = build_parser().parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        return 2
    try:
        return int(func(args))
    except BrokenPipeError:
        # The reader went away (`wsbridge tail ... | head`): that ends the output, quietly. Point
        # stdout at /dev/null so the interpreter's final flush cannot raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
