"""Protocol frames as data: parsing client frames, encoding server frames, close codes."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from reference_impl.exceptions import ProtocolError
from reference_impl.protocol import (
    CLOSE_CODES,
    CONTROL_FRAME_TYPES,
    RETRYABLE_CLOSE_CODES,
    AuthFrame,
    CloseCode,
    ErrorCode,
    PingFrame,
    ResyncRequiredFrame,
    SubscribedFrame,
    SubscribeFrame,
    UnsubscribeFrame,
    as_message_dict,
    encode_frame,
    encode_message,
    parse_client_frame,
)


def test_client_frames_parse_to_their_models() -> None:
    assert parse_client_frame('{"type": "auth", "token": "t"}') == AuthFrame(type="auth", token="t")
    frame = parse_client_frame(
        '{"type": "subscribe", "thread_id": "a", "last_seq": 0, "epoch": "e"}'
    )
    assert frame == SubscribeFrame(type="subscribe", thread_id="a", last_seq=0, epoch="e")
    assert parse_client_frame('{"type":"subscribe","thread_id":"a"}').last_seq is None  # type: ignore[union-attr]
    assert isinstance(
        parse_client_frame('{"type":"unsubscribe","thread_id":"a"}'), UnsubscribeFrame
    )
    assert parse_client_frame('{"type":"ping"}') == PingFrame(type="ping")


@pytest.mark.parametrize(
    ("data", "code", "says"),
    [
        (b"{}", ErrorCode.BINARY_FRAME, "binary"),
        ("{", ErrorCode.INVALID_JSON, "not JSON"),
        ('"text"', ErrorCode.INVALID_FRAME, "JSON object"),
        ("{}", ErrorCode.UNKNOWN_TYPE, "None"),
        ('{"type": "event"}', ErrorCode.UNKNOWN_TYPE, "'event'"),
        ('{"type": "subscribe"}', ErrorCode.INVALID_FRAME, "thread_id"),
        ('{"type": "subscribe", "thread_id": ""}', ErrorCode.INVALID_FRAME, "thread_id"),
        (
            '{"type": "subscribe", "thread_id": "a", "last_seq": 1.5}',
            ErrorCode.INVALID_FRAME,
            "last_seq",
        ),
        (
            '{"type": "subscribe", "thread_id": "a", "last_seq": true}',
            ErrorCode.INVALID_FRAME,
            "last_seq",
        ),
        ('{"type": "auth"}', ErrorCode.INVALID_FRAME, "token"),
        ('{"type": "ping", "id": [1]}', ErrorCode.INVALID_FRAME, "id"),
    ],
)
def test_bad_client_frames_raise_protocol_errors(
    data: str | bytes, code: ErrorCode, says: str
) -> None:
    with pytest.raises(ProtocolError, match=says) as caught:
        parse_client_frame(data)
    assert caught.value.code == code.value


def test_an_unknown_frame_type_is_named_cut_to_60_characters() -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_client_frame(json.dumps({"type": "x" * 200}))
    named = str(caught.value).split("unknown frame type ", 1)[1].split("; expected", 1)[0]
    assert named == repr("x" * 200)[:57] + "..."


def test_server_frames_encode_to_compact_json() -> None:
    text = encode_frame(SubscribedFrame(thread_id="a", epoch="e", head_seq=3, recovered=2))
    assert json.loads(text) == {
        "type": "subscribed",
        "thread_id": "a",
        "epoch": "e",
        "head_seq": 3,
        "recovered": 2,
    }
    assert (
        json.loads(encode_frame(ResyncRequiredFrame(thread_id="a", epoch="e", head_seq=1)))["type"]
        == "resync_required"
    )
    assert encode_message({"a": "é", "b": 1}) == '{"a":"é","b":1}'


def test_close_codes_are_documented_and_control_types_are_not_event_types() -> None:
    assert set(CLOSE_CODES) == set(CloseCode)
    assert all(CLOSE_CODES.values())
    assert set(CloseCode) >= RETRYABLE_CLOSE_CODES
    assert CloseCode.POLICY_VIOLATION not in RETRYABLE_CLOSE_CODES
    assert CloseCode.UNAUTHORIZED not in RETRYABLE_CLOSE_CODES
    from reference_impl.events import EVENTS

    # The table, not the EventType enum: a new row named like a control frame fails here too.
    assert EVENTS.types
    assert not CONTROL_FRAME_TYPES & set(EVENTS.types)


class _Model(BaseModel):
    seq: int


def test_messages_are_accepted_as_dicts_models_and_json() -> None:
    assert as_message_dict({"seq": 1}) == {"seq": 1}
    assert as_message_dict(_Model(seq=2)) == {"seq": 2}
    assert as_message_dict('{"seq": 3}') == {"seq": 3}
    assert as_message_dict(b'{"seq": 4}') == {"seq": 4}
    with pytest.raises(TypeError, match="int"):
        as_message_dict(5)
    with pytest.raises(TypeError, match="str"):
        as_message_dict("[1]")
