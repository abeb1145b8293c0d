"""Family 6, isolation: no event of one thread (or one user) ever reaches another."""

from __future__ import annotations

import asyncio

from reference_impl import generate_run_id

from ..fakes import FakeConnection
from .harness import CaseContext, describe
from .model import Outcome, Verdict, case

__all__: list[str] = []


def _leaks(connections: list[FakeConnection]) -> list[str]:
    """Messages a connection got that belong to another thread."""
    found = []
    for connection in connections:
        foreign = [m for m in connection.messages if m.get("thread_id") != connection.thread_id]
        if foreign:
            owners = sorted({str(m.get("thread_id")) for m in foreign})
            found.append(f"thread {connection.thread_id!r} got {len(foreign)} event(s) of {owners}")
    return found


def _stray_sends(ctx: CaseContext, owner: dict[str, str]) -> list[str]:
    """``send_to_thread`` calls whose thread is not the run's thread."""
    stray = [
        f"{m.get('type')} of run {m.get('run_id')!r} sent to {s.thread_id!r}"
        for s, m in ((s, s.message or {}) for s in ctx.sends)
        if owner.get(str(m.get("run_id")), s.thread_id) != s.thread_id
    ]
    return stray[:4]


async def _isolated(ctx: CaseContext, threads: list[str], *, concurrent: bool) -> Outcome:
    connections = [await ctx.connect(t) for t in threads]
    runs = {generate_run_id(t): t for t in threads}
    if concurrent:
        expected = await asyncio.gather(*(ctx.full_run(r) for r in runs))
    else:
        expected = [await ctx.full_run(r) for r in runs]
    outcome = await ctx.expect(list(zip(connections, expected, strict=True)), "")
    problems = _leaks(connections) + _stray_sends(ctx, runs)
    if problems:
        return Outcome.failed("; ".join(problems[:5]))
    if outcome.verdict is Verdict.FAILED:
        return outcome
    return Outcome.ok(f"{len(threads)} threads, each got only its own run's 6 events")


@case(
    "isolation",
    1,
    "Two threads' runs stay apart",
    "a run in thread A, then one in thread B, both connected: each connection gets only its "
    "own run's events, and every send goes to the run's thread",
)
async def two_threads(ctx: CaseContext) -> Outcome:
    return await _isolated(ctx, ["isolation-1-a", "isolation-1-b"], concurrent=False)


@case(
    "isolation",
    2,
    "Concurrent runs in eight threads stay apart",
    "eight threads, one run each, emitted concurrently: each connection gets exactly its own "
    "run's events and every message's thread_id is the connection's thread",
)
async def eight_threads(ctx: CaseContext) -> Outcome:
    return await _isolated(ctx, [f"isolation-2-{n}" for n in range(8)], concurrent=True)


@case(
    "isolation",
    3,
    "Thread ids that are prefixes of each other stay apart",
    "threads 'chat_1', 'chat_10' and 'chat_1_x' with standard run ids: no event crosses "
    "between them (no prefix matching)",
)
async def prefixes(ctx: CaseContext) -> Outcome:
    return await _isolated(ctx, ["chat_1", "chat_10", "chat_1_x"], concurrent=True)


@case(
    "isolation",
    4,
    "Thread ids differing only in case stay apart",
    "threads 'Chat-9' and 'chat-9': no event crosses between them (no case folding)",
)
async def case_folding(ctx: CaseContext) -> Outcome:
    return await _isolated(ctx, ["Chat-9", "chat-9"], concurrent=False)


@case(
    "isolation",
    5,
    "Runs of different users stay apart",
    "alice and bob each own a thread (created through the orchestrator, runs started by it and "
    "registered): alice's connections get only alice's events, bob's only bob's",
)
async def users(ctx: CaseContext) -> Outcome:
    orchestrator = ctx.orchestrator
    owners = {"alice": "isolation-5-alice", "bob": "isolation-5-bob"}
    connections = []
    runs: dict[str, str] = {}
    for user, thread_id in owners.items():
        orchestrator.create_thread(user, thread_id)
        connections.append(await ctx.connect(thread_id, user_id=user))
        run_id = orchestrator.start_run(thread_id)
        await ctx.must(await ctx.register(run_id, thread_id))
        runs[run_id] = thread_id
    expected = await asyncio.gather(*(ctx.full_run(r) for r in runs))
    outcome = await ctx.expect(list(zip(connections, expected, strict=True)), "")
    problems = [
        f"user {c.user_id}: {leak}" for c in connections for leak in _leaks([c])
    ] + _stray_sends(ctx, runs)
    if problems:
        return Outcome.failed("; ".join(problems[:5]))
    if outcome.verdict is Verdict.FAILED:
        return outcome
    return Outcome.ok("alice and bob each got only their own run's events")


@case(
    "isolation",
    6,
    "An event for a thread nobody watches reaches no other thread",
    "thread B is connected, thread A is not; a full run in A: B gets nothing and every send "
    "goes to A",
)
async def unwatched(ctx: CaseContext) -> Outcome:
    watcher = await ctx.connect("isolation-6-b")
    run_id = await ctx.new_run("isolation-6-a")
    await ctx.full_run(run_id)
    await ctx.settle()
    problems = _stray_sends(ctx, {run_id: "isolation-6-a"})
    if watcher.messages:
        problems.insert(0, f"thread B got {describe(watcher.messages)}")
    if problems:
        return Outcome.failed("; ".join(problems))
    return Outcome.ok("thread B got nothing; every send went to thread A")


@case(
    "isolation",
    7,
    "Replay returns only the thread's own events",
    "runs in threads A and B with nobody connected; replay(B, 0) holds B's events only",
    needs_replay=True,
)
async def replay_per_thread(ctx: CaseContext) -> Outcome:
    runs = {await ctx.new_run(t): t for t in ("isolation-7-a", "isolation-7-b")}
    await asyncio.gather(*(ctx.full_run(r) for r in runs))
    call = await ctx.call("replay", "isolation-7-b", 0)
    if call.raised is not None:
        return Outcome.failed(f"replay('isolation-7-b', 0) {call.outcome()}")
    replayed = [dict(m) if isinstance(m, dict) else {} for m in call.returned or []]
    foreign = [m for m in replayed if m.get("thread_id") != "isolation-7-b"]
    if foreign or len(replayed) != 6:
        return Outcome.failed(
            f"replay of B returned {describe(replayed)}, {len(foreign)} of another thread"
        )
    return Outcome.ok("replay of B returned B's 6 events only")


@case(
    "isolation",
    8,
    "Every send names the run's thread and the message says so",
    "a mixed workload over three threads, some connected, some not: every send_to_thread call "
    "targets the run's thread and carries that thread_id",
)
async def every_send(ctx: CaseContext) -> Outcome:
    threads = ["isolation-8-a", "isolation-8-b", "isolation-8-c"]
    await ctx.connect(threads[0])
    await ctx.connect(threads[2])
    runs = {await ctx.new_run(t): t for t in threads}
    await asyncio.gather(*(ctx.full_run(r) for r in runs))
    await ctx.settle()
    problems = _stray_sends(ctx, runs)
    problems += [
        f"a message of {s.thread_id!r} says thread_id {(s.message or {}).get('thread_id')!r}"
        for s in ctx.sends
        if (s.message or {}).get("thread_id") != s.thread_id
    ][:3]
    if problems:
        return Outcome.failed("; ".join(problems))
    return Outcome.ok(f"{len(ctx.sends)} sends, each to its run's thread")
