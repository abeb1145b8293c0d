"""The reference client against the real server: resume, duplicates, resync, back-off."""

from __future__ import annotations

import asyncio
import base64
import json
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from server_support import TIMEOUT, raw, recv, running_stack, subscribe
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from reference_impl.client import BridgeClient, ConnectionLost
from reference_impl.exceptions import ProtocolError, ResyncRequired
from reference_impl.protocol import CloseCode


def abort(client: BridgeClient) -> None:
    """Break the client's TCP connection without a close frame."""
    assert client._ws is not None
    client._ws.transport.abort()


async def read_until_closed(ws: ClientConnection) -> tuple[int, ConnectionClosed]:
    """Read events until the server closes ``ws``; return how many and the closure."""
    got = 0
    while True:
        try:
            message = await recv(ws)
        except ConnectionClosed as exc:
            return got, exc
        got += message.get("type") != "subscribed"


async def receive_seqs(client: BridgeClient, count: int) -> list[int]:
    return [(await client.receive(timeout=TIMEOUT))["seq"] for _ in range(count)]


@pytest.mark.asyncio
async def test_resume_after_an_abrupt_drop_gets_the_events_emitted_meanwhile() -> None:
    async with running_stack() as stack:
        seen: list[int] = []
        client = BridgeClient(
            stack.server.url,
            thread_id="alice-1",
            token="token-alice",
            on_event=lambda event: seen.append(event["seq"]),
        )
        async with client:
            await stack.emit("alice-1", 3)
            assert await receive_seqs(client, 3) == [1, 2, 3]
            abort(client)
            await stack.emit("alice-1", 5)  # emitted while the client is gone
            assert await receive_seqs(client, 5) == [4, 5, 6, 7, 8]
            assert client.connects == 2
            assert client.last_seq == 8
            assert client.epoch == (await stack.bridge.backend.head("alice-1")).epoch
        assert seen == list(range(1, 9))


@pytest.mark.asyncio
async def test_resume_while_events_keep_flowing() -> None:
    total = 400
    async with (
        running_stack() as stack,
        BridgeClient(stack.server.url, thread_id="alice-1", token="token-alice") as c,
    ):

        async def produce() -> None:
            for _ in range(total):
                await stack.emit("alice-1")
                await asyncio.sleep(0.001)  # pacing, so drops land mid-stream

        producer = asyncio.ensure_future(produce())
        got: list[int] = []
        rng = random.Random(7)
        while len(got) < total:
            got.append((await c.receive(timeout=TIMEOUT))["seq"])
            if rng.random() < 0.03 and c._ws is not None:
                abort(c)
        await producer
        assert got == list(range(1, total + 1))
        assert c.connects > 3


@pytest.mark.asyncio
async def test_a_fresh_client_starts_at_the_head_and_resumes_from_there() -> None:
    async with running_stack() as stack:
        await stack.emit("alice-1", 4)
        async with BridgeClient(stack.server.url, thread_id="alice-1", token="token-alice") as c:
            assert (c.last_seq, c.head_seq) == (4, 4)
            abort(c)
            await stack.emit("alice-1", 2)
            assert await receive_seqs(c, 2) == [5, 6]


@pytest.mark.asyncio
async def test_last_seq_zero_replays_everything_kept() -> None:
    async with running_stack() as stack:
        await stack.emit("alice-1", 3)
        client = BridgeClient(
            stack.server.url, thread_id="alice-1", token="token-alice", last_seq=0
        )
        async with client:
            assert [event["seq"] async for event in _take(client, 3)] == [1, 2, 3]


async def _take(client: BridgeClient, count: int):  # type: ignore[no-untyped-def]
    async for event in client:
        yield event
        count -= 1
        if count == 0:
            return


@pytest.mark.asyncio
async def test_duplicates_from_the_server_are_dropped_by_seq() -> None:
    async with (
        running_stack() as stack,
        BridgeClient(stack.server.url, thread_id="alice-1", token="token-alice") as c,
    ):
        await stack.emit("alice-1", 2)
        # a bridge that repeats itself (e.g. pub/sub redelivery)
        message = (await stack.bridge.replay("alice-1", 0))[0]
        await stack.manager.send_to_thread("alice-1", message)
        await stack.emit("alice-1")
        assert await receive_seqs(c, 3) == [1, 2, 3]


@pytest.mark.asyncio
async def test_server_restart_with_the_memory_backend_raises_resync_required() -> None:
    async with running_stack() as first:
        port = first.server.port
        client = BridgeClient(
            first.server.url, thread_id="alice-1", token="token-alice", backoff_initial=0.01
        )
        await client.connect()
        await first.emit("alice-1", 3)
        assert await receive_seqs(client, 3) == [1, 2, 3]
        old_epoch = client.epoch
    async with running_stack(port=port) as second:
        await second.emit("alice-1", 2)
        new = await second.bridge.backend.head("alice-1")
        with pytest.raises(ResyncRequired) as caught:
            await client.receive(timeout=TIMEOUT)
        assert (caught.value.epoch, caught.value.head_seq) == (new.epoch, 2)
        assert caught.value.epoch != old_epoch
        # continues from the new head in the new epoch
        await second.emit("alice-1")
        assert await client.receive(timeout=TIMEOUT) == {
            **(await second.bridge.replay("alice-1", 2))[0]
        }
        assert client.epoch == new.epoch
        await client.close()


@pytest.mark.asyncio
async def test_resubscribe_after_resync_can_replay_the_new_epoch_from_zero() -> None:
    async with running_stack() as stack:
        await stack.emit("alice-1", 2)
        client = BridgeClient(
            stack.server.url, thread_id="alice-1", token="token-alice", last_seq=1, epoch="old"
        )
        with pytest.raises(ResyncRequired):
            await client.connect()
        await client.resubscribe(0, client.epoch)
        assert await receive_seqs(client, 2) == [1, 2]
        await client.close()


@pytest.mark.asyncio
async def test_a_refused_thread_is_final() -> None:
    async with running_stack() as stack:
        client = BridgeClient(stack.server.url, thread_id="bob-1", token="token-alice")
        with pytest.raises(ProtocolError) as caught:
            await client.receive(timeout=TIMEOUT)
        assert caught.value.code == "forbidden"
        with pytest.raises(ConnectionLost):
            await client.receive(timeout=TIMEOUT)
        await client.close()
        assert [event async for event in client] == []


@pytest.mark.asyncio
async def test_an_invalid_resume_point_is_raised() -> None:
    async with running_stack() as stack:
        client = BridgeClient(
            stack.server.url, thread_id="alice-1", token="token-alice", last_seq=9
        )
        with pytest.raises(ProtocolError) as caught:
            await client.connect()
        assert caught.value.code == "invalid_resume_point"
        await client.close()


@pytest.mark.asyncio
async def test_connection_attempts_are_bounded_with_back_off() -> None:
    async with running_stack() as stack:
        url = stack.server.url
    client = BridgeClient(
        url, thread_id="alice-1", max_attempts=3, backoff_initial=0.001, open_timeout=1.0
    )
    with pytest.raises(ConnectionLost, match="after 3 attempts"):
        await client.receive(timeout=TIMEOUT)
    assert client._backoff(1) <= 0.001
    assert 0.002 <= client._backoff(2) * 2 <= 0.004
    assert client._backoff(40) <= client.backoff_max
    await client.close()


@pytest.mark.asyncio
async def test_receive_times_out_instead_of_hanging() -> None:
    async with (
        running_stack() as stack,
        BridgeClient(stack.server.url, thread_id="alice-1", token="token-alice") as c,
    ):
        with pytest.raises(TimeoutError, match=r"within 0\.05s"):
            await c.receive(timeout=0.05)
        await stack.emit("alice-1")
        assert (await c.receive())["seq"] == 1


@pytest.mark.asyncio
async def test_the_client_resumes_after_a_server_going_away() -> None:
    async with running_stack() as stack, raw(stack.server.url) as ws:
        await subscribe(ws, "alice-1")
        await stack.emit("alice-1")
        assert (await recv(ws))["seq"] == 1


@pytest.mark.asyncio
async def test_a_slow_client_is_closed_while_the_others_finish_then_resumes() -> None:
    total = 400
    # incompressible, ~8 MB in all: more than the socket buffers between server and client hold
    big = base64.b64encode(random.Random(1).randbytes(15_000)).decode()
    async with running_stack(max_queue=20, compression=None) as stack:
        progress = asyncio.Event()
        counts = [0, 0, 0]

        def counter(index: int) -> Callable[[dict[str, Any]], None]:
            def on_event(event: dict[str, Any]) -> None:
                counts[index] = event["seq"]
                progress.set()

            return on_event

        fast = [
            BridgeClient(
                stack.server.url, thread_id="alice-1", token="token-alice", on_event=counter(i)
            )
            for i in range(3)
        ]
        for client in fast:
            await client.connect()
        # the slow one subscribes, then reads nothing while the events flow
        async with raw(stack.server.url, max_size=None) as slow:
            await subscribe(slow, "alice-1")

            async def drain(client: BridgeClient) -> list[int]:
                return await receive_seqs(client, total)

            readers = [asyncio.ensure_future(drain(client)) for client in fast]
            for seq in range(1, total + 1):
                await stack.emit("alice-1", blob=big)
                # the fast readers keep up (within 10 events): nothing stalls them
                while min(counts) < seq - 10:
                    progress.clear()
                    await asyncio.wait_for(progress.wait(), TIMEOUT)
            results = await asyncio.wait_for(asyncio.gather(*readers), 30)
            assert all(seqs == list(range(1, total + 1)) for seqs in results)
            assert stack.bridge.metrics.dropped_slow_clients == 1
            got, closed = await read_until_closed(slow)
            assert got < total
            assert closed.rcvd is None or closed.rcvd.code == CloseCode.SLOW_CONSUMER
        # it recovers by resuming
        async with BridgeClient(
            stack.server.url, thread_id="alice-1", token="token-alice", last_seq=got
        ) as resumed:
            assert await receive_seqs(resumed, total - got) == list(range(got + 1, total + 1))
        for client in fast:
            await client.close()


# -- against a scripted server: what the reference server never does -----------------------

RECV = "<recv>"


@asynccontextmanager
async def scripted(*scripts: list[Any]) -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A server playing one script per connection: frames to send, RECV, or a close code."""
    plays = iter(scripts)
    received: list[dict[str, Any]] = []

    async def handler(ws: ServerConnection) -> None:
        received.append(json.loads(await ws.recv()))
        for action in next(plays):
            if action == RECV:
                received.append(json.loads(await ws.recv()))
            elif isinstance(action, int):
                await ws.close(action)
                return
            else:
                await ws.send(action if isinstance(action, str) else json.dumps(action))
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}", received


def ok(head: int = 0, epoch: str = "e1") -> dict[str, Any]:
    return {
        "type": "subscribed",
        "thread_id": "t",
        "epoch": epoch,
        "head_seq": head,
        "recovered": 0,
    }


def ev(seq: int, epoch: str = "e1") -> dict[str, Any]:
    return {"type": "custom", "thread_id": "t", "seq": seq, "epoch": epoch}


@pytest.mark.asyncio
async def test_a_gap_from_the_server_makes_the_client_resume() -> None:
    async with (
        scripted(
            [{"type": "authenticated", "user_id": "u"}, ok(), ev(1), ev(3)],
            [ok(1), ev(2), ev(3)],
        ) as (url, received),
        BridgeClient(url, thread_id="t") as client,
    ):
        assert await receive_seqs(client, 3) == [1, 2, 3]
        assert client.gaps == 1
    assert received[1] == {"type": "subscribe", "thread_id": "t", "last_seq": 1, "epoch": "e1"}


@pytest.mark.asyncio
async def test_resync_mid_stream_is_raised_then_the_client_continues_from_the_new_head() -> None:
    resync = {"type": "resync_required", "thread_id": "t", "epoch": "e2", "head_seq": 5}
    async with (
        scripted([ok(), {"type": "pong"}, ev(1), resync, RECV, ok(5, "e2"), ev(6, "e2")]) as (
            url,
            received,
        ),
        BridgeClient(url, thread_id="t") as client,
    ):
        assert await receive_seqs(client, 1) == [1]
        with pytest.raises(ResyncRequired) as caught:
            await client.receive(timeout=TIMEOUT)
        assert (caught.value.epoch, caught.value.head_seq) == ("e2", 5)
        assert await receive_seqs(client, 1) == [6]
    assert received[1]["last_seq"] == 5
    assert received[1]["epoch"] == "e2"


@pytest.mark.asyncio
async def test_going_away_is_retried_and_unauthorized_is_final() -> None:
    async with scripted([ok(), ev(1), 1001], [ok(1), ev(2), 4001]) as (url, received):
        client = BridgeClient(url, thread_id="t")
        assert await receive_seqs(client, 2) == [1, 2]
        with pytest.raises(ConnectionLost) as caught:
            await client.receive(timeout=TIMEOUT)
        assert caught.value.close_code == 4001
        assert client.close_code == 4001
        await client.close()
    assert [frame.get("last_seq") for frame in received] == [None, 1]


@pytest.mark.asyncio
async def test_a_refusal_while_subscribing_is_final() -> None:
    async with scripted([1008]) as (url, _):
        client = BridgeClient(url, thread_id="t")
        with pytest.raises(ConnectionLost, match="1008"):
            await client.connect()
        await client.close()


@pytest.mark.asyncio
@pytest.mark.parametrize("junk", ["not json", "[1]"])
async def test_junk_from_the_server_is_a_protocol_error(junk: str) -> None:
    async with scripted([ok(), junk]) as (url, _), BridgeClient(url, thread_id="t") as client:
        with pytest.raises(ProtocolError):
            await client.receive(timeout=TIMEOUT)


@pytest.mark.asyncio
@pytest.mark.parametrize("quirk", [EOFError, AssertionError])
async def test_websockets_13_eof_quirks_count_as_a_lost_connection(quirk: type) -> None:
    async with (
        running_stack() as stack,
        BridgeClient(stack.server.url, thread_id="alice-1", token="token-alice") as c,
    ):
        await stack.emit("alice-1")
        assert await receive_seqs(c, 1) == [1]
        assert c._ws is not None

        async def broken(*args: Any) -> str:
            raise quirk("stream of frames ended")

        c._ws.recv = broken  # type: ignore[method-assign]
        await stack.emit("alice-1")
        assert await receive_seqs(c, 1) == [2]
        assert c.connects == 2
