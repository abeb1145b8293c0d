"""How events are written in Redis, shared by the Redis backend and its fan-out: pure, no I/O.

A stream entry and a wake-up both carry the event without ``seq``/``epoch`` (the draft JSON,
``EventDraft.model_dump_json()``); the seq is the entry ID or the wake-up's ``s``, the epoch the
thread's ``meta`` or the wake-up's ``e``.
"""

from __future__ import annotations

import json

from ..events import EventDraft, EventMessage, Message

__all__ = ["WakeUp", "decode_wakeup", "stored_event"]

# The keys of a stored draft: a wake-up's event has exactly these.
_DRAFT_KEYS = frozenset(EventDraft.model_fields)


def stored_event(draft_json: str, seq: int, epoch: str) -> EventMessage:
    """Return the event stored as ``draft_json`` at ``seq`` of ``epoch``, validated."""
    return EventMessage.model_validate({**json.loads(draft_json), "seq": seq, "epoch": epoch})


class WakeUp:
    """One decoded wake-up: where an append put its event, and the event's draft JSON.

    The place (thread, epoch, seq) is read at once, so a node can drop a wake-up it has
    delivered already without parsing the event.
    """

    __slots__ = ("draft_json", "epoch", "seq", "thread_id")

    def __init__(self, thread_id: str, epoch: str, seq: int, draft_json: str) -> None:
        self.thread_id = thread_id
        self.epoch = epoch
        self.seq = seq
        self.draft_json = draft_json

    def message(self) -> Message:
        """Return the event as its wire dict, equal to ``EventMessage.to_dict()`` (same keys,
        same order); raise ``ValueError`` if it is not shaped like a stored event.

        Only the shape is checked: ``append.lua`` publishes drafts the emitting node validated
        in full (:meth:`event` validates again, for a caller that cannot trust the channel).
        """
        try:
            event = json.loads(self.draft_json)
        except ValueError as exc:
            raise ValueError(f"not a stored event: {self.draft_json!r:.200}") from exc
        if type(event) is not dict or event.keys() != _DRAFT_KEYS:
            raise ValueError(f"not a stored event: {self.draft_json!r:.200}")
        if event["thread_id"] != self.thread_id:
            raise ValueError(f"wake-up of thread {self.thread_id!r} for another thread")
        event["seq"] = self.seq
        event["epoch"] = self.epoch
        return event

    def event(self) -> EventMessage:
        """Return the event, validated as :class:`EventMessage`."""
        return stored_event(self.draft_json, self.seq, self.epoch)


def decode_wakeup(data: str | bytes) -> WakeUp:
    """Parse a wake-up published by ``append.lua``; raise ``ValueError`` if it is not one."""
    try:
        body = json.loads(data)
        thread_id, epoch, seq, draft_json = body["t"], body["e"], body["s"], body["d"]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not a wsbridge wake-up: {data!r:.200}") from exc
    if (
        not isinstance(thread_id, str)
        or not isinstance(epoch, str)
        or not epoch
        or type(seq) is not int
        or seq < 1
        or not isinstance(draft_json, str)
    ):
        raise ValueError(f"not a wsbridge wake-up: {data!r:.200}")
    return WakeUp(thread_id, epoch, seq, draft_json)
