"""Two ``wsbridge serve --redis`` nodes from outside, with Redis killed (``kill -9``) mid-stream.

Node A runs the demo agent; followers on both nodes resume across whatever happens. Killing
Redis loses every key (a new epoch), so each follower must either get every event or be told
(``resync_required``) and then get everything of the new epoch: never a silent gap, never a
jump to another epoch without being told, and in the end exactly what the log stores.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import pytest
from e2e_support import TIMEOUT, Dropped, Follower, Served, client, stored
from redis_server import RedisServer

Serve = Callable[..., Served]
THREAD = "rt"
RUNS = 40


async def keep_following(follower: Follower) -> None:
    """Follow for ever (until cancelled): reconnect after every close, resume, reload."""
    while True:
        try:
            async with client(follower.url, follower.token) as ws:
                if await follower.open(ws):
                    await follower.read(ws, None, timeout=3600)
        except (Dropped, OSError):
            await asyncio.sleep(0.2)  # a node without Redis closes with 1011: retry soon


async def caught_up(follower: Follower, epoch: str, head: int) -> None:
    await follower.wait_until(lambda f: (f.epoch, f.last_seq) == (epoch, head))


@pytest.mark.redis
@pytest.mark.asyncio
async def test_two_nodes_with_redis_killed_mid_stream_tell_or_deliver_everything(
    serve: Serve, own_redis_server: RedisServer
) -> None:
    common = ("--redis", own_redis_server.url, "--token", "td=demo", "--owner", f"{THREAD}=demo")
    node_a = serve(
        *common,
        *("--demo", "--demo-thread", THREAD, "--demo-runs", str(RUNS), "--demo-interval", "0.1"),
        "--demo-delay",
        "1",
    )
    node_b = serve(*common)
    followers = [Follower(node.url, "td", THREAD) for node in (node_a, node_b, node_a, node_b)]
    tasks = [asyncio.ensure_future(keep_following(f)) for f in followers]
    try:
        await node_a.await_line("demo run", timeout=TIMEOUT)
        await asyncio.wait_for(
            asyncio.gather(*(f.wait_until(lambda f: (f.last_seq or 0) >= 12) for f in followers)),
            TIMEOUT,
        )  # mid-stream: every follower has two runs' worth
        first_epoch = followers[0].epoch

        own_redis_server.kill()  # kill -9: every key is gone
        await asyncio.sleep(0.5)  # some demo events fail meanwhile, on node A
        own_redis_server.start()

        await node_a.await_line(f"demo done: {RUNS} runs", timeout=120)
        epoch, log = await stored(node_a.url, "td", THREAD)
        assert epoch != first_epoch
        assert (await stored(node_b.url, "td", THREAD)) == (epoch, log)
        assert log, "no event was stored after Redis came back"
        # every follower ends on the stored head of the new epoch: told, then given everything
        await asyncio.wait_for(
            asyncio.gather(*(caught_up(f, epoch, len(log)) for f in followers)), TIMEOUT
        )
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
    for follower in followers:
        assert follower.resyncs, "the epoch changed without a resync_required"
        assert follower.resyncs[-1]["epoch"] == epoch
        # Follower.take already failed on any gap or duplicate within an epoch, and on any
        # event of another epoch that came without a resync_required first
        assert follower.events[-len(log) :] == log
        before = follower.events[: -len(log)]
        assert [e["seq"] for e in before] == list(range(1, len(before) + 1))
        assert {e["epoch"] for e in before} == {first_epoch}
