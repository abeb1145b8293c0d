"""Loading and calling a bridge factory (``MODULE:CALLABLE``), the plugin's one way to get a bridge.

A factory is called as ``factory(*, connection_manager, orchestrator)`` and returns a ready
bridge or an awaitable of one; all start-up happens inside that call. A factory that also
declares an ``init_timeout`` parameter (the reference ``create_bridge`` does) gets the plugin's
``wsbridge_init_timeout`` through it.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

from .exceptions import FactoryError
from .waiting import answer_within

__all__ = [
    "DEFAULT_FACTORY",
    "FactoryError",
    "call_factory",
    "close_bridge",
    "factory_name",
    "load_factory",
]

DEFAULT_FACTORY = "reference_impl:create_bridge"

Factory = Callable[..., Any]


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
    factory: Factory,
    *,
    connection_manager: object,
    orchestrator: object,
    init_timeout: float | None = None,
) -> Any:
    """Call ``factory`` and await its result if it is awaitable; return the bridge.

    ``init_timeout`` is passed only to a factory that declares a parameter of that name.
    """
    extra: dict[str, Any] = {}
    if init_timeout is not None and _accepts(factory, "init_timeout"):
        extra["init_timeout"] = init_timeout
    bridge = factory(connection_manager=connection_manager, orchestrator=orchestrator, **extra)
    if inspect.isawaitable(bridge):
        bridge = await bridge
    return bridge


_ACCEPTS: dict[tuple[int, str], tuple[Factory, bool]] = {}
"""``(id(factory), name) -> (factory, answer)``: ``inspect.signature`` costs more than a
test's checks, and the same factory is called once per test. The factory is kept so its id
cannot be reused while the entry lives."""


def _accepts(factory: Factory, name: str) -> bool:
    key = (id(factory), name)
    cached = _ACCEPTS.get(key)
    if cached is not None and cached[0] is factory:
        return cached[1]
    answer = _signature_accepts(factory, name)
    if len(_ACCEPTS) < 256:
        _ACCEPTS[key] = (factory, answer)
    return answer


def _signature_accepts(factory: Factory, name: str) -> bool:
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False
    parameter = parameters.get(name)
    return parameter is not None and parameter.kind in (
        inspect.Parameter.KEYWORD_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    )


def factory_name(factory: object) -> str:
    """``MODULE:QUALNAME`` of a factory (its ``repr`` when it has no such names)."""
    if isinstance(factory, str):
        return factory
    module = getattr(factory, "__module__", None)
    qualname = getattr(factory, "__qualname__", None)
    return f"{module}:{qualname}" if module and qualname else repr(factory)


async def close_bridge(bridge: object, *, timeout: float = 2.0) -> str | None:
    """Call the bridge's ``aclose()`` or ``close()`` if it has one (sync or async), best effort.

    Closing is clean-up after the verdict, so nothing it does fails anything: it returns
    ``None`` when the bridge closed (or has nothing to close), else what went wrong, in words
    that keep a close that raised ``TimeoutError`` apart from one that did not finish within
    ``timeout``.
    """
    for name in ("aclose", "close"):
        close = getattr(bridge, name, None)
        if not callable(close):
            continue
        try:
            result = close()
        except Exception as exc:
            return f"{name}() raised {exc!r}"
        if not inspect.isawaitable(result):
            return None
        answer = await answer_within(result, timeout)
        if answer.timed_out:
            return f"{name}() did not finish within {timeout:g}s"
        if answer.error is not None:
            return f"{name}() raised {answer.error!r}"
        return None
    return None
