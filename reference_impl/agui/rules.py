"""The AG-UI 1.1 rule catalogue, as data.

Every rule the validator enforces is one :class:`Rule` row here: a stable id, one line in our own
words, the spec page and anchor it comes from (pages under ``docs/spec/1.1/`` of the public
``ag-ui-protocol/ag-ui`` repository), a severity, and what a producer changes to comply. The
validator only ever reports ids from this table; ``docs/agui-rules.md`` is generated from it.

Ids are stable: a rule may be reworded, never renumbered or renamed. Families: ``lifecycle``,
``step``, ``text``, ``tool``, ``chunk``, ``reasoning``, ``subagent``, ``run`` (outcomes), ``state``,
``schema`` (per-event shape), ``input`` (needs the ``RunAgentInput``), ``version`` and ``wire``
(the HTTP+SSE binding).
"""

# ruff: noqa: E501  (tables: one row per rule/shape reads better than wrapped rows)

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

__all__ = ["RULES", "RULES_BY_ID", "SPEC_BASE", "Rule", "Severity", "rule"]

SPEC_BASE = "https://github.com/ag-ui-protocol/ag-ui/blob/main/docs/spec/1.1/"
"""Where the cited pages live; a rule's :attr:`Rule.url` is this plus its page and anchor."""


class Severity(str, Enum):
    """A violation makes a stream non-conformant; a warning is reported and does not."""

    VIOLATION = "violation"
    WARNING = "warning"


@dataclass(frozen=True)
class Rule:
    """One mechanically checkable AG-UI 1.1 rule."""

    id: str
    statement: str
    page: str
    anchor: str
    severity: Severity
    fix: str
    needs_input: bool = False
    wire_only: bool = False

    @property
    def url(self) -> str:
        """The spec page and anchor this rule cites."""
        page = self.page.removesuffix(".mdx")
        return f"{SPEC_BASE}{page}.mdx#{self.anchor}" if self.anchor else f"{SPEC_BASE}{page}"


_V = Severity.VIOLATION
_W = Severity.WARNING
_LC = "events/lifecycle.mdx"
_ST = "basic/patterns/streaming.mdx"
_TM = "events/text-messages.mdx"
_TC = "events/tool-calls.mdx"
_RS = "events/reasoning.mdx"
_SA = "events/subagents.mdx"
_IR = "basic/patterns/interrupt-resume.mdx"
_PR = "basic/processing.mdx"
_VE = "basic/versioning.mdx"
_SSE = "basic/transports/http-sse.mdx"
_TR = "basic/transports/index.mdx"
_SC = "schema.json"

RULES: tuple[Rule, ...] = (
    # -- run lifecycle ------------------------------------------------------------------------
    Rule("lifecycle.first-event", "A stream opens with RUN_STARTED or RUN_ERROR; no event comes before a run.",
         _LC, "the-run", _V, "Emit RUN_STARTED (or RUN_ERROR) before any other event."),
    Rule("lifecycle.after-close", "After RUN_FINISHED only RUN_STARTED or a late RUN_ERROR may follow.",
         _LC, "after-a-run-closes", _V, "Emit nothing for a run after it finished; start a new run instead."),
    Rule("lifecycle.after-error", "After RUN_ERROR only a new RUN_STARTED may follow.",
         _LC, "after-a-run-closes", _V, "Emit nothing after RUN_ERROR except RUN_STARTED for a new run."),
    Rule("lifecycle.nested-run", "A RUN_STARTED while a run is still active is forbidden.",
         _LC, "several-runs-on-one-stream", _V, "Close the current run (RUN_FINISHED or RUN_ERROR) before the next RUN_STARTED."),
    Rule("lifecycle.truncated", "A stream ends only after a terminal event (RUN_FINISHED or RUN_ERROR).",
         _TR, "truncation", _V, "Finish every run with RUN_FINISHED or RUN_ERROR before closing the stream."),
    # -- steps --------------------------------------------------------------------------------
    Rule("step.duplicate-open", "A step name already open for the same owner is not opened again.",
         _LC, "steps", _V, "Finish the step before starting another with the same stepName."),
    Rule("step.not-open", "STEP_FINISHED names a step its owner has open.",
         _LC, "steps", _V, "Only finish a step that the same owner started (same stepName, same subagentRunId)."),
    Rule("step.open-at-finish", "Every step is finished before RUN_FINISHED.",
         _LC, "steps", _V, "Emit STEP_FINISHED for every open step before RUN_FINISHED."),
    # -- text messages ------------------------------------------------------------------------
    Rule("text.duplicate-open", "TEXT_MESSAGE_START does not name a message that is already open.",
         _ST, "open-content-close", _V, "End the message before starting it again."),
    Rule("text.not-open", "TEXT_MESSAGE_CONTENT and TEXT_MESSAGE_END name an open message.",
         _ST, "open-content-close", _V, "Send TEXT_MESSAGE_START first (or keep the message open until its content is sent)."),
    Rule("text.open-at-finish", "Every text message is ended before RUN_FINISHED.",
         _ST, "open-content-close", _V, "Emit TEXT_MESSAGE_END for every open message before RUN_FINISHED."),
    Rule("text.reopen-mismatch", "A reopened message keeps its role and name.",
         _TM, "text_message_end", _V, "Reopen a message with the same role and name it was opened with."),
    # -- tool calls ---------------------------------------------------------------------------
    Rule("tool.duplicate-open", "TOOL_CALL_START does not name a call that is already open.",
         _ST, "open-content-close", _V, "End the call before starting it again."),
    Rule("tool.not-open", "TOOL_CALL_ARGS and TOOL_CALL_END name an open call.",
         _ST, "open-content-close", _V, "Send TOOL_CALL_START first (or keep the call open until its arguments are sent)."),
    Rule("tool.open-at-finish", "Every tool call is ended before RUN_FINISHED.",
         _ST, "open-content-close", _V, "Emit TOOL_CALL_END for every open call before RUN_FINISHED."),
    Rule("tool.reopen-mismatch", "A reopened call keeps its toolCallName and parentMessageId.",
         _TC, "tool_call_end", _V, "Reopen a call with the same toolCallName and parentMessageId."),
    Rule("tool.pending-mismatch", "A non-empty pendingToolCallIds lists exactly the run's unanswered calls, in order.",
         _TC, "frontend-tools", _V, "List every call the run started without a TOOL_CALL_RESULT, in call order, and nothing else."),
    # -- chunked form -------------------------------------------------------------------------
    Rule("chunk.first-fields", "A first chunk carries its identifier (and a tool call's name).",
         _ST, "the-first-chunk", _V, "Put messageId (toolCallId and toolCallName for tools) on the chunk that opens an item."),
    Rule("chunk.conflict", "A continuation chunk repeats an opener's field only with the same value.",
         _ST, "continuation-chunks", _V, "Omit role/name/toolCallName/parentMessageId on continuations, or repeat them unchanged."),
    Rule("chunk.ambiguous", "An untagged, id-less continuation has exactly one stream it can continue.",
         _ST, "closing-a-chunk-stream", _V, "Carry messageId/toolCallId or subagentRunId on continuation chunks of parallel subagents."),
    # -- reasoning ----------------------------------------------------------------------------
    Rule("reasoning.span-duplicate-open", "REASONING_START does not reopen a span that is open.",
         _RS, "spans-reasoning_start-and-reasoning_end", _V, "End the span before starting one with the same messageId."),
    Rule("reasoning.span-not-open", "REASONING_END names an open span.",
         _RS, "spans-reasoning_start-and-reasoning_end", _V, "Only end a span that REASONING_START opened."),
    Rule("reasoning.span-open-at-finish", "Every reasoning span is ended before RUN_FINISHED.",
         _RS, "spans-reasoning_start-and-reasoning_end", _V, "Emit REASONING_END for every open span before RUN_FINISHED."),
    Rule("reasoning.duplicate-open", "REASONING_MESSAGE_START does not name an open reasoning message.",
         _RS, "reasoning-messages", _V, "End the reasoning message before starting it again."),
    Rule("reasoning.not-open", "REASONING_MESSAGE_CONTENT and _END name an open reasoning message.",
         _RS, "reasoning-messages", _V, "Send REASONING_MESSAGE_START first."),
    Rule("reasoning.open-at-finish", "Every reasoning message is ended before RUN_FINISHED.",
         _RS, "reasoning-messages", _V, "Emit REASONING_MESSAGE_END for every open reasoning message before RUN_FINISHED."),
    Rule("reasoning.encrypted-type-alone", "encryptedValueType never travels without encryptedValue.",
         _RS, "encryptedvaluetype", _V, "Drop encryptedValueType, or send the encryptedValue it describes."),
    Rule("reasoning.unknown-entity", "REASONING_ENCRYPTED_VALUE names a message or tool call the stream knows.",
         _RS, "error-handling", _W, "Send the encrypted value after the message or tool call it belongs to."),
    # -- subagents ----------------------------------------------------------------------------
    Rule("subagent.duplicate-start", "SUBAGENT_STARTED does not announce an invocation that is active.",
         _SA, "lifecycle", _V, "Give every invocation its own subagentRunId."),
    Rule("subagent.reused-id", "A subagentRunId finished in this run is not announced or used again.",
         _SA, "lifecycle", _V, "Use a new subagentRunId for a second invocation."),
    Rule("subagent.late-announce", "An invocation is announced before any event attributed to it.",
         _SA, "lifecycle", _V, "Emit SUBAGENT_STARTED before the subagent's first event."),
    Rule("subagent.active-at-finish", "Every announced invocation is closed before RUN_FINISHED.",
         _SA, "termination", _V, "Emit SUBAGENT_FINISHED or SUBAGENT_ERROR for every invocation before RUN_FINISHED."),
    Rule("subagent.unknown-parent", "parentSubagentRunId names an invocation announced in this run.",
         _SA, "nesting-and-parallelism", _V, "Announce the parent invocation first, or omit parentSubagentRunId."),
    Rule("subagent.owner-mismatch", "A continuation's subagentRunId agrees with its opener's.",
         _SA, "ownership", _V, "Tag continuations with the opener's subagentRunId, or omit the tag."),
    Rule("subagent.tool-owner-mismatch", "A tool call is attributed like the message that carries it.",
         _SA, "ownership", _V, "Give the tool call the same subagentRunId as its parent message."),
    Rule("subagent.outcome-value", "SUBAGENT_FINISHED.outcome is success or suspended.",
         _SA, "lifecycle", _V, "Send only an outcome the 1.1 schema describes."),
    Rule("subagent.success-interrupt-ids", "A success subagent outcome carries no interrupt ids.",
         _SA, "lifecycle", _V, "Use the suspended outcome to name interrupt ids."),
    # -- run outcomes -------------------------------------------------------------------------
    Rule("run.outcome-value", "RUN_FINISHED.outcome is success, interrupt or cancelled.",
         _LC, "run_finished", _V, "Send only an outcome the 1.1 schema describes."),
    Rule("run.interrupt-empty", "An interrupt outcome carries at least one interrupt.",
         _IR, "interrupting", _V, "List what the run waits for in outcome.interrupts, or use another outcome."),
    Rule("run.interrupt-duplicate-id", "Interrupt ids are unique within a run.",
         _IR, "interrupting", _V, "Give every interrupt of the run its own id."),
    Rule("run.success-with-interrupts", "A success outcome carries no interrupts.",
         _IR, "error-handling", _V, "Use the interrupt outcome for a run that waits for outside input."),
    Rule("run.usage-accounting", "Token counts add up: total = input + output; cache and reasoning counts are parts, never more.",
         _LC, "token-usage", _V, "Report totalTokens as inputTokens + outputTokens and fold cache/reasoning counts into their totals."),
    Rule("run.cancelled-result", "A cancelled run has no result.",
         _LC, "cancelled-runs", _W, "Omit result on a RUN_FINISHED with the cancelled outcome."),
    # -- state --------------------------------------------------------------------------------
    Rule("state.patch-does-not-apply", "A STATE_DELTA applies to the state it amends (input.state, then snapshots and deltas).",
         "events/state.mdx", "error-handling", _W, "Send a STATE_SNAPSHOT when a delta cannot express the change from the consumer's state."),
    # -- per-event schema ---------------------------------------------------------------------
    Rule("schema.unknown-event-type", "Every event type is one the 1.1 schema describes.",
         _PR, "what-a-producer-must-not-do", _V, "Use CUSTOM or RAW for private signalling."),
    Rule("schema.unknown-property", "Objects are closed: no property the 1.1 schema does not describe.",
         _SC, "", _V, "Remove the property, or move it under metadata."),
    Rule("schema.null-for-absent", "An absent optional field is omitted, never sent as null.",
         _VE, "what-a-producer-owes", _V, "Leave the field out instead of sending null."),
    Rule("schema.missing-field", "Every field the schema requires is present.",
         _SC, "", _V, "Add the required field."),
    Rule("schema.bad-value", "Every described field carries a value of the type the schema gives it.",
         _PR, "the-rule", _V, "Send the value with the schema's type (string, integer, enum member, ...)."),
    # -- the run input ------------------------------------------------------------------------
    Rule("input.frontend-result", "A producer does not answer a frontend tool call with TOOL_CALL_RESULT.",
         _TC, "frontend-tools", _V, "Leave frontend tool calls unanswered; the application answers them.",
         needs_input=True),
    Rule("input.frontend-interrupt", "A run left waiting on a frontend tool call does not end as interrupted.",
         _TC, "frontend-tools", _V, "Finish with the success outcome naming the calls in pendingToolCallIds.",
         needs_input=True),
    Rule("input.replay-streamed", "Replayed history the input already carried is restated as snapshots.",
         _LC, "several-runs-on-one-stream", _V, "Restate known messages with MESSAGES_SNAPSHOT, not with start/content/end.",
         needs_input=True),
    Rule("input.run-missing", "The requested run (input.runId) appears in the stream.",
         _LC, "", _W, "Emit RUN_STARTED with the runId the input asked for.", needs_input=True),
    # -- versioning ---------------------------------------------------------------------------
    Rule("version.undeclared", "RUN_STARTED declares the protocolVersion the producer speaks.",
         _VE, "version-negotiation", _W, "Set RUN_STARTED.protocolVersion (\"1.1\")."),
    Rule("version.unparseable", "protocolVersion is a MAJOR.MINOR the spec publishes.",
         _VE, "version-negotiation", _W, "Declare the version as MAJOR.MINOR, e.g. \"1.1\"."),
    Rule("version.newer", "A producer declaring a version newer than 1.1 is judged leniently on additions.",
         _VE, "version-negotiation", _W, "Nothing to change if the peer is newer; additions are then warnings."),
    # -- the HTTP+SSE binding -----------------------------------------------------------------
    Rule("wire.http-status", "A run that starts answers HTTP 200.",
         _SSE, "response", _V, "Answer 200 for a run that starts; reject bad input with an error status and no stream.",
         wire_only=True),
    Rule("wire.content-type", "The response is Content-Type: text/event-stream.",
         _SSE, "response", _V, "Send Content-Type: text/event-stream.", wire_only=True),
    Rule("wire.line-ending", "The SSE stream is framed with LF only.",
         _SSE, "response", _V, "End every SSE line with \\n, never \\r\\n or \\r.", wire_only=True),
    Rule("wire.one-event-per-data", "Each SSE data payload is exactly one JSON object.",
         _SSE, "response", _V, "Send one complete JSON event object per SSE event.", wire_only=True),
    Rule("wire.encoding", "The SSE stream is UTF-8.", _SSE, "request", _V,
         "Encode the stream as UTF-8.", wire_only=True),
    Rule("wire.incomplete-frame", "The body does not end in the middle of an SSE event.",
         _SSE, "errors", _V, "Terminate every SSE event with a blank line.", wire_only=True),
)  # fmt: skip

RULES_BY_ID: Mapping[str, Rule] = {r.id: r for r in RULES}


def rule(rule_id: str) -> Rule:
    """The rule with this id (``KeyError`` names it if there is none)."""
    return RULES_BY_ID[rule_id]
