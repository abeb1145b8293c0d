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
    "merge_reports",
    "run_id_for",
    "timed_fanout",
]

THREAD_ID = "bench-thread"
RUN_ID = f"thread_{THREAD_ID}_run_1700000000000_0badcafe"


def run_id_for(thread_id: str) -> str:
    """The benchmark run of ``thread_id``: a standard run id, so the bridge resolves it."""
    return RUN_ID if thread_id == THREAD_ID else f"thread_{thread_id}_run_1700000000000_0badcafe"


class System(Protocol):
    """A server under test, entered with ``async with``."""

    kind: Kind
    url: str
    token: str | None

    async def __aenter__(self) -> System: ...

    async def __aexit__(self, *exc_info: object) -> None: ...

    async def emit(self, seq: int, ts: float, thread_id: str = THREAD_ID) -> None:
        """Publish event ``seq`` of ``thread_id``, carrying emit time ``ts``."""


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

    async def emit(self, seq: int, ts: float, thread_id: str = THREAD_ID) -> None:
        message = wire_event(
            seq, ts, thread_id=thread_id, run_id=run_id_for(thread_id), epoch="baseline"
        )
        await self.server.publish(thread_id, message)


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
        cpu_us = 1e6 * self.server_cpu_seconds / report.received if report.received else 0.0
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
                "server_cpu_us_per_delivery": round(cpu_us, 2),
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
    """Serve ``make_system()``, connect ``clients`` subscribers, emit ``events`` events.

    A system with several ``urls`` (nodes) gets one client process per node, the clients
    split evenly between them.
    """
    async with make_system() as system:
        urls: list[str] = list(getattr(system, "urls", [system.url]))
        handles = []
        try:
            for index, url in enumerate(urls):
                share = clients // len(urls) + (index < clients % len(urls))
                plan = ClientPlan(
                    url=url,
                    kind=system.kind,
                    clients=share,
                    events=events,
                    thread_ids=(THREAD_ID,),
                    token=system.token,
                    timeout=timeout,
                    dialect=getattr(system, "dialect", None),
                )
                handles.append(await spawn_clients(plan))
            await asyncio.gather(*(handle.ready() for handle in handles))
            cpu0, start = time.process_time(), time.monotonic()
            for seq in range(1, events + 1):
                await system.emit(seq, time.monotonic())
                await asyncio.sleep(0)
            emitted = time.monotonic()
            reports = await asyncio.gather(*(handle.report() for handle in handles))
            cpu1 = time.process_time()
        finally:
            await asyncio.gather(*(handle.join() for handle in handles))
    report = merge_reports(reports)
    end = report.last_receive or time.monotonic()
    return FanoutOutcome(report, end - start, emitted - start, cpu1 - cpu0)


def merge_reports(reports: list[ClientReport]) -> ClientReport:
    """One report for several client processes; each latency percentile is the worst one."""
    if len(reports) == 1:
        return reports[0]
    merged = ClientReport(clients=sum(r.clients for r in reports))
    for report in reports:
        merged.complete += report.complete
        merged.received += report.received
        merged.errors += report.errors
        merged.connect_seconds = max(merged.connect_seconds, report.connect_seconds)
        merged.last_receive = max(merged.last_receive, report.last_receive)
        for q, value in report.latency_percentiles.items():
            merged.latency_percentiles[q] = max(merged.latency_percentiles.get(q, 0.0), value)
    return merged
