"""The plugin's markers: one table, read by the plugin (to declare them) and by the per-test
flow (to know which check each one asks for).

Adding a marker is one row here. A marker whose ``check`` names one of
:data:`pytest_wsbridge.checks.CHECKS` is handled by :func:`pytest_wsbridge.flow.check_item`;
one with ``check=None`` is only declared, for a hook of its own to act on. Pure data.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AGUI_MARKER", "MARKERS", "Marker", "checks_by_marker"]

AGUI_MARKER = "wsbridge_agui"
"""Judged by :func:`pytest_wsbridge.agui.testing.check_agui_item`, not by a ledger check."""


@dataclass(frozen=True)
class Marker:
    """One ``@pytest.mark.<name>``: what it asks for, in the words ``pytest --markers`` shows."""

    name: str
    check: str | None
    """The check it applies (``delivery``), or ``None`` when a hook of its own acts on it."""
    description: str

    def ini_line(self) -> str:
        """The ``markers`` ini line that declares it."""
        return f"{self.name}: {self.description}"


MARKERS: tuple[Marker, ...] = (
    Marker(
        "wsbridge_delivery",
        "delivery",
        "every event the test emitted through the bridge fixtures reached a connection of its "
        "run's thread, in order, without duplicates (threads with undelivered events first get "
        "a late subscriber resuming from seq 0)",
    ),
    Marker(
        "wsbridge_threads",
        "threads",
        "a notify call for a run without a thread raised, and no event was routed to another "
        "thread than its run's (the run-id fallback included)",
    ),
    Marker(
        "wsbridge_fail_fast",
        "fail_fast",
        "the bridge factory raises within wsbridge_init_timeout when the orchestrator is None, "
        "unhealthy, hanging or not an orchestrator (the cases of WSB-3.1-3.4 and 3.6)",
    ),
    Marker(
        AGUI_MARKER,
        None,
        "every AG-UI stream the test collected (agui_stream fixture) conforms to AG-UI 1.1; "
        "--wsbridge-strict applies it wherever agui_stream is used",
    ),
)
"""Every marker of the plugin, in the order ``pytest --markers`` lists them."""


def checks_by_marker() -> dict[str, str]:
    """``marker name -> check`` for the markers that apply a check."""
    return {marker.name: marker.check for marker in MARKERS if marker.check is not None}
