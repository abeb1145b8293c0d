"""A sans-I/O Server-Sent Events decoder that reports the AG-UI wire rules.

Feed it bytes as they arrive, then call :meth:`SseDecoder.finish`. It returns, in stream order,
the decoded AG-UI events (:class:`SseEvent`) and the wire problems (:class:`WireProblem`) it saw:

- a line ended by CR or CRLF (the binding pins LF; the decoder still accepts the full SSE grammar,
  so the events after it are judged too) — reported once per stream;
- a ``data`` payload that is not exactly one JSON object (multi-line ``data`` joined with LF);
- bytes that are not UTF-8;
- a body that stops inside an event (no blank line after its last field): that event is
  discarded, as SSE says.

Comments (``: keep-alive``) and the ``event``/``id``/``retry`` fields are ignored, as the binding
requires. :func:`feed_validator` wires a decoder to a :class:`~.validator.Validator`.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .validator import Report, Validator

__all__ = [
    "SseDecoder",
    "SseEvent",
    "SseItem",
    "WireProblem",
    "check_http_response",
    "feed_validator",
    "verify_sse",
]

_EOL = re.compile(rb"\r\n|\r|\n")


@dataclass(frozen=True)
class SseEvent:
    """One decoded SSE event whose data was a JSON object."""

    payload: dict[str, Any]


@dataclass(frozen=True)
class WireProblem:
    """A wire rule the bytes broke (a rule id from the catalogue)."""

    rule: str
    message: str


SseItem = SseEvent | WireProblem


class SseDecoder:
    """Incremental ``text/event-stream`` decoder (WHATWG SSE, with the AG-UI binding's rules)."""

    def __init__(self) -> None:
        self._buf = b""
        self._data: list[str] = []
        self._started = False
        self._saw_cr = False
        self._bad_utf8 = False
        self._fields_pending = False
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")

    def feed(self, chunk: bytes) -> list[SseItem]:
        """Decode what ``chunk`` completes; keep the rest for the next call."""
        out: list[SseItem] = []
        buf = self._buf + chunk
        if not self._started:
            if len(buf) < 3 and b"\xef\xbb\xbf".startswith(buf):
                self._buf = buf
                return out
            self._started = True
            if buf.startswith(b"\xef\xbb\xbf"):
                buf = buf[3:]
        pos = 0
        while True:
            match = _EOL.search(buf, pos)
            if match is None:
                break
            if match.group() == b"\r" and match.end() == len(buf):
                break  # a CR at the end may be the first half of a CRLF: wait for more
            if match.group() != b"\n" and not self._saw_cr:
                self._saw_cr = True
                out.append(
                    WireProblem(
                        "wire.line-ending", "the stream uses CR or CRLF line endings, not LF"
                    )
                )
            self._line(buf[pos : match.start()], out)
            pos = match.end()
        self._buf = buf[pos:]
        return out

    def finish(self) -> list[SseItem]:
        """The body ended: report an event cut off mid-way (it is discarded)."""
        out: list[SseItem] = []
        if self._buf.endswith(b"\r"):
            self._buf = self._buf[:-1]
            if not self._saw_cr:
                self._saw_cr = True
                out.append(
                    WireProblem("wire.line-ending", "the stream uses CR line endings, not LF")
                )
            self._line(self._buf, out)
            self._buf = b""
        if self._buf or self._fields_pending:
            out.append(
                WireProblem(
                    "wire.incomplete-frame",
                    "the body ends inside an SSE event (no blank line after it); it was discarded",
                )
            )
        self._buf = b""
        self._data = []
        self._fields_pending = False
        return out

    def _text(self, raw: bytes, out: list[SseItem]) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            if not self._bad_utf8:
                self._bad_utf8 = True
                out.append(WireProblem("wire.encoding", "the stream is not valid UTF-8"))
            return raw.decode("utf-8", errors="replace")

    def _line(self, raw: bytes, out: list[SseItem]) -> None:
        if not raw:
            self._dispatch(out)
            return
        self._fields_pending = True
        if raw[:1] == b":":
            return
        line = self._text(raw, out)
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)

    def _dispatch(self, out: list[SseItem]) -> None:
        self._fields_pending = False
        if not self._data:
            return
        text = "\n".join(self._data)
        self._data = []
        try:
            payload = json.loads(text)
        except ValueError:
            shown = text if len(text) <= 80 else text[:77] + "..."
            out.append(
                WireProblem(
                    "wire.one-event-per-data", f"a data payload is not one JSON value: {shown!r}"
                )
            )
            return
        if not isinstance(payload, dict):
            kind = "array" if isinstance(payload, list) else type(payload).__name__
            out.append(
                WireProblem(
                    "wire.one-event-per-data",
                    f"a data payload is a JSON {kind}, not an event object",
                )
            )
            return
        out.append(SseEvent(payload))


def feed_validator(validator: Validator, items: Iterable[SseItem]) -> None:
    """Hand decoded items to ``validator``: events are fed, wire problems are noted."""
    for item in items:
        if isinstance(item, SseEvent):
            validator.feed(item.payload)
        else:
            validator.note(item.rule, item.message)


def check_http_response(status: int, content_type: str | None) -> list[WireProblem]:
    """The HTTP+SSE binding's response rules: ``200`` and ``text/event-stream``."""
    out: list[WireProblem] = []
    if status != 200:
        out.append(WireProblem("wire.http-status", f"the response status is {status}, not 200"))
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media != "text/event-stream":
        shown = content_type or "no Content-Type"
        out.append(
            WireProblem("wire.content-type", f"the response is {shown!r}, not text/event-stream")
        )
    return out


def verify_sse(
    chunks: Iterable[bytes],
    *,
    input: Mapping[str, Any] | None = None,
    source: str = "<sse>",
    status: int | None = None,
    content_type: str | None = None,
) -> Report:
    """Judge a whole SSE body (and, when ``status`` is given, its HTTP response) at once.

    A status other than 200 means there is no event stream (input refused before the run):
    only that is reported, and the body is not read as events.
    """
    validator = Validator(input=input)
    if status is not None:
        problems = check_http_response(status, content_type)
        if status != 200:  # no event stream: the run never started
            feed_validator(validator, [p for p in problems if p.rule == "wire.http-status"])
            return validator.report(source)
        feed_validator(validator, problems)
    decoder = SseDecoder()
    for chunk in chunks:
        feed_validator(validator, decoder.feed(chunk))
    feed_validator(validator, decoder.finish())
    validator.finish()
    return validator.report(source)
