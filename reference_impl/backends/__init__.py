"""Storage backends: where the registry and the event logs live.

:class:`~reference_impl.backends.base.Backend` is the contract; ``memory`` is the default for
one process, ``redis`` (extra ``redis``) serves several server processes.
"""

from __future__ import annotations

from .base import Backend
from .memory import MemoryBackend

__all__ = ["Backend", "MemoryBackend"]
