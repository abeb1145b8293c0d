"""The reference bridge's subcommands of ``wsbridge`` (``serve``, ``tail``).

The ``wsbridge`` entry point lives in :mod:`pytest_wsbridge.cli`, which adds the plugin's own
subcommands; this module keeps ``reference_impl`` free of any import of the plugin.
"""

from __future__ import annotations

import argparse

__all__ = ["add_commands"]


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the reference bridge's subcommands; each sets ``func(args) -> int`` as its default."""
