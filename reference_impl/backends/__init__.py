"""Storage backends: where the registry and the event logs live.

:class:`~reference_impl.backends.base.Backend` is the contract; ``memory`` is the default for
one process; ``redis`` (``reference_impl.backends.redis.RedisBackend``, extra ``redis``, not
imported until used) serves several server processes, with ``redis_fanout`` carrying events
between them. :func:`open_backend` builds one from a URL.
"""

from __future__ import annotations

from typing import Any

from .base import Backend, Fanout, SharedBackend
from .memory import MemoryBackend

__all__ = ["SCHEMES", "Backend", "Fanout", "MemoryBackend", "SharedBackend", "open_backend"]

#: URL schemes :func:`open_backend` knows, and the backend each one builds.
SCHEMES = {
    "memory": "MemoryBackend (one process)",
    "redis": "RedisBackend",
    "rediss": "RedisBackend (TLS)",
    "unix": "RedisBackend (Unix socket)",
}


def open_backend(url: str, **options: Any) -> Backend:
    """Build the backend a URL names; ``options`` are its constructor's keyword arguments.

    ``memory://`` is the in-memory backend (no options); ``redis://host:port/db``,
    ``rediss://`` and ``unix://`` a :class:`~reference_impl.backends.redis.RedisBackend`
    (extra ``redis``). Another scheme raises :class:`ValueError` naming the known ones.
    """
    scheme, sep, _ = url.partition("://") if isinstance(url, str) else ("", "", "")
    if not sep or scheme not in SCHEMES:
        known = ", ".join(f"{name}://" for name in SCHEMES)
        raise ValueError(f"unknown backend URL {url!r}: expected one of {known}")
    if scheme == "memory":
        if options:
            raise ValueError(f"memory:// takes no options, got {sorted(options)}")
        return MemoryBackend()
    from .redis import RedisBackend

    return RedisBackend(url, **options)
