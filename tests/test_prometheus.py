"""``GET /metrics``: the bridge's counters, gauges and latency histogram in Prometheus format."""

from __future__ import annotations

import asyncio
import json
import math
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from server_support import (
    TIMEOUT,
    WSBRIDGE,
    WSBRIDGE_ENV,
    raw,
    recv,
    running_stack,
    serve_demo,
    subscribe,
)

from reference_impl.metrics import BridgeMetrics, LatencyHistogram
from reference_impl.prometheus import COUNTERS, registry_for, render

REQUIRED = {
    "wsbridge_events_emitted",
    "wsbridge_events_delivered",
    "wsbridge_events_buffered",
    "wsbridge_resolution_failures",
    "wsbridge_replayed",
    "wsbridge_resyncs",
    "wsbridge_slow_consumers_dropped",
    "wsbridge_agui_violations",
}


def samples(text: str) -> dict[str, float]:
    """``{sample name with labels: value}`` of a Prometheus text page (parsed, not grepped)."""
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            found[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return found


async def scrape(url: str) -> tuple[int, str, str]:
    """GET ``url`` in a thread (urllib: a client that knows nothing of WebSockets)."""

    def get() -> tuple[int, str, str]:
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
                return response.status, response.headers["Content-Type"], response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers["Content-Type"], exc.read().decode()

    return await asyncio.to_thread(get)


def test_every_required_counter_is_exported() -> None:
    assert {name for _, name, _ in COUNTERS} >= REQUIRED
    metrics = BridgeMetrics()
    for index, (attribute, _, _) in enumerate(COUNTERS):
        setattr(metrics, attribute, index + 1)
    found = samples(render(registry_for(_HasMetrics(metrics))).decode())
    for index, (_, name, _) in enumerate(COUNTERS):
        assert found[f"{name}_total"] == index + 1
    # A bridge alone has no sessions: counters, no gauges.
    assert "wsbridge_connections" not in found


class _HasMetrics:
    def __init__(self, metrics: BridgeMetrics) -> None:
        self.metrics = metrics


def test_registry_for_refuses_an_object_without_bridge_metrics() -> None:
    with pytest.raises(TypeError, match="no BridgeMetrics"):
        registry_for(object())


@given(st.lists(st.floats(min_value=-1.0, max_value=10.0, allow_nan=False), max_size=50))
def test_latency_histogram_buckets_are_cumulative(values: list[float]) -> None:
    histogram = LatencyHistogram()
    for value in values:
        histogram.observe(value)
    buckets = histogram.cumulative()
    assert buckets[-1] == (math.inf, len(values))
    assert [n for _, n in buckets] == sorted(n for _, n in buckets)
    for bound, n in buckets:
        assert n == sum(1 for v in values if max(v, 0.0) <= bound)
    assert histogram.total == pytest.approx(sum(max(v, 0.0) for v in values))


def test_latency_histogram_needs_increasing_bounds() -> None:
    with pytest.raises(ValueError, match="strictly increasing"):
        LatencyHistogram(bounds=(0.1, 0.1))


@pytest.mark.asyncio
async def test_metrics_follow_a_live_server() -> None:
    async with running_stack() as stack:
        url = stack.server.http_url + "/metrics"
        status, content_type, text = await scrape(url)
        assert status == 200
        assert content_type.startswith("text/plain; version=")
        before = samples(text)
        assert before["wsbridge_connections"] == 0
        assert before["wsbridge_events_emitted_total"] == 0

        await stack.emit("alice-1", 2)  # nobody connected: buffered
        async with raw(stack.server.url) as ws:
            assert (await subscribe(ws, "alice-1", last_seq=0))["recovered"] == 2
            await recv(ws)
            await recv(ws)
            await stack.emit("alice-1", 3)  # delivered live
            for _ in range(3):
                await recv(ws)
            during = samples((await scrape(url))[2])
            assert during["wsbridge_connections"] == 1
            assert during["wsbridge_subscriptions"] == 1
        assert during["wsbridge_events_emitted_total"] == 5
        assert during["wsbridge_events_buffered_total"] == 2
        assert during["wsbridge_events_delivered_total"] == 3
        assert during["wsbridge_replayed_total"] == 2
        assert during["wsbridge_emit_to_send_seconds_count"] == 3
        assert during['wsbridge_emit_to_send_seconds_bucket{le="+Inf"}'] == 3


@pytest.mark.asyncio
async def test_resyncs_and_refused_subscriptions_are_counted() -> None:
    async with running_stack() as stack:
        await stack.emit("alice-1", 1)
        async with raw(stack.server.url) as ws:
            answer = await subscribe(ws, "alice-1", last_seq=1, epoch="an-old-epoch")
            assert answer["type"] == "resync_required"
        async with raw(stack.server.url) as ws:
            assert (await subscribe(ws, "bob-1"))["type"] == "error"
        found = samples((await scrape(stack.server.http_url + "/metrics"))[2])
        assert found["wsbridge_resyncs_total"] == 1
        assert found["wsbridge_subscriptions_refused_total"] == 1


@pytest.mark.asyncio
async def test_two_servers_in_one_process_keep_their_own_counts() -> None:
    async with running_stack() as one, running_stack() as two:
        assert one.server.registry is not two.server.registry
        await one.emit("alice-1", 4)
        await two.emit("alice-1", 1)
        first = samples((await scrape(one.server.http_url + "/metrics"))[2])
        second = samples((await scrape(two.server.http_url + "/metrics"))[2])
        assert first["wsbridge_events_emitted_total"] == 4
        assert second["wsbridge_events_emitted_total"] == 1


@pytest.mark.asyncio
async def test_http_side_answers_pages_and_lets_websockets_through() -> None:
    async with running_stack() as stack:
        base = stack.server.http_url
        status, content_type, page = await scrape(base + "/?thread=alice-1&token=token-alice")
        assert (status, content_type) == (200, "text/html; charset=utf-8")
        assert 'data-ws-path="/"' in page
        status, content_type, script = await scrape(base + "/static/wsbridge-client.js")
        assert (status, content_type) == (200, "text/javascript; charset=utf-8")
        assert "WsBridgeClient" in script
        status, _, text = await scrape(base + "/nope")
        assert status == 404
        assert "/metrics" in text
        # The same port still speaks WebSocket.
        async with raw(stack.server.url) as ws:
            assert (await subscribe(ws, "alice-1"))["type"] == "subscribed"


@pytest.mark.asyncio
async def test_http_off_leaves_only_websockets() -> None:
    async with running_stack(http=False) as stack:
        assert stack.server.web is None
        status, _, _ = await scrape(stack.server.http_url + "/metrics")
        assert status in (400, 426)  # websockets refuses a request that is not a handshake


def test_curl_metrics_of_serve_demo_shows_emitted_and_delivered_moving() -> None:
    """The issue's done-when: ``wsbridge serve --demo``, someone watching, two scrapes."""
    serve = serve_demo()
    tail: subprocess.Popen[str] | None = None
    try:
        assert serve.stdout is not None
        lines = [serve.stdout.readline() for _ in range(5)]
        command = lines[2].split()
        assert command[:2] == ["wsbridge", "tail"], lines
        viewer = re.search(r"open (http://\S+) in a browser", lines[3])
        assert viewer is not None, lines
        assert viewer[1].endswith("/?thread=demo-thread&token=demo-token")
        metrics_url = re.search(r"metrics at (http://\S+)", lines[4])
        assert metrics_url is not None, lines
        tail = subprocess.Popen(
            [*WSBRIDGE, *command[1:]], stdout=subprocess.PIPE, text=True, env=WSBRIDGE_ENV
        )
        assert tail.stdout is not None
        tail.stdout.readline()  # watching: live events are delivered from now on

        def counters() -> tuple[float, float]:
            with urllib.request.urlopen(metrics_url[1], timeout=TIMEOUT) as response:
                found = samples(response.read().decode())
            return found["wsbridge_events_emitted_total"], found["wsbridge_events_delivered_total"]

        first = counters()
        deadline = time.monotonic() + TIMEOUT
        while not ((second := counters())[0] > first[0] and second[1] > first[1]):
            assert time.monotonic() < deadline, f"counters stuck: {first} then {second}"
            time.sleep(0.05)
    finally:
        if tail is not None:
            tail.terminate()
            tail.communicate(timeout=30)
        serve.send_signal(signal.SIGTERM)
        _, stderr = serve.communicate(timeout=30)
    assert serve.returncode == 0, stderr


def test_every_metric_the_operations_page_names_is_exported() -> None:
    """docs/operations.md's table, scrape config and alerts name only metrics that exist."""
    page = (Path(__file__).parent.parent / "docs" / "operations.md").read_text(encoding="utf-8")
    named = set(re.findall(r"\bwsbridge_[a-z_]+[a-z]\b", page))
    metrics = BridgeMetrics()
    metrics.send_latency.observe(0.001)
    hub = SimpleNamespace(metrics=metrics, sessions=set())
    exported = set(samples(render(registry_for(hub)).decode()))
    exported |= {name.split("{")[0] for name in exported}
    exported |= {name.removesuffix("_bucket") for name in exported}
    assert named, "the page names no metric"
    assert named <= exported, f"named but not exported: {sorted(named - exported)}"


@pytest.mark.agui
@pytest.mark.asyncio
async def test_agui_violations_of_a_relayed_upstream_are_counted_on_metrics() -> None:
    """The relay counts what the validator finds in an upstream's stream; /metrics shows it.
    The upstream is an httpx transport that injects the fault: content outside a message."""
    import httpx

    from reference_impl.agui.relay import AguiRelay

    run = {"threadId": "alice-1", "runId": "relayed-1"}
    stream = [
        {"type": "RUN_STARTED", **run},
        {"type": "TEXT_MESSAGE_CONTENT", "messageId": "m-1", "delta": "no start before me"},
        {"type": "RUN_FINISHED", **run},
    ]
    body = b"".join(f"data: {json.dumps(event)}\n\n".encode() for event in stream)

    def upstream(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    run_input = {
        **run,
        "state": {},
        "messages": [],
        "tools": [],
        "context": [],
        "forwardedProps": {},
    }
    async with running_stack() as stack:
        url = stack.server.http_url + "/metrics"
        assert samples((await scrape(url))[2])["wsbridge_agui_violations_total"] == 0
        relay = AguiRelay(
            stack.bridge, "http://upstream.test/agent", transport=httpx.MockTransport(upstream)
        )
        try:
            result = await asyncio.wait_for(relay.run(run_input), TIMEOUT)
        finally:
            await relay.aclose()
        assert result.events == len(stream)
        assert result.violations, "the injected fault is a violation"
        found = samples((await scrape(url))[2])
    assert found["wsbridge_agui_violations_total"] == len(result.violations)
    assert found["wsbridge_events_emitted_total"] == len(stream)
