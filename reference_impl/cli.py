"""The ``wsbridge`` command line (subcommands are added by their modules' owners)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    """Return the ``wsbridge`` argument parser."""
    parser = argparse.ArgumentParser(prog="wsbridge", description=__doc__)
    parser.add_subparsers(dest="command", required=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``wsbridge``; return the process exit code."""
    build_parser().parse_args(argv)
    return 0
