"""``wsbridge serve`` from outside: a subprocess driven over loopback by a bare client.

Events come from the server's own demo agent (``--demo-runs N`` then ``demo done``); what was
stored is read back by a fresh resume from ``last_seq=0``, and every client's events must equal
it exactly: each event once, in order, no gap, no duplicate, never a silent jump of epoch.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import json
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from e2e_support import (
    TIMEOUT,
    Dropped,
    Follower,
    Served,
    abort,
    client,
    close_code,
    probe,
    recv,
    send,
    stored,
    subscribe,
    until_closed,
)
from websockets.exceptions import ConnectionClosed

Serve = Callable[..., Served]
#: The demo agent's user and an intruder.
USERS = ("--token", "td=demo", "--token", "tm=mallory")


def test_the_client_side_shares_no_code_with_the_server() -> None:
    for path in Path(__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {
            name.split(".")[0]
            for node in ast.walk(tree)
            for name in (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
        }
        assert not imported & {"reference_impl", "pytest_wsbridge", "server_support"}, path


@pytest.mark.asyncio
async def test_a_reconnect_storm_with_abrupt_drops_loses_and_repeats_nothing(serve: Serve) -> None:
    server = serve(
        *USERS,
        *("--demo", "--demo-thread", "storm", "--demo-runs", "30", "--demo-interval", "0.05"),
    )
    done = asyncio.ensure_future(server.await_line(r"demo done: 30 runs"))
    followers = [Follower(server.url, "td", "storm") for _ in range(8)]
    drops = [0] * len(followers)

    async def storm(index: int) -> None:
        follower, rng = followers[index], random.Random(index)
        while True:  # at least one drop each, however late this task starts
            async with client(server.url, "td") as ws:
                assert await follower.open(ws)
                with contextlib.suppress(asyncio.TimeoutError):  # quiet: drop anyway
                    await follower.read(ws, rng.randint(1, 12), timeout=0.5)
                abort(ws)  # no close frame: the TCP connection just goes away
                drops[index] += 1
            if done.done():
                return

    await asyncio.wait_for(asyncio.gather(*(storm(i) for i in range(len(followers)))), 120)
    _, log = await stored(server.url, "td", "storm")
    assert len(log) == 30 * 6
    for follower in followers:
        await follower.follow_until(len(log))
        assert follower.events == log
        assert follower.resyncs == []
    assert min(drops) >= 1
    assert sum(f.connections for f in followers) > len(followers)
    await done


@pytest.mark.asyncio
async def test_other_users_get_nothing_of_a_thread_not_theirs(serve: Serve) -> None:
    server = serve(*USERS, "--demo", "--demo-thread", "secret", "--demo-runs", "3")
    await server.await_line("demo run")
    owner = Follower(server.url, "td", "secret")
    follow = asyncio.ensure_future(owner.follow_until(18))
    looks = ["secret ", "Secret", "SECRET", "s\u0435cret", "../secret", "secret/..", "secret\x00"]
    for thread_id in ["secret", *looks]:
        async with client(server.url, "tm") as ws:
            answer = await subscribe(ws, thread_id, last_seq=0)
            assert (answer["type"], answer["code"], answer["thread_id"]) == (
                "error",
                "forbidden",
                thread_id,
            )
            assert await close_code(ws) == 1008
    async with client(server.url, "tm") as ws:
        # an auth frame cannot switch users once the header authenticated the connection
        await send(ws, {"type": "auth", "token": "td"})
        assert await recv(ws) == {"type": "authenticated", "user_id": "mallory"}
        assert (await subscribe(ws, "secret", last_seq=0))["code"] == "forbidden"
        assert await close_code(ws) == 1008
    for token in ("nope", None):
        async with client(server.url, token) as ws:
            if token is None:
                await send(ws, {"type": "auth", "token": "td "})
            assert (await recv(ws))["code"] == "unauthorized"
            assert await close_code(ws) == 4001
    await asyncio.wait_for(follow, TIMEOUT)
    assert owner.events == (await stored(server.url, "td", "secret"))[1]


@pytest.mark.asyncio
async def test_an_early_subscriber_is_closed_when_the_owner_claims_the_thread(
    serve: Serve,
) -> None:
    server = serve(
        *USERS,
        "--allow-unowned",
        *("--demo", "--demo-thread", "claimed", "--demo-runs", "2", "--demo-delay", "2"),
    )
    async with client(server.url, "tm") as ws:
        await send(ws, {"type": "subscribe", "thread_id": "claimed", "last_seq": 0})
        frames, code = await until_closed(ws)
    assert code == 1008
    # subscribed while nobody owned it (the demo waits 2 s), then closed by the claim
    assert [f["type"] for f in frames] in (["subscribed", "error"], ["error"])
    assert (frames[-1]["code"], frames[-1]["thread_id"]) == ("forbidden", "claimed")
    await server.await_line("demo done: 2 runs")
    assert len((await stored(server.url, "td", "claimed"))[1]) == 12


def hostile_frames(rng: random.Random) -> list[str | bytes]:
    """Malformed input of every kind the server must answer with an error or a close."""
    fields = {
        "subscribe": ["thread_id", "last_seq", "epoch"],
        "unsubscribe": ["thread_id"],
        "ping": ["id"],
        "auth": ["token"],
    }
    odd_values = [
        "\\udfff",
        "\\ud800x",
        "a\\u0000b",
        "\\u001b[31m",
        "\u202e",
        "x" * 2000,
        10**40,
        -(10**40),
        -1,
        1.5,
        "1e999",
        True,
        None,
        [],
        {},
    ]
    frames: list[str | bytes] = [
        "[" * 1000 + "]" * 1000,
        '{"type": "ping", "id": "\\udfff"}',
        '{"type": "subscribe", "thread_id": "demo-thread", "last_seq": 1e999}',
        '{"type": "ping", "id": NaN}',
        '{"type": "ping", "id": ' + "9" * 5000 + "}",
        '{"type": "ping", "id": ' + "[" * 5000 + "]" * 5000 + "}",
        '{"type": "ping"',
        "",
        "null",
        '"ping"',
        "[]",
        '{"type": {"type": "ping"}}',
        '{"\\udfff": 1, "type": "ping"}',
    ]
    for kind, names in fields.items():
        for name in names:
            for value in odd_values:
                text = value if isinstance(value, str) and value.startswith("1e") else None
                literal = text or json.dumps(value)
                if isinstance(value, str) and "\\u" in value:
                    literal = f'"{value}"'
                frames.append(f'{{"type": "{kind}", "{name}": {literal}}}')
    for _ in range(40):
        frames.append("".join(chr(rng.randrange(0x20, 0x2FF)) for _ in range(rng.randint(1, 40))))
        depth = rng.randint(1, 3000)
        frames.append('{"type": "ping", "id": ' + "{" + '"a":{' * depth + "}" * depth + "}")
    frames += [b"\x00binary", "x" * (70 * 1024)]  # 1003 and 1009: the connection is closed
    rng.shuffle(frames)
    return frames


@pytest.mark.asyncio
async def test_malformed_frames_get_errors_and_documented_closes_never_1011(
    serve: Serve,
) -> None:
    server = serve(
        *USERS,
        *("--demo", "--demo-thread", "side", "--demo-runs", "10", "--demo-interval", "0.1"),
    )
    side = Follower(server.url, "td", "side")
    following = asyncio.ensure_future(side.follow_until(60, timeout=120))
    closes: list[int | None] = []
    answers: dict[str, int] = {}
    frames = hostile_frames(random.Random(5))

    async def fuzz() -> None:
        pending = list(frames)
        while pending:
            async with client(server.url, "tm") as ws:
                try:
                    while pending:
                        await send(ws, pending.pop())
                        for frame in await probe(ws, f"p{len(pending)}"):
                            kind = frame["type"]
                            answers[kind] = answers.get(kind, 0) + 1
                            assert kind in ("error", "authenticated", "pong"), frame
                            if kind == "error":
                                assert frame["code"] != "internal_error", frame
                except ConnectionClosed as exc:
                    closes.append(exc.rcvd.code if exc.rcvd is not None else None)

    await asyncio.wait_for(fuzz(), 120)
    await asyncio.wait_for(following, 120)
    assert side.events == (await stored(server.url, "td", "side"))[1]
    assert set(closes) <= {1003, 1008, 1009}, closes
    assert 1003 in closes
    assert 1009 in closes
    assert answers["error"] > len(frames) // 2
    assert server.tracebacks() == []


@pytest.mark.asyncio
async def test_a_slow_consumer_is_closed_4008_then_resumes_completely(serve: Serve) -> None:
    server = serve(
        *USERS,
        "--max-queue",
        "16",
        *("--demo", "--demo-thread", "flood", "--demo-runs", "400", "--demo-interval", "0"),
        *("--demo-delay", "1", "--owner", "flood=demo", "--demo-padding", "8000"),
    )
    slow = Follower(server.url, "td", "flood")
    async with client(server.url, "td", tiny_buffers=True) as ws:
        assert await slow.open(ws)
        await slow.read(ws, 3)
        await server.await_line("demo done: 400 runs", timeout=120)  # not reading meanwhile
        with pytest.raises(Dropped) as dropped:
            await slow.read(ws, None)
    assert dropped.value.code == 4008
    got_before_close = len(slow.events)
    epoch, log = await stored(server.url, "td", "flood")
    assert len(log) == 400 * 6
    assert got_before_close < len(log)
    await slow.follow_until(len(log), timeout=120)
    assert slow.events == log
    assert slow.epoch == epoch


@pytest.mark.asyncio
async def test_a_server_restart_means_resync_required_never_a_silent_gap(serve: Serve) -> None:
    demo = ("--demo", "--demo-thread", "r", "--demo-interval", "0")
    first = serve(*USERS, *demo, "--demo-runs", "2")
    await first.await_line("demo done: 2 runs")
    follower = Follower(first.url, "td", "r")
    await follower.follow_until(12)
    old_epoch = follower.epoch

    # a graceful stop: the live connection is told 1001 (going away)
    async with client(first.url, "td") as ws:
        assert await follower.open(ws)
        assert first.stop() == 0
        with pytest.raises(Dropped) as dropped:
            await follower.read(ws, None)
    assert dropped.value.code == 1001

    # the restarted server has a new log (memory backend: a new epoch), empty for 2 s
    second = serve(
        *USERS, *demo, "--demo-runs", "1", "--demo-delay", "2", "--owner", "r=demo", port=first.port
    )
    async with client(second.url, "td") as ws:
        assert not await follower.open(ws)
    [resync] = follower.resyncs
    assert resync["thread_id"] == "r"
    assert resync["epoch"] != old_epoch
    await second.await_line("demo done: 1 runs")
    epoch, log = await stored(second.url, "td", "r")
    assert (len(log), epoch) == (6, resync["epoch"])
    await follower.follow_until(6)
    assert follower.events[12:] == log
    assert follower.epoch == epoch

    # a crash (SIGKILL): the connection just drops; the next server says resync again
    second.kill()
    third = serve(*USERS, *demo, "--demo-runs", "1", port=first.port)
    await third.await_line("demo done: 1 runs")
    async with client(third.url, "td") as ws:
        assert not await follower.open(ws)
    assert len(follower.resyncs) == 2
    assert follower.resyncs[1]["epoch"] not in (old_epoch, epoch)
    await follower.follow_until(6)
    assert follower.events[18:] == (await stored(third.url, "td", "r"))[1]
