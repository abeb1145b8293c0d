"""The per-thread event log: contiguous seq, epochs, bounds, and never a silent gap."""

from __future__ import annotations

import gc

import pytest

from reference_impl.eventlog import EventLog, LogHead, new_epoch
from reference_impl.events import EventDraft
from reference_impl.exceptions import InvalidResumePoint, ResyncRequired


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def draft(thread_id: str = "t", text: str = "x") -> EventDraft:
    return EventDraft.build(
        "agent_thinking",
        thread_id=thread_id,
        run_id="r",
        agent_name="a",
        payload={"reasoning": text},
    )


def seqs(events: list) -> list[int]:  # type: ignore[type-arg]
    return [e.seq for e in events]


def test_seq_is_contiguous_from_one_per_thread() -> None:
    log = EventLog()
    assert [log.append(draft("a")).seq for _ in range(3)] == [1, 2, 3]
    assert [log.append(draft("b")).seq for _ in range(2)] == [1, 2]
    assert log.append(draft("a")).seq == 4
    assert log.head("a").head_seq == 4
    assert log.head("b").head_seq == 2


def test_each_thread_has_its_own_stable_epoch() -> None:
    log = EventLog()
    first = log.append(draft("a"))
    second = log.append(draft("a"))
    other = log.append(draft("b"))
    assert first.epoch == second.epoch == log.head("a").epoch
    assert other.epoch != first.epoch
    assert EventLog().head("a").epoch != first.epoch  # a new process: a new epoch


def test_head_of_an_empty_thread() -> None:
    log = EventLog()
    head = log.head("t")
    assert head == LogHead("t", head.epoch, 0)
    assert log.read_after("t", 0) == []
    assert log.read_after("t", 0, head.epoch) == []
    assert log.append(draft()).epoch == head.epoch


def test_read_after_returns_every_later_event_in_order() -> None:
    log = EventLog()
    appended = [log.append(draft(text=str(n))) for n in range(5)]
    assert log.read_after("t", 0) == appended
    assert seqs(log.read_after("t", 2)) == [3, 4, 5]
    assert log.read_after("t", 5) == []
    assert [e.payload["reasoning"] for e in log.read_after("t", 3)] == ["3", "4"]
    assert seqs(log.read_after("t", 1, appended[0].epoch)) == [2, 3, 4, 5]


def test_beyond_the_head_is_an_invalid_resume_point() -> None:
    log = EventLog()
    log.append(draft())
    with pytest.raises(InvalidResumePoint) as caught:
        log.read_after("t", 2)
    assert (caught.value.last_seq, caught.value.head_seq) == (2, 1)
    assert isinstance(caught.value, ValueError)
    with pytest.raises(InvalidResumePoint):
        log.read_after("t", 2, log.head("t").epoch)


@pytest.mark.parametrize("bad", [-1, 1.0, "1", None, True])
def test_bad_after_seq(bad: object) -> None:
    with pytest.raises(ValueError, match="after_seq must be an int >= 0"):
        EventLog().read_after("t", bad)  # type: ignore[arg-type]


def test_other_epoch_requires_a_resync() -> None:
    log = EventLog()
    log.append(draft())
    log.append(draft())
    head = log.head("t")
    with pytest.raises(ResyncRequired) as caught:
        log.read_after("t", 1, "some-old-epoch")
    assert caught.value.epoch == head.epoch
    assert caught.value.head_seq == 2
    assert caught.value.thread_id == "t"
    assert "epoch" in caught.value.reason
    with pytest.raises(ResyncRequired):
        log.read_after("t", 5, "some-old-epoch")  # the epoch is judged before the seq


def test_count_bound_trims_and_then_requires_a_resync() -> None:
    log = EventLog(max_events_per_thread=3)
    for _ in range(5):
        log.append(draft())
    assert seqs(log.read_after("t", 2)) == [3, 4, 5]
    with pytest.raises(ResyncRequired) as caught:
        log.read_after("t", 1)
    assert caught.value.head_seq == 5
    assert caught.value.epoch == log.head("t").epoch
    assert "trimmed" in caught.value.reason
    with pytest.raises(ResyncRequired):
        log.read_after("t", 0)


def test_age_bound() -> None:
    clock = Clock()
    log = EventLog(max_age=10, clock=clock)
    log.append(draft())
    clock.now = 5
    log.append(draft())
    clock.now = 10.5
    assert seqs(log.read_after("t", 1)) == [2]
    with pytest.raises(ResyncRequired):
        log.read_after("t", 0)
    clock.now = 100
    assert log.read_after("t", 2) == []  # nothing missed, nothing kept: no resync
    with pytest.raises(ResyncRequired) as caught:
        log.read_after("t", 1)
    assert caught.value.head_seq == 2
    assert log.append(draft()).seq == 3  # numbering continues after expiry


def test_appending_drops_expired_events_too() -> None:
    clock = Clock()
    log = EventLog(max_age=10, clock=clock)
    for _ in range(100):
        log.append(draft())
    clock.now = 50
    log.append(draft())
    assert len(log._threads["t"].texts) == len(log._threads["t"].times) == 1


def test_thread_cap_evicts_least_recently_used_and_starts_a_new_epoch() -> None:
    log = EventLog(max_threads=2)
    old_epoch = log.append(draft("a")).epoch
    log.append(draft("b"))
    log.append(draft("a"))  # a is now the most recent
    log.append(draft("c"))  # evicts b
    assert log.head("a").head_seq == 2  # a kept its history and its epoch
    assert log.head("a").epoch == old_epoch
    b = log.head("b")  # b was evicted: an empty log in a new epoch
    assert b.head_seq == 0
    assert b.epoch not in (old_epoch, log.head("c").epoch)


def test_resume_of_an_evicted_thread_requires_a_resync() -> None:
    log = EventLog(max_threads=1)
    first = log.append(draft("a"))
    log.append(draft("b"))
    with pytest.raises(ResyncRequired) as caught:
        log.read_after("a", 1, first.epoch)
    assert caught.value.head_seq == 0
    assert caught.value.epoch != first.epoch


@pytest.mark.parametrize(
    "kwargs", [{"max_events_per_thread": 0}, {"max_age": 0}, {"max_threads": -1}]
)
def test_bad_bounds(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        EventLog(**kwargs)  # type: ignore[arg-type]


def test_epochs_are_unique() -> None:
    assert len({new_epoch() for _ in range(100)}) == 100


def test_kept_events_come_back_equal_and_cost_the_collector_nothing() -> None:
    log = EventLog()
    stored = [log.append(draft()) for _ in range(3)]
    assert log.read_after("t", 0) == stored
    kept = log._threads["t"]
    # Wire text and append times only: nothing the garbage collector has to scan per event.
    assert not any(gc.is_tracked(item) for item in (*kept.texts, *kept.times))
