"""Benchmark 4, connections: memory per idle subscribed connection and time to subscribe.

Each size runs in a fresh worker process (``python -m benchmarks.connections``) so memory
freed by an earlier benchmark cannot hide what connections cost: the worker serves the system,
reads its RSS, has the client process connect ``count`` clients (each subscribed to its own
thread, compression off), reads its RSS again and reports the difference per connection. The
bare ``websockets`` server is the baseline.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from typing import Any

from .baselines import BareWebsocketsServer
from .harness import BaselineSystem
from .proc import raise_fd_limit, rss_bytes
from .results import Measurement, Row
from .systems import BridgeSystem
from .wsclients import ROOT, ClientPlan, spawn_clients

__all__ = ["measure_idle", "run_connections"]

KIB = 1024
SYSTEMS: dict[str, Callable[[], Any]] = {
    "wsbridge": BridgeSystem,
    "bare websockets": lambda: BaselineSystem(BareWebsocketsServer()),
}


async def measure_idle(system_name: str, count: int, timeout: float) -> dict[str, Any]:
    """Serve ``system_name``, connect ``count`` idle subscribers, return memory and timing."""
    raise_fd_limit(count + 512)
    async with SYSTEMS[system_name]() as system:
        before = rss_bytes()
        plan = ClientPlan(
            url=system.url,
            kind=system.kind,
            clients=count,
            events=0,
            thread_ids=tuple(f"idle-{i}" for i in range(count)),
            timeout=timeout,
        )
        handle = await spawn_clients(plan)
        try:
            await handle.ready()
            after = rss_bytes()
            report = await handle.close_idle()
        finally:
            await handle.join()
    return {
        "rss_per_connection": (after - before) / count,
        "connect_seconds": handle.connect_seconds,
        "errors": report.errors,
    }


async def _in_worker(system_name: str, count: int, timeout: float) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "benchmarks.connections",
        system_name,
        str(count),
        str(timeout),
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout + 60)
    if process.returncode != 0:
        return {
            "rss_per_connection": float("nan"),
            "connect_seconds": float("nan"),
            "errors": [f"worker exited {process.returncode}"],
        }
    return dict(json.loads(out))


async def run_connections(sizes: list[int], *, timeout: float = 120.0) -> list[Row]:
    """Per size: memory per connection (target ≤ 50 KiB) and accept+subscribe time, both
    against the bare ``websockets`` server."""
    rows: list[Row] = []
    for count in sizes:
        bridge = await _in_worker("wsbridge", count, timeout)
        bare = await _in_worker("bare websockets", count, timeout)
        ok = not bridge["errors"] and not bare["errors"]
        kib = bridge["rss_per_connection"] / KIB
        rows.append(
            Row(
                f"idle connections {count}",
                Measurement("wsbridge memory", kib, "KiB/conn", bridge),
                Measurement("bare websockets", bare["rss_per_connection"] / KIB, "KiB/conn", bare),
                higher_is_better=False,
                correct=ok,
                note=f"{kib:.1f} KiB per connection (target ≤ 50 KiB: "
                f"{'met' if kib <= 50 else 'MISSED'})",
            )
        )
        rows.append(
            Row(
                f"accept+subscribe {count}",
                Measurement("wsbridge", bridge["connect_seconds"], "s"),
                Measurement("bare websockets", bare["connect_seconds"], "s"),
                higher_is_better=False,
                correct=ok,
            )
        )
    return rows


def _worker_main() -> None:
    system_name, count, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    print(json.dumps(asyncio.run(measure_idle(system_name, count, timeout))))


if __name__ == "__main__":
    _worker_main()
