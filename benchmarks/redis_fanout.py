"""Benchmark 5, the Redis backend: two bridge nodes on one Redis against the memory backend.

The benchmark starts its own ``redis-server`` (free port, temporary directory, nothing
persisted) with the tests' :class:`tests.redis_server.RedisServer`, runs the fan-out with
events emitted on node A and the clients split between nodes A and B, and the same fan-out on
one memory-backend node, interleaved ``repeats`` times (best kept). Each client checks seq
1..M in order. Two rows: deliveries per second, and deliveries per CPU-second of the server
process (both nodes run in it; ``redis-server``'s own CPU is not counted).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from .fanout import best_fanout, per_cpu
from .results import Row
from .systems import BridgeSystem, TwoNodeSystem

__all__ = ["TARGET", "run_redis"]

#: Two Redis nodes at this fraction of the memory backend at least (issue 14).
TARGET = 0.7


async def run_redis(
    *, clients: int, events: int, repeats: int = 1, timeout: float = 120.0
) -> list[Row]:
    """Return two rows: two Redis nodes against one memory node, by rate and by server CPU."""
    if shutil.which("redis-server") is None:
        print("redis: no redis-server binary on PATH; skipped", file=sys.stderr)
        return []
    from tests.redis_server import RedisServer

    two_nodes, memory = "2 nodes on Redis", "1 node, memory"
    with tempfile.TemporaryDirectory(prefix="wsbridge-bench-redis-") as tmp:
        redis = RedisServer(Path(tmp))
        redis.start()
        try:
            url = redis.url
            results = await best_fanout(
                {two_nodes: lambda: TwoNodeSystem(url), memory: BridgeSystem},
                clients=clients,
                events=events,
                repeats=repeats,
                timeout=timeout,
            )
        finally:
            redis.stop()
    (subject, subject_ok), (baseline, baseline_ok) = results[two_nodes], results[memory]
    name = f"redis fan-out N={clients} M={events}"
    cpu_note = (
        f"server CPU per delivery {subject.details['server_cpu_us_per_delivery']:.1f} µs "
        f"(both nodes, one process; redis-server not counted) vs "
        f"{baseline.details['server_cpu_us_per_delivery']:.1f} µs"
    )
    correct = subject_ok and baseline_ok
    return [
        Row(name, subject, baseline, target=TARGET, correct=correct, note=cpu_note),
        Row(
            f"{name} (server CPU)",
            per_cpu(subject),
            per_cpu(baseline),
            target=TARGET,
            correct=correct,
        ),
    ]
