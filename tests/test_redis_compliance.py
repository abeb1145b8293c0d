"""The packaged compliance suite passes against a Redis-backed reference bridge too."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from redis_server import RedisServer

from pytest_wsbridge.compliance import CASES, CaseOptions, Verdict, run_suite
from reference_impl import AgentWebSocketBridge, create_bridge
from reference_impl.backends.redis import RedisBackend

pytestmark = pytest.mark.redis

# The harness waits up to delivery_timeout for a bridge's background tasks (here the Redis
# subscriber) before judging "nothing was sent"; Redis is local, so a short one suffices. The
# fail-fast cases hand the factory 0.25 s (PROBE_TIMEOUT) but allow the whole init timeout:
# room for connecting to Redis on a loaded machine, at no cost when all goes well.
FAST = CaseOptions(init_timeout=5.0, delivery_timeout=0.3)


def test_every_case_is_ok_with_the_redis_backend(redis_server: RedisServer) -> None:
    prefixes: list[str] = []

    async def redis_bridge(
        *, connection_manager: Any, orchestrator: Any, init_timeout: float
    ) -> AgentWebSocketBridge:
        prefixes.append(f"compliance-{uuid.uuid4().hex[:8]}:")  # each case starts empty
        return await create_bridge(
            connection_manager=connection_manager,
            orchestrator=orchestrator,
            init_timeout=init_timeout,
            backend=RedisBackend(redis_server.url, key_prefix=prefixes[-1]),
        )

    suite = run_suite(redis_bridge, CASES, factory_name="tests:redis_bridge", options=FAST)
    not_ok = {
        r.id: (r.verdict.value, r.observed) for r in suite.results if r.verdict is not Verdict.OK
    }
    assert not_ok == {}
    assert len(suite.results) == len(CASES)
    assert len(prefixes) >= len(CASES) - 10  # the cases did run on Redis-backed bridges
