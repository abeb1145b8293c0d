"""What a case drives the bridge with: a fresh bridge, the plugin's ledger, call helpers.

A :class:`CaseContext` builds the bridge from the factory (on a
:class:`~pytest_wsbridge.fakes.FakeConnectionManager` and the reference orchestrator unless
the case passes another) and calls it only through the notify methods, ``register_run`` and
``replay``. It records and waits the way the plugin does, through one
:class:`~pytest_wsbridge.ledger.Ledger`: every call it makes, every ``send_to_thread`` and
every message a connection takes; :meth:`CaseContext.settle` waits on the ledger's change
notifications until nothing is in flight (:func:`pytest_wsbridge.checks.in_flight`). It also
holds the small pure helpers cases share to put what they saw into words.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reference_impl import ReferenceOrchestrator, generate_run_id
from reference_impl.events import EVENTS

from ..checks import in_flight
from ..exceptions import CaseError
from ..factory import Factory, call_factory, close_bridge
from ..fakes import FakeConnection, FakeConnectionManager
from ..ledger import CallRecord, Ledger, SendRecord, short
from ..waiting import wait_for_ledger
from .model import Outcome

__all__ = [
    "NOTIFY_METHODS",
    "Call",
    "CaseContext",
    "CaseError",
    "CaseOptions",
    "describe",
    "describe_difference",
    "full_run_steps",
    "kinds",
    "label",
    "payload_of",
    "short",
]

NOTIFY_METHODS: Mapping[str, str] = {spec.type: spec.notify for spec in EVENTS}
"""Event type -> the bridge method that emits it (the notify contract), from the event table."""


@dataclass(frozen=True)
class CaseOptions:
    """Limits a case runs under (seconds).

    ``delivery_timeout`` bounds every wait for messages, ``init_timeout`` is how long a factory
    may take to refuse a bad orchestrator (the fail-fast cases allow it plus
    :func:`pytest_wsbridge.failfast.grace`, the marker's tolerance), ``case_timeout`` bounds a
    whole case.
    """

    case_timeout: float = 10.0
    init_timeout: float = 5.0
    delivery_timeout: float = 1.0


@dataclass
class Call:
    """One call the case made into the bridge: what it returned, or what it raised.

    ``record`` is the ledger's record of it (``None`` when the bridge has no such method).
    """

    method: str
    args: tuple[Any, ...]
    returned: Any = None
    raised: BaseException | None = None
    record: CallRecord | None = None

    @property
    def ok(self) -> bool:
        return self.raised is None

    def outcome(self) -> str:
        if self.raised is not None:
            return f"raised {type(self.raised).__name__}: {self.raised}"
        return f"returned {short(self.returned)}"


@dataclass
class CaseContext:
    """A fresh bridge under test and the tools to drive and observe it, for one case."""

    factory: Factory
    options: CaseOptions = field(default_factory=CaseOptions)
    manager: FakeConnectionManager = field(default_factory=FakeConnectionManager)
    orchestrator: Any = field(default_factory=ReferenceOrchestrator)
    bridge: Any = None
    ledger: Ledger = field(default_factory=Ledger)
    """Every call the case made, every send and every delivery, as the plugin records them."""
    cleanups: list[Callable[[], Any]] = field(default_factory=list)
    connections: list[FakeConnection] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.ledger.watch_sends(self.manager)
        self.ledger.watch_deliveries(self.manager)

    @property
    def sends(self) -> list[SendRecord]:
        """Every ``send_to_thread`` call the bridge made, in order."""
        return self.ledger.sends

    async def build(self) -> Any:
        """Build the bridge with the factory and wire it to the manager (for replay)."""
        self.bridge = await call_factory(
            self.factory,
            connection_manager=self.manager,
            orchestrator=self.orchestrator,
            init_timeout=self.options.init_timeout,
        )
        self.manager.bridge = self.bridge
        return self.bridge

    @property
    def has_replay(self) -> bool:
        return callable(getattr(self.bridge, "replay", None))

    async def close(self) -> None:
        """Run the case's clean-ups, close its connections, then the bridge (if it can)."""
        for cleanup in reversed(self.cleanups):
            await _maybe_await(cleanup())
        for connection in self.connections:
            await connection.close()
        await close_bridge(self.bridge)

    # -- driving the bridge ------------------------------------------------------------------

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Call:
        """Call ``bridge.<method>``, recorded in the ledger; say what it returned or raised
        (never raises for what the bridge does)."""
        call = Call(method, args)
        try:
            target = getattr(self.bridge, method)
        except AttributeError as exc:
            call.raised = exc
            return call
        calls_before = len(self.ledger.calls)
        try:
            call.returned = await _maybe_await(self.ledger.wrap(method, target)(*args, **kwargs))
        except Exception as exc:
            call.raised = exc
        if len(self.ledger.calls) > calls_before:
            call.record = self.ledger.calls[calls_before]
        return call

    async def register(self, run_id: Any, thread_id: str) -> Call:
        """``register_run``; a bridge without it gets a failed :class:`Call`."""
        return await self.call("register_run", run_id, thread_id)

    async def emit(self, kind: str, run_id: Any, agent_name: str = "agent", **fields: Any) -> Call:
        """Emit one event of ``kind`` through its notify method."""
        return await self.call(NOTIFY_METHODS[kind], run_id, agent_name, **fields)

    async def must(self, call: Call) -> Call:
        """Return a call that did not raise; raise :class:`CaseError` for one that did."""
        if call.raised is not None:
            raise CaseError(
                f"{call.method}{short(call.args, 80)} {call.outcome()} on valid input"
            ) from call.raised
        return call

    async def emit_steps(
        self, run_id: str, steps: Sequence[tuple[str, dict[str, Any]]], agent_name: str = "agent"
    ) -> list[tuple[str, str]]:
        """Emit ``(type, fields)`` steps in order; return their :func:`label` keys.

        Raises :class:`CaseError` if any call raises.
        """
        for kind, fields in steps:
            await self.must(await self.emit(kind, run_id, agent_name, **fields))
            await asyncio.sleep(0)
        return [(run_id, label(kind, fields)) for kind, fields in steps]

    async def full_run(
        self, run_id: str, *, agent_name: str = "agent", terminal: str = "agent_completed"
    ) -> list[tuple[str, str]]:
        """Emit a well-formed run of six events; return their ``(run_id, label)`` in order.

        started, thinking (step 1), tool_executing/tool_completed of ``search``, thinking
        (step 2), then ``terminal``.
        """
        return await self.emit_steps(run_id, full_run_steps(terminal), agent_name)

    async def expect(
        self, streams: Sequence[tuple[FakeConnection, Sequence[tuple[str, str]]]], ok: str
    ) -> Outcome:
        """OK if each connection got exactly its expected events, in order, once each."""
        await self.settle(lambda: all(len(c.messages) >= len(e) for c, e in streams))
        problems = []
        for connection, expected in streams:
            diff = describe_difference(expected, kinds(connection.messages))
            if diff:
                problems.append(f"connection of thread {connection.thread_id!r}: {diff}")
        return Outcome.failed("; ".join(problems)) if problems else Outcome.ok(ok)

    async def rejected(self, call: Call, sends_before: int, what: str) -> Outcome:
        """Judge a call that must be refused: raise and send nothing.

        OK: raised, nothing sent. NON-STRICT: returned, nothing sent (the caller is not told
        the event is lost). FAILED: anything was sent.
        """
        await self.settle()
        sent = self.sends[sends_before:]
        if sent:
            targets = sorted({repr(s.thread_id) for s in sent})
            return Outcome.failed(
                f"{what}: {call.method}() {call.outcome()} and sent {len(sent)} message(s) to "
                f"thread {', '.join(targets)}"
            )
        if call.raised is not None:
            return Outcome.ok(f"{what}: {call.outcome()}; nothing sent")
        return Outcome.non_strict(
            f"{what}: {call.outcome()} without raising; nothing sent, but a caller that does "
            "not check return values loses the event silently"
        )

    async def still_works(self, thread_id: str, connection: FakeConnection) -> str | None:
        """Emit a valid run on ``thread_id``; ``None`` if it arrived, else what went wrong."""
        run_id = await self.new_run(thread_id)
        before = len(connection.messages)
        expected = await self.emit_steps(
            run_id, [("agent_started", {}), ("agent_completed", {"result": "after"})]
        )
        await self.settle(lambda: len(connection.messages) >= before + len(expected))
        diff = describe_difference(expected, kinds(connection.messages[before:]))
        return None if diff is None else f"a valid run afterwards: {diff}"

    async def new_run(self, thread_id: str, *, register: bool = True) -> str:
        """A standard run id for ``thread_id``, registered unless ``register`` is false."""
        run_id = generate_run_id(thread_id)
        if register:
            await self.must(await self.register(run_id, thread_id))
        return run_id

    async def connect(
        self, thread_id: str, last_seq: int | None = None, *, user_id: str | None = None
    ) -> FakeConnection:
        """Subscribe a connection (resuming from ``last_seq`` through ``replay``)."""
        connection = await self.manager.connect(thread_id, last_seq, user_id=user_id)
        self.connections.append(connection)
        return connection

    async def settle(self, until: Callable[[], bool] | None = None) -> None:
        """Let in-flight work land: return once ``until()`` holds, or nothing is in flight.

        Waits on the ledger (as the plugin's checks do), never polls: a bridge that sends
        from its own tasks gets up to ``delivery_timeout``; one that sends inside the notify
        call (the usual case) returns at once.
        """
        for _ in range(3):  # callbacks the calls scheduled run first
            await asyncio.sleep(0)

        def done() -> bool:
            if until is not None and until():
                return True
            return not in_flight(self.ledger, asynchronous_delivery=False)

        await wait_for_ledger(self.ledger, done, self.options.delivery_timeout)


async def _maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


# -- putting observations into words ----------------------------------------------------------


def payload_of(message: Mapping[str, Any]) -> Mapping[str, Any]:
    """The message's ``payload`` (or the message itself if a bridge flattened it)."""
    payload = message.get("payload")
    return payload if isinstance(payload, Mapping) else message


def label(kind: str, fields: Mapping[str, Any]) -> str:
    """An event's type, with ``[step]`` for a numbered thinking step and ``:tool`` for tools."""
    if fields.get("step_number") is not None:
        return f"{kind}[{fields['step_number']}]"
    if kind.startswith("tool_") and fields.get("tool_name") is not None:
        return f"{kind}:{fields['tool_name']}"
    return kind


def kinds(messages: Iterable[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """``(run_id, label)`` of each message, in order (see :func:`label`)."""
    return [(str(m.get("run_id")), label(str(m.get("type")), payload_of(m))) for m in messages]


def full_run_steps(terminal: str = "agent_completed") -> list[tuple[str, dict[str, Any]]]:
    """The six steps of a well-formed run (see :meth:`CaseContext.full_run`)."""
    return [
        ("agent_started", {"context": {"case": "full run"}}),
        ("agent_thinking", {"reasoning": "step 1", "step_number": 1}),
        ("tool_executing", {"tool_name": "search", "parameters": {"q": "x"}}),
        ("tool_completed", {"tool_name": "search", "result": {"hits": 1}}),
        ("agent_thinking", {"reasoning": "step 2", "step_number": 2}),
        (terminal, {"error": "boom"} if terminal == "agent_error" else {"result": {"answer": 42}}),
    ]


def describe(messages: Sequence[Mapping[str, Any]]) -> str:
    """A compact list of messages: ``type#seq`` each."""
    if not messages:
        return "nothing"
    parts = [f"{m.get('type')}#{m.get('seq', '?')}" for m in messages[:12]]
    more = f" (+{len(messages) - 12} more)" if len(messages) > 12 else ""
    return f"{len(messages)}: [{', '.join(parts)}]{more}"


def describe_difference(
    expected: Sequence[tuple[str, str]], got: Sequence[tuple[str, str]]
) -> str | None:
    """``None`` if ``got`` equals ``expected``; else what is missing, extra or out of order."""
    if list(expected) == list(got):
        return None
    problems: list[str] = []
    remaining = list(got)
    missing = []
    for index, item in enumerate(expected):
        if item in remaining:
            remaining.remove(item)
        else:
            missing.append(f"{item[1]} (#{index + 1})")
    if missing:
        problems.append("missing " + ", ".join(missing[:6]) + (" ..." if len(missing) > 6 else ""))
    extra = [kind for _, kind in remaining]
    if extra:
        label = "repeated or unexpected"
        problems.append(f"{label} {', '.join(extra[:6])}" + (" ..." if len(extra) > 6 else ""))
    if not problems:
        problems.append("all there but out of order: " + ", ".join(k for _, k in got[:12]))
    return f"got {len(got)} of {len(expected)} events; " + "; ".join(problems)
