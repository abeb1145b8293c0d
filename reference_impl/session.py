"""One client's session of the bridge protocol, over any text transport.

:class:`SessionHub` holds what every session shares (bridge, connection manager, history,
authentication, limits); :meth:`SessionHub.serve` runs one :class:`Session` over a
:class:`Transport` — ``send_text``, ``receive`` and ``close(code, reason)`` — so the websockets
server (:mod:`reference_impl.server`) and, say, a Starlette route are thin adapters.

A session authenticates (header token or a first ``auth`` frame), then handles ``subscribe``,
``unsubscribe`` and ``ping``. Each subscription is a connection of the connection manager whose
non-blocking ``deliver`` passes events through a :class:`~reference_impl.subscription.SeqGate`
into the session's bounded send queue (or straight to the socket when nothing is queued); a
writer task, started when something is queued and gone when the queue is empty, sends it. A
client that lets the queue overflow is closed with :attr:`CloseCode.SLOW_CONSUMER` and resumes.

Thread-level broadcast: every subscriber names the hub as its ``batch``, so the connection
manager offers each event to all of a thread's subscribers in one
:meth:`SessionHub.deliver_many` call. Subscribers in steady state (gate at the event's previous
seq, nothing queued, transport open and not backed up) get the event encoded once and written
with one call to every one of them (:class:`WritesMany`; the websockets server serializes the
frame once, too); the others (replaying, holding a gap, backed up) take the per-connection
:meth:`ThreadSubscriber.deliver` path. Both paths advance the same gate, so a subscriber moves
between them without a gap or a duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections import deque
from collections.abc import Coroutine, Sequence
from enum import Enum
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel

from .auth import (
    Authenticator,
    Authorizer,
    ReportsChanges,
    allow_all,
    authenticate,
    is_authorized,
)
from .connections import ConnectionManager
from .dialects import DIALECTS, EncodeOnce
from .eventlog import LogHead
from .events import Message
from .exceptions import (
    BackendUnavailableError,
    GateOverflow,
    InvalidResumePoint,
    ProtocolError,
    ResyncRequired,
)
from .history import History, history_for
from .metrics import BridgeMetrics
from .protocol import (
    AuthenticatedFrame,
    AuthFrame,
    CloseCode,
    ErrorCode,
    ErrorFrame,
    PingFrame,
    PongFrame,
    ResyncRequiredFrame,
    RunAcceptedFrame,
    RunFrame,
    SubscribedFrame,
    SubscribeFrame,
    UnsubscribedFrame,
    UnsubscribeFrame,
    as_message_dict,
    encode_frame,
    encode_message,
    parse_client_frame,
)
from .subscription import SeqGate, Step

__all__ = [
    "ANONYMOUS",
    "RunStarter",
    "Session",
    "SessionHub",
    "SessionState",
    "ThreadSubscriber",
    "Transport",
    "WritesMany",
    "WritesNow",
]

logger = logging.getLogger("reference_impl.session")


#: The user id of every session of a hub without an authenticator.
ANONYMOUS = "anonymous"

_GAP_FETCHES = 3

NATIVE_DIALECT = "native"


class SessionState(Enum):
    """Where a :class:`Session` is; it only moves forward, in this order.

    ``AUTHENTICATING``: waiting for a valid token. ``OPEN``: serving frames and events.
    ``CLOSING``: a close code is chosen (``Session.close_code``); no more events are taken and
    no more frames read, what is queued (with a last ``error`` frame, if any) drains, then the
    connection is closed. ``CLOSED``: the connection has ended.
    """

    AUTHENTICATING = "authenticating"
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


class Transport(Protocol):
    """What a session needs from a WebSocket connection."""

    async def send_text(self, text: str) -> None:
        """Send one text frame (raise when the connection is gone)."""

    async def receive(self) -> str | bytes | None:
        """Return the next frame's data, or ``None`` once the connection is closed."""
        ...

    async def close(self, code: int, reason: str) -> None:
        """Close the connection with ``code``."""


class RunStarter(Protocol):
    """What a hub needs to start AG-UI runs (``run`` frames): e.g. an
    :class:`~reference_impl.agui.relay.AguiRelay`."""

    async def start_run(self, run_input: dict[str, Any]) -> str:
        """Start the run in the background and return its ``runId``; raise
        :class:`~reference_impl.exceptions.ProtocolError` (``code``: an :class:`ErrorCode`
        value) for input it refuses, before any event is stored."""
        ...


@runtime_checkable
class WritesNow(Protocol):
    """Optional fast path of a :class:`Transport`.

    ``send_now(text)`` writes one text frame at once, without awaiting, and returns ``True``;
    it returns ``False`` (writing nothing) when the connection is not open or its write buffer
    is above the high-water mark, and the session then awaits ``send_text`` instead. A session
    uses it only when nothing is queued before the frame, so order is kept.
    """

    def send_now(self, text: str) -> bool: ...


@runtime_checkable
class WritesMany(Protocol):
    """Optional group fast path of a :class:`Transport`: one write call for many connections.

    ``ready_now()`` says a write now would be taken at once (open, write buffer below its
    high-water mark). ``write_many(transports, text)``, called on one of ``transports`` (all of
    its class), writes ``text`` to each of them without awaiting and returns those whose write
    may have failed; the hub closes their sessions, whose clients then resume.
    """

    def ready_now(self) -> bool: ...

    def write_many(self, transports: Sequence[Any], text: str) -> Sequence[Any]: ...


class _EncodeOnce:
    """JSON text of the message fanned out last: one encoding per fan-out, not per connection.

    Calling it gives the native text; :meth:`frames` gives a dialect's frames (the AG-UI
    dialect may make several of one event), also encoded once per event per dialect.
    """

    def __init__(self) -> None:
        self._last: tuple[Message, str] | None = None
        self._dialects = EncodeOnce()

    def __call__(self, message: Message) -> str:
        last = self._last
        if last is not None and last[0] is message:
            return last[1]
        text = encode_message(message)
        self._last = (message, text)
        return text

    def frames(self, message: Message, dialect: str) -> tuple[str, ...]:
        """Return the frames of ``message`` in ``dialect``, one JSON text each."""
        if dialect == NATIVE_DIALECT:
            return (self(message),)
        return self._dialects(message, dialect)


class SessionHub:
    """The state every session of one server shares."""

    def __init__(
        self,
        bridge: object,
        connection_manager: ConnectionManager | None = None,
        *,
        authenticator: Authenticator | None = None,
        authorizer: Authorizer = allow_all,
        history: History | None = None,
        max_queue: int = 1000,
        auth_timeout: float = 10.0,
        drain_timeout: float = 2.0,
        relay: RunStarter | None = None,
    ) -> None:
        if connection_manager is None:
            connection_manager = getattr(bridge, "connection_manager", None)
        if not isinstance(connection_manager, ConnectionManager):
            raise TypeError(
                "connection_manager must be the reference_impl.ConnectionManager the bridge "
                "sends to (build the bridge with it)"
            )
        if max_queue < 1:
            raise ValueError("max_queue must be >= 1")
        self.bridge = bridge
        self.connection_manager = connection_manager
        self.authenticator = authenticator
        self.authorizer = authorizer
        self.history: History = history if history is not None else history_for(bridge)
        metrics = getattr(bridge, "metrics", None)
        self.metrics: BridgeMetrics = (
            metrics if isinstance(metrics, BridgeMetrics) else BridgeMetrics()
        )
        self.max_queue = max_queue
        self.auth_timeout = auth_timeout
        self.drain_timeout = drain_timeout
        self.sessions: set[Session] = set()
        self.encode = _EncodeOnce()
        #: Starts the runs of ``run`` frames (``None``: they are refused with ``no_upstream``).
        self.relay = relay
        self._rechecks: set[asyncio.Task[None]] = set()
        if isinstance(authorizer, ReportsChanges):
            authorizer.on_change(self.recheck)

    def recheck(self, thread_id: str) -> int:
        """Re-decide every live subscription of ``thread_id``; close the refused ones (1008).

        Call it when the authorizer's answer for the thread may have changed (an authorizer
        that :class:`~reference_impl.auth.ReportsChanges` makes the hub call it). A synchronous
        answer takes effect before this returns: a refused subscription gets no event sent
        after that. An asynchronous answer is awaited in a task; until it comes the
        subscription goes on. Returns how many subscriptions were refused at once.
        """
        refused = 0
        pending: list[tuple[Session, ThreadSubscriber, Any]] = []
        for connection in self.connection_manager.connections_for_thread(thread_id):
            if not isinstance(connection, ThreadSubscriber) or connection.session.hub is not self:
                continue
            subscriber, session = connection, connection.session
            answer = self.authorizer(subscriber.user_id or ANONYMOUS, thread_id)
            if inspect.isawaitable(answer):
                pending.append((session, subscriber, answer))
            elif answer is not True:
                session.revoke(subscriber)
                refused += 1
        if pending:
            task = asyncio.ensure_future(self._recheck_later(thread_id, pending))
            self._rechecks.add(task)
            task.add_done_callback(self._rechecks.discard)
        return refused

    async def _recheck_later(
        self, thread_id: str, pending: list[tuple[Session, ThreadSubscriber, Any]]
    ) -> None:
        for session, subscriber, answer in pending:
            try:
                allowed = (await answer) is True
            except Exception as exc:
                logger.warning("authorizer failed re-checking thread %r: %r", thread_id, exc)
                allowed = False
            if not allowed and session.subscriptions.get(thread_id) is subscriber:
                session.revoke(subscriber)

    def deliver_many(self, connections: Sequence[Any], message: object) -> bool:
        """Offer one live event to several subscribers of one thread (the thread broadcast).

        Each subscriber in steady state takes the event through its gate here and gets it in
        one :meth:`WritesMany.write_many` per dialect and transport class, per frame, encoded
        once per dialect; every other subscriber takes the per-connection
        :meth:`ThreadSubscriber.deliver`. ``True`` if at least one took it.
        """
        try:
            event = as_message_dict(message)
        except TypeError as exc:
            logger.error("thread %r: %s", getattr(connections[0], "thread_id", "?"), exc)
            return False
        taken = False
        groups: dict[tuple[str, type], tuple[str, list[Any], list[Session]]] | None = None
        for subscriber in connections:
            # An active subscriber's session is OPEN (closing a session drops its subscribers
            # first), so the checks below are all the steady state needs.
            session: Session = subscriber.session
            transport = session._writes_many
            if (
                subscriber.active
                and session._writer is None
                and transport is not None
                and transport.ready_now()
                and subscriber.gate.take_next(event)
            ):
                key = (subscriber.dialect, type(transport))
                if groups is None:
                    groups = {}
                group = groups.get(key)
                if group is None:
                    group = groups[key] = (subscriber.dialect, [], [])
                group[1].append(transport)
                group[2].append(session)
            elif subscriber.deliver(event):
                taken = True
        if groups is None:
            return taken
        for dialect, transports, sessions in groups.values():
            texts = self.encode.frames(event, dialect)
            for text in texts:
                failed = transports[0].write_many(transports, text)
                if failed:
                    by_transport = {id(t): s for t, s in zip(transports, sessions, strict=True)}
                    for transport in failed:
                        by_transport[id(transport)].write_failed()
                    transports = [t for t in transports if not by_transport[id(t)].closed]
                    sessions = [by_transport[id(t)] for t in transports]
                    if not transports:
                        break
            if transports:
                taken = True
        return taken

    def serve(
        self, transport: Transport, *, token: str | None = None, peer: str = ""
    ) -> Coroutine[Any, Any, Session]:
        """Run one session until its connection closes; return it (for its ``close_code``).

        ``await hub.serve(transport)``: the coroutine is the session's own, one frame less
        per idle connection than a coroutine awaiting it.
        """
        return Session(self, transport, peer=peer).run(token)

    async def close_all(
        self, code: int = CloseCode.GOING_AWAY, reason: str = "server shutting down"
    ) -> None:
        """Close every session with ``code``."""
        await asyncio.gather(
            *(session.close(code, reason) for session in list(self.sessions)),
            return_exceptions=True,
        )


class ThreadSubscriber:
    """One thread subscription of a session: a connection of the connection manager."""

    def __init__(
        self, session: Session, thread_id: str, gate: SeqGate, dialect: str = NATIVE_DIALECT
    ) -> None:
        self.session = session
        self.thread_id = thread_id
        #: How this subscriber's events are written (the subscribe frame's ``dialect``).
        self.dialect = dialect
        self.user_id: str | None = session.user_id
        self.gate = gate
        self.active = True
        #: The connection manager offers events to all of a thread's subscribers of one hub in
        #: one :meth:`SessionHub.deliver_many` call (see :mod:`reference_impl.connections`).
        self.batch = session.hub

    def deliver(self, message: object) -> bool:
        """Take a live event without waiting; ``False`` if this subscriber cannot."""
        if not self.active or self.session.closed:
            return False
        try:
            event = as_message_dict(message)
            if self.gate.take_next(event):
                return self.session.send_live(event, self.dialect)
            step = self.gate.push(event)
        except TypeError as exc:
            logger.error("thread %r: %s", self.thread_id, exc)
            return False
        except GateOverflow as exc:
            self.session.overflow(str(exc))
            return False
        return self.session.apply(self, step, cause=event)

    def check_head(self, head: LogHead) -> None:
        """Catch up to ``head`` now (fill the gap from the log, or resync on another epoch);
        see :meth:`~reference_impl.subscription.SeqGate.check_head`."""
        if not self.active or self.session.closed:
            return
        step = self.gate.check_head(head.epoch, head.head_seq)
        self.session.apply(self, step, cause={"epoch": head.epoch, "seq": head.head_seq})


class Session:
    """One client connection; see the module docstring."""

    def __init__(self, hub: SessionHub, transport: Transport, *, peer: str = "") -> None:
        self.hub = hub
        self.transport = transport
        self.peer = peer
        self.user_id: str | None = None
        self.state = SessionState.AUTHENTICATING
        #: The close code chosen on entering ``CLOSING`` (``None`` before).
        self.close_code: int | None = None
        self.subscriptions: dict[str, ThreadSubscriber] = {}
        self._queue: deque[tuple[str, bool]] = deque()
        self._replay_pending = 0
        # The drain signal is a future made when someone waits, not an asyncio.Event per
        # connection (~0.7 KiB each session: its waiter deque).
        self._drain: asyncio.Future[None] | None = None
        self._is_drained = True
        self._tasks: set[asyncio.Task[Any]] = set()
        # The writer task runs only while something is queued (None: the queue is empty and a
        # frame may be written at once). An idle connection holds no task, no coroutine and no
        # wake-up future: less memory, and fewer objects for the garbage collector to track.
        self._writer: asyncio.Task[None] | None = None
        # getattr, not isinstance of the runtime-checkable protocols: that costs ~0.1 ms per
        # connection (pyinstrument over 2,000 accept+subscribe).
        send_now = getattr(transport, "send_now", None)
        self._send_now = send_now if callable(send_now) else None
        writes_many = callable(getattr(transport, "write_many", None)) and callable(
            getattr(transport, "ready_now", None)
        )
        self._writes_many: WritesMany | None = transport if writes_many else None  # type: ignore[assignment]
        #: The close under way when it was started from synchronous code (overflow, revoke).
        self._closing: asyncio.Task[None] | None = None
        self._warned = False

    @property
    def closed(self) -> bool:
        """Whether the session takes no more events (``CLOSING`` or ``CLOSED``)."""
        return self.state is SessionState.CLOSING or self.state is SessionState.CLOSED

    # -- the receive loop ---------------------------------------------------------------------

    async def run(self, token: str | None = None) -> Session:
        """Authenticate, then handle frames until the connection closes; return the session."""
        self.hub.sessions.add(self)
        try:
            if await self._authenticate(token):
                while self.state is SessionState.OPEN:
                    data = await self.transport.receive()
                    if data is None:
                        break
                    await self._handle(data)
        except BackendUnavailableError as exc:
            # an outage, not a bug: the client reconnects and resumes once storage is back
            logger.warning("session %s: storage unavailable: %s", self.peer, exc)
            await self.close(CloseCode.INTERNAL_ERROR, "storage unavailable: retry")
        except Exception:
            logger.exception("session %s failed", self.peer)
            await self.close(CloseCode.INTERNAL_ERROR, "internal error")
        finally:
            try:
                if self._closing is not None:
                    # let a close under way send its last frame before the writer stops
                    await asyncio.gather(self._closing, return_exceptions=True)
                self.state = SessionState.CLOSED
                self._detach()
                tasks = [*self._tasks] if self._writer is None else [self._writer, *self._tasks]
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            finally:
                # also when this clean-up is cancelled: the hub forgets every ended session
                self.hub.sessions.discard(self)
        return self

    async def _authenticate(self, token: str | None) -> bool:
        authenticator = self.hub.authenticator
        if authenticator is None:
            self.user_id = ANONYMOUS
            self.state = SessionState.OPEN
            return True
        if token is None:
            try:
                data = await asyncio.wait_for(self.transport.receive(), self.hub.auth_timeout)
            except asyncio.TimeoutError:
                await self._refuse_auth("no auth frame within the auth timeout")
                return False
            if data is None:
                return False
            try:
                frame = parse_client_frame(data)
            except ProtocolError as exc:
                await self._refuse_auth(f"the first frame must be auth: {exc}")
                return False
            if not isinstance(frame, AuthFrame):
                await self._refuse_auth(f"the first frame must be auth, not {frame.type}")
                return False
            token = frame.token
            reply = True
        else:
            reply = False
        user_id = await authenticate(authenticator, token)
        if user_id is None:
            await self._refuse_auth("invalid token")
            return False
        self.user_id = user_id
        if self.state is not SessionState.AUTHENTICATING:
            return False
        self.state = SessionState.OPEN
        if reply:
            self.send_frame(AuthenticatedFrame(user_id=user_id))
        return True

    async def _refuse_auth(self, why: str) -> None:
        logger.warning("session %s: authentication refused: %s", self.peer, why)
        await self.close_with(
            ErrorFrame(code=ErrorCode.UNAUTHORIZED.value, message=why), CloseCode.UNAUTHORIZED
        )

    async def _handle(self, data: str | bytes) -> None:
        try:
            frame = parse_client_frame(data)
        except ProtocolError as exc:
            self._warn(f"bad frame ({exc.code}): {exc}")
            if exc.code == ErrorCode.BINARY_FRAME.value:
                await self.close(CloseCode.UNSUPPORTED_DATA, "binary frames are not supported")
            else:
                self.send_frame(ErrorFrame(code=exc.code, message=str(exc)))
            return
        if isinstance(frame, SubscribeFrame):
            await self._subscribe(frame)
        elif isinstance(frame, UnsubscribeFrame):
            self._unsubscribe(frame.thread_id)
        elif isinstance(frame, PingFrame):
            self.send_frame(PongFrame(id=frame.id))
        elif isinstance(frame, RunFrame):
            await self._run(frame)
        else:
            self.send_frame(AuthenticatedFrame(user_id=self.user_id or ANONYMOUS))

    def _warn(self, what: str) -> None:
        level = logging.DEBUG if self._warned else logging.WARNING
        self._warned = True
        logger.log(level, "session %s (user %s): %s", self.peer, self.user_id, what)

    # -- subscriptions ------------------------------------------------------------------------

    async def _subscribe(self, frame: SubscribeFrame) -> None:
        thread_id = frame.thread_id
        if frame.dialect not in DIALECTS:
            known = ", ".join(sorted(DIALECTS.names))
            self.send_frame(
                ErrorFrame(
                    code=ErrorCode.INVALID_FRAME.value,
                    message=f"unknown dialect {frame.dialect!r}; known: {known}",
                    thread_id=thread_id,
                )
            )
            return
        if thread_id in self.subscriptions:
            self.send_frame(
                ErrorFrame(
                    code=ErrorCode.ALREADY_SUBSCRIBED.value,
                    message=f"already subscribed to thread {thread_id!r}",
                    thread_id=thread_id,
                )
            )
            return
        assert self.user_id is not None
        if not await is_authorized(self.hub.authorizer, self.user_id, thread_id):
            self.hub.metrics.refused_subscriptions += 1
            self._warn(f"refused subscription to thread {thread_id!r}")
            await self.close_with(
                ErrorFrame(
                    code=ErrorCode.FORBIDDEN.value,
                    message=f"user {self.user_id!r} may not subscribe to thread {thread_id!r}",
                    thread_id=thread_id,
                ),
                CloseCode.POLICY_VIOLATION,
            )
            return
        gate = SeqGate(frame.last_seq, frame.epoch, holding=True, max_held=self.hub.max_queue * 10)
        subscriber = ThreadSubscriber(self, thread_id, gate, frame.dialect)
        self.subscriptions[thread_id] = subscriber
        self.hub.connection_manager.add(subscriber)
        history = self.hub.history
        try:
            head = await history.head(thread_id)
            if gate.epoch is None and head is not None and head.epoch:
                gate.epoch = head.epoch
            if frame.last_seq is None:
                step = gate.fill([], head_seq=head.head_seq if head is not None else None)
            else:
                step = gate.fill(await history.read_after(thread_id, frame.last_seq, frame.epoch))
            deliver = await self._close_gaps(subscriber, step)
        except ResyncRequired as exc:
            self._resync(subscriber, exc)
            return
        except InvalidResumePoint as exc:
            self._drop(subscriber)
            self._warn(str(exc))
            self.send_frame(
                ErrorFrame(
                    code=ErrorCode.INVALID_RESUME_POINT.value, message=str(exc), thread_id=thread_id
                )
            )
            return
        except GateOverflow as exc:
            self._drop(subscriber)
            self.overflow(str(exc))
            return
        if self.closed or not subscriber.active:
            return
        head_seq = max(head.head_seq if head is not None else 0, gate.last_seq or 0)
        self.send_frame(
            SubscribedFrame(
                thread_id=thread_id,
                epoch=gate.epoch or "",
                head_seq=head_seq,
                recovered=len(deliver) if frame.last_seq is not None else 0,
            )
        )
        for message in deliver:
            for text in self.hub.encode.frames(message, subscriber.dialect):
                self._enqueue(text, replay=True)

    # -- runs (the AG-UI binding) -------------------------------------------------------------

    async def _run(self, frame: RunFrame) -> None:
        """Start an AG-UI run for ``frame.input``: answer ``run_accepted`` or ``error``."""
        thread_id = frame.input.get("threadId")
        if not isinstance(thread_id, str) or not thread_id:
            self._refuse_run(ErrorCode.INVALID_INPUT, "input.threadId must be a non-empty string")
            return
        assert self.user_id is not None
        if not await is_authorized(self.hub.authorizer, self.user_id, thread_id):
            self.hub.metrics.refused_subscriptions += 1
            self._refuse_run(
                ErrorCode.FORBIDDEN,
                f"user {self.user_id!r} may not start a run on thread {thread_id!r}",
                thread_id,
            )
            return
        relay = self.hub.relay
        if relay is None:
            self._refuse_run(
                ErrorCode.NO_UPSTREAM,
                "this server relays no AG-UI agent (start it with --agui-upstream URL)",
                thread_id,
            )
            return
        try:
            run_id = await relay.start_run(frame.input)
        except ProtocolError as exc:
            self._refuse_run(exc.code, str(exc), thread_id)
            return
        self.send_frame(RunAcceptedFrame(thread_id=thread_id, run_id=run_id))

    def _refuse_run(
        self, code: ErrorCode | str, message: str, thread_id: str | None = None
    ) -> None:
        self._warn(f"refused run: {message}")
        value = code.value if isinstance(code, ErrorCode) else code
        self.send_frame(ErrorFrame(code=value, message=message, thread_id=thread_id))

    async def _close_gaps(self, subscriber: ThreadSubscriber, step: Step) -> list[Message]:
        """Fetch history until the gate has no gap; raise ``ResyncRequired`` if it cannot."""
        deliver = list(step.deliver)
        for _ in range(_GAP_FETCHES):
            if step.fetch_after is None:
                return deliver
            events = await self.hub.history.read_after(
                subscriber.thread_id, step.fetch_after, subscriber.gate.epoch
            )
            step = subscriber.gate.fill(events)
            deliver.extend(step.deliver)
        if step.fetch_after is None:
            return deliver
        raise ResyncRequired(
            subscriber.thread_id,
            subscriber.gate.epoch or "",
            subscriber.gate.last_seq or 0,
            "the log cannot close a gap in the live stream",
        )

    async def _fill_gap(self, subscriber: ThreadSubscriber, step: Step) -> None:
        try:
            deliver = await self._close_gaps(subscriber, step)
        except ResyncRequired as exc:
            self._resync(subscriber, exc)
            return
        if subscriber.active:
            self.apply(subscriber, Step(deliver=deliver))

    def _resync(self, subscriber: ThreadSubscriber, exc: ResyncRequired) -> None:
        self._drop(subscriber)
        self.hub.metrics.resyncs += 1
        self.send_frame(_resync_frame(exc))

    def _unsubscribe(self, thread_id: str) -> None:
        subscriber = self.subscriptions.get(thread_id)
        if subscriber is None:
            self.send_frame(
                ErrorFrame(
                    code=ErrorCode.NOT_SUBSCRIBED.value,
                    message=f"not subscribed to thread {thread_id!r}",
                    thread_id=thread_id,
                )
            )
            return
        self._drop(subscriber)
        self.send_frame(UnsubscribedFrame(thread_id=thread_id))

    def revoke(self, subscriber: ThreadSubscriber) -> None:
        """The user may no longer see the subscriber's thread: stop it now, then close (1008).

        The subscription stops at once (no event of the thread is queued after this returns);
        the client gets an ``error`` ``forbidden`` naming the thread, then the close.
        """
        thread_id = subscriber.thread_id
        self._drop(subscriber)
        if not self._begin_close(CloseCode.POLICY_VIOLATION):
            return
        self.hub.metrics.refused_subscriptions += 1
        self._warn(f"subscription to thread {thread_id!r} revoked: the user may no longer see it")
        frame = ErrorFrame(
            code=ErrorCode.FORBIDDEN.value,
            message=f"user {self.user_id!r} may no longer see thread {thread_id!r}",
            thread_id=thread_id,
        )
        self._closing = asyncio.ensure_future(self._drain_and_close(frame))

    def _drop(self, subscriber: ThreadSubscriber) -> None:
        subscriber.active = False
        self.hub.connection_manager.remove(subscriber)
        if self.subscriptions.get(subscriber.thread_id) is subscriber:
            del self.subscriptions[subscriber.thread_id]

    def _detach(self) -> None:
        for subscriber in list(self.subscriptions.values()):
            self._drop(subscriber)

    # -- sending ------------------------------------------------------------------------------

    def apply(self, subscriber: ThreadSubscriber, step: Step, cause: Message | None = None) -> bool:
        """Queue what a gate step delivers; start a gap fill or a resync it asks for.

        ``cause`` is the live event pushed: when it is of another epoch (the log lost its
        history, e.g. Redis restarted) the resync names that epoch and seq, so the client
        resubscribes where the log now stands.
        """
        for message in step.deliver:
            if not self.send_live(message, subscriber.dialect):
                return False
        if step.resync:
            epoch, head = subscriber.gate.epoch or "", subscriber.gate.last_seq or 0
            if cause is not None:
                cause_epoch, cause_seq = cause.get("epoch"), cause.get("seq")
                if isinstance(cause_epoch, str) and cause_epoch and isinstance(cause_seq, int):
                    epoch, head = cause_epoch, cause_seq
            self._resync(
                subscriber, ResyncRequired(subscriber.thread_id, epoch, head, "epoch changed")
            )
        elif step.fetch_after is not None:
            self._spawn(self._fill_gap(subscriber, step))
        return True

    def send_live(self, message: Message, dialect: str = NATIVE_DIALECT) -> bool:
        """Send (or queue) one live event; ``False`` if this session cannot take it."""
        if dialect == NATIVE_DIALECT:
            return self._enqueue_live(self.hub.encode(message))
        return all(self._enqueue_live(text) for text in self.hub.encode.frames(message, dialect))

    def send_frame(self, frame: BaseModel) -> None:
        """Send (or queue) a control frame (not subject to the live-event bound)."""
        text = encode_frame(frame)
        if not self.closed and self._write_now(text):
            return
        self._enqueue(text, replay=True)

    def overflow(self, why: str) -> None:
        """Close this session as a slow consumer."""
        if not self._begin_close(CloseCode.SLOW_CONSUMER):
            return
        self.hub.metrics.dropped_slow_clients += 1
        logger.warning("session %s (user %s) is a slow consumer: %s", self.peer, self.user_id, why)
        self._closing = asyncio.ensure_future(
            self._finish_close("slow consumer: resume from last seq")
        )

    def write_failed(self) -> None:
        """A write without await failed: close the session; its client resumes."""
        if not self._begin_close(CloseCode.INTERNAL_ERROR):
            return
        logger.debug("session %s: a broadcast write failed", self.peer)
        self._closing = asyncio.ensure_future(self._finish_close("send failed"))

    def _enqueue_live(self, text: str) -> bool:
        if self.closed:
            return False
        if self._write_now(text):
            return True
        if len(self._queue) - self._replay_pending >= self.hub.max_queue:
            self.overflow(f"more than {self.hub.max_queue} events queued")
            return False
        self._enqueue(text, replay=False)
        return True

    def _write_now(self, text: str) -> bool:
        """Write ``text`` at once if nothing waits before it and the transport takes it now:
        no queue round-trip and no writer task (per connection of a fan-out, per reply)."""
        send_now = self._send_now
        return self._writer is None and send_now is not None and send_now(text)

    def _enqueue(self, text: str, *, replay: bool, last: bool = False) -> None:
        if self.closed and not last:
            return
        self._queue.append((text, replay))
        if replay:
            self._replay_pending += 1
        self._is_drained = False
        if self._writer is None:
            self._writer = asyncio.ensure_future(self._write_loop())

    def _set_drained(self) -> None:
        self._is_drained = True
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_result(None)

    async def _write_loop(self) -> None:
        """Send the queue until it is empty, then end (the next :meth:`_enqueue` starts
        another writer)."""
        send_now = self._send_now
        queue = self._queue
        while queue:
            text, replay = queue.popleft()
            if replay:
                self._replay_pending -= 1
            try:
                # Write what the transport takes at once; await (flow control) only when
                # its buffer is full, so a replay of thousands of events is not one await each.
                if send_now is None or not send_now(text):
                    await self.transport.send_text(text)
            except Exception as exc:
                logger.debug("session %s: send failed: %r", self.peer, exc)
                self._writer = None
                await self.close(CloseCode.INTERNAL_ERROR, "send failed")
                return
        self._writer = None
        self._set_drained()

    # -- closing ------------------------------------------------------------------------------

    async def close_with(self, frame: BaseModel, code: int) -> None:
        """Send ``frame`` after everything queued, then close with ``code`` (idempotent)."""
        if self._begin_close(code):
            await self._drain_and_close(frame)

    async def close(self, code: int, reason: str) -> None:
        """Stop delivering and close the connection with ``code`` (idempotent)."""
        if self._begin_close(code):
            await self._finish_close(reason)

    def _begin_close(self, code: int) -> bool:
        """Enter ``CLOSING`` with ``code``, stopping every subscription; ``False`` if already."""
        if self.closed:
            return False
        self.state = SessionState.CLOSING
        self.close_code = code
        self._detach()
        return True

    async def _drain_and_close(self, frame: BaseModel) -> None:
        self._enqueue(encode_frame(frame), replay=True, last=True)
        if not self._is_drained:
            if self._drain is None or self._drain.done():
                self._drain = asyncio.get_running_loop().create_future()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._drain), self.hub.drain_timeout)
        await self._finish_close(getattr(frame, "message", "")[:120])

    async def _finish_close(self, reason: str) -> None:
        code = self.close_code
        assert code is not None
        self._queue.clear()
        if self._writer is not None and self._writer is not asyncio.current_task():
            self._writer.cancel()
        try:
            await self.transport.close(code, reason)
        except Exception as exc:
            logger.debug("session %s: close failed: %r", self.peer, exc)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _resync_frame(exc: ResyncRequired) -> ResyncRequiredFrame:
    return ResyncRequiredFrame(
        thread_id=exc.thread_id, epoch=exc.epoch, head_seq=exc.head_seq, reason=exc.reason
    )
