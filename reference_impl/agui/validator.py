"""The sans-I/O AG-UI 1.1 validator: feed events one at a time, then finish.

    v = Validator(input=run_agent_input)        # the RunAgentInput, when known
    for event in events:
        findings = v.feed(event)                # what this event broke, at once
    findings = v.finish()                       # what the end of the stream broke
    v.findings                                  # everything, in order

Nothing here does I/O or imports asyncio: the relay, the CLI's readers and the pytest helpers all
drive the same object. Every violation is reported, not only the first, and the validator never
raises on bad input (a non-object event is a finding like any other).

Tracking follows the spec's scopes: runs in sequence on one stream; inside a run, open text
messages, tool calls, reasoning spans and messages, steps (per owner) and subagent invocations;
chunked streams per lane (the parent agent's, or one subagent's). After a run closes nothing it
opened is tracked any more, so one fault is reported once rather than cascading.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from .patch import apply_patch
from .rules import RULES_BY_ID, Severity
from .shapes import EVENT_SPECS, check_event_shape

__all__ = ["SPEC_VERSION", "Finding", "Report", "Validator", "validate_events"]

SPEC_VERSION = (1, 1)
"""The protocol version this validator judges against."""

_VERSION = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$")
_LENIENT_WHEN_NEWER = frozenset(
    {
        "schema.unknown-event-type",
        "schema.unknown-property",
        "run.outcome-value",
        "subagent.outcome-value",
    }
)
# Events that stand aside from chunk assembly: they close no chunk stream.
_STAND_ASIDE = frozenset(
    {"RAW", "ACTIVITY_SNAPSHOT", "ACTIVITY_DELTA", "REASONING_ENCRYPTED_VALUE", "SUBAGENT_STARTED"}
)
_RUN_LEVEL = frozenset({"RUN_STARTED", "RUN_FINISHED", "RUN_ERROR", "MESSAGES_SNAPSHOT"})
_CHUNK_KIND = {
    "TEXT_MESSAGE_CHUNK": "text",
    "TOOL_CALL_CHUNK": "tool",
    "REASONING_MESSAGE_CHUNK": "reasoning",
}


@dataclass(frozen=True)
class Finding:
    """One broken rule: which rule, at which event (0-based), of what type, and why."""

    rule: str
    index: int
    type: str | None
    message: str
    severity: Severity = Severity.VIOLATION

    @property
    def is_violation(self) -> bool:
        return self.severity is Severity.VIOLATION

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` shape: ``rule``, ``index``, ``type``, ``message``."""
        return {"rule": self.rule, "index": self.index, "type": self.type, "message": self.message}

    def __str__(self) -> str:
        kind = self.type or "-"
        return f"#{self.index} {kind}: [{self.rule}] {self.message}"


@dataclass
class Report:
    """The verdict on one stream."""

    source: str
    events: int
    findings: list[Finding]

    @property
    def violations(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.VIOLATION]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.WARNING]

    @property
    def conformant(self) -> bool:
        return not self.violations

    def to_json(self) -> dict[str, Any]:
        """One ``--json`` line: source, events, conformant, violations, warnings."""
        return {
            "source": self.source,
            "events": self.events,
            "conformant": self.conformant,
            "violations": [f.to_json() for f in self.violations],
            "warnings": [f.to_json() for f in self.warnings],
        }


class _Run(Enum):
    NONE = "none"
    ACTIVE = "active"
    FINISHED = "finished"
    ERRORED = "errored"


@dataclass(slots=True)
class _Item:
    owner: str | None
    chunk: bool = False
    role: str | None = None
    name: str | None = None
    parent: str | None = None


@dataclass
class _RunScope:
    """Everything one run opened; dropped whole when the run closes."""

    run_id: str | None = None
    replayed: bool = False
    lenient: bool = False
    text: dict[str, _Item] = field(default_factory=dict)
    tools: dict[str, _Item] = field(default_factory=dict)
    reasoning: dict[str, _Item] = field(default_factory=dict)
    spans: dict[str, str | None] = field(default_factory=dict)
    steps: set[tuple[str | None, str]] = field(default_factory=set)
    active: set[str] = field(default_factory=set)
    announced: set[str] = field(default_factory=set)
    finished: set[str] = field(default_factory=set)
    used_unannounced: set[str] = field(default_factory=set)
    owners: dict[str, str | None] = field(default_factory=dict)
    calls: dict[str, None] = field(default_factory=dict)
    answered: set[str] = field(default_factory=set)
    lanes: dict[tuple[str | None, str], str] = field(default_factory=dict)
    fast: dict[str, tuple[dict[str, _Item], str, bool]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.fast = {
            "TEXT_MESSAGE_CONTENT": (self.text, "messageId", False),
            "TEXT_MESSAGE_END": (self.text, "messageId", True),
            "TOOL_CALL_ARGS": (self.tools, "toolCallId", False),
            "TOOL_CALL_END": (self.tools, "toolCallId", True),
            "REASONING_MESSAGE_CONTENT": (self.reasoning, "messageId", False),
            "REASONING_MESSAGE_END": (self.reasoning, "messageId", True),
        }


def _s(value: Any) -> str | None:
    return value if isinstance(value, str) else None


class Validator:
    """Judge one AG-UI event stream against the 1.1 rules, incrementally.

    ``input`` is the ``RunAgentInput`` the stream answers (a dict), when known: it enables the
    rules that need it (frontend tools, replayed history, the requested run).
    """

    def __init__(self, input: Mapping[str, Any] | None = None) -> None:
        self.findings: list[Finding] = []
        self.events = 0
        self._input = input if isinstance(input, Mapping) else None
        self._state = _Run.NONE
        self._run = _RunScope()
        # The fast path's table: the active run's, while no chunk stream is open; else empty.
        self._fast: dict[str, tuple[dict[str, _Item], str, bool]] = {}
        self._finished = False
        self._text_seen: dict[str, tuple[str | None, str | None]] = {}
        self._tool_seen: dict[str, tuple[str | None, str | None]] = {}
        self._known: set[str] = set()
        self._runs_started: set[str] = set()
        self._frontend: frozenset[str] = frozenset()
        self._input_ids: set[str] = set()
        self._requested: str | None = None
        self._refused = False
        # the agent state as the consumer holds it, when known (input.state, then snapshots)
        self._state_known = False
        self._state_doc: Any = None
        if self._input is not None:
            self._learn_input(self._input)

    # -- public API -------------------------------------------------------------------------

    def feed(self, event: Any) -> list[Finding]:
        """Judge the next event; return the findings it caused (also kept in :attr:`findings`)."""
        index = self.events
        self.events = index + 1
        if event.__class__ is dict:
            kind: Any = event.get("type")
            if kind.__class__ is str:
                fast = self._fast.get(kind)
                if fast is not None and len(event) < 4:
                    # The bulk of a stream: a bare content or end event (only its type, id and
                    # delta, all strings) continuing an open, explicitly started item of the
                    # active run while no chunk stream is open.
                    table, key, end = fast
                    item_id = event.get(key)
                    if (
                        item_id.__class__ is str
                        and (len(event) == 2) is end
                        and item_id in table
                        and (end or event.get("delta").__class__ is str)
                    ):
                        if end:
                            del table[item_id]
                        return []
                spec = EVENT_SPECS.get(kind)
                if spec is not None and spec.ok(event):  # a valid event of a known type
                    findings = self.findings
                    start = len(findings)
                    self._sequence(index, kind, event)
                    return findings[start:] if len(findings) != start else []
        return self._feed_faulty(index, event)

    def _feed_faulty(self, index: int, event: Any) -> list[Finding]:
        """The full path: an event that is not a dict, or whose shape has a problem."""
        findings = self.findings
        start = len(findings)
        if not isinstance(event, Mapping):
            self._add("schema.bad-value", index, None, "an event must be a JSON object")
            return findings[start:]
        kind: Any = event.get("type")
        spec = EVENT_SPECS.get(kind) if kind.__class__ is str else None
        if spec is None or not spec.ok(event):
            type_name = kind if kind.__class__ is str else None
            for rule_id, _path, message in check_event_shape(event):
                self._add(rule_id, index, type_name, message)
        if spec is not None:
            self._sequence(index, kind, event)
        return findings[start:]

    def feed_many(self, events: Iterable[Any]) -> list[Finding]:
        """Feed every event in order; return the findings they caused."""
        found: list[Finding] = []
        for event in events:
            found.extend(self.feed(event))
        return found

    def note(self, rule_id: str, message: str, *, index: int | None = None) -> Finding:
        """Record a finding detected outside the event (a wire rule); it is at the next event."""
        finding = self._make(rule_id, self.events if index is None else index, None, message)
        self.findings.append(finding)
        return finding

    def finish(self) -> list[Finding]:
        """The stream ended: report what its end breaks. Idempotent."""
        if self._finished:
            return []
        self._finished = True
        start = len(self.findings)
        end = self.events
        if self.events == 0:
            self._add("lifecycle.truncated", end, None, "the stream carried no event")
        elif self._state is _Run.ACTIVE:
            run = self._run.run_id
            self._add(
                "lifecycle.truncated",
                end,
                None,
                f"the stream ended while run {run!r} was active (no RUN_FINISHED/RUN_ERROR)",
            )
        missing = self._requested is not None and self._requested not in self._runs_started
        if missing and not self._refused:
            self._add(
                "input.run-missing",
                end,
                None,
                f"no RUN_STARTED for the requested run {self._requested!r}",
            )
        return self.findings[start:]

    def report(self, source: str = "<events>") -> Report:
        """The verdict so far (call :meth:`finish` first for a complete one)."""
        return Report(source=source, events=self.events, findings=list(self.findings))

    # -- plumbing ---------------------------------------------------------------------------

    def _make(self, rule_id: str, index: int, kind: str | None, message: str) -> Finding:
        severity = RULES_BY_ID[rule_id].severity
        if (
            severity is Severity.VIOLATION
            and self._run.lenient
            and self._state is _Run.ACTIVE
            and rule_id in _LENIENT_WHEN_NEWER
        ):
            severity = Severity.WARNING
            message += " (tolerated: the producer declared a newer protocol version)"
        return Finding(rule_id, index, kind, message, severity)

    def _add(self, rule_id: str, index: int, kind: str | None, message: str) -> None:
        self.findings.append(self._make(rule_id, index, kind, message))

    def _learn_input(self, data: Mapping[str, Any]) -> None:
        self._requested = _s(data.get("runId"))
        if "state" in data:
            self._state_known, self._state_doc = True, data["state"]
        tools = data.get("tools")
        if isinstance(tools, list):
            self._frontend = frozenset(
                t["name"]
                for t in tools
                if isinstance(t, Mapping) and isinstance(t.get("name"), str)
            )
        messages = data.get("messages")
        if isinstance(messages, list):
            for message in messages:
                if not isinstance(message, Mapping):
                    continue
                if isinstance(message.get("id"), str):
                    self._input_ids.add(message["id"])
                calls = message.get("toolCalls")
                if isinstance(calls, list):
                    self._input_ids.update(
                        c["id"]
                        for c in calls
                        if isinstance(c, Mapping) and isinstance(c.get("id"), str)
                    )
        self._known |= self._input_ids

    # -- ordering ---------------------------------------------------------------------------

    def _sequence(self, index: int, kind: str, event: Mapping[str, Any]) -> None:
        state = self._state
        if kind == "RUN_STARTED":
            if state is _Run.ACTIVE:
                self._add(
                    "lifecycle.nested-run",
                    index,
                    kind,
                    f"RUN_STARTED while run {self._run.run_id!r} is still active",
                )
            self._start_run(index, event)
            return
        if kind == "RUN_ERROR":
            if "usage" in event:
                self._check_usage(index, kind, event["usage"])
            if state is not _Run.ACTIVE and self._requested not in self._runs_started:
                self._refused = True  # the requested run failed before it could start
            if state is _Run.ERRORED:
                self._add(
                    "lifecycle.after-error", index, kind, "RUN_ERROR after the run already errored"
                )
            self._state = _Run.ERRORED
            self._run = _RunScope()
            self._fast = {}
            return
        if state is not _Run.ACTIVE:
            if state is _Run.NONE:
                self._add(
                    "lifecycle.first-event",
                    index,
                    kind,
                    f"{kind} before any RUN_STARTED (a stream opens with RUN_STARTED or RUN_ERROR)",
                )
            elif state is _Run.FINISHED:
                self._add("lifecycle.after-close", index, kind, f"{kind} after RUN_FINISHED")
            else:
                self._add("lifecycle.after-error", index, kind, f"{kind} after RUN_ERROR")
            return
        run = self._run
        if kind in _SUBAGENT_EVENTS:
            tag = None
        else:
            tag = event.get("subagentRunId")
            if tag is not None and tag.__class__ is not str:
                tag = None
        if run.lanes:
            self._close_lanes(kind, event, tag)
        if tag is not None:
            self._attributed(index, kind, tag)
        handler = _HANDLERS.get(kind)
        if handler is not None:
            handler(self, index, kind, event, tag)

    def _close_lanes(self, kind: str, event: Mapping[str, Any], tag: str | None) -> None:
        """Chunk streams end when anything but a stand-aside event arrives in their lane."""
        run = self._run
        if kind in _RUN_LEVEL:
            for key in list(run.lanes):
                self._close_chunk(key)
        elif kind in _SUBAGENT_EVENTS:
            if kind != "SUBAGENT_STARTED":
                sid = _s(event.get("subagentRunId"))
                for key in [k for k in run.lanes if k[0] == sid]:
                    self._close_chunk(key)
        elif kind not in _STAND_ASIDE:
            chunk_kind = _CHUNK_KIND.get(kind)
            for key in [k for k in run.lanes if k[0] == tag and k[1] != chunk_kind]:
                self._close_chunk(key)

    def _start_run(self, index: int, event: Mapping[str, Any]) -> None:
        run_id = _s(event.get("runId"))
        replayed = (
            self._requested is not None
            and run_id != self._requested
            and self._requested not in self._runs_started
        )
        self._run = _RunScope(run_id=run_id, replayed=replayed)
        self._state = _Run.ACTIVE
        self._fast = self._run.fast
        if run_id is not None:
            self._runs_started.add(run_id)
        version = event.get("protocolVersion")
        if version is None:
            self._add(
                "version.undeclared",
                index,
                "RUN_STARTED",
                "RUN_STARTED does not declare protocolVersion",
            )
        elif isinstance(version, str):
            match = _VERSION.match(version)
            if match is None:
                self._add(
                    "version.unparseable",
                    index,
                    "RUN_STARTED",
                    f"protocolVersion {version!r} is not MAJOR.MINOR",
                )
            elif (int(match[1]), int(match[2])) > SPEC_VERSION:
                self._run.lenient = True
                self._add(
                    "version.newer",
                    index,
                    "RUN_STARTED",
                    f"the producer speaks {version}, newer than 1.1: additions are warnings",
                )

    def _finish_run(self, index: int, kind: str, event: Mapping[str, Any]) -> None:
        run = self._run
        for mid in run.text:
            self._add("text.open-at-finish", index, kind, f"text message {mid!r} is still open")
        for tcid in run.tools:
            self._add("tool.open-at-finish", index, kind, f"tool call {tcid!r} is still open")
        for mid in run.reasoning:
            self._add(
                "reasoning.open-at-finish", index, kind, f"reasoning message {mid!r} is still open"
            )
        for sid in run.spans:
            self._add(
                "reasoning.span-open-at-finish",
                index,
                kind,
                f"reasoning span {sid!r} is still open",
            )
        for owner, name in sorted(run.steps, key=lambda s: (s[0] or "", s[1])):
            whose = f" (subagent {owner!r})" if owner else ""
            self._add("step.open-at-finish", index, kind, f"step {name!r}{whose} is still open")
        for sid in sorted(run.active):
            self._add(
                "subagent.active-at-finish",
                index,
                kind,
                f"subagent invocation {sid!r} is still active",
            )
        if "usage" in event:
            self._check_usage(index, kind, event["usage"])
        outcome = event.get("outcome")
        unanswered = [c for c in run.calls if c not in run.answered]
        if isinstance(outcome, Mapping):
            otype = outcome.get("type")
            if otype == "interrupt":
                self._check_interrupts(index, kind, outcome.get("interrupts"))
                frontend = [
                    c for c in unanswered if self._tool_seen.get(c, (None,))[0] in self._frontend
                ]
                if frontend:
                    self._add(
                        "input.frontend-interrupt",
                        index,
                        kind,
                        f"the run waits on frontend call(s) {frontend} but ends as interrupted",
                    )
            elif otype == "success":
                pending = outcome.get("pendingToolCallIds")
                if isinstance(pending, list) and pending and pending != unanswered:
                    self._add(
                        "tool.pending-mismatch",
                        index,
                        kind,
                        f"pendingToolCallIds is {pending}, the run left {unanswered} unanswered",
                    )
            elif otype == "cancelled" and "result" in event:
                self._add("run.cancelled-result", index, kind, "a cancelled run carries a result")
        self._state = _Run.FINISHED
        self._run = _RunScope()
        self._fast = {}

    def _check_usage(self, index: int, kind: str, usage: Any) -> None:
        """The token accounting: totals add up, and parts never exceed their totals."""
        if not isinstance(usage, list):
            return
        for i, entry in enumerate(usage):
            if not isinstance(entry, Mapping):
                continue
            counts: dict[str, int] = {k: v for k, v in entry.items() if v.__class__ is int}
            problems = []
            if {"totalTokens", "inputTokens", "outputTokens"} <= counts.keys():
                both = counts["inputTokens"] + counts["outputTokens"]
                if counts["totalTokens"] != both:
                    problems.append(
                        f"totalTokens {counts['totalTokens']} is not inputTokens + outputTokens "
                        f"({both})"
                    )
            cached = counts.get("cachedInputTokens", 0) + counts.get("cacheWriteInputTokens", 0)
            if "inputTokens" in counts and cached > counts["inputTokens"]:
                problems.append(f"cache counts {cached} exceed inputTokens {counts['inputTokens']}")
            reasoning = counts.get("reasoningTokens", 0)
            if "outputTokens" in counts and reasoning > counts["outputTokens"]:
                problems.append(
                    f"reasoningTokens {reasoning} exceed outputTokens {counts['outputTokens']}"
                )
            for problem in problems:
                self._add("run.usage-accounting", index, kind, f"usage[{i}]: {problem}")

    def _check_interrupts(self, index: int, kind: str, interrupts: Any) -> None:
        if not isinstance(interrupts, list):
            return
        seen: set[str] = set()
        for item in interrupts:
            iid = _s(item.get("id")) if isinstance(item, Mapping) else None
            if iid is None:
                continue
            if iid in seen:
                self._add(
                    "run.interrupt-duplicate-id", index, kind, f"interrupt id {iid!r} repeats"
                )
            seen.add(iid)

    # -- subagents --------------------------------------------------------------------------

    def _attributed(self, index: int, kind: str, sid: str) -> None:
        run = self._run
        if sid in run.finished:
            self._add(
                "subagent.reused-id",
                index,
                kind,
                f"{kind} attributed to subagent invocation {sid!r}, which already finished",
            )
        elif sid not in run.announced:
            run.used_unannounced.add(sid)

    def _subagent(self, index: int, kind: str, event: Mapping[str, Any], tag: str | None) -> None:
        run = self._run
        sid = _s(event.get("subagentRunId"))
        if sid is None:
            return
        if kind == "SUBAGENT_STARTED":
            if sid in run.active:
                self._add(
                    "subagent.duplicate-start", index, kind, f"invocation {sid!r} is already active"
                )
            elif sid in run.finished:
                self._add(
                    "subagent.reused-id",
                    index,
                    kind,
                    f"invocation {sid!r} already finished in this run",
                )
            elif sid in run.used_unannounced:
                self._add(
                    "subagent.late-announce",
                    index,
                    kind,
                    f"invocation {sid!r} is announced after events attributed to it",
                )
            parent = _s(event.get("parentSubagentRunId"))
            if parent is not None and parent not in run.announced:
                self._add(
                    "subagent.unknown-parent",
                    index,
                    kind,
                    f"parentSubagentRunId {parent!r} was not announced in this run",
                )
            run.active.add(sid)
            run.announced.add(sid)
            return
        if sid in run.finished:
            self._add(
                "subagent.reused-id",
                index,
                kind,
                f"invocation {sid!r} already finished in this run",
            )
        run.active.discard(sid)
        run.finished.add(sid)

    # -- chunk lanes ------------------------------------------------------------------------

    def _close_chunk(self, key: tuple[str | None, str]) -> None:
        item_id = self._run.lanes.pop(key)
        if not self._run.lanes:
            self._fast = self._run.fast
        table = {"text": self._run.text, "tool": self._run.tools, "reasoning": self._run.reasoning}[
            key[1]
        ]
        item = table.get(item_id)
        if item is not None and item.chunk:
            del table[item_id]

    def _lane_for(self, index: int, kind: str, chunk_kind: str, tag: str | None) -> str | None:
        """The open chunk stream an id-less continuation continues (``None``: none)."""
        lanes = self._run.lanes
        if tag is not None:
            return lanes.get((tag, chunk_kind))
        if (None, chunk_kind) in lanes:
            return lanes[(None, chunk_kind)]
        candidates = [v for k, v in lanes.items() if k[1] == chunk_kind]
        if len(candidates) == 1:
            return candidates[0]
        if len(candidates) > 1:
            self._add(
                "chunk.ambiguous",
                index,
                kind,
                f"an id-less, untagged {kind} could continue any of {sorted(candidates)}",
            )
            return ""
        return None

    def _chunk(self, index: int, kind: str, event: Mapping[str, Any], tag: str | None) -> None:
        chunk_kind = _CHUNK_KIND[kind]
        id_key = "toolCallId" if chunk_kind == "tool" else "messageId"
        item_id = _s(event.get(id_key))
        run = self._run
        table = {"text": run.text, "tool": run.tools, "reasoning": run.reasoning}[chunk_kind]
        current = run.lanes.get((tag, chunk_kind))
        if item_id is None:
            item_id = self._lane_for(index, kind, chunk_kind, tag)
            if item_id == "":
                return
            if item_id is None:
                self._add(
                    "chunk.first-fields",
                    index,
                    kind,
                    f"the first {kind} of an item carries no {id_key}",
                )
                return
            current = item_id
        if item_id == current and item_id in table and table[item_id].chunk:
            item = table[item_id]
            if tag is not None and tag != item.owner:
                self._add(
                    "subagent.owner-mismatch",
                    index,
                    kind,
                    f"{item_id!r} is owned by {item.owner!r}, this chunk says {tag!r}",
                )
            for key, held in _REPEATABLE[chunk_kind](item):
                value = event.get(key)
                if isinstance(value, str) and value != held:
                    self._add(
                        "chunk.conflict",
                        index,
                        kind,
                        f"{key} {value!r} contradicts {held!r} established for {item_id!r}",
                    )
            return
        if current is not None:
            self._close_chunk((tag, chunk_kind))
        if chunk_kind == "text":
            opened = self._text_start(
                index,
                kind,
                item_id,
                tag,
                _s(event.get("role")) or "assistant",
                _s(event.get("name")),
                chunk=True,
            )
        elif chunk_kind == "tool":
            name = _s(event.get("toolCallName"))
            if name is None:
                self._add(
                    "chunk.first-fields",
                    index,
                    kind,
                    f"the first TOOL_CALL_CHUNK of {item_id!r} carries no toolCallName",
                )
                return
            opened = self._tool_start(
                index, kind, item_id, tag, name, _s(event.get("parentMessageId")), chunk=True
            )
        else:
            opened = self._reasoning_start(index, kind, item_id, tag, chunk=True)
        if opened:
            run.lanes[(tag, chunk_kind)] = item_id
            self._fast = {}

    # -- streamed items ---------------------------------------------------------------------

    def _replay_check(self, index: int, kind: str, item_id: str) -> None:
        if item_id in self._input_ids:
            self._add(
                "input.replay-streamed",
                index,
                kind,
                f"{item_id!r} was in the input's history; a replayed run restates it as a snapshot",
            )

    def _text_start(
        self,
        index: int,
        kind: str,
        mid: str | None,
        owner: str | None,
        role: str | None,
        name: str | None,
        *,
        chunk: bool = False,
    ) -> bool:
        if mid is None:
            return False
        run = self._run
        if mid in run.text:
            self._add("text.duplicate-open", index, kind, f"text message {mid!r} is already open")
            return False
        seen = self._text_seen.get(mid)
        if seen is not None and seen != (role, name):
            self._add(
                "text.reopen-mismatch",
                index,
                kind,
                f"{mid!r} was opened as role={seen[0]!r} name={seen[1]!r}, "
                f"reopened as role={role!r} name={name!r}",
            )
        if mid in run.owners and run.owners[mid] != owner:
            self._add(
                "subagent.owner-mismatch",
                index,
                kind,
                f"{mid!r} belongs to {run.owners[mid]!r}, reopened under {owner!r}",
            )
        if run.replayed:
            self._replay_check(index, kind, mid)
        run.text[mid] = _Item(owner, chunk, role, name)
        run.owners[mid] = owner
        self._text_seen.setdefault(mid, (role, name))
        self._known.add(mid)
        return True

    def _tool_start(
        self,
        index: int,
        kind: str,
        tcid: str | None,
        owner: str | None,
        name: str | None,
        parent: str | None,
        *,
        chunk: bool = False,
    ) -> bool:
        if tcid is None:
            return False
        run = self._run
        if tcid in run.tools:
            self._add("tool.duplicate-open", index, kind, f"tool call {tcid!r} is already open")
            return False
        seen = self._tool_seen.get(tcid)
        if seen is not None and seen != (name, parent):
            self._add(
                "tool.reopen-mismatch",
                index,
                kind,
                f"{tcid!r} was opened as {seen[0]!r} (parent {seen[1]!r}), "
                f"reopened as {name!r} (parent {parent!r})",
            )
        if owner is not None and parent is not None and run.owners.get(parent, owner) != owner:
            self._add(
                "subagent.tool-owner-mismatch",
                index,
                kind,
                f"call {tcid!r} is tagged {owner!r}, its message {parent!r} "
                f"belongs to {run.owners[parent]!r}",
            )
        if run.replayed:
            self._replay_check(index, kind, tcid)
        run.tools[tcid] = _Item(owner, chunk, None, name, parent)
        run.calls.setdefault(tcid, None)
        self._tool_seen.setdefault(tcid, (name, parent))
        self._known.add(tcid)
        return True

    def _reasoning_start(
        self, index: int, kind: str, mid: str | None, owner: str | None, *, chunk: bool = False
    ) -> bool:
        if mid is None:
            return False
        run = self._run
        if mid in run.reasoning:
            self._add(
                "reasoning.duplicate-open",
                index,
                kind,
                f"reasoning message {mid!r} is already open",
            )
            return False
        if run.replayed:
            self._replay_check(index, kind, mid)
        run.reasoning[mid] = _Item(owner, chunk)
        self._known.add(mid)
        return True

    def _on_more(self, index: int, kind: str, event: Mapping[str, Any], tag: str | None) -> None:
        """A content or end event of a streamed item (the common case, kept short)."""
        family, key, rule_id, what, end = _MORE[kind]
        item_id = event.get(key)
        if item_id.__class__ is not str:
            return
        table: dict[str, _Item] = getattr(self._run, family)
        item = table.get(item_id)
        if item is None:
            self._add(rule_id, index, kind, f"{what} {item_id!r} is not open")
            return
        if tag is not None and tag != item.owner:
            self._add(
                "subagent.owner-mismatch",
                index,
                kind,
                f"{what} {item_id!r} is owned by {item.owner!r}, this event says {tag!r}",
            )
        if end:
            del table[item_id]

    def _on_text(self, index: int, kind: str, event: Mapping[str, Any], tag: str | None) -> None:
        role = _s(event.get("role")) or "assistant"
        self._text_start(index, kind, _s(event.get("messageId")), tag, role, _s(event.get("name")))

    def _on_tool(self, index: int, kind: str, event: Mapping[str, Any], tag: str | None) -> None:
        tcid = _s(event.get("toolCallId"))
        if kind == "TOOL_CALL_START":
            self._tool_start(
                index,
                kind,
                tcid,
                tag,
                _s(event.get("toolCallName")),
                _s(event.get("parentMessageId")),
            )
        elif kind == "TOOL_CALL_RESULT":
            if tcid is None:
                return
            name = self._tool_seen.get(tcid, (None, None))[0]
            if name is not None and name in self._frontend:
                self._add(
                    "input.frontend-result",
                    index,
                    kind,
                    f"{tcid!r} calls frontend tool {name!r}: the application answers it",
                )
            self._run.answered.add(tcid)
            mid = _s(event.get("messageId"))
            if mid is not None:
                self._known.add(mid)

    def _on_reasoning(
        self, index: int, kind: str, event: Mapping[str, Any], tag: str | None
    ) -> None:
        mid = _s(event.get("messageId"))
        run = self._run
        if kind == "REASONING_START":
            if mid is None:
                return
            if mid in run.spans:
                self._add(
                    "reasoning.span-duplicate-open",
                    index,
                    kind,
                    f"reasoning span {mid!r} is already open",
                )
            else:
                run.spans[mid] = tag
        elif kind == "REASONING_END":
            if mid is None:
                return
            if mid not in run.spans:
                self._add(
                    "reasoning.span-not-open", index, kind, f"reasoning span {mid!r} is not open"
                )
            else:
                owner = run.spans.pop(mid)
                if tag is not None and tag != owner:
                    self._add(
                        "subagent.owner-mismatch",
                        index,
                        kind,
                        f"span {mid!r} is owned by {owner!r}, this event says {tag!r}",
                    )
        elif kind == "REASONING_MESSAGE_START":
            self._reasoning_start(index, kind, mid, tag)
        else:  # REASONING_ENCRYPTED_VALUE
            entity = _s(event.get("entityId"))
            if entity is not None and entity not in self._known:
                self._add(
                    "reasoning.unknown-entity",
                    index,
                    kind,
                    f"entityId {entity!r} names no message or tool call seen so far",
                )

    def _on_step(self, index: int, kind: str, event: Mapping[str, Any], tag: str | None) -> None:
        name = _s(event.get("stepName"))
        if name is None:
            return
        key = (tag, name)
        steps = self._run.steps
        if kind == "STEP_STARTED":
            if key in steps:
                whose = f" for subagent {tag!r}" if tag else ""
                self._add(
                    "step.duplicate-open", index, kind, f"step {name!r} is already open{whose}"
                )
            steps.add(key)
        elif key in steps:
            steps.discard(key)
        else:
            whose = f" for subagent {tag!r}" if tag else ""
            self._add("step.not-open", index, kind, f"step {name!r} is not open{whose}")

    def _on_snapshot(
        self, index: int, kind: str, event: Mapping[str, Any], tag: str | None
    ) -> None:
        messages = event.get("messages")
        if not isinstance(messages, list):
            return
        for i, message in enumerate(messages):
            if not isinstance(message, Mapping):
                continue
            mid = _s(message.get("id"))
            if mid is not None:
                self._known.add(mid)
                self._run.owners.setdefault(mid, _s(message.get("subagentRunId")))
            if "encryptedValueType" in message and "encryptedValue" not in message:
                self._add(
                    "reasoning.encrypted-type-alone",
                    index,
                    kind,
                    f"messages[{i}] has encryptedValueType without encryptedValue",
                )
            calls = message.get("toolCalls")
            if isinstance(calls, list):
                for j, call in enumerate(calls):
                    if not isinstance(call, Mapping):
                        continue
                    if isinstance(call.get("id"), str):
                        self._known.add(call["id"])
                    if "encryptedValueType" in call and "encryptedValue" not in call:
                        self._add(
                            "reasoning.encrypted-type-alone",
                            index,
                            kind,
                            f"messages[{i}].toolCalls[{j}] has encryptedValueType "
                            "without encryptedValue",
                        )

    def _on_state(self, index: int, kind: str, event: Mapping[str, Any], tag: str | None) -> None:
        if kind == "STATE_SNAPSHOT":
            self._state_known, self._state_doc = True, event.get("snapshot")
            return
        if not self._state_known or not EVENT_SPECS[kind].ok(event):
            return  # no baseline (whether it applies cannot be known), or a malformed delta
        patched, why = apply_patch(self._state_doc, event.get("delta") or [])
        if why is not None:
            self._add("state.patch-does-not-apply", index, kind, f"the delta does not apply: {why}")
        else:
            self._state_doc = patched

    def _on_run_finished(
        self, index: int, kind: str, event: Mapping[str, Any], tag: str | None
    ) -> None:
        self._finish_run(index, kind, event)


_REPEATABLE: dict[str, Callable[[_Item], tuple[tuple[str, str | None], ...]]] = {
    "text": lambda item: (("role", item.role), ("name", item.name)),
    "tool": lambda item: (("toolCallName", item.name), ("parentMessageId", item.parent)),
    "reasoning": lambda item: (),
}
_MORE: dict[str, tuple[str, str, str, str, bool]] = {
    "TEXT_MESSAGE_CONTENT": ("text", "messageId", "text.not-open", "text message", False),
    "TEXT_MESSAGE_END": ("text", "messageId", "text.not-open", "text message", True),
    "TOOL_CALL_ARGS": ("tools", "toolCallId", "tool.not-open", "tool call", False),
    "TOOL_CALL_END": ("tools", "toolCallId", "tool.not-open", "tool call", True),
    "REASONING_MESSAGE_CONTENT": (
        "reasoning", "messageId", "reasoning.not-open", "reasoning message", False,
    ),
    "REASONING_MESSAGE_END": (
        "reasoning", "messageId", "reasoning.not-open", "reasoning message", True,
    ),
}  # fmt: skip
_SUBAGENT_EVENTS = frozenset({"SUBAGENT_STARTED", "SUBAGENT_FINISHED", "SUBAGENT_ERROR"})
_HANDLERS = {
    "TEXT_MESSAGE_START": Validator._on_text,
    "TEXT_MESSAGE_CONTENT": Validator._on_more,
    "TEXT_MESSAGE_END": Validator._on_more,
    "TOOL_CALL_START": Validator._on_tool,
    "TOOL_CALL_ARGS": Validator._on_more,
    "TOOL_CALL_END": Validator._on_more,
    "TOOL_CALL_RESULT": Validator._on_tool,
    "TEXT_MESSAGE_CHUNK": Validator._chunk,
    "TOOL_CALL_CHUNK": Validator._chunk,
    "REASONING_MESSAGE_CHUNK": Validator._chunk,
    "REASONING_START": Validator._on_reasoning,
    "REASONING_END": Validator._on_reasoning,
    "REASONING_MESSAGE_START": Validator._on_reasoning,
    "REASONING_MESSAGE_CONTENT": Validator._on_more,
    "REASONING_MESSAGE_END": Validator._on_more,
    "REASONING_ENCRYPTED_VALUE": Validator._on_reasoning,
    "STEP_STARTED": Validator._on_step,
    "STEP_FINISHED": Validator._on_step,
    "MESSAGES_SNAPSHOT": Validator._on_snapshot,
    "STATE_SNAPSHOT": Validator._on_state,
    "STATE_DELTA": Validator._on_state,
    "SUBAGENT_STARTED": Validator._subagent,
    "SUBAGENT_FINISHED": Validator._subagent,
    "SUBAGENT_ERROR": Validator._subagent,
    "RUN_FINISHED": Validator._on_run_finished,
}


def validate_events(
    events: Iterable[Any], *, input: Mapping[str, Any] | None = None, source: str = "<events>"
) -> Report:
    """Judge a whole event sequence at once."""
    validator = Validator(input=input)
    validator.feed_many(events)
    validator.finish()
    return validator.report(source)
