"""Benchmark 5, the Redis backend: two bridge nodes on one Redis against the memory backend.

The benchmark starts its own ``redis-server`` (free port, temporary directory, nothing
persisted) with the tests' :class:`tests.redis_server.RedisServer`, runs the fan-out with
events emitted on node A and the clients split between nodes A and B, and the same fan-out on
one memory-backend node. Each client checks seq 1..M in order.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from .harness import timed_fanout
from .results import Row
from .systems import BridgeSystem, TwoNodeSystem

__all__ = ["run_redis"]


async def run_redis(*, clients: int, events: int, timeout: float = 120.0) -> list[Row]:
    """Return one row: two Redis nodes' deliveries/s against one memory node's."""
    if shutil.which("redis-server") is None:
        print("redis: no redis-server binary on PATH; skipped", file=sys.stderr)
        return []
    from tests.redis_server import RedisServer

    with tempfile.TemporaryDirectory(prefix="wsbridge-bench-redis-") as tmp:
        redis = RedisServer(Path(tmp))
        redis.start()
        try:
            url = redis.url
            two = await timed_fanout(
                lambda: TwoNodeSystem(url), clients=clients, events=events, timeout=timeout
            )
        finally:
            redis.stop()
    memory = await timed_fanout(BridgeSystem, clients=clients, events=events, timeout=timeout)
    subject = two.measurement("2 nodes on Redis")
    baseline = memory.measurement("1 node, memory")
    return [
        Row(
            f"redis fan-out N={clients} M={events}",
            subject,
            baseline,
            correct=two.report.correct and memory.report.correct,
            note=f"server CPU per delivery {subject.details['server_cpu_us_per_delivery']:.1f} µs "
            f"(both nodes, one process) vs {baseline.details['server_cpu_us_per_delivery']:.1f} µs",
        )
    ]
