"""Hostile client frames: ``parse_client_frame`` either parses or raises ``ProtocolError``.

Issue 11 §2: a 1,000-deep nested array escaped as ``RecursionError`` and a ping whose ``id`` is
a lone surrogate passed the model, then failed to encode as a pong; each closed the connection
with 1011. The property: for any text at all, parsing returns a frame whose every reply encodes,
or raises :class:`ProtocolError` whose ``error`` frame encodes.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reference_impl.exceptions import ProtocolError
from reference_impl.protocol import (
    MAX_FRAME_DEPTH,
    MAX_WIRE_INT,
    ErrorCode,
    ErrorFrame,
    PingFrame,
    PongFrame,
    SubscribedFrame,
    SubscribeFrame,
    UnsubscribedFrame,
    UnsubscribeFrame,
    check_json_value,
    encode_frame,
    parse_client_frame,
)

#: Strings with what breaks encoders: lone surrogates, control characters, NUL, non-BMP.
_ODD_CHARS = st.one_of(
    st.characters(codec="utf-8"),
    st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff", "\x00", "\x1b", "\x7f", "\u2028"]),
    st.characters(max_codepoint=0x1F),
)
ODD_TEXT = st.text(_ODD_CHARS, max_size=20)
NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.sampled_from([2**63, -(2**63) - 1, 10**300, -1, 0]),
    st.floats(allow_nan=True, allow_infinity=True),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, ODD_TEXT)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ODD_TEXT, inner, max_size=4),
    max_leaves=12,
)
FIELDS = {
    "auth": ["token"],
    "subscribe": ["thread_id", "last_seq", "epoch"],
    "unsubscribe": ["thread_id"],
    "ping": ["id"],
}


def deep(depth: int, inner: str = "0") -> str:
    """JSON text of ``depth`` nested arrays around ``inner``."""
    return "[" * depth + inner + "]" * depth


@st.composite
def frames(draw: st.DrawFn) -> dict[str, Any]:
    """A frame-shaped object: a known or odd type, any value in each field, maybe extra keys."""
    kind = draw(st.one_of(st.sampled_from(sorted(FIELDS)), ODD_TEXT))
    frame: dict[str, Any] = {"type": kind}
    for field in FIELDS.get(kind, ["thread_id"]):
        if draw(st.booleans()):
            frame[field] = draw(st.one_of(JSON_VALUES, ODD_TEXT, NUMBERS))
    frame.update(draw(st.dictionaries(ODD_TEXT, JSON_VALUES, max_size=2)))
    return frame


@st.composite
def frame_texts(draw: st.DrawFn) -> str:
    """Text a hostile client may send: arbitrary, any JSON, frames, deep nesting."""
    choice = draw(st.integers(0, 4))
    if choice == 0:
        return draw(st.text(_ODD_CHARS))
    if choice == 1:
        return json.dumps(draw(JSON_VALUES), ensure_ascii=draw(st.booleans()))
    if choice == 2:
        depth = draw(st.integers(1, 5000))
        return deep(depth)
    if choice == 3:
        # a frame whose one field is nested deep
        kind = draw(st.sampled_from(sorted(FIELDS)))
        field = draw(st.sampled_from(FIELDS[kind]))
        depth = draw(st.integers(1, 3000))
        return f'{{"type": "{kind}", "{field}": {deep(depth)}}}'
    return json.dumps(draw(frames()), ensure_ascii=draw(st.booleans()))


def replies(frame: object) -> list[Any]:
    """The control frames the server may answer ``frame`` with."""
    if isinstance(frame, PingFrame):
        return [PongFrame(id=frame.id)]
    if isinstance(frame, SubscribeFrame):
        return [
            SubscribedFrame(
                thread_id=frame.thread_id, epoch=frame.epoch or "e", head_seq=0, recovered=0
            ),
            ErrorFrame(code="forbidden", message=f"{frame.thread_id!r}", thread_id=frame.thread_id),
        ]
    if isinstance(frame, UnsubscribeFrame):
        return [UnsubscribedFrame(thread_id=frame.thread_id)]
    return []


def check_parse(text: str) -> None:
    try:
        frame = parse_client_frame(text)
    except ProtocolError as exc:
        refused = exc
    else:
        json.loads(encode_frame(frame))
        for reply in replies(frame):
            json.loads(encode_frame(reply))
        return
    assert refused.code in {code.value for code in ErrorCode}
    json.loads(encode_frame(ErrorFrame(code=refused.code, message=str(refused))))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame_texts())
def test_any_text_parses_to_an_encodable_frame_or_a_protocol_error(text: str) -> None:
    check_parse(text)


@pytest.mark.parametrize("depth", [MAX_FRAME_DEPTH + 1, 1000, 100_000])
def test_deeply_nested_json_is_an_invalid_frame(depth: int) -> None:
    with pytest.raises(ProtocolError, match="nests deeper") as caught:
        parse_client_frame(deep(depth))
    assert caught.value.code == ErrorCode.INVALID_FRAME.value
    with pytest.raises(ProtocolError, match="nests deeper"):
        parse_client_frame(f'{{"type": "ping", "id": {deep(depth)}}}')


def test_nesting_up_to_the_bound_is_not_refused_for_depth() -> None:
    check_json_value(json.loads(deep(MAX_FRAME_DEPTH - 1, "{}")))
    with pytest.raises(ProtocolError, match="nests deeper"):
        check_json_value(json.loads(deep(MAX_FRAME_DEPTH, "{}")))


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('{"type": "ping", "id": "\\udfff"}', "frame.id"),
        ('{"type": "subscribe", "thread_id": "t\\ud800"}', "frame.thread_id"),
        ('{"type": "subscribe", "thread_id": "t", "epoch": "\\udc00x"}', "frame.epoch"),
        ('{"type": "auth", "token": "\\udbff"}', "frame.token"),
        ('{"type": "ping", "\\udfff": 1}', "a key of frame"),
        ('{"type": "\\udfff"}', "frame.type"),
        ('["\\ud800"]', "frame[0]"),
    ],
)
def test_lone_surrogates_are_refused_in_every_string(text: str, where: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_client_frame(text)
    assert caught.value.code == ErrorCode.INVALID_FRAME.value
    assert where in str(caught.value)
    assert "lone surrogate" in str(caught.value)
    check_parse(text)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('{"type": "ping", "id": 9007199254740992}', "frame.id is out of range"),
        ('{"type": "ping", "id": -9007199254740992}', "frame.id is out of range"),
        ('{"type": "ping", "id": 100000000000000000000000000000000000000000}', "frame.id"),
        ('{"type": "subscribe", "thread_id": "t", "last_seq": 1e999}', "frame.last_seq is not"),
        ('{"type": "ping", "id": NaN}', "frame.id is not a number"),
        ('{"type": "ping", "x": [-Infinity]}', "frame.x[0] is not a number"),
    ],
)
def test_numbers_a_reply_could_not_carry_are_refused(text: str, where: str) -> None:
    with pytest.raises(ProtocolError, match=re.escape(where)) as caught:
        parse_client_frame(text)
    assert caught.value.code == ErrorCode.INVALID_FRAME.value


def test_the_largest_wire_integers_parse_and_echo() -> None:
    for value in (MAX_WIRE_INT, -MAX_WIRE_INT):
        frame = parse_client_frame(f'{{"type": "ping", "id": {value}}}')
        assert isinstance(frame, PingFrame)
        assert json.loads(encode_frame(PongFrame(id=frame.id)))["id"] == value
    frame = parse_client_frame(
        f'{{"type": "subscribe", "thread_id": "t", "last_seq": {MAX_WIRE_INT}}}'
    )
    assert isinstance(frame, SubscribeFrame)
    assert frame.last_seq == MAX_WIRE_INT


def test_control_characters_and_paired_surrogates_are_valid_text() -> None:
    frame = parse_client_frame('{"type": "ping", "id": "\\u0000\\u001b\\ud83d\\ude00"}')
    assert isinstance(frame, PingFrame)
    assert frame.id == "\x00\x1b\U0001f600"
    assert json.loads(encode_frame(PongFrame(id=frame.id)))["id"] == frame.id
