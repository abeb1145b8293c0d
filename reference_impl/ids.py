"""Run ids: the one source of truth for ``run_id -> thread_id``.

A run id embeds its thread: ``thread_{thread_id}_run_{ms_timestamp}_{8 hex}``. The thread id may
contain anything, including ``_`` and the text ``_run_``, so the parser anchors on the fixed
suffix and reads the thread id from what is left, never with ``split("_")``.
"""

from __future__ import annotations

import re
import secrets
import time

__all__ = [
    "generate_run_id",
    "is_standard_run_id",
    "thread_id_from_run_id",
    "validate_thread_id",
]

_RUN_ID = re.compile(r"thread_(?P<thread_id>.+)_run_(?P<ms>[0-9]+)_(?P<suffix>[0-9a-f]{8})", re.S)


def validate_thread_id(thread_id: object) -> str:
    """Return ``thread_id`` if it is a non-empty string; raise :class:`ValueError` otherwise."""
    if not isinstance(thread_id, str):
        raise ValueError(
            f"thread_id must be a non-empty str, got {type(thread_id).__name__} {thread_id!r}; "
            "pass the chat thread's id as a string"
        )
    if not thread_id:
        raise ValueError(
            "thread_id must be a non-empty str, got ''; an empty thread id names no thread"
        )
    return thread_id


def generate_run_id(thread_id: str, *, now_ms: int | None = None) -> str:
    """Return a new run id for ``thread_id`` that :func:`thread_id_from_run_id` inverts.

    ``now_ms`` (milliseconds since the epoch, an int >= 0) fixes the timestamp part, for tests.
    """
    validate_thread_id(thread_id)
    if now_ms is None:
        ms = time.time_ns() // 1_000_000
    elif isinstance(now_ms, bool) or not isinstance(now_ms, int) or now_ms < 0:
        raise ValueError(f"now_ms must be an int >= 0, got {now_ms!r}")
    else:
        ms = now_ms
    return f"thread_{thread_id}_run_{ms}_{secrets.token_hex(4)}"


def thread_id_from_run_id(run_id: object) -> str | None:
    """Return the thread id encoded in a standard run id, or ``None``; never a guess."""
    if not isinstance(run_id, str):
        return None
    match = _RUN_ID.fullmatch(run_id)
    return match["thread_id"] if match else None


def is_standard_run_id(run_id: object) -> bool:
    """Tell whether ``run_id`` is in the standard, thread-carrying format."""
    return thread_id_from_run_id(run_id) is not None
