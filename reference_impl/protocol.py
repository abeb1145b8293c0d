"""The bridge's WebSocket protocol as data: frames, error codes and close codes. No I/O.

A client sends JSON text frames (:data:`ClientFrame`); the server answers with control frames
(:class:`SubscribedFrame`, :class:`ResyncRequiredFrame`, :class:`ErrorFrame`, ...) and with the
thread's events, which are :class:`~reference_impl.events.EventMessage` wire dicts as they are.
:func:`parse_client_frame` turns text into a frame or raises
:class:`~reference_impl.exceptions.ProtocolError` naming an :class:`ErrorCode`. Close codes are
kept as data in :data:`CLOSE_CODES` (the README's table is this table).
"""

from __future__ import annotations

import json
from enum import Enum, IntEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from .exceptions import ProtocolError
from .text import short

__all__ = [
    "CLOSE_CODES",
    "CONTROL_FRAME_TYPES",
    "MAX_FRAME_DEPTH",
    "MAX_WIRE_INT",
    "RETRYABLE_CLOSE_CODES",
    "AuthFrame",
    "AuthenticatedFrame",
    "ClientFrame",
    "CloseCode",
    "ErrorCode",
    "ErrorFrame",
    "PingFrame",
    "PongFrame",
    "ResyncRequiredFrame",
    "RunAcceptedFrame",
    "RunFrame",
    "SubscribeFrame",
    "SubscribedFrame",
    "UnsubscribeFrame",
    "UnsubscribedFrame",
    "as_message_dict",
    "check_json_value",
    "encode_frame",
    "encode_message",
    "parse_client_frame",
]


class CloseCode(IntEnum):
    """WebSocket close codes the server uses."""

    NORMAL = 1000
    GOING_AWAY = 1001
    UNSUPPORTED_DATA = 1003
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    INTERNAL_ERROR = 1011
    UNAUTHORIZED = 4001
    SLOW_CONSUMER = 4008


CLOSE_CODES: dict[CloseCode, str] = {
    CloseCode.NORMAL: "the client or server ended the session normally",
    CloseCode.GOING_AWAY: "the server is shutting down; reconnect and resume",
    CloseCode.UNSUPPORTED_DATA: "a binary frame was sent; the protocol is JSON text only",
    CloseCode.POLICY_VIOLATION: "subscription to a thread the user may not see; not retried",
    CloseCode.MESSAGE_TOO_BIG: "a frame larger than the server's max_frame_bytes",
    CloseCode.INTERNAL_ERROR: "the server failed while serving this connection",
    CloseCode.UNAUTHORIZED: "missing, invalid or late authentication; not retried",
    CloseCode.SLOW_CONSUMER: "the client fell behind its send queue; reconnect and resume",
}

#: Close codes after which a client should reconnect and resume (others are final).
RETRYABLE_CLOSE_CODES = frozenset(
    {CloseCode.GOING_AWAY, CloseCode.INTERNAL_ERROR, CloseCode.SLOW_CONSUMER}
)


class ErrorCode(str, Enum):
    """The ``code`` of an ``error`` frame: what was wrong with the client's input."""

    INVALID_JSON = "invalid_json"
    INVALID_FRAME = "invalid_frame"
    UNKNOWN_TYPE = "unknown_type"
    BINARY_FRAME = "binary_frame"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    INVALID_RESUME_POINT = "invalid_resume_point"
    ALREADY_SUBSCRIBED = "already_subscribed"
    NOT_SUBSCRIBED = "not_subscribed"
    INVALID_INPUT = "invalid_input"
    NO_UPSTREAM = "no_upstream"
    INTERNAL = "internal_error"


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- client frames ----------------------------------------------------------------------------


class AuthFrame(_Frame):
    """``auth {token}``: authenticate, as the first frame, when headers cannot be set."""

    type: Literal["auth"]
    token: str = Field(min_length=1)


class SubscribeFrame(_Frame):
    """``subscribe {thread_id, last_seq?, epoch?}``: live events, after a replay if resuming.

    Without ``last_seq`` the subscription starts at the head (live events only); with it, the
    events after ``last_seq`` are replayed first (``0``: everything the log keeps).
    """

    type: Literal["subscribe"]
    thread_id: str = Field(min_length=1)
    last_seq: int | None = Field(default=None, ge=0, strict=True)
    epoch: str | None = Field(default=None, min_length=1)
    #: A registered dialect (:mod:`reference_impl.dialects`): ``"native"`` (the default) or
    #: ``"ag-ui"``, where each event frame carries one AG-UI event
    #: (:mod:`reference_impl.agui.dialect`). The session refuses a name not registered.
    dialect: str = Field(default="native", min_length=1)


class UnsubscribeFrame(_Frame):
    """``unsubscribe {thread_id}``: stop the thread's events."""

    type: Literal["unsubscribe"]
    thread_id: str = Field(min_length=1)


class PingFrame(_Frame):
    """``ping {id?}``: an application-level liveness check; answered with ``pong``."""

    type: Literal["ping"]
    id: str | int | None = None


class RunFrame(_Frame):
    """``run {input}``: start an AG-UI run on ``input.threadId`` (the AG-UI binding).

    ``input`` is an AG-UI ``RunAgentInput``; the server checks it, the sender's right to the
    thread and that it relays to an agent, then answers ``run_accepted`` or an ``error``.
    """

    type: Literal["run"]
    input: dict[str, Any]


ClientFrame = Annotated[
    AuthFrame | SubscribeFrame | UnsubscribeFrame | PingFrame | RunFrame,
    Field(discriminator="type"),
]
_CLIENT_FRAME: TypeAdapter[AuthFrame | SubscribeFrame | UnsubscribeFrame | PingFrame | RunFrame] = (
    TypeAdapter(ClientFrame)
)
_CLIENT_TYPES = ("auth", "subscribe", "unsubscribe", "ping", "run")


# -- server frames ----------------------------------------------------------------------------


class AuthenticatedFrame(_Frame):
    """``authenticated {user_id}``: the answer to an ``auth`` frame."""

    type: Literal["authenticated"] = "authenticated"
    user_id: str


class SubscribedFrame(_Frame):
    """``subscribed {thread_id, epoch, head_seq, recovered}``.

    ``recovered`` replayed events follow at once, then live events (seq from ``head_seq + 1``
    on a fresh subscription).
    """

    type: Literal["subscribed"] = "subscribed"
    thread_id: str
    epoch: str
    head_seq: int
    recovered: int


class ResyncRequiredFrame(_Frame):
    """``resync_required {thread_id, epoch, head_seq, reason}``: the log cannot serve the resume.

    The thread is not subscribed; reload its state and subscribe again with
    ``last_seq=head_seq`` and ``epoch``.
    """

    type: Literal["resync_required"] = "resync_required"
    thread_id: str
    epoch: str
    head_seq: int
    reason: str = ""


class UnsubscribedFrame(_Frame):
    """``unsubscribed {thread_id}``: the answer to ``unsubscribe``."""

    type: Literal["unsubscribed"] = "unsubscribed"
    thread_id: str


class ErrorFrame(_Frame):
    """``error {code, message}``: a client frame was refused; see :class:`ErrorCode`."""

    type: Literal["error"] = "error"
    code: str
    message: str
    thread_id: str | None = None


class RunAcceptedFrame(_Frame):
    """``run_accepted {thread_id, run_id}``: the run started; its events follow on the thread."""

    type: Literal["run_accepted"] = "run_accepted"
    thread_id: str
    run_id: str


class PongFrame(_Frame):
    """``pong {id}``: the answer to ``ping``."""

    type: Literal["pong"] = "pong"
    id: str | int | None = None


#: ``type`` values of server control frames; anything else the server sends is an event.
CONTROL_FRAME_TYPES = frozenset(
    {
        "authenticated",
        "subscribed",
        "resync_required",
        "unsubscribed",
        "error",
        "pong",
        "run_accepted",
    }
)


#: How deep a client frame's JSON may nest (the frame object itself is depth 1). Control frames
#: are flat; a ``run`` frame's input (state, tool schemas) may nest, but not this deep. The bound
#: keeps a hostile frame from reaching any recursive code (``repr``, validation, encoding) with
#: thousands of levels.
MAX_FRAME_DEPTH = 64


#: The largest integer magnitude a frame may carry: what every JSON reader keeps exactly
#: (an IEEE-754 double, RFC 8259 section 6). Larger ones may not survive a reply or storage.
MAX_WIRE_INT = 2**53 - 1


def check_json_value(value: object, *, max_depth: int = MAX_FRAME_DEPTH) -> None:
    """Raise :class:`ProtocolError` unless ``value`` (decoded JSON) is fit to be a frame.

    Fit means: nested at most ``max_depth`` deep; every string (object keys included) is valid
    Unicode, i.e. encodable as UTF-8 (JSON text may spell a lone surrogate as ``"\\udfff"``);
    every integer within :data:`MAX_WIRE_INT` either way, and no ``NaN`` or ``Infinity`` (which
    Python's decoder accepts but JSON has not). Such values pass the models but can be neither
    encoded in a reply (an echoed ping ``id``, a ``head_seq``) nor stored, so they are refused
    here, once, for every field of every frame. The walk is iterative.
    """
    stack: list[tuple[object, int, str]] = [(value, 1, "frame")]
    while stack:
        item, depth, where = stack.pop()
        if isinstance(item, str):
            _check_text(item, where)
        elif isinstance(item, bool):
            continue
        elif isinstance(item, int):
            if not -MAX_WIRE_INT <= item <= MAX_WIRE_INT:
                raise ProtocolError(
                    ErrorCode.INVALID_FRAME.value,
                    f"{where} is out of range (integers within +-{MAX_WIRE_INT})",
                )
        elif isinstance(item, float):
            if item != item or item in (float("inf"), float("-inf")):
                raise ProtocolError(
                    ErrorCode.INVALID_FRAME.value, f"{where} is not a number JSON allows"
                )
        elif isinstance(item, (dict, list)):
            if depth > max_depth:
                raise ProtocolError(
                    ErrorCode.INVALID_FRAME.value,
                    f"frame nests deeper than {max_depth} levels (at {where})",
                )
            if isinstance(item, dict):
                for key, child in item.items():
                    _check_text(key, f"a key of {where}")
                    stack.append((child, depth + 1, f"{where}.{key}"))
            else:
                stack.extend((child, depth + 1, f"{where}[{i}]") for i, child in enumerate(item))


def _check_text(text: str, where: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ProtocolError(
            ErrorCode.INVALID_FRAME.value,
            f"{where} is not valid Unicode (it holds a lone surrogate such as \\ud800)",
        ) from None


def parse_client_frame(
    text: str | bytes,
) -> AuthFrame | SubscribeFrame | UnsubscribeFrame | PingFrame | RunFrame:
    """Parse one client frame; raise :class:`ProtocolError` with an :class:`ErrorCode`.

    Every input, however malformed, either parses or raises :class:`ProtocolError`: not JSON,
    JSON nested too deeply for the decoder (``RecursionError``), not an object, nested deeper
    than :data:`MAX_FRAME_DEPTH`, a string that is not valid Unicode, an unknown type or a
    field the frame's model refuses.
    """
    if not isinstance(text, str):
        raise ProtocolError(ErrorCode.BINARY_FRAME.value, "binary frames are not supported")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ProtocolError(ErrorCode.INVALID_JSON.value, f"frame is not JSON: {exc}") from None
    except RecursionError:
        raise ProtocolError(
            ErrorCode.INVALID_FRAME.value,
            f"frame nests deeper than {MAX_FRAME_DEPTH} levels",
        ) from None
    check_json_value(data)
    if not isinstance(data, dict):
        raise ProtocolError(ErrorCode.INVALID_FRAME.value, "frame must be a JSON object")
    kind = data.get("type")
    if kind not in _CLIENT_TYPES:
        raise ProtocolError(
            ErrorCode.UNKNOWN_TYPE.value,
            f"unknown frame type {short(kind, 60)}; expected one of {', '.join(_CLIENT_TYPES)}",
        )
    try:
        return _CLIENT_FRAME.validate_python(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'][1:]) or 'frame'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ProtocolError(
            ErrorCode.INVALID_FRAME.value, f"invalid {kind} frame: {problems}"
        ) from None


def encode_frame(frame: BaseModel) -> str:
    """Return the compact JSON text of a control frame."""
    return frame.model_dump_json()


def encode_message(message: dict[str, Any]) -> str:
    """Return the compact JSON text of an event wire dict."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False, default=str)


def as_message_dict(message: object) -> dict[str, Any]:
    """Return a bridge's message as a dict: dicts, pydantic models and JSON text are accepted."""
    if isinstance(message, dict):
        return message
    dump = getattr(message, "model_dump", None)
    if callable(dump):
        result = dump(mode="json")
        if isinstance(result, dict):
            return result
    if isinstance(message, (str, bytes, bytearray)):
        decoded = json.loads(message)
        if isinstance(decoded, dict):
            return decoded
    raise TypeError(
        f"a bridge sent a {type(message).__name__}; send_to_thread takes a dict, a pydantic "
        "model or a JSON object"
    )
