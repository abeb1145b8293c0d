"""The bridge's counters in the Prometheus text format (``prometheus-client``).

:class:`BridgeCollector` reads a :class:`~reference_impl.metrics.BridgeMetrics` and the live
sessions of a :class:`~reference_impl.session.SessionHub` when scraped: nothing is counted
twice and the hot path never touches ``prometheus_client``. :func:`registry_for` gives each
server its own :class:`~prometheus_client.CollectorRegistry` (no global registry: several
servers in one process never collide); :func:`render` is what ``GET /metrics`` answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from .metrics import BridgeMetrics

__all__ = ["CONTENT_TYPE", "COUNTERS", "BridgeCollector", "registry_for", "render"]

#: The ``Content-Type`` of :func:`render`'s text.
CONTENT_TYPE: str = CONTENT_TYPE_LATEST

#: ``(BridgeMetrics field, metric name without _total, help)``: the exported counters.
COUNTERS: tuple[tuple[str, str, str], ...] = (
    ("emitted", "wsbridge_events_emitted", "Events stored in a thread's log (every notify call)."),
    (
        "delivered",
        "wsbridge_events_delivered",
        "Events a live connection of their thread took when emitted.",
    ),
    (
        "buffered",
        "wsbridge_events_buffered",
        "Events stored with no live connection to take them; kept for a resume.",
    ),
    (
        "resolution_failures",
        "wsbridge_resolution_failures",
        "notify calls whose run had no thread (ThreadResolutionError raised).",
    ),
    ("replayed", "wsbridge_replayed", "Events sent again to clients that resumed."),
    (
        "resyncs",
        "wsbridge_resyncs",
        "resync_required frames sent (a resume the log could not serve).",
    ),
    (
        "dropped_slow_clients",
        "wsbridge_slow_consumers_dropped",
        "Connections closed (4008) because their send queue overflowed.",
    ),
    (
        "agui_violations",
        "wsbridge_agui_violations",
        "AG-UI events a relay found in violation of the AG-UI protocol.",
    ),
    ("rejected_events", "wsbridge_events_rejected", "notify calls refused as invalid events."),
    ("send_errors", "wsbridge_send_errors", "Sends to a thread's connections that raised."),
    (
        "lifecycle_violations",
        "wsbridge_lifecycle_violations",
        "Events out of lifecycle order (started, thinking/tools, completed|error).",
    ),
    (
        "refused_subscriptions",
        "wsbridge_subscriptions_refused",
        "Subscriptions refused to a user not allowed the thread (close 1008).",
    ),
)


class BridgeCollector(Collector):
    """Collects ``metrics`` and, given ``hub``, the connection and subscription gauges."""

    def __init__(self, metrics: BridgeMetrics, hub: Any = None) -> None:
        self.metrics = metrics
        self.hub = hub

    def collect(self) -> Iterator[Metric]:
        metrics = self.metrics
        for attribute, name, documentation in COUNTERS:
            yield CounterMetricFamily(name, documentation, value=getattr(metrics, attribute))
        latency = metrics.send_latency
        yield HistogramMetricFamily(
            "wsbridge_emit_to_send_seconds",
            "Seconds from a notify call to a live connection having taken the event.",
            buckets=[(_bound(b), n) for b, n in latency.cumulative()],
            sum_value=latency.total,
        )
        if self.hub is not None:
            sessions: Iterable[Any] = list(self.hub.sessions)
            connections = subscriptions = 0
            for session in sessions:
                connections += 1
                subscriptions += len(session.subscriptions)
            yield GaugeMetricFamily(
                "wsbridge_connections", "Open client sessions (WebSocket connections).", connections
            )
            yield GaugeMetricFamily(
                "wsbridge_subscriptions",
                "Thread subscriptions of open sessions.",
                subscriptions,
            )


def _bound(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


def registry_for(hub: Any) -> CollectorRegistry:
    """A new registry holding a :class:`BridgeCollector` of ``hub``.

    ``hub`` is a :class:`~reference_impl.session.SessionHub` (counters and gauges) or any
    object with a ``metrics`` attribute holding a :class:`BridgeMetrics` (counters only).
    """
    metrics = getattr(hub, "metrics", None)
    if not isinstance(metrics, BridgeMetrics):
        raise TypeError(
            f"{type(hub).__name__} has no BridgeMetrics in .metrics; pass a SessionHub or "
            "the reference bridge"
        )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BridgeCollector(metrics, hub if hasattr(hub, "sessions") else None))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """The registry's samples in the Prometheus text format (see :data:`CONTENT_TYPE`)."""
    return generate_latest(registry)
