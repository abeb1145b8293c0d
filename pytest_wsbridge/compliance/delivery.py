"""Family 1, delivery: every event of a run reaches every live connection of the run's thread."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from reference_impl import generate_run_id

from .harness import CaseContext, describe, describe_difference, kinds, label, payload_of
from .model import Outcome, case

__all__: list[str] = []

_ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)$")


@case(
    "delivery",
    1,
    "A registered run's full lifecycle reaches the thread's connection",
    "register_run(run, thread), then six events (started, thinking, tool pair, thinking, "
    "completed): the thread's connection gets all six in emission order, once each",
)
async def registered_full_run(ctx: CaseContext) -> Outcome:
    connection = await ctx.connect("delivery-1")
    run_id = await ctx.new_run("delivery-1")
    expected = await ctx.full_run(run_id)
    return await ctx.expect([(connection, expected)], "all 6 events arrived in order, once each")


@case(
    "delivery",
    2,
    "A standard run id reaches its thread without register_run",
    "a run id from generate_run_id(thread), never registered: all six events reach the "
    "thread's connection in order",
)
async def standard_id_full_run(ctx: CaseContext) -> Outcome:
    connection = await ctx.connect("delivery-2")
    expected = await ctx.full_run(generate_run_id("delivery-2"))
    return await ctx.expect([(connection, expected)], "all 6 events arrived in order, once each")


@case(
    "delivery",
    3,
    "Every connection of a thread gets every event",
    "two connections of one thread: each gets all six events of a run, in order, once each",
)
async def two_connections(ctx: CaseContext) -> Outcome:
    first = await ctx.connect("delivery-3")
    second = await ctx.connect("delivery-3")
    expected = await ctx.full_run(await ctx.new_run("delivery-3"))
    return await ctx.expect(
        [(first, expected), (second, expected)], "both connections got all 6 events in order"
    )


@case(
    "delivery",
    4,
    "Runs in several threads at once all arrive",
    "five threads, one run each, emitted concurrently: each thread's connection gets exactly "
    "its run's six events, in order",
)
async def several_threads(ctx: CaseContext) -> Outcome:
    threads = [f"delivery-4-{n}" for n in range(5)]
    connections = [await ctx.connect(t) for t in threads]
    runs = [await ctx.new_run(t) for t in threads]
    expected = await asyncio.gather(*(ctx.full_run(r) for r in runs))
    return await ctx.expect(
        list(zip(connections, expected, strict=True)),
        "5 threads x 6 events, each in order on its thread",
    )


@case(
    "delivery",
    5,
    "A burst of 200 events arrives complete and in order",
    "agent_started, 200 agent_thinking steps back to back, agent_completed: the connection "
    "gets all 202 in emission order, none twice",
)
async def burst(ctx: CaseContext) -> Outcome:
    connection = await ctx.connect("delivery-5")
    run_id = await ctx.new_run("delivery-5")
    steps: list[tuple[str, dict[str, Any]]] = [("agent_started", {})]
    steps += [("agent_thinking", {"reasoning": f"s{n}", "step_number": n}) for n in range(200)]
    steps.append(("agent_completed", {"result": "done"}))
    for kind, fields in steps:
        await ctx.must(await ctx.emit(kind, run_id, **fields))
    expected = [(run_id, label(kind, fields)) for kind, fields in steps]
    return await ctx.expect([(connection, expected)], "all 202 events arrived in order")


@case(
    "delivery",
    6,
    "Concurrent runs in one thread both arrive, each in its own order",
    "two runs of one thread emitted concurrently: the thread's connection gets all twelve "
    "events, and each run's events keep their emission order",
)
async def concurrent_runs_one_thread(ctx: CaseContext) -> Outcome:
    connection = await ctx.connect("delivery-6")
    runs = [await ctx.new_run("delivery-6") for _ in range(2)]
    expected = await asyncio.gather(*(ctx.full_run(r) for r in runs))
    await ctx.settle(lambda: len(connection.messages) >= 12)
    got = kinds(connection.messages)
    problems = []
    for run_id, run_expected in zip(runs, expected, strict=True):
        diff = describe_difference(run_expected, [k for k in got if k[0] == run_id])
        if diff:
            problems.append(f"run {run_id!r}: {diff}")
    if len(got) != 12:
        problems.append(f"{len(got)} events in all instead of 12")
    if problems:
        return Outcome.failed("; ".join(problems))
    return Outcome.ok("12 events, each run's in its emission order")


@case(
    "delivery",
    7,
    "A send that raises does not lose the event silently",
    "the connection manager's send raises once, mid-run: the notify call raises, or the event "
    "is kept and a subscriber resuming from seq 0 gets it through replay",
)
async def send_error(ctx: CaseContext) -> Outcome:
    connection = await ctx.connect("delivery-7")
    run_id = await ctx.new_run("delivery-7")
    await ctx.must(await ctx.emit("agent_started", run_id))
    ctx.manager.fail_next_sends(1)
    failing = await ctx.emit("agent_thinking", run_id, reasoning="lost?", step_number=1)
    await ctx.must(await ctx.emit("agent_completed", run_id, result="end"))
    await ctx.settle()
    if failing.raised is not None:
        return Outcome.ok(f"the notify call whose send failed {failing.outcome()}")
    target = (run_id, "agent_thinking[1]")
    if target in kinds(connection.messages):
        return Outcome.ok("the bridge retried: the live connection got the event")
    if not ctx.has_replay:
        return Outcome.failed(
            f"the send raised, notify_agent_thinking {failing.outcome()}, the connection got "
            f"{describe(connection.messages)} and the bridge has no replay: the event is lost"
        )
    resumed = await ctx.connect("delivery-7", last_seq=0)
    if target in kinds(resumed.messages):
        return Outcome.ok(
            f"notify_agent_thinking {failing.outcome()}; the event was kept and a resuming "
            "subscriber got it"
        )
    return Outcome.failed(
        f"the send raised, notify_agent_thinking {failing.outcome()} and the event is gone: "
        f"live connection got {describe(connection.messages)}, a resume from seq 0 got "
        f"{describe(resumed.messages)}"
    )


@case(
    "delivery",
    8,
    "A connection that joins mid-run gets every later event",
    "two events with nobody connected, then a plain (non-resuming) connection: it gets the "
    "remaining four events in order",
)
async def join_mid_run(ctx: CaseContext) -> Outcome:
    run_id = await ctx.new_run("delivery-8")
    steps: list[tuple[str, dict[str, Any]]] = [
        ("agent_started", {}),
        ("agent_thinking", {"reasoning": "early", "step_number": 1}),
    ]
    await ctx.emit_steps(run_id, steps)
    connection = await ctx.connect("delivery-8")
    expected = await ctx.emit_steps(
        run_id,
        [
            ("agent_thinking", {"reasoning": "late", "step_number": 2}),
            ("tool_executing", {"tool_name": "calc"}),
            ("tool_completed", {"tool_name": "calc", "result": 3}),
            ("agent_completed", {"result": "ok"}),
        ],
    )
    return await ctx.expect([(connection, expected)], "the 4 later events arrived in order")


@case(
    "delivery",
    9,
    "Closing one connection does not disturb the other",
    "two connections of a thread; one closes after two events: the other gets all six, the "
    "closed one nothing after it closed",
)
async def one_connection_closes(ctx: CaseContext) -> Outcome:
    staying = await ctx.connect("delivery-9")
    leaving = await ctx.connect("delivery-9")
    run_id = await ctx.new_run("delivery-9")
    steps: list[tuple[str, dict[str, Any]]] = [
        ("agent_started", {}),
        ("agent_thinking", {"reasoning": "a", "step_number": 1}),
        ("agent_thinking", {"reasoning": "b", "step_number": 2}),
        ("agent_completed", {"result": "ok"}),
    ]
    first = await ctx.emit_steps(run_id, steps[:2])
    await ctx.settle(lambda: len(leaving.messages) >= 2)
    await leaving.close()
    rest = await ctx.emit_steps(run_id, steps[2:])
    return await ctx.expect(
        [(staying, first + rest), (leaving, first)],
        "the remaining connection got all 4 events; the closed one stopped at 2",
    )


@case(
    "delivery",
    10,
    "The delivered payload carries what was emitted",
    "reasoning, step_number, progress_percentage, tool_name, parameters and a nested unicode "
    "result arrive unchanged in each message's payload",
)
async def payload_content(ctx: CaseContext) -> Outcome:
    connection = await ctx.connect("delivery-10")
    run_id = await ctx.new_run("delivery-10")
    result = {"rows": [1, 2, 3], "nested": {"ü": "ok ✓"}, "none": None}
    sent: list[tuple[str, dict[str, Any]]] = [
        ("agent_started", {"context": {"user": "u1"}}),
        ("agent_thinking", {"reasoning": "thinking…", "step_number": 3, "progress_percentage": 50}),
        ("tool_executing", {"tool_name": "sql", "parameters": {"query": "select 1"}}),
        ("tool_completed", {"tool_name": "sql", "result": result}),
        ("agent_completed", {"result": {"answer": "42"}}),
    ]
    await ctx.emit_steps(run_id, sent)
    await ctx.settle(lambda: len(connection.messages) >= len(sent))
    if len(connection.messages) != len(sent):
        return Outcome.failed(f"expected {len(sent)} messages, got {describe(connection.messages)}")
    problems = []
    for (kind, fields), message in zip(sent, connection.messages, strict=True):
        payload = payload_of(message)
        if message.get("type") != kind:
            problems.append(f"type {message.get('type')!r} where {kind!r} was emitted")
        for name, value in fields.items():
            if payload.get(name) != value:
                problems.append(f"{kind}.{name} is {payload.get(name)!r}, emitted {value!r}")
    if problems:
        return Outcome.failed("; ".join(problems[:6]))
    return Outcome.ok("every emitted field arrived unchanged")


_REQUIRED = ("type", "thread_id", "run_id", "agent_name", "payload")
_RESUMABLE = ("seq", "epoch", "timestamp")


@case(
    "delivery",
    11,
    "Every message has the wire envelope",
    "each message has type, thread_id and run_id matching the emission, agent_name and a "
    "payload object (else FAILED), and an int seq, an epoch and an ISO-8601 UTC timestamp "
    "(else NON-STRICT: a client cannot resume or order what it got)",
)
async def envelope(ctx: CaseContext) -> Outcome:
    connection = await ctx.connect("delivery-11")
    run_id = await ctx.new_run("delivery-11")
    expected = await ctx.full_run(run_id, agent_name="planner")
    await ctx.settle(lambda: len(connection.messages) >= len(expected))
    if not connection.messages:
        return Outcome.failed("no message arrived")
    hard: list[str] = []
    soft: list[str] = []
    for index, message in enumerate(connection.messages):
        where = f"message #{index + 1} ({message.get('type')})"
        missing = [k for k in _REQUIRED if k not in message]
        if missing:
            hard.append(f"{where} lacks {', '.join(missing)}")
        if message.get("thread_id", "delivery-11") != "delivery-11":
            hard.append(f"{where} has thread_id {message.get('thread_id')!r}")
        if message.get("run_id", run_id) != run_id:
            hard.append(f"{where} has run_id {message.get('run_id')!r}")
        if message.get("agent_name", "planner") != "planner":
            hard.append(f"{where} has agent_name {message.get('agent_name')!r}")
        if "payload" in message and not isinstance(message["payload"], dict):
            hard.append(f"{where} has a {type(message['payload']).__name__} payload")
        lacking = [k for k in _RESUMABLE if k not in message]
        if lacking:
            soft.append(f"{where} lacks {', '.join(lacking)}")
        elif isinstance(message["seq"], bool) or not isinstance(message["seq"], int):
            soft.append(f"{where} has seq {message['seq']!r}, not an int")
        elif not _ISO_UTC.match(str(message["timestamp"])):
            soft.append(f"{where} has timestamp {message['timestamp']!r}, not ISO-8601 UTC")
    if hard:
        return Outcome.failed("; ".join(hard[:5]))
    if soft:
        return Outcome.non_strict("; ".join(soft[:5]))
    return Outcome.ok(f"all {len(connection.messages)} messages carry the full envelope")


@case(
    "delivery",
    12,
    "A run that ends in agent_error arrives complete",
    "started, thinking, tool pair, thinking, agent_error: all six reach the thread's "
    "connection in order",
)
async def error_run(ctx: CaseContext) -> Outcome:
    connection = await ctx.connect("delivery-12")
    expected = await ctx.full_run(await ctx.new_run("delivery-12"), terminal="agent_error")
    return await ctx.expect([(connection, expected)], "all 6 events, agent_error last")
