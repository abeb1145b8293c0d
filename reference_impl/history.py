"""Where a server reads the events a resuming subscriber missed: the :class:`History` contract.

:class:`BridgeHistory` serves the reference bridge from its backend (``head`` and
``replay``/``read_after`` with epochs). :class:`ReplayHistory` serves any bridge that only has
``replay(thread_id, after_seq)`` (sync or async): its epoch is the one its events carry, or
``""`` when they carry none, and its head is the highest seq it replays. :class:`NoHistory`
serves bridges without replay: a resume is answered with ``resync_required``, never a gap.
"""

from __future__ import annotations

import inspect
from typing import Any, Protocol, runtime_checkable

from .eventlog import LogHead
from .events import Message
from .exceptions import InvalidResumePoint, ResyncRequired
from .protocol import as_message_dict

__all__ = ["BridgeHistory", "History", "NoHistory", "ReplayHistory", "history_for"]


@runtime_checkable
class History(Protocol):
    """A thread's stored events, as a resuming subscriber needs them."""

    async def head(self, thread_id: str) -> LogHead | None:
        """Return the thread's epoch and head seq, or ``None`` when unknown."""
        ...

    async def read_after(
        self, thread_id: str, after_seq: int, epoch: str | None = None
    ) -> list[Message]:
        """Return the wire dicts after ``after_seq`` in order, or raise ``ResyncRequired``
        (cannot serve the range, epoch changed) or ``InvalidResumePoint`` (beyond the head)."""
        ...


class BridgeHistory:
    """History of a bridge with a ``backend`` (``head``) and ``replay(thread, seq, epoch)``."""

    def __init__(self, bridge: Any) -> None:
        self.bridge = bridge

    async def head(self, thread_id: str) -> LogHead:
        head: LogHead = await self.bridge.backend.head(thread_id)
        return head

    async def read_after(
        self, thread_id: str, after_seq: int, epoch: str | None = None
    ) -> list[Message]:
        events: list[Message] = await self.bridge.replay(thread_id, after_seq, epoch)
        return events


class ReplayHistory:
    """History over a bridge's ``replay(thread_id, after_seq)`` only (sync or async)."""

    def __init__(self, bridge: Any) -> None:
        self.bridge = bridge

    async def _replay(self, thread_id: str, after_seq: int) -> list[Message]:
        result = self.bridge.replay(thread_id, after_seq)
        if inspect.isawaitable(result):
            result = await result
        return [as_message_dict(message) for message in (result or [])]

    async def head(self, thread_id: str) -> LogHead:
        events = await self._replay(thread_id, 0)
        return LogHead(thread_id, _epoch_of(events), _max_seq(events))

    async def read_after(
        self, thread_id: str, after_seq: int, epoch: str | None = None
    ) -> list[Message]:
        events = [
            event
            for event in await self._replay(thread_id, after_seq)
            if not isinstance(event.get("seq"), int) or event["seq"] > after_seq
        ]
        current = _epoch_of(events)
        if epoch and current and epoch != current:
            raise ResyncRequired(thread_id, current, _max_seq(events), "epoch changed")
        seqs = [event["seq"] for event in events if isinstance(event.get("seq"), int)]
        if seqs and min(seqs) > after_seq + 1:
            raise ResyncRequired(thread_id, current, max(seqs), "history trimmed")
        if not seqs and after_seq > 0:
            head = await self.head(thread_id)
            if after_seq > head.head_seq:
                raise InvalidResumePoint(thread_id, after_seq, head.head_seq)
        return events


class NoHistory:
    """History of a bridge that keeps none: heads unknown, every resume needs a resync."""

    async def head(self, thread_id: str) -> None:
        return None

    async def read_after(
        self, thread_id: str, after_seq: int, epoch: str | None = None
    ) -> list[Message]:
        raise ResyncRequired(thread_id, "", 0, "the bridge keeps no history (no replay)")


def history_for(bridge: object) -> History:
    """Return the best :class:`History` the bridge offers."""
    backend = getattr(bridge, "backend", None)
    if callable(getattr(backend, "head", None)) and callable(getattr(bridge, "replay", None)):
        return BridgeHistory(bridge)
    if callable(getattr(bridge, "replay", None)):
        return ReplayHistory(bridge)
    return NoHistory()


def _epoch_of(events: list[Message]) -> str:
    for event in reversed(events):
        epoch = event.get("epoch")
        if isinstance(epoch, str) and epoch:
            return epoch
    return ""


def _max_seq(events: list[Message]) -> int:
    return max((e["seq"] for e in events if isinstance(e.get("seq"), int)), default=0)
