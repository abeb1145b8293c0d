"""The plugin's fixtures: the bridge under test, wired to a recording, truthful manager.

``wsbridge_factory`` (override it in a conftest to name your factory) → ``ws_bridge`` (that
factory's bridge on ``fake_connection_manager`` and a healthy reference orchestrator, every
call and delivery recorded in a :class:`~pytest_wsbridge.ledger.Ledger`). Async fixtures
use ``pytest_asyncio.fixture`` with the project's default loop scope; none touches the event
loop fixture.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from reference_impl.connections import ConnectionManager
from reference_impl.orchestrator import ReferenceOrchestrator
from reference_impl.server import BridgeServer

from .factory import Factory, FactoryError, call_factory, close_bridge, load_factory
from .fakes import FakeConnectionManager, ReplayUnsupported
from .flow import WATCHES_KEY, BridgeWatch, plugin_state
from .ledger import Ledger
from .realserver import RealWsServer
from .waiting import answer_within

__all__ = [
    "fake_connection_manager",
    "real_ws_server",
    "resolve_factory",
    "ws_bridge",
    "wsbridge_factory",
    "wsbridge_server_options",
]


@pytest.fixture
def wsbridge_factory(request: pytest.FixtureRequest) -> Factory | str:
    """The bridge factory under test: ``--wsbridge-factory`` / ``wsbridge_factory``.

    Override this fixture (returning a callable or a ``MODULE:CALLABLE`` string) to test
    another factory in part of a suite.
    """
    return plugin_state(request.config).factory


@pytest.fixture
def fake_connection_manager() -> FakeConnectionManager:
    """An in-memory, truthful connection manager with fault injection (see ``fakes``)."""
    return FakeConnectionManager()


@pytest_asyncio.fixture
async def ws_bridge(
    request: pytest.FixtureRequest,
    fake_connection_manager: FakeConnectionManager,
    wsbridge_factory: Factory | str,
) -> AsyncIterator[Any]:
    """The factory's bridge on ``fake_connection_manager`` and a healthy orchestrator.

    Every notify and ``register_run`` call (by anyone holding the bridge) and every message
    a connection took are recorded; the plugin checks them after the test body.
    """
    ledger = Ledger()
    ledger.watch_deliveries(fake_connection_manager)
    bridge = await _watched_bridge(request, wsbridge_factory, fake_connection_manager, ledger)
    fake_connection_manager.bridge = bridge

    async def late_subscriber(thread_id: str, timeout: float) -> str:
        return await _late_fake_subscriber(fake_connection_manager, ledger, thread_id, timeout)

    watch = BridgeWatch(ledger, bridge, asyncio.get_running_loop(), late_subscriber)
    request.node.stash.setdefault(WATCHES_KEY, []).append(watch)
    try:
        yield bridge
    finally:
        await close_bridge(bridge)


@pytest.fixture
def wsbridge_server_options() -> dict[str, Any]:
    """Keyword arguments for ``real_ws_server``'s :class:`~reference_impl.server.BridgeServer`.

    Override it to add ``authenticator=`` / ``authorizer=`` (the default lets anyone in).
    """
    return {}


@pytest_asyncio.fixture
async def real_ws_server(
    request: pytest.FixtureRequest,
    wsbridge_factory: Factory | str,
    wsbridge_server_options: dict[str, Any],
) -> AsyncIterator[RealWsServer]:
    """The factory's bridge served by the reference server on 127.0.0.1, OS-chosen port.

    ``.url``, ``.bridge``, ``await .connect(thread_id, last_seq=None, token=...)`` returning a
    real client; what the clients receive is recorded and checked like ``ws_bridge``'s.
    """
    ledger = Ledger()
    manager = ConnectionManager()
    bridge = await _watched_bridge(request, wsbridge_factory, manager, ledger)
    options = {"host": "127.0.0.1", "port": 0, **wsbridge_server_options}
    server = BridgeServer(bridge, manager, **options)
    try:
        await server.start()
    except BaseException:
        await close_bridge(bridge)
        raise
    real = RealWsServer(server, ledger)
    watch = BridgeWatch(
        ledger,
        bridge,
        asyncio.get_running_loop(),
        real.late_subscriber,
        asynchronous_delivery=True,
        start_draining=real.start_draining,
    )
    request.node.stash.setdefault(WATCHES_KEY, []).append(watch)
    try:
        yield real
    finally:
        await real.aclose()


async def _watched_bridge(
    request: pytest.FixtureRequest, factory: Factory | str, manager: object, ledger: Ledger
) -> Any:
    """Build the factory's bridge on ``manager`` with a healthy orchestrator; record both."""
    ledger.watch_sends(manager)
    bridge = await call_factory(
        resolve_factory(factory),
        connection_manager=manager,
        orchestrator=ReferenceOrchestrator(),
        init_timeout=plugin_state(request.config).settings.init_timeout,
    )
    ledger.instrument(bridge)
    ledger.replay_available = callable(getattr(bridge, "replay", None))
    return bridge


def resolve_factory(factory: Factory | str) -> Factory:
    """A factory callable from a callable or a ``MODULE:CALLABLE`` string."""
    if not isinstance(factory, str):
        return factory
    try:
        return load_factory(factory)
    except FactoryError as exc:
        pytest.fail(str(exc), pytrace=False)


async def _late_fake_subscriber(
    manager: FakeConnectionManager, ledger: Ledger, thread_id: str, timeout: float
) -> str:
    answer = await answer_within(manager.connect(thread_id, last_seq=0), timeout)
    if isinstance(answer.error, ReplayUnsupported):
        return f"replay is unavailable, so no late subscriber could get it ({answer.error})"
    if answer.timed_out:  # only the limit: a replay that raises TimeoutError raised
        return f"a late subscriber resuming from seq 0: replay did not answer within {timeout:g}s"
    if answer.error is not None:
        return f"a late subscriber resuming from seq 0: replay raised {answer.error!r}"
    connection = answer.value
    assert connection is not None
    ledger.name_connection(connection, f"late subscriber of {thread_id!r} (resumed from seq 0)")
    await connection.close()
    return "a late subscriber resuming from seq 0 did not get it either (lost, not buffered)"
