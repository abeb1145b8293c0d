"""Authorization holds for the life of a subscription, over real sockets (issue 11 §4).

The model (docs/protocol.md, "Authorization"): a thread nobody owns is refused by default; with
``allow_unowned`` a subscription to it is allowed only until someone claims the thread, and the
claim closes every other user's subscription (``error`` ``forbidden``, then 1008) before
``create_thread`` returns. Thread ids are compared exactly: a look-alike id is another thread.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from server_support import TIMEOUT, closed_code, raw, recv, running_stack, send, subscribe
from websockets.asyncio.client import ClientConnection

from reference_impl.session import SessionState

OWNED = "Thread-1"
#: Ids that look like ``Thread-1`` (or ``café``) to a person or a careless normaliser.
LOOK_ALIKES = [
    "thread-1",
    "THREAD-1",
    " Thread-1",
    "Thread-1 ",
    "Thread-1\t",
    "Thread-1\n",
    "Thread\u20101",  # hyphen
    "Thread\u22121",  # minus sign
    "\u03a4hread-1",  # Greek capital tau
    "\uff34hread-1",  # fullwidth T (NFKC folds it to T)
    "Thread-1\u200b",  # zero-width space
    "../Thread-1",
    "./Thread-1",
    "Thread-1/..",
    "Thread-1/",
    "alice/../Thread-1",
    "Thread-1\x00",
    "cafe\u0301",  # NFD of the owned "café"
]


async def pong(ws: ClientConnection, probe: str) -> list[dict[str, Any]]:
    """Ping and return every frame received before the pong."""
    await send(ws, {"type": "ping", "id": probe})
    before = []
    while (frame := await recv(ws))["type"] != "pong":
        before.append(frame)
    assert frame["id"] == probe
    return before


async def events(ws: ClientConnection, count: int) -> list[int]:
    """The seqs of the next ``count`` frames, which must be events."""
    seqs = []
    for _ in range(count):
        frame = await recv(ws)
        assert "seq" in frame, frame
        seqs.append(frame["seq"])
    return seqs


@pytest.mark.asyncio
async def test_a_thread_nobody_owns_is_refused_by_default_like_another_users() -> None:
    async with running_stack() as stack:
        answers = []
        for thread_id in ("nobodys", "alice-1"):
            async with raw(stack.server.url, "token-bob") as ws:
                answers.append((await subscribe(ws, thread_id))["code"])
                answers.append(await closed_code(ws))
        # the same answer either way: nobody learns whether a thread exists
        assert answers == ["forbidden", 1008, "forbidden", 1008]


@pytest.mark.asyncio
async def test_claiming_a_thread_closes_other_users_subscriptions_before_its_first_event() -> None:
    async with (
        running_stack(allow_unowned=True) as stack,
        raw(stack.server.url, "token-bob") as bob,
        raw(stack.server.url, "token-alice") as alice,
    ):
        assert (await subscribe(bob, "fresh"))["type"] == "subscribed"
        assert (await subscribe(bob, "bob-1"))["type"] == "subscribed"
        assert (await subscribe(alice, "fresh"))["type"] == "subscribed"
        await stack.emit("fresh", 2)  # nobody owns it yet: both may see these
        assert await events(bob, 2) == [1, 2]
        assert await events(alice, 2) == [1, 2]
        refused_before = stack.server.metrics.refused_subscriptions

        stack.orchestrator.create_thread("alice", "fresh")
        await stack.emit("fresh", 3)  # no await point between the claim and these events

        frame = await recv(bob)
        assert (frame["type"], frame["code"], frame["thread_id"]) == ("error", "forbidden", "fresh")
        assert await closed_code(bob) == 1008
        assert await events(alice, 3) == [3, 4, 5]
        assert await pong(alice, "after") == []
        assert stack.server.metrics.refused_subscriptions == refused_before + 1
        [session] = [s for s in stack.server.hub.sessions if s.user_id == "alice"]
        assert session.state is SessionState.OPEN

    async with running_stack(allow_unowned=True) as stack, raw(stack.server.url, "token-bob") as ws:
        stack.orchestrator.create_thread("alice", "fresh")
        assert (await subscribe(ws, "fresh"))["code"] == "forbidden"  # and stays refused
        assert await closed_code(ws) == 1008


@pytest.mark.asyncio
async def test_the_owners_own_earlier_subscriptions_survive_the_claim() -> None:
    async with (
        running_stack(allow_unowned=True) as stack,
        raw(stack.server.url, "token-alice") as first,
        raw(stack.server.url, "token-alice") as second,
    ):
        for ws in (first, second):
            assert (await subscribe(ws, "fresh", last_seq=0))["type"] == "subscribed"
        stack.orchestrator.create_thread("alice", "fresh")
        await stack.emit("fresh", 4)
        for ws in (first, second):
            assert await events(ws, 4) == [1, 2, 3, 4]
            assert await pong(ws, "p") == []


@pytest.mark.asyncio
async def test_look_alike_thread_ids_are_other_threads_and_refused_by_default() -> None:
    async with running_stack() as stack:
        stack.orchestrator.create_thread("alice", OWNED)
        stack.orchestrator.create_thread("alice", "caf\u00e9")
        for thread_id in LOOK_ALIKES:
            async with raw(stack.server.url, "token-bob") as ws:
                answer = await subscribe(ws, thread_id)
                assert (answer["code"], answer["thread_id"]) == ("forbidden", thread_id)
                assert await closed_code(ws) == 1008
        assert stack.server.metrics.refused_subscriptions == len(LOOK_ALIKES)


@pytest.mark.asyncio
async def test_look_alike_subscriptions_never_see_the_owners_events() -> None:
    async with (
        running_stack(allow_unowned=True) as stack,
        raw(stack.server.url, "token-bob") as bob,
        raw(stack.server.url, "token-alice") as alice,
    ):
        stack.orchestrator.create_thread("alice", OWNED)
        stack.orchestrator.create_thread("alice", "caf\u00e9")
        for thread_id in LOOK_ALIKES:
            answer = await subscribe(bob, thread_id, last_seq=0)
            assert (answer["type"], answer["thread_id"], answer["head_seq"]) == (
                "subscribed",
                thread_id,
                0,
            )
        assert (await subscribe(bob, OWNED))["code"] == "forbidden"
        assert await closed_code(bob) == 1008

        async with raw(stack.server.url, "token-bob") as bob:
            for thread_id in LOOK_ALIKES:
                assert (await subscribe(bob, thread_id))["type"] == "subscribed"
            for thread_id in (OWNED, "caf\u00e9"):
                assert (await subscribe(alice, thread_id))["type"] == "subscribed"
            await stack.emit(OWNED, 5)
            await stack.emit("caf\u00e9", 5)
            assert await events(alice, 10) == [1, 2, 3, 4, 5] * 2
            assert await pong(bob, "none") == []
            # bob may claim a look-alike: it is his thread, and it stays apart from alice's
            stack.orchestrator.create_thread("bob", "thread-1")
            await stack.emit("thread-1", 1)
            frame = await recv(bob)
            assert (frame["thread_id"], frame["seq"]) == ("thread-1", 1)
            assert await pong(alice, "none") == []


@pytest.mark.asyncio
async def test_recheck_follows_an_async_authorizer_that_changes_its_mind() -> None:
    allowed = {("bob", "shared")}

    async def authorizer(user_id: str, thread_id: str) -> bool:
        await asyncio.sleep(0)
        return (user_id, thread_id) in allowed

    async with (
        running_stack(authorizer=authorizer) as stack,
        raw(stack.server.url, "token-bob") as bob,
    ):
        assert (await subscribe(bob, "shared"))["type"] == "subscribed"
        hub = stack.server.hub
        assert hub.recheck("shared") == 0  # still allowed; decided asynchronously
        assert await pong(bob, "still") == []
        allowed.clear()
        assert hub.recheck("shared") == 0  # refused, once the answer comes
        frame = await recv(bob)
        assert (frame["code"], frame["thread_id"]) == ("forbidden", "shared")
        assert await asyncio.wait_for(closed_code(bob), TIMEOUT) == 1008
