"""Readers: turn a source into events for the pure validator, and collect the verdict.

Sources: a ``.sse`` file (raw bytes, so the wire rules apply), a ``.jsonl`` file, a ``.json``
array, ``-`` (stdin, sniffed), an ``http(s)://`` endpoint (the HTTP+SSE binding: POST the
``RunAgentInput``, check status and content type, decode the stream), an in-process ASGI app
(the same exchange, no socket) and a ``ws://`` URL speaking our AG-UI WebSocket binding
(subscribe with ``"dialect": "ag-ui"``, then ``{"type": "run", "input": ...}``).

Each reader returns an :class:`AguiStream`: the events it read, in order, and the
:class:`~reference_impl.agui.Report`. A source that cannot be read at all raises
:class:`~.exceptions.AguiSourceError`; anything wrong with a stream that was read is a finding.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from http.client import HTTPException
from pathlib import Path
from typing import Any

from reference_impl.agui import (
    Report,
    SseDecoder,
    SseEvent,
    Validator,
    check_http_response,
    check_run_agent_input,
)
from reference_impl.agui.dialect import AGUI_FRAME_TYPE
from reference_impl.protocol import CONTROL_FRAME_TYPES

from .exceptions import AguiSourceError

__all__ = [
    "AguiStream",
    "StreamCheck",
    "collect_asgi",
    "collect_bytes",
    "collect_file",
    "collect_http",
    "collect_ws",
    "default_input",
    "load_input",
]


@dataclass
class AguiStream:
    """What a reader collected: the events, in order, and the verdict on them."""

    events: list[dict[str, Any]]
    report: Report

    @property
    def conformant(self) -> bool:
        return self.report.conformant


@dataclass
class StreamCheck:
    """A validator plus the events fed to it; the one place readers hand data to."""

    source: str
    input: Mapping[str, Any] | None = None
    events: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.validator = Validator(input=self.input)
        self._decoder: SseDecoder | None = None

    def event(self, event: Any) -> None:
        """Feed one decoded event (any JSON value; non-objects become findings)."""
        if isinstance(event, dict):
            self.events.append(event)
        self.validator.feed(event)

    def http(self, status: int, content_type: str | None, detail: str = "") -> bool:
        """Judge the HTTP response head; ``False`` when there is no event stream to read.

        ``detail`` (the start of an error body) is added to the status finding.
        """
        problems = check_http_response(status, content_type)
        for problem in problems:
            if problem.rule == "wire.http-status":
                said = f" (the body says {detail!r})" if detail else ""
                self.validator.note(problem.rule, problem.message + said)
            elif status == 200:
                self.validator.note(problem.rule, problem.message)
        return status == 200

    def sse(self, chunk: bytes) -> None:
        """Feed raw SSE bytes."""
        if self._decoder is None:
            self._decoder = SseDecoder()
        self._items(self._decoder.feed(chunk))

    def _items(self, items: Iterable[Any]) -> None:
        for item in items:
            if isinstance(item, SseEvent):
                self.event(item.payload)
            else:
                self.validator.note(item.rule, item.message)

    def finish(self, *, stream_started: bool = True) -> AguiStream:
        """End the stream (decoder and validator) and return what was collected."""
        if self._decoder is not None:
            self._items(self._decoder.finish())
        if stream_started:
            self.validator.finish()
        return AguiStream(self.events, self.validator.report(self.source))


def default_input(thread_id: str | None = None) -> dict[str, Any]:
    """A minimal RunAgentInput: one user message, no tools, a fresh run id."""
    return {
        "threadId": thread_id or "wsbridge-verify",
        "runId": f"verify-{uuid.uuid4().hex[:12]}",
        "messages": [{"id": "user-1", "role": "user", "content": "Hello"}],
        "tools": [],
        "context": [],
        "state": {},
        "forwardedProps": {},
    }


def load_input(path: str | Path) -> dict[str, Any]:
    """Read and check a RunAgentInput file; :class:`AguiSourceError` says what is wrong."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise AguiSourceError(f"--input {path}: cannot read: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise AguiSourceError(f"--input {path}: not JSON: {exc}") from exc
    problems = check_run_agent_input(data)
    if problems:
        listed = "; ".join(message for _rule, _path, message in problems[:5])
        raise AguiSourceError(f"--input {path}: not a valid RunAgentInput: {listed}")
    assert isinstance(data, dict)
    return data


def _sniff(data: bytes) -> str:
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:16]
    if head.startswith(b"["):
        return "json"
    if head.startswith(b"{"):
        return "jsonl"
    return "sse"


def collect_bytes(
    data: bytes,
    *,
    source: str,
    kind: str | None = None,
    input: Mapping[str, Any] | None = None,
) -> AguiStream:
    """Judge a whole body: ``kind`` is ``sse``, ``jsonl`` or ``json`` (sniffed when ``None``)."""
    kind = kind or _sniff(data)
    check = StreamCheck(source, input)
    if kind == "sse":
        check.sse(data)
        return check.finish()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AguiSourceError(f"{source}: not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    if kind == "json":
        try:
            events = json.loads(text)
        except ValueError as exc:
            raise AguiSourceError(f"{source}: not JSON: {exc}") from exc
        if not isinstance(events, list):
            raise AguiSourceError(f"{source}: a .json source is an array of events")
    else:
        events = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                events.append(json.loads(line))
            except ValueError as exc:
                raise AguiSourceError(f"{source}:{number}: not a JSON line: {exc}") from exc
    for event in events:
        check.event(event)
    return check.finish()


def collect_file(path: str | Path, *, input: Mapping[str, Any] | None = None) -> AguiStream:
    """Judge a ``.sse``, ``.jsonl`` or ``.json`` file (other names are sniffed)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AguiSourceError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    kind = {".sse": "sse", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json"}.get(
        path.suffix.lower()
    )
    return collect_bytes(data, source=str(path), kind=kind, input=input)


def _body(input: Mapping[str, Any]) -> bytes:
    return json.dumps(input, separators=(",", ":")).encode("utf-8")


_REQUEST_HEADERS = {"Content-Type": "application/json", "Accept": "text/event-stream"}


def collect_http(
    url: str,
    *,
    input: Mapping[str, Any] | None = None,
    timeout: float = 30.0,
    headers: Mapping[str, str] | None = None,
) -> AguiStream:
    """POST a RunAgentInput to an HTTP+SSE endpoint and judge the response (blocking).

    ``timeout`` bounds the connection and each read: a stream that stalls longer is cut there
    and judged as it stands (a run left open is truncated).
    """
    run_input = dict(input) if input is not None else default_input()
    request = urllib.request.Request(
        url, data=_body(run_input), method="POST", headers={**_REQUEST_HEADERS, **(headers or {})}
    )
    check = StreamCheck(url, run_input)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        with exc:
            detail = exc.read(300).decode("utf-8", "replace").strip()
        check.http(exc.code, exc.headers.get("Content-Type"), detail)
        return check.finish(stream_started=False)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise AguiSourceError(f"{url}: cannot POST the run input: {reason}") from exc
    with response:
        check.http(response.status, response.headers.get("Content-Type"))
        try:
            while chunk := response.read1(65536):
                check.sse(chunk)
        except (HTTPException, OSError):  # socket timeouts are OSErrors
            pass  # the body broke off: judged as it stands (truncated if a run is open)
    return check.finish()


Asgi = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]


async def collect_asgi(
    app: Asgi,
    *,
    input: Mapping[str, Any] | None = None,
    path: str = "/",
    headers: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> AguiStream:
    """POST a RunAgentInput to an ASGI app in-process and judge its response like an endpoint's."""
    run_input = dict(input) if input is not None else default_input()
    body = _body(run_input)
    raw_path, _, query = path.partition("?")
    all_headers = {**_REQUEST_HEADERS, **(headers or {}), "Content-Length": str(len(body))}
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": raw_path,
        "raw_path": raw_path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"agui.test")]
        + [(k.lower().encode(), v.encode()) for k, v in all_headers.items()],
        "client": ("127.0.0.1", 0),
        "server": ("agui.test", 80),
        "state": {},
    }
    check = StreamCheck(f"asgi:{raw_path}", run_input)
    done = asyncio.Event()
    state = {"requested": False, "status": 0}

    async def receive() -> dict[str, Any]:
        if not state["requested"]:
            state["requested"] = True
            return {"type": "http.request", "body": body, "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        if message["type"] == "http.response.start":
            state["status"] = message["status"]
            content_type = None
            for key, value in message.get("headers", []):
                if key.decode("latin-1").lower() == "content-type":
                    content_type = value.decode("latin-1")
            check.http(message["status"], content_type)
        elif message["type"] == "http.response.body":
            if state["status"] == 200:
                check.sse(message.get("body", b""))
            if not message.get("more_body", False):
                done.set()

    try:
        await asyncio.wait_for(app(scope, receive, send), timeout)
    except asyncio.TimeoutError:
        pass  # judged as it stands
    finally:
        done.set()
    if state["status"] == 0:
        raise AguiSourceError(f"asgi:{raw_path}: the app sent no response")
    return check.finish(stream_started=state["status"] == 200)


async def collect_ws(
    url: str,
    *,
    thread: str,
    token: str | None = None,
    input: Mapping[str, Any] | None = None,
    timeout: float = 30.0,
) -> AguiStream:
    """Start a run over our AG-UI WebSocket binding and judge what arrives.

    Subscribes to ``thread`` in the ``ag-ui`` dialect, sends ``{"type": "run", "input": ...}`` and
    reads until the requested run's terminal event, or until ``timeout`` passes with no frame
    (then the stream is judged as it stands: truncated if the run is open).
    """
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

    run_input = dict(input) if input is not None else default_input(thread)
    if run_input.get("threadId") != thread:
        raise AguiSourceError(
            f"{url}: --thread {thread!r} is not the input's threadId {run_input.get('threadId')!r}"
        )
    run_id = run_input.get("runId")
    check = StreamCheck(url, run_input)
    headers = {"Authorization": f"Bearer {token}"} if token else None
    subscribed = False
    try:
        async with connect(url, additional_headers=headers, open_timeout=timeout) as ws:
            subscribe = {"type": "subscribe", "thread_id": thread, "dialect": "ag-ui"}
            await ws.send(json.dumps(subscribe))
            while True:
                frame = await _frame(ws, url, timeout)
                if frame.get("type") == "subscribed":
                    subscribed = True
                    break
                _refused(frame, url, "subscription")
            await ws.send(json.dumps({"type": "run", "input": run_input}))
            started = False
            while True:
                try:
                    frame = await _frame(ws, url, timeout)
                except TimeoutError:
                    break
                if frame.get("type") in CONTROL_FRAME_TYPES:
                    _refused(frame, url, "run")
                    continue
                # Each event frame of the binding is an envelope around one AG-UI event.
                event = frame.get("event") if frame.get("type") == AGUI_FRAME_TYPE else None
                if not isinstance(event, dict):
                    raise AguiSourceError(f"{url}: not an ag-ui event frame: {str(frame)[:80]!r}")
                check.event(event)
                kind = event.get("type")
                frame = event
                if kind == "RUN_STARTED" and frame.get("runId") == run_id:
                    started = True
                    continue
                finished = kind == "RUN_FINISHED" and frame.get("runId") == run_id
                failed = kind == "RUN_ERROR" and (started or check.validator.events == 1)
                if finished or failed:
                    break
    except (OSError, InvalidHandshake, InvalidURI) as exc:
        raise AguiSourceError(f"{url}: cannot connect: {exc}") from exc
    except ConnectionClosed as exc:
        if not subscribed:
            raise AguiSourceError(
                f"{url}: the server closed the connection before the subscription "
                f"({exc.rcvd.code if exc.rcvd else 'no close frame'}: "
                f"{exc.rcvd.reason if exc.rcvd else ''})"
            ) from exc
        # after the subscription, a dropped connection is judged as it stands
    return check.finish()


async def _frame(ws: Any, url: str, timeout: float) -> dict[str, Any]:
    try:
        raw = await asyncio.wait_for(ws.recv(), timeout)
    except asyncio.TimeoutError as exc:
        raise TimeoutError(f"{url}: no frame within {timeout} s") from exc
    try:
        frame = json.loads(raw)
    except ValueError as exc:
        raise AguiSourceError(f"{url}: a frame that is not JSON: {str(raw)[:80]!r}") from exc
    if not isinstance(frame, dict):
        raise AguiSourceError(f"{url}: a frame that is not a JSON object: {str(raw)[:80]!r}")
    return frame


def _refused(frame: Mapping[str, Any], url: str, what: str) -> None:
    if frame.get("type") in {"error", "resync_required"}:
        code = frame.get("code") or frame.get("reason") or frame.get("type")
        raise AguiSourceError(
            f"{url}: the server refused the {what}: {code}: {frame.get('message', '')}"
        )
