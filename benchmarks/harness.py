"""What every fan-out style benchmark shares: the systems under test and one timed fan-out.

A *system* is an async context manager with ``kind`` (the client handshake to use), ``url``,
``token`` and ``emit(seq, ts)``, which publishes event ``seq`` of the benchmark thread carrying
its emit time ``ts``. :func:`timed_fanout` connects the clients in their own process, emits
``events`` events as fast as the system takes them and returns what the clients saw.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from .baselines import BareWebsocketsServer, SocketIOServer, wire_event
from .results import Measurement
from .wsclients import ClientPlan, ClientReport, Kind, spawn_clients

__all__ = [
    "THREAD_ID",
    "BaselineSystem",
    "FanoutOutcome",
    "System",
    "timed_fanout",
]

THREAD_ID = "bench-thread"
RUN_ID = f"thread_{THREAD_ID}_run_1700000000000_0badcafe"


class System(Protocol):
    """A server under test, entered with ``async with``."""

    kind: Kind
    url: str
    token: str | None

    async def __aenter__(self) -> System: ...

    async def __aexit__(self, *exc_info: object) -> None: ...

    async def emit(self, seq: int, ts: float) -> None:
        """Publish event ``seq`` of :data:`THREAD_ID`, carrying emit time ``ts``."""


class BaselineSystem:
    """A baseline server publishing :func:`~benchmarks.baselines.wire_event` dicts."""

    token = None

    def __init__(self, server: BareWebsocketsServer | SocketIOServer) -> None:
        self.server = server
        self.kind: Kind = "bare" if isinstance(server, BareWebsocketsServer) else "socketio"
        self.url = ""

    async def __aenter__(self) -> BaselineSystem:
        await self.server.__aenter__()
        self.url = self.server.url
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.server.__aexit__(*exc_info)

    async def emit(self, seq: int, ts: float) -> None:
        message = wire_event(seq, ts, thread_id=THREAD_ID, run_id=RUN_ID, epoch="baseline")
        await self.server.publish(THREAD_ID, message)


@dataclass
class FanoutOutcome:
    """One fan-out run: what the clients saw and how long the server worked."""

    report: ClientReport
    wall_seconds: float
    emit_seconds: float
    server_cpu_seconds: float

    def measurement(self, system: str) -> Measurement:
        """Deliveries per second (all clients), with latency and server CPU as details."""
        report = self.report
        rate = report.received / self.wall_seconds if self.wall_seconds > 0 else 0.0
        cpu_per_k = 1000 * self.server_cpu_seconds / report.received if report.received else 0.0
        return Measurement(
            system,
            rate,
            "deliveries/s",
            {
                "clients": report.clients,
                "complete_clients": report.complete,
                "received": report.received,
                "errors": report.errors,
                "wall_s": round(self.wall_seconds, 4),
                "emit_s": round(self.emit_seconds, 4),
                "server_cpu_s": round(self.server_cpu_seconds, 4),
                "server_cpu_ms_per_1k_deliveries": round(cpu_per_k, 3),
                "latency_p50_ms": round(1000 * report.latency_percentiles.get("50", 0.0), 3),
                "latency_p99_ms": round(1000 * report.latency_percentiles.get("99", 0.0), 3),
                "connect_s": round(report.connect_seconds, 4),
            },
        )


async def timed_fanout(
    make_system: Callable[[], Any],
    *,
    clients: int,
    events: int,
    timeout: float = 120.0,
) -> FanoutOutcome:
    """Serve ``make_system()``, connect ``clients`` subscribers, emit ``events`` events."""
    async with make_system() as system:
        plan = ClientPlan(
            url=system.url,
            kind=system.kind,
            clients=clients,
            events=events,
            thread_ids=(THREAD_ID,),
            token=system.token,
            timeout=timeout,
        )
        handle = await spawn_clients(plan)
        try:
            await handle.ready()
            cpu0, start = time.process_time(), time.monotonic()
            for seq in range(1, events + 1):
                await system.emit(seq, time.monotonic())
                await asyncio.sleep(0)
            emitted = time.monotonic()
            report = await handle.report()
            cpu1 = time.process_time()
        finally:
            await handle.join()
    end = report.last_receive or time.monotonic()
    return FanoutOutcome(report, end - start, emitted - start, cpu1 - cpu0)
