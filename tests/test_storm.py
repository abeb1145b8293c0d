"""Reconnect storm: 100 clients dropping and resuming at random over 10,000 events."""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import time

import pytest
from server_support import running_stack

from reference_impl.client import BridgeClient

CLIENTS = int(os.environ.get("STORM_CLIENTS", 100))
THREADS = 10
EVENTS_PER_THREAD = int(os.environ.get("STORM_EVENTS", 1_000))
# ~20 s of CPU; under coverage with two suites sharing 2 cores it can take minutes. The bound
# only ends a broken (stuck) storm, a good one never waits it out.
STORM_TIMEOUT = float(os.environ.get("WSBRIDGE_STORM_TIMEOUT", 600))
DROP_PROBABILITY = 0.004  # per event received: ~4 drops per client


def tally(seqs: list[int], total: int) -> tuple[int, int, int]:
    """Return (lost, duplicated, out of order) for one client's received seqs."""
    lost = len(set(range(1, total + 1)) - set(seqs))
    duplicated = len(seqs) - len(set(seqs))
    out_of_order = sum(1 for a, b in itertools.pairwise(seqs) if b <= a)
    return lost, duplicated, out_of_order


@pytest.mark.asyncio
async def test_reconnect_storm_every_client_gets_every_event_once_in_order() -> None:
    rng = random.Random(2026)
    threads = [f"storm-{i}" for i in range(THREADS)]
    started = time.perf_counter()
    async with running_stack(
        authenticator=None, authorizer=lambda u, t: True, compression=None
    ) as stack:
        received: dict[int, list[int]] = {i: [] for i in range(CLIENTS)}
        clients = [
            BridgeClient(
                stack.server.url,
                thread_id=threads[i % THREADS],
                last_seq=0,
                backoff_initial=0.01,
                on_event=lambda event, i=i: received[i].append(event["seq"]),
            )
            for i in range(CLIENTS)
        ]
        drops = 0

        async def follow(client: BridgeClient) -> None:
            nonlocal drops
            while client.last_seq != EVENTS_PER_THREAD:
                # Under load the producer can keep a client's first connect waiting for a long
                # time: only the storm's own bound decides that it is stuck.
                await client.receive(timeout=STORM_TIMEOUT)
                ws = client._ws
                if rng.random() < DROP_PROBABILITY and ws and not ws.transport.is_closing():
                    drops += 1
                    ws.transport.abort()  # abrupt: no close frame

        async def produce() -> None:
            for _ in range(EVENTS_PER_THREAD):
                for thread in threads:
                    await stack.emit(thread)
                await asyncio.sleep(0)

        followers = [asyncio.ensure_future(follow(client)) for client in clients]
        await produce()
        await asyncio.wait_for(asyncio.gather(*followers), STORM_TIMEOUT)
        for client in clients:
            await client.close()
        connects = sum(client.connects for client in clients)
        slow = stack.bridge.metrics.dropped_slow_clients
    totals = [tally(seqs, EVENTS_PER_THREAD) for seqs in received.values()]
    lost = sum(t[0] for t in totals)
    duplicated = sum(t[1] for t in totals)
    out_of_order = sum(t[2] for t in totals)
    print(
        f"\nreconnect storm: clients={CLIENTS} threads={THREADS} "
        f"events={THREADS * EVENTS_PER_THREAD} drops={drops} slow_closes={slow} "
        f"connects={connects} lost={lost} duplicated={duplicated} out_of_order={out_of_order} "
        f"seconds={time.perf_counter() - started:.1f}"
    )
    assert (lost, duplicated, out_of_order) == (0, 0, 0)
    assert all(seqs == list(range(1, EVENTS_PER_THREAD + 1)) for seqs in received.values())
    assert drops > CLIENTS  # the storm really happened
