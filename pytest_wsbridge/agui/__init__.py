"""AG-UI 1.1 conformance at the edges: readers, the ``wsbridge agui`` CLI and pytest helpers.

The judging itself is :mod:`reference_impl.agui` (pure); this package feeds it from files, stdin,
HTTP+SSE endpoints, ASGI apps and our WebSocket binding.
"""

from __future__ import annotations

__all__: list[str] = []
