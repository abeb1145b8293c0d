"""The ledger: every call made to a bridge and every message its connection manager handled.

:meth:`Ledger.instrument` wraps the notify methods and ``register_run`` *on the bridge
instance*, so calls by anyone holding the bridge are recorded (the app under test usually
keeps its own reference). :meth:`Ledger.watch_sends` does the same for a connection
manager's ``send_to_thread``, and :meth:`Ledger.record_delivery` notes each message a
connection took. The ledger only records; :mod:`pytest_wsbridge.checks` judges. No pytest,
no asyncio.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import time
import weakref
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from reference_impl.events import NOTIFY_PREFIX, event_type_of
from reference_impl.ids import thread_id_from_run_id
from reference_impl.text import short

from .fakes import normalize_message

__all__ = [
    "AwaitableResult",
    "CallRecord",
    "DeliveryRecord",
    "Ledger",
    "Outcome",
    "SendRecord",
    "ThreadSource",
    "event_type_of",
    "short",
]

T = TypeVar("T")
Outcome = Literal["pending", "returned", "raised"]
ThreadSource = Literal["register_run", "run-id format"]

_CURRENT_CALL: contextvars.ContextVar[CallRecord | None] = contextvars.ContextVar(
    "wsbridge_current_bridge_call", default=None
)
"""The recorded call running in this context: sends and deliveries made meanwhile (also from
tasks it started) are attributed to it, whatever their messages look like."""


@dataclass
class CallRecord:
    """One call of a notify method or ``register_run``.

    ``index`` is the call's position among the notify calls of its run (0 for the first);
    ``at`` and ``finished`` are seconds since the ledger started.
    """

    order: int
    method: str
    arguments: dict[str, Any]
    at: float
    index: int | None = None
    outcome: Outcome = "pending"
    result: Any = None
    error: BaseException | None = None
    finished: float | None = None

    @property
    def event_type(self) -> str | None:
        """The emitted event type, or ``None`` for ``register_run``."""
        return event_type_of(self.method)

    @property
    def run_id(self) -> str | None:
        """The call's ``run_id`` argument, when it is a string."""
        run_id = self.arguments.get("run_id")
        return run_id if isinstance(run_id, str) else None

    def describe_outcome(self) -> str:
        """``returned True`` / ``raised ThreadResolutionError(...)`` / ``still running``."""
        if self.outcome == "returned":
            return f"returned {short(self.result)}"
        if self.outcome == "raised":
            return f"raised {short(self.error)}"
        return "was still running"


@dataclass
class SendRecord:
    """One ``send_to_thread(thread_id, message)`` call the bridge made."""

    order: int
    thread_id: str
    message: dict[str, Any] | None
    at: float
    cause: int | None = None
    """``order`` of the notify call during which it was made (``None``: outside any)."""
    outcome: Outcome = "pending"
    result: Any = None
    error: BaseException | None = None

    def describe_outcome(self) -> str:
        """What ``send_to_thread`` answered."""
        if self.outcome == "returned":
            return f"send_to_thread returned {short(self.result)}"
        if self.outcome == "raised":
            return f"send_to_thread raised {short(self.error)}"
        return "send_to_thread was still running"


@dataclass(frozen=True)
class DeliveryRecord:
    """One message one connection took.

    ``connection`` identifies the connection within the ledger; ``resumed_from`` is the
    ``last_seq`` it connected with (``None`` for a fresh subscription).
    """

    order: int
    thread_id: str
    message: Mapping[str, Any]
    connection: int
    resumed_from: int | None
    at: float
    cause: int | None = None
    """``order`` of the notify call during which it was taken (``None``: outside any)."""


@dataclass
class Ledger:
    """The record of one test's bridge traffic."""

    clock: Callable[[], float] = time.monotonic
    calls: list[CallRecord] = field(default_factory=list)
    sends: list[SendRecord] = field(default_factory=list)
    deliveries: list[DeliveryRecord] = field(default_factory=list)
    connection_labels: dict[int, str] = field(default_factory=dict)
    late_subscribers: dict[str, str] = field(default_factory=dict)
    """``thread_id -> what happened`` for each late subscriber the delivery check opened."""
    replay_available: bool = True
    listeners: list[Callable[[], None]] = field(default_factory=list)
    memo: dict[str, tuple[int, Any]] = field(default_factory=dict, repr=False, compare=False)
    """Results computed from the ledger, keyed by name, with the :attr:`version` they saw."""

    def __post_init__(self) -> None:
        self._start = self.clock()
        self._order = 0
        self._version = 0
        self._run_counts: dict[str, int] = {}
        self._connection_ids: dict[int, int] = {}
        self._registered: dict[str, str] = {}

    # -- queries ------------------------------------------------------------------------------

    def emissions(self) -> list[CallRecord]:
        """Every notify call, in call order."""
        return [call for call in self.calls if call.event_type is not None]

    def registrations(self) -> dict[str, str]:
        """``run_id -> thread_id`` from every ``register_run`` call that returned."""
        return dict(self._registered)

    def true_thread(self, run_id: str | None) -> tuple[str | None, ThreadSource | None]:
        """The thread a run belongs to: what ``register_run`` said, else the run-id format."""
        if run_id is None:
            return None, None
        registered = self._registered.get(run_id)
        if registered is not None:
            return registered, "register_run"
        parsed = thread_id_from_run_id(run_id)
        return (parsed, "run-id format") if parsed is not None else (None, None)

    @property
    def version(self) -> int:
        """Changes whenever anything is recorded or updated."""
        return self._version

    def pending(self) -> int:
        """How many recorded calls and sends have not finished yet."""
        return sum(c.outcome == "pending" for c in self.calls) + sum(
            s.outcome == "pending" for s in self.sends
        )

    def label(self, connection: int) -> str:
        """A person-readable name for a connection id."""
        return self.connection_labels.get(connection, f"connection #{connection}")

    # -- recording ----------------------------------------------------------------------------

    def instrument(self, bridge: object) -> None:
        """Wrap ``register_run`` and every ``notify_*`` method on the ``bridge`` instance.

        Wrapped methods behave as before and stay awaitable: an async method returns an
        awaitable, a sync one is called at once and returns an :class:`AwaitableResult`.
        """
        names = set(_method_names(type(bridge)))
        names.update(n for n in getattr(bridge, "__dict__", {}) if _recorded(n))
        for name in sorted(names):
            method = getattr(bridge, name, None)
            if not callable(method) or getattr(method, "__wsbridge_ledger__", None) is self:
                continue
            try:
                setattr(bridge, name, self._wrap(name, method))
            except (AttributeError, TypeError) as exc:
                raise TypeError(
                    f"cannot record calls of {type(bridge).__name__}.{name}: the instance "
                    f"does not accept attributes ({exc}); give the class a __dict__"
                ) from exc

    def watch_sends(self, manager: object) -> None:
        """Wrap ``send_to_thread`` on the connection-manager instance to record each send."""
        send = getattr(manager, "send_to_thread", None)
        if not callable(send) or getattr(send, "__wsbridge_ledger__", None) is self:
            return

        @functools.wraps(send)
        async def send_to_thread(thread_id: str, message: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                decoded: dict[str, Any] | None = normalize_message(message)
            except (TypeError, ValueError):
                decoded = None
            record = SendRecord(self._next(), str(thread_id), decoded, self._now(), cause=_cause())
            self.sends.append(record)
            try:
                result = await send(thread_id, message, *args, **kwargs)
            except BaseException as exc:
                record.outcome, record.error = "raised", exc
                self._changed()
                raise
            record.outcome, record.result = "returned", result
            self._changed()
            return result

        send_to_thread.__wsbridge_ledger__ = self  # type: ignore[attr-defined]
        setattr(manager, "send_to_thread", send_to_thread)  # noqa: B010

    def record_delivery(
        self,
        thread_id: str,
        message: Mapping[str, Any],
        *,
        connection: object,
        resumed_from: int | None = None,
    ) -> None:
        """Note that ``connection`` (any object; identified by ``id``) took ``message``."""
        key = self._connection_ids.setdefault(id(connection), len(self._connection_ids) + 1)
        if key not in self.connection_labels:
            resumed = "" if resumed_from is None else f", resumed from seq {resumed_from}"
            self.connection_labels[key] = f"connection #{key} of {thread_id!r}{resumed}"
        self.deliveries.append(
            DeliveryRecord(
                self._next(), thread_id, message, key, resumed_from, self._now(), _cause()
            )
        )
        self._changed()

    def watch_deliveries(self, manager: Any) -> None:
        """Record every message a :class:`~pytest_wsbridge.fakes.FakeConnectionManager`'s
        connections take (chained before any ``on_delivery`` it already has)."""
        previous = manager.on_delivery

        def on_delivery(delivery: Any) -> None:
            self.record_delivery(
                delivery.thread_id,
                delivery.message,
                connection=delivery.connection,
                resumed_from=delivery.connection.resumed_from,
            )
            if previous is not None:
                previous(delivery)

        manager.on_delivery = on_delivery

    def wrap(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        """``method`` recorded as a call named ``name`` (what :meth:`instrument` installs)."""
        return self._wrap(name, method)

    def name_connection(self, connection: object, label: str) -> None:
        """Give ``connection`` a readable name in reports (for example "late subscriber")."""
        key = self._connection_ids.setdefault(id(connection), len(self._connection_ids) + 1)
        self.connection_labels[key] = label
        self._version += 1

    # -- internals ----------------------------------------------------------------------------

    def _wrap(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        signature = _signature(method)

        @functools.wraps(method)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if _CURRENT_CALL.get() is not None:
                return method(*args, **kwargs)  # the bridge calling itself: recorded once
            record = self._start_call(name, _bind(signature, args, kwargs))
            token = _CURRENT_CALL.set(record)
            try:
                result = method(*args, **kwargs)
            except BaseException as exc:
                self._finish(record, error=exc)
                raise
            finally:
                _CURRENT_CALL.reset(token)
            if inspect.isawaitable(result):
                return self._await(record, result)
            self._finish(record, result=result)
            return AwaitableResult(result)

        wrapper.__wsbridge_ledger__ = self  # type: ignore[attr-defined]
        return wrapper

    async def _await(self, record: CallRecord, awaitable: Awaitable[Any]) -> Any:
        token = _CURRENT_CALL.set(record)
        try:
            result = await awaitable
        except BaseException as exc:
            self._finish(record, error=exc)
            raise
        finally:
            _CURRENT_CALL.reset(token)
        self._finish(record, result=result)
        return result

    def _start_call(self, name: str, arguments: dict[str, Any]) -> CallRecord:
        record = CallRecord(self._next(), name, arguments, self._now())
        if record.event_type is not None:
            key = record.run_id if record.run_id is not None else repr(arguments.get("run_id"))
            record.index = self._run_counts.get(key, 0)
            self._run_counts[key] = record.index + 1
        self.calls.append(record)
        return record

    def _finish(
        self, record: CallRecord, *, result: Any = None, error: BaseException | None = None
    ) -> None:
        record.finished = self._now()
        if error is not None:
            record.outcome, record.error = "raised", error
        else:
            record.outcome, record.result = "returned", result
            thread_id = record.arguments.get("thread_id")
            if record.method == "register_run" and record.run_id and isinstance(thread_id, str):
                self._registered[record.run_id] = thread_id
        self._changed()

    def _next(self) -> int:
        self._order += 1
        self._version += 1
        return self._order

    def _now(self) -> float:
        return self.clock() - self._start

    def _changed(self) -> None:
        self._version += 1
        for listener in list(self.listeners):
            listener()


class AwaitableResult(Generic[T]):
    """The value a *sync* bridge method returned, made awaitable for the ``ws_bridge`` fixture.

    The call has already happened; ``await`` just hands back :attr:`value`. Truthiness,
    equality, ``repr`` and attribute access go to the value, so code that calls the method
    synchronously keeps working (only identity checks such as ``is None`` see the wrapper).
    """

    __slots__ = ("value",)

    def __init__(self, value: T) -> None:
        self.value = value

    def __await__(self) -> Generator[Any, None, T]:
        return self.value
        yield  # pragma: no cover - makes this a generator

    def __bool__(self) -> bool:
        return bool(self.value)

    def __eq__(self, other: object) -> bool:
        other_value = other.value if isinstance(other, AwaitableResult) else other
        return bool(self.value == other_value)

    def __hash__(self) -> int:
        return hash(self.value)

    def __repr__(self) -> str:
        return repr(self.value)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.value, name)


def _recorded(name: str) -> bool:
    return name.startswith(NOTIFY_PREFIX) or name == "register_run"


_NAMES: weakref.WeakKeyDictionary[type, tuple[str, ...]] = weakref.WeakKeyDictionary()


def _method_names(cls: type) -> tuple[str, ...]:
    """The recorded method names a class offers, computed once per class."""
    names = _NAMES.get(cls)
    if names is None:
        names = _NAMES[cls] = tuple(name for name in dir(cls) if _recorded(name))
    return names


_SIGNATURES: weakref.WeakKeyDictionary[Any, inspect.Signature | None] = weakref.WeakKeyDictionary()


def _signature(method: Callable[..., Any]) -> inspect.Signature | None:
    """The (bound) signature, computed once per underlying function."""
    function = getattr(method, "__func__", None)
    if function is not None and function in _SIGNATURES:
        return _SIGNATURES[function]
    try:
        signature: inspect.Signature | None = inspect.signature(method)
    except (TypeError, ValueError):
        signature = None
    if function is not None:
        _SIGNATURES[function] = signature
    return signature


def _cause() -> int | None:
    current = _CURRENT_CALL.get()
    return None if current is None else current.order


def _bind(
    signature: inspect.Signature | None, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    if signature is not None:
        try:
            bound = signature.bind_partial(*args, **kwargs)
        except TypeError:
            pass
        else:
            return dict(bound.arguments)
    named = dict(zip(("run_id", "thread_id"), args[:2], strict=False))
    named.update(kwargs)
    return named
