"""A corpus of AG-UI 1.1 streams: one per rule that breaks exactly that rule, and legal edge cases.

Each :class:`Case` is an event list (judged as events) or raw SSE bytes with the HTTP status and
content type they arrived with (judged on the wire too). ``expect`` is the one rule id a validator
must report and the only one; ``None`` marks a legal stream nothing may flag. The tests prove our
validator against it rule by rule, and ``docs/agui.md`` compares ag-ui-validate's verdicts on it.
"""

# ruff: noqa: E501  (one stream per row reads better than wrapped rows)

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CASES", "LEGAL", "Case", "one_rule_cases"]

Event = dict[str, Any]


@dataclass(frozen=True)
class Case:
    """One stream and the verdict it must get."""

    name: str
    expect: str | None
    summary: str
    events: list[Event] = field(default_factory=list)
    sse: bytes | None = None
    input: dict[str, Any] | None = None
    status: int = 200
    content_type: str = "text/event-stream"

    @property
    def as_sse(self) -> bytes:
        """The stream as an LF-framed SSE body (the raw bytes for wire cases)."""
        if self.sse is not None:
            return self.sse
        return b"".join(
            b"data: " + json.dumps(e, separators=(",", ":")).encode() + b"\n\n" for e in self.events
        )


def _s(run_id: str = "r1", **extra: Any) -> Event:
    return {
        "type": "RUN_STARTED",
        "threadId": "t1",
        "runId": run_id,
        "protocolVersion": "1.1",
        **extra,
    }


def _f(run_id: str = "r1", **extra: Any) -> Event:
    return {"type": "RUN_FINISHED", "threadId": "t1", "runId": run_id, **extra}


def _run(*body: Event, **finish: Any) -> list[Event]:
    return [_s(), *body, _f(**finish)]


def _tms(mid: str, **extra: Any) -> Event:
    return {"type": "TEXT_MESSAGE_START", "messageId": mid, "role": "assistant", **extra}


def _tmc(mid: str, delta: str = "hi", **extra: Any) -> Event:
    return {"type": "TEXT_MESSAGE_CONTENT", "messageId": mid, "delta": delta, **extra}


def _tme(mid: str, **extra: Any) -> Event:
    return {"type": "TEXT_MESSAGE_END", "messageId": mid, **extra}


def _tcs(cid: str, name: str = "search", **extra: Any) -> Event:
    return {"type": "TOOL_CALL_START", "toolCallId": cid, "toolCallName": name, **extra}


def _tca(cid: str, delta: str = "{}", **extra: Any) -> Event:
    return {"type": "TOOL_CALL_ARGS", "toolCallId": cid, "delta": delta, **extra}


def _tce(cid: str, **extra: Any) -> Event:
    return {"type": "TOOL_CALL_END", "toolCallId": cid, **extra}


def _result(cid: str, content: Any = "done", mid: str = "res") -> Event:
    return {"type": "TOOL_CALL_RESULT", "messageId": mid, "toolCallId": cid, "content": content}


def _step(kind: str, name: str, **extra: Any) -> Event:
    return {"type": f"STEP_{kind}", "stepName": name, **extra}


def _sub_start(sid: str, **extra: Any) -> Event:
    return {"type": "SUBAGENT_STARTED", "subagentRunId": sid, "name": "helper", **extra}


def _sub_end(sid: str, **extra: Any) -> Event:
    return {"type": "SUBAGENT_FINISHED", "subagentRunId": sid, **extra}


def _custom(**extra: Any) -> Event:
    return {"type": "CUSTOM", "name": "note", "value": 1, **extra}


def _chunk(**fields: Any) -> Event:
    return {"type": "TEXT_MESSAGE_CHUNK", **fields}


def _rs(mid: str) -> Event:
    return {"type": "REASONING_START", "messageId": mid}


def _re(mid: str) -> Event:
    return {"type": "REASONING_END", "messageId": mid}


def _rms(mid: str) -> Event:
    return {"type": "REASONING_MESSAGE_START", "messageId": mid, "role": "reasoning"}


def _rmc(mid: str) -> Event:
    return {"type": "REASONING_MESSAGE_CONTENT", "messageId": mid, "delta": "hmm"}


def _rme(mid: str) -> Event:
    return {"type": "REASONING_MESSAGE_END", "messageId": mid}


_INTERRUPT = {"id": "i1", "reason": "approval"}
_FRONTEND = {"threadId": "t1", "runId": "r1", "messages": [],
             "tools": [{"name": "confirm", "description": "ask the user"}]}  # fmt: skip
_OK_SSE = _run(_tms("m"), _tmc("m"), _tme("m"))


def _sse(events: list[Event], eol: bytes = b"\n") -> bytes:
    return b"".join(
        b"data: " + json.dumps(e, separators=(",", ":")).encode() + eol + eol for e in events
    )


CASES: tuple[Case, ...] = (
    Case("first-event", "lifecycle.first-event", "an event before RUN_STARTED",
         [_custom(), _s(), _f()]),
    Case("after-close", "lifecycle.after-close", "an event after RUN_FINISHED",
         [_s(), _f(), _custom()]),
    Case("after-error", "lifecycle.after-error", "an event after RUN_ERROR",
         [_s(), {"type": "RUN_ERROR", "message": "boom"}, _custom()]),
    Case("nested-run", "lifecycle.nested-run", "RUN_STARTED inside an active run",
         [_s("r1"), _s("r2"), _f("r2")]),
    Case("truncated", "lifecycle.truncated", "the stream ends with the run active",
         [_s(), _custom()]),
    Case("step-twice", "step.duplicate-open", "a step opened twice",
         _run(_step("STARTED", "plan"), _step("STARTED", "plan"), _step("FINISHED", "plan"))),
    Case("step-not-open", "step.not-open", "a step finished that never started",
         _run(_step("FINISHED", "plan"))),
    Case("step-left-open", "step.open-at-finish", "a step still open at RUN_FINISHED",
         _run(_step("STARTED", "plan"))),
    Case("text-twice", "text.duplicate-open", "a message started while open",
         _run(_tms("m"), _tms("m"), _tme("m"))),
    Case("text-not-open", "text.not-open", "content for a message never started",
         _run(_tmc("m"))),
    Case("text-left-open", "text.open-at-finish", "a message still open at RUN_FINISHED",
         _run(_tms("m"), _tmc("m"))),
    Case("text-reopen-role", "text.reopen-mismatch", "a message reopened with another role",
         _run(_tms("m"), _tme("m"), _tms("m", role="user"), _tme("m"))),
    Case("tool-twice", "tool.duplicate-open", "a call started while open",
         _run(_tcs("c"), _tcs("c"), _tce("c"))),
    Case("tool-not-open", "tool.not-open", "arguments for a call never started",
         _run(_tca("c"))),
    Case("tool-left-open", "tool.open-at-finish", "a call still open at RUN_FINISHED",
         _run(_tcs("c"), _tca("c"))),
    Case("tool-reopen-name", "tool.reopen-mismatch", "a call reopened under another tool name",
         _run(_tcs("c"), _tce("c"), _tcs("c", "fetch"), _tce("c"))),
    Case("pending-wrong", "tool.pending-mismatch", "pendingToolCallIds names a call the run never made",
         _run(_tcs("c1"), _tce("c1"), outcome={"type": "success", "pendingToolCallIds": ["c2"]})),
    Case("chunk-no-id", "chunk.first-fields", "a first text chunk without messageId",
         _run(_chunk(delta="x"))),
    Case("chunk-role-conflict", "chunk.conflict", "a continuation chunk changes the role",
         _run(_chunk(messageId="m", role="assistant", delta="a"), _chunk(messageId="m", role="user", delta="b"))),
    Case("chunk-ambiguous", "chunk.ambiguous", "an untagged id-less chunk with two subagent streams open",
         _run(_sub_start("a"), _sub_start("b"), _chunk(messageId="m1", subagentRunId="a", delta="x"),
              _chunk(messageId="m2", subagentRunId="b", delta="y"), _chunk(delta="z"),
              _sub_end("a"), _sub_end("b"))),
    Case("span-twice", "reasoning.span-duplicate-open", "a reasoning span opened twice",
         _run(_rs("s"), _rs("s"), _re("s"))),
    Case("span-not-open", "reasoning.span-not-open", "REASONING_END for a span never started",
         _run(_re("s"))),
    Case("span-left-open", "reasoning.span-open-at-finish", "a reasoning span still open at RUN_FINISHED",
         _run(_rs("s"))),
    Case("reasoning-twice", "reasoning.duplicate-open", "a reasoning message started while open",
         _run(_rms("m"), _rms("m"), _rme("m"))),
    Case("reasoning-not-open", "reasoning.not-open", "reasoning content for a message never started",
         _run(_rmc("m"))),
    Case("reasoning-left-open", "reasoning.open-at-finish", "a reasoning message open at RUN_FINISHED",
         _run(_rms("m"), _rmc("m"))),
    Case("encrypted-type-alone", "reasoning.encrypted-type-alone", "a snapshot message with a type but no value",
         _run({"type": "MESSAGES_SNAPSHOT", "messages": [
             {"id": "a", "role": "assistant", "content": "x", "encryptedValueType": "anthropic.signature"}]})),
    Case("encrypted-unknown-entity", "reasoning.unknown-entity", "an encrypted value for an unknown message (warning)",
         _run({"type": "REASONING_ENCRYPTED_VALUE", "subtype": "message", "entityId": "zz", "encryptedValue": "e"})),
    Case("subagent-twice", "subagent.duplicate-start", "an invocation announced while active",
         _run(_sub_start("a"), _sub_start("a"), _sub_end("a"))),
    Case("subagent-reused", "subagent.reused-id", "an invocation id used again after it finished",
         _run(_sub_start("a"), _sub_end("a"), _sub_start("a"), _sub_end("a"))),
    Case("subagent-late", "subagent.late-announce", "an invocation announced after its first event",
         _run(_custom(subagentRunId="a"), _sub_start("a"), _sub_end("a"))),
    Case("subagent-left-active", "subagent.active-at-finish", "an invocation active at RUN_FINISHED",
         _run(_sub_start("a"))),
    Case("subagent-parent", "subagent.unknown-parent", "a parent invocation never announced",
         _run(_sub_start("a", parentSubagentRunId="p"), _sub_end("a"))),
    Case("owner-mismatch", "subagent.owner-mismatch", "content tagged with another owner than its start",
         _run(_sub_start("a"), _sub_start("b"), _tms("m", subagentRunId="a"), _tmc("m", subagentRunId="b"),
              _tme("m"), _sub_end("a"), _sub_end("b"))),
    Case("tool-owner-mismatch", "subagent.tool-owner-mismatch", "a subagent's call inside the parent's message",
         _run(_sub_start("a"), _tms("m"), _tcs("c", parentMessageId="m", subagentRunId="a"), _tce("c"),
              _tme("m"), _sub_end("a"))),
    Case("subagent-outcome", "subagent.outcome-value", "a subagent outcome the schema does not describe",
         _run(_sub_start("a"), _sub_end("a", outcome={"type": "paused"}))),
    Case("subagent-success-ids", "subagent.success-interrupt-ids", "interrupt ids on a success subagent outcome",
         _run(_sub_start("a"), _sub_end("a", outcome={"type": "success", "interruptIds": ["i1"]}))),
    Case("outcome-value", "run.outcome-value", "an outcome the schema does not describe",
         _run(outcome={"type": "done"})),
    Case("interrupt-empty", "run.interrupt-empty", "an interrupt outcome without interrupts",
         _run(outcome={"type": "interrupt", "interrupts": []})),
    Case("interrupt-dup", "run.interrupt-duplicate-id", "two interrupts with one id",
         _run(outcome={"type": "interrupt", "interrupts": [_INTERRUPT, _INTERRUPT]})),
    Case("success-interrupts", "run.success-with-interrupts", "a success outcome carrying interrupts",
         _run(outcome={"type": "success", "interrupts": [_INTERRUPT]})),
    Case("usage-total", "run.usage-accounting", "a totalTokens that is not input + output",
         _run(usage=[{"provider": "x", "inputTokens": 10, "outputTokens": 5, "totalTokens": 20}])),
    Case("cancelled-result", "run.cancelled-result", "a cancelled run with a result (warning)",
         _run(outcome={"type": "cancelled"}, result={"partial": True})),
    Case("patch-misses", "state.patch-does-not-apply", "a state delta removing a key the state lacks (warning)",
         _run({"type": "STATE_SNAPSHOT", "snapshot": {"a": 1}},
              {"type": "STATE_DELTA", "delta": [{"op": "remove", "path": "/b"}]})),
    Case("unknown-type", "schema.unknown-event-type", "an event type 1.1 does not describe",
         _run({"type": "MY_PRIVATE_SIGNAL"})),
    Case("unknown-property", "schema.unknown-property", "a property the schema does not describe",
         _run(_custom(colour="red"))),
    Case("null-optional", "schema.null-for-absent", "an absent optional field sent as null",
         _run(_tms("m", name=None), _tme("m"))),
    Case("missing-field", "schema.missing-field", "a required field left out",
         _run({"type": "CUSTOM", "name": "note"})),
    Case("bad-value", "schema.bad-value", "a described field with the wrong type",
         _run(_custom(name=5))),
    Case("frontend-answered", "input.frontend-result", "the producer answers a frontend tool call",
         _run(_tcs("c", "confirm"), _tce("c"), _result("c")), input=_FRONTEND),
    Case("frontend-interrupted", "input.frontend-interrupt", "a run waiting on a frontend call ends interrupted",
         _run(_tcs("c", "confirm"), _tce("c"), outcome={"type": "interrupt", "interrupts": [_INTERRUPT]}),
         input=_FRONTEND),
    Case("replay-streamed", "input.replay-streamed", "replayed history re-streamed instead of snapshotted",
         [_s("r0"), _tms("m0"), _tmc("m0"), _tme("m0"), _f("r0"), _s("r1"), _f("r1")],
         input={"threadId": "t1", "runId": "r1",
                "messages": [{"id": "m0", "role": "assistant", "content": "hi"}]}),
    Case("run-missing", "input.run-missing", "the requested run never starts (warning)",
         _run(), input={"threadId": "t1", "runId": "r9", "messages": []}),
    Case("version-undeclared", "version.undeclared", "RUN_STARTED without protocolVersion (warning)",
         [{"type": "RUN_STARTED", "threadId": "t1", "runId": "r1"}, _f()]),
    Case("version-garbled", "version.unparseable", "a protocolVersion that is not MAJOR.MINOR (warning)",
         [_s(protocolVersion="v1"), _f()]),
    Case("version-newer", "version.newer", "a producer declaring 1.2 (warning)",
         [_s(protocolVersion="1.2"), _f()]),
    Case("http-status", "wire.http-status", "an SSE stream answered with 500",
         sse=_sse(_OK_SSE), status=500),
    Case("content-type", "wire.content-type", "an SSE stream sent as application/json",
         sse=_sse(_OK_SSE), content_type="application/json"),
    Case("crlf", "wire.line-ending", "CRLF framing", sse=_sse(_OK_SSE, b"\r\n")),
    Case("two-per-data", "wire.one-event-per-data", "two JSON objects in one data payload",
         sse=_sse(_OK_SSE) + b'data: {"type":"CUSTOM","name":"a","value":1}{"type":"CUSTOM","name":"b","value":2}\n\n'),
    Case("not-utf8", "wire.encoding", "a byte that is not UTF-8",
         sse=_sse(_OK_SSE[:-1]) + b'data: {"type":"CUSTOM","name":"n","value":"\xff"}\n\n' + _sse(_OK_SSE[-1:])),
    Case("cut-frame", "wire.incomplete-frame", "the body stops inside an SSE event",
         sse=_sse(_OK_SSE) + b'data: {"type":"CUSTOM"'),
)  # fmt: skip

LEGAL: tuple[Case, ...] = (
    Case("opens-with-run-error", None, "a stream that opens with RUN_ERROR",
         [{"type": "RUN_ERROR", "message": "agent unreachable"}]),
    Case("late-run-error", None, "RUN_ERROR after RUN_FINISHED",
         [_s(), _f(), {"type": "RUN_ERROR", "message": "flush failed"}]),
    Case("message-reopened", None, "a message id reopened after it closed",
         _run(_tms("m"), _tmc("m"), _tme("m"), _tms("m"), _tmc("m", " again"), _tme("m"))),
    Case("args-not-json", None, "tool arguments that do not parse as JSON",
         _run(_tcs("c"), _tca("c", "{not json"), _tce("c"), _result("c"))),
    Case("result-parts", None, "a tool result whose content is a parts list",
         _run(_tcs("c"), _tca("c"), _tce("c"), _result("c", [
             {"type": "text", "text": "Invoice attached."},
             {"type": "document", "source": {"type": "url", "value": "https://example.com/i.pdf",
                                             "mimeType": "application/pdf"}, "metadata": {"title": "i"}}]))),
    Case("several-runs", None, "two runs in sequence, the second after an error",
         [_s("r0"), {"type": "RUN_ERROR", "message": "x"}, _s("r1"), _tms("m"), _tme("m"), _f("r1")]),
    Case("chunks", None, "text, tool and reasoning chunks closed implicitly",
         _run(_chunk(messageId="m", delta="a"), _chunk(delta="b"),
              {"type": "TOOL_CALL_CHUNK", "toolCallId": "c", "toolCallName": "search", "delta": "{"},
              {"type": "TOOL_CALL_CHUNK", "delta": "}"},
              {"type": "REASONING_MESSAGE_CHUNK", "messageId": "r", "delta": "hm"})),
    Case("steps-per-owner", None, "parent and subagent each with a step of one name open",
         _run(_sub_start("a"), _step("STARTED", "plan"), _step("STARTED", "plan", subagentRunId="a"),
              _step("FINISHED", "plan", subagentRunId="a"), _sub_end("a"), _step("FINISHED", "plan"))),
    Case("unannounced-attribution", None, "events attributed to a subagent never announced",
         _run(_tms("m", subagentRunId="x"), _tmc("m"), _tme("m", subagentRunId="x"))),
    Case("reasoning-span", None, "a span holding a reasoning message and its encrypted value",
         _run(_rs("s"), _rms("m"), _rmc("m"), _rme("m"),
              {"type": "REASONING_ENCRYPTED_VALUE", "subtype": "message", "entityId": "m",
               "encryptedValue": "opaque", "encryptedValueType": "anthropic.signature"}, _re("s"))),
    Case("frontend-pending", None, "a frontend call left unanswered and named as pending",
         _run(_tcs("c", "confirm"), _tca("c"), _tce("c"),
              outcome={"type": "success", "pendingToolCallIds": ["c"]}), input=_FRONTEND),
    Case("interrupt", None, "an interrupt outcome, cancelled runs, usage and open patch members",
         [_s("r0"), {"type": "STATE_SNAPSHOT", "snapshot": {"a": 1}},
          {"type": "STATE_DELTA", "delta": [{"op": "remove", "path": "/a", "value": "left"}]},
          _f("r0", outcome={"type": "interrupt", "interrupts": [_INTERRUPT]},
             usage=[{"provider": "x", "inputTokens": 3, "outputTokens": 1, "totalTokens": 4}]),
          _s("r1"), _f("r1", outcome={"type": "cancelled"})]),
    Case("sse-fields", None, "comments, event:/id:/retry: fields and multi-line data",
         sse=b": keep-alive\n\nevent: agui\nid: 1\nretry: 10\ndata: {\"type\":\"RUN_STARTED\",\ndata: "
             b"\"threadId\":\"t1\",\"runId\":\"r1\",\"protocolVersion\":\"1.1\"}\n\n: ping\n\n"
             b"data:{\"type\":\"RUN_FINISHED\",\"threadId\":\"t1\",\"runId\":\"r1\"}\n\n"),
    Case("state-patches", None, "deltas applied to the input's state and to a snapshot",
         [_s(), {"type": "STATE_DELTA", "delta": [{"op": "add", "path": "/items/-", "value": 2},
                                                  {"op": "test", "path": "/items/0", "value": 1}]},
          {"type": "STATE_SNAPSHOT", "snapshot": [0]},
          {"type": "STATE_DELTA", "delta": [{"op": "replace", "path": "/0", "value": 5}]}, _f()],
         input={"threadId": "t1", "runId": "r1", "messages": [], "state": {"items": [1]}}),
    Case("metadata-open", None, "metadata keys may hold null; empty deltas are fine",
         _run(_tms("m", metadata={"trace": None}), _tmc("m", ""), _tme("m"))),
)  # fmt: skip


def one_rule_cases() -> dict[str, Case]:
    """The one-rule cases by rule id (one case per rule)."""
    return {c.expect: c for c in CASES if c.expect is not None}
