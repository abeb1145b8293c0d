"""The app's own tests: HTTP under the plugin's strict checks, the WebSocket route for real.

The first tests hand the app the plugin's ``ws_bridge`` (the reference bridge, recorded) and
drive it through httpx's ASGI transport; ``wsbridge_strict = true`` in ``pytest.ini`` then checks
every event the app emitted reached its thread. The last ones serve the whole app with uvicorn on
127.0.0.1 and subscribe with the reference client, as a browser would.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
import uvicorn
from agentapp import AgentService, create_app

from reference_impl import ReferenceOrchestrator
from reference_impl.auth import TokenAuthenticator
from reference_impl.client import BridgeClient
from reference_impl.exceptions import ProtocolError

TOKENS = {"tok-alice": "alice", "tok-bob": "bob"}
RUN_TYPES = [
    "agent_started",
    "agent_thinking",
    "tool_executing",
    "tool_completed",
    "agent_completed",
]


@pytest.fixture
def service(ws_bridge: Any) -> AgentService:
    """The app's service around the plugin's recorded bridge (no WebSocket hub)."""
    return AgentService(ws_bridge, ReferenceOrchestrator(), TokenAuthenticator(TOKENS))


@pytest_asyncio.fixture
async def client(service: AgentService) -> AsyncIterator[httpx.AsyncClient]:
    """The app's test client: httpx over the ASGI app, no socket."""
    transport = httpx.ASGITransport(app=create_app(service))
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        yield client


async def _start(client: httpx.AsyncClient, thread_id: str, token: str) -> httpx.Response:
    return await client.post(
        f"/threads/{thread_id}/runs",
        json={"question": "tides"},
        headers={"Authorization": f"Bearer {token}"},
    )


@pytest.mark.asyncio
async def test_a_run_started_over_http_reaches_the_threads_browser(
    service: AgentService, client: httpx.AsyncClient, fake_connection_manager: Any
) -> None:
    browser = await fake_connection_manager.connect("thread-1")
    response = await _start(client, "thread-1", "tok-alice")
    assert response.status_code == 202
    await service.join()
    assert [m["type"] for m in browser.messages] == RUN_TYPES
    assert {m["run_id"] for m in browser.messages} == {response.json()["run_id"]}


@pytest.mark.asyncio
async def test_a_run_started_before_the_browser_connects_is_replayed(
    service: AgentService, client: httpx.AsyncClient, fake_connection_manager: Any
) -> None:
    assert (await _start(client, "thread-2", "tok-alice")).status_code == 202
    await service.join()
    browser = await fake_connection_manager.connect("thread-2", last_seq=0)
    assert [m["seq"] for m in browser.messages] == [1, 2, 3, 4, 5]


@pytest.mark.asyncio
async def test_http_refuses_a_bad_token_and_another_users_thread(
    service: AgentService, client: httpx.AsyncClient, fake_connection_manager: Any
) -> None:
    assert (await _start(client, "thread-3", "nope")).status_code == 401
    assert (await _start(client, "thread-3", "tok-alice")).status_code == 202
    assert (await _start(client, "thread-3", "tok-bob")).status_code == 403
    await service.join()
    assert fake_connection_manager.send_calls == len(RUN_TYPES)


@pytest.mark.asyncio
async def test_ops_mount_serves_the_bridges_metrics_and_the_viewer(
    service: AgentService, client: httpx.AsyncClient
) -> None:
    assert (await _start(client, "thread-4", "tok-alice")).status_code == 202
    await service.join()
    metrics = await client.get("/ops/metrics")
    assert metrics.status_code == 200
    assert "wsbridge_events_emitted_total 5.0" in metrics.text.splitlines()
    page = await client.get("/ops/?thread=thread-4&token=tok-alice")
    assert page.status_code == 200
    assert 'data-ws-path="/ws"' in page.text
    bare = await client.get("/ops", params={"thread": "t"}, follow_redirects=False)
    assert bare.status_code in (307, 308)
    assert (await client.get("/ops/static/wsbridge-client.js")).status_code == 200
    assert (await client.post("/ops/metrics")).status_code == 405


# -- the whole app on a real socket ---------------------------------------------------------------


@pytest_asyncio.fixture
async def app_url() -> AsyncIterator[str]:
    """The production-wired app served by uvicorn on 127.0.0.1 and a free port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen()  # connections wait in the backlog until uvicorn accepts: no polling needed
    host, port = sock.getsockname()
    config = uvicorn.Config(
        create_app(tokens=TOKENS), ws="websockets-sansio", log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield f"{host}:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, timeout=10)
        sock.close()


@pytest.mark.asyncio
async def test_the_browser_gets_each_run_over_the_apps_websocket_and_resumes(
    app_url: str,
) -> None:
    async with httpx.AsyncClient(base_url=f"http://{app_url}") as http:
        assert (await _start(http, "thread-ws", "tok-alice")).status_code == 202
        first = BridgeClient(
            f"ws://{app_url}/ws", thread_id="thread-ws", token="tok-alice", last_seq=0
        )
        async with first:
            events = [await first.receive(timeout=5) for _ in RUN_TYPES]
        assert [e["type"] for e in events] == RUN_TYPES
        assert [e["seq"] for e in events] == [1, 2, 3, 4, 5]

        assert (await _start(http, "thread-ws", "tok-alice")).status_code == 202
        resumed = BridgeClient(
            f"ws://{app_url}/ws",
            thread_id="thread-ws",
            token="tok-alice",
            last_seq=first.last_seq,
            epoch=first.epoch,
        )
        async with resumed:
            later = [await resumed.receive(timeout=5) for _ in RUN_TYPES]
        assert [e["seq"] for e in later] == [6, 7, 8, 9, 10]
        # The production hub's gauges and counters, over the app's own HTTP.
        metrics = (await http.get("/ops/metrics")).text.splitlines()
        assert "wsbridge_events_emitted_total 10.0" in metrics
        assert "wsbridge_connections 0.0" in metrics


@pytest.mark.asyncio
async def test_another_users_thread_is_refused_on_the_websocket(app_url: str) -> None:
    async with httpx.AsyncClient(base_url=f"http://{app_url}") as http:
        assert (await _start(http, "thread-alice", "tok-alice")).status_code == 202
    intruder = BridgeClient(
        f"ws://{app_url}/ws", thread_id="thread-alice", token="tok-bob", last_seq=0
    )
    try:
        with pytest.raises(ProtocolError, match="may not subscribe to thread 'thread-alice'"):
            await intruder.receive(timeout=5)
    finally:
        await intruder.close()
