"""``wsbridge bench``: run the benchmarks of a source checkout.

The benchmarks live in the top-level ``benchmarks/`` folder, which the wheel does not ship (they
need the ``bench`` extra and a checkout's layout). This subcommand delegates to
``python -m benchmarks`` when ``benchmarks`` is importable, or found in the current directory.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from types import ModuleType

__all__ = ["add_commands"]

NOT_FOUND = (
    "wsbridge bench: the benchmarks are not installed with the package; run it from the root "
    "of a pytest-wsbridge checkout (pip install -e '.[bench]'; wsbridge bench --help), or use "
    "python -m benchmarks there"
)


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``bench``; every argument after it goes to ``python -m benchmarks``."""
    parser = subparsers.add_parser(
        "bench",
        help="run the benchmarks (from a source checkout; see benchmarks/README.md)",
        add_help=False,
        prefix_chars="\0",
    )
    parser.add_argument("bench_args", nargs="*", metavar="ARGS")
    parser.set_defaults(func=_run)


def _load() -> ModuleType | None:
    try:
        return importlib.import_module("benchmarks.cli")
    except ImportError:
        root = Path.cwd()
        if not (root / "benchmarks" / "cli.py").is_file():
            return None
        sys.path.insert(0, str(root))
        return importlib.import_module("benchmarks.cli")


def _run(args: argparse.Namespace) -> int:
    module = _load()
    if module is None:
        print(NOT_FOUND, file=sys.stderr)
        return 2
    return int(module.main(list(args.bench_args)))
