"""The checks: judge a :class:`~pytest_wsbridge.ledger.Ledger` and say what went wrong.

``delivery``: every accepted emission reached a connection of its run's thread, per run in
emission order, and no connection got an event twice (a resumed connection that is sent an
event at or below its ``last_seq`` got it twice too). ``threads``: a notify call for a run
with no thread raised, and no event was sent or delivered to another thread. ``lifecycle``
(strict mode): a resumed connection's first event is ``last_seq + 1`` and the bridge did not
deliver a run's events in an order that breaks the lifecycle table when they were emitted in
one that keeps it. ``fail_fast`` judges what the factory did with unfit orchestrators.

The lifecycle rules are :mod:`reference_impl.lifecycle`'s (one rule table). Violations name
the check, the run, the thread, each offending event (type, index, when it was emitted) and
what happened to it. Pure: no pytest, no asyncio.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from reference_impl.events import CALL_KEY
from reference_impl.lifecycle import check_run_lifecycle
from reference_impl.sequence import check_thread_sequence

from .ledger import CallRecord, DeliveryRecord, Ledger, SendRecord, ThreadSource

__all__ = [
    "CHECKS",
    "Analysis",
    "EventRef",
    "FailFastOutcome",
    "Fate",
    "Violation",
    "analyze",
    "check_delivery",
    "check_fail_fast",
    "check_lifecycle",
    "check_threads",
    "format_violations",
    "in_flight",
    "run_checks",
    "undelivered_threads",
]

CHECKS = ("delivery", "threads", "fail_fast", "lifecycle")
"""Every check name, in report order; the first three have a marker ``wsbridge_<name>``."""


@dataclass(frozen=True)
class EventRef:
    """One offending event: its type, index in its run, when it was emitted, what happened."""

    type: str
    index: int | None
    at: float | None
    what: str

    def render(self) -> str:
        where = [] if self.index is None else [f"index {self.index}"]
        if self.at is not None:
            where.append(f"emitted at +{self.at:.3f}s")
        return f"{self.type} [{', '.join(where)}]: {self.what}" if where else self.what

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "index": self.index, "emitted_at": self.at, "what": self.what}


@dataclass(frozen=True)
class Violation:
    """A broken check for one run (or, for ``fail_fast``, one factory)."""

    check: str
    summary: str
    run_id: str | None = None
    thread_id: str | None = None
    events: tuple[EventRef, ...] = ()

    def render(self) -> str:
        """The multi-line text a person reads in the failure."""
        head = f"[{self.check}] "
        if self.run_id is not None:
            thread = "no thread" if self.thread_id is None else f"thread {self.thread_id!r}"
            head += f"run {self.run_id!r} ({thread}): "
        lines = [head + self.summary]
        lines.extend(f"    - {event.render()}" for event in self.events)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "run_id": self.run_id,
            "thread_id": self.thread_id,
            "summary": self.summary,
            "events": [event.to_dict() for event in self.events],
        }


@dataclass
class Fate:
    """What became of one notify call: the sends and deliveries that carried its event."""

    call: CallRecord
    thread_id: str | None
    source: ThreadSource | None
    sends: list[SendRecord] = field(default_factory=list)
    delivered: list[DeliveryRecord] = field(default_factory=list)
    misdelivered: list[DeliveryRecord] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        """The bridge took the call (it returned rather than raised)."""
        return self.call.outcome == "returned"

    @property
    def reached(self) -> bool:
        """At least one connection of the run's thread took the event."""
        return bool(self.delivered)


@dataclass(frozen=True)
class Duplicate:
    """A connection that took one event more than once."""

    fate: Fate
    delivery: DeliveryRecord
    reason: str


@dataclass(frozen=True)
class OutOfOrder:
    """A connection that took an event of a run after a later one of the same run."""

    fate: Fate
    after: Fate
    delivery: DeliveryRecord


@dataclass
class Analysis:
    """Every emission's fate, plus what each connection's stream showed."""

    fates: list[Fate]
    duplicates: list[Duplicate]
    out_of_order: list[OutOfOrder]
    bad_resumes: list[tuple[DeliveryRecord, str]]
    reordered_lifecycle: list[tuple[str, str, DeliveryRecord]]

    @property
    def emitted(self) -> int:
        """Emissions the bridge accepted."""
        return sum(f.accepted for f in self.fates)

    @property
    def delivered(self) -> int:
        """Accepted emissions that reached their run's thread."""
        return sum(f.accepted and f.reached for f in self.fates)


def analyze(ledger: Ledger) -> Analysis:
    """Match every send and delivery in ``ledger`` to the emission it carried.

    The result is kept until the ledger changes (waiting and judging ask for it often).
    """
    version, cached = ledger.memo.get("analysis", (-1, None))
    if version == ledger.version and isinstance(cached, Analysis):
        return cached
    analysis = _analyze(ledger)
    ledger.memo["analysis"] = (ledger.version, analysis)
    return analysis


def _analyze(ledger: Ledger) -> Analysis:
    fates = [Fate(call, *ledger.true_thread(call.run_id)) for call in ledger.emissions()]
    by_run: dict[str, list[Fate]] = defaultdict(list)
    for fate in fates:
        if fate.call.run_id is not None:
            by_run[fate.call.run_id].append(fate)

    by_order = {fate.call.order: fate for fate in fates}
    sends = ((s, s.message, s.cause) for s in ledger.sends)
    for send, carried, _ in _assign(sends, by_run, by_order):
        if carried is not None:
            carried.sends.append(send)

    analysis = Analysis(fates, [], [], [], [])
    streams: dict[int, list[DeliveryRecord]] = defaultdict(list)
    for delivery in ledger.deliveries:
        streams[delivery.connection].append(delivery)
    for stream in streams.values():
        _analyze_stream(stream, by_run, by_order, analysis, ledger)
    return analysis


def _analyze_stream(
    stream: list[DeliveryRecord],
    by_run: Mapping[str, list[Fate]],
    by_order: Mapping[int, Fate],
    analysis: Analysis,
    ledger: Ledger,
) -> None:
    label = ledger.label(stream[0].connection)
    highest: dict[str, Fate] = {}
    received: dict[str, list[Fate]] = defaultdict(list)
    items = ((d, d.message, d.cause) for d in stream)
    for delivery, fate, repeat in _assign(items, by_run, by_order):
        if fate is None:
            continue
        if delivery.thread_id == fate.thread_id:
            if repeat is None:
                fate.delivered.append(delivery)
        elif repeat is None:
            fate.misdelivered.append(delivery)
        if repeat is not None:
            analysis.duplicates.append(Duplicate(fate, delivery, f"{label} got it twice{repeat}"))
            continue
        run_id = fate.call.run_id or ""
        received[run_id].append(fate)
        top = highest.get(run_id)
        if top is not None and (fate.call.index or 0) < (top.call.index or 0):
            analysis.out_of_order.append(OutOfOrder(fate, top, delivery))
        else:
            highest[run_id] = fate

    resumed_from = stream[0].resumed_from
    if resumed_from is not None:
        for problem in check_thread_sequence(
            [d.message for d in stream if isinstance(d.message.get("seq"), int)],
            after_seq=resumed_from,
        ):
            seq = problem.event.get("seq")
            delivery = next(d for d in stream if d.message is problem.event)
            if problem.rule == "seq-duplicate" and isinstance(seq, int) and seq <= resumed_from:
                replayed = _fate_of(delivery.message, by_run)
                if replayed is not None:
                    why = f"{label} resumed after seq {resumed_from} and was sent seq {seq} again"
                    analysis.duplicates.append(Duplicate(replayed, delivery, why))
            elif problem.rule == "seq-gap" and problem.index == 0:
                analysis.bad_resumes.append(
                    (delivery, f"{label}: first event is seq {seq}, expected {resumed_from + 1}")
                )

    for run_id, got in received.items():
        emitted = by_run[run_id]
        if not any(f.call.index == 0 for f in got):
            continue  # joined the run midway: its lifecycle cannot be judged from here
        expected = {v.rule for v in check_run_lifecycle(_as_events(f for f in emitted))}
        for broken in check_run_lifecycle(_as_events(got)):
            if broken.rule not in expected:
                delivery = next(d for d in stream if d.message.get("run_id") == run_id)
                analysis.reordered_lifecycle.append((run_id, f"{label}: {broken}", delivery))


def _as_events(fates: Iterable[Fate]) -> list[dict[str, Any]]:
    return [
        {
            "type": f.call.event_type,
            "run_id": f.call.run_id,
            CALL_KEY: f.call.arguments.get(CALL_KEY),
        }
        for f in fates
        if f.accepted
    ]


def _assign(
    items: Iterable[tuple[Any, Mapping[str, Any] | None, int | None]],
    by_run: Mapping[str, list[Fate]],
    by_order: Mapping[int, Fate],
) -> Iterator[tuple[Any, Fate | None, str | None]]:
    """Yield ``(item, fate, repeat)``: which emission each message carried, in one stream.

    A message sent or taken during a notify call (``cause``) carried that call's event, unless
    its ``type`` says otherwise. Other messages (replays, sends from elsewhere) match an
    emission of their ``run_id`` with the same ``type``: the first one not
    yet matched in this stream when the message shows all of its arguments, else, near it,
    the one whose arguments show up most (the first unmatched among equals). ``repeat`` says
    why a message is a second copy (same ``seq`` again, or more copies than emissions).
    """
    by_kind: dict[tuple[str, object], list[Fate]] = defaultdict(list)
    for run_id, fates in by_run.items():
        for fate in fates:
            by_kind[(run_id, fate.call.event_type)].append(fate)
    first_unused: dict[tuple[str, object], int] = defaultdict(int)
    used: set[int] = set()
    by_seq: dict[object, Fate] = {}
    for item, message, cause in items:
        caused = by_order.get(cause) if cause is not None else None
        expected = caused.call.event_type if caused is not None else None
        if message is not None and message.get("type", expected) != expected:
            caused = None  # sent during the call, but another message (a status, say)
        if message is None:
            yield item, caused, None
            continue
        seq = message.get("seq")
        seq_key = (message.get("run_id"), message.get("type"), seq)
        if isinstance(seq, int) and seq_key in by_seq:
            yield item, by_seq[seq_key], f" (seq {seq} again)"
            continue
        if caused is not None:
            fresh = caused.call.order not in used
            used.add(caused.call.order)
            if isinstance(seq, int):
                by_seq[seq_key] = caused
            yield item, caused, None if fresh else " (more copies than emissions)"
            continue
        kind = (str(message.get("run_id")), message.get("type"))
        candidates = by_kind.get(kind, [])
        if not candidates:
            yield item, None, None
            continue
        start = first_unused[kind]
        while start < len(candidates) and candidates[start].call.order in used:
            start += 1
        first_unused[kind] = start
        values = set(_scalars(message))
        if start < len(candidates) and all(v in values for v in _hints(candidates[start].call)):
            fate, fresh = candidates[start], True
        else:
            window = candidates[max(0, start - _WINDOW) : start + _WINDOW]
            scores = [sum(v in values for v in _hints(f.call)) for f in window]
            best = [f for f, score in zip(window, scores, strict=True) if score == max(scores)]
            unused = [f for f in best if f.call.order not in used]
            fate, fresh = (unused[0], True) if unused else (best[-1], False)
        used.add(fate.call.order)
        if isinstance(seq, int):
            by_seq[seq_key] = fate
        yield item, fate, None if fresh else " (more copies than emissions)"


_WINDOW = 256
"""How far from the next unmatched emission a message's match is looked for."""


def _fate_of(message: Mapping[str, Any], by_run: Mapping[str, list[Fate]]) -> Fate | None:
    for fate in by_run.get(str(message.get("run_id")), []):
        if any(message is d.message for d in fate.delivered + fate.misdelivered):
            return fate
    return None


def _hints(call: CallRecord) -> list[object]:
    return [
        value
        for name, value in call.arguments.items()
        if name != "run_id"
        and isinstance(value, (str, int, float))
        and not isinstance(value, bool)
        and value != ""
    ]


def _scalars(value: object) -> Iterator[object]:
    if isinstance(value, Mapping):
        for item in value.values():
            yield from _scalars(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _scalars(item)
    elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
        yield value


# -- waiting --------------------------------------------------------------------------------


def in_flight(ledger: Ledger, *, asynchronous_delivery: bool) -> bool:
    """Tell whether an accepted event may still arrive: worth waiting for.

    A call or send still running, an accepted event not sent yet (a bridge that sends from a
    background task) and, when connections receive asynchronously (a real socket), an event
    whose send was taken but has not arrived yet.
    """
    if ledger.pending():
        return True
    for fate in analyze(ledger).fates:
        if not fate.accepted or fate.thread_id is None or fate.reached:
            continue
        if not fate.sends:
            return True
        if asynchronous_delivery and any(
            s.thread_id == fate.thread_id and s.outcome == "returned" and s.result
            for s in fate.sends
        ):
            return True
    return False


def undelivered_threads(ledger: Ledger) -> list[str]:
    """Threads with an accepted event that reached none of their connections."""
    return sorted(
        {
            f.thread_id
            for f in analyze(ledger).fates
            if f.accepted and f.thread_id is not None and not f.reached
        }
    )


# -- the checks -----------------------------------------------------------------------------


def check_delivery(ledger: Ledger, analysis: Analysis | None = None) -> list[Violation]:
    """Undelivered, duplicated and out-of-order events, one violation per run."""
    analysis = analysis or analyze(ledger)
    found: dict[str, list[EventRef]] = defaultdict(list)
    threads: dict[str, Fate] = {}
    for fate in analysis.fates:
        if fate.thread_id is None or fate.call.outcome == "raised" or fate.reached:
            continue
        found[fate.call.run_id or ""].append(_ref(fate, _undelivered(fate, ledger)))
        threads[fate.call.run_id or ""] = fate
    for dup in analysis.duplicates:
        found[dup.fate.call.run_id or ""].append(_ref(dup.fate, f"delivered twice: {dup.reason}"))
        threads[dup.fate.call.run_id or ""] = dup.fate
    for late in analysis.out_of_order:
        what = (
            f"delivered out of order: {ledger.label(late.delivery.connection)} got it after "
            f"{late.after.call.event_type} [index {late.after.call.index}]"
        )
        found[late.fate.call.run_id or ""].append(_ref(late.fate, what))
        threads[late.fate.call.run_id or ""] = late.fate
    return [
        Violation(
            "delivery",
            _delivery_summary(events),
            run_id,
            threads[run_id].thread_id,
            tuple(events),
        )
        for run_id, events in found.items()
    ]


def check_threads(ledger: Ledger, analysis: Analysis | None = None) -> list[Violation]:
    """Emissions accepted for a run without a thread, and events routed to another thread."""
    analysis = analysis or analyze(ledger)
    found: dict[str, list[EventRef]] = defaultdict(list)
    threads: dict[str, str | None] = {}
    for fate in analysis.fates:
        run_id = fate.call.run_id or repr(fate.call.arguments.get("run_id"))
        if fate.thread_id is None:
            if fate.accepted:
                sent = sorted({s.thread_id for s in fate.sends})
                where = f"; sent to thread {', '.join(map(repr, sent))}" if sent else ""
                what = (
                    f"accepted ({fate.call.describe_outcome()}) instead of raising: the run "
                    f"was never registered and is not a standard run id{where}"
                )
                found[run_id].append(_ref(fate, what))
                threads[run_id] = None
            continue
        wrong = [s.thread_id for s in fate.sends if s.thread_id != fate.thread_id]
        wrong += [d.thread_id for d in fate.misdelivered if d.thread_id not in wrong]
        for thread_id in dict.fromkeys(wrong):
            what = f"sent to thread {thread_id!r}"
            if thread_id == fate.call.run_id:
                what += " (the run id itself: the run-id fallback)"
            reached = [d for d in fate.misdelivered if d.thread_id == thread_id]
            what += (
                f", where {ledger.label(reached[0].connection)} took it (a cross-thread leak)"
                if reached
                else f", not to {fate.thread_id!r}"
            )
            found[run_id].append(_ref(fate, what))
            threads[run_id] = fate.thread_id
    return [
        Violation(
            "threads",
            "notify accepted events for a run with no thread; they reach nobody"
            if threads[run_id] is None
            else f"events routed to another thread than the run's ({_source(ledger, run_id)})",
            run_id,
            threads[run_id],
            tuple(events),
        )
        for run_id, events in found.items()
    ]


def check_lifecycle(ledger: Ledger, analysis: Analysis | None = None) -> list[Violation]:
    """Resumed connections that did not start at ``last_seq + 1``; lifecycle order broken."""
    analysis = analysis or analyze(ledger)
    violations = []
    for delivery, what in analysis.bad_resumes:
        ref = EventRef(str(delivery.message.get("type")), None, None, what)
        violations.append(
            Violation(
                "lifecycle",
                "a resumed connection must get last_seq + 1 first",
                _str(delivery.message.get("run_id")),
                delivery.thread_id,
                (ref,),
            )
        )
    for run_id, what, delivery in analysis.reordered_lifecycle:
        ref = EventRef(str(delivery.message.get("type")), None, None, what)
        violations.append(
            Violation(
                "lifecycle",
                "delivered out of lifecycle order although emitted in order",
                run_id,
                delivery.thread_id,
                (ref,),
            )
        )
    return violations


@dataclass(frozen=True)
class FailFastOutcome:
    """What the factory did with one unfit orchestrator (see :mod:`pytest_wsbridge.failfast`)."""

    case: str
    """How the orchestrator is named: ``orchestrator=None``, ``a hanging orchestrator`` ..."""
    result: Literal["raised", "returned", "hung", "error"]
    """``raised`` (in time: the only right answer), ``returned``, ``hung`` (no answer within
    the limit, or one after it), ``error`` (the probe itself could not run)."""
    detail: str
    elapsed: float
    id: str = ""
    """The compliance case that asks the same question (``WSB-3.1``)."""
    error: str | None = None
    """The text of what the factory raised, if it raised."""

    @property
    def refused(self) -> bool:
        return self.result == "raised"

    def to_dict(self) -> dict[str, Any]:
        return {
            "case": self.case,
            "id": self.id,
            "result": self.result,
            "detail": self.detail,
            "elapsed": self.elapsed,
        }


def check_fail_fast(
    factory: str, outcomes: Sequence[FailFastOutcome], init_timeout: float
) -> list[Violation]:
    """One violation listing every case where the factory did not raise in time."""
    bad = [o for o in outcomes if not o.refused]
    if not bad:
        return []
    events = []
    for outcome in bad:
        if outcome.result == "hung":
            what = (
                f"hang after {outcome.elapsed:.2f}s (init timeout {init_timeout:g}s) — "
                f"{outcome.detail}"
            )
        elif outcome.result == "returned":
            what = (
                f"the factory returned {outcome.detail} after {outcome.elapsed:.2f}s instead "
                "of raising: the bridge would start 'fine' and fail at its first event"
            )
        else:
            what = outcome.detail
        where = f" ({outcome.id})" if outcome.id else ""
        events.append(EventRef(outcome.case, None, None, f"{outcome.case}{where}: {what}"))
    return [
        Violation(
            "fail_fast",
            f"factory {factory} must raise within the init timeout ({init_timeout:g}s) when "
            "the orchestrator is None, unhealthy, hanging or not an orchestrator",
            events=tuple(events),
        )
    ]


def run_checks(
    ledger: Ledger, checks: Iterable[str], analysis: Analysis | None = None
) -> list[Violation]:
    """Run the named ledger checks (``delivery``, ``threads``, ``lifecycle``) in report order."""
    wanted = set(checks)
    analysis = analysis or analyze(ledger)
    violations: list[Violation] = []
    if "delivery" in wanted:
        violations += check_delivery(ledger, analysis)
    if "threads" in wanted:
        violations += check_threads(ledger, analysis)
    if "lifecycle" in wanted:
        violations += check_lifecycle(ledger, analysis)
    return violations


def format_violations(violations: Sequence[Violation]) -> str:
    """The failure text: a count, then each violation."""
    count = len(violations)
    head = f"wsbridge: {count} violation{'s' if count != 1 else ''}"
    return "\n".join([head, *(v.render() for v in violations)])


# -- wording --------------------------------------------------------------------------------


def _ref(fate: Fate, what: str) -> EventRef:
    return EventRef(fate.call.event_type or fate.call.method, fate.call.index, fate.call.at, what)


def _undelivered(fate: Fate, ledger: Ledger) -> str:
    thread = fate.thread_id
    parts: list[str] = []
    if fate.call.outcome == "pending":
        parts.append("the notify call was still running after the delivery timeout")
    if not fate.sends:
        parts.append("not sent: the bridge never called send_to_thread for it")
    for send in fate.sends:
        if send.thread_id != thread:
            parts.append(f"sent to thread {send.thread_id!r} instead")
        elif send.outcome == "raised":
            parts.append(f"{send.describe_outcome()}")
        elif send.outcome == "returned" and send.result:
            parts.append(f"{send.describe_outcome()} but no connection took it")
        elif send.outcome == "returned":
            parts.append(
                f"sent while no connection of {thread!r} was live ({send.describe_outcome()})"
            )
    if any(s.outcome == "raised" for s in fate.sends) and fate.accepted:
        parts.append(f"the notify call {fate.call.describe_outcome()}: the error was swallowed")
    elif fate.accepted and fate.call.result is True:
        parts.append("the notify call returned True")
    late = ledger.late_subscribers.get(thread or "")
    if late:
        parts.append(late)
    return "; ".join(dict.fromkeys(parts))


def _delivery_summary(events: Sequence[EventRef]) -> str:
    kinds = []
    if any(not e.what.startswith(("delivered twice", "delivered out of order")) for e in events):
        kinds.append("events never reached a connection of the run's thread")
    if any(e.what.startswith("delivered twice") for e in events):
        kinds.append("events delivered twice")
    if any(e.what.startswith("delivered out of order") for e in events):
        kinds.append("events delivered out of order")
    return "; ".join(kinds)


def _source(ledger: Ledger, run_id: str) -> str:
    _, source = ledger.true_thread(run_id)
    return "registered with register_run" if source == "register_run" else f"from its {source}"


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None
