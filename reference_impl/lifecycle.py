"""The event lifecycle of a run as one transition table, and validators built on it.

A run goes ``NEW --agent_started--> RUNNING --(thinking|tool_*|custom)*--> RUNNING
--agent_completed|agent_error--> FINISHED``. Nothing follows ``FINISHED``. Tool calls pair by tool
name: each ``tool_completed`` closes the oldest open ``tool_executing`` of the same tool.

"Lifecycle" means this and only this: the order of one run's events. A thread's seq
numbering is its *sequence* (:mod:`reference_impl.sequence`); what the bridge does when a run
breaks its lifecycle is its *lifecycle policy* (``off``, ``warn``, ``strict``).

The table is plain data built from each event type's :class:`~reference_impl.events.EventRole`
in :data:`~reference_impl.events.EVENTS` (no event type is named here), so the bridge, the
plugin's checks and the compliance suite all judge with the same rules. The validators take
any event sequence (dicts with at least ``type``, ``run_id`` and, for thread checks, ``seq``)
and return *every* violation, not just the first.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from .events import CALL_KEY, EVENTS, EventRole
from .sequence import check_thread_sequence  # noqa: F401 - importable here, where it was first
from .violations import RuleViolation

__all__ = [
    "TRANSITIONS",
    "LifecycleViolation",
    "RunLifecycle",
    "RunState",
    "check_run_lifecycle",
    "check_runs",
]


class RunState(str, Enum):
    """Where a run is in its lifecycle."""

    NEW = "new"
    RUNNING = "running"
    FINISHED = "finished"


_STEPS = (EventRole.STEP, EventRole.CALL_START, EventRole.CALL_END)
_NEXT: Mapping[EventRole, tuple[tuple[RunState, RunState], ...]] = {
    EventRole.START: ((RunState.NEW, RunState.RUNNING),),
    **{role: ((RunState.RUNNING, RunState.RUNNING),) for role in _STEPS},
    EventRole.FREE: ((RunState.NEW, RunState.NEW), (RunState.RUNNING, RunState.RUNNING)),
    EventRole.END: ((RunState.RUNNING, RunState.FINISHED),),
}

TRANSITIONS: Mapping[tuple[RunState, str], RunState] = {
    (before, spec.type): after for spec in EVENTS for before, after in _NEXT[spec.role]
}
"""``(state, event type) -> next state``; a pair that is missing is a violation."""

_STARTS = EVENTS.with_role(EventRole.START)
_ENDS = EVENTS.with_role(EventRole.END)


@dataclass(frozen=True)
class LifecycleViolation(RuleViolation):
    """A broken rule of a run's lifecycle (``started-first``, ``after-terminal``, ...)."""


@dataclass
class RunLifecycle:
    """The incremental state machine of one run; :meth:`advance` checks before it mutates."""

    state: RunState = RunState.NEW
    open_tools: Counter[str] = field(default_factory=Counter)

    def violation_for(
        self, event_type: str, tool_name: str | None = None
    ) -> tuple[str, str] | None:
        """Return ``(rule, message)`` if the event is not allowed now, else ``None``."""
        spec = EVENTS.get(event_type)
        if spec is None:
            return "unknown-type", f"unknown event type {event_type!r}"
        if self.state is RunState.FINISHED:
            return "after-terminal", f"{event_type} after the run's terminal event"
        if (self.state, event_type) not in TRANSITIONS:
            if self.state is RunState.NEW:
                return "started-first", f"{event_type} before {' or '.join(_STARTS)}"
            return "started-once", f"a second {event_type}"
        if spec.role is EventRole.CALL_END and not self.open_tools[tool_name or ""]:
            opens = " or ".join(EVENTS.with_role(EventRole.CALL_START))
            return "tool-pairing", f"{event_type} for {tool_name!r} without {opens}"
        return None

    def advance(self, event_type: str, tool_name: str | None = None) -> None:
        """Move to the next state; the caller checks :meth:`violation_for` first."""
        self.state = TRANSITIONS.get((self.state, event_type), self.state)
        spec = EVENTS.get(event_type)
        role = spec.role if spec is not None else None
        if role is EventRole.CALL_START:
            self.open_tools[tool_name or ""] += 1
        elif role is EventRole.CALL_END and self.open_tools[tool_name or ""]:
            self.open_tools[tool_name or ""] -= 1


def _tool_name(event: Mapping[str, Any]) -> str | None:
    payload = event.get("payload")
    if isinstance(payload, Mapping):
        name = payload.get(CALL_KEY)
        return name if isinstance(name, str) else None
    name = event.get(CALL_KEY)
    return name if isinstance(name, str) else None


def check_run_lifecycle(
    events: Iterable[Mapping[str, Any]], *, require_terminal: bool = False
) -> list[LifecycleViolation]:
    """Return every lifecycle violation in the events of *one* run, in order."""
    run = RunLifecycle()
    violations: list[LifecycleViolation] = []
    last: tuple[int, Mapping[str, Any]] | None = None
    for index, event in enumerate(events):
        kind = str(event.get("type"))
        tool = _tool_name(event)
        problem = run.violation_for(kind, tool)
        if problem:
            violations.append(LifecycleViolation(problem[0], problem[1], index, event))
        run.advance(kind, tool)
        last = (index, event)
    if require_terminal and last is not None and run.state is not RunState.FINISHED:
        violations.append(
            LifecycleViolation("terminal-last", f"the run has no {' or '.join(_ENDS)}", *last)
        )
    return violations


def check_runs(
    events: Iterable[Mapping[str, Any]], *, require_terminal: bool = False
) -> dict[str, list[LifecycleViolation]]:
    """Group events by ``run_id`` and check each run; only runs with violations are returned.

    Indexes in the violations are positions within that run's events.
    """
    by_run: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for event in events:
        by_run[str(event.get("run_id"))].append(event)
    found = {
        run_id: check_run_lifecycle(run_events, require_terminal=require_terminal)
        for run_id, run_events in by_run.items()
    }
    return {run_id: found_ for run_id, found_ in found.items() if found_}
