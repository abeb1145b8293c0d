"""Fixtures of the outside-in end-to-end tests: ``wsbridge serve`` subprocesses, cleaned up.

See ``e2e_support``: the client side shares no code with the server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from e2e_support import Served


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    """``serve(*options, port=0)`` starts ``wsbridge serve`` and returns it once it listens.

    Every process started is stopped at teardown (SIGTERM, then SIGKILL after the bound); a
    process that printed a traceback fails the test.
    """
    started: list[Served] = []

    def start(*options: str, port: int = 0) -> Served:
        served = Served(*options, port=port)
        started.append(served)
        return served.start()

    yield start
    for served in started:
        if served.running:
            served.stop()
    for served in started:
        assert served.tracebacks() == [], "\n".join(served.errors)
