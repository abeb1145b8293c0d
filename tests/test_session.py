"""Sessions over an in-memory transport: downstream bridges, gaps, epochs, failures."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from server_support import TIMEOUT

from reference_impl import ConnectionManager
from reference_impl.history import NoHistory, ReplayHistory
from reference_impl.protocol import CloseCode
from reference_impl.session import ANONYMOUS, Session, SessionHub, SessionState


class MemoryTransport:
    """A transport whose peer is the test."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[str | bytes | None] = asyncio.Queue()
        self.sent: list[dict[str, Any]] = []
        self.closed: tuple[int, str] | None = None
        self.fail_sends = False
        self._read = 0
        self._changed = asyncio.Event()

    async def send_text(self, text: str) -> None:
        if self.fail_sends:
            raise ConnectionResetError("peer gone")
        self.sent.append(json.loads(text))
        self._changed.set()

    async def receive(self) -> str | bytes | None:
        return await self.inbox.get()

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)
        self.inbox.put_nowait(None)
        self._changed.set()

    def send(self, frame: dict[str, Any]) -> None:
        self.inbox.put_nowait(json.dumps(frame))

    async def next(self) -> dict[str, Any]:
        async def wait() -> dict[str, Any]:
            while self._read >= len(self.sent):
                self._changed.clear()
                await self._changed.wait()
            self._read += 1
            return self.sent[self._read - 1]

        return await asyncio.wait_for(wait(), TIMEOUT)

    async def closed_with(self) -> int:
        async def wait() -> int:
            while self.closed is None:
                self._changed.clear()
                await self._changed.wait()
            return self.closed[0]

        return await asyncio.wait_for(wait(), TIMEOUT)


class Downstream:
    """A bridge that numbers events and has only ``replay(thread_id, after_seq)``."""

    def __init__(self, manager: ConnectionManager, *, asynchronous: bool = False) -> None:
        self.connection_manager = manager
        self.log: dict[str, list[dict[str, Any]]] = {}
        self.asynchronous = asynchronous
        self.epoch = "d1"

    def store(self, thread_id: str) -> dict[str, Any]:
        log = self.log.setdefault(thread_id, [])
        message = {
            "type": "custom",
            "thread_id": thread_id,
            "seq": len(log) + 1,
            "epoch": self.epoch,
        }
        log.append(message)
        return message

    async def emit(self, thread_id: str, count: int = 1) -> None:
        for _ in range(count):
            await self.connection_manager.send_to_thread(thread_id, self.store(thread_id))

    def replay(self, thread_id: str, after_seq: int) -> Any:
        events = [m for m in self.log.get(thread_id, []) if m["seq"] > after_seq]
        if self.asynchronous:

            async def later() -> list[dict[str, Any]]:
                return events

            return later()
        return events


@asynccontextmanager
async def session(hub: SessionHub, token: str | None = None) -> AsyncIterator[MemoryTransport]:
    transport = MemoryTransport()
    task = asyncio.ensure_future(hub.serve(transport, token=token, peer="test"))
    try:
        yield transport
    finally:
        transport.inbox.put_nowait(None)
        await asyncio.wait_for(task, TIMEOUT)


@pytest.mark.asyncio
@pytest.mark.parametrize("asynchronous", [False, True])
async def test_a_bridge_with_only_replay_is_served_with_resume(asynchronous: bool) -> None:
    manager = ConnectionManager()
    bridge = Downstream(manager, asynchronous=asynchronous)
    hub = SessionHub(bridge)
    assert isinstance(hub.history, ReplayHistory)
    await bridge.emit("t", 3)
    async with session(hub) as peer:
        peer.send({"type": "subscribe", "thread_id": "t", "last_seq": 1, "epoch": "d1"})
        assert await peer.next() == {
            "type": "subscribed",
            "thread_id": "t",
            "epoch": "d1",
            "head_seq": 3,
            "recovered": 2,
        }
        await bridge.emit("t")
        assert [(await peer.next())["seq"] for _ in range(3)] == [2, 3, 4]
        peer.send({"type": "subscribe", "thread_id": "u"})
        assert (await peer.next())["head_seq"] == 0
        peer.send({"type": "subscribe", "thread_id": "v", "last_seq": 2})
        assert (await peer.next())["code"] == "invalid_resume_point"
        peer.send({"type": "subscribe", "thread_id": "t2", "last_seq": 0, "epoch": "other"})
        await bridge.emit("t2")
        assert (await peer.next())["type"] == "resync_required"


@pytest.mark.asyncio
async def test_a_downstream_log_that_lost_events_needs_a_resync() -> None:
    manager = ConnectionManager()
    bridge = Downstream(manager)
    await bridge.emit("t", 5)
    del bridge.log["t"][:3]  # trimmed
    async with session(SessionHub(bridge)) as peer:
        peer.send({"type": "subscribe", "thread_id": "t", "last_seq": 1})
        answer = await peer.next()
        assert (answer["type"], answer["head_seq"], answer["reason"]) == (
            "resync_required",
            5,
            "history trimmed",
        )


@pytest.mark.asyncio
async def test_a_bridge_without_replay_serves_live_events_and_refuses_resumes() -> None:
    manager = ConnectionManager()

    class Live:
        connection_manager = manager

    hub = SessionHub(Live())
    assert isinstance(hub.history, NoHistory)
    async with session(hub) as peer:
        peer.send({"type": "subscribe", "thread_id": "t"})
        assert (await peer.next())["epoch"] == ""
        await manager.send_to_thread("t", {"type": "custom", "seq": 7})
        await manager.send_to_thread("t", {"type": "note"})
        await manager.send_to_thread("t", '{"type": "custom", "seq": 8}')
        assert [await peer.next() for _ in range(3)] == [
            {"type": "custom", "seq": 7},
            {"type": "note"},
            {"type": "custom", "seq": 8},
        ]
        assert not await manager.send_to_thread("t", 42)  # not a message: refused
        peer.send({"type": "subscribe", "thread_id": "u", "last_seq": 3})
        assert (await peer.next())["reason"] == "the bridge keeps no history (no replay)"


@pytest.mark.asyncio
async def test_a_live_gap_is_filled_from_history_before_later_events() -> None:
    manager = ConnectionManager()
    bridge = Downstream(manager)
    async with session(SessionHub(bridge)) as peer:
        peer.send({"type": "subscribe", "thread_id": "t", "last_seq": 0})
        assert (await peer.next())["type"] == "subscribed"
        await bridge.emit("t")
        skipped = [bridge.store("t"), bridge.store("t")]  # stored, never fanned out
        await bridge.emit("t")
        await manager.send_to_thread("t", skipped[0])  # late duplicate
        assert [(await peer.next())["seq"] for _ in range(4)] == [1, 2, 3, 4]
        await bridge.emit("t")
        assert (await peer.next())["seq"] == 5


@pytest.mark.asyncio
async def test_a_gap_history_cannot_close_and_a_new_epoch_need_a_resync() -> None:
    manager = ConnectionManager()
    bridge = Downstream(manager)
    async with session(SessionHub(bridge)) as peer:
        peer.send({"type": "subscribe", "thread_id": "t", "last_seq": 0})
        await peer.next()
        await manager.send_to_thread("t", {"type": "custom", "seq": 9, "epoch": "d1"})
        assert (await peer.next())["type"] == "resync_required"
        assert manager.connections_for_thread("t") == []
        peer.send({"type": "subscribe", "thread_id": "t", "last_seq": 0})
        await peer.next()
        await bridge.emit("t")
        assert (await peer.next())["epoch"] == "d1"
        await manager.send_to_thread("t", {"type": "custom", "seq": 2, "epoch": "d2"})
        answer = await peer.next()
        assert (answer["type"], answer["reason"]) == ("resync_required", "epoch changed")


@pytest.mark.asyncio
async def test_live_events_held_during_a_slow_history_read_overflow_as_slow_consumer() -> None:
    release, registered = asyncio.Event(), asyncio.Event()

    class Manager(ConnectionManager):
        def add(self, connection: Any) -> None:
            super().add(connection)
            registered.set()

    manager = Manager()

    class SlowReplay(Downstream):
        def replay(self, thread_id: str, after_seq: int) -> Any:
            async def later() -> list[dict[str, Any]]:
                await release.wait()
                return []

            return later()

    bridge = SlowReplay(manager)
    hub = SessionHub(bridge, max_queue=1)
    async with session(hub) as peer:
        peer.send({"type": "subscribe", "thread_id": "t", "last_seq": 0})
        await asyncio.wait_for(registered.wait(), TIMEOUT)  # registered before reading history
        for _ in range(11):
            bridge.store("t")
        for message in bridge.log["t"]:
            await manager.send_to_thread("t", message)
        assert await peer.closed_with() == CloseCode.SLOW_CONSUMER
        release.set()
    assert hub.metrics.dropped_slow_clients == 1


@pytest.mark.asyncio
async def test_a_failing_history_closes_with_1011_and_a_failing_send_ends_the_session() -> None:
    manager = ConnectionManager()

    class Broken(Downstream):
        def replay(self, thread_id: str, after_seq: int) -> Any:
            raise RuntimeError("database down")

    async with session(SessionHub(Broken(manager))) as peer:
        peer.send({"type": "subscribe", "thread_id": "t", "last_seq": 0})
        assert await peer.closed_with() == CloseCode.INTERNAL_ERROR
    assert manager.connections_for_thread("t") == []

    hub = SessionHub(Downstream(manager))
    transport = MemoryTransport()
    transport.fail_sends = True
    task = asyncio.ensure_future(hub.serve(transport))
    transport.send({"type": "ping"})
    transport.send({"type": "subscribe", "thread_id": "t"})
    served: Session = await asyncio.wait_for(task, TIMEOUT)
    assert served.closed
    assert hub.sessions == set()


@pytest.mark.asyncio
async def test_async_authenticator_and_authorizer() -> None:
    manager = ConnectionManager()

    class Auth:
        async def authenticate(self, token: str) -> str | None:
            return {"good": "carol"}.get(token)

    async def only_own(user_id: str, thread_id: str) -> bool:
        return thread_id.startswith(user_id)

    hub = SessionHub(Downstream(manager), authenticator=Auth(), authorizer=only_own)
    async with session(hub, token="good") as peer:
        peer.send({"type": "subscribe", "thread_id": "carol-1"})
        assert (await peer.next())["type"] == "subscribed"
        peer.send({"type": "subscribe", "thread_id": "dave-1"})
        assert (await peer.next())["code"] == "forbidden"
        assert await peer.closed_with() == CloseCode.POLICY_VIOLATION
    async with session(hub) as peer:
        peer.inbox.put_nowait(b"\x00")
        assert (await peer.next())["code"] == "unauthorized"
        assert await peer.closed_with() == CloseCode.UNAUTHORIZED
    async with session(hub) as peer:
        peer.inbox.put_nowait(None)  # gone before authenticating
    assert hub.metrics.refused_subscriptions == 1


@pytest.mark.asyncio
async def test_close_all_closes_every_session_with_1001() -> None:
    manager = ConnectionManager()
    hub = SessionHub(Downstream(manager))
    async with session(hub) as one, session(hub) as two:
        one.send({"type": "ping"})
        two.send({"type": "ping"})
        await one.next()
        await two.next()
        await hub.close_all()
        assert await one.closed_with() == await two.closed_with() == CloseCode.GOING_AWAY
        assert {s.user_id for s in hub.sessions} <= {ANONYMOUS}


def test_the_hub_needs_the_bridges_connection_manager_and_a_positive_queue() -> None:
    class NoManager:
        pass

    with pytest.raises(TypeError, match="ConnectionManager"):
        SessionHub(NoManager())
    with pytest.raises(ValueError, match="max_queue"):
        SessionHub(NoManager(), ConnectionManager(), max_queue=0)


@pytest.mark.asyncio
async def test_a_session_moves_through_its_states_in_order_and_closes_once() -> None:
    class Auth:
        def authenticate(self, token: str) -> str | None:
            return "alice" if token == "ok" else None

    manager = ConnectionManager()
    hub = SessionHub(Downstream(manager), authenticator=Auth(), max_queue=2)
    transport = MemoryTransport()
    task = asyncio.ensure_future(hub.serve(transport))
    await asyncio.sleep(0)  # the task starts: its session is registered before any await
    [served] = hub.sessions
    assert (served.state, served.closed, served.close_code) == (
        SessionState.AUTHENTICATING,
        False,
        None,
    )
    transport.send({"type": "auth", "token": "ok"})
    assert (await transport.next())["type"] == "authenticated"
    assert served.state is SessionState.OPEN
    transport.send({"type": "subscribe", "thread_id": "t"})
    assert (await transport.next())["type"] == "subscribed"
    served.overflow("test")  # from synchronous code: CLOSING at once, every subscription stopped
    assert (served.state, served.closed, served.close_code) == (
        SessionState.CLOSING,
        True,
        CloseCode.SLOW_CONSUMER,
    )
    assert manager.connections_for_thread("t") == []
    await served.close(CloseCode.NORMAL, "again")  # idempotent: the first code stands
    assert await asyncio.wait_for(task, TIMEOUT) is served
    assert (served.state, served.close_code) == (SessionState.CLOSED, CloseCode.SLOW_CONSUMER)
    assert transport.closed is not None
    assert transport.closed[0] == CloseCode.SLOW_CONSUMER
