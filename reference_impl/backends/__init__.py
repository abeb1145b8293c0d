"""Storage backends: where the registry and the event logs live.

:class:`~reference_impl.backends.base.Backend` is the contract; ``memory`` is the default for
one process; ``redis`` (``reference_impl.backends.redis.RedisBackend``, extra ``redis``, not
imported here) serves several server processes, with ``redis_fanout`` carrying events between
them.
"""

from __future__ import annotations

from .base import Backend
from .memory import MemoryBackend

__all__ = ["Backend", "MemoryBackend"]
