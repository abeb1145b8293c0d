"""The reference Python client: subscribe to a thread, receive each event once, resume.

:class:`BridgeClient` connects (bearer token in the ``Authorization`` header), subscribes,
and returns events from :meth:`BridgeClient.receive` or ``async for``. When the connection
drops it reconnects with exponential back-off and jitter and resumes from its last seq and
epoch; a :class:`~reference_impl.subscription.SeqGate` drops duplicates and turns a gap into a
resume. With ``dialect="ag-ui"`` each event returned is an AG-UI envelope frame
(``{"type": "ag-ui", "seq", "epoch", "part", "parts", "event"}``): the parts of one seq are
held until the last one arrives, so a connection lost in the middle of a seq resumes it whole
and no part is returned twice. ``resync_required`` is raised to the caller as
:class:`~reference_impl.exceptions.ResyncRequired`; the next receive continues from the new
head (or call :meth:`BridgeClient.resubscribe` first with another resume point).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import sys
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from .agui.dialect import AGUI_FRAME_TYPE, NATIVE_DIALECT
from .events import Message
from .exceptions import ConnectionLost, ProtocolError, ResyncRequired
from .protocol import (
    CONTROL_FRAME_TYPES,
    RETRYABLE_CLOSE_CODES,
    CloseCode,
    ErrorCode,
    SubscribeFrame,
)
from .subscription import SeqGate

__all__ = ["BridgeClient", "ConnectionLost"]

logger = logging.getLogger("reference_impl.client")


_NOT_SET: Any = object()
_HAS_TIMEOUT = sys.version_info >= (3, 11)
# websockets 13.0 may raise these from recv() when TCP ends without a close frame.
_EOF_QUIRKS: tuple[type[Exception], ...] = (EOFError, AssertionError)
# Failures of one connection attempt that another attempt may not have.
_RETRIED: tuple[type[Exception], ...] = (
    OSError,
    InvalidHandshake,
    asyncio.TimeoutError,
    ConnectionClosed,
    *_EOF_QUIRKS,
)

# Error frames after which the server closes the connection and retrying cannot help.
_FINAL_ERRORS = frozenset({ErrorCode.UNAUTHORIZED.value, ErrorCode.FORBIDDEN.value})


class BridgeClient:
    """A resuming subscriber of one thread; see the module docstring.

    ``last_seq``/``epoch`` resume an earlier subscription (``last_seq=0``: everything kept;
    ``None``: live events from now). ``on_event(event)`` is called for each event returned.
    ``max_attempts`` bounds consecutive failed connection attempts; the back-off starts at
    ``backoff_initial`` seconds, doubles up to ``backoff_max`` and is jittered. ``dialect``
    is the subscription's dialect (``"native"`` or ``"ag-ui"``).
    """

    def __init__(
        self,
        url: str,
        *,
        thread_id: str,
        token: str | None = None,
        last_seq: int | None = None,
        epoch: str | None = None,
        on_event: Callable[[Message], None] | None = None,
        receive_timeout: float | None = 10.0,
        open_timeout: float = 5.0,
        max_attempts: int = 8,
        backoff_initial: float = 0.05,
        backoff_max: float = 5.0,
        max_frame_bytes: int | None = 2**24,
        rng: random.Random | None = None,
        dialect: str = NATIVE_DIALECT,
    ) -> None:
        self.url = url
        self.dialect = dialect
        self.thread_id = thread_id
        self.token = token
        self.last_seq = last_seq
        self.epoch = epoch
        self.on_event = on_event
        self.receive_timeout = receive_timeout
        self.open_timeout = open_timeout
        self.max_attempts = max_attempts
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.max_frame_bytes = max_frame_bytes
        self.head_seq: int | None = None
        self.connects = 0
        self.duplicates = 0
        self.gaps = 0
        self.close_code: int | None = None
        self._rng = rng or random.Random()
        self._ws: ClientConnection | None = None
        self._gate: SeqGate | None = None
        self._closed = False
        self._subscribing = False
        self._parts: list[Message] = []
        self._ready: deque[Message] = deque()

    # -- public API ---------------------------------------------------------------------------

    async def connect(self) -> None:
        """Connect and subscribe now (``receive`` also does it when needed)."""
        await self._ensure_subscribed()

    async def receive(self, timeout: float | None = _NOT_SET) -> Message:
        """Return the next event (default timeout: ``receive_timeout``; ``None``: no limit).

        Raises ``TimeoutError``, :class:`ResyncRequired`, :class:`ConnectionLost`, or
        :class:`ProtocolError` for an ``error`` frame about this subscription.
        """
        limit = self.receive_timeout if timeout is _NOT_SET else timeout
        if limit is None:
            return await self._next_event()
        try:
            if _HAS_TIMEOUT:  # no task per call, unlike wait_for
                async with asyncio.timeout(limit):  # type: ignore[attr-defined,unused-ignore]
                    return await self._next_event()
            return await asyncio.wait_for(self._next_event(), limit)
        except asyncio.TimeoutError:
            raise TimeoutError(
                f"no event of thread {self.thread_id!r} within {limit:g}s "
                f"(last seq {self.last_seq})"
            ) from None

    async def resubscribe(self, last_seq: int | None, epoch: str | None = None) -> None:
        """Drop the connection and subscribe again from ``last_seq`` in ``epoch``."""
        self.last_seq = last_seq
        self.epoch = epoch
        await self._disconnect()

    async def close(self) -> None:
        """Close the connection; ``receive`` raises :class:`ConnectionLost` afterwards."""
        self._closed = True
        await self._disconnect()

    def __aiter__(self) -> BridgeClient:
        return self

    async def __anext__(self) -> Message:
        if self._closed:
            raise StopAsyncIteration
        return await self.receive()

    async def __aenter__(self) -> BridgeClient:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    # -- internals ----------------------------------------------------------------------------

    async def _next_event(self) -> Message:
        while True:
            if self._ready:
                frame = self._ready.popleft()
                if self.on_event is not None:
                    self.on_event(frame)
                return frame
            ws = await self._ensure_subscribed()
            assert self._gate is not None
            try:
                data = await ws.recv()
            except ConnectionClosed as exc:
                await self._lost(exc)
                continue
            except _EOF_QUIRKS as exc:
                logger.info("thread %r: connection lost (%r); resuming", self.thread_id, exc)
                await self._disconnect()
                continue
            message = _decode(data)
            if message.get("type") in CONTROL_FRAME_TYPES:
                self._control(message)
                continue
            if message.get("type") == AGUI_FRAME_TYPE:
                group = self._collect(message)
                if group is None:
                    continue
                message = group
            step = self._gate.push(message)
            self.duplicates = self._gate.duplicates
            if step.fetch_after is not None or step.resync:
                self.gaps += 1
                logger.warning(
                    "thread %r: gap after seq %s; resuming", self.thread_id, self.last_seq
                )
                await self._disconnect()
                continue
            for event in step.deliver:
                self._advance(event)
                frames = event.get("frames")
                # An AG-UI seq (a group from _collect, no "type") yields its frames in order.
                if "type" not in event and isinstance(frames, list):
                    self._ready.extend(frames)
                else:
                    self._ready.append(event)

    def _collect(self, frame: Message) -> Message | None:
        """Hold an AG-UI part; return the whole seq once its last part is in."""
        part, parts = frame.get("part"), frame.get("parts")
        if not isinstance(part, int) or not isinstance(parts, int):
            raise ProtocolError("invalid_frame", "an ag-ui frame without int part and parts")
        if part != len(self._parts):
            # Out of step (a part lost with an earlier connection): start this seq afresh.
            self._parts = []
            if part != 0:
                return None
        self._parts.append(frame)
        if part != parts - 1:
            return None
        group, self._parts = self._parts, []
        return {
            "thread_id": frame.get("thread_id"),
            "seq": frame.get("seq"),
            "epoch": frame.get("epoch"),
            "frames": group,
        }

    def _advance(self, event: Message) -> None:
        seq = event.get("seq")
        if isinstance(seq, int):
            self.last_seq = seq
        epoch = event.get("epoch")
        if isinstance(epoch, str) and epoch:
            self.epoch = epoch

    def _control(self, message: Message) -> None:
        kind = message["type"]
        if kind == "resync_required":
            exc = ResyncRequired(
                str(message.get("thread_id", self.thread_id)),
                str(message.get("epoch", "")),
                int(message.get("head_seq", 0)),
                str(message.get("reason", "")),
            )
            # The server dropped the subscription: continue from the new head unless the
            # caller resubscribes elsewhere first.
            self.epoch = exc.epoch or None
            self.last_seq = exc.head_seq
            self._gate = None
            raise exc
        if kind == "error":
            self._gate = None
            if message.get("code") in _FINAL_ERRORS:
                self._closed = True
            raise ProtocolError(str(message.get("code")), str(message.get("message")))

    async def _ensure_subscribed(self) -> ClientConnection:
        if self._closed:
            raise ConnectionLost("the client is closed", self.close_code)
        if self._ws is not None and self._gate is not None:
            return self._ws
        failures = 0
        while True:
            try:
                return await asyncio.wait_for(self._subscribe(), self.open_timeout)
            except _RETRIED as exc:
                await self._disconnect()
                if isinstance(exc, ConnectionLost):
                    raise
                failures += 1
                if failures >= self.max_attempts:
                    raise ConnectionLost(
                        f"cannot subscribe to {self.url} after {failures} attempts: {exc!r}"
                    ) from exc
                await asyncio.sleep(self._backoff(failures))

    async def _subscribe(self) -> ClientConnection:
        if self._subscribing:
            # An earlier subscribe was interrupted: its answer may still come; start afresh.
            await self._disconnect()
        if self._ws is None:
            headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
            self._ws = await connect(
                self.url, additional_headers=headers, max_size=self.max_frame_bytes
            )
            self.connects += 1
        ws = self._ws
        frame = SubscribeFrame(
            type="subscribe",
            thread_id=self.thread_id,
            last_seq=self.last_seq,
            epoch=self.epoch,
            dialect=self.dialect,
        )
        self._subscribing = True
        self._parts = []
        await ws.send(frame.model_dump_json(exclude_none=True, exclude_defaults=True))
        while True:
            try:
                message = _decode(await ws.recv())
            except ConnectionClosed as exc:
                self._check_final(exc)
                raise
            kind = message.get("type")
            if kind == "subscribed":
                self.epoch = str(message.get("epoch") or "") or None
                self.head_seq = int(message.get("head_seq", 0))
                if self.last_seq is None:
                    self.last_seq = self.head_seq
                self._gate = SeqGate(self.last_seq, self.epoch)
                self._gate.duplicates = self.duplicates
                self._subscribing = False
                return ws
            if kind in ("resync_required", "error"):
                self._subscribing = False
                self._control(message)
            # anything before "subscribed" (e.g. "authenticated") is not for the caller

    async def _lost(self, exc: ConnectionClosed) -> None:
        self._check_final(exc)
        logger.info("thread %r: connection lost (%s); resuming", self.thread_id, exc)
        await self._disconnect()

    def _check_final(self, exc: ConnectionClosed) -> None:
        code = exc.rcvd.code if exc.rcvd is not None else None
        self.close_code = code
        if code is not None and code != CloseCode.NORMAL and code not in RETRYABLE_CLOSE_CODES:
            reason = exc.rcvd.reason if exc.rcvd is not None else ""
            raise ConnectionLost(f"the server closed the connection: {code} {reason}", code)

    def _backoff(self, failures: int) -> float:
        ceiling = min(self.backoff_max, self.backoff_initial * 2.0 ** (failures - 1))
        return float(ceiling / 2 + self._rng.random() * ceiling / 2)

    async def _disconnect(self) -> None:
        ws, self._ws = self._ws, None
        self._gate = None
        self._subscribing = False
        if ws is not None:
            await ws.close()


def _decode(data: str | bytes) -> Message:
    try:
        message = json.loads(data)
    except ValueError as exc:
        raise ProtocolError(
            "invalid_json", f"the server sent a frame that is not JSON: {exc}"
        ) from None
    if not isinstance(message, dict):
        raise ProtocolError("invalid_frame", "the server sent a frame that is not a JSON object")
    return message
