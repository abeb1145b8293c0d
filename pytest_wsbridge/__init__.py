"""pytest-wsbridge: prove that a WebSocket bridge delivers every agent event to the right thread."""

from __future__ import annotations

# One version for the distribution: reference_impl.__version__ (pyproject.toml reads it too).
from reference_impl import __version__

from .agui.readers import AguiStream
from .agui.testing import AguiCollector, assert_agui_conformant, record_agui_stream

__all__ = [
    "AguiCollector",
    "AguiStream",
    "__version__",
    "assert_agui_conformant",
    "record_agui_stream",
]
