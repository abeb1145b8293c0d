"""Dialects: how one event is written on the wire, and the cache that writes it once.

A subscriber reads a thread's events in a *dialect*. The native dialect is the bridge's own
JSON (one frame per event: the wire dict of :class:`~reference_impl.events.EventMessage`);
other dialects, such as AG-UI, map each event to one or more frames of their own.

**Writing a dialect.** A :class:`Dialect` has a ``name`` and an ``encode(message)`` that turns
one wire dict into its frames' texts, in order (one event may become several frames: AG-UI
writes ``tool_executing`` as ``TOOL_CALL_START``, ``TOOL_CALL_ARGS`` and ``TOOL_CALL_END``).
``encode`` must be a pure function of the message:

- no per-connection state, since one encoding serves every subscriber of that dialect;
- defined for every type in :data:`~reference_impl.events.EVENTS`, including rows added
  later, so map what you know and give the rest a fallback (:class:`MappedDialect` makes the
  fallback explicit; ``tests/test_dialects.py`` encodes a sample of every row with every
  registered dialect);
- never mutating the message (the native dialect and other dialects share it).

How a subscriber resumes in a dialect (where ``seq`` and ``epoch`` travel) is the dialect's
own contract, documented with it.

**Registering one.** :data:`DIALECTS` maps names to dialects. A built-in dialect is one line
in :data:`BUILT_IN` (``name -> "module:attribute"``), imported on first use, so this module
imports none of them. An application registers its own with :func:`register_dialect`.
:func:`get_dialect` returns one by name or raises :class:`UnknownDialectError`.

**Encoding once.** :class:`EncodedEvent` wraps one message and encodes it at most once per
dialect, however many subscribers read it: a thread's broadcast builds one and asks it for
each subscriber's dialect. :class:`EncodeOnce` keeps the last event's :class:`EncodedEvent`,
for senders that see one message at a time (``encode(message, dialect)``).

Sans-I/O: no asyncio, no sockets.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from .exceptions import UnknownDialectError
from .protocol import encode_message

__all__ = [
    "BUILT_IN",
    "DIALECTS",
    "NATIVE",
    "Dialect",
    "DialectRegistry",
    "EncodeOnce",
    "EncodedEvent",
    "Frames",
    "MappedDialect",
    "NativeDialect",
    "UnknownDialectError",
    "get_dialect",
    "register_dialect",
]

Frames = tuple[str, ...]
"""The texts of the frames one event becomes in one dialect, in order."""

Encoder = Callable[[Mapping[str, Any]], Sequence[str]]


@runtime_checkable
class Dialect(Protocol):
    """A way to write events on the wire: ``encode`` one wire dict into its frames' texts."""

    @property
    def name(self) -> str:
        """The name a subscribe frame asks for (``"native"``, ``"ag-ui"``)."""
        ...

    def encode(self, message: Mapping[str, Any]) -> Sequence[str]:
        """The texts of the frames ``message`` becomes, in order (pure: see the module doc)."""
        ...


class NativeDialect:
    """The bridge's own JSON: one frame per event, the wire dict as compact JSON."""

    name = "native"

    def encode(self, message: Mapping[str, Any]) -> Frames:
        """``(json_text,)``."""
        return (encode_message(dict(message)),)


NATIVE = NativeDialect()
"""The default dialect."""


class MappedDialect:
    """A dialect built from one encoder per event type and a fallback for the rest.

    ``encoders`` maps an event type to a function of the wire dict returning frame texts;
    ``fallback`` encodes every other type (a row added to the table later included). Without a
    fallback, an unmapped type raises :class:`UnknownDialectError` naming dialect and type.
    """

    def __init__(
        self,
        name: str,
        encoders: Mapping[str, Encoder],
        *,
        fallback: Encoder | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError("a dialect needs a non-empty name")
        self.name = name
        self.encoders = dict(encoders)
        self.fallback = fallback

    def encode(self, message: Mapping[str, Any]) -> Frames:
        """Encode with the encoder of ``message["type"]``, else the fallback."""
        kind = message.get("type")
        encoder = self.encoders.get(kind) if isinstance(kind, str) else None
        if encoder is None:
            encoder = self.fallback
        if encoder is None:
            raise UnknownDialectError(
                f"dialect {self.name!r} has no encoding for event type {kind!r} and no fallback"
            )
        return tuple(encoder(message))


BUILT_IN: Mapping[str, str] = {
    "native": "reference_impl.dialects:NATIVE",
    "ag-ui": "reference_impl.agui.dialect:AGUI",
}
"""The dialects every bridge knows, ``name -> "module:attribute"``, imported on first use."""


class DialectRegistry:
    """Dialects by name: the built-in ones (imported lazily) and any registered."""

    def __init__(self, built_in: Mapping[str, str] = BUILT_IN) -> None:
        self._paths = dict(built_in)
        self._loaded: dict[str, Dialect] = {}

    def register(self, dialect: Dialect, *, replace: bool = False) -> None:
        """Add ``dialect`` under its name; a taken name raises unless ``replace``."""
        if not isinstance(dialect, Dialect) or not isinstance(dialect.name, str):
            raise TypeError(f"{dialect!r} is not a Dialect (a name and an encode method)")
        if not replace and dialect.name in self:
            raise ValueError(f"a dialect named {dialect.name!r} is registered already")
        self._paths.pop(dialect.name, None)
        self._loaded[dialect.name] = dialect

    def get(self, name: str) -> Dialect:
        """The dialect called ``name``; :class:`UnknownDialectError` if there is none."""
        dialect = self._loaded.get(name)
        if dialect is not None:
            return dialect
        path = self._paths.get(name) if isinstance(name, str) else None
        if path is None:
            raise UnknownDialectError(
                f"unknown dialect {name!r}; known: {', '.join(sorted(self.names))}"
            )
        module, _, attribute = path.partition(":")
        dialect = getattr(importlib.import_module(module), attribute)
        if not isinstance(dialect, Dialect) or dialect.name != name:
            raise TypeError(f"{path} is not a Dialect named {name!r}")
        self._loaded[name] = dialect
        return dialect

    @property
    def names(self) -> frozenset[str]:
        """Every dialect name, loaded or not."""
        return frozenset(self._paths) | frozenset(self._loaded)

    def __contains__(self, name: object) -> bool:
        return name in self._paths or name in self._loaded

    def __iter__(self) -> Iterator[Dialect]:
        """Every dialect, in name order (built-in ones are imported)."""
        return (self.get(name) for name in sorted(self.names))


DIALECTS = DialectRegistry()
"""The process's dialects."""


def get_dialect(name: str) -> Dialect:
    """The dialect called ``name`` in :data:`DIALECTS`."""
    return DIALECTS.get(name)


def register_dialect(dialect: Dialect, *, replace: bool = False) -> None:
    """Register ``dialect`` in :data:`DIALECTS`."""
    DIALECTS.register(dialect, replace=replace)


class EncodedEvent:
    """One wire message and its frames per dialect, each encoded at most once."""

    __slots__ = ("_frames", "message")

    def __init__(self, message: Mapping[str, Any]) -> None:
        self.message = message
        self._frames: dict[str, Frames] = {}

    def frames(self, dialect: Dialect | str = NATIVE) -> Frames:
        """The frames in ``dialect`` (a dialect or its registered name), encoded on first use."""
        name = dialect if isinstance(dialect, str) else dialect.name
        frames = self._frames.get(name)
        if frames is None:
            codec = get_dialect(dialect) if isinstance(dialect, str) else dialect
            frames = self._frames[name] = tuple(codec.encode(self.message))
        return frames

    @property
    def encoded_in(self) -> frozenset[str]:
        """The dialects encoded so far."""
        return frozenset(self._frames)


class EncodeOnce:
    """``encode(message, dialect)``: reuses the encodings of the last message it was given.

    For senders that hand the same message object to each subscriber in turn: the message is
    encoded once per dialect, not once per subscriber. Identity, not equality, decides.
    """

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: EncodedEvent | None = None

    def event(self, message: Mapping[str, Any]) -> EncodedEvent:
        """The :class:`EncodedEvent` of ``message`` (a new one unless it was the last)."""
        last = self._last
        if last is None or last.message is not message:
            last = self._last = EncodedEvent(message)
        return last

    def __call__(self, message: Mapping[str, Any], dialect: Dialect | str = NATIVE) -> Frames:
        return self.event(message).frames(dialect)
