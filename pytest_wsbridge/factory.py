"""Loading and calling a bridge factory (``MODULE:CALLABLE``), the plugin's one way to get a bridge.

A factory is called as ``factory(*, connection_manager, orchestrator)`` and returns a ready
bridge or an awaitable of one; all start-up happens inside that call.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

__all__ = ["DEFAULT_FACTORY", "FactoryError", "call_factory", "load_factory"]

DEFAULT_FACTORY = "reference_impl:create_bridge"

Factory = Callable[..., Any]


class FactoryError(ValueError):
    """A factory string that cannot be used; the message says why and how to fix it."""


def load_factory(spec: str) -> Factory:
    """Import ``MODULE:CALLABLE`` (``CALLABLE`` may be dotted) and return the callable."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise FactoryError(
            f"bridge factory {spec!r} is not of the form MODULE:CALLABLE "
            f"(for example {DEFAULT_FACTORY!r})"
        )
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise FactoryError(
            f"bridge factory {spec!r}: cannot import module {module_name!r} ({exc}). "
            "Check the module name and that its project is installed or on sys.path."
        ) from exc
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise FactoryError(
                f"bridge factory {spec!r}: module {module_name!r} has no attribute "
                f"{attribute!r}. Check the name after the colon."
            ) from None
    if not callable(target):
        raise FactoryError(
            f"bridge factory {spec!r} names a {type(target).__name__}, not a callable; "
            "point it at a function that takes connection_manager= and orchestrator="
        )
    return target  # type: ignore[no-any-return]


async def call_factory(
    factory: Factory, *, connection_manager: object, orchestrator: object
) -> Any:
    """Call ``factory`` and await its result if it is awaitable; return the bridge."""
    bridge = factory(connection_manager=connection_manager, orchestrator=orchestrator)
    if inspect.isawaitable(bridge):
        bridge = await bridge
    return bridge
