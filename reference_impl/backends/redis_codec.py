"""How events are written in Redis, shared by the Redis backend and its fan-out: pure, no I/O.

A stream entry and a wake-up both carry the event without ``seq``/``epoch`` (the draft JSON);
the seq is the entry ID or the wake-up's ``s``, the epoch the thread's ``meta`` or its ``e``.
"""

from __future__ import annotations

import json

from ..events import EventMessage

__all__ = ["WakeUp", "decode_wakeup", "stored_event"]


def stored_event(draft_json: str, seq: int, epoch: str) -> EventMessage:
    """Return the event stored as ``draft_json`` at ``seq`` of ``epoch``."""
    return EventMessage.model_validate({**json.loads(draft_json), "seq": seq, "epoch": epoch})


class WakeUp:
    """One decoded wake-up: the event an append published, with its place in the log."""

    __slots__ = ("epoch", "message", "seq", "thread_id")

    def __init__(self, message: EventMessage) -> None:
        self.message = message
        self.thread_id = message.thread_id
        self.epoch = message.epoch
        self.seq = message.seq


def decode_wakeup(data: str | bytes) -> WakeUp:
    """Parse a wake-up published by ``append.lua``; raise ``ValueError`` if it is not one."""
    try:
        body = json.loads(data)
        return WakeUp(stored_event(body["d"], int(body["s"]), str(body["e"])))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not a wsbridge wake-up: {data!r:.200}") from exc
