"""Family 5, reconnect and replay: a resuming client gets exactly what it missed.

Resumes go through the fake manager (``connect(thread_id, last_seq)`` asks the bridge for
``replay(thread_id, last_seq)``). Every case is UNIMPLEMENTED for a bridge without ``replay``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from reference_impl import check_thread_sequence

from ..fakes import FakeConnection
from .harness import CaseContext, describe, describe_difference, kinds, short
from .model import Outcome, case

__all__: list[str] = []


def _steps(first: int, count: int) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("agent_thinking", {"reasoning": f"step {n}", "step_number": n})
        for n in range(first, first + count)
    ]


async def _resume(ctx: CaseContext, thread_id: str, last_seq: int) -> FakeConnection | Outcome:
    try:
        return await ctx.connect(thread_id, last_seq)
    except Exception as exc:
        return Outcome.failed(
            f"resuming thread {thread_id!r} from seq {last_seq}: replay raised "
            f"{type(exc).__name__}: {exc}"
        )


async def _reconnect(ctx: CaseContext, connection: FakeConnection) -> FakeConnection | Outcome:
    await connection.close()
    return await _resume(ctx, connection.thread_id, connection.last_seq or 0)


@case(
    "replay",
    1,
    "Events emitted while nobody was connected are replayed",
    "a full run with no connection, then a connection resuming from seq 0: it gets all six "
    "events in order",
    needs_replay=True,
)
async def while_disconnected(ctx: CaseContext) -> Outcome:
    expected = await ctx.full_run(await ctx.new_run("replay-1"))
    connection = await _resume(ctx, "replay-1", 0)
    if isinstance(connection, Outcome):
        return connection
    return await ctx.expect([(connection, expected)], "all 6 buffered events replayed in order")


@case(
    "replay",
    2,
    "A client resuming mid-stream gets exactly the events it missed, then live ones",
    "three events live, disconnect, two more, resume from the last seq received, one more: "
    "the resumed connection gets the two missed events then the live one, nothing else",
    needs_replay=True,
)
async def resume_mid_stream(ctx: CaseContext) -> Outcome:
    connection = await ctx.connect("replay-2")
    run_id = await ctx.new_run("replay-2")
    await ctx.emit_steps(run_id, [("agent_started", {}), *_steps(1, 2)])
    await ctx.settle(lambda: len(connection.messages) >= 3)
    await connection.close()
    missed = await ctx.emit_steps(run_id, _steps(3, 2))
    resumed = await _resume(ctx, "replay-2", connection.last_seq or 0)
    if isinstance(resumed, Outcome):
        return resumed
    live = await ctx.emit_steps(run_id, [("agent_completed", {"result": "ok"})])
    return await ctx.expect(
        [(resumed, missed + live)], "the 2 missed events, then the live one, each once"
    )


@case(
    "replay",
    3,
    "Repeated silent drops lose nothing",
    "three times: two events delivered, the connection silently dropped, two events into the "
    "void, resume from the last seq received; all connections together got every event once, "
    "in order",
    needs_replay=True,
)
async def repeated_drops(ctx: CaseContext) -> Outcome:
    run_id = await ctx.new_run("replay-3")
    connection = await ctx.connect("replay-3")
    connections = [connection]
    expected = await ctx.emit_steps(run_id, [("agent_started", {})])
    for cycle in range(3):
        expected += await ctx.emit_steps(run_id, _steps(10 * cycle, 2))
        await ctx.settle(lambda c=connection: len(c.messages) >= 1)  # type: ignore[misc]
        ctx.manager.drop(connection)
        expected += await ctx.emit_steps(run_id, _steps(10 * cycle + 5, 2))
        resumed = await _reconnect(ctx, connection)
        if isinstance(resumed, Outcome):
            return resumed
        connection = resumed
        connections.append(connection)
    expected += await ctx.emit_steps(run_id, [("agent_completed", {"result": "ok"})])
    await ctx.settle(lambda: sum(len(c.messages) for c in connections) >= len(expected))
    got = kinds(m for c in connections for m in c.messages)
    diff = describe_difference(expected, got)
    if diff:
        return Outcome.failed(f"across {len(connections)} connections: {diff}")
    return Outcome.ok(f"{len(expected)} events over 3 drops, each exactly once, in order")


@case(
    "replay",
    4,
    "Resuming with nothing missed replays nothing",
    "resume from the last seq received when nothing happened meanwhile: no replayed event "
    "(replaying the event at last_seq again is a duplicate), and later live events arrive once",
    needs_replay=True,
)
async def nothing_missed(ctx: CaseContext) -> Outcome:
    connection = await ctx.connect("replay-4")
    run_id = await ctx.new_run("replay-4")
    await ctx.emit_steps(run_id, [("agent_started", {}), *_steps(1, 2)])
    await ctx.settle(lambda: len(connection.messages) >= 3)
    resumed = await _reconnect(ctx, connection)
    if isinstance(resumed, Outcome):
        return resumed
    if resumed.messages:
        return Outcome.failed(
            f"resuming from seq {connection.last_seq} replayed {describe(resumed.messages)} "
            "the client already had"
        )
    live = await ctx.emit_steps(run_id, [*_steps(3, 1), ("agent_completed", {"result": "ok"})])
    return await ctx.expect([(resumed, live)], "nothing replayed; the live events arrived once")


@case(
    "replay",
    5,
    "A resumed stream starts at last_seq + 1 and stays contiguous",
    "two events, disconnect, two missed, resume from the last seq, two live: the resumed "
    "connection sees seq last_seq+1 … last_seq+4 with no gap or repeat",
    needs_replay=True,
)
async def contiguous_resume(ctx: CaseContext) -> Outcome:
    connection = await ctx.connect("replay-5")
    run_id = await ctx.new_run("replay-5")
    await ctx.emit_steps(run_id, [("agent_started", {}), *_steps(1, 1)])
    await ctx.settle(lambda: len(connection.messages) >= 2)
    last_seq = connection.last_seq
    if not isinstance(last_seq, int):
        return Outcome.non_strict("messages carry no int seq to resume from")
    await connection.close()
    await ctx.emit_steps(run_id, _steps(2, 2))
    resumed = await _resume(ctx, "replay-5", last_seq)
    if isinstance(resumed, Outcome):
        return resumed
    await ctx.emit_steps(run_id, [*_steps(4, 1), ("agent_completed", {"result": "ok"})])
    await ctx.settle(lambda: len(resumed.messages) >= 4)
    violations = check_thread_sequence(resumed.messages, after_seq=last_seq)
    seqs = [m.get("seq") for m in resumed.messages]
    if violations or len(seqs) != 4:
        detail = "; ".join(str(v) for v in violations[:4]) or f"{len(seqs)} events, not 4"
        return Outcome.failed(f"resumed after seq {last_seq}, saw seq {seqs}: {detail}")
    return Outcome.ok(f"resumed after seq {last_seq}: seq {seqs}")


@case(
    "replay",
    6,
    "A resume point the bridge cannot serve is reported, not answered with a silent gap",
    "replay(thread, 50) on a thread with three events (a seq the bridge never issued, as after "
    "a lost history): raises (e.g. ResyncRequired or InvalidResumePoint); returning a list is "
    "FAILED",
    needs_replay=True,
)
async def unservable_gap(ctx: CaseContext) -> Outcome:
    run_id = await ctx.new_run("replay-6")
    await ctx.emit_steps(run_id, [("agent_started", {}), *_steps(1, 2)])
    call = await ctx.call("replay", "replay-6", 50)
    if call.raised is not None:
        return Outcome.ok(f"replay('replay-6', 50) {call.outcome()}")
    return Outcome.failed(
        f"replay('replay-6', 50) {call.outcome()}: a client resuming from a point the log "
        "cannot serve believes it is up to date"
    )


@case(
    "replay",
    7,
    "A new subscriber of a quiet thread gets an empty replay",
    "replay(thread, 0) for a thread that never had an event returns nothing and does not raise",
    needs_replay=True,
)
async def quiet_thread(ctx: CaseContext) -> Outcome:
    call = await ctx.call("replay", "replay-7-never-used", 0)
    if call.raised is not None:
        return Outcome.failed(
            f"replay of a quiet thread {call.outcome()}: its first subscriber cannot connect"
        )
    if call.returned:
        return Outcome.failed(f"replay of a quiet thread returned {short(call.returned)}")
    return Outcome.ok(f"replay('replay-7-never-used', 0) {call.outcome()}")


_FIELDS = ("type", "thread_id", "run_id", "seq", "epoch", "agent_name", "payload")


@case(
    "replay",
    8,
    "Replayed events are the events that were sent live",
    "a second connection resuming from seq 0 after a full run gets messages equal to the live "
    "ones in type, thread_id, run_id, seq, epoch, agent_name and payload",
    needs_replay=True,
)
async def replay_equals_live(ctx: CaseContext) -> Outcome:
    live = await ctx.connect("replay-8")
    await ctx.full_run(await ctx.new_run("replay-8"))
    await ctx.settle(lambda: len(live.messages) >= 6)
    resumed = await _resume(ctx, "replay-8", 0)
    if isinstance(resumed, Outcome):
        return resumed
    if len(resumed.messages) != len(live.messages):
        return Outcome.failed(
            f"live got {describe(live.messages)}, replay got {describe(resumed.messages)}"
        )
    for index, (sent, replayed) in enumerate(zip(live.messages, resumed.messages, strict=True)):
        differs = [f for f in _FIELDS if sent.get(f) != replayed.get(f)]
        if differs:
            return Outcome.failed(
                f"message #{index + 1} ({sent.get('type')}) differs in {', '.join(differs)}"
            )
    return Outcome.ok(f"{len(live.messages)} replayed messages equal the live ones")


@case(
    "replay",
    9,
    "Replay returns a thread's concurrent runs in seq order",
    "two runs of one thread emitted concurrently with nobody connected, then a resume from "
    "seq 0: all twelve events, each run's in its order, seq ascending",
    needs_replay=True,
)
async def concurrent_runs(ctx: CaseContext) -> Outcome:
    runs = [await ctx.new_run("replay-9") for _ in range(2)]
    expected = await asyncio.gather(*(ctx.full_run(r) for r in runs))
    resumed = await _resume(ctx, "replay-9", 0)
    if isinstance(resumed, Outcome):
        return resumed
    got = kinds(resumed.messages)
    problems = []
    for run_id, run_expected in zip(runs, expected, strict=True):
        diff = describe_difference(run_expected, [k for k in got if k[0] == run_id])
        if diff:
            problems.append(f"run {run_id!r}: {diff}")
    seqs = [m.get("seq") for m in resumed.messages]
    if seqs != sorted(seqs, key=lambda s: s if isinstance(s, int) else -1) or len(seqs) != 12:
        problems.append(f"seq {seqs}")
    if problems:
        return Outcome.failed("; ".join(problems))
    return Outcome.ok("12 events replayed, each run in order, seq ascending")
