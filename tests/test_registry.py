"""The thread registry: many runs per thread, TTL, count cap, reasons, conflicts."""

from __future__ import annotations

import pytest

from reference_impl.exceptions import RegistryConflictError
from reference_impl.registry import Lookup, LookupMiss, ThreadRegistry


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def registry(clock: Clock) -> ThreadRegistry:
    return ThreadRegistry(ttl=60, max_runs=5, clock=clock)


def test_register_and_get(registry: ThreadRegistry) -> None:
    registry.register("r1", "t_1")
    found = registry.get_thread("r1")
    assert found == Lookup("r1", "t_1")
    assert found
    assert found.miss is None


def test_many_runs_per_thread(registry: ThreadRegistry) -> None:
    for run in ("r1", "r2", "r3"):
        registry.register(run, "t")
    registry.register("other", "u")
    assert registry.runs_for_thread("t") == ["r1", "r2", "r3"]
    assert registry.runs_for_thread("u") == ["other"]
    assert registry.runs_for_thread("nobody") == []
    assert len(registry) == 4


def test_re_registering_to_the_same_thread_is_idempotent(registry: ThreadRegistry) -> None:
    registry.register("r1", "t")
    registry.register("r2", "t")
    registry.register("r1", "t")
    assert registry.runs_for_thread("t") == ["r2", "r1"]
    assert len(registry) == 2


def test_conflict_on_a_second_thread(registry: ThreadRegistry) -> None:
    registry.register("r1", "t")
    with pytest.raises(RegistryConflictError) as caught:
        registry.register("r1", "u")
    assert caught.value.run_id == "r1"
    assert caught.value.registered_thread_id == "t"
    assert caught.value.requested_thread_id == "u"
    assert isinstance(caught.value, ValueError)
    assert registry.get_thread("r1").thread_id == "t"
    assert registry.runs_for_thread("u") == []


def test_miss_reasons(registry: ThreadRegistry, clock: Clock) -> None:
    never = registry.get_thread("ghost")
    assert not never
    assert never.thread_id is None
    assert never.miss is LookupMiss.NEVER_REGISTERED

    registry.register("gone", "t")
    assert registry.unregister("gone") is True
    assert registry.unregister("gone") is False
    assert registry.get_thread("gone").miss is LookupMiss.UNREGISTERED
    assert registry.runs_for_thread("t") == []

    registry.register("old", "t")
    clock.now += 61
    assert registry.get_thread("old").miss is LookupMiss.EXPIRED


def test_ttl(registry: ThreadRegistry, clock: Clock) -> None:
    registry.register("r1", "t")
    clock.now += 30
    registry.register("r2", "t")
    clock.now += 29.9
    assert registry.get_thread("r1")
    clock.now += 0.2
    assert not registry.get_thread("r1")
    assert registry.get_thread("r2")
    assert registry.runs_for_thread("t") == ["r2"]
    clock.now += 31
    assert registry.runs_for_thread("t") == []
    assert len(registry) == 0


def test_touch_and_re_register_refresh_the_ttl(registry: ThreadRegistry, clock: Clock) -> None:
    registry.register("r1", "t")
    registry.register("r2", "t")
    clock.now += 50
    assert registry.touch("r1") is True
    registry.register("r2", "t")
    clock.now += 50
    assert registry.get_thread("r1").thread_id == "t"
    assert registry.get_thread("r2").thread_id == "t"
    assert registry.touch("ghost") is False


def test_expired_run_can_be_registered_to_another_thread(
    registry: ThreadRegistry, clock: Clock
) -> None:
    registry.register("r1", "t")
    clock.now += 61
    registry.register("r1", "u")
    assert registry.get_thread("r1").thread_id == "u"
    assert registry.runs_for_thread("t") == []


def test_count_cap_evicts_oldest_first(registry: ThreadRegistry) -> None:
    for n in range(5):
        registry.register(f"r{n}", "t" if n % 2 else "u")
    registry.touch("r0")
    registry.register("r5", "t")
    registry.register("r6", "t")
    assert len(registry) == 5
    assert registry.get_thread("r1").miss is LookupMiss.EVICTED
    assert registry.get_thread("r2").miss is LookupMiss.EVICTED
    assert registry.get_thread("r0")
    assert registry.runs_for_thread("t") == ["r3", "r5", "r6"]
    assert registry.runs_for_thread("u") == ["r4", "r0"]


def test_reregistering_clears_the_miss_reason(registry: ThreadRegistry) -> None:
    registry.register("r1", "t")
    registry.unregister("r1")
    registry.register("r1", "t")
    assert registry.get_thread("r1").thread_id == "t"


def test_forgotten_reasons_are_bounded(clock: Clock) -> None:
    registry = ThreadRegistry(ttl=60, max_runs=1, clock=clock, forget_limit=2)
    for n in range(4):
        registry.register(f"r{n}", "t")
    assert registry.get_thread("r0").miss is LookupMiss.NEVER_REGISTERED
    assert registry.get_thread("r1").miss is LookupMiss.EVICTED
    assert registry.get_thread("r2").miss is LookupMiss.EVICTED


@pytest.mark.parametrize("run_id", ["", None, 5])
def test_bad_run_ids(registry: ThreadRegistry, run_id: object) -> None:
    with pytest.raises(ValueError, match="run_id must be a non-empty str"):
        registry.register(run_id, "t")  # type: ignore[arg-type]


@pytest.mark.parametrize("thread_id", ["", None, 5])
def test_bad_thread_ids(registry: ThreadRegistry, thread_id: object) -> None:
    with pytest.raises(ValueError, match="thread_id must be a non-empty str"):
        registry.register("r1", thread_id)  # type: ignore[arg-type]
    assert len(registry) == 0


@pytest.mark.parametrize("kwargs", [{"ttl": 0}, {"ttl": -1}, {"max_runs": 0}, {"forget_limit": -1}])
def test_bad_bounds(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        ThreadRegistry(**kwargs)  # type: ignore[arg-type]


def test_default_clock_works() -> None:
    registry = ThreadRegistry()
    registry.register("r", "t")
    assert registry.get_thread("r").thread_id == "t"
