"""Several nodes on one Redis: each delivers every event once, in order, to its connections.

Each node is a bridge built with ``create_bridge(backend=RedisBackend(...))`` and its own connection
manager, in this process but with its own Redis connections, as a server process would have.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import pytest
import pytest_asyncio
from redis_server import RedisServer, free_port
from server_support import SLACK

from pytest_wsbridge.fakes import FakeConnectionManager
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

pytestmark = pytest.mark.redis

# Bounds every wait for messages crossing nodes through Redis; a good run never waits it out.
WAIT = 30.0

Node = tuple[AgentWebSocketBridge, FakeConnectionManager]
NodeFactory = Callable[..., Awaitable[Node]]


def fanout_of(bridge: AgentWebSocketBridge) -> RedisFanout:
    assert isinstance(bridge.fanout, RedisFanout)
    return bridge.fanout


@pytest_asyncio.fixture
async def make_node(redis_prefix: str) -> AsyncIterator[Callable[[str], Awaitable[Node]]]:
    async with AsyncExitStack() as stack:

        async def make(url: str, **redis_options: Any) -> Node:
            manager = FakeConnectionManager()
            bridge = await create_bridge(
                connection_manager=manager,
                orchestrator=ReferenceOrchestrator(),
                backend=RedisBackend(url, key_prefix=redis_prefix, **redis_options),
            )
            manager.bridge = bridge
            stack.push_async_callback(bridge.close)
            return bridge, manager

        yield make


def seqs(messages: list[dict[str, Any]]) -> list[int]:
    return [m["seq"] for m in messages]


@pytest.mark.asyncio
async def test_an_event_emitted_on_one_node_reaches_a_client_on_another_in_order(
    redis_server: RedisServer, make_node: NodeFactory
) -> None:
    (bridge_a, manager_a), (_, manager_b) = [await make_node(redis_server.url) for _ in "ab"]
    client_b = await manager_b.connect("thread_multi_node")
    run_id = generate_run_id("thread_multi_node")
    receipts = [await bridge_a.notify_agent_started(run_id, "planner")]
    for step in range(1, 4):
        receipts.append(await bridge_a.notify_agent_thinking(run_id, "planner", f"s{step}"))
    receipts.append(await bridge_a.notify_agent_completed(run_id, "planner"))
    got = await client_b.wait_for(5, timeout=WAIT)
    assert seqs(got) == [1, 2, 3, 4, 5]
    assert [m["type"] for m in got][::4] == ["agent_started", "agent_completed"]
    # Node A has no connection of the thread: its receipts say so (stored, buffered here).
    assert [r.delivered for r in receipts] == [False] * 5
    assert manager_a.deliveries == []


@pytest.mark.asyncio
async def test_concurrent_emits_on_two_nodes_reach_every_client_once_in_order(
    redis_server: RedisServer, make_node: NodeFactory
) -> None:
    nodes = [await make_node(redis_server.url) for _ in "ab"]
    clients = [await manager.connect("t_busy") for _, manager in nodes]
    run_a, run_b = generate_run_id("t_busy"), generate_run_id("t_busy")

    async def emit(bridge: AgentWebSocketBridge, run_id: str) -> list[bool]:
        out = []
        for step in range(15):
            out.append((await bridge.notify_custom(run_id, "agent", {"n": step})).delivered)
        return out

    receipts = await asyncio.gather(emit(nodes[0][0], run_a), emit(nodes[1][0], run_b))
    for client in clients:
        assert seqs(await client.wait_for(30, timeout=WAIT)) == list(range(1, 31))
    # Every event was taken by a connection on its own node, and the receipt says so.
    assert receipts == [[True] * 15, [True] * 15]


@pytest.mark.asyncio
async def test_a_direct_send_into_a_fresh_gate_does_not_overtake_an_earlier_remote_event(
    redis_server: RedisServer, make_node: NodeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    (bridge_a, _), (bridge_b, manager_b) = [await make_node(redis_server.url) for _ in "ab"]
    fanout_b = fanout_of(bridge_b)
    real, real_send = fanout_b._on_wakeup, fanout_b.send_to_thread
    held: list[dict[str, Any]] = []
    direct_send_started = asyncio.Event()

    async def send(thread_id: str, message: dict[str, Any]) -> bool:
        direct_send_started.set()
        return await real_send(thread_id, message)

    async def late(item: dict[str, Any]) -> None:
        # Node A's wake-up for seq 1 is still in flight when node B stores seq 2 and sends it.
        if item.get("type") == "message" and '"s":1' in item["data"] and not held:
            held.append(item)
            return
        if held and '"s":2' in item["data"]:
            await asyncio.wait_for(direct_send_started.wait(), WAIT)
            await real(held[0])
        await real(item)

    monkeypatch.setattr(fanout_b, "send_to_thread", send)
    monkeypatch.setattr(fanout_b, "_on_wakeup", late)
    client = await manager_b.connect("t_late")
    run_id = generate_run_id("t_late")
    assert not await bridge_a.notify_custom(run_id, "agent", {"n": 0})
    receipt = await bridge_b.notify_custom(run_id, "agent", {"n": 1})
    assert seqs(await client.wait_for(2, timeout=WAIT)) == [1, 2]
    assert held
    assert receipt.delivered


@pytest.mark.asyncio
async def test_a_lost_wakeup_is_filled_from_the_stream(
    redis_server: RedisServer, make_node: NodeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    (bridge_a, _), (bridge_b, manager_b) = [await make_node(redis_server.url) for _ in "ab"]
    fanout_b = fanout_of(bridge_b)
    real = fanout_b._on_wakeup
    dropped: list[dict[str, Any]] = []

    async def lossy(item: dict[str, Any]) -> None:
        if item.get("type") == "message" and '"s":2' in item["data"] and not dropped:
            dropped.append(item)  # pub/sub is at-most-once: this one never arrives
            return
        await real(item)

    monkeypatch.setattr(fanout_b, "_on_wakeup", lossy)
    client = await manager_b.connect("t_gap")
    run_id = generate_run_id("t_gap")
    for step in range(3):
        await bridge_a.notify_custom(run_id, "agent", {"n": step})
    assert seqs(await client.wait_for(3, timeout=WAIT)) == [1, 2, 3]
    assert dropped
    assert fanout_b.gaps_filled == 1


@pytest.mark.asyncio
async def test_a_client_drops_and_resumes_on_the_other_node_without_gap_or_duplicate(
    redis_server: RedisServer, make_node: NodeFactory
) -> None:
    (bridge_a, manager_a), (bridge_b, manager_b) = [await make_node(redis_server.url) for _ in "ab"]
    run_id = generate_run_id("t_move")
    client = await manager_b.connect("t_move")
    for step in range(3):
        await bridge_a.notify_custom(run_id, "agent", {"n": step})
    await client.wait_for(3, timeout=WAIT)
    await client.close()
    for step in range(3, 5):  # nobody connected anywhere: stored, not delivered
        assert not await bridge_b.notify_custom(run_id, "agent", {"n": step})
    resumed = await manager_a.connect("t_move", last_seq=client.last_seq)
    await bridge_b.notify_custom(run_id, "agent", {"n": 5})
    got = await resumed.wait_for(3, timeout=WAIT)
    assert seqs(got) == [4, 5, 6]
    assert [m["payload"]["n"] for m in got] == [3, 4, 5]


@pytest.mark.asyncio
async def test_redis_restart_means_resync_for_lost_history_and_delivery_continues(
    own_redis_server: RedisServer, make_node: NodeFactory
) -> None:
    (bridge_a, _), (bridge_b, manager_b) = [await make_node(own_redis_server.url) for _ in "ab"]
    client = await manager_b.connect("t_restart")
    run_id = generate_run_id("t_restart")
    first = await bridge_a.notify_custom(run_id, "agent", {"n": 0})
    await client.wait_for(1, timeout=WAIT)

    own_redis_server.restart()  # every key is gone
    await asyncio.wait_for(
        fanout_of(bridge_b).wait_subscribed(2), WAIT
    )  # node B resubscribed by itself

    after = await bridge_a.notify_custom(run_id, "agent", {"n": 1})
    assert after.seq == 1
    assert after.epoch != first.epoch
    got = await client.wait_for(2, timeout=WAIT)
    assert (got[1]["seq"], got[1]["epoch"]) == (1, after.epoch)
    with pytest.raises(ResyncRequired, match="epoch changed"):
        await bridge_b.replay("t_restart", first.seq, first.epoch)


@pytest.mark.asyncio
async def test_redis_down_makes_notify_raise_within_the_bound_and_nothing_is_delivered(
    own_redis_server: RedisServer, make_node: NodeFactory
) -> None:
    options = {"attempts": 2, "timeout": 0.3, "retry_delay": 0.02}
    (bridge_a, manager_a), (bridge_b, manager_b) = [
        await make_node(own_redis_server.url, **options) for _ in "ab"
    ]
    local, remote = await manager_a.connect("t_down"), await manager_b.connect("t_down")
    run_id = generate_run_id("t_down")
    await bridge_a.notify_custom(run_id, "agent", {"n": 0})
    await remote.wait_for(1, timeout=WAIT)

    own_redis_server.stop()
    started = time.monotonic()
    with pytest.raises(BackendUnavailableError):
        await bridge_a.notify_custom(run_id, "agent", {"n": 1})
    max_wait = fanout_of(bridge_a).backend.max_wait
    assert time.monotonic() - started <= max_wait + SLACK
    assert bridge_a.metrics.emitted == bridge_a.metrics.delivered == 1
    assert seqs(local.messages) == seqs(remote.messages) == [1]

    own_redis_server.start()
    await asyncio.wait_for(fanout_of(bridge_b).wait_subscribed(2), WAIT)
    receipt = await bridge_a.notify_custom(run_id, "agent", {"n": 2})
    assert receipt.delivered
    assert (await remote.wait_for(2, timeout=WAIT))[1]["seq"] == receipt.seq


@pytest.mark.asyncio
async def test_a_bridge_on_an_unreachable_redis_does_not_start() -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    with pytest.raises(BackendUnavailableError, match="unavailable"):
        await create_bridge(
            connection_manager=ConnectionManager(),
            orchestrator=ReferenceOrchestrator(),
            backend=RedisBackend(dead, attempts=2, timeout=0.2),
        )
    with pytest.raises(BackendUnavailableError, match="unavailable"):
        await create_bridge(
            connection_manager=ConnectionManager(),
            orchestrator=ReferenceOrchestrator(),
            backend=dead,
        )
    with (
        pytest.warns(DeprecationWarning, match="deprecated"),
        pytest.raises(ValueError, match="redis_url"),
    ):
        await create_bridge(
            connection_manager=ConnectionManager(),
            orchestrator=ReferenceOrchestrator(),
            redis_options={"attempts": 2},
        )


@pytest.mark.asyncio
async def test_the_deprecated_redis_url_still_builds_a_node_and_says_what_to_use(
    redis_server: RedisServer, redis_prefix: str
) -> None:
    with pytest.warns(DeprecationWarning, match=r"backend=RedisBackend\(url"):
        bridge = await create_bridge(
            connection_manager=ConnectionManager(),
            orchestrator=ReferenceOrchestrator(),
            redis_url=redis_server.url,
            redis_options={"key_prefix": redis_prefix, "attempts": 2},
        )
    try:
        assert isinstance(bridge.backend, RedisBackend)
        assert (bridge.backend.key_prefix, bridge.backend.attempts) == (redis_prefix, 2)
        assert fanout_of(bridge).connected
    finally:
        await bridge.close()


@pytest.mark.asyncio
async def test_a_node_reads_what_it_missed_while_resubscribing(
    redis_server: RedisServer, make_node: NodeFactory
) -> None:
    (bridge_a, _), (bridge_b, manager_b) = [await make_node(redis_server.url) for _ in "ab"]
    fanout_b = fanout_of(bridge_b)
    client = await manager_b.connect("t_catch_up")
    run_id = generate_run_id("t_catch_up")
    await bridge_a.notify_custom(run_id, "agent", {"n": 0})
    await client.wait_for(1, timeout=WAIT)

    fanout_b.reconnect_delay = 0.5  # a window in which node B hears no wake-up
    redis = fanout_b.backend.redis
    await redis.client_kill_filter(_type="pubsub")  # every subscriber connection drops
    await bridge_a.notify_custom(run_id, "agent", {"n": 1})  # published to nobody on B
    await asyncio.wait_for(fanout_b.wait_subscribed(2), WAIT)
    got = await client.wait_for(2, timeout=WAIT)
    assert [(m["seq"], m["payload"]["n"]) for m in got] == [(1, 0), (2, 1)]


@pytest.mark.asyncio
async def test_a_fanout_that_cannot_subscribe_says_so() -> None:
    from reference_impl.backends.redis import RedisBackend

    backend = RedisBackend(f"redis://127.0.0.1:{free_port()}/0", attempts=1, timeout=0.2)
    fanout = RedisFanout(backend, ConnectionManager())
    try:
        with pytest.raises(BackendUnavailableError, match="could not subscribe"):
            await fanout.start()
        assert not fanout.connected
    finally:
        await fanout.close()
        await backend.close()


@pytest.mark.asyncio
async def test_a_failing_connection_manager_does_not_stop_the_fanout(
    redis_server: RedisServer, make_node: NodeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    (bridge_a, _), (bridge_b, manager_b) = [await make_node(redis_server.url) for _ in "ab"]
    fanout_b = fanout_of(bridge_b)
    client = await manager_b.connect("t_faulty")
    run_id = generate_run_id("t_faulty")
    await bridge_a.notify_custom(run_id, "agent", {"n": 0})
    await client.wait_for(1, timeout=WAIT)

    real_catch_up = fanout_b._catch_up
    failures: list[str] = []

    async def fails_once() -> None:
        if not failures:
            failures.append("catch-up")
            raise RuntimeError("a connection manager bug")
        await real_catch_up()

    monkeypatch.setattr(fanout_b, "_catch_up", fails_once)
    await fanout_b.backend.redis.client_kill_filter(_type="pubsub")
    await asyncio.wait_for(
        fanout_b.wait_subscribed(3), WAIT
    )  # resubscribed, failed, resubscribed again
    assert failures == ["catch-up"]
    await bridge_a.notify_custom(run_id, "agent", {"n": 1})
    got = await client.wait_for(2, timeout=WAIT)
    assert [m["payload"]["n"] for m in got] == [0, 1]
