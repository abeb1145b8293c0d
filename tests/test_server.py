"""The WebSocket server over real sockets: fan-out, authorization, bad input, shutdown."""

from __future__ import annotations

import logging
import socket

import pytest
from server_support import closed_code, raw, recv, running_stack, send, subscribe
from websockets.exceptions import ConnectionClosed

from reference_impl.protocol import CloseCode, ErrorCode
from reference_impl.server import BridgeServer


@pytest.mark.asyncio
async def test_events_reach_every_connection_of_the_thread_and_no_other() -> None:
    async with running_stack() as stack:
        url = stack.server.url
        async with raw(url) as a1, raw(url) as a2, raw(url) as other, raw(url, "token-bob") as bob:
            for ws in (a1, a2):
                assert (await subscribe(ws, "alice-1"))["type"] == "subscribed"
            assert (await subscribe(other, "alice-2"))["type"] == "subscribed"
            assert (await subscribe(bob, "bob-1"))["type"] == "subscribed"
            await stack.emit("alice-1", 3)
            for ws in (a1, a2):
                got = [await recv(ws) for _ in range(3)]
                assert [m["seq"] for m in got] == [1, 2, 3]
                assert {m["thread_id"] for m in got} == {"alice-1"}
            await stack.emit("alice-2")
            await stack.emit("bob-1")
            # the first event the others see is their own thread's
            assert (await recv(other))["thread_id"] == "alice-2"
            assert (await recv(bob))["thread_id"] == "bob-1"
        assert stack.bridge.metrics.delivered == 5


@pytest.mark.asyncio
async def test_subscribing_to_another_users_thread_is_refused_and_counted() -> None:
    async with (
        running_stack() as stack,
        raw(stack.server.url, "token-bob") as bob,
        raw(stack.server.url) as alice,
    ):
        await subscribe(alice, "alice-1")
        answer = await subscribe(bob, "alice-1")
        assert answer["type"] == "error"
        assert answer["code"] == ErrorCode.FORBIDDEN.value
        assert await closed_code(bob) == CloseCode.POLICY_VIOLATION
        assert stack.bridge.metrics.refused_subscriptions == 1
        # bob's refusal sent nothing to alice's thread and left her connection working
        await stack.emit("alice-1")
        assert (await recv(alice))["seq"] == 1
        assert len(stack.manager.connections_for_thread("alice-1")) == 1


@pytest.mark.asyncio
async def test_a_thread_nobody_owns_is_refused_by_the_owner_authorizer() -> None:
    async with running_stack() as stack, raw(stack.server.url) as ws:
        assert (await subscribe(ws, "nobodys"))["code"] == "forbidden"
        assert await closed_code(ws) == 1008


@pytest.mark.asyncio
async def test_browsers_authenticate_with_a_first_auth_frame() -> None:
    async with running_stack() as stack, raw(stack.server.url, token=None) as ws:
        await send(ws, {"type": "auth", "token": "token-bob"})
        assert await recv(ws) == {"type": "authenticated", "user_id": "bob"}
        assert (await subscribe(ws, "bob-1"))["type"] == "subscribed"
        await send(ws, {"type": "auth", "token": "token-bob"})
        assert (await recv(ws))["user_id"] == "bob"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("token", "first_frame"),
    [
        ("wrong", None),
        (None, {"type": "auth", "token": "wrong"}),
        (None, {"type": "subscribe", "thread_id": "alice-1"}),
        (None, "not json"),
    ],
)
async def test_bad_authentication_closes_with_4001(token: str | None, first_frame: object) -> None:
    async with running_stack() as stack, raw(stack.server.url, token) as ws:
        if isinstance(first_frame, dict):
            await send(ws, first_frame)
        elif isinstance(first_frame, str):
            await ws.send(first_frame)
        answer = await recv(ws)
        assert (answer["type"], answer["code"]) == ("error", "unauthorized")
        assert await closed_code(ws) == CloseCode.UNAUTHORIZED


@pytest.mark.asyncio
async def test_no_auth_frame_within_the_timeout_closes_with_4001() -> None:
    async with running_stack(auth_timeout=0.2) as stack, raw(stack.server.url, None) as ws:
        assert (await recv(ws))["code"] == "unauthorized"
        assert await closed_code(ws) == 4001


@pytest.mark.asyncio
async def test_a_client_that_leaves_before_authenticating_is_forgotten() -> None:
    async with running_stack() as stack, raw(stack.server.url, None):
        pass
        async with raw(stack.server.url) as ws:
            assert (await subscribe(ws, "alice-1"))["type"] == "subscribed"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", ErrorCode.INVALID_JSON),
        ("[1, 2]", ErrorCode.INVALID_FRAME),
        ('{"type": "shout"}', ErrorCode.UNKNOWN_TYPE),
        ('{"thread_id": "alice-1"}', ErrorCode.UNKNOWN_TYPE),
        ('{"type": "subscribe"}', ErrorCode.INVALID_FRAME),
        ('{"type": "subscribe", "thread_id": "alice-1", "last_seq": -1}', ErrorCode.INVALID_FRAME),
        ('{"type": "subscribe", "thread_id": "alice-1", "last_seq": "3"}', ErrorCode.INVALID_FRAME),
        ('{"type": "subscribe", "thread_id": "alice-1", "extra": 1}', ErrorCode.INVALID_FRAME),
        ('{"type": "unsubscribe", "thread_id": "alice-1"}', ErrorCode.NOT_SUBSCRIBED),
    ],
)
async def test_bad_frames_get_an_error_and_the_connection_goes_on(
    frame: str, code: ErrorCode, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        running_stack() as stack,
        raw(stack.server.url) as bystander,
        raw(stack.server.url) as ws,
    ):
        await subscribe(bystander, "alice-1")
        with caplog.at_level(logging.WARNING, "reference_impl.session"):
            await ws.send(frame)
            answer = await recv(ws)
            await ws.send(frame)
            assert (await recv(ws))["code"] == code.value
        assert answer["type"] == "error"
        assert answer["code"] == code.value
        assert answer["message"]
        # logged once per connection, not per frame
        assert len([r for r in caplog.records if "bad frame" in r.getMessage()]) <= 1
        await send(ws, {"type": "ping", "id": 7})
        assert await recv(ws) == {"type": "pong", "id": 7}
        await stack.emit("alice-1")
        assert (await recv(bystander))["seq"] == 1


@pytest.mark.asyncio
async def test_a_binary_frame_closes_with_1003_and_others_go_on() -> None:
    async with (
        running_stack() as stack,
        raw(stack.server.url) as bystander,
        raw(stack.server.url) as ws,
    ):
        await subscribe(bystander, "alice-1")
        await subscribe(ws, "alice-1")
        await ws.send(b"\x00\x01")
        assert await closed_code(ws) == CloseCode.UNSUPPORTED_DATA
        await stack.emit("alice-1")
        assert (await recv(bystander))["seq"] == 1
        assert len(stack.manager.connections_for_thread("alice-1")) == 1


@pytest.mark.asyncio
async def test_an_oversized_frame_closes_with_1009_and_others_go_on() -> None:
    async with (
        running_stack(max_frame_bytes=1024) as stack,
        raw(stack.server.url) as bystander,
        raw(stack.server.url) as ws,
    ):
        await subscribe(bystander, "alice-1")
        await subscribe(ws, "alice-1")
        await send(ws, {"type": "ping", "id": "x" * 4096})
        assert await closed_code(ws) == CloseCode.MESSAGE_TOO_BIG
        await stack.emit("alice-1")
        assert (await recv(bystander))["seq"] == 1


@pytest.mark.asyncio
async def test_last_seq_beyond_the_head_is_an_error_frame() -> None:
    async with running_stack() as stack, raw(stack.server.url) as ws:
        await stack.emit("alice-1", 2)
        answer = await subscribe(ws, "alice-1", last_seq=5)
        assert (answer["type"], answer["code"]) == ("error", "invalid_resume_point")
        assert answer["thread_id"] == "alice-1"
        # not subscribed: a correct subscribe on the same connection works
        assert (await subscribe(ws, "alice-1", last_seq=2))["recovered"] == 0


@pytest.mark.asyncio
async def test_a_wrong_epoch_is_answered_with_resync_required() -> None:
    async with running_stack() as stack, raw(stack.server.url) as ws:
        await stack.emit("alice-1", 4)
        answer = await subscribe(ws, "alice-1", last_seq=2, epoch="not-the-epoch")
        head = await stack.bridge.backend.head("alice-1")
        assert answer == {
            "type": "resync_required",
            "thread_id": "alice-1",
            "epoch": head.epoch,
            "head_seq": 4,
            "reason": "epoch changed",
        }
        assert stack.manager.connections_for_thread("alice-1") == []


@pytest.mark.asyncio
async def test_subscribe_twice_unsubscribe_and_two_threads_on_one_connection() -> None:
    async with running_stack() as stack, raw(stack.server.url) as ws:
        first = await subscribe(ws, "alice-1")
        assert first["head_seq"] == 0
        assert first["recovered"] == 0
        assert first["epoch"]
        assert (await subscribe(ws, "alice-1"))["code"] == "already_subscribed"
        assert (await subscribe(ws, "alice-2"))["type"] == "subscribed"
        await stack.emit("alice-2")
        await stack.emit("alice-1")
        assert [(await recv(ws))["thread_id"] for _ in range(2)] == ["alice-2", "alice-1"]
        await send(ws, {"type": "unsubscribe", "thread_id": "alice-1"})
        assert await recv(ws) == {"type": "unsubscribed", "thread_id": "alice-1"}
        receipt = await stack.emit("alice-1")
        assert receipt == [2]
        assert stack.bridge.metrics.buffered == 1
        await stack.emit("alice-2")
        assert (await recv(ws))["thread_id"] == "alice-2"


@pytest.mark.asyncio
async def test_resume_replays_exactly_the_missed_events_then_live_ones() -> None:
    async with running_stack() as stack, raw(stack.server.url) as ws:
        await stack.emit("alice-1", 5)
        head = await stack.bridge.backend.head("alice-1")
        answer = await subscribe(ws, "alice-1", last_seq=2, epoch=head.epoch)
        assert answer == {
            "type": "subscribed",
            "thread_id": "alice-1",
            "epoch": head.epoch,
            "head_seq": 5,
            "recovered": 3,
        }
        await stack.emit("alice-1", 2)
        assert [(await recv(ws))["seq"] for _ in range(5)] == [3, 4, 5, 6, 7]
        assert stack.bridge.metrics.replayed == 3


@pytest.mark.asyncio
async def test_close_sends_1001_to_every_client() -> None:
    async with (
        running_stack() as stack,
        raw(stack.server.url) as ws,
        raw(stack.server.url, "token-bob") as bob,
    ):
        await subscribe(ws, "alice-1")
        await subscribe(bob, "bob-1")
        await stack.server.close()
        assert await closed_code(ws) == CloseCode.GOING_AWAY
        assert await closed_code(bob) == CloseCode.GOING_AWAY
        with pytest.raises(ConnectionClosed):
            await ws.recv()
        assert stack.manager.connections_for_thread("alice-1") == []
        await stack.server.close()  # idempotent
        with pytest.raises(RuntimeError):
            _ = stack.server.url


@pytest.mark.asyncio
async def test_an_open_server_serves_everyone_as_anonymous() -> None:
    async with running_stack(authenticator=None) as stack, raw(stack.server.url, None) as ws:
        await send(ws, {"type": "auth", "token": "anything"})
        assert await recv(ws) == {"type": "authenticated", "user_id": "anonymous"}
        assert (await subscribe(ws, "alice-1"))["code"] == "forbidden"


@pytest.mark.asyncio
async def test_the_server_starts_once_and_reports_its_port() -> None:
    async with running_stack() as stack:
        assert stack.server.port > 0
        assert stack.server.url == f"ws://127.0.0.1:{stack.server.port}"
        with pytest.raises(RuntimeError, match="already started"):
            await stack.server.start()
        assert stack.server.bridge is stack.bridge
        assert stack.server.metrics is stack.bridge.metrics
        async with stack.server as same:  # already started: entering does not restart it
            assert same.port == stack.server.port
        unstarted = BridgeServer(stack.bridge, stack.manager)
        await unstarted.close()  # closing a server that never started is a no-op
        with pytest.raises(RuntimeError, match="not started"):
            _ = unstarted.url


@pytest.mark.asyncio
@pytest.mark.parametrize("quirk", [EOFError, AssertionError])
async def test_websockets_13_eof_quirks_end_the_session_quietly(quirk: type) -> None:
    from reference_impl.server import _WebSocketTransport

    class Connection:
        async def recv(self) -> str:
            raise quirk("stream of frames ended")

    transport = _WebSocketTransport.__new__(_WebSocketTransport)
    transport.connection = Connection()  # type: ignore[assignment]
    assert await transport.receive() is None


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.asyncio
@pytest.mark.skipif(not _ipv6_loopback(), reason="this machine has no IPv6 loopback (::1)")
async def test_the_servers_url_is_one_a_client_can_open_for_an_ipv6_address() -> None:
    # The URL's host comes from server.reachable_host (0.0.0.0 reads 127.0.0.1; IPv6 gets its
    # brackets), the one rule the CLI prints too; ::1 is the loopback way to see it wired in.
    async with running_stack(host="::1") as stack:
        assert stack.server.url == f"ws://[::1]:{stack.server.port}"
        assert stack.server.http_url == f"http://[::1]:{stack.server.port}"
        async with raw(stack.server.url) as ws:
            assert (await subscribe(ws, "alice-1"))["type"] == "subscribed"
