"""Every exception the reference bridge raises.

The tree, and whose fault each branch is (the h11 habit)::

    WsBridgeError
    ├── ThreadResolutionError      a run id whose thread cannot be known (caller's data)
    ├── OrchestratorInitError      the bridge cannot start: orchestrator missing, unhealthy, hung
    ├── RegistryConflictError      a run registered to a second, different thread (caller)
    ├── InvalidEventError          an event that cannot be sent: bad run id, payload not JSON,
    │                              payload too large (caller); raised before anything is stored
    ├── LifecycleError             an event out of lifecycle order, in strict mode (caller)
    ├── ResyncRequired             the log cannot serve a resume: trimmed, expired, epoch changed
    ├── InvalidResumePoint         a resume point ``last_seq`` beyond the log's head (peer)
    ├── BackendUnavailableError    the storage backend (Redis) failed after bounded retries
    ├── ProtocolError              a malformed or unexpected frame from a WebSocket peer
    ├── UnknownDialectError        a dialect name nobody registered, or an event type a
    │                              dialect cannot write (caller)
    ├── GateOverflow               a subscription held more live events than its bound while
    │                              its history was read (the peer reads too slowly)
    ├── ConnectionLost             the client cannot (re)connect, or the server closed it
    │                              with a final code (peer / caller's credentials)
    ├── UpstreamFault              an AG-UI upstream failed a relayed run (peer); the relay
    │                              turns it into the run's RUN_ERROR, ``code`` names the fault
    └── BridgeNotSetError          an agent emitted before ``set_websocket_bridge`` (caller)

``InvalidEventError``, ``RegistryConflictError`` and ``InvalidResumePoint`` also derive from
:class:`ValueError`, ``ThreadResolutionError`` and ``UnknownDialectError`` from
:class:`LookupError`, ``BridgeNotSetError`` from :class:`RuntimeError` and ``ConnectionLost``
from :class:`ConnectionError`, so code that catches the built-in categories keeps working.
``GateOverflow`` and ``ConnectionLost`` are importable from :mod:`reference_impl.subscription`
and :mod:`reference_impl.client` too, where they were first defined.
"""

from __future__ import annotations

__all__ = [
    "BackendUnavailableError",
    "BridgeNotSetError",
    "ConnectionLost",
    "GateOverflow",
    "InvalidEventError",
    "InvalidResumePoint",
    "LifecycleError",
    "OrchestratorInitError",
    "ProtocolError",
    "RegistryConflictError",
    "ResyncRequired",
    "ThreadResolutionError",
    "UnknownDialectError",
    "UpstreamFault",
    "WsBridgeError",
]


class WsBridgeError(Exception):
    """Base class of every error raised by :mod:`reference_impl`."""


class ThreadResolutionError(WsBridgeError, LookupError):
    """Raised when a run's thread is neither registered nor encoded in the run id.

    The bridge raises instead of falling back to the run id: an event "sent" to a thread named
    after the run reaches nobody, and nobody notices.
    """

    def __init__(self, run_id: object, reason: str) -> None:
        self.run_id = run_id
        self.reason = reason
        super().__init__(
            f"cannot resolve the thread of run {run_id!r}: {reason}. "
            "Call register_run(run_id, thread_id) before emitting, or generate the run id "
            "with generate_run_id(thread_id)."
        )


class OrchestratorInitError(WsBridgeError):
    """Raised while building a bridge whose orchestrator is missing, unhealthy or hangs."""


class RegistryConflictError(WsBridgeError, ValueError):
    """Raised when a run already registered to one thread is registered to another."""

    def __init__(self, run_id: str, registered: str, requested: str) -> None:
        self.run_id = run_id
        self.registered_thread_id = registered
        self.requested_thread_id = requested
        super().__init__(
            f"run {run_id!r} is registered to thread {registered!r}; "
            f"refusing to re-register it to {requested!r}"
        )


class InvalidEventError(WsBridgeError, ValueError):
    """Raised for an event the bridge refuses before storing or sending any part of it."""


class LifecycleError(WsBridgeError):
    """Raised in strict lifecycle mode for an event its run's state does not allow."""


class ResyncRequired(WsBridgeError):
    """Raised when a thread's log cannot serve the events after a resume point.

    The history was trimmed, expired or lost (a new ``epoch``). The client must reload the
    thread's state and continue from ``head_seq`` in ``epoch``; it never gets a silent gap.
    """

    def __init__(self, thread_id: str, epoch: str, head_seq: int, reason: str) -> None:
        self.thread_id = thread_id
        self.epoch = epoch
        self.head_seq = head_seq
        self.reason = reason
        super().__init__(
            f"thread {thread_id!r} needs a resync ({reason}); "
            f"current epoch {epoch!r}, head seq {head_seq}"
        )


class InvalidResumePoint(WsBridgeError, ValueError):
    """Raised for a resume point the log never issued (``last_seq`` beyond the head)."""

    def __init__(self, thread_id: str, last_seq: int, head_seq: int) -> None:
        self.thread_id = thread_id
        self.last_seq = last_seq
        self.head_seq = head_seq
        super().__init__(
            f"last_seq {last_seq} for thread {thread_id!r} is beyond the head seq {head_seq}"
        )


class BackendUnavailableError(WsBridgeError):
    """Raised when the storage backend stays unreachable after the bounded retries."""


class ProtocolError(WsBridgeError):
    """Raised for a frame from a WebSocket peer that breaks the bridge protocol.

    ``code`` is the error code sent back in the ``error`` frame.
    """

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


class BridgeNotSetError(WsBridgeError, RuntimeError):
    """Raised by an agent's ``emit_*`` call made before ``set_websocket_bridge``.

    The "graceful" silent no-op of older adapters lost those events; this says so instead.
    """


class UnknownDialectError(WsBridgeError, LookupError):
    """Raised for a dialect name that no one registered, or by a dialect asked to write an
    event type it has no encoding (and no fallback) for (see :mod:`reference_impl.dialects`)."""


class GateOverflow(WsBridgeError):
    """Raised by a subscription's :class:`~reference_impl.subscription.SeqGate` when more live
    events arrive than its ``max_held`` while it reads history; the server closes that
    connection (slow consumer) and the client resumes."""


class ConnectionLost(WsBridgeError, ConnectionError):
    """Raised by :class:`~reference_impl.client.BridgeClient` when it cannot (re)connect within
    its attempts, or the server closed the connection with a final code (``close_code``: 4001
    unauthorized, 1008 forbidden)."""

    def __init__(self, message: str, close_code: int | None = None) -> None:
        self.close_code = close_code
        super().__init__(message)


class UpstreamFault(WsBridgeError):
    """Raised inside the AG-UI relay when its upstream agent fails a run (refused, non-200, not
    ``text/event-stream``, truncated, stalled) or an upstream event cannot be stored.

    ``code`` is the ``RUN_ERROR.code`` the relay ends the run with
    (:data:`reference_impl.agui.relay.FAULT_CODES`); the relay catches it, it never reaches
    the caller of :meth:`~reference_impl.agui.relay.AguiRelay.start_run`.
    """

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)
