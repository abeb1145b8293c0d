"""Operational counters of a bridge and its server."""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["BridgeMetrics"]


@dataclass
class BridgeMetrics:
    """Counters an operator watches; all start at zero and only grow.

    ``emitted`` = ``delivered`` + ``buffered``: every stored event either reached a live
    connection when emitted or waits in the log for a resume.
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

    def snapshot(self) -> dict[str, int]:
        """Return the counters as a plain dict."""
        return asdict(self)
