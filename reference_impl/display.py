"""One readable line per event, for people watching a thread (``wsbridge tail`` on a terminal).

Pure: :func:`format_event` turns a wire dict (native) or an AG-UI event into
``TIME  RUN  TYPE  SUMMARY  #SEQ``; anything it does not know still gets a line. A native
event's ``SUMMARY`` follows its row's ``summary`` template in
:data:`reference_impl.events.EVENTS`, so a new event type brings its own.
"""

from __future__ import annotations

import json
import string
from datetime import datetime, timezone
from typing import Any

from .events import EVENTS, summary_parts
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


def _filled(text: str, values: dict[str, Any], optional: bool) -> str | None:
    """One part of a summary template filled from ``values``; ``None`` when an optional part
    lacks a value, or a ``{field:spec}`` is not a number."""
    out = []
    for literal, name, spec, _ in string.Formatter().parse(text):
        out.append(literal)
        if name is None:
            continue
        value = values.get(name)
        empty = value is None or (isinstance(value, (str, dict, list)) and not value)
        if spec:
            shown = _number(value, "{:" + spec + "}")
            if not shown:
                return None
            out.append(shown)
        elif optional and empty:
            return None
        else:
            out.append("" if name not in values else _short(value))
    return "".join(out)


def summarize(event: dict[str, Any]) -> str:
    """What the event says, on one line: its row's ``summary`` in :data:`EVENTS`, else its
    payload (or, for an AG-UI event, its fields) as JSON."""
    payload = event.get("payload")
    if isinstance(payload, dict):
        spec = EVENTS.get(event.get("type"))
        if spec is None or not spec.summary:
            return _short(payload)
        values = {**payload, "agent_name": event.get("agent_name", "")}
        parts = (_filled(text, values, optional) for text, optional in summary_parts(spec.summary))
        return "".join(part for part in parts if part is not None)
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
