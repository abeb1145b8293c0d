"""Two server nodes on one Redis, end to end: real WebSocket servers and the reference client.

In-process nodes (``BridgeServer`` each with its own Redis-backed bridge) for the scenarios,
and two ``wsbridge serve --redis`` processes for the command line.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from redis_server import RedisServer, free_port
from server_support import SLACK, TIMEOUT

from reference_impl import (
    AgentWebSocketBridge,
    BackendUnavailableError,
    ConnectionManager,
    ReferenceOrchestrator,
    ResyncRequired,
    create_bridge,
    generate_run_id,
)
from reference_impl.backends.redis import RedisBackend
from reference_impl.backends.redis_fanout import RedisFanout
from reference_impl.client import BridgeClient
from reference_impl.server import BridgeServer

pytestmark = pytest.mark.redis


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
                backend=RedisBackend(url, key_prefix=prefix, **redis),
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
            await asyncio.wait_for(a.fanout.wait_subscribed(2), TIMEOUT)
            await asyncio.wait_for(b.fanout.wait_subscribed(2), TIMEOUT)

            assert await a.emit(run_id, 1) == 1  # a new epoch starts at seq 1
            with pytest.raises(ResyncRequired) as info:
                await client.receive()
            new_epoch = info.value.epoch
            # Told by node B's catch-up (at the new epoch's head 0, or 1 if the event came
            # first) or by the first event of the new epoch (at 1).
            assert info.value.head_seq in (0, 1)
            assert info.value.reason == "epoch changed"
            assert new_epoch != old["epoch"]
            await client.connect()  # resubscribes at the new head: no second resync
            assert client.epoch == new_epoch
            await a.emit(run_id, 2)
            got = await receive(client, 2 - info.value.head_seq)
            assert [(m["seq"], m["epoch"], m["payload"]["n"]) for m in got][-1] == (2, new_epoch, 2)
            assert [m["seq"] for m in got] == list(range(info.value.head_seq + 1, 3))
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
            assert time.monotonic() - started <= a.fanout.backend.max_wait + SLACK
            metrics = a.bridge.metrics
            assert (metrics.emitted, metrics.delivered) == (1, 1)
            for client in (local, remote):
                with pytest.raises(TimeoutError):  # nothing was sent for the failed event
                    await client.receive(timeout=0.2)
        finally:
            await local.close()
            await remote.close()


@pytest.mark.asyncio
async def test_a_gap_the_stream_cannot_fill_reaches_the_client_as_resync_required(
    redis_server: RedisServer, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with nodes(redis_server.url, redis_prefix) as (a, b):
        thread_id = "thread_trimmed"
        run_id = generate_run_id(thread_id)
        client = await subscribed(b.server.url, thread_id)
        try:
            await a.emit(run_id, 0)
            assert (await client.receive())["seq"] == 1
            real = b.fanout._on_wakeup

            async def lose_seq_2(item: dict[str, Any]) -> None:
                if '"s":2' not in str(item.get("data")):
                    await real(item)

            monkeypatch.setattr(b.fanout, "_on_wakeup", lose_seq_2)
            await a.emit(run_id, 1)  # its wake-up never reaches node B...
            await a.bridge.backend.redis.delete(f"{redis_prefix}log:{thread_id}")  # ...nor history
            await a.emit(run_id, 2)
            with pytest.raises(ResyncRequired, match="trimmed"):
                await client.receive()
        finally:
            await client.close()


class _Serve:
    """One ``wsbridge serve --redis`` process; its output is read as it comes."""

    def __init__(self, url: str, *extra: str) -> None:
        command = [sys.executable, "-m", "pytest_wsbridge.cli", "serve", "--port", "0"]
        self.process = subprocess.Popen(
            [*command, "--redis", url, *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: list[str] = []
        self._served = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            if "serving ws://" in line:
                self._served.set()
        self._served.set()

    async def url(self) -> str:
        await asyncio.wait_for(asyncio.to_thread(self._served.wait), 30)
        for line in self.lines:
            found = re.search(r"serving (ws://\S+)", line)
            if found:
                return found.group(1)
        raise AssertionError(f"wsbridge serve did not start: {''.join(self.lines)}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:  # shutdown is tested with the server; not here
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=5)
        assert self.process.stdout is not None
        self.process.stdout.close()


@pytest.mark.asyncio
async def test_two_wsbridge_serve_processes_share_a_run_through_redis(
    own_redis_server: RedisServer,
) -> None:
    emitter = _Serve(own_redis_server.url, "--demo", "--demo-interval", "0.05")
    watcher = _Serve(own_redis_server.url)
    try:
        await emitter.url()
        # The demo agent runs in the emitter; its thread is watched through the other process.
        client = BridgeClient(
            await watcher.url(), thread_id="demo-thread", last_seq=0, receive_timeout=10.0
        )
        try:
            got = await receive(client, 4)
        finally:
            await client.close()
        assert [m["seq"] for m in got] == [1, 2, 3, 4]
        assert got[0]["type"] == "agent_started"
    finally:
        emitter.stop()
        watcher.stop()


@pytest.mark.asyncio
async def test_serve_with_an_unreachable_redis_exits_with_a_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from pytest_wsbridge.cli import build_parser
    from reference_impl import cli

    dead = f"redis://127.0.0.1:{free_port()}/0"
    args = build_parser().parse_args(["serve", "--port", "0", "--redis", dead])
    assert await asyncio.wait_for(cli.serve(args, io.StringIO()), 10) == 1
    assert f"wsbridge serve: redis at {dead} unavailable" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--redis", "127.0.0.1:6379"])
    assert "expected redis://host:port/db" in capsys.readouterr().err


# -- Redis lost and back: nobody stays behind without being told (issue 11 §3) ----------------


def hold_resubscription(fanout: RedisFanout, monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """Fault: the node's next wake-up subscriptions wait until the returned event is set.

    The node is slow to get back on Redis, so it hears none of the wake-ups published
    meanwhile; a real node gets there within its ``max_reconnect_delay``.
    """
    release = asyncio.Event()
    real_wakeups = fanout.backend.wakeups

    @asynccontextmanager
    async def wakeups() -> AsyncIterator[Any]:
        await release.wait()
        async with real_wakeups() as items:
            yield items

    monkeypatch.setattr(fanout.backend, "wakeups", wakeups)
    return release


def told_within(fanout: RedisFanout) -> float:
    """The stated bound: once Redis answers again a node resubscribes within its
    ``max_reconnect_delay`` and reads each thread's head within ``max_wait``; plus slack."""
    return fanout.max_reconnect_delay + fanout.backend.max_wait + SLACK


async def resync_then_follow(
    client: BridgeClient, head: int, epoch: str, deadline: float
) -> list[int]:
    """Expect ``resync_required`` by ``deadline`` naming ``epoch``; then read up to ``head``.

    Return the seqs received after the resync (the client resumes where it was told).
    """
    remaining = max(0.0, deadline - asyncio.get_running_loop().time())
    with pytest.raises(ResyncRequired) as info:
        await client.receive(timeout=remaining)
    assert (info.value.epoch, info.value.reason) == (epoch, "epoch changed")
    assert info.value.head_seq <= head
    got = [info.value.head_seq]
    while got[-1] < head:
        event = await client.receive()
        assert event["epoch"] == epoch
        got.append(event["seq"])
    return got


@pytest.mark.asyncio
async def test_redis_killed_and_restarted_then_a_burst_then_quiet_every_subscriber_is_told(
    own_redis_server: RedisServer, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with nodes(own_redis_server.url, redis_prefix) as (a, b):
        threads = ("t_burst", "t_quiet")
        runs = {thread: generate_run_id(thread) for thread in threads}
        clients = [
            (thread, await subscribed(node.server.url, thread))
            for node in (a, b)
            for thread in threads
            for _ in range(2)
        ]
        try:
            for thread in threads:
                for n in range(2):
                    await a.emit(runs[thread], n)
            for _, client in clients:
                assert [m["seq"] for m in await receive(client, 2)] == [1, 2]

            release = hold_resubscription(b.fanout, monkeypatch)
            own_redis_server.kill()  # kill -9: every key is gone
            own_redis_server.start()
            # Node A emits right away; node B is not back on Redis and hears none of it.
            assert [await a.emit(runs["t_burst"], n) for n in range(3)] == [1, 2, 3]
            release.set()
            deadline = asyncio.get_running_loop().time() + told_within(b.fanout)

            # Then quiet: every subscriber on both nodes is told, without a later event.
            heads = {thread: await a.bridge.backend.head(thread) for thread in threads}
            assert (heads["t_burst"].head_seq, heads["t_quiet"].head_seq) == (3, 0)
            for thread, client in clients:
                head = heads[thread]
                got = await resync_then_follow(client, head.head_seq, head.epoch, deadline)
                assert got == list(range(got[0], head.head_seq + 1))

            for thread in threads:  # and delivery goes on, from either node
                assert await b.emit(runs[thread], 9) == heads[thread].head_seq + 1
            for thread, client in clients:
                event = await client.receive()
                assert (event["seq"], event["epoch"]) == (
                    heads[thread].head_seq + 1,
                    heads[thread].epoch,
                )
                assert (client.duplicates, client.gaps) == (0, 0)
        finally:
            for _, client in clients:
                await client.close()


@pytest.mark.asyncio
async def test_wakeups_a_node_missed_reach_its_subscribers_without_a_later_event(
    redis_server: RedisServer, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with nodes(redis_server.url, redis_prefix) as (a, b):
        thread_id = "t_missed"
        run_id = generate_run_id(thread_id)
        # Subscribed before any event: node B's fan-out has seen nothing of this thread.
        client = await subscribed(b.server.url, thread_id)
        try:
            release = hold_resubscription(b.fanout, monkeypatch)
            await b.fanout.backend.redis.client_kill_filter(_type="pubsub")
            for n in range(3):
                await a.emit(run_id, n)  # published while node B is not subscribed
            release.set()
            deadline = asyncio.get_running_loop().time() + told_within(b.fanout)
            got = [
                await client.receive(timeout=max(0.0, deadline - asyncio.get_running_loop().time()))
                for _ in range(3)
            ]
            assert [(m["seq"], m["payload"]["n"]) for m in got] == [(1, 0), (2, 1), (3, 2)]
            await a.emit(run_id, 3)
            assert (await client.receive())["seq"] == 4
            assert (client.duplicates, client.gaps) == (0, 0)
        finally:
            await client.close()


@pytest.mark.asyncio
async def test_two_serve_processes_tell_every_subscriber_after_redis_is_killed(
    own_redis_server: RedisServer,
) -> None:
    nodes_ = [_Serve(own_redis_server.url) for _ in range(2)]
    emitter = await create_bridge(
        connection_manager=ConnectionManager(),
        orchestrator=ReferenceOrchestrator(),
        backend=own_redis_server.url,
    )
    clients: list[tuple[str, BridgeClient]] = []
    try:
        urls = [await node.url() for node in nodes_]
        threads = ("t_burst", "t_quiet")
        runs = {thread: generate_run_id(thread) for thread in threads}
        clients = [(t, await subscribed(url, t)) for url in urls for t in threads]
        for thread in threads:
            for n in range(2):
                await emitter.notify_custom(runs[thread], "agent", {"n": n})
        for _, client in clients:
            assert [m["seq"] for m in await receive(client, 2)] == [1, 2]

        own_redis_server.kill()
        own_redis_server.start()
        for n in range(3):
            await emitter.notify_custom(runs["t_burst"], "agent", {"n": n})
        # The serve processes run with the defaults: 1 s reconnect delay at most, 3.15 s reads.
        assert isinstance(emitter.fanout, RedisFanout)
        deadline = asyncio.get_running_loop().time() + told_within(emitter.fanout)
        heads = {thread: await emitter.backend.head(thread) for thread in threads}
        for thread, client in clients:
            head = heads[thread]
            got = await resync_then_follow(client, head.head_seq, head.epoch, deadline)
            assert got == list(range(got[0], head.head_seq + 1))
    finally:
        for _, client in clients:
            await client.close()
        await emitter.close()
        for node in nodes_:
            node.stop()
