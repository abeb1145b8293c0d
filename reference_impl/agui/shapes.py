"""Per-event shape checks for AG-UI 1.1, as tables of small checkers.

Written from ``docs/spec/1.1/schema.json`` (the protocol's machine-readable contract): every
object the schema closes is closed here (a property it does not describe is reported), every
optional field may be absent but never ``null``, and the open objects stay open (``metadata``,
activity content, a carried JSON Schema, JSON Patch operations). Outcome unions report under
their own rule ids, so a bad outcome reads as that and not as a generic type error.

A checker is a callable ``(value, path, out)`` that appends ``(rule_id, path, message)`` to
``out``; it never raises. Plain functions over dicts keep this fast (the validator runs it on
every event) and free of any dependency beyond the standard library.
"""

# ruff: noqa: E501  (tables: one row per rule/shape reads better than wrapped rows)

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = [
    "EVENT_SPECS",
    "EVENT_TYPES",
    "Check",
    "Problem",
    "check_event_shape",
    "check_run_agent_input",
]

Problem = tuple[str, str, str]
"""``(rule_id, path, message)``."""
Check = Callable[[Any, str, list[Problem]], None]

_MAX_SAFE = 9007199254740991
_POINTER = re.compile(r"^(/([^/~]|~[01])*)*$")
_BAD = "schema.bad-value"


_LEAF_TESTS: dict[Check, Callable[[Any], bool]] = {}
"""Yes/no forms of the constant and enumeration checkers, registered as they are made."""


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _str(value: Any, path: str, out: list[Problem]) -> None:
    if not isinstance(value, str):
        out.append((_BAD, path, f"{path} must be a string, got {_kind(value)}"))


def _bool(value: Any, path: str, out: list[Problem]) -> None:
    if not isinstance(value, bool):
        out.append((_BAD, path, f"{path} must be a boolean, got {_kind(value)}"))


def _any(value: Any, path: str, out: list[Problem]) -> None:
    """Any JSON value (``null`` is handled by the caller)."""


def _int(minimum: int) -> Check:
    def check(value: Any, path: str, out: list[Problem]) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            out.append((_BAD, path, f"{path} must be an integer, got {_kind(value)}"))
        elif not minimum <= value <= _MAX_SAFE:
            out.append((_BAD, path, f"{path} is {value}, outside {minimum}..{_MAX_SAFE}"))

    return check


_TIMESTAMP = _int(-_MAX_SAFE)
_COUNT = _int(0)


def _open_object(value: Any, path: str, out: list[Problem]) -> None:
    if not isinstance(value, dict):
        out.append((_BAD, path, f"{path} must be an object, got {_kind(value)}"))


def _const(expected: str) -> Check:
    def check(value: Any, path: str, out: list[Problem]) -> None:
        if value != expected:
            out.append((_BAD, path, f"{path} must be {expected!r}, got {value!r}"))

    _LEAF_TESTS[check] = lambda value: value.__class__ is str and value == expected
    return check


def _enum(*allowed: str) -> Check:
    members = frozenset(allowed)

    def check(value: Any, path: str, out: list[Problem]) -> None:
        if not isinstance(value, str) or value not in members:
            out.append((_BAD, path, f"{path} must be one of {sorted(members)}, got {value!r}"))

    _LEAF_TESTS[check] = lambda value: value.__class__ is str and value in members
    return check


def _array(item: Check) -> Check:
    def check(value: Any, path: str, out: list[Problem]) -> None:
        if not isinstance(value, list):
            out.append((_BAD, path, f"{path} must be an array, got {_kind(value)}"))
            return
        for i, element in enumerate(value):
            where = f"{path}[{i}]"
            if element is None:
                out.append((_BAD, where, f"{where} must not be null"))
            else:
                item(element, where, out)

    return check


def _pointer(value: Any, path: str, out: list[Problem]) -> None:
    if not isinstance(value, str) or not _POINTER.match(value):
        out.append((_BAD, path, f"{path} must be a JSON Pointer, got {value!r}"))


_FAST_TESTS: dict[Check, Callable[[Any], bool]] = {
    _str: lambda value: value.__class__ is str,
    _TIMESTAMP: lambda value: value.__class__ is int and -_MAX_SAFE <= value <= _MAX_SAFE,
    _open_object: lambda value: value.__class__ is dict,
    _any: lambda value: True,
}
"""Yes/no forms of checkers that have one (more are added below as they are defined)."""


def _predicate(check: Check) -> Callable[[Any], bool]:
    """``check`` as a yes/no test (no paths, no messages): the fast path's building block."""
    fast = _FAST_TESTS.get(check) or _LEAF_TESTS.get(check)
    return fast if fast is not None else _predicate_slow(check)


def _predicate_slow(check: Check) -> Callable[[Any], bool]:
    def slow(value: Any) -> bool:
        out: list[Problem] = []
        check(value, "", out)
        return not out

    return slow


class Shape:
    """A closed object: its fields, which are required, which may hold ``null``.

    Calling it reports every problem with its path; :meth:`ok` answers only whether there is
    one, fast (string fields are checked inline), so valid events never pay for the report.
    """

    __slots__ = (
        "_others",
        "_required_set",
        "_strings",
        "closed",
        "fields",
        "name",
        "nullable",
        "required",
    )

    def __init__(
        self,
        name: str,
        fields: Mapping[str, Check],
        required: tuple[str, ...] = (),
        *,
        nullable: tuple[str, ...] = (),
        closed: bool = True,
    ) -> None:
        self.name = name
        self.fields = dict(fields)
        self.required = required
        self.nullable = frozenset(nullable)
        self.closed = closed
        self._strings = frozenset(k for k, c in self.fields.items() if c is _str)
        self._others = {k: _predicate(c) for k, c in self.fields.items() if c is not _str}
        self._required_set = frozenset(required)

    def ok(self, value: Any) -> bool:
        """Whether ``value`` has no problem at all (a valid object is the common case)."""
        if value.__class__ is not dict:
            return False
        strings = self._strings
        others = self._others
        for key, item in value.items():
            if key in strings:
                if item.__class__ is not str:
                    return False
                continue
            test = others.get(key)
            if test is None:
                if self.closed:
                    return False
            elif item is None:
                if key not in self.nullable:
                    return False
            elif not test(item):
                return False
        return self._required_set <= value.keys()

    def __call__(self, value: Any, path: str, out: list[Problem]) -> None:
        if not isinstance(value, dict):
            out.append((_BAD, path, f"{path} must be an object ({self.name}), got {_kind(value)}"))
            return
        fields = self.fields
        for key, item in value.items():
            check = fields.get(key)
            where = f"{path}.{key}" if path else key
            if check is None:
                if self.closed:
                    out.append(
                        ("schema.unknown-property", where, f"{self.name} has no property {key!r}")
                    )
            elif item is None:
                if key in self.nullable:
                    continue
                if key in self.required:
                    out.append((_BAD, where, f"{where} is required and must not be null"))
                else:
                    out.append(
                        ("schema.null-for-absent", where, f"{where} is null; omit it instead")
                    )
            else:
                check(item, where, out)
        for key in self.required:
            if key not in value:
                where = f"{path}.{key}" if path else key
                out.append(("schema.missing-field", where, f"{self.name} requires {key!r}"))


def _union(name: str, key: str, members: Mapping[str, Check], unknown_rule: str = _BAD) -> Check:
    """A union discriminated by ``key``; an undescribed discriminator reports ``unknown_rule``."""

    def check(value: Any, path: str, out: list[Problem]) -> None:
        if not isinstance(value, dict):
            out.append((_BAD, path, f"{path} must be an object ({name}), got {_kind(value)}"))
            return
        tag = value.get(key)
        member = members.get(tag) if isinstance(tag, str) else None
        if member is None:
            out.append(
                (
                    unknown_rule,
                    f"{path}.{key}",
                    f"{name} {key} {tag!r} is not one of {sorted(members)}",
                )
            )
            return
        member(value, path, out)

    return check


_METADATA = _open_object

# -- content parts, messages, input ---------------------------------------------------------

_SOURCE = _union(
    "PartSource",
    "type",
    {
        "data": Shape(
            "DataSource",
            {"type": _str, "value": _str, "mimeType": _str},
            ("type", "value", "mimeType"),
        ),
        "url": Shape(
            "UrlSource", {"type": _str, "value": _str, "mimeType": _str}, ("type", "value")
        ),
        "file": Shape(
            "FileSource",
            {"type": _str, "value": _str, "provider": _str, "mimeType": _str},
            ("type", "value"),
        ),
    },
)
_MEDIA = {"type": _str, "id": _str, "source": _SOURCE, "metadata": _any}
_PART = _union(
    "ContentPart",
    "type",
    {
        "text": Shape("TextPart", {"type": _str, "id": _str, "text": _str, "metadata": _any},
                      ("type", "text")),
        **{kind: Shape(f"{kind.title()}Part", _MEDIA, ("type", "source"))
           for kind in ("image", "audio", "video", "document")},
    },
)  # fmt: skip


def _content(value: Any, path: str, out: list[Problem]) -> None:
    """A string or an ordered list of content parts."""
    if isinstance(value, str):
        return
    if isinstance(value, list):
        _array(_PART)(value, path, out)
        return
    out.append((_BAD, path, f"{path} must be a string or a list of parts, got {_kind(value)}"))


_FAST_TESTS[_content] = lambda value: value.__class__ is str or _predicate_slow(_content)(value)

_ENCRYPTED = {"encryptedValue": _str, "encryptedValueType": _str}
_TOOL_CALL = Shape(
    "ToolCall",
    {
        "id": _str,
        "type": _const("function"),
        "function": Shape("FunctionCall", {"name": _str, "arguments": _str}, ("name", "arguments")),
        **_ENCRYPTED,
        "metadata": _METADATA,
    },
    ("id", "type", "function"),
)
_ATTR = {"subagentRunId": _str}
_BASE_MESSAGE = {
    "id": _str,
    "role": _str,
    "name": _str,
    **_ENCRYPTED,
    "metadata": _METADATA,
    **_ATTR,
}
_MESSAGE = _union(
    "Message",
    "role",
    {
        "developer": Shape("DeveloperMessage", {**_BASE_MESSAGE, "content": _str}, ("id", "role", "content")),
        "system": Shape("SystemMessage", {**_BASE_MESSAGE, "content": _str}, ("id", "role", "content")),
        "assistant": Shape("AssistantMessage",
                           {**_BASE_MESSAGE, "content": _str, "toolCalls": _array(_TOOL_CALL)},
                           ("id", "role")),
        "user": Shape("UserMessage", {**_BASE_MESSAGE, "content": _content}, ("id", "role", "content")),
        "tool": Shape("ToolMessage",
                      {"id": _str, "role": _str, "content": _content, "toolCallId": _str, "error": _str,
                       **_ENCRYPTED, "metadata": _METADATA, **_ATTR},
                      ("id", "role", "content", "toolCallId")),
        "activity": Shape("ActivityMessage",
                          {"id": _str, "role": _str, "activityType": _str, "content": _open_object,
                           "metadata": _METADATA, **_ATTR},
                          ("id", "role", "activityType", "content")),
        "reasoning": Shape("ReasoningMessage",
                           {"id": _str, "role": _str, "content": _str, **_ENCRYPTED,
                            "metadata": _METADATA, **_ATTR},
                           ("id", "role", "content")),
    },
)  # fmt: skip

_OPS = {
    "add": ("op", "path", "value"),
    "remove": ("op", "path"),
    "replace": ("op", "path", "value"),
    "move": ("op", "from", "path"),
    "copy": ("op", "from", "path"),
    "test": ("op", "path", "value"),
}
_PATCH = _array(
    _union(
        "JsonPatchOperation",
        "op",
        {
            op: Shape(
                f"{op} operation",
                {"op": _str, "path": _pointer, "from": _pointer, "value": _any},
                required,
                nullable=("value",),
                closed=False,
            )
            for op, required in _OPS.items()
        },
    )
)


_OP_KEYS = {op: frozenset(keys) for op, keys in _OPS.items()}


def _patch_ok(value: Any) -> bool:
    """The fast yes/no form of the JSON Patch check (operations stay open)."""
    if value.__class__ is not list:
        return False
    for op in value:
        if op.__class__ is not dict:
            return False
        name = op.get("op")
        required = _OP_KEYS.get(name) if name.__class__ is str else None
        if required is None or not op.keys() >= required:
            return False
        for key in ("path", "from"):
            pointer = op.get(key, "")
            if pointer.__class__ is not str or (pointer and not _POINTER.match(pointer)):
                return False
    return True


_FAST_TESTS[_PATCH] = _patch_ok

_USAGE = _array(
    Shape(
        "TokenUsage",
        {
            "provider": _str,
            "model": _str,
            **{
                k: _COUNT
                for k in (
                    "inputTokens",
                    "outputTokens",
                    "totalTokens",
                    "reasoningTokens",
                    "cachedInputTokens",
                    "cacheWriteInputTokens",
                )
            },
        },
    )
)

_INTERRUPT = Shape(
    "Interrupt",
    {
        "id": _str,
        "reason": _str,
        "message": _str,
        "toolCallId": _str,
        "responseSchema": _open_object,
        "expiresAt": _str,
        "metadata": _METADATA,
        **_ATTR,
    },
    ("id", "reason"),
)


def _interrupts(value: Any, path: str, out: list[Problem]) -> None:
    _array(_INTERRUPT)(value, path, out)
    if isinstance(value, list) and not value:
        out.append(
            ("run.interrupt-empty", path, "an interrupt outcome needs at least one interrupt")
        )


def _success_without(key: str, rule: str, message: str, shape: Check) -> Check:
    """A success outcome must not carry ``key``: report ``rule``, drop the key, check ``shape``."""

    def check(value: Any, path: str, out: list[Problem]) -> None:
        if key in value:
            out.append((rule, f"{path}.{key}", message))
            value = {k: v for k, v in value.items() if k != key}
        shape(value, path, out)

    return check


_success_outcome = _success_without(
    "interrupts",
    "run.success-with-interrupts",
    "a success outcome has no interrupts",
    Shape(
        "RunFinishedSuccessOutcome", {"type": _str, "pendingToolCallIds": _array(_str)}, ("type",)
    ),
)

_RUN_OUTCOME = _union(
    "RunFinishedOutcome",
    "type",
    {
        "success": _success_outcome,
        "interrupt": Shape(
            "RunFinishedInterruptOutcome", {"type": _str, "interrupts": _interrupts},
            ("type", "interrupts"),
        ),
        "cancelled": Shape("RunFinishedCancelledOutcome", {"type": _str}, ("type",)),
    },
    unknown_rule="run.outcome-value",
)  # fmt: skip

_subagent_success = _success_without(
    "interruptIds",
    "subagent.success-interrupt-ids",
    "a success outcome attaches no interrupt ids",
    Shape("SubagentFinishedSuccessOutcome", {"type": _str}, ("type",)),
)


_SUBAGENT_OUTCOME = _union(
    "SubagentFinishedOutcome",
    "type",
    {
        "success": _subagent_success,
        "suspended": Shape(
            "SubagentFinishedSuspendedOutcome",
            {"type": _str, "interruptIds": _array(_str)},
            ("type",),
        ),
    },
    unknown_rule="subagent.outcome-value",
)

_RUN_AGENT_INPUT = Shape(
    "RunAgentInput",
    {
        "threadId": _str,
        "runId": _str,
        "protocolVersion": _str,
        "parentRunId": _str,
        "state": _any,
        "messages": _array(_MESSAGE),
        "tools": _array(
            Shape(
                "Tool",
                {"name": _str, "description": _str, "parameters": _any, "metadata": _METADATA},
                ("name", "description"),
            )
        ),
        "context": _array(Shape("Context", {"description": _str, "value": _str}, ("description", "value"))),
        "forwardedProps": _any,
        "resume": _array(
            Shape(
                "ResumeEntry",
                {"interruptId": _str, "status": _enum("resolved", "cancelled"), "payload": _any,
                 "metadata": _METADATA},
                ("interruptId", "status"),
            )
        ),
    },
    ("threadId", "runId", "messages"),
)  # fmt: skip

# -- events -----------------------------------------------------------------------------------

_BASE = {"type": _str, "timestamp": _TIMESTAMP, "rawEvent": _any, "metadata": _METADATA}
_TEXT_ROLE = _enum("developer", "system", "assistant", "user")


def _event(
    name: str,
    fields: Mapping[str, Check],
    required: tuple[str, ...] = (),
    *,
    attributable: bool = True,
    nullable: tuple[str, ...] = (),
) -> Shape:
    all_fields = {**_BASE, **(_ATTR if attributable else {}), **fields}
    return Shape(name, all_fields, ("type", *required), nullable=nullable)


EVENT_SPECS: Mapping[str, Shape] = {
    "TEXT_MESSAGE_START": _event("TextMessageStartEvent",
                                 {"messageId": _str, "role": _TEXT_ROLE, "name": _str}, ("messageId",)),
    "TEXT_MESSAGE_CONTENT": _event("TextMessageContentEvent", {"messageId": _str, "delta": _str},
                                   ("messageId", "delta")),
    "TEXT_MESSAGE_END": _event("TextMessageEndEvent", {"messageId": _str}, ("messageId",)),
    "TEXT_MESSAGE_CHUNK": _event("TextMessageChunkEvent",
                                 {"messageId": _str, "role": _TEXT_ROLE, "delta": _str, "name": _str}),
    "TOOL_CALL_START": _event("ToolCallStartEvent",
                              {"toolCallId": _str, "toolCallName": _str, "parentMessageId": _str},
                              ("toolCallId", "toolCallName")),
    "TOOL_CALL_ARGS": _event("ToolCallArgsEvent", {"toolCallId": _str, "delta": _str},
                             ("toolCallId", "delta")),
    "TOOL_CALL_END": _event("ToolCallEndEvent", {"toolCallId": _str}, ("toolCallId",)),
    "TOOL_CALL_CHUNK": _event("ToolCallChunkEvent",
                              {"toolCallId": _str, "toolCallName": _str, "parentMessageId": _str,
                               "delta": _str}),
    "TOOL_CALL_RESULT": _event("ToolCallResultEvent",
                               {"messageId": _str, "toolCallId": _str, "content": _content,
                                "role": _const("tool")},
                               ("messageId", "toolCallId", "content")),
    "STATE_SNAPSHOT": _event("StateSnapshotEvent", {"snapshot": _any}, ("snapshot",),
                             nullable=("snapshot",)),
    "STATE_DELTA": _event("StateDeltaEvent", {"delta": _PATCH}, ("delta",)),
    "MESSAGES_SNAPSHOT": _event("MessagesSnapshotEvent", {"messages": _array(_MESSAGE)},
                                ("messages",), attributable=False),
    "ACTIVITY_SNAPSHOT": _event("ActivitySnapshotEvent",
                                {"messageId": _str, "activityType": _str, "content": _open_object,
                                 "replace": _bool},
                                ("messageId", "activityType", "content")),
    "ACTIVITY_DELTA": _event("ActivityDeltaEvent",
                             {"messageId": _str, "activityType": _str, "patch": _PATCH},
                             ("messageId", "activityType", "patch")),
    "RAW": _event("RawEvent", {"event": _any, "source": _str}, ("event",), nullable=("event",)),
    "CUSTOM": _event("CustomEvent", {"name": _str, "value": _any}, ("name", "value"),
                     nullable=("value",)),
    "RUN_STARTED": _event("RunStartedEvent",
                          {"threadId": _str, "runId": _str, "protocolVersion": _str, "parentRunId": _str,
                           "input": _RUN_AGENT_INPUT},
                          ("threadId", "runId"), attributable=False),
    "RUN_FINISHED": _event("RunFinishedEvent",
                           {"threadId": _str, "runId": _str, "result": _any, "outcome": _RUN_OUTCOME,
                            "usage": _USAGE},
                           ("threadId", "runId"), attributable=False),
    "RUN_ERROR": _event("RunErrorEvent", {"message": _str, "code": _str, "usage": _USAGE},
                        ("message",), attributable=False),
    "STEP_STARTED": _event("StepStartedEvent", {"stepName": _str}, ("stepName",)),
    "STEP_FINISHED": _event("StepFinishedEvent", {"stepName": _str}, ("stepName",)),
    "REASONING_START": _event("ReasoningStartEvent", {"messageId": _str}, ("messageId",)),
    "REASONING_MESSAGE_START": _event("ReasoningMessageStartEvent",
                                      {"messageId": _str, "role": _const("reasoning")},
                                      ("messageId", "role")),
    "REASONING_MESSAGE_CONTENT": _event("ReasoningMessageContentEvent",
                                        {"messageId": _str, "delta": _str}, ("messageId", "delta")),
    "REASONING_MESSAGE_END": _event("ReasoningMessageEndEvent", {"messageId": _str}, ("messageId",)),
    "REASONING_MESSAGE_CHUNK": _event("ReasoningMessageChunkEvent", {"messageId": _str, "delta": _str}),
    "REASONING_END": _event("ReasoningEndEvent", {"messageId": _str}, ("messageId",)),
    "REASONING_ENCRYPTED_VALUE": _event("ReasoningEncryptedValueEvent",
                                        {"subtype": _enum("tool-call", "message"), "entityId": _str,
                                         **_ENCRYPTED},
                                        ("subtype", "entityId", "encryptedValue")),
    "SUBAGENT_STARTED": _event("SubagentStartedEvent",
                               {"subagentRunId": _str, "name": _str, "description": _str,
                                "parentSubagentRunId": _str, "parentToolCallId": _str,
                                "parentMessageId": _str},
                               ("subagentRunId", "name"), attributable=False),
    "SUBAGENT_FINISHED": _event("SubagentFinishedEvent",
                                {"subagentRunId": _str, "result": _any, "outcome": _SUBAGENT_OUTCOME},
                                ("subagentRunId",), attributable=False),
    "SUBAGENT_ERROR": _event("SubagentErrorEvent",
                             {"subagentRunId": _str, "message": _str, "code": _str},
                             ("subagentRunId", "message"), attributable=False),
}  # fmt: skip

EVENT_TYPES: frozenset[str] = frozenset(EVENT_SPECS)


def check_event_shape(event: Mapping[str, Any]) -> list[Problem]:
    """Every shape problem of one event (an event of an unknown type reports only that)."""
    out: list[Problem] = []
    kind = event.get("type")
    spec = EVENT_SPECS.get(kind) if isinstance(kind, str) else None
    if spec is None:
        if "type" not in event:
            out.append(("schema.missing-field", "type", "an event requires 'type'"))
        elif not isinstance(kind, str):
            out.append((_BAD, "type", f"type must be a string, got {_kind(kind)}"))
        else:
            out.append(("schema.unknown-event-type", "type", f"{kind!r} is not an AG-UI 1.1 event"))
        return out
    spec(event, "", out)
    return out


def check_run_agent_input(value: Any) -> list[Problem]:
    """Every shape problem of a ``RunAgentInput``."""
    out: list[Problem] = []
    _RUN_AGENT_INPUT(value, "input", out)
    return out
