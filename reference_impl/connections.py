"""The truthful connection manager: ``send_to_thread`` is ``True`` only if someone took it.

A connection is anything with ``thread_id``, ``user_id`` and a non-blocking ``deliver(message)
-> bool``. Delivery never awaits a peer, so one slow connection cannot stall the fan-out to
the others; a connection that cannot keep up refuses (returns ``False``) and closes itself.
A connection that also has ``check_head(head)`` (:class:`FollowsHead`) can be told where its
thread's log stands when the live stream may have lost events (a node back on Redis).

A connection may also name a ``batch`` (a :class:`DeliversMany`): the connections of one thread
that share a batch are offered each message in one ``deliver_many`` call, so the batch can
encode the message once and write it to all of them at once (the reference server's
thread-level broadcast, :meth:`reference_impl.session.SessionHub.deliver_many`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

from .eventlog import LogHead
from .events import Message

__all__ = [
    "Connection",
    "ConnectionManager",
    "DeliversMany",
    "FollowsHead",
    "LocalConnection",
    "SendsToThread",
]

logger = logging.getLogger("reference_impl.connections")


class SendsToThread(Protocol):
    """The connection-manager contract: ``True`` only if a live connection took the message."""

    async def send_to_thread(self, thread_id: str, message: Message) -> bool: ...


@runtime_checkable
class Connection(Protocol):
    """One subscriber of one thread."""

    thread_id: str
    user_id: str | None

    def deliver(self, message: Message) -> bool:
        """Take ``message`` for sending, without waiting; ``False`` if it was not taken."""
        ...


@runtime_checkable
class FollowsHead(Protocol):
    """A connection that can catch up to its thread's log by itself."""

    def check_head(self, head: LogHead) -> None:
        """The thread's log stands at ``head``: fill the gap up to it, or resync if ``head``
        is of another epoch. Without waiting; the work it starts runs in the background."""
        ...


@runtime_checkable
class DeliversMany(Protocol):
    """What the ``batch`` of several connections offers: one call for all of them."""

    def deliver_many(self, connections: Sequence[Any], message: Message) -> bool:
        """Offer ``message`` to each of ``connections`` (all of this batch, one thread);
        ``True`` if at least one took it. Never waits, like ``deliver``."""
        ...


class _Plan:
    """How one thread's connections are offered a message: the batches, then the rest."""

    __slots__ = ("batches", "single")

    def __init__(self, connections: Iterable[Connection]) -> None:
        batches: dict[int, tuple[DeliversMany, list[Connection]]] = {}
        self.single: list[Connection] = []
        for connection in connections:
            batch = getattr(connection, "batch", None)
            if isinstance(batch, DeliversMany):
                batches.setdefault(id(batch), (batch, []))[1].append(connection)
            else:
                self.single.append(connection)
        self.batches = list(batches.values())


class ConnectionManager:
    """Connections by thread and by user, and the truthful ``send_to_thread``."""

    def __init__(self) -> None:
        self._by_thread: dict[str, dict[int, Connection]] = {}
        self._by_user: dict[str, dict[int, Connection]] = {}
        self._plans: dict[str, _Plan] = {}

    def add(self, connection: Connection) -> None:
        """Start routing the thread's messages to ``connection``."""
        self._by_thread.setdefault(connection.thread_id, {})[id(connection)] = connection
        self._plans.pop(connection.thread_id, None)
        if connection.user_id is not None:
            self._by_user.setdefault(connection.user_id, {})[id(connection)] = connection

    def remove(self, connection: Connection) -> None:
        """Stop routing to ``connection``; removing an unknown connection is a no-op."""
        self._plans.pop(connection.thread_id, None)
        for index, key in (
            (self._by_thread, connection.thread_id),
            (self._by_user, connection.user_id),
        ):
            if key is None:
                continue
            bucket = index.get(key)
            if bucket is not None:
                bucket.pop(id(connection), None)
                if not bucket:
                    del index[key]

    def connections_for_thread(self, thread_id: str) -> list[Connection]:
        """Return the live connections subscribed to ``thread_id``."""
        return list(self._by_thread.get(thread_id, {}).values())

    def connections_for_user(self, user_id: str) -> list[Connection]:
        """Return the live connections of ``user_id``, over all their threads."""
        return list(self._by_user.get(user_id, {}).values())

    def threads(self) -> list[str]:
        """Return the threads that have at least one live connection."""
        return list(self._by_thread)

    def check_head(self, head: LogHead) -> None:
        """Tell each connection of ``head.thread_id`` that can follow it where the log stands.

        A connection whose ``check_head`` raises is removed, as in :meth:`send_to_thread`.
        """
        for connection in self.connections_for_thread(head.thread_id):
            if not isinstance(connection, FollowsHead):
                continue
            try:
                connection.check_head(head)
            except Exception:
                logger.exception("connection of thread %r failed to check its head", head.thread_id)
                self.remove(connection)

    def all_connections(self) -> Iterable[Connection]:
        """Return every live connection."""
        return [conn for bucket in self._by_thread.values() for conn in bucket.values()]

    async def send_to_thread(self, thread_id: str, message: Message) -> bool:
        """Offer ``message`` to every connection of the thread; ``True`` if any took it.

        A connection whose ``deliver`` raises counts as refusing and is removed (a batch whose
        ``deliver_many`` raises: all of its connections); the others still get the message.
        """
        plan = self._plans.get(thread_id)
        if plan is None:
            bucket = self._by_thread.get(thread_id)
            if not bucket:
                return False
            plan = self._plans[thread_id] = _Plan(bucket.values())
        taken = False
        for batch, members in plan.batches:
            try:
                accepted = batch.deliver_many(members, message)
            except Exception:
                logger.exception("connections of thread %r failed to take a message", thread_id)
                for connection in members:
                    self.remove(connection)
                continue
            taken = bool(accepted) or taken
        for connection in plan.single:
            try:
                accepted = connection.deliver(message)
            except Exception:
                logger.exception("connection of thread %r failed to take a message", thread_id)
                self.remove(connection)
                continue
            taken = bool(accepted) or taken
        return taken


class LocalConnection:
    """An in-process subscriber that keeps what it receives; for embedding and tests."""

    def __init__(self, thread_id: str, user_id: str | None = None) -> None:
        self.thread_id = thread_id
        self.user_id = user_id
        self.messages: list[Message] = []
        self.closed = False

    def deliver(self, message: Message) -> bool:
        if self.closed:
            return False
        self.messages.append(message)
        return True

    def close(self) -> None:
        """Refuse every later message."""
        self.closed = True
