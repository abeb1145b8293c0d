"""Benchmark 5, the Redis backend (placeholder until the backend lands)."""

from __future__ import annotations

from .results import Row

__all__ = ["run_redis"]


async def run_redis(*, clients: int, events: int, timeout: float) -> list[Row]:
    """Not measured yet."""
    return []
