"""Bridge factories for the fail-fast regression tests: start-ups written the way people do.

Every factory here refuses ``None``, an orchestrator without a health check, one whose
``health_check()`` raises or answers ``False`` at once; they differ in how they treat a health
check that does not answer. ``INIT_TIMEOUT`` is the init timeout the tests configure.
``EXPECTED`` says, per factory, which fail-fast cases it does not refuse (and how).
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from typing import Any

from reference_impl import AgentWebSocketBridge

__all__ = ["EXPECTED", "FACTORIES", "INIT_TIMEOUT", "LIMIT", "UNBLOCK"]

INIT_TIMEOUT = 1.0
LIMIT = INIT_TIMEOUT + 0.25 + 0.1 * INIT_TIMEOUT  # pytest_wsbridge.failfast.limit(INIT_TIMEOUT)


class OrchestratorDown(Exception):
    """A project's own start-up error."""


def _bridge(connection_manager: Any, orchestrator: Any) -> AgentWebSocketBridge:
    return AgentWebSocketBridge(connection_manager=connection_manager, orchestrator=orchestrator)


def _present(orchestrator: Any) -> Any:
    if orchestrator is None or not callable(getattr(orchestrator, "health_check", None)):
        raise OrchestratorDown("an orchestrator with a health_check() is required")
    return orchestrator.health_check


async def wait_for_timeout(
    *, connection_manager: Any, orchestrator: Any, timeout: float = 0.5
) -> AgentWebSocketBridge:
    """The most common start-up there is: ``wait_for`` lets ``TimeoutError`` out."""
    check = _present(orchestrator)
    if not await asyncio.wait_for(check(), timeout):
        raise OrchestratorDown("health_check() returned False")
    return _bridge(connection_manager, orchestrator)


async def raises_asyncio_timeout(*, connection_manager: Any, orchestrator: Any) -> Any:
    """Raises ``asyncio.TimeoutError`` itself (not ``TimeoutError`` before Python 3.11)."""
    check = _present(orchestrator)
    task = asyncio.ensure_future(check())
    done, _ = await asyncio.wait({task}, timeout=0.5)
    if not done:
        task.cancel()
        raise asyncio.TimeoutError("the orchestrator did not answer its health check")
    if not task.result():
        raise OrchestratorDown("health_check() returned False")
    return _bridge(connection_manager, orchestrator)


async def custom_error_late(*, connection_manager: Any, orchestrator: Any) -> Any:
    """Waits 0.9 x the init timeout for a health check, then raises its own error."""
    check = _present(orchestrator)
    try:
        healthy = await asyncio.wait_for(check(), 0.9 * INIT_TIMEOUT)
    except asyncio.TimeoutError:
        raise OrchestratorDown("no answer from the orchestrator") from None
    if not healthy:
        raise OrchestratorDown("health_check() returned False")
    return _bridge(connection_manager, orchestrator)


def _sync_check(orchestrator: Any) -> None:
    """A synchronous start-up cannot await the health check: it trusts ``healthy is True``,
    else waits 0.9 x the init timeout for it and gives up."""
    result = _present(orchestrator)()
    if inspect.iscoroutine(result):
        result.close()
    if getattr(orchestrator, "healthy", None) is not True:
        time.sleep(0.9 * INIT_TIMEOUT)  # a synchronous wait that gives up in time
        raise TimeoutError("the orchestrator did not answer within 0.9 s")


def sync_blocks_then_refuses(*, connection_manager: Any, orchestrator: Any) -> Any:
    """A synchronous factory that blocks its thread for 0.9 x the init timeout, then refuses."""
    _sync_check(orchestrator)
    return _bridge(connection_manager, orchestrator)


UNBLOCK = threading.Event()


def sync_blocks(*, connection_manager: Any, orchestrator: Any) -> Any:
    """A synchronous factory that blocks its thread on a hanging orchestrator (well past the
    probe's join limit; it gives up after 10 s so the test run leaves no thread behind)."""
    _present(orchestrator)
    if type(orchestrator).__name__ == "HangingOrchestrator":
        UNBLOCK.wait(10.0)
        raise OrchestratorDown("gave up")
    _sync_check(orchestrator)
    return _bridge(connection_manager, orchestrator)


def sync_returns_late(*, connection_manager: Any, orchestrator: Any) -> Any:
    """A synchronous factory that returns a bridge only after the limit, whatever it was given."""
    _present(orchestrator)
    if type(orchestrator).__name__ == "HangingOrchestrator":
        time.sleep(LIMIT + 0.3)
        return _bridge(connection_manager, orchestrator)
    _sync_check(orchestrator)
    return _bridge(connection_manager, orchestrator)


async def async_returns_late(*, connection_manager: Any, orchestrator: Any) -> Any:
    """Waits past the limit without awaiting the orchestrator, then returns a bridge."""
    check = _present(orchestrator)
    task = asyncio.ensure_future(check())
    done, _ = await asyncio.wait({task}, timeout=LIMIT + 0.3)
    if done and not task.result():
        raise OrchestratorDown("health_check() returned False")
    task.cancel()
    return _bridge(connection_manager, orchestrator)


async def no_check(*, connection_manager: Any, orchestrator: Any) -> Any:
    """Starts "fine" whatever the orchestrator (the optional-orchestrator bug)."""
    return _bridge(connection_manager, orchestrator or "set later")


FACTORIES = {
    "wait_for_timeout": wait_for_timeout,
    "raises_asyncio_timeout": raises_asyncio_timeout,
    "custom_error_late": custom_error_late,
    "sync_blocks_then_refuses": sync_blocks_then_refuses,
    "sync_blocks": sync_blocks,
    "sync_returns_late": sync_returns_late,
    "async_returns_late": async_returns_late,
    "no_check": no_check,
}

EXPECTED: dict[str, dict[str, str]] = {
    "wait_for_timeout": {},
    "raises_asyncio_timeout": {},
    "custom_error_late": {},
    "sync_blocks_then_refuses": {},
    "sync_blocks": {"WSB-3.3": "hung"},
    "sync_returns_late": {"WSB-3.3": "hung"},
    "async_returns_late": {"WSB-3.3": "hung"},
    "no_check": {
        case: "returned" for case in ("WSB-3.1", "WSB-3.2", "WSB-3.3", "WSB-3.4", "WSB-3.6")
    },
}
"""Factory -> {case id: result} for every case it does not refuse (all others: ``raised``)."""
