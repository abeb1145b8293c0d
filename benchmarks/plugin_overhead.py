"""Benchmark 2, plugin overhead (placeholder until the plugin lands)."""

from __future__ import annotations

from .results import Row

__all__ = ["run_plugin"]


async def run_plugin(*, tests: int, server_tests: int, timeout: float) -> list[Row]:
    """Not measured yet."""
    return []
