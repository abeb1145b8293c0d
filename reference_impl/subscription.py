"""The per-subscription seq gate: each event once, in seq order, gaps filled from history.

Pure logic, no asyncio. One :class:`SeqGate` sits between a thread's event stream (live
fan-out, which may repeat or skip events — a resume overlap, Redis pub/sub) and one subscriber:

* an event with ``seq == last + 1`` is delivered; ``seq <= last`` is a duplicate and dropped;
* ``seq > last + 1`` is a gap: the gate holds it and asks for history after ``last``
  (:attr:`Step.fetch_after`); :meth:`SeqGate.fill` merges that history and releases what is held;
* an event of another epoch means the thread's history was lost: :attr:`Step.resync`;
* messages without an int ``seq`` (bridges that do not number events) pass straight through.

A resume is a fill: the gate starts *holding* (live events are buffered while the log is read)
and :meth:`SeqGate.fill` with the replayed events releases replay then held events, merged by
seq. A gate without ``last_seq`` anchors on the first history or event it sees.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .events import Message
from .exceptions import GateOverflow

__all__ = ["GateOverflow", "SeqGate", "Step"]


@dataclass
class Step:
    """What to do after offering the gate something.

    ``deliver``: send these, in order. ``fetch_after``: read the history after this seq and
    :meth:`SeqGate.fill` it (the gate holds events until then). ``resync``: the stream moved to
    another epoch (or history cannot close a gap); the subscriber must resync.
    """

    deliver: list[Message] = field(default_factory=list)
    fetch_after: int | None = None
    resync: bool = False


# Never written to: SeqGate swaps in its own dict or list before holding anything.
_NOTHING_HELD: dict[int, Message] = {}
_NOTHING_UNNUMBERED: list[Message] = []


def _seq_of(message: Message) -> int | None:
    seq = message.get("seq")
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None


class SeqGate:
    """Orders one subscriber's events by seq; see the module docstring."""

    def __init__(
        self,
        last_seq: int | None = None,
        epoch: str | None = None,
        *,
        holding: bool = False,
        max_held: int = 100_000,
    ) -> None:
        self.last_seq = last_seq
        self.epoch = epoch
        self.max_held = max_held
        self.duplicates = 0
        # Both stay empty in the steady state: shared empty placeholders until something is
        # held (two objects fewer per subscription for the garbage collector to track).
        self._held: dict[int, Message] = _NOTHING_HELD
        self._held_unnumbered: list[Message] = _NOTHING_UNNUMBERED
        self._holding = holding

    @property
    def holding(self) -> bool:
        """Whether events are buffered until the next :meth:`fill`."""
        return self._holding

    @property
    def held(self) -> int:
        """How many events are buffered."""
        return len(self._held) + len(self._held_unnumbered)

    def push(self, message: Message) -> Step:
        """Offer one live message; return what to send now."""
        seq = _seq_of(message)
        if seq is None:
            if self._holding:
                self._hold_unnumbered(message)
                return Step()
            return Step(deliver=[message])
        if self._other_epoch(message):
            return Step(resync=True)
        if self._holding:
            self._hold(seq, message)
            return Step()
        if self.last_seq is None:
            self._accept(message, seq)
            return Step(deliver=[message])
        if seq <= self.last_seq:
            self.duplicates += 1
            return Step()
        if seq == self.last_seq + 1:
            self._accept(message, seq)
            return Step(deliver=[message])
        self._holding = True
        self._hold(seq, message)
        return Step(fetch_after=self.last_seq)

    def take_next(self, message: Message) -> bool:
        """Accept ``message`` if it is exactly the next seq of this gate's epoch; say so.

        The steady-state case of :meth:`push` without building a :class:`Step`: when it
        returns ``True`` the caller sends ``message``; when ``False`` nothing changed and the
        caller uses :meth:`push`.
        """
        last_seq = self.last_seq
        if self._holding or last_seq is None or self.epoch is None:
            return False
        seq = message.get("seq")
        if type(seq) is not int or seq != last_seq + 1 or message.get("epoch") != self.epoch:
            return False
        self.last_seq = seq
        return True

    def has_delivered(self, seq: int, epoch: str) -> bool:
        """Whether :meth:`push` would drop an event at ``seq`` of ``epoch`` as a duplicate.

        For a caller that can skip decoding such an event; ``False`` while holding.
        """
        last_seq = self.last_seq
        return (
            not self._holding
            and last_seq is not None
            and seq <= last_seq
            and self.epoch is not None
            and epoch == self.epoch
        )

    def check_head(self, epoch: str, head_seq: int) -> Step:
        """Compare this gate with where its log stands (``epoch``, ``head_seq``).

        For a stream that may have lost events without a later one to show it (a node that
        was cut off from Redis): a gate of another epoch must resync (:attr:`Step.resync`); a
        gate behind the head holds live events and asks for the history after its last seq
        (:attr:`Step.fetch_after`). A gate that is already reading history (holding) is left
        alone: that read sees the log as it is now.
        """
        if self._holding:
            return Step()
        if self.epoch and epoch and epoch != self.epoch:
            return Step(resync=True)
        if self.last_seq is not None and head_seq > self.last_seq:
            self._holding = True
            return Step(fetch_after=self.last_seq)
        return Step()

    def fill(self, history: Iterable[Message], *, head_seq: int | None = None) -> Step:
        """Merge events read from the log after :attr:`last_seq` and release what is held.

        ``head_seq`` (the log's head when it was read) anchors a gate without ``last_seq``:
        a fresh subscription delivers only what comes after it. When history cannot close a
        gap before a held event the gate keeps holding and asks again (``fetch_after``).
        """
        if self.last_seq is None and head_seq is not None:
            self.last_seq = head_seq
        merged = {} if self._held is _NOTHING_HELD else self._held
        for message in history:
            seq = _seq_of(message)
            if seq is not None and not self._other_epoch(message):
                merged.setdefault(seq, message)
        unnumbered, self._held_unnumbered = self._held_unnumbered, _NOTHING_UNNUMBERED
        order = sorted(merged)
        if self.last_seq is None and order:
            self.last_seq = order[0] - 1
        out: list[Message] = []
        self._held = _NOTHING_HELD
        for index, seq in enumerate(order):
            last = self.last_seq if self.last_seq is not None else seq - 1
            if seq <= last:
                self.duplicates += 1
            elif seq == last + 1:
                self._accept(merged[seq], seq)
                out.append(merged[seq])
            else:
                self._held = {key: merged[key] for key in order[index:]}
                return Step(deliver=out + unnumbered, fetch_after=last)
        self._holding = False
        return Step(deliver=out + unnumbered)

    def _accept(self, message: Message, seq: int) -> None:
        self.last_seq = seq
        if self.epoch is None:
            epoch = message.get("epoch")
            if isinstance(epoch, str) and epoch:
                self.epoch = epoch

    def _other_epoch(self, message: Message) -> bool:
        epoch = message.get("epoch")
        return bool(self.epoch) and isinstance(epoch, str) and bool(epoch) and epoch != self.epoch

    def _hold(self, seq: int, message: Message) -> None:
        if self._held is _NOTHING_HELD:
            self._held = {}
        self._held[seq] = message
        self._check_bound()

    def _hold_unnumbered(self, message: Message) -> None:
        if self._held_unnumbered is _NOTHING_UNNUMBERED:
            self._held_unnumbered = []
        self._held_unnumbered.append(message)
        self._check_bound()

    def _check_bound(self) -> None:
        if self.held > self.max_held:
            raise GateOverflow(f"more than {self.max_held} events held while reading history")
