"""What only the Redis backend does: bounded failure, safe retries, wake-ups, keys and TTLs.

The behaviour it shares with the memory backend is in test_backend_contract.py.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis_server import RedisServer, free_port
from server_support import SLACK, TIMEOUT

from reference_impl import (
    BackendUnavailableError,
    ConnectionManager,
    EventDraft,
    EventType,
    ReferenceOrchestrator,
    RegistryConflictError,
    ResyncRequired,
    create_bridge,
    generate_run_id,
)
from reference_impl.backends.redis import RedisBackend, decode_wakeup

pytestmark = pytest.mark.redis


def draft(thread_id: str = "t", run_id: str = "run-1", n: int = 0) -> EventDraft:
    return EventDraft.build(
        EventType.AGENT_THINKING,
        thread_id=thread_id,
        run_id=run_id,
        agent_name="planner",
        payload={"reasoning": f"step {n}"},
    )


@pytest_asyncio.fixture
async def backend(redis_server: RedisServer, redis_prefix: str) -> AsyncIterator[RedisBackend]:
    backend = RedisBackend(redis_server.url, key_prefix=redis_prefix, log_ttl=30.0)
    yield backend
    await backend.close()


@pytest.mark.asyncio
async def test_unreachable_redis_fails_loudly_within_the_bounded_retry() -> None:
    backend = RedisBackend(
        f"redis://127.0.0.1:{free_port()}/0", attempts=3, timeout=0.3, retry_delay=0.02
    )
    assert backend.max_wait == pytest.approx(3 * 0.3 + 0.02 + 0.04)
    try:
        for call in (backend.append(draft()), backend.get_thread("r"), backend.head("t")):
            started = time.monotonic()
            with pytest.raises(BackendUnavailableError, match="failed 3 times"):
                await call
            assert time.monotonic() - started <= backend.max_wait + SLACK
    finally:
        await backend.close()


@pytest.mark.asyncio
async def test_a_retried_append_is_stored_once(
    backend: RedisBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = backend._run_hot
    calls = 0
    windows: list[int] = []

    async def reply_lost_once(script: Any, keys: list[str], args: list[Any]) -> Any:
        nonlocal calls
        calls += 1
        windows.append(args[-2])
        result = await real(script, keys, args)
        if calls == 1:
            raise RedisTimeoutError("reply lost")  # the script ran; the client never heard
        return result

    monkeypatch.setattr(backend, "_run_hot", reply_lost_once)
    message = await backend.append(draft())
    assert calls == 2
    assert windows == [0, 16]  # only the retry looks for its token among the newest entries
    assert message.seq == 1
    assert [m.seq for m in await backend.read_after("t", 0)] == [1]
    assert (await backend.append(draft())).seq == 2


@pytest.mark.asyncio
async def test_each_append_publishes_a_wakeup_with_the_event(backend: RedisBackend) -> None:
    listener = backend.client(pubsub=True)
    pubsub = listener.pubsub(ignore_subscribe_messages=True)
    try:
        await pubsub.subscribe(backend.channel)
        stored = await backend.append(draft("thread_ü_1"))

        async def first_message() -> dict[str, Any]:
            while True:
                got = await pubsub.get_message(timeout=1.0)
                if got is not None:
                    return dict(got)

        item = await asyncio.wait_for(first_message(), TIMEOUT)
        body = json.loads(item["data"])
        assert (body["t"], body["e"], body["s"]) == ("thread_ü_1", stored.epoch, 1)
        wakeup = decode_wakeup(item["data"])
        assert (wakeup.thread_id, wakeup.epoch, wakeup.seq) == ("thread_ü_1", stored.epoch, 1)
        assert wakeup.event() == stored
        assert wakeup.message() == stored.to_dict()
    finally:
        await pubsub.aclose()
        await listener.aclose()
    with pytest.raises(ValueError, match="not a wsbridge wake-up"):
        decode_wakeup("{}")


@pytest.mark.asyncio
async def test_keys_and_expiry_are_as_documented(backend: RedisBackend) -> None:
    redis = backend.redis
    await backend.register("run-1", "t")
    await redis.pexpire(backend.key("run", "run-1"), 1_000)
    stored = await backend.append(draft())
    p = backend.key_prefix
    assert sorted(await redis.keys(f"{p}*")) == sorted(
        f"{p}{kind}" for kind in ("run:run-1", "gone:run-1", "runs:t", "meta:t", "log:t")
    )
    assert await redis.hgetall(backend.key("meta", "t")) == {"epoch": stored.epoch, "seq": "1"}
    assert await redis.xlen(backend.key("log", "t")) == 1
    for kind in ("meta", "log"):
        assert 0 < await redis.pttl(backend.key(kind, "t")) <= 30_000
    # The append refreshed the run's registration (24 h by default).
    assert await redis.pttl(backend.key("run", "run-1")) > 3_600_000


@pytest.mark.asyncio
async def test_redis_restart_means_a_new_epoch_and_an_outage_fails_loudly(
    own_redis_server: RedisServer,
) -> None:
    backend = RedisBackend(own_redis_server.url, attempts=2, timeout=0.3, retry_delay=0.01)
    try:
        old = await backend.append(draft())
        own_redis_server.stop()
        started = time.monotonic()
        with pytest.raises(BackendUnavailableError):
            await backend.append(draft())
        assert time.monotonic() - started <= backend.max_wait + SLACK
        own_redis_server.start()
        new = await backend.append(draft())  # the client reconnects by itself
        assert (new.seq, new.epoch != old.epoch) == (1, True)
        with pytest.raises(ResyncRequired, match="epoch changed"):
            await backend.read_after("t", old.seq, old.epoch)
    finally:
        await backend.close()


@pytest.mark.asyncio
async def test_append_checked_refuses_a_run_registered_to_another_thread(
    backend: RedisBackend,
) -> None:
    await backend.register("run-1", "elsewhere")
    with pytest.raises(RegistryConflictError) as info:
        await backend.append_checked(draft("t", "run-1"))
    assert (info.value.registered_thread_id, info.value.requested_thread_id) == ("elsewhere", "t")
    assert (await backend.head("t")).head_seq == 0  # nothing stored
    assert (await backend.append_checked(draft("elsewhere", "run-1"))).seq == 1
    assert (await backend.append_checked(draft("t", "run-unregistered"))).seq == 1


@pytest.mark.asyncio
async def test_a_redis_bridge_resolves_a_standard_run_id_without_a_lookup_registry_first(
    redis_server: RedisServer, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager = ConnectionManager()
    bridge = await create_bridge(
        connection_manager=manager,
        orchestrator=ReferenceOrchestrator(),
        backend=RedisBackend(redis_server.url, key_prefix=redis_prefix),
    )
    try:
        lookups: list[str] = []
        real = bridge.backend.get_thread

        async def counted(run_id: str) -> Any:
            lookups.append(run_id)
            return await real(run_id)

        monkeypatch.setattr(bridge.backend, "get_thread", counted)
        standard = generate_run_id("encoded")
        assert (await bridge.notify_custom(standard, "agent", {"n": 1})).thread_id == "encoded"
        assert lookups == []  # checked inside the append: one round trip
        # The registry still comes first: a registration elsewhere wins over the format.
        moved = generate_run_id("encoded")
        await bridge.backend.register(moved, "registered")
        receipt = await bridge.notify_custom(moved, "agent", {"n": 2})
        assert (receipt.thread_id, receipt.seq) == ("registered", 1)
        assert (await bridge.backend.head("encoded")).head_seq == 1  # not stored there
        await bridge.register_run("run_plain", "plain")
        assert (await bridge.notify_custom("run_plain", "agent", {})).thread_id == "plain"
        assert lookups == ["run_plain"]  # a non-standard id is looked up
    finally:
        await bridge.close()
