"""The Redis wake-up codec: pure, no Redis needed.

A node turns each wake-up into the wire dict without pydantic; that dict must be the one
``EventMessage.to_dict()`` gives (same values, same key order), for any event the bridge can
store. Anything else on the channel is refused with ``ValueError``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reference_impl.backends.redis_codec import decode_wakeup
from reference_impl.events import EventDraft

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def wakeup_of(draft: EventDraft, seq: int, epoch: str) -> str:
    """A wake-up as append.lua publishes it (cjson: ``{t, e, s, d}``)."""
    return json.dumps({"t": draft.thread_id, "e": epoch, "s": seq, "d": draft.model_dump_json()})


@given(
    thread_id=st.text(min_size=1),
    payload=st.dictionaries(st.text(), json_values, max_size=5),
    seq=st.integers(min_value=1, max_value=2**53),
    epoch=st.text(min_size=1),
)
def test_a_wakeup_decodes_to_exactly_the_wire_dict_of_the_stored_event(
    thread_id: str, payload: dict[str, Any], seq: int, epoch: str
) -> None:
    draft = EventDraft.build(
        "custom", thread_id=thread_id, run_id="run-1", agent_name="agent", payload=payload
    )
    expected = draft.stamp(seq, epoch).to_dict()
    wakeup = decode_wakeup(wakeup_of(draft, seq, epoch))
    message = wakeup.message()
    assert message == expected
    assert list(message) == list(expected)  # the same JSON text once encoded
    assert wakeup.event().to_dict() == expected


@pytest.mark.parametrize(
    "data",
    [
        "{}",
        "[]",
        "not json",
        '{"t": "t", "e": "e", "s": "1", "d": "{}"}',  # seq must be an int
        '{"t": "t", "e": "e", "s": 0, "d": "{}"}',
        '{"t": "t", "e": "", "s": 1, "d": "{}"}',
        '{"t": "t", "e": "e", "s": true, "d": "{}"}',
        '{"t": 1, "e": "e", "s": 1, "d": "{}"}',
        '{"t": "t", "e": "e", "s": 1, "d": {}}',
    ],
)
def test_what_is_not_a_wakeup_is_refused(data: str) -> None:
    with pytest.raises(ValueError, match="not a wsbridge wake-up"):
        decode_wakeup(data)


def test_a_wakeup_whose_event_is_not_a_stored_event_is_refused() -> None:
    draft = EventDraft.build("custom", thread_id="t", run_id="r", agent_name="a", payload={})
    good = json.loads(draft.model_dump_json())
    for event, why in (
        ("[]", "not a stored event"),
        (json.dumps({**good, "extra": 1}), "not a stored event"),
        (json.dumps({k: v for k, v in good.items() if k != "payload"}), "not a stored event"),
        (json.dumps({**good, "thread_id": "other"}), "for another thread"),
    ):
        wakeup = decode_wakeup(json.dumps({"t": "t", "e": "e", "s": 1, "d": event}))
        with pytest.raises(ValueError, match=why):
            wakeup.message()
    with pytest.raises(ValueError, match="not a stored event"):
        decode_wakeup(json.dumps({"t": "t", "e": "e", "s": 1, "d": "{"})).message()
