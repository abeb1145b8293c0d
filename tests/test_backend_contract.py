"""The Backend contract, one suite run against every backend (memory and Redis).

Each test gets a fresh backend from ``backend`` (parametrized); ``lose_data`` wipes the
backend's storage the way that backend can lose it (a new process for memory, a Redis that
lost its keys), and ``short`` backends use 0.2 s TTLs so expiry can be observed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
import pytest_asyncio

from reference_impl import (
    EventDraft,
    EventLog,
    EventType,
    InvalidResumePoint,
    LookupMiss,
    MemoryBackend,
    RegistryConflictError,
    ResyncRequired,
    ThreadRegistry,
)
from reference_impl.backends import open_backend
from reference_impl.backends.base import Backend, SharedBackend

TTL = 0.2
MAX_EVENTS = 5


@dataclass
class Subject:
    backend: Backend
    lose_data: Callable[[], Awaitable[None]]


def draft(thread_id: str, n: int = 0, run_id: str = "run-1") -> EventDraft:
    return EventDraft.build(
        EventType.AGENT_THINKING,
        thread_id=thread_id,
        run_id=run_id,
        agent_name="planner",
        payload={"reasoning": f"step {n}", "step_number": n},
    )


def _memory(short: bool) -> Subject:
    def build() -> MemoryBackend:
        return MemoryBackend(
            ThreadRegistry(ttl=TTL) if short else ThreadRegistry(),
            EventLog(max_events_per_thread=MAX_EVENTS),
        )

    subject = Subject(build(), lambda: asyncio.sleep(0))

    async def lose() -> None:
        subject.backend = build()

    subject.lose_data = lose
    return subject


@pytest_asyncio.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def subject(request: pytest.FixtureRequest) -> AsyncIterator[Subject]:
    short = request.node.get_closest_marker("short_ttl") is not None
    if request.param == "memory":
        yield _memory(short)
        return
    from reference_impl.backends.redis import RedisBackend

    server = request.getfixturevalue("redis_server")
    prefix = request.getfixturevalue("redis_prefix")
    backend = RedisBackend(
        server.url,
        key_prefix=prefix,
        registry_ttl=TTL if short else 60.0,
        max_events_per_thread=MAX_EVENTS,
    )

    async def lose() -> None:
        keys = [key async for key in backend.redis.scan_iter(match=f"{prefix}*")]
        if keys:
            await backend.redis.delete(*keys)

    try:
        yield Subject(backend, lose)
    finally:
        await backend.close()


@pytest.mark.asyncio
async def test_memory_and_redis_backends_fulfil_the_protocol() -> None:
    from reference_impl.backends.redis import RedisBackend

    assert isinstance(MemoryBackend(), Backend)
    assert not isinstance(MemoryBackend(), SharedBackend)  # one process: no fan-out
    redis_backend = open_backend("redis://127.0.0.1:1", key_prefix="p:")
    assert isinstance(redis_backend, RedisBackend)
    assert redis_backend.key_prefix == "p:"
    assert isinstance(redis_backend, SharedBackend)  # several nodes: each starts a fan-out
    await redis_backend.close()
    assert isinstance(open_backend("memory://"), MemoryBackend)


# -- registry ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_registered_run_resolves_to_its_thread(subject: Subject) -> None:
    backend = subject.backend
    await backend.register("run-a", "thread_x_y")
    assert (await backend.get_thread("run-a")).thread_id == "thread_x_y"
    miss = await backend.get_thread("run-unknown")
    assert miss.thread_id is None
    assert miss.miss is LookupMiss.NEVER_REGISTERED


@pytest.mark.asyncio
async def test_re_registering_to_another_thread_conflicts(subject: Subject) -> None:
    backend = subject.backend
    await backend.register("run-a", "t1")
    await backend.register("run-a", "t1")  # same thread: fine, refreshes
    with pytest.raises(RegistryConflictError) as info:
        await backend.register("run-a", "t2")
    assert info.value.registered_thread_id == "t1"
    assert (await backend.get_thread("run-a")).thread_id == "t1"
    assert await backend.runs_for_thread("t2") == []


@pytest.mark.asyncio
async def test_concurrent_conflicting_registrations_leave_one_winner(subject: Subject) -> None:
    backend = subject.backend
    results = await asyncio.gather(
        *(backend.register("run-race", f"thread-{i}") for i in range(8)), return_exceptions=True
    )
    winners = [i for i, result in enumerate(results) if result is None]
    assert len(winners) == 1
    assert all(isinstance(r, RegistryConflictError) for r in results if r is not None)
    assert (await backend.get_thread("run-race")).thread_id == f"thread-{winners[0]}"


@pytest.mark.asyncio
async def test_runs_for_thread_lists_live_runs_oldest_first(subject: Subject) -> None:
    backend = subject.backend
    for run_id in ("r1", "r2", "r3"):
        await backend.register(run_id, "t")
        await asyncio.sleep(0.002)  # distinct registration times
    await backend.register("other", "t-other")
    assert await backend.runs_for_thread("t") == ["r1", "r2", "r3"]
    assert await backend.unregister("r2") is True
    assert await backend.unregister("r2") is False
    assert await backend.runs_for_thread("t") == ["r1", "r3"]
    assert (await backend.get_thread("r2")).miss is LookupMiss.UNREGISTERED


@pytest.mark.short_ttl
@pytest.mark.asyncio
async def test_registrations_expire_and_say_so(subject: Subject) -> None:
    backend = subject.backend
    await backend.register("run-old", "t")
    await asyncio.sleep(TTL * 1.5)  # expiry is wall-clock time; nothing to await instead
    lookup = await backend.get_thread("run-old")
    assert lookup.thread_id is None
    assert lookup.miss is LookupMiss.EXPIRED
    assert await backend.runs_for_thread("t") == []
    await backend.register("run-old", "another-thread")  # expired: no conflict


# -- event log --------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_head_of_a_new_thread_is_zero_in_a_stable_epoch(subject: Subject) -> None:
    backend = subject.backend
    head = await backend.head("fresh")
    assert head.head_seq == 0
    assert head.epoch
    assert (await backend.head("fresh")).epoch == head.epoch
    first = await backend.append(draft("fresh"))
    assert (first.seq, first.epoch) == (1, head.epoch)
    assert await backend.read_after("fresh", 0, head.epoch) == [first]


@pytest.mark.asyncio
async def test_append_numbers_each_thread_from_one(subject: Subject) -> None:
    backend = subject.backend
    a = [await backend.append(draft("a", n)) for n in range(3)]
    b = await backend.append(draft("b"))
    assert [m.seq for m in a] == [1, 2, 3]
    assert b.seq == 1
    assert len({m.epoch for m in a}) == 1
    assert a[2].payload["step_number"] == 2
    head = await backend.head("a")
    assert (head.epoch, head.head_seq) == (a[0].epoch, 3)


@pytest.mark.asyncio
async def test_concurrent_appends_get_distinct_contiguous_seqs(subject: Subject) -> None:
    backend = subject.backend
    stored = await asyncio.gather(*(backend.append(draft("busy", n)) for n in range(MAX_EVENTS)))
    assert sorted(m.seq for m in stored) == list(range(1, MAX_EVENTS + 1))
    replay = await backend.read_after("busy", 0)
    assert [m.seq for m in replay] == list(range(1, MAX_EVENTS + 1))
    assert {m.payload["step_number"] for m in replay} == set(range(MAX_EVENTS))


@pytest.mark.asyncio
async def test_read_after_returns_every_later_event_in_order(subject: Subject) -> None:
    backend = subject.backend
    stored = [await backend.append(draft("t", n)) for n in range(4)]
    epoch = stored[0].epoch
    assert await backend.read_after("t", 0, epoch) == stored
    assert await backend.read_after("t", 2, epoch) == stored[2:]
    assert await backend.read_after("t", 4, epoch) == []
    assert await backend.read_after("t", 1) == stored[1:]  # no epoch: head check only
    message = (await backend.read_after("t", 3))[0]
    assert message.to_dict() == stored[3].to_dict()


@pytest.mark.asyncio
async def test_read_after_refuses_what_it_cannot_serve(subject: Subject) -> None:
    backend = subject.backend
    stored = [await backend.append(draft("t", n)) for n in range(2)]
    with pytest.raises(ResyncRequired) as info:
        await backend.read_after("t", 1, "some-other-epoch")
    assert (info.value.epoch, info.value.head_seq) == (stored[0].epoch, 2)
    with pytest.raises(InvalidResumePoint):
        await backend.read_after("t", 3, stored[0].epoch)
    with pytest.raises(ValueError, match="after_seq"):
        await backend.read_after("t", -1)


@pytest.mark.asyncio
async def test_trimmed_history_is_a_resync_never_a_gap(subject: Subject) -> None:
    backend = subject.backend
    # Redis trims with MAXLEN ~ (whole stream nodes of 100 entries), so write past one.
    total = 120
    for start in range(0, total, 20):
        await asyncio.gather(*(backend.append(draft("long", n)) for n in range(start, start + 20)))
    last = (await backend.read_after("long", total - 1))[0]
    with pytest.raises(ResyncRequired, match="trimmed"):
        await backend.read_after("long", 0, last.epoch)
    tail = await backend.read_after("long", total - MAX_EVENTS, last.epoch)
    assert [m.seq for m in tail] == list(range(total - MAX_EVENTS + 1, total + 1))


@pytest.mark.asyncio
async def test_lost_data_starts_a_new_epoch(subject: Subject) -> None:
    old = await subject.backend.append(draft("t"))
    await subject.lose_data()
    backend = subject.backend
    with pytest.raises(ResyncRequired, match="epoch changed") as info:
        await backend.read_after("t", old.seq, old.epoch)
    new_epoch = info.value.epoch
    assert new_epoch != old.epoch
    assert info.value.head_seq == 0
    fresh = await backend.append(draft("t"))
    assert (fresh.seq, fresh.epoch) == (1, new_epoch)
