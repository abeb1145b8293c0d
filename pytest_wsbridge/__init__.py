"""pytest-wsbridge: prove that a WebSocket bridge delivers every agent event to the right thread."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
