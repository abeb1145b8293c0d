"""Small text helpers shared by the reference bridge and the plugin. No I/O."""

from __future__ import annotations

__all__ = ["short"]


def short(value: object, limit: int = 120) -> str:
    """``repr`` cut to ``limit`` characters; an exception as ``Type('message')``."""
    if isinstance(value, BaseException):
        text = f"{type(value).__name__}({str(value)!r})"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
