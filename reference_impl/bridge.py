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
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticSerializationError

from .backends import open_backend
from .backends.base import Backend, ChecksRegistry, Fanout, SharedBackend
from .backends.memory import MemoryBackend
from .connections import SendsToThread
from .events import CALL_KEY, EVENTS, EventDraft, EventMessage, EventSpec, EventTable, NotifyMethods
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
        # A backend that checks the registry as it appends saves a lookup per event.
        self._append_checked: Callable[[EventDraft], Awaitable[EventMessage]] | None = (
            self.backend.append_checked if isinstance(self.backend, ChecksRegistry) else None
        )
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
        thread_id = thread_id_from_run_id(run_id) if self._append_checked is not None else None
        if thread_id is None:
            thread_id = await self.resolve_thread(run_id)
            return await self._emit_to(thread_id, spec, run_id, agent_name, arguments, called)
        # A standard run id names its thread; the backend checks in the same step as the append
        # that the registry does not name another (one round trip fewer on Redis).
        try:
            return await self._emit_to(
                thread_id, spec, run_id, agent_name, arguments, called, check_registry=True
            )
        except RegistryConflictError as elsewhere:  # only append_checked raises it here
            return await self._emit_to(
                elsewhere.registered_thread_id, spec, run_id, agent_name, arguments, called
            )

    async def _emit_to(
        self,
        thread_id: str,
        spec: EventSpec,
        run_id: str,
        agent_name: str,
        arguments: Mapping[str, Any],
        called: float,
        *,
        check_registry: bool = False,
    ) -> DeliveryReceipt:
        draft = self._validated_draft(spec, run_id, thread_id, agent_name, arguments)
        async with self._thread_lock(thread_id):
            run = self._check_lifecycle(draft)
            if check_registry and self._append_checked is not None:
                message = await self._append_checked(draft)
            else:
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
    backend: Backend | str | None = None,
    **options: Any,
) -> AgentWebSocketBridge:
    """Build and start a bridge: the factory ``pytest-wsbridge`` uses by default.

    Raises :class:`OrchestratorInitError` when the orchestrator is missing, unhealthy or does
    not answer within ``init_timeout`` seconds. ``options`` go to :class:`AgentWebSocketBridge`.

    ``backend`` is a :class:`~reference_impl.backends.base.Backend` (default: in memory) or
    a URL for :func:`~reference_impl.backends.open_backend` (``"redis://host:port/db"``).
    A :class:`~reference_impl.backends.base.SharedBackend` (Redis) makes the bridge one node
    of several: it starts this node's fan-out to ``connection_manager`` and must answer at
    start-up, else ``BackendUnavailableError``. The bridge owns the backend: its ``close``
    releases it, and so does a ``create_bridge`` that fails. ``redis_url=`` and
    ``redis_options=`` still work and warn (deprecated): pass
    ``backend=RedisBackend(url, **redis_options)`` instead.
    """
    backend = _backend_of(backend, options)
    fanout: Fanout | None = None
    try:
        if isinstance(backend, SharedBackend):
            require_orchestrator(orchestrator)  # fail fast before connecting to the store
            fanout = await backend.start_fanout(connection_manager)
        bridge = AgentWebSocketBridge(
            connection_manager=connection_manager,
            orchestrator=orchestrator,
            backend=backend,
            fanout=fanout,
            **options,
        )
        await bridge.start(init_timeout=init_timeout)
    except BaseException:
        # The bridge owns its backend (``close`` releases it): a bridge that did not start
        # releases it here, with the fan-out it started.
        if fanout is not None:
            await fanout.close()
        if backend is not None:
            await backend.close()
        raise
    return bridge


def _backend_of(backend: Backend | str | None, options: dict[str, Any]) -> Backend | None:
    """Return the backend ``create_bridge`` uses (a URL built, the deprecated options read)."""
    redis_url = options.pop("redis_url", None)
    redis_options = options.pop("redis_options", None)
    if redis_url is not None or redis_options is not None:
        warnings.warn(
            "create_bridge(redis_url=..., redis_options=...) is deprecated: pass "
            "backend=RedisBackend(url, **redis_options) or backend='redis://host:port/db'",
            DeprecationWarning,
            stacklevel=3,
        )
        if redis_url is None:
            raise ValueError("redis_options need a redis_url")
        if backend is not None:
            raise ValueError("pass either backend or redis_url, not both")
        return open_backend(redis_url, **(redis_options or {}))
    if isinstance(backend, str):
        return open_backend(backend)
    return backend
