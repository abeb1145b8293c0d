"""The AG-UI relay end to end, over real sockets: a real pydantic-ai agent behind uvicorn, relayed
by ``wsbridge serve --agui-upstream`` (a subprocess) to bare ``websockets`` clients."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
import pytest_asyncio
from agui_process import Producer, start_producer
from agui_producer import scenario_input
from server_support import TIMEOUT, recv, send
from websockets.asyncio.client import ClientConnection, connect

from reference_impl import ConnectionManager, ReferenceOrchestrator, create_bridge
from reference_impl.agui import SseDecoder, SseEvent, Validator
from reference_impl.agui.dialect import AGUI_FRAME_TYPE
from reference_impl.agui.relay import AguiRelay
from reference_impl.backends.redis import RedisBackend
from reference_impl.client import BridgeClient
from reference_impl.server import BridgeServer

pytestmark = pytest.mark.agui

Event = dict[str, Any]


def run_input(run_id: str, thread_id: str = "agui-thread") -> dict[str, Any]:
    """The producer's ``tool`` scenario: thinking, text, a streamed tool call, its result, text."""
    given = scenario_input("tool", thread_id)
    given["runId"] = run_id
    return given


class Bridge:
    """``wsbridge serve`` as a subprocess; ``url`` once it listens."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pytest_wsbridge.cli", "serve", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline()
        if "serving" not in first:
            self.stop()
            raise RuntimeError(f"wsbridge serve did not start: {first!r}")
        self.url = first.split()[-1]

    def stop(self) -> str:
        """Stop it (SIGTERM) and return its stderr."""
        if self.process.poll() is None:
            self.process.terminate()
        _, err = self.process.communicate(timeout=TIMEOUT)
        return err


@pytest.fixture
def producer() -> Iterator[Producer]:
    agent = start_producer()
    try:
        yield agent
    finally:
        agent.kill()


@pytest.fixture
def slow_producer() -> Iterator[Producer]:
    agent = start_producer(pause=0.4)
    try:
        yield agent
    finally:
        agent.kill()


async def direct_run(url: str, run_id: str) -> list[Event]:
    """The upstream's own SSE run (no bridge), decoded."""
    decoder = SseDecoder()
    items = []
    async with (
        httpx.AsyncClient(timeout=TIMEOUT) as client,
        client.stream("POST", url, json=run_input(run_id)) as response,
    ):
        assert response.status_code == 200
        async for chunk in response.aiter_bytes():
            items.extend(decoder.feed(chunk))
    items.extend(decoder.finish())
    return [item.payload for item in items if isinstance(item, SseEvent)]


def normalised(events: list[Event]) -> list[Event]:
    """Events with timestamps dropped and generated ids numbered by first use (two runs of the
    same agent differ only there)."""
    names: dict[str, str] = {}
    out = []
    for event in events:
        copy = {key: value for key, value in event.items() if key != "timestamp"}
        for key in ("messageId", "parentMessageId", "runId"):
            if isinstance(copy.get(key), str):
                copy[key] = names.setdefault(copy[key], f"id{len(names)}")
        out.append(copy)
    return out


def conformant(events: list[Event], given: dict[str, Any]) -> list[str]:
    validator = Validator(given)
    validator.feed_many(events)
    validator.finish()
    return [str(finding) for finding in validator.report().violations]


class Subscriber:
    """A bare-websockets client of the AG-UI dialect that records every event frame."""

    def __init__(self, url: str, thread_id: str = "agui-thread") -> None:
        self.url = url
        self.thread_id = thread_id
        self.frames: list[Event] = []
        self.ws: ClientConnection | None = None

    async def subscribe(self, **resume: Any) -> Event:
        self.ws = await connect(self.url)
        frame = {"type": "subscribe", "thread_id": self.thread_id, "dialect": "ag-ui", **resume}
        await send(self.ws, frame)
        answer = await recv(self.ws)
        assert answer["type"] == "subscribed", answer
        return answer

    async def until_terminal(self) -> list[Event]:
        assert self.ws is not None
        while not self.frames or self.frames[-1]["event"]["type"] not in (
            "RUN_FINISHED",
            "RUN_ERROR",
        ):
            frame = await recv(self.ws)
            if frame["type"] == AGUI_FRAME_TYPE:
                self.frames.append(frame)
        return self.events

    async def next_frame(self) -> Event:
        assert self.ws is not None
        while True:
            frame = await recv(self.ws)
            if frame["type"] == AGUI_FRAME_TYPE:
                self.frames.append(frame)
                return frame

    @property
    def events(self) -> list[Event]:
        return [frame["event"] for frame in self.frames]

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


@pytest_asyncio.fixture
async def subscribers() -> AsyncIterator[list[Subscriber]]:
    made: list[Subscriber] = []
    try:
        yield made
    finally:
        await asyncio.gather(*(sub.close() for sub in made))


@pytest.mark.asyncio
async def test_a_relayed_run_reaches_every_client_as_the_upstream_sent_it(
    slow_producer: Producer, subscribers: list[Subscriber]
) -> None:
    bridge = Bridge("--agui-upstream", slow_producer.url)
    try:
        subscribers.extend(Subscriber(bridge.url) for _ in range(3))
        for sub in subscribers:
            await sub.subscribe(last_seq=0)
        starter, dropped = subscribers[0], subscribers[2]
        assert starter.ws is not None
        await send(starter.ws, {"type": "run", "input": run_input("relayed-1")})
        accepted = await recv(starter.ws)
        assert accepted == {
            "type": "run_accepted",
            "thread_id": "agui-thread",
            "run_id": "relayed-1",
        }
        # One client is dropped mid-run and resumes from the last seq it got.
        for _ in range(3):
            await dropped.next_frame()
        await dropped.close()
        last = dropped.frames[-1]
        await dropped.subscribe(last_seq=last["seq"], epoch=last["epoch"])

        streams = [await asyncio.wait_for(sub.until_terminal(), TIMEOUT) for sub in subscribers]
        seqs = [[frame["seq"] for frame in sub.frames] for sub in subscribers]
        assert seqs[0] == list(range(1, len(seqs[0]) + 1))
        assert all(s == seqs[0] for s in seqs), "a client missed or repeated an event"
        assert all(stream == streams[0] for stream in streams)
        assert all(frame["parts"] == 1 for frame in starter.frames)

        direct = await direct_run(slow_producer.url, "direct-1")
        assert normalised(streams[0]) == normalised(direct)
        assert conformant(streams[0], run_input("relayed-1")) == []
        kinds = {event["type"] for event in streams[0]}
        assert {"TOOL_CALL_ARGS", "TOOL_CALL_RESULT", "TEXT_MESSAGE_CONTENT"} <= kinds
        assert any(kind.startswith("REASONING") for kind in kinds)
    finally:
        err = bridge.stop()
    assert "Traceback" not in err, err


@pytest.mark.asyncio
async def test_the_upstream_killed_mid_run_ends_it_with_run_error(
    slow_producer: Producer, subscribers: list[Subscriber]
) -> None:
    bridge = Bridge("--agui-upstream", slow_producer.url)
    try:
        sub = Subscriber(bridge.url)
        subscribers.append(sub)
        await sub.subscribe(last_seq=0)
        assert sub.ws is not None
        await send(sub.ws, {"type": "run", "input": run_input("killed-1")})
        assert (await recv(sub.ws))["type"] == "run_accepted"
        await sub.next_frame()  # RUN_STARTED
        await sub.next_frame()
        slow_producer.kill()
        events = await asyncio.wait_for(sub.until_terminal(), TIMEOUT)
        error = events[-1]
        assert error["type"] == "RUN_ERROR"
        assert error["code"] == "upstream_truncated"
        assert "terminal event" in error["message"]
        assert not any(event["type"] == "RUN_FINISHED" for event in events)
        # Nothing is silently missing: seqs are contiguous from 1, a late subscriber that
        # replays the thread gets the very same events.
        assert [frame["seq"] for frame in sub.frames] == list(range(1, len(events) + 1))
        late = Subscriber(bridge.url)
        subscribers.append(late)
        await late.subscribe(last_seq=0)
        assert await asyncio.wait_for(late.until_terminal(), TIMEOUT) == events
        assert conformant(events, run_input("killed-1")) == []
    finally:
        bridge.stop()


def test_agui_verify_over_ws_judges_a_relayed_run_conformant(
    producer: Producer, tmp_path: Any
) -> None:
    """The done-when: a real AG-UI agent relayed by ``serve --agui-upstream`` verifies live."""
    bridge = Bridge("--agui-upstream", producer.url)
    try:
        given = tmp_path / "input.json"
        given.write_text(json.dumps(run_input("verified-1")))
        command = ["agui", "verify", bridge.url, "--thread", "agui-thread", "--input", str(given)]
        verify = subprocess.run(
            [sys.executable, "-m", "pytest_wsbridge.cli", *command, "--json"],
            capture_output=True,
            text=True,
            timeout=TIMEOUT * 2,
        )
    finally:
        bridge.stop()
    assert verify.returncode == 0, verify.stdout + verify.stderr
    report = json.loads(verify.stdout)
    assert report["conformant"] is True
    assert report["violations"] == []
    assert report["events"] >= 10


@pytest.mark.redis
@pytest.mark.asyncio
async def test_on_redis_the_relay_on_one_node_reaches_a_subscriber_on_another(
    slow_producer: Producer, redis_server: Any, redis_prefix: str
) -> None:
    async with AsyncExitStack() as stack:
        servers = []
        for _ in range(2):
            manager = ConnectionManager()
            bridge = await create_bridge(
                connection_manager=manager,
                orchestrator=ReferenceOrchestrator(),
                backend=RedisBackend(redis_server.url, key_prefix=redis_prefix),
            )
            stack.push_async_callback(bridge.close)
            server = BridgeServer(bridge, manager, close_timeout=1.0)
            await server.start(port=0)
            stack.push_async_callback(server.close)
            servers.append(server)
        node_a, node_b = servers
        relay = AguiRelay(node_a.bridge, slow_producer.url)
        stack.push_async_callback(relay.aclose)
        node_a.hub.relay = relay

        on_a = Subscriber(node_a.url)
        stack.push_async_callback(on_a.close)
        await on_a.subscribe(last_seq=0)
        on_b = BridgeClient(node_b.url, thread_id="agui-thread", last_seq=0, dialect="ag-ui")
        stack.push_async_callback(on_b.close)
        await on_b.connect()
        assert on_a.ws is not None
        await send(on_a.ws, {"type": "run", "input": run_input("on-redis")})
        assert (await recv(on_a.ws))["type"] == "run_accepted"

        got: list[Event] = []
        while not got or got[-1]["event"]["type"] not in ("RUN_FINISHED", "RUN_ERROR"):
            got.append(await on_b.receive(timeout=TIMEOUT))
            if len(got) == 3:  # node B's client loses its connection mid-run and resumes
                await on_b.resubscribe(on_b.last_seq, on_b.epoch)
        events = await asyncio.wait_for(on_a.until_terminal(), TIMEOUT)
    assert [frame["event"] for frame in got] == events
    assert [frame["seq"] for frame in got] == list(range(1, len(events) + 1))
    assert events[-1]["type"] == "RUN_FINISHED"
    assert conformant(events, run_input("on-redis")) == []
