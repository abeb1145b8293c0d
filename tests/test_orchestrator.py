"""Fail-fast start-up: a missing, unhealthy or hanging orchestrator stops the bridge's build."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from server_support import SLACK

from pytest_wsbridge.fakes import HangingOrchestrator, UnhealthyOrchestrator
from reference_impl.bridge import create_bridge
from reference_impl.connections import ConnectionManager
from reference_impl.exceptions import OrchestratorInitError
from reference_impl.ids import generate_run_id
from reference_impl.orchestrator import (
    Orchestrator,
    ReferenceOrchestrator,
    check_orchestrator,
    require_orchestrator,
)


class ReturnsFalse:
    async def health_check(self) -> bool:
        return False


class Raises:
    async def health_check(self) -> bool:
        raise ConnectionError("database down")


class RaisesTimeoutQuickly:
    async def health_check(self) -> bool:
        raise asyncio.TimeoutError("upstream timed out")


class SyncFalse:
    def health_check(self) -> bool:
        return False


class SyncRaises:
    def health_check(self) -> bool:
        raise RuntimeError("sync boom")


class SyncHealthy:
    def health_check(self) -> bool:
        return True


class NoHealthCheck:
    async def get_thread_id_for_run(self, run_id: str) -> str | None:
        return None


class Hangs:
    def __init__(self) -> None:
        self.cancelled = False

    async def health_check(self) -> bool:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        return True


async def build(orchestrator: object, timeout: float = 0.2) -> Any:
    return await create_bridge(
        connection_manager=ConnectionManager(), orchestrator=orchestrator, init_timeout=timeout
    )


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("orchestrator", "which"),
    [
        (None, "is None (missing)"),
        (ReturnsFalse(), "unhealthy: health_check() returned False"),
        (Raises(), "unhealthy: health_check() raised ConnectionError('database down')"),
        (RaisesTimeoutQuickly(), "unhealthy: health_check() raised TimeoutError"),
        (SyncFalse(), "unhealthy: health_check() returned False"),
        (SyncRaises(), "unhealthy: health_check() raised RuntimeError"),
        (UnhealthyOrchestrator(), "unhealthy: health_check() raised ConnectionError"),
        (NoHealthCheck(), "has no health_check() method"),
        (object(), "has no health_check() method"),
    ],
)
async def test_build_fails_fast_and_says_which(orchestrator: object, which: str) -> None:
    with pytest.raises(OrchestratorInitError) as caught:
        await build(orchestrator)
    assert which in str(caught.value)


@pytest.mark.asyncio
@pytest.mark.parametrize("factory", [Hangs, HangingOrchestrator])
async def test_hanging_health_check_is_bounded_by_the_init_timeout(factory: Any) -> None:
    orchestrator = factory()
    started = time.monotonic()
    with pytest.raises(OrchestratorInitError, match="hanging") as caught:
        await asyncio.wait_for(build(orchestrator, timeout=0.1), 5)
    assert time.monotonic() - started < 0.1 + SLACK
    assert "0.1s" in str(caught.value)
    assert "init_timeout" in str(caught.value)
    assert isinstance(caught.value.__cause__, asyncio.TimeoutError)
    if isinstance(orchestrator, Hangs):
        assert orchestrator.cancelled  # the pending check was cancelled, not leaked
    else:
        orchestrator.release()


@pytest.mark.asyncio
@pytest.mark.parametrize("orchestrator", [ReferenceOrchestrator(), SyncHealthy()])
async def test_healthy_orchestrators_pass(orchestrator: object) -> None:
    await check_orchestrator(orchestrator, timeout=1)
    bridge = await build(orchestrator)
    assert bridge.started


@pytest.mark.asyncio
async def test_a_health_check_returning_none_counts_as_healthy() -> None:
    class Silent:
        async def health_check(self) -> None:
            return None

    await check_orchestrator(Silent(), timeout=1)


@pytest.mark.asyncio
async def test_unhealthy_reference_orchestrator() -> None:
    orchestrator = ReferenceOrchestrator()
    orchestrator.healthy = False
    with pytest.raises(OrchestratorInitError, match="returned False"):
        await build(orchestrator)


def test_require_orchestrator() -> None:
    require_orchestrator(ReferenceOrchestrator())
    with pytest.raises(OrchestratorInitError, match="ReferenceOrchestrator"):
        require_orchestrator(None)


@pytest.mark.asyncio
async def test_reference_orchestrator_threads_and_runs() -> None:
    orchestrator = ReferenceOrchestrator()
    assert isinstance(orchestrator, Orchestrator)
    assert orchestrator.create_thread("alice", "t_1") == "t_1"
    assert orchestrator.create_thread("alice", "t_1") == "t_1"
    with pytest.raises(ValueError, match="belongs to another user"):
        orchestrator.create_thread("bob", "t_1")
    with pytest.raises(ValueError, match="thread_id"):
        orchestrator.create_thread("alice", "")
    assert orchestrator.owner_of("t_1") == "alice"
    assert orchestrator.owner_of("nope") is None
    run_id = orchestrator.start_run("t_1")
    assert await orchestrator.get_thread_id_for_run(run_id) == "t_1"
    assert await orchestrator.get_thread_id_for_run(generate_run_id("t_2")) == "t_2"
    assert await orchestrator.get_thread_id_for_run("run_xyz789") is None
    assert await orchestrator.health_check() is True
