"""The AG-UI dialect of the bridge's wire: native events as AG-UI 1.1 events, and the frames
that carry them. Pure: no I/O, no asyncio.

:func:`to_agui` maps one native wire message (an
:class:`~reference_impl.events.EventMessage` dict) to the AG-UI events it stands for, the same
for every subscriber and on every node: identifiers are derived from the run id and the
message's ``seq``, never from what a subscriber saw before. :func:`agui_frames` wraps each of
those events in one frame::

    {"type": "ag-ui", "thread_id": T, "seq": S, "epoch": E, "part": i, "parts": n, "event": {...}}

The event inside is left exactly as AG-UI describes it (no property added), so the thread's
position travels in the envelope: ``seq``/``epoch`` are the native log's, and ``part``/``parts``
number the AG-UI events one native event became. ``docs/agui-binding.md`` is the prose
version of this module, with the mapping table.

An AG-UI event an upstream agent produced is stored in the thread's log as a native
``custom`` event whose payload is ``{"agui": <event>}`` (:func:`relayed_payload`); this
dialect hands that event on untouched, one frame, while native subscribers see the
``custom`` event as it is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

__all__ = [
    "AGUI",
    "AGUI_DIALECT",
    "AGUI_FRAME_TYPE",
    "DIALECTS",
    "NATIVE_DIALECT",
    "PROTOCOL_VERSION",
    "RELAYED_KEY",
    "VENDOR_KEY",
    "AguiDialect",
    "agui_frames",
    "encode_agui",
    "relayed_event",
    "relayed_payload",
    "to_agui",
    "tool_call_id",
]

#: The dialect names a ``subscribe`` frame may carry.
NATIVE_DIALECT = "native"
AGUI_DIALECT = "ag-ui"
DIALECTS = (NATIVE_DIALECT, AGUI_DIALECT)

#: The AG-UI version the mapped events speak (``RUN_STARTED.protocolVersion``).
PROTOCOL_VERSION = "1.1"

#: ``type`` of the envelope frame that carries one AG-UI event.
AGUI_FRAME_TYPE = "ag-ui"

#: A ``custom`` payload ``{RELAYED_KEY: event}`` carries an AG-UI event verbatim.
RELAYED_KEY = "agui"

#: Our key in an AG-UI event's ``metadata`` (the spec asks for a vendor prefix).
VENDOR_KEY = "wsbridge"

Event = dict[str, Any]


def relayed_payload(event: Mapping[str, Any]) -> dict[str, Any]:
    """Return the native ``custom`` payload that stores an AG-UI ``event`` verbatim."""
    return {RELAYED_KEY: dict(event)}


def relayed_event(payload: object) -> Event | None:
    """Return the AG-UI event a ``custom`` payload carries verbatim, else ``None``."""
    if isinstance(payload, Mapping) and len(payload) == 1:
        event = payload.get(RELAYED_KEY)
        if isinstance(event, dict) and isinstance(event.get("type"), str):
            return event
    return None


def tool_call_id(run_id: str, tool_name: str) -> str:
    """The ``toolCallId`` of a native tool call: native events pair calls by tool name."""
    return f"{run_id}/tool/{tool_name}"


def _millis(timestamp: object) -> int | None:
    if not isinstance(timestamp, str):
        return None
    try:
        moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return int(moment.timestamp() * 1000)


def _metadata(**values: Any) -> dict[str, Any]:
    kept = {key: value for key, value in values.items() if value is not None}
    return {"metadata": {VENDOR_KEY: kept}} if kept else {}


def _json_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def to_agui(message: Mapping[str, Any]) -> list[Event]:
    """Return the AG-UI 1.1 events one native wire message stands for, in order.

    Every event is schema-valid on its own and carries no ``null`` for an absent optional;
    whether a *run* of them is conformant depends on the native run's order (see the docs).
    """
    kind = message.get("type")
    payload = message.get("payload")
    body: dict[str, Any] = payload if isinstance(payload, dict) else {}
    run_id = str(message.get("run_id", ""))
    thread_id = str(message.get("thread_id", ""))
    seq = message.get("seq")
    stamp: dict[str, Any] = {}
    millis = _millis(message.get("timestamp"))
    if millis is not None:
        stamp["timestamp"] = millis

    if kind == "custom":
        relayed = relayed_event(body)
        if relayed is not None:
            return [relayed]
        if set(body) == {"name", "value"} and isinstance(body["name"], str):
            return [{"type": "CUSTOM", "name": body["name"], "value": body["value"], **stamp}]
        return [{"type": "CUSTOM", "name": "custom", "value": body, **stamp}]
    if kind == "agent_started":
        return [
            {
                "type": "RUN_STARTED",
                "threadId": thread_id,
                "runId": run_id,
                "protocolVersion": PROTOCOL_VERSION,
                **stamp,
                **_metadata(agent_name=message.get("agent_name"), context=body.get("context")),
            }
        ]
    if kind == "agent_thinking":
        # One reasoning message in the compact spelling: the chunk opens it (it carries the
        # messageId a first chunk must), and whatever the run says next closes it. No span:
        # 1.1 lets a reasoning message stand outside one (docs/agui-binding.md).
        message_id = f"{run_id}/reasoning/{seq}"
        chunk: Event = {"type": "REASONING_MESSAGE_CHUNK", "messageId": message_id}
        reasoning = body.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            chunk["delta"] = reasoning
        chunk.update(stamp)
        chunk.update(
            _metadata(
                step_number=body.get("step_number"),
                progress_percentage=body.get("progress_percentage"),
            )
        )
        return [chunk]
    if kind == "tool_executing":
        name = str(body.get("tool_name", ""))
        call = tool_call_id(run_id, name)
        parameters = body.get("parameters")
        return [
            {"type": "TOOL_CALL_START", "toolCallId": call, "toolCallName": name, **stamp},
            {
                "type": "TOOL_CALL_ARGS",
                "toolCallId": call,
                "delta": _json_text(parameters if parameters is not None else {}),
                **stamp,
            },
            {"type": "TOOL_CALL_END", "toolCallId": call, **stamp},
        ]
    if kind == "tool_completed":
        name = str(body.get("tool_name", ""))
        return [
            {
                "type": "TOOL_CALL_RESULT",
                "messageId": f"{run_id}/result/{seq}",
                "toolCallId": tool_call_id(run_id, name),
                "content": _json_text(body.get("result")),
                "role": "tool",
                **stamp,
                **_metadata(execution_time_ms=body.get("execution_time_ms")),
            }
        ]
    if kind == "agent_completed":
        result = body.get("result")
        return [
            {
                "type": "RUN_FINISHED",
                "threadId": thread_id,
                "runId": run_id,
                **({"result": result} if result is not None else {}),
                **stamp,
                **_metadata(execution_time_ms=body.get("execution_time_ms")),
            }
        ]
    if kind == "agent_error":
        context = body.get("error_context")
        code = context.get("code") if isinstance(context, dict) else None
        return [
            {
                "type": "RUN_ERROR",
                "message": str(body.get("error", "")),
                **({"code": code} if isinstance(code, str) else {}),
                **stamp,
                **_metadata(error_context=context),
            }
        ]
    # A native type this table does not know yet: carried, never dropped.
    return [{"type": "CUSTOM", "name": str(kind), "value": body, **stamp}]


def agui_frames(message: Mapping[str, Any]) -> list[Event]:
    """Return the envelope frames (one AG-UI event each) for one native wire message."""
    events = to_agui(message)
    head = {
        "type": AGUI_FRAME_TYPE,
        "thread_id": message.get("thread_id"),
        "seq": message.get("seq"),
        "epoch": message.get("epoch"),
    }
    count = len(events)
    return [
        {**head, "part": index, "parts": count, "event": event}
        for index, event in enumerate(events)
    ]


def encode_agui(message: Mapping[str, Any]) -> list[str]:
    """Return the JSON text of each frame :func:`agui_frames` makes for ``message``."""
    return [
        json.dumps(frame, separators=(",", ":"), ensure_ascii=False, default=str)
        for frame in agui_frames(message)
    ]


class AguiDialect:
    """The ``ag-ui`` dialect as a dialect object: ``name`` and a pure ``encode(message)``."""

    name = AGUI_DIALECT

    def encode(self, message: Mapping[str, Any]) -> tuple[str, ...]:
        """The texts of the frames :func:`agui_frames` makes of ``message``."""
        return tuple(encode_agui(message))


AGUI = AguiDialect()
"""The AG-UI dialect."""
