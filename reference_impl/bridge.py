"""The bridge from agents to WebSocket connections: resolve, store, then send.

Each ``notify_*`` call resolves the run's thread (registry, then the standard run-id format,
else :class:`ThreadResolutionError` — never the run id itself), validates the event completely,
appends it to the thread's log and only then offers it to the thread's connections. An event
emitted while nobody is connected is therefore kept and replayed on resume.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticSerializationError

from .backends.base import Backend
from .backends.memory import MemoryBackend
from .events import CALL_KEY, EVENTS, EventDraft, EventSpec, EventTable, NotifyMethods
from .exceptions import (
    InvalidEventError,
    LifecycleError,
    RegistryConflictError,
    ThreadResolutionError,
)
from .ids import thread_id_from_run_id, validate_thread_id
from .lifecycle import RunLifecycle
from .metrics import BridgeMetrics
from .orchestrator import check_orchestrator, require_orchestrator

__all__ = [
    "AgentWebSocketBridge",
    "DeliveryReceipt",
    "Fanout",
    "SendsToThread",
    "create_bridge",
    "install_notify_methods",
]

logger = logging.getLogger("reference_impl.bridge")

LifecyclePolicy = Literal["off", "warn", "strict"]
"""What the bridge does with an event its run's lifecycle does not allow: nothing, count and log
it (then store and send it), or refuse it with :class:`LifecycleError`."""

_POLICIES = ("off", "warn", "strict")


class SendsToThread(Protocol):
    """The connection-manager contract: ``True`` only if a live connection took the message."""

    async def send_to_thread(self, thread_id: str, message: dict[str, Any]) -> bool: ...


class Fanout(SendsToThread, Protocol):
    """A node's sender when several nodes share a backend (e.g. ``RedisFanout``): it delivers
    this node's events and other nodes' to the local connections, in one order."""

    async def close(self) -> None: ...


@dataclass(frozen=True)
class DeliveryReceipt:
    """What became of one event: stored at ``seq`` in ``epoch``; delivered now or buffered.

    Truthy only when a live connection took the event.
    """

    run_id: str
    thread_id: str
    seq: int
    epoch: str
    delivered: bool

    @property
    def buffered(self) -> bool:
        """The event waits in the log for a subscriber to resume."""
        return not self.delivered

    @property
    def status(self) -> Literal["delivered", "buffered"]:
        """``"delivered"`` or ``"buffered"``."""
        return "delivered" if self.delivered else "buffered"

    def __bool__(self) -> bool:
        return self.delivered


class AgentWebSocketBridge(NotifyMethods[DeliveryReceipt]):
    """Routes agent events to the connections of each run's thread.

    Build it with :func:`create_bridge`, which also checks the orchestrator; constructing it
    directly checks only that an orchestrator is present, and :meth:`start` does the rest.

    It has one ``notify_<type>`` method per row of :data:`~reference_impl.events.EVENTS`
    (``notify_agent_started(run_id, agent_name, context=None)`` and so on), each returning a
    :class:`DeliveryReceipt`; see :func:`install_notify_methods`.
    """

    def __init__(
        self,
        *,
        connection_manager: SendsToThread,
        orchestrator: object,
        backend: Backend | None = None,
        max_payload_bytes: int = 256 * 1024,
        lifecycle_policy: LifecyclePolicy | None = None,
        max_tracked_runs: int = 100_000,
        fanout: Fanout | None = None,
        lifecycle: LifecyclePolicy | None = None,
    ) -> None:
        require_orchestrator(orchestrator)
        if connection_manager is None:
            raise TypeError("connection_manager is required (see reference_impl.ConnectionManager)")
        policy = _lifecycle_policy(lifecycle_policy, lifecycle)
        self.connection_manager = connection_manager
        self.orchestrator = orchestrator
        self.backend: Backend = backend if backend is not None else MemoryBackend()
        self.fanout = fanout
        self._sender: SendsToThread = fanout if fanout is not None else connection_manager
        self.max_payload_bytes = max_payload_bytes
        self.lifecycle_policy: LifecyclePolicy = policy
        self.metrics = BridgeMetrics()
        self._runs: OrderedDict[str, RunLifecycle] = OrderedDict()
        self._max_tracked_runs = max_tracked_runs
        # One lock per thread with an emit in flight, so that events reach the connection
        # manager in seq order even when the backend or the manager awaits.
        self._thread_locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self.started = False

    @property
    def lifecycle_mode(self) -> LifecyclePolicy:
        """The old name of :attr:`lifecycle_policy`."""
        return self.lifecycle_policy

    async def start(self, *, init_timeout: float = 5.0) -> None:
        """Check the orchestrator; raise :class:`OrchestratorInitError` if it is unfit."""
        await check_orchestrator(self.orchestrator, timeout=init_timeout)
        self.started = True

    async def close(self) -> None:
        """Stop the fan-out, if any, and release the backend."""
        if self.fanout is not None:
            await self.fanout.close()
        await self.backend.close()

    # -- runs and threads -------------------------------------------------------------------

    async def register_run(self, run_id: str, thread_id: str) -> None:
        """Record that ``run_id`` belongs to ``thread_id``.

        A standard run id already names its thread; registering it to another one raises
        :class:`RegistryConflictError`, as does re-registering a run to a second thread.
        """
        _check_run_id(run_id)
        validate_thread_id(thread_id)
        encoded = thread_id_from_run_id(run_id)
        if encoded is not None and encoded != thread_id:
            raise RegistryConflictError(run_id, encoded, thread_id)
        await self.backend.register(run_id, thread_id)

    async def resolve_thread(self, run_id: str) -> str:
        """Return the run's thread: registry, then the run-id format, else raise."""
        _check_run_id(run_id)
        lookup = await self.backend.get_thread(run_id)
        if lookup.thread_id is not None:
            return lookup.thread_id
        thread_id = thread_id_from_run_id(run_id)
        if thread_id is not None:
            return thread_id
        self.metrics.resolution_failures += 1
        reason = (
            f"{(lookup.miss.value if lookup.miss else 'not registered')} and not a standard run id"
        )
        raise ThreadResolutionError(run_id, reason)

    async def replay(
        self, thread_id: str, after_seq: int, epoch: str | None = None
    ) -> list[dict[str, Any]]:
        """Return the thread's stored events after ``after_seq`` as wire dicts, in order.

        Raises :class:`~reference_impl.exceptions.ResyncRequired` when they are not all kept,
        :class:`~reference_impl.exceptions.InvalidResumePoint` for ``after_seq`` beyond the
        head, and :class:`ValueError` for a thread id that is not a non-empty ``str``.
        """
        validate_thread_id(thread_id)
        events = await self.backend.read_after(thread_id, after_seq, epoch)
        self.metrics.replayed += len(events)
        return [event.to_dict() for event in events]

    # -- notify API (the contract): one method per row of EVENTS, see install_notify_methods

    # -- the one path every event takes ------------------------------------------------------

    async def _emit(
        self,
        spec: EventSpec,
        run_id: str,
        agent_name: str,
        arguments: Mapping[str, Any],
    ) -> DeliveryReceipt:
        called = time.perf_counter()
        try:
            _check_run_id(run_id)
        except InvalidEventError:
            self.metrics.rejected_events += 1
            raise
        thread_id = await self.resolve_thread(run_id)
        draft = self._validated_draft(spec, run_id, thread_id, agent_name, arguments)
        async with self._thread_lock(thread_id):
            run = self._check_lifecycle(draft)
            message = await self.backend.append(draft)
            self.metrics.emitted += 1
            if run is not None:
                run.advance(draft.type, draft.payload.get(CALL_KEY))
            delivered = False
            try:
                delivered = bool(await self._sender.send_to_thread(thread_id, message.to_dict()))
            except Exception:
                # Stored already: a subscriber that resumes still gets it.
                logger.exception(
                    "send to thread %r failed; seq %d stays buffered", thread_id, message.seq
                )
                self.metrics.send_errors += 1
            finally:
                # Also on cancellation: a stored event is either delivered or buffered.
                if delivered:
                    self.metrics.delivered += 1
                    self.metrics.send_latency.observe(time.perf_counter() - called)
                else:
                    self.metrics.buffered += 1
        return DeliveryReceipt(run_id, thread_id, message.seq, message.epoch, delivered)

    def _thread_lock(self, thread_id: str) -> _HeldLock:
        return _HeldLock(self._thread_locks, thread_id)

    def _validated_draft(
        self,
        spec: EventSpec,
        run_id: str,
        thread_id: str,
        agent_name: str,
        arguments: Mapping[str, Any],
    ) -> EventDraft:
        kind = spec.type
        try:
            if not isinstance(agent_name, str) or not agent_name:
                raise InvalidEventError(
                    f"agent_name must be a non-empty str, got {agent_name!r}; "
                    "pass the name the UI shows for the agent"
                )
            payload = spec.payload_from(arguments)
            if not isinstance(payload, (BaseModel, dict)):
                raise InvalidEventError(
                    f"the {kind} payload must be a dict, got {type(payload).__name__}"
                )
            draft = EventDraft.build(
                kind, thread_id=thread_id, run_id=run_id, agent_name=agent_name, payload=payload
            )
            size = len(draft.model_dump_json().encode())
        except (ValidationError, PydanticSerializationError, TypeError, ValueError) as exc:
            self.metrics.rejected_events += 1
            if isinstance(exc, InvalidEventError):
                raise
            raise InvalidEventError(
                f"invalid {kind} event for run {run_id!r}: {exc}. Nothing was stored or "
                "sent; pass JSON-compatible values (str, int, float, bool, None, lists, "
                "dicts with str keys)"
            ) from exc
        if size > self.max_payload_bytes:
            self.metrics.rejected_events += 1
            raise InvalidEventError(
                f"{kind} event for run {run_id!r} is {size} bytes, over the bridge's "
                f"max_payload_bytes={self.max_payload_bytes}. Nothing was stored or sent; send "
                "large results by reference (an id or URL) or raise max_payload_bytes"
            )
        return draft

    def _check_lifecycle(self, draft: EventDraft) -> RunLifecycle | None:
        """Judge the event against its run's state; return the state to advance once stored."""
        if self.lifecycle_policy == "off":
            return None
        run = self._runs.get(draft.run_id)
        if run is None:
            run = self._runs[draft.run_id] = RunLifecycle()
            while len(self._runs) > self._max_tracked_runs:
                self._runs.popitem(last=False)
        else:
            self._runs.move_to_end(draft.run_id)
        problem = run.violation_for(draft.type, draft.payload.get(CALL_KEY))
        if problem is not None:
            self.metrics.lifecycle_violations += 1
            if self.lifecycle_policy == "strict":
                raise LifecycleError(
                    f"run {draft.run_id!r}: {problem[1]} [{problem[0]}]; nothing was stored or "
                    "sent (lifecycle_policy='strict'): emit agent_started first, agent_completed "
                    "or agent_error last, and tool_executing before its tool_completed"
                )
            logger.warning("run %r: %s [%s]", draft.run_id, problem[1], problem[0])
        return run


def install_notify_methods(cls: type[Any], table: EventTable = EVENTS) -> None:
    """Give ``cls`` a ``notify_<type>`` method for each row of ``table`` that it lacks.

    Each method has the row's signature (``run_id``, ``agent_name``, then the payload's
    parameters, with their defaults) and hands its arguments to ``cls._emit(spec, run_id,
    agent_name, arguments)``. The methods are compiled from that signature (as
    :mod:`dataclasses` does for ``__init__``), so a call binds its arguments as fast, and fails
    on a missing or unknown argument as clearly, as a hand-written method.
    """
    for spec in table:
        if spec.notify not in cls.__dict__:
            setattr(cls, spec.notify, _notify_method(cls, spec))


def _notify_method(cls: type[Any], spec: EventSpec) -> Callable[..., Any]:
    parameters = spec.parameters()
    defaults = {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}
    header = ", ".join(
        f"{p.name}=_defaults[{p.name!r}]" if p.name in defaults else p.name for p in parameters
    )
    arguments = ", ".join(f"{p.name!r}: {p.name}" for p in parameters)
    source = (
        f"async def {spec.notify}(self, run_id, agent_name, {header}):\n"
        f"    return await self._emit(_spec, run_id, agent_name, {{{arguments}}})\n"
    )
    namespace: dict[str, Any] = {"_defaults": defaults, "_spec": spec}
    exec(source, namespace)  # the names in it are checked identifiers (EventSpec)
    method: Callable[..., Any] = namespace[spec.notify]
    method.__qualname__ = f"{cls.__qualname__}.{spec.notify}"
    method.__module__ = cls.__module__
    method.__doc__ = f"Emit ``{spec.type}`` ({spec.payload.__name__}); see the event table."
    method.__annotations__ = {
        "run_id": str,
        "agent_name": str,
        **{p.name: p.annotation for p in parameters},
        "return": DeliveryReceipt,
    }
    return method


install_notify_methods(AgentWebSocketBridge)


class _HeldLock:
    """``async with`` one thread's lock; the entry is dropped when its last user leaves."""

    def __init__(self, locks: dict[str, tuple[asyncio.Lock, int]], key: str) -> None:
        self._locks = locks
        self._key = key

    async def __aenter__(self) -> None:
        lock, users = self._locks.get(self._key) or (asyncio.Lock(), 0)
        self._locks[self._key] = (lock, users + 1)
        try:
            await lock.acquire()
        except BaseException:
            self._leave()
            raise

    async def __aexit__(self, *exc_info: object) -> None:
        self._locks[self._key][0].release()
        self._leave()

    def _leave(self) -> None:
        lock, users = self._locks[self._key]
        if users > 1:
            self._locks[self._key] = (lock, users - 1)
        else:
            del self._locks[self._key]


def _lifecycle_policy(
    policy: LifecyclePolicy | None, old: LifecyclePolicy | None
) -> LifecyclePolicy:
    if old is not None:
        if policy is not None:
            raise ValueError("pass lifecycle_policy only (lifecycle is its old name)")
        warnings.warn(
            "AgentWebSocketBridge(lifecycle=...) is now lifecycle_policy=...",
            DeprecationWarning,
            stacklevel=3,
        )
        policy = old
    if policy is None:
        return "warn"
    if policy not in _POLICIES:
        raise ValueError(f"lifecycle_policy must be 'off', 'warn' or 'strict', not {policy!r}")
    return policy


def _check_run_id(run_id: object) -> None:
    if not isinstance(run_id, str) or not run_id:
        raise InvalidEventError(
            f"run_id must be a non-empty str, got {run_id!r}; use generate_run_id(thread_id) "
            "or a run id passed to register_run(run_id, thread_id)"
        )


async def create_bridge(
    *,
    connection_manager: SendsToThread,
    orchestrator: object,
    init_timeout: float = 5.0,
    backend: Backend | None = None,
    redis_url: str | None = None,
    redis_options: dict[str, Any] | None = None,
    **options: Any,
) -> AgentWebSocketBridge:
    """Build and start a bridge: the factory ``pytest-wsbridge`` uses by default.

    Raises :class:`OrchestratorInitError` when the orchestrator is missing, unhealthy or does
    not answer within ``init_timeout`` seconds. ``options`` go to :class:`AgentWebSocketBridge`.

    With ``redis_url`` the bridge is one node of several sharing a Redis: a
    :class:`~reference_impl.backends.redis.RedisBackend` (``redis_options`` are its keyword
    arguments) and a :class:`~reference_impl.backends.redis_fanout.RedisFanout` delivering to
    ``connection_manager``. Redis must answer at start-up, else ``BackendUnavailableError``.
    """
    fanout: Fanout | None = None
    if redis_url is not None:
        if backend is not None:
            raise ValueError("pass either backend or redis_url, not both")
        require_orchestrator(orchestrator)  # fail fast before connecting to Redis
        backend, fanout = await _redis_node(redis_url, connection_manager, redis_options or {})
    elif redis_options:
        raise ValueError("redis_options need a redis_url")
    try:
        bridge = AgentWebSocketBridge(
            connection_manager=connection_manager,
            orchestrator=orchestrator,
            backend=backend,
            fanout=fanout,
            **options,
        )
        await bridge.start(init_timeout=init_timeout)
    except BaseException:
        if fanout is not None and backend is not None:
            await fanout.close()
            await backend.close()
        raise
    return bridge


async def _redis_node(
    url: str, connection_manager: SendsToThread, redis_options: dict[str, Any]
) -> tuple[Backend, Fanout]:
    from .backends.redis import RedisBackend
    from .backends.redis_fanout import RedisFanout

    backend = RedisBackend(url, **redis_options)
    try:
        await backend.ping()
        fanout = RedisFanout(backend, connection_manager)
        await fanout.start()
    except BaseException:
        await backend.close()
        raise
    return backend, fanout
