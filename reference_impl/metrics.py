"""Operational counters of a bridge and its server. Pure: no I/O, no Prometheus import.

:class:`BridgeMetrics` is what the bridge and the sessions count into;
:mod:`reference_impl.prometheus` exposes it (and the live connection gauges) in the Prometheus
text format at scrape time, so the hot path only adds integers.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field, fields

__all__ = ["DEFAULT_LATENCY_BUCKETS", "BridgeMetrics", "LatencyHistogram"]

#: Upper bounds (seconds) of the emit → send latency buckets; ``+Inf`` is implied.
DEFAULT_LATENCY_BUCKETS: tuple[float, ...] = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)


@dataclass
class LatencyHistogram:
    """A fixed-bucket histogram of durations in seconds (Prometheus semantics, pure Python).

    ``counts[i]`` counts observations ``<= bounds[i]`` and ``> bounds[i - 1]``; the last slot
    counts those above every bound (``+Inf``). :meth:`cumulative` gives Prometheus' buckets.
    """

    bounds: tuple[float, ...] = DEFAULT_LATENCY_BUCKETS
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        if list(self.bounds) != sorted(set(self.bounds)) or not self.bounds:
            raise ValueError("bounds must be a non-empty, strictly increasing sequence")
        if not self.counts:
            self.counts = [0] * (len(self.bounds) + 1)

    def observe(self, seconds: float) -> None:
        """Count one duration (negative ones, from a clock step, count as 0)."""
        seconds = max(seconds, 0.0)
        self.counts[bisect_left(self.bounds, seconds)] += 1
        self.total += seconds
        self.count += 1

    def cumulative(self) -> list[tuple[float, int]]:
        """``(upper bound, observations <= it)`` for each bound, then ``(inf, count)``."""
        running = 0
        buckets: list[tuple[float, int]] = []
        for bound, n in zip((*self.bounds, float("inf")), self.counts, strict=True):
            running += n
            buckets.append((bound, running))
        return buckets


@dataclass
class BridgeMetrics:
    """Counters an operator watches; all start at zero and only grow.

    ``emitted`` = ``delivered`` + ``buffered``: every stored event either reached a live
    connection when emitted or waits in the log for a resume. ``resyncs`` counts the
    ``resync_required`` frames sessions sent; ``agui_violations`` counts AG-UI events a relay
    refused or repaired (whoever relays AG-UI counts into it). ``send_latency`` is the time
    from a ``notify_*`` call to the connection manager having taken a delivered event.
    """

    emitted: int = 0
    delivered: int = 0
    buffered: int = 0
    replayed: int = 0
    resolution_failures: int = 0
    rejected_events: int = 0
    send_errors: int = 0
    lifecycle_violations: int = 0
    dropped_slow_clients: int = 0
    refused_subscriptions: int = 0
    resyncs: int = 0
    agui_violations: int = 0
    send_latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    #: AG-UI runs relayed from an upstream agent (``reference_impl.agui.relay``).
    agui_runs: int = 0
    #: Relayed runs ended by an upstream fault (a ``RUN_ERROR`` from the relay).
    agui_upstream_faults: int = 0

    def snapshot(self) -> dict[str, int]:
        """Return the counters as a plain dict (the histogram is left out)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {name: value for name, value in values.items() if isinstance(value, int)}
