"""The lean RESP connection the Redis backend appends with, against a real redis-server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis_server import RedisServer, free_port
from server_support import TIMEOUT

from reference_impl import BackendUnavailableError, EventDraft, EventType
from reference_impl.backends.redis import RedisBackend, _RedisPyWakeups
from reference_impl.backends.resp import RespConnection, RespSubscriber, supports

pytestmark = pytest.mark.redis


def draft(thread_id: str = "t") -> EventDraft:
    return EventDraft.build(
        EventType.AGENT_THINKING,
        thread_id=thread_id,
        run_id="run-1",
        agent_name="a",
        payload={"reasoning": "r"},
    )


@pytest_asyncio.fixture
async def connection(redis_server: RedisServer) -> AsyncIterator[RespConnection]:
    lean = RespConnection(redis_server.url)
    try:
        yield lean
    finally:
        await lean.close()


def test_only_plain_tcp_and_unix_urls_take_the_lean_connection() -> None:
    assert supports("redis://127.0.0.1:6379/0")
    assert supports("unix:///run/redis.sock?db=1")
    assert not supports("rediss://cache.example:6380/0")
    with pytest.raises(ValueError, match="redis:// and unix://"):
        RespConnection("rediss://cache.example:6380/0")


@pytest.mark.asyncio
async def test_overlapping_commands_each_get_their_own_reply(connection: RespConnection) -> None:
    key = f"resp-{uuid.uuid4().hex}"
    replies = await asyncio.wait_for(
        asyncio.gather(*(connection.execute("INCR", key) for _ in range(200))), TIMEOUT
    )
    assert replies == list(range(1, 201))
    assert await connection.execute("ECHO", "ü") == "ü"
    with pytest.raises(ResponseError, match="wrong number of arguments"):
        await connection.execute("GET")
    assert await connection.execute("GET", key) == "200"  # the error shifted nothing


@pytest.mark.asyncio
async def test_a_command_given_up_on_drops_the_connection_and_the_next_one_reconnects(
    connection: RespConnection,
) -> None:
    key = f"resp-{uuid.uuid4().hex}"
    assert await connection.execute("PING") == "PONG"
    stuck = asyncio.ensure_future(connection.execute("BLPOP", f"{key}-empty", 5))
    await asyncio.sleep(0)  # BLPOP is written first; SET waits behind it on the connection
    behind = asyncio.ensure_future(connection.execute("SET", key, "later"))
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(stuck, 0.1)
    # A command pipelined behind the abandoned one fails as a lost connection (retryable)...
    with pytest.raises(RedisConnectionError):
        await asyncio.wait_for(behind, TIMEOUT)
    # ...and the next command gets its own reply on a fresh connection.
    assert await asyncio.wait_for(connection.execute("ECHO", "fresh"), TIMEOUT) == "fresh"


@pytest.mark.asyncio
async def test_a_lost_connection_fails_pending_commands_and_the_next_reconnects(
    own_redis_server: RedisServer,
) -> None:
    lean = RespConnection(own_redis_server.url)
    try:
        assert await lean.execute("PING") == "PONG"
        pending = asyncio.ensure_future(lean.execute("BLPOP", "never", 10))
        await asyncio.sleep(0.05)
        own_redis_server.stop()
        with pytest.raises(RedisConnectionError):
            await asyncio.wait_for(pending, TIMEOUT)
        with pytest.raises(RedisConnectionError, match="cannot connect"):
            await lean.execute("PING")
        own_redis_server.start()
        assert await asyncio.wait_for(lean.execute("PING"), TIMEOUT) == "PONG"
    finally:
        await lean.close()


@pytest.mark.asyncio
async def test_the_urls_user_password_and_database_are_used(redis_server: RedisServer) -> None:
    admin = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    user, password = f"u{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    await admin.execute_command("ACL", "SETUSER", user, "on", f">{password}", "~*", "&*", "+@all")
    base = redis_server.url.rsplit("/", 1)[0].replace("redis://", f"redis://{user}:{password}@")
    lean = RespConnection(f"{base}/3")
    wrong = RespConnection(f"{base.replace(password, 'not-it')}/3")
    try:
        key = f"resp-{uuid.uuid4().hex}"
        assert await lean.execute("SET", key, "in-db-3") == "OK"
        in_db_3 = aioredis.Redis.from_url(f"{redis_server.url.rsplit('/', 1)[0]}/3")
        assert await in_db_3.get(key) == b"in-db-3"
        assert await admin.get(key) is None  # not in database 0
        await in_db_3.aclose()
        with pytest.raises(ResponseError, match="WRONGPASS"):
            await wrong.execute("PING")
    finally:
        await lean.close()
        await wrong.close()
        await admin.execute_command("ACL", "DELUSER", user)
        await admin.aclose()


@pytest.mark.asyncio
async def test_appends_survive_a_flushed_script_cache_and_a_wrong_password_is_a_clear_error(
    redis_server: RedisServer, redis_prefix: str
) -> None:
    backend = RedisBackend(redis_server.url, key_prefix=redis_prefix)
    try:
        assert backend._hot is not None
        assert (await backend.append(draft())).seq == 1
        await backend.redis.script_flush()  # as after a Redis restart: EVALSHA says NOSCRIPT
        assert (await backend.append(draft())).seq == 2
        assert [m.seq for m in await backend.read_after("t", 0)] == [1, 2]
    finally:
        await backend.close()
    url = redis_server.url.replace("redis://", "redis://nobody:wrong@")
    refused = RedisBackend(url, key_prefix=redis_prefix, attempts=1)
    try:
        with pytest.raises(BackendUnavailableError, match="WRONGPASS"):
            await refused.append(draft())
    finally:
        await refused.close()


async def _next(items: Any) -> dict[str, Any]:
    return dict(await asyncio.wait_for(items.__anext__(), TIMEOUT))


@pytest.mark.asyncio
async def test_the_subscriber_yields_each_message_as_redis_py_would(
    redis_server: RedisServer,
) -> None:
    channel = f"resp-{uuid.uuid4().hex}"
    publisher = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    try:
        async with RespSubscriber(redis_server.url, channel) as messages:
            for text in ("one", "ü two", "three"):
                assert await publisher.publish(channel, text) == 1
            got = [await _next(messages) for _ in range(3)]
        assert got == [
            {"type": "message", "channel": channel, "data": text}
            for text in ("one", "ü two", "three")
        ]
        # redis-py's pub/sub (URLs the lean connection does not speak) gives the same items
        backend = RedisBackend(redis_server.url, key_prefix=f"{channel}:")
        fallback = _RedisPyWakeups(backend.client(pubsub=True), channel)
        async with fallback as items:
            await publisher.publish(channel, "four")
            item = await _next(items)
        await backend.close()
        assert (item["type"], item["channel"], item["data"]) == ("message", channel, "four")
    finally:
        await publisher.aclose()


@pytest.mark.asyncio
async def test_a_killed_subscription_ends_the_iteration_with_a_connection_error(
    own_redis_server: RedisServer,
) -> None:
    admin = aioredis.Redis.from_url(own_redis_server.url, decode_responses=True)
    try:
        async with RespSubscriber(own_redis_server.url, "wakeups") as messages:
            waiting = asyncio.ensure_future(_next(messages))
            await asyncio.sleep(0.05)
            assert await admin.client_kill_filter(_type="pubsub") == 1
            with pytest.raises(RedisConnectionError):
                await asyncio.wait_for(waiting, TIMEOUT)
    finally:
        await admin.aclose()


@pytest.mark.asyncio
async def test_subscribing_to_a_dead_redis_is_a_connection_error() -> None:
    with pytest.raises(RedisConnectionError, match="cannot connect"):
        async with RespSubscriber(f"redis://127.0.0.1:{free_port()}/0", "x"):
            pass
