"""The orchestrator the bridge depends on, and the fail-fast start-up check.

An orchestrator creates threads and runs and answers a health check. The bridge refuses to
start without a healthy one: a bridge that starts "fine" and fails at the first event loses
that event and every one after it.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from .exceptions import OrchestratorInitError
from .ids import generate_run_id, thread_id_from_run_id, validate_thread_id

__all__ = ["Orchestrator", "ReferenceOrchestrator", "check_orchestrator", "require_orchestrator"]


@runtime_checkable
class Orchestrator(Protocol):
    """What the bridge needs from an orchestrator."""

    async def health_check(self) -> bool:
        """Return ``True`` when the orchestrator can serve runs."""
        ...

    async def get_thread_id_for_run(self, run_id: str) -> str | None:
        """Return the thread a run belongs to, or ``None``."""
        ...


class ReferenceOrchestrator:
    """A small in-memory orchestrator: threads owned by users, runs with standard ids."""

    def __init__(self) -> None:
        self._thread_owner: dict[str, str] = {}
        self._run_thread: dict[str, str] = {}
        self._owner_listeners: list[Callable[[str, str], None]] = []
        self.healthy = True

    async def health_check(self) -> bool:
        return self.healthy

    def create_thread(self, user_id: str, thread_id: str) -> str:
        """Record that ``user_id`` owns ``thread_id``; return the thread id."""
        validate_thread_id(thread_id)
        owner = self._thread_owner.get(thread_id)
        if owner is None:
            self._thread_owner[thread_id] = user_id
            for listener in list(self._owner_listeners):
                listener(thread_id, user_id)
        elif owner != user_id:
            raise ValueError(f"thread {thread_id!r} belongs to another user")
        return thread_id

    def on_owner_change(self, callback: Callable[[str, str], None]) -> None:
        """Call ``callback(thread_id, owner)`` when a thread gets its owner, before
        :meth:`create_thread` returns (so before any run of the new owner can emit)."""
        self._owner_listeners.append(callback)

    def owner_of(self, thread_id: str) -> str | None:
        """Return the user who owns ``thread_id``, or ``None``."""
        return self._thread_owner.get(thread_id)

    def start_run(self, thread_id: str) -> str:
        """Return a new standard run id for ``thread_id`` and remember it."""
        run_id = generate_run_id(thread_id)
        self._run_thread[run_id] = thread_id
        return run_id

    async def get_thread_id_for_run(self, run_id: str) -> str | None:
        return self._run_thread.get(run_id) or thread_id_from_run_id(run_id)


def require_orchestrator(orchestrator: object) -> None:
    """Raise :class:`OrchestratorInitError` if ``orchestrator`` is ``None`` (the cheap check)."""
    if orchestrator is None:
        raise OrchestratorInitError(
            "orchestrator is None (missing): the bridge needs an orchestrator to start; pass one "
            "(for example reference_impl.ReferenceOrchestrator())"
        )


async def check_orchestrator(orchestrator: object, *, timeout: float) -> None:
    """Raise :class:`OrchestratorInitError` unless ``orchestrator`` is present and healthy.

    Healthy means ``health_check()`` returns something other than ``False`` within
    ``timeout`` seconds without raising. Sync and async health checks both work; a sync one
    is called on the event loop, so it must not block.
    """
    require_orchestrator(orchestrator)
    name = type(orchestrator).__name__
    health_check = getattr(orchestrator, "health_check", None)
    if not callable(health_check):
        raise OrchestratorInitError(
            f"orchestrator {name} has no health_check() method; implement the "
            "reference_impl.Orchestrator protocol (health_check, get_thread_id_for_run)"
        )
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        answer = health_check()
        if inspect.isawaitable(answer):
            answer = await asyncio.wait_for(answer, timeout)
    except asyncio.TimeoutError as exc:
        if loop.time() - started < timeout:
            raise OrchestratorInitError(
                f"orchestrator {name} is unhealthy: health_check() raised {exc!r}; "
                "fix the orchestrator (or what it depends on) before starting the bridge"
            ) from exc
        raise OrchestratorInitError(
            f"orchestrator {name} is hanging: health_check() did not answer within "
            f"{timeout:g}s (init timeout); check that it can reach its services, or raise "
            "init_timeout if it is only slow"
        ) from exc
    except Exception as exc:
        raise OrchestratorInitError(
            f"orchestrator {name} is unhealthy: health_check() raised {exc!r}; "
            "fix the orchestrator (or what it depends on) before starting the bridge"
        ) from exc
    if answer is False:
        raise OrchestratorInitError(
            f"orchestrator {name} is unhealthy: health_check() returned False; "
            "the bridge does not start on an orchestrator that cannot serve runs"
        )
