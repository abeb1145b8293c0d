"""What the plugin keeps between hooks: the session state and one watch per bridge fixture.

A :class:`BridgeWatch` is created by a bridge fixture (``ws_bridge``, ``real_ws_server``) and
stored on the test item. After the test body, the plugin's ``pytest_runtest_call`` wrapper
(:func:`check_item`) settles each watch *on the test's own event loop* — wait for in-flight
events, give threads with undelivered events a late subscriber — then runs the checks and
fails the test in its call phase. The verdicts go into the session's
:class:`~pytest_wsbridge.report.SessionReport`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from .checks import (
    CHECKS,
    Violation,
    analyze,
    check_fail_fast,
    format_violations,
    in_flight,
    run_checks,
)
from .checks import undelivered_threads as _undelivered_threads
from .config import WsBridgeSettings
from .factory import Factory, FactoryError, factory_name, load_factory
from .failfast import BackgroundProbe, probe_factory
from .ledger import Ledger
from .markers import checks_by_marker
from .report import SessionReport, TestRecord
from .waiting import wait_for_ledger

__all__ = [
    "STATE_KEY",
    "WATCHES_KEY",
    "BridgeWatch",
    "PluginState",
    "applicable_checks",
    "check_item",
    "plugin_state",
]

LateSubscriber = Callable[[str, float], Awaitable[str]]
"""``(thread_id, seconds left) -> note``: subscribe late, resuming from seq 0."""


@dataclass
class BridgeWatch:
    """One bridge under watch in one test: its ledger and how to settle it."""

    ledger: Ledger
    bridge: object
    loop: asyncio.AbstractEventLoop
    late_subscriber: LateSubscriber
    asynchronous_delivery: bool = False
    start_draining: Callable[[], Callable[[], Awaitable[None]]] | None = None
    """Start reading what open clients have not read yet; returns the stopper."""

    async def settle(self, timeout: float, *, late_subscribers: bool) -> None:
        """Wait up to ``timeout`` for in-flight events, then subscribe late where needed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        stop = self.start_draining() if self.start_draining is not None else None
        try:
            await asyncio.sleep(0)  # let callbacks the body scheduled run once
            await wait_for_ledger(
                self.ledger,
                lambda: (
                    not in_flight(self.ledger, asynchronous_delivery=self.asynchronous_delivery)
                ),
                timeout,
            )
        finally:
            if stop is not None:
                await stop()
        if not late_subscribers:
            return
        for thread_id in _undelivered_threads(self.ledger):
            remaining = max(deadline - loop.time(), min(timeout, 0.5))
            note = await self.late_subscriber(thread_id, remaining)
            self.ledger.late_subscribers[thread_id] = note

    def settle_now(self, timeout: float, *, late_subscribers: bool) -> str | None:
        """Run :meth:`settle` on the bridge's loop from a hook; a note if that was impossible."""
        if self.loop.is_closed():
            return "the test's event loop was already closed: in-flight events not awaited"
        if self.loop.is_running():
            return "the test's event loop was still running: in-flight events not awaited"
        if self.settled(late_subscribers=late_subscribers):
            return None
        self.loop.run_until_complete(self.settle(timeout, late_subscribers=late_subscribers))
        return None

    def settled(self, *, late_subscribers: bool) -> bool:
        """Whether :meth:`settle` could change nothing, so the loop need not run at all.

        True when the loop has no callback ready to run (what ``settle``'s first
        ``sleep(0)`` would let run), nothing is in flight, no thread needs a late subscriber
        and no open client is left to drain. Only known for a loop that exposes its ready
        queue (asyncio's own); any other loop is always settled the long way. Running the
        loop costs about as much as the checks themselves.
        """
        ready = getattr(self.loop, "_ready", None)
        if ready is None or len(ready) or self.start_draining is not None:
            return False
        if in_flight(self.ledger, asynchronous_delivery=self.asynchronous_delivery):
            return False
        return not (late_subscribers and _undelivered_threads(self.ledger))


@dataclass
class PluginState:
    """The plugin's session: settings, the configured factory, fail-fast verdicts, report."""

    settings: WsBridgeSettings
    factory: Factory
    report: SessionReport
    fail_fast_verdicts: dict[Any, list[Violation]] = field(default_factory=dict)
    background: BackgroundProbe | None = None
    """The configured factory's probe, started when the session collected a test needing it."""

    def start_probe(self) -> None:
        """Start probing the configured factory in the background (once)."""
        if self.background is None:
            self.background = BackgroundProbe(self.factory, init_timeout=self.settings.init_timeout)

    def name_of(self, factory: object) -> str:
        """``MODULE:CALLABLE`` of a factory (the configured one by its configured name)."""
        if factory is self.factory:
            return self.settings.factory
        return factory if isinstance(factory, str) else factory_name(factory)

    def fail_fast(self, factory: object) -> list[Violation]:
        """The fail-fast verdict for ``factory`` (a callable or ``MODULE:CALLABLE``), cached."""
        name = self.name_of(factory)
        try:
            callable_ = load_factory(factory) if isinstance(factory, str) else factory
        except FactoryError as exc:
            return [Violation("fail_fast", str(exc))]
        key = callable_ if _hashable(callable_) else id(callable_)
        if key not in self.fail_fast_verdicts:
            timeout = self.settings.init_timeout
            if callable_ is self.factory and self.background is not None:
                outcomes = self.background.result()
            else:
                outcomes = probe_factory(callable_, init_timeout=timeout)  # type: ignore[arg-type]
            self.fail_fast_verdicts[key] = check_fail_fast(name, outcomes, timeout)
        return self.fail_fast_verdicts[key]


STATE_KEY = pytest.StashKey[PluginState]()
WATCHES_KEY = pytest.StashKey[list[BridgeWatch]]()

BRIDGE_FIXTURES = ("ws_bridge", "real_ws_server")
_CHECKS_BY_MARKER = checks_by_marker()


def plugin_state(config: pytest.Config) -> PluginState:
    """The session's :class:`PluginState` (set up by the plugin's ``pytest_configure``)."""
    return config.stash[STATE_KEY]


def applicable_checks(item: pytest.Item, strict: bool) -> list[str]:
    """The checks that apply to ``item``: its markers', or all of them in strict mode."""
    uses_bridge = any(name in getattr(item, "fixturenames", ()) for name in BRIDGE_FIXTURES)
    if strict and uses_bridge:
        return list(CHECKS)
    return [check for marker, check in _CHECKS_BY_MARKER.items() if item.get_closest_marker(marker)]


def check_item(item: pytest.Item) -> None:
    """Settle and check every bridge the test used; ``pytest.fail`` on any violation."""
    state = plugin_state(item.config)
    checks = applicable_checks(item, state.settings.strict)
    if not checks:
        return
    settings = state.settings
    funcargs: dict[str, Any] = getattr(item, "funcargs", {})
    factory = funcargs.get("wsbridge_factory", state.factory)
    record = TestRecord(item.nodeid, checks, factory=state.name_of(factory))
    violations: list[Violation] = []
    ledger_checks = [c for c in checks if c != "fail_fast"]
    for watch in item.stash.get(WATCHES_KEY, []) if ledger_checks else []:
        note = watch.settle_now(
            settings.delivery_timeout, late_subscribers="delivery" in ledger_checks
        )
        if note:
            record.notes.append(note)
        if not watch.ledger.replay_available:
            record.notes.append(
                f"{type(watch.bridge).__name__} has no replay(): late subscribers and "
                "resuming connections cannot catch up"
            )
        analysis = analyze(watch.ledger)
        violations += run_checks(watch.ledger, ledger_checks, analysis)
        record.emitted += analysis.emitted
        record.delivered += analysis.delivered
    if "fail_fast" in checks:
        violations += state.fail_fast(factory)
    record.violations = [v.to_dict() for v in violations]
    state.report.add(record)
    if violations:
        pytest.fail(format_violations(violations), pytrace=False)


def _hashable(value: object) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True
