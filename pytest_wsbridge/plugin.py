"""The pytest entry point (``pytest11: wsbridge``)."""

from __future__ import annotations

__all__: list[str] = []
