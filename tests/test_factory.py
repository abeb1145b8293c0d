"""Loading and calling bridge factories (``MODULE:CALLABLE``)."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_wsbridge.factory import (
    DEFAULT_FACTORY,
    FactoryError,
    call_factory,
    close_bridge,
    factory_name,
    load_factory,
)
from reference_impl import AgentWebSocketBridge, ConnectionManager, ReferenceOrchestrator
from reference_impl.bridge import create_bridge


@pytest.fixture
def factories() -> Iterator[types.ModuleType]:
    module = types.ModuleType("wsb_test_factories")

    def sync_factory(*, connection_manager: object, orchestrator: object) -> tuple[Any, ...]:
        return ("sync", connection_manager, orchestrator)

    async def async_factory(*, connection_manager: object, orchestrator: object) -> str:
        return "async"

    async def timed(
        *, connection_manager: object, orchestrator: object, init_timeout: float = 9.0
    ) -> float:
        return init_timeout

    class Holder:
        @staticmethod
        def make(*, connection_manager: object, orchestrator: object) -> str:
            return "nested"

    module.sync_factory = sync_factory  # type: ignore[attr-defined]
    module.async_factory = async_factory  # type: ignore[attr-defined]
    module.timed = timed  # type: ignore[attr-defined]
    module.Holder = Holder  # type: ignore[attr-defined]
    module.NOT_CALLABLE = 42  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    yield module
    del sys.modules[module.__name__]


def test_default_factory_is_the_reference_create_bridge() -> None:
    assert load_factory(DEFAULT_FACTORY) is create_bridge


def test_dotted_attribute(factories: types.ModuleType) -> None:
    assert load_factory("wsb_test_factories:Holder.make") is factories.Holder.make


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_colon", "is not of the form MODULE:CALLABLE"),
        (":create_bridge", "is not of the form MODULE:CALLABLE"),
        ("reference_impl:", "is not of the form MODULE:CALLABLE"),
        ("no_such_module_xyz:f", "cannot import module 'no_such_module_xyz'"),
        ("wsb_test_factories:missing", "has no attribute 'missing'"),
        ("wsb_test_factories:Holder.missing", "has no attribute 'Holder.missing'"),
        ("wsb_test_factories:NOT_CALLABLE", "names a int, not a callable"),
    ],
)
def test_bad_specs_say_how_to_fix_them(
    factories: types.ModuleType, spec: str, message: str
) -> None:
    with pytest.raises(FactoryError, match=message) as caught:
        load_factory(spec)
    assert isinstance(caught.value, ValueError)
    assert spec in str(caught.value)


@pytest.mark.asyncio
async def test_sync_and_async_factories(factories: types.ModuleType) -> None:
    manager, orchestrator = object(), object()
    assert await call_factory(
        factories.sync_factory, connection_manager=manager, orchestrator=orchestrator
    ) == ("sync", manager, orchestrator)
    assert (
        await call_factory(
            factories.async_factory, connection_manager=manager, orchestrator=orchestrator
        )
        == "async"
    )


@pytest.mark.asyncio
async def test_init_timeout_only_to_factories_that_take_it(factories: types.ModuleType) -> None:
    kwargs: dict[str, Any] = {"connection_manager": None, "orchestrator": None}
    assert await call_factory(factories.timed, init_timeout=0.5, **kwargs) == 0.5
    assert await call_factory(factories.timed, **kwargs) == 9.0
    assert await call_factory(factories.async_factory, init_timeout=0.5, **kwargs) == "async"
    # A callable without a readable signature just does not get it.
    assert await call_factory(ReturnsArgs(), init_timeout=0.5, **kwargs) == kwargs


class ReturnsArgs:
    @property
    def __signature__(self) -> Any:
        raise ValueError("no signature")

    def __call__(self, **kwargs: Any) -> dict[str, Any]:
        return kwargs


@pytest.mark.asyncio
async def test_reference_factory_builds_a_started_bridge() -> None:
    bridge = await call_factory(
        load_factory(DEFAULT_FACTORY),
        connection_manager=ConnectionManager(),
        orchestrator=ReferenceOrchestrator(),
        init_timeout=1.0,
    )
    assert isinstance(bridge, AgentWebSocketBridge)
    assert bridge.started
    await close_bridge(bridge)


def test_factory_name(factories: types.ModuleType) -> None:
    assert factory_name(create_bridge) == "reference_impl.bridge:create_bridge"
    assert factory_name("pkg:make") == "pkg:make"
    assert factory_name(factories.Holder.make) == (f"{__name__}:factories.<locals>.Holder.make")
    assert factory_name(42) == "42"


@pytest.mark.asyncio
async def test_close_bridge_prefers_aclose_and_tolerates_failures() -> None:
    calls: list[str] = []

    class Both:
        async def aclose(self) -> None:
            calls.append("aclose")

        def close(self) -> None:
            calls.append("close")

    class SyncClose:
        def close(self) -> None:
            calls.append("sync close")

    class Broken:
        async def close(self) -> None:
            raise RuntimeError("boom")

    await close_bridge(Both())
    await close_bridge(SyncClose())
    await close_bridge(Broken())
    await close_bridge(object())
    assert calls == ["aclose", "sync close"]
