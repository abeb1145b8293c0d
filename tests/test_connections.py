"""The truthful connection manager: ``True`` only when a live connection took the message."""

from __future__ import annotations

import logging

import pytest

from reference_impl.connections import Connection, ConnectionManager, LocalConnection
from reference_impl.eventlog import LogHead

MESSAGE = {"type": "agent_started", "seq": 1}


@pytest.mark.asyncio
async def test_no_connection_is_false() -> None:
    manager = ConnectionManager()
    assert await manager.send_to_thread("t", MESSAGE) is False
    manager.add(LocalConnection("other"))
    assert await manager.send_to_thread("t", MESSAGE) is False


@pytest.mark.asyncio
async def test_live_connections_of_the_thread_take_it() -> None:
    manager = ConnectionManager()
    a, b, other = LocalConnection("t", "u1"), LocalConnection("t", "u2"), LocalConnection("x")
    for connection in (a, b, other):
        manager.add(connection)
    assert await manager.send_to_thread("t", MESSAGE) is True
    assert a.messages == [MESSAGE]
    assert b.messages == [MESSAGE]
    assert other.messages == []


@pytest.mark.asyncio
async def test_all_refusing_is_false_one_taking_is_true() -> None:
    manager = ConnectionManager()
    a, b = LocalConnection("t"), LocalConnection("t")
    manager.add(a)
    manager.add(b)
    a.close()
    b.close()
    assert await manager.send_to_thread("t", MESSAGE) is False
    c = LocalConnection("t")
    manager.add(c)
    assert await manager.send_to_thread("t", MESSAGE) is True
    assert c.messages == [MESSAGE]
    assert a.messages == []


@pytest.mark.asyncio
async def test_removed_connections_get_nothing() -> None:
    manager = ConnectionManager()
    a = LocalConnection("t", "u1")
    manager.add(a)
    manager.remove(a)
    manager.remove(a)  # no-op
    manager.remove(LocalConnection("never-added", None))
    assert await manager.send_to_thread("t", MESSAGE) is False
    assert a.messages == []
    assert manager.connections_for_thread("t") == []
    assert manager.connections_for_user("u1") == []


@pytest.mark.asyncio
async def test_a_raising_connection_does_not_stop_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken:
        thread_id = "t"
        user_id = "u"

        def deliver(self, message: dict[str, object]) -> bool:
            raise OSError("socket gone")

    manager = ConnectionManager()
    broken, good = Broken(), LocalConnection("t")
    manager.add(broken)
    manager.add(good)
    with caplog.at_level(logging.ERROR, logger="reference_impl.connections"):
        assert await manager.send_to_thread("t", MESSAGE) is True
    assert good.messages == [MESSAGE]
    assert "failed to take a message" in caplog.text
    assert manager.connections_for_thread("t") == [good]
    assert await manager.send_to_thread("t", MESSAGE) is True
    manager.remove(good)
    manager.add(broken)
    assert await manager.send_to_thread("t", MESSAGE) is False


@pytest.mark.asyncio
async def test_truthy_non_bool_answers_are_normalised() -> None:
    class Counts:
        thread_id = "t"
        user_id = None

        def deliver(self, message: dict[str, object]) -> int:
            return 1

    manager = ConnectionManager()
    manager.add(Counts())  # type: ignore[arg-type]
    assert await manager.send_to_thread("t", MESSAGE) is True


def test_per_thread_and_per_user_indexes() -> None:
    manager = ConnectionManager()
    a1 = LocalConnection("t1", "alice")
    a2 = LocalConnection("t2", "alice")
    b1 = LocalConnection("t1", "bob")
    anon = LocalConnection("t3")
    for connection in (a1, a2, b1, anon):
        manager.add(connection)
    manager.add(a1)  # adding twice does not duplicate
    assert manager.connections_for_thread("t1") == [a1, b1]
    assert manager.connections_for_user("alice") == [a1, a2]
    assert manager.connections_for_user("bob") == [b1]
    assert manager.connections_for_user("nobody") == []
    assert list(manager.all_connections()) == [a1, b1, a2, anon]
    manager.remove(a1)
    assert manager.connections_for_user("alice") == [a2]
    assert manager.connections_for_thread("t1") == [b1]
    assert isinstance(a1, Connection)


def test_local_connection() -> None:
    connection = LocalConnection("t", "u")
    assert connection.deliver(MESSAGE) is True
    connection.close()
    assert connection.closed
    assert connection.deliver(MESSAGE) is False
    assert connection.messages == [MESSAGE]


class _Following(LocalConnection):
    def __init__(self, thread_id: str, fails: bool = False) -> None:
        super().__init__(thread_id)
        self.heads: list[LogHead] = []
        self.fails = fails

    def check_head(self, head: LogHead) -> None:
        if self.fails:
            raise RuntimeError("broken")
        self.heads.append(head)


def test_check_head_reaches_the_connections_of_that_thread_that_follow_heads(
    caplog: pytest.LogCaptureFixture,
) -> None:
    manager = ConnectionManager()
    following, other, plain, broken = (
        _Following("t"),
        _Following("x"),
        LocalConnection("t"),
        _Following("t", fails=True),
    )
    for connection in (following, other, plain, broken):
        manager.add(connection)
    assert sorted(manager.threads()) == ["t", "x"]
    head = LogHead("t", "e2", 4)
    with caplog.at_level(logging.ERROR, logger="reference_impl.connections"):
        manager.check_head(head)
    assert (following.heads, other.heads) == ([head], [])
    assert broken not in manager.connections_for_thread("t")  # removed, the others served
    assert "failed to check its head" in caplog.text
    manager.remove(following)
    manager.remove(plain)
    assert manager.threads() == ["x"]
