"""The server's write fast path: events written at once when nothing waits, queued otherwise.

Both paths must keep every connection's stream complete and in seq order.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import pytest
from server_support import closed_code, raw, recv, running_stack, subscribe
from websockets.asyncio.client import ClientConnection
from websockets.protocol import State

from reference_impl import server as server_module
from reference_impl.protocol import CloseCode


@pytest.mark.asyncio
async def test_a_burst_beyond_the_write_buffer_arrives_complete_and_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: Counter[str] = Counter()
    transport = server_module._WebSocketTransport
    send_now, send_text = transport.send_now, transport.send_text

    def flaky_send_now(self: server_module._WebSocketTransport, text: str) -> bool:
        # Refuse every third write, as a transport whose buffer is full does; the session
        # must then queue and await, and the order must not change.
        calls["offered"] += 1
        if calls["offered"] % 3 == 0:
            calls["refused"] += 1
            return False
        taken = send_now(self, text)
        calls["now"] += taken
        return taken

    async def counting_send_text(self: server_module._WebSocketTransport, text: str) -> None:
        calls["awaited"] += 1
        await send_text(self, text)

    ready_now, write_many = transport.ready_now, transport.write_many

    def flaky_ready_now(self: server_module._WebSocketTransport) -> bool:
        # Every fifth offer of the thread broadcast finds the connection "backed up": that
        # event takes the per-connection path, the next ones the broadcast again.
        calls["ready"] += 1
        return calls["ready"] % 5 != 0 and ready_now(self)

    def counting_write_many(
        self: server_module._WebSocketTransport,
        transports: list[server_module._WebSocketTransport],
        text: str,
    ) -> list[object]:
        calls["broadcast"] += 1
        return write_many(self, transports, text)

    monkeypatch.setattr(transport, "send_now", flaky_send_now)
    monkeypatch.setattr(transport, "send_text", counting_send_text)
    monkeypatch.setattr(transport, "ready_now", flaky_ready_now)
    monkeypatch.setattr(transport, "write_many", counting_write_many)
    count = 2000
    async with running_stack(max_queue=count) as stack, raw(stack.server.url) as ws:
        assert (await subscribe(ws, "alice-1"))["type"] == "subscribed"
        await stack.emit("alice-1", count // 2)
        await asyncio.sleep(0)  # let the writer run between two bursts
        await stack.emit("alice-1", count // 2)
        seqs = [(await recv(ws))["seq"] for _ in range(count)]
        assert seqs == list(range(1, count + 1))
        assert stack.bridge.metrics.dropped_slow_clients == 0
    if transport.fast_writes:
        assert calls["now"] > 0, calls
        assert calls["broadcast"] > 0, calls
    else:  # Python 3.10: websockets cannot report a failed synchronous write
        assert calls["now"] == 0, calls
        assert calls["broadcast"] == 0, calls
    assert calls["refused"] > 0, calls
    assert calls["awaited"] > 0, calls


@pytest.mark.asyncio
async def test_a_control_frame_queued_first_keeps_its_place_before_live_events() -> None:
    async with running_stack() as stack, raw(stack.server.url) as ws:
        await stack.emit("alice-1", 3)
        await ws.send(json.dumps({"type": "subscribe", "thread_id": "alice-1", "last_seq": 0}))
        await stack.emit("alice-1", 2)
        first = await recv(ws)
        assert first["type"] == "subscribed"
        assert [(await recv(ws))["seq"] for _ in range(5)] == [1, 2, 3, 4, 5]


async def _seqs(ws: ClientConnection, count: int) -> list[int]:
    return [(await recv(ws))["seq"] for _ in range(count)]


@pytest.mark.asyncio
async def test_compressed_and_plain_subscribers_of_one_thread_both_get_every_event() -> None:
    # The shared frame is written as is only where no extension was negotiated; a client with
    # permessage-deflate takes websockets' own per-connection path in the same group write.
    count = 300
    async with (
        running_stack(max_queue=count) as stack,
        raw(stack.server.url, compression="deflate") as deflated,
        raw(stack.server.url, compression=None) as plain,
    ):
        assert deflated.protocol.extensions
        assert not plain.protocol.extensions
        for ws in (deflated, plain):
            assert (await subscribe(ws, "alice-1"))["type"] == "subscribed"
        await stack.emit("alice-1", count, text="x" * 200)
        expected = list(range(1, count + 1))
        assert await _seqs(deflated, count) == expected
        assert await _seqs(plain, count) == expected


@pytest.mark.asyncio
async def test_shared_frames_interleave_with_the_servers_pings_into_a_valid_stream() -> None:
    # websockets' client rejects any malformed or misplaced frame (it would close with 1002):
    # frames written past the protocol object must leave the byte stream valid between pings.
    count = 2000
    async with (
        running_stack(max_queue=count, ping_interval=0.001) as stack,
        raw(stack.server.url, compression=None) as first,
        raw(stack.server.url, compression=None) as second,
    ):
        for ws in (first, second):
            assert (await subscribe(ws, "alice-1"))["type"] == "subscribed"
        for _ in range(20):
            await stack.emit("alice-1", count // 20)
            await asyncio.sleep(0.002)  # let keepalive pings in between the bursts
        expected = list(range(1, count + 1))
        assert await _seqs(first, count) == expected
        assert await _seqs(second, count) == expected
        assert first.state is State.OPEN
        assert second.state is State.OPEN


@pytest.mark.asyncio
async def test_a_failed_shared_write_closes_that_session_and_its_client_resumes_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if not server_module._WebSocketTransport.fast_writes:
        pytest.skip("Python 3.10: every frame takes the awaited send (nothing to fail here)")
    async with (
        running_stack() as stack,
        raw(stack.server.url, compression=None) as healthy,
        raw(stack.server.url, compression=None) as doomed,
    ):
        for ws in (healthy, doomed):
            assert (await subscribe(ws, "alice-1"))["type"] == "subscribed"
        await stack.emit("alice-1", 2)
        assert await _seqs(healthy, 2) == [1, 2]
        assert await _seqs(doomed, 2) == [1, 2]
        # The doomed connection's socket now refuses writes, as a transport after write_eof does.
        port = doomed.local_address[1]
        (session,) = (
            s
            for s in stack.server.hub.sessions
            if isinstance(s.transport, server_module._WebSocketTransport)
            and s.transport.connection.remote_address[1] == port
        )
        assert isinstance(session.transport, server_module._WebSocketTransport)
        socket = session.transport._socket

        def refuse(data: bytes) -> None:
            raise RuntimeError("Cannot call write() after write_eof()")

        monkeypatch.setattr(socket, "write", refuse)
        await stack.emit("alice-1", 3)
        assert await _seqs(healthy, 3) == [3, 4, 5]
        # Its close frame cannot be written either: the server closes the session with 1011
        # and the client sees the connection end.
        await closed_code(doomed)
        assert session.close_code == CloseCode.INTERNAL_ERROR
        async with raw(stack.server.url, compression=None) as resumed:
            answer = await subscribe(resumed, "alice-1", last_seq=2)
            assert answer["type"] == "subscribed"
            assert await _seqs(resumed, 3) == [3, 4, 5]
