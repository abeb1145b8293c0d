"""``reference_impl.asgi.ops_app``: ``/metrics`` and the viewer for ASGI apps, over httpx."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import httpx
import pytest

from reference_impl import ConnectionManager, ReferenceOrchestrator, create_bridge
from reference_impl.asgi import ops_app
from reference_impl.bridge import AgentWebSocketBridge
from reference_impl.ids import generate_run_id
from reference_impl.session import SessionHub


async def hub_and_bridge() -> tuple[SessionHub, AgentWebSocketBridge]:
    manager = ConnectionManager()
    bridge = await create_bridge(connection_manager=manager, orchestrator=ReferenceOrchestrator())
    return SessionHub(bridge, manager), bridge


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app")


@pytest.mark.asyncio
async def test_metrics_and_viewer_of_a_hub() -> None:
    hub, bridge = await hub_and_bridge()
    await bridge.notify_agent_started(generate_run_id("t"), "agent")
    async with client(ops_app(hub, ws_path="/socket")) as http:
        metrics = await http.get("/metrics")
        assert metrics.status_code == 200
        lines = metrics.text.splitlines()
        assert "wsbridge_events_emitted_total 1.0" in lines
        assert "wsbridge_events_buffered_total 1.0" in lines
        assert "wsbridge_connections 0.0" in lines
        page = await http.get("/", params={"thread": "t", "token": "x"})
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert "connect-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["referrer-policy"] == "no-referrer"
        assert 'data-ws-path="/socket"' in page.text
        head = await http.head("/metrics")
        assert (head.status_code, head.content) == (200, b"")
        assert (await http.put("/metrics")).status_code == 405
        missing = await http.get("/static/secrets.txt")
        assert missing.status_code == 404
        assert "/metrics" in missing.text
    await bridge.close()


@pytest.mark.asyncio
async def test_a_lazy_hub_is_read_when_scraped_and_viewer_can_be_off() -> None:
    current: dict[str, Any] = {}
    app = ops_app(lambda: current["hub"], viewer=False)  # built in the app's lifespan
    hub, bridge = await hub_and_bridge()
    current["hub"] = hub
    async with client(app) as http:
        assert "wsbridge_events_emitted_total 0.0" in (await http.get("/metrics")).text
        await bridge.notify_agent_started(generate_run_id("t"), "agent")
        assert "wsbridge_events_emitted_total 1.0" in (await http.get("/metrics")).text
        assert (await http.get("/")).status_code == 404
    await bridge.close()


@pytest.mark.asyncio
async def test_mounted_under_a_prefix_either_way_a_server_reports_it() -> None:
    hub, bridge = await hub_and_bridge()
    app = ops_app(hub)
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    base = {"type": "http", "method": "GET", "query_string": b"thread=t", "root_path": "/ops"}
    # Starlette >= 0.35 keeps the prefix in "path"; older servers strip it.
    for path in ("/ops/metrics", "/metrics"):
        sent.clear()
        await app({**base, "path": path}, receive, send)
        assert sent[0]["status"] == 200
    sent.clear()
    await app({**base, "path": "/ops"}, receive, send)
    assert sent[0]["status"] == 307
    assert (b"location", b"/ops/?thread=t") in sent[0]["headers"]
    with pytest.raises(RuntimeError, match="HTTP only"):
        await app({"type": "websocket", "path": "/"}, receive, send)
    await bridge.close()


def test_an_object_without_bridge_metrics_is_refused_at_once() -> None:
    with pytest.raises(TypeError, match="no BridgeMetrics"):
        ops_app(object())
