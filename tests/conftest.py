"""Shared fixtures of the test suite."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis_server import RedisServer


def _redis_server(directory: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is not installed; CI must run the Redis tests")
        pytest.skip("redis-server is not installed (CI installs it and fails without it)")
    server = RedisServer(directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A ``redis-server`` for this test session (each xdist worker starts its own).

    Tests share it: use a unique key prefix (``redis_prefix``) and never stop it; a test
    that stops or restarts Redis uses ``own_redis_server``.
    """
    yield from _redis_server(tmp_path_factory.mktemp("redis"))


@pytest.fixture
def own_redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A ``redis-server`` of this test alone, free to be stopped and restarted."""
    yield from _redis_server(tmp_path)


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix no other test uses, so tests share one Redis without interfering."""
    return f"test-{uuid.uuid4().hex[:12]}:"
