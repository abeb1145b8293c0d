"""The thread-level broadcast and the per-connection path deliver alike, however interleaved.

A property test drives the reference bridge and a :class:`SessionHub` over in-memory
transports, native and ``ag-ui`` subscribers together, through random schedules — emits,
subscribers joining fresh or resuming from an earlier seq, transports backing up and draining,
broken connections — once with transports that offer the group write
(:class:`~reference_impl.session.WritesMany`) and once with transports that do not. Every
client must see the same frames in both runs: each seq of the thread once, in order, from
where it (re)subscribed to the head.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from server_support import TIMEOUT

from reference_impl import ConnectionManager, ReferenceOrchestrator, create_bridge
from reference_impl.session import SessionHub, WritesMany, WritesNow

THREAD = "t-1"
RUN = f"thread_{THREAD}_run_1700000000000_0badcafe"
#: One client per dialect: two native (they share a group write), one AG-UI (five frames per
#: thinking event, each one group write).
DIALECTS = ("native", "native", "ag-ui")
CLIENTS = len(DIALECTS)


class PeerTransport:
    """A session's transport whose peer is the test: per-connection writes only.

    ``backed_up`` makes ``send_now`` refuse and ``send_text`` wait, as a full write buffer
    does; ``broken`` makes every write fail, as a lost peer does (the session must close; the
    client resumes on a new connection).
    """

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[str | None] = asyncio.Queue()
        self.frames: list[dict[str, Any]] = []
        self.closed: int | None = None
        self.backed_up = False
        self.broken = False
        self.drained = asyncio.Event()
        self.drained.set()

    def _take(self, text: str) -> bool:
        if self.broken:
            return False
        self.frames.append(json.loads(text))
        return True

    async def send_text(self, text: str) -> None:
        # No wait_for here: on Python 3.11 it can swallow the writer's cancellation when the
        # drain and the cancel coincide. The test's own waits are bounded.
        await self.drained.wait()
        if not self._take(text):
            raise ConnectionResetError("injected write failure")

    def send_now(self, text: str) -> bool:
        return not self.backed_up and self.closed is None and self._take(text)

    async def receive(self) -> str | None:
        return await self.inbox.get()

    async def close(self, code: int, reason: str) -> None:
        self.closed = code
        self.inbox.put_nowait(None)

    def back_up(self, on: bool) -> None:
        self.backed_up = on
        if on:
            self.drained.clear()
        else:
            self.drained.set()


class BroadcastTransport(PeerTransport):
    """The same peer, with the group write of the thread broadcast."""

    #: How many transports each group write went to.
    group_sizes: ClassVar[list[int]] = []

    def ready_now(self) -> bool:
        return not self.backed_up and self.closed is None

    def write_many(self, transports: Sequence[Any], text: str) -> list[Any]:
        BroadcastTransport.group_sizes.append(len(transports))
        return [t for t in transports if not t._take(text)]


def test_only_the_broadcast_transport_offers_the_group_write() -> None:
    assert isinstance(BroadcastTransport(), WritesMany)
    assert not isinstance(PeerTransport(), WritesMany)
    assert isinstance(PeerTransport(), WritesNow)


class Client:
    """One client: each (re)subscription is a segment of what it received.

    A client resubscribes fresh (from the head) or resumes from its last seq; it also resumes
    by itself when its session is closed (a broken connection).
    """

    def __init__(self, hub: SessionHub, kind: type[PeerTransport], dialect: str) -> None:
        self.hub = hub
        self.kind = kind
        self.dialect = dialect
        self._next_part = 0
        #: One (start seq, seqs received) per subscription.
        self.segments: list[tuple[int, list[int]]] = []
        self.resumed: list[bool] = []
        self.transport: PeerTransport | None = None
        self.task: asyncio.Future[Any] | None = None
        self.backed_up = False

    @property
    def last_seq(self) -> int:
        start, seqs = self.segments[-1]
        return seqs[-1] if seqs else start

    def _absorb(self) -> None:
        if self.transport is None:
            return
        frames = self.transport.frames
        seqs = self.segments[-1][1]
        for f in frames:
            if f["type"] == "subscribed":
                continue
            if "parts" in f:
                # The ag-ui dialect: one native seq is parts frames, numbered 0..parts-1, whole.
                assert f["part"] == self._next_part, (f, self._next_part)
                if f["part"] < f["parts"] - 1:
                    self._next_part += 1
                    continue
                self._next_part = 0
            seqs.append(f["seq"])
        frames.clear()

    async def subscribe(self, resume: bool) -> None:
        await self.leave()
        last_seq = self.last_seq if resume and self.segments else None
        transport = self.transport = self.kind()
        self.task = asyncio.ensure_future(self.hub.serve(transport, peer="c"))
        frame: dict[str, Any] = {"type": "subscribe", "thread_id": THREAD, "dialect": self.dialect}
        self._next_part = 0
        if last_seq is not None:
            frame["last_seq"] = last_seq

        async def subscribed() -> int:
            transport.inbox.put_nowait(json.dumps(frame))
            while True:
                for f in transport.frames:
                    if f["type"] == "subscribed":
                        return int(f["head_seq"]) if last_seq is None else last_seq
                await asyncio.sleep(0)

        self.segments.append((await asyncio.wait_for(subscribed(), TIMEOUT), []))
        self.resumed.append(last_seq is not None)
        self._absorb()
        transport.back_up(self.backed_up)

    async def resume_if_closed(self) -> None:
        if self.transport is not None and self.transport.closed is not None:
            await self.subscribe(resume=True)

    def back_up(self, on: bool) -> None:
        self.backed_up = on
        if self.transport is not None:
            self.transport.back_up(on)

    def break_connection(self) -> None:
        if self.transport is not None:
            self.transport.broken = True

    async def leave(self) -> None:
        if self.task is not None and self.transport is not None:
            self.transport.back_up(False)
            self.transport.inbox.put_nowait(None)
            await asyncio.wait_for(self.task, TIMEOUT)
            self._absorb()
        self.task = None

    async def caught_up(self, head: int) -> None:
        async def wait() -> None:
            while True:
                await self.resume_if_closed()
                self._absorb()
                if self.last_seq >= head:
                    return
                await asyncio.sleep(0)

        self.back_up(False)
        await asyncio.wait_for(wait(), TIMEOUT)

    def check(self, head: int) -> None:
        """Each segment is contiguous from its start; a resume starts where the last ended."""
        previous_end: int | None = None
        for (start, seqs), resumed in zip(self.segments, self.resumed, strict=True):
            assert seqs == list(range(start + 1, start + 1 + len(seqs))), (start, seqs)
            if resumed:
                assert start == previous_end, (start, previous_end)
            previous_end = seqs[-1] if seqs else start
        assert previous_end == head


Op = tuple[str, int, int]

ops = st.lists(
    st.one_of(
        st.tuples(st.just("emit"), st.integers(1, 6), st.just(0)),
        st.tuples(st.just("leave"), st.integers(0, CLIENTS - 1), st.just(0)),
        st.tuples(st.just("subscribe"), st.integers(0, CLIENTS - 1), st.integers(0, 1)),
        st.tuples(st.just("back_up"), st.integers(0, CLIENTS - 1), st.integers(0, 1)),
        st.tuples(st.just("fail"), st.integers(0, CLIENTS - 1), st.just(0)),
        st.tuples(st.just("yield"), st.integers(1, 3), st.just(0)),
    ),
    max_size=25,
)


async def play(schedule: list[Op], kind: type[PeerTransport]) -> list[Any]:
    """Run ``schedule``; return each client's segments (after catching up with the head)."""
    manager = ConnectionManager()
    bridge = await create_bridge(connection_manager=manager, orchestrator=ReferenceOrchestrator())
    hub = SessionHub(bridge, manager, max_queue=10_000)
    clients = [Client(hub, kind, dialect) for dialect in DIALECTS]
    await bridge.notify_agent_started(RUN, "a")
    head = 1
    away: set[int] = set()
    try:
        for client in clients:
            await client.subscribe(resume=False)
        for op, a, b in schedule:
            if op == "emit":
                for _ in range(a):
                    head += 1
                    if head % 2:  # three ag-ui frames: the multi-part path, cut anywhere
                        await bridge.notify_tool_executing(RUN, "a", "t", {"n": head})
                    else:  # one ag-ui frame
                        await bridge.notify_agent_thinking(
                            RUN, "a", reasoning="r", step_number=head
                        )
            elif op == "leave":
                await clients[a].leave()
                away.add(a)
            elif op == "subscribe":
                await clients[a].subscribe(resume=bool(b))
                away.discard(a)
            elif op == "back_up":
                clients[a].back_up(bool(b))
            elif op == "fail":
                clients[a].break_connection()
            else:
                for _ in range(a):
                    await asyncio.sleep(0)
            for index, client in enumerate(clients):
                if index not in away:
                    await client.resume_if_closed()
        for index, client in enumerate(clients):
            if index in away:
                await client.subscribe(resume=True)
            await client.caught_up(head)
    finally:
        for client in clients:
            await client.leave()
        await bridge.close()
    for client in clients:
        client.check(head)
    return [client.segments for client in clients]


@pytest.mark.asyncio
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(schedule=ops)
async def test_the_broadcast_and_per_connection_paths_deliver_alike(schedule: list[Op]) -> None:
    per_connection = await play(schedule, PeerTransport)
    broadcast = await play(schedule, BroadcastTransport)
    assert broadcast == per_connection


@pytest.mark.asyncio
async def test_steady_subscribers_share_one_write_and_a_backed_up_one_takes_its_own_path() -> None:
    BroadcastTransport.group_sizes.clear()
    schedule: list[Op] = [("emit", 5, 0), ("back_up", 1, 1), ("emit", 5, 0), ("yield", 3, 0)]
    segments = await play(schedule, BroadcastTransport)
    assert segments == [[(1, list(range(2, 12)))]] * CLIENTS
    # The two native subscribers share one write per event while both are steady (the first
    # five events); once one is backed up, the other is written alone. The ag-ui subscriber
    # gets each of its frames in writes of its own dialect.
    assert BroadcastTransport.group_sizes.count(2) == 5
    assert max(BroadcastTransport.group_sizes) == 2
