"""Run ids: exact round trip for any thread id, ``None`` for anything else, never a guess."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reference_impl.ids import (
    generate_run_id,
    is_standard_run_id,
    thread_id_from_run_id,
    validate_thread_id,
)

AWKWARD_THREAD_IDS = [
    "abc123",
    "thread_abc123",
    "thread_thread_x",
    "a_b_c",
    "_",
    "__",
    "ends_with_",
    "_starts",
    "has_run_inside",
    "x_run_1_abcdef01",
    "_run_",
    "thread_a_run_123_deadbeef",
    "ünïcødé_スレッド_🧵",
    "line\nbreak",
    "\n",
    " ",
    "tab\there",
    "1234567890",
    "deadbeef",
]


@pytest.mark.parametrize("thread_id", AWKWARD_THREAD_IDS)
def test_round_trip_is_exact(thread_id: str) -> None:
    run_id = generate_run_id(thread_id)
    assert thread_id_from_run_id(run_id) == thread_id
    assert is_standard_run_id(run_id)


@given(st.text(min_size=1))
def test_round_trip_property(thread_id: str) -> None:
    assert thread_id_from_run_id(generate_run_id(thread_id)) == thread_id


@given(st.text(min_size=1), st.integers(min_value=0, max_value=2**63))
def test_round_trip_property_with_fixed_time(thread_id: str, now_ms: int) -> None:
    run_id = generate_run_id(thread_id, now_ms=now_ms)
    assert run_id.startswith(f"thread_{thread_id}_run_{now_ms}_")
    assert thread_id_from_run_id(run_id) == thread_id


def test_format_is_the_contract() -> None:
    run_id = generate_run_id("abc", now_ms=1_700_000_000_123)
    assert re.fullmatch(r"thread_abc_run_1700000000123_[0-9a-f]{8}", run_id)


def test_default_timestamp_is_now_in_ms() -> None:
    run_id = generate_run_id("abc")
    ms = int(run_id.split("_run_")[1].split("_")[0])
    import time

    assert abs(ms - time.time() * 1000) < 60_000


def test_ids_are_unique() -> None:
    ids = {generate_run_id("t", now_ms=1) for _ in range(200)}
    assert len(ids) == 200


@pytest.mark.parametrize(
    "run_id",
    [
        "run_xyz789",
        "run_thread_abc_deadbeef",
        "run_abc_1234abcd",
        "thread_abc",
        "thread_abc_run_",
        "thread_abc_run_123",
        "thread_abc_run_123_",
        "thread_abc_run_123_deadbee",  # 7 hex
        "thread_abc_run_123_deadbeef0",  # 9 hex
        "thread_abc_run_123_DEADBEEF",  # upper case is not what we generate
        "thread_abc_run_123_deadbeeg",  # not hex
        "thread_abc_run_12a_deadbeef",  # non-digit timestamp
        "thread_abc_run_-1_deadbeef",
        "thread_abc_run_١٢٣_deadbeef",  # non-ASCII digits
        "thread__run_123_deadbeef",  # empty thread id
        "xthread_abc_run_123_deadbeef",
        "thread_abc_run_123_deadbeef\n",
        " thread_abc_run_123_deadbeef",
        "",
        "abc",
    ],
)
def test_foreign_or_malformed_run_ids_give_none(run_id: str) -> None:
    assert thread_id_from_run_id(run_id) is None
    assert not is_standard_run_id(run_id)


@pytest.mark.parametrize("run_id", [None, 123, b"thread_a_run_1_deadbeef", ["x"], 1.5])
def test_non_strings_give_none(run_id: object) -> None:
    assert thread_id_from_run_id(run_id) is None
    assert not is_standard_run_id(run_id)


def test_rightmost_suffix_wins() -> None:
    assert thread_id_from_run_id("thread_a_run_1_deadbeef_run_2_cafebabe") == ("a_run_1_deadbeef")


@pytest.mark.parametrize("bad", ["", None, 5, b"abc", ["a"]])
def test_bad_thread_id_is_a_clear_value_error(bad: object) -> None:
    with pytest.raises(ValueError, match="thread_id must be a non-empty str"):
        generate_run_id(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="thread_id must be a non-empty str"):
        validate_thread_id(bad)


def test_validate_returns_the_thread_id() -> None:
    assert validate_thread_id("t_1") == "t_1"


@pytest.mark.parametrize("now_ms", [-1, 1.5, "1", True])
def test_bad_now_ms_is_refused(now_ms: object) -> None:
    with pytest.raises(ValueError, match="now_ms"):
        generate_run_id("t", now_ms=now_ms)  # type: ignore[arg-type]
