"""Two server nodes on one Redis, end to end: real WebSocket servers and the reference client.

In-process nodes (``BridgeServer`` each with its own Redis-backed bridge) for the scenarios,
and two ``wsbridge serve --redis`` processes for the command line.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from redis_server import RedisServer

from reference_impl import (
    AgentWebSocketBridge,
    BackendUnavailableError,
    ConnectionManager,
    ReferenceOrchestrator,
    ResyncRequired,
    create_bridge,
    generate_run_id,
)
from reference_impl.backends.redis_fanout import RedisFanout
from reference_impl.client import BridgeClient
from reference_impl.server import BridgeServer

pytestmark = pytest.mark.redis

TIMEOUT = 5.0


@dataclass
class Node:
    bridge: AgentWebSocketBridge
    server: BridgeServer

    @property
    def fanout(self) -> RedisFanout:
        assert isinstance(self.bridge.fanout, RedisFanout)
        return self.bridge.fanout

    async def emit(self, run_id: str, n: int) -> int:
        return (await self.bridge.notify_custom(run_id, "agent", {"n": n})).seq


@asynccontextmanager
async def nodes(url: str, prefix: str, count: int = 2, **redis: Any) -> AsyncIterator[list[Node]]:
    async with AsyncExitStack() as stack:
        out = []
        for _ in range(count):
            manager = ConnectionManager()
            bridge = await create_bridge(
                connection_manager=manager,
                orchestrator=ReferenceOrchestrator(),
                redis_url=url,
                redis_options={"key_prefix": prefix, **redis},
            )
            stack.push_async_callback(bridge.close)
            server = BridgeServer(bridge, manager, close_timeout=1.0)
            await server.start(port=0)
            stack.push_async_callback(server.close)
            out.append(Node(bridge, server))
        yield out


async def subscribed(url: str, thread_id: str, **options: Any) -> BridgeClient:
    client = BridgeClient(url, thread_id=thread_id, receive_timeout=TIMEOUT, **options)
    await client.connect()
    return client


async def receive(client: BridgeClient, count: int) -> list[dict[str, Any]]:
    return [await client.receive() for _ in range(count)]


@pytest.mark.asyncio
async def test_a_run_on_node_a_reaches_a_client_on_node_b_which_resumes_on_a(
    redis_server: RedisServer, redis_prefix: str
) -> None:
    async with nodes(redis_server.url, redis_prefix) as (a, b):
        thread_id = "thread_two_nodes"
        run_id = generate_run_id(thread_id)
        client = await subscribed(b.server.url, thread_id)
        try:
            for n in range(3):
                await a.emit(run_id, n)
            got = await receive(client, 3)
            assert [(m["seq"], m["payload"]["n"]) for m in got] == [(1, 0), (2, 1), (3, 2)]
        finally:
            await client.close()
        for n in range(3, 5):  # emitted while the client is away
            await a.emit(run_id, n)
        resumed = await subscribed(
            a.server.url, thread_id, last_seq=client.last_seq, epoch=client.epoch
        )
        try:
            await b.emit(run_id, 5)  # live, from the other node
            got = await receive(resumed, 3)
            assert [(m["seq"], m["payload"]["n"]) for m in got] == [(4, 3), (5, 4), (6, 5)]
            await a.emit(run_id, 6)
            assert (await resumed.receive())["seq"] == 7  # nothing repeated in between
            assert (resumed.duplicates, resumed.gaps) == (0, 0)
        finally:
            await resumed.close()


@pytest.mark.asyncio
async def test_redis_restart_mid_run_asks_for_resync_then_delivery_continues(
    own_redis_server: RedisServer, redis_prefix: str
) -> None:
    async with nodes(own_redis_server.url, redis_prefix) as (a, b):
        thread_id = "thread_restart"
        run_id = generate_run_id(thread_id)
        client = await subscribed(b.server.url, thread_id)
        try:
            await a.emit(run_id, 0)
            old = await client.receive()

            own_redis_server.restart()  # the history is lost
            await a.fanout.wait_subscribed(2)
            await b.fanout.wait_subscribed(2)

            assert await a.emit(run_id, 1) == 1  # a new epoch starts at seq 1
            with pytest.raises(ResyncRequired):
                await client.receive()
            for _ in range(3):  # the server may answer the first resubscribe with a resync
                try:
                    await client.connect()
                    break
                except ResyncRequired:
                    continue
            assert client.epoch != old["epoch"]
            await a.emit(run_id, 2)
            event = await client.receive()
            assert (event["seq"], event["epoch"], event["payload"]["n"]) == (2, client.epoch, 2)
        finally:
            await client.close()


@pytest.mark.asyncio
async def test_redis_down_notify_raises_in_bounded_time_and_nothing_is_delivered(
    own_redis_server: RedisServer, redis_prefix: str
) -> None:
    bound = {"attempts": 2, "timeout": 0.3, "retry_delay": 0.02}
    async with nodes(own_redis_server.url, redis_prefix, **bound) as (a, b):
        thread_id = "thread_down"
        run_id = generate_run_id(thread_id)
        local = await subscribed(a.server.url, thread_id)
        remote = await subscribed(b.server.url, thread_id)
        try:
            await a.emit(run_id, 0)
            assert (await local.receive())["seq"] == (await remote.receive())["seq"] == 1

            own_redis_server.stop()
            started = time.monotonic()
            with pytest.raises(BackendUnavailableError):
                await a.emit(run_id, 1)
            assert time.monotonic() - started <= a.fanout.backend.max_wait + 0.5
            metrics = a.bridge.metrics
            assert (metrics.emitted, metrics.delivered) == (1, 1)
            for client in (local, remote):
                with pytest.raises(TimeoutError):  # nothing was sent for the failed event
                    await client.receive(timeout=0.2)
        finally:
            await local.close()
            await remote.close()


def _serve(url: str, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest_wsbridge.cli",
            "serve",
            "--port",
            "0",
            "--redis",
            url,
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


async def _served_url(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    while True:
        line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 20)
        if not line:
            raise AssertionError(f"wsbridge serve exited with {process.wait()}")
        found = re.search(r"serving (ws://\S+)", line)
        if found:
            return found.group(1)


@pytest.mark.asyncio
async def test_two_wsbridge_serve_processes_share_a_run_through_redis(
    own_redis_server: RedisServer,
) -> None:
    emitter = _serve(own_redis_server.url, "--demo", "--demo-interval", "0.05")
    watcher = _serve(own_redis_server.url)
    try:
        await _served_url(emitter)
        url = await _served_url(watcher)
        # The demo agent runs on the emitter; its thread is watched through the other process.
        client = BridgeClient(url, thread_id="demo-thread", last_seq=0, receive_timeout=10.0)
        try:
            got = await receive(client, 4)
        finally:
            await client.close()
        assert [m["seq"] for m in got] == [1, 2, 3, 4]
        assert got[0]["type"] == "agent_started"
    finally:
        for process in (emitter, watcher):
            process.terminate()
        for process in (emitter, watcher):
            process.wait(timeout=10)
            assert process.stdout is not None
            process.stdout.close()
