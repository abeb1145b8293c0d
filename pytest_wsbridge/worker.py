"""Running a coroutine on its own event loop in a worker thread, bounded in time.

The edge that keeps a bridge under test from hanging its caller: a coroutine that never
finishes is cancelled by its own time limit, and one whose bridge blocks the loop with a
synchronous call is abandoned (a daemon thread) after the join limit. The caller's event
loop, pytest-asyncio's included, is never touched.
"""

from __future__ import annotations

import asyncio
import threading
import warnings
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["Finished", "run_in_worker"]

T = TypeVar("T")


@dataclass(frozen=True)
class Finished(Generic[T]):
    """A worker that finished: what ``main()`` returned, or what ended its loop."""

    value: T | None = None
    error: BaseException | None = None


def run_in_worker(
    main: Callable[[], Coroutine[Any, Any, T]],
    *,
    join_timeout: float,
    name: str,
    quiet_unawaited: bool = True,
) -> Finished[T] | None:
    """Run ``asyncio.run(main())`` in a new daemon thread; ``None`` if it is still running
    after ``join_timeout`` seconds (the thread is then abandoned).

    With ``quiet_unawaited``, warnings about coroutines never awaited are silenced meanwhile:
    a bridge that calls an orchestrator method without awaiting it must not make whatever
    test runs next fail. That changes the process's warning filters, so only a caller on the
    main thread, with nothing else running, may ask for it; the fail-fast probe, which may run
    in the background, passes ``False`` (its stand-ins close what was never awaited instead).
    """
    box: list[Finished[T]] = []

    def run() -> None:
        try:
            box.append(Finished(value=asyncio.run(main())))
        except BaseException as exc:  # the loop itself broke: report it, do not crash
            box.append(Finished(error=exc))

    worker = threading.Thread(target=run, name=name, daemon=True)
    if not quiet_unawaited:
        worker.start()
        worker.join(join_timeout)
        return box[0] if box else None
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "coroutine .* was never awaited", RuntimeWarning)
        worker.start()
        worker.join(join_timeout)
    return box[0] if box else None
