"""Bounded waits whose own time limit cannot be mistaken for what the awaited code raised.

``asyncio.wait_for`` signals its limit with ``TimeoutError``, and from Python 3.11
``asyncio.TimeoutError`` *is* ``TimeoutError``: a bridge whose call lets its own
``TimeoutError`` out (``await asyncio.wait_for(health_check(), 0.5)``) then looks exactly like
a call that never answered. :func:`answer_within` waits with :func:`asyncio.wait`, which
never raises on timeout, and says which of the two happened. Every wait of the plugin that
decides a verdict goes through it (or, like the ledger waits, waits on an event that cannot
raise).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from .ledger import Ledger

__all__ = ["Answer", "answer_within", "wait_for_ledger"]

T = TypeVar("T")


@dataclass(frozen=True)
class Answer(Generic[T]):
    """What an awaitable did within its limit: returned ``value``, raised ``error``, or
    ``timed_out`` (then it was cancelled; ``value``/``error`` say how it ended, if it did)."""

    value: T | None = None
    error: BaseException | None = None
    timed_out: bool = False
    elapsed: float = 0.0
    """Seconds from the call to the answer (or to the limit), by ``time.perf_counter``."""


async def answer_within(
    awaitable: Awaitable[T], timeout: float, *, cancel_timeout: float = 1.0
) -> Answer[T]:
    """Await ``awaitable`` for up to ``timeout`` seconds; never raises for what it does.

    On timeout the awaitable is cancelled and given ``cancel_timeout`` seconds to end. A
    ``CancelledError`` the awaitable raised by itself is an ``error`` like any other.
    """
    started = time.perf_counter()
    task = asyncio.ensure_future(awaitable)
    done, _ = await asyncio.wait({task}, timeout=timeout)
    elapsed = time.perf_counter() - started
    if done:
        value, error = _outcome(task)
        return Answer(value, error, timed_out=False, elapsed=elapsed)
    task.cancel()
    await asyncio.wait({task}, timeout=cancel_timeout)
    if not task.done():
        return Answer(timed_out=True, elapsed=elapsed)
    value, error = _outcome(task)
    return Answer(value, None if task.cancelled() else error, timed_out=True, elapsed=elapsed)


def _outcome(task: asyncio.Future[Any]) -> tuple[Any, BaseException | None]:
    if task.cancelled():
        return None, asyncio.CancelledError("cancelled from within")
    error = task.exception()
    return (None, error) if error is not None else (task.result(), None)


async def wait_for_ledger(ledger: Ledger, done: Callable[[], bool], timeout: float) -> bool:
    """Wait until ``done()`` (re-checked whenever the ledger records something) or ``timeout``.

    Returns ``done()``. Never sleeps: it wakes on the ledger's change notifications.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    changed = asyncio.Event()
    ledger.listeners.append(changed.set)
    try:
        while not done():
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            changed.clear()
            waiter = asyncio.ensure_future(changed.wait())
            woke, _ = await asyncio.wait({waiter}, timeout=remaining)  # never raises on timeout
            if not woke:
                waiter.cancel()
                break
        return done()
    finally:
        ledger.listeners.remove(changed.set)
