"""``run_in_worker``: a coroutine on its own loop in a thread, abandoned when it blocks."""

from __future__ import annotations

import asyncio
import threading

import pytest

from pytest_wsbridge.worker import Finished, run_in_worker


def test_the_coroutine_runs_on_a_loop_of_its_own() -> None:
    async def main() -> int:
        await asyncio.sleep(0)
        return threading.get_ident()

    finished = run_in_worker(main, join_timeout=5.0, name="t")
    assert finished is not None
    assert isinstance(finished.value, int)
    assert finished.value != threading.get_ident()


def test_what_ends_the_loop_is_reported_not_raised() -> None:
    async def main() -> None:
        raise KeyError("boom")

    finished = run_in_worker(main, join_timeout=5.0, name="t")
    assert finished is not None
    assert finished.value is None
    assert isinstance(finished.error, KeyError)


def test_a_loop_blocked_by_a_synchronous_call_is_abandoned() -> None:
    release = threading.Event()

    async def main() -> None:
        release.wait(30)

    try:
        assert run_in_worker(main, join_timeout=0.2, name="t") is None
    finally:
        release.set()


@pytest.mark.asyncio
async def test_it_works_from_inside_a_running_loop_without_touching_it() -> None:
    async def main() -> str:
        return "done"

    finished = run_in_worker(main, join_timeout=5.0, name="t")
    assert finished == Finished(value="done")
