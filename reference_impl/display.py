"""One readable line per event, for people watching a thread (``wsbridge tail`` on a terminal).

Pure: :func:`format_event` turns a wire dict (native) or an AG-UI event into
``TIME  RUN  TYPE  SUMMARY  #SEQ``; anything it does not know still gets a line.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from .ids import thread_id_from_run_id

__all__ = ["format_event", "short_run", "summarize"]

_LIMIT = 100


def _short(value: Any, limit: int = _LIMIT) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _number(value: object, template: str) -> str:
    """``template`` filled with ``value`` when it is a number, else ``""``."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return template.format(value)
    return ""


def short_run(run_id: object) -> str:
    """A run id as a column: the random tail of a standard run id, else the id (shortened)."""
    if not isinstance(run_id, str) or not run_id:
        return "-"
    if thread_id_from_run_id(run_id) is not None:
        return "…" + run_id.rsplit("_", 1)[1]
    return _short(run_id, 24)


def summarize(event: dict[str, Any]) -> str:
    """What the event says, on one line."""
    kind = event.get("type")
    payload = event.get("payload")
    if isinstance(payload, dict):
        p = payload
        if kind == "agent_started":
            return f"{event.get('agent_name', '')} started" + (
                f" {_short(p['context'])}" if p.get("context") else ""
            )
        if kind == "agent_thinking":
            step = f"step {p['step_number']}: " if p.get("step_number") is not None else ""
            progress = _number(p.get("progress_percentage"), " ({:g}%)")
            return f"{step}{_short(p.get('reasoning', ''))}{progress}"
        if kind == "tool_executing":
            return f"{p.get('tool_name')}({_short(p.get('parameters') or {})})"
        if kind == "tool_completed":
            took = _number(p.get("execution_time_ms"), " in {:g} ms")
            return f"{p.get('tool_name')} -> {_short(p.get('result'))}{took}"
        if kind == "agent_completed":
            return "completed" + (f": {_short(p['result'])}" if p.get("result") is not None else "")
        if kind == "agent_error":
            return f"error: {_short(p.get('error', ''))}"
        return _short(p)
    # An AG-UI event: its fields are at the top level.
    fields = {
        k: v
        for k, v in event.items()
        if k not in ("type", "timestamp", "threadId", "runId", "seq", "epoch", "rawEvent")
    }
    return _short(fields) if fields else ""


def _clock(timestamp: object) -> str:
    """``HH:MM:SS.mmm`` (UTC) of an ISO-8601 string or of epoch milliseconds (AG-UI)."""
    moment: datetime | None = None
    if isinstance(timestamp, str):
        try:
            moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
        except ValueError:
            moment = None
    elif isinstance(timestamp, (int, float)) and not isinstance(timestamp, bool):
        try:
            moment = datetime.fromtimestamp(timestamp / 1000, tz=timezone.utc)
        except (ValueError, OverflowError, OSError):  # out of datetime's range
            moment = None
    return moment.strftime("%H:%M:%S.%f")[:-3] if moment is not None else "--:--:--.---"


def format_event(event: dict[str, Any], envelope: dict[str, Any] | None = None) -> str:
    """``TIME  RUN  TYPE  SUMMARY  #SEQ`` (the seq is left out when the event has none).

    ``envelope`` is the ``ag-ui`` dialect's frame around a bare AG-UI ``event``: its ``seq``
    is shown, as ``#SEQ.PART`` when one native event became several AG-UI events.
    """
    kind = _short(str(event.get("type", "?")), 40)
    run = short_run(event.get("run_id", event.get("runId")))
    seq = (envelope or event).get("seq")
    tail = f"  #{seq}" if isinstance(seq, int) else ""
    if envelope is not None and tail:
        part, parts = envelope.get("part"), envelope.get("parts")
        if isinstance(part, int) and isinstance(parts, int) and parts > 1:
            tail += f".{part}"
    summary = " ".join(summarize(event).split())  # one line, whatever the payload holds
    return f"{_clock(event.get('timestamp'))}  {run:<10}  {kind:<15}  {summary}{tail}".rstrip()
