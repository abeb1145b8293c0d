"""Benchmark 3, replay: a client resuming 10,000 missed events against the same sent live.

Resume: the events are emitted with nobody subscribed, then one client subscribes with
``last_seq=0``; the time runs from its subscribe frame to the last event's arrival. Live: one
client subscribed first, the time runs from the first emit to the last arrival. Both check
seq 1..M in order.
"""

from __future__ import annotations

import time

from .harness import THREAD_ID, timed_fanout
from .results import Measurement, Row
from .systems import BridgeSystem
from .wsclients import ClientPlan, spawn_clients

__all__ = ["run_replay"]


async def run_replay(*, events: int, timeout: float = 120.0) -> list[Row]:
    """Return one row: resume time against live time (lower is better, target 1.2×)."""
    live = await timed_fanout(BridgeSystem, clients=1, events=events, timeout=timeout)
    async with BridgeSystem() as system:
        for seq in range(1, events + 1):
            await system.emit(seq, time.monotonic())
        handle = await spawn_clients(
            ClientPlan(
                url=system.url,
                kind="bridge",
                clients=1,
                events=events,
                thread_ids=(THREAD_ID,),
                last_seq=0,
                timeout=timeout,
            )
        )
        try:
            await handle.ready()
            report = await handle.report()
        finally:
            await handle.join()
    resumed = Measurement(
        "resume from seq 0",
        report.last_receive - report.subscribe_sent if report.correct else float("nan"),
        "s",
        {"received": report.received, "errors": report.errors},
    )
    sent_live = Measurement(
        "same events live",
        live.wall_seconds,
        "s",
        {"received": live.report.received, "errors": live.report.errors},
    )
    return [
        Row(
            f"replay M={events}",
            resumed,
            sent_live,
            target=1.2,
            higher_is_better=False,
            correct=report.correct and live.report.correct,
        )
    ]
