"""A bounded timing probe for "this call does not scale with the store's size" tests.

Comparing the per-call time on a small and a large store is robust on a loaded machine, and
the time budget keeps a regression (a call that became O(n)) from turning into a slow test.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

__all__ = ["per_call_seconds"]


def per_call_seconds(call: Callable[[], object], *, budget: float = 0.03, rounds: int = 5) -> float:
    """Return the best, over ``rounds``, of the mean time of ``call`` in a ``budget``-long burst."""
    best = float("inf")
    gc.collect()
    gc.disable()
    try:
        for _ in range(rounds):
            calls = 0
            started = time.perf_counter()
            elapsed = 0.0
            while elapsed < budget:
                for _ in range(50):
                    call()
                calls += 50
                elapsed = time.perf_counter() - started
            best = min(best, elapsed / calls)
    finally:
        gc.enable()
    return best
