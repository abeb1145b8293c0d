"""Family 4, lifecycle: what a connection sees keeps each run's order and the thread's seq.

Judged with the reference's own rules (:mod:`reference_impl.lifecycle`). An emitter that breaks
the lifecycle is the caller's mistake: the bridge may refuse the event (raise) or deliver it
in order; losing it silently is FAILED.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from reference_impl import check_run_lifecycle, check_thread_sequence
from reference_impl.agui import Validator
from reference_impl.agui.dialect import to_agui

from .harness import CaseContext, describe, kinds, label
from .model import Outcome, case

__all__: list[str] = []


def _by_run(messages: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    runs: dict[str, list[Mapping[str, Any]]] = {}
    for message in messages:
        runs.setdefault(str(message.get("run_id")), []).append(message)
    return runs


async def _runs_keep_lifecycle(ctx: CaseContext, terminal: str, runs: int) -> Outcome:
    connection = await ctx.connect(f"lifecycle-{terminal}")
    run_ids = [await ctx.new_run(f"lifecycle-{terminal}") for _ in range(runs)]
    await asyncio.gather(*(ctx.full_run(r, terminal=terminal) for r in run_ids))
    await ctx.settle(lambda: len(connection.messages) >= 6 * runs)
    problems = []
    by_run = _by_run(connection.messages)
    for run_id in run_ids:
        events = by_run.get(run_id, [])
        if not events:
            problems.append(f"run {run_id!r}: nothing arrived")
            continue
        problems += [
            f"run {run_id!r}: {v}" for v in check_run_lifecycle(events, require_terminal=True)
        ]
        if events[-1].get("type") != terminal:
            problems.append(f"run {run_id!r}: last event is {events[-1].get('type')}")
    if problems:
        return Outcome.failed("; ".join(problems[:5]))
    return Outcome.ok(f"{runs} run(s): agent_started first, {terminal} last, nothing after")


async def _misuse(
    ctx: CaseContext, thread_id: str, before: list[tuple[str, dict[str, Any]]], bad: str
) -> Outcome:
    """Emit ``before`` then the out-of-order ``bad`` event (its type and fields from a step)."""
    connection = await ctx.connect(thread_id)
    run_id = await ctx.new_run(thread_id)
    expected = await ctx.emit_steps(run_id, before)
    kind, fields = _STEPS[bad]
    mark = len(ctx.sends)
    call = await ctx.emit(kind, run_id, **fields)
    await ctx.settle(lambda: len(connection.messages) >= len(expected) + 1)
    got = kinds(connection.messages)
    wanted = (run_id, label(kind, fields))
    if call.raised is not None:
        if ctx.sends[mark:]:
            return Outcome.failed(f"{kind} {call.outcome()} but was sent anyway")
        return Outcome.ok(f"the out-of-order {kind} was refused: {call.outcome()}")
    if got == [*expected, wanted]:
        return Outcome.ok(f"the out-of-order {kind} was accepted and delivered in emission order")
    if wanted not in got:
        return Outcome.failed(
            f"{kind} {call.outcome()} without raising and never arrived (silently dropped); "
            f"the connection got {describe(connection.messages)}"
        )
    return Outcome.failed(f"delivered out of emission order: {[k for _, k in got]}")


_STEPS: dict[str, tuple[str, dict[str, Any]]] = {
    "after-terminal": ("agent_thinking", {"reasoning": "too late", "step_number": 9}),
    "before-start": ("agent_thinking", {"reasoning": "too early", "step_number": 0}),
    "unpaired": ("tool_completed", {"tool_name": "never-started", "result": 1}),
}


@case(
    "lifecycle",
    1,
    "A run starts with agent_started",
    "a full run: on the connection, its first event is agent_started and the run passes the "
    "lifecycle rules",
)
async def started_first(ctx: CaseContext) -> Outcome:
    return await _runs_keep_lifecycle(ctx, "agent_completed", 1)


@case(
    "lifecycle",
    2,
    "agent_completed is each run's last event",
    "two concurrent runs ending in agent_completed: it is the last event of each run on the "
    "connection, and nothing of the run follows it",
)
async def completed_last(ctx: CaseContext) -> Outcome:
    return await _runs_keep_lifecycle(ctx, "agent_completed", 2)


@case(
    "lifecycle",
    3,
    "agent_error is a terminal event like agent_completed",
    "two concurrent runs ending in agent_error: it is the last event of each run on the connection",
)
async def error_last(ctx: CaseContext) -> Outcome:
    return await _runs_keep_lifecycle(ctx, "agent_error", 2)


@case(
    "lifecycle",
    4,
    "An event after the terminal one is refused or delivered in order, never lost",
    "agent_thinking after agent_completed: the call raises and nothing is sent, or the event "
    "is delivered after the terminal event; dropped silently or reordered is FAILED",
)
async def after_terminal(ctx: CaseContext) -> Outcome:
    before = [("agent_started", {}), ("agent_completed", {"result": "done"})]
    return await _misuse(ctx, "lifecycle-4", before, "after-terminal")


@case(
    "lifecycle",
    5,
    "Interleaved tool calls keep their pairs and order",
    "tool_executing a, tool_executing b, tool_completed b, tool_completed a: delivered in that "
    "order and every tool_completed follows its tool_executing",
)
async def tool_pairs(ctx: CaseContext) -> Outcome:
    connection = await ctx.connect("lifecycle-5")
    run_id = await ctx.new_run("lifecycle-5")
    expected = await ctx.emit_steps(
        run_id,
        [
            ("agent_started", {}),
            ("tool_executing", {"tool_name": "a"}),
            ("tool_executing", {"tool_name": "b"}),
            ("tool_completed", {"tool_name": "b", "result": "B"}),
            ("tool_completed", {"tool_name": "a", "result": "A"}),
            ("agent_completed", {"result": "ok"}),
        ],
    )
    outcome = await ctx.expect([(connection, expected)], "tools paired and in emission order")
    violations = check_run_lifecycle(connection.messages, require_terminal=True)
    if violations:
        return Outcome.failed("; ".join(str(v) for v in violations[:4]))
    return outcome


def _seqs(messages: Sequence[Mapping[str, Any]]) -> list[int] | None:
    """Every message's int ``seq``, or ``None`` if one has none."""
    seqs = [m.get("seq") for m in messages]
    ints = [s for s in seqs if isinstance(s, int) and not isinstance(s, bool)]
    return ints if len(ints) == len(seqs) else None


async def _seq_contiguous(ctx: CaseContext, thread_id: str, runs: int) -> Outcome:
    connection = await ctx.connect(thread_id)
    for _ in range(runs):
        await ctx.full_run(await ctx.new_run(thread_id))
    await ctx.settle(lambda: len(connection.messages) >= 6 * runs)
    seqs = _seqs(connection.messages)
    if not connection.messages:
        return Outcome.failed("nothing arrived")
    if seqs is None:
        return Outcome.non_strict(
            f"messages carry no int seq ({[m.get('seq') for m in connection.messages][:6]}): "
            "a client cannot detect a gap or resume"
        )
    first = seqs[0]
    violations = check_thread_sequence(connection.messages, after_seq=first - 1)
    if violations or len(seqs) != 6 * runs:
        detail = "; ".join(str(v) for v in violations[:4]) or f"{len(seqs)} events"
        return Outcome.failed(f"seq {seqs[:14]}: {detail}")
    return Outcome.ok(f"seq {first}..{seqs[-1]}, contiguous over {runs} run(s)")


@case(
    "lifecycle",
    6,
    "A thread's seq is contiguous within a run",
    "a full run: the connection sees seq n, n+1, …, n+5 (no gap, no repeat)",
)
async def seq_in_run(ctx: CaseContext) -> Outcome:
    return await _seq_contiguous(ctx, "lifecycle-6", 1)


@case(
    "lifecycle",
    7,
    "A thread's seq continues across its runs",
    "two runs of one thread, one after the other: one contiguous seq over all twelve events "
    "(seq is per thread, not per run)",
)
async def seq_across_runs(ctx: CaseContext) -> Outcome:
    return await _seq_contiguous(ctx, "lifecycle-7", 2)


@case(
    "lifecycle",
    8,
    "Each thread's seq is its own",
    "runs in two threads, emitted alternately: each thread's connection sees a contiguous seq "
    "(a counter shared by all threads leaves gaps)",
)
async def seq_per_thread(ctx: CaseContext) -> Outcome:
    threads = ["lifecycle-8-x", "lifecycle-8-y"]
    connections = [await ctx.connect(t) for t in threads]
    runs = [await ctx.new_run(t) for t in threads]
    await asyncio.gather(*(ctx.full_run(r) for r in runs))
    await ctx.settle(lambda: all(len(c.messages) >= 6 for c in connections))
    problems = []
    for connection in connections:
        seqs = _seqs(connection.messages)
        if not seqs:
            return Outcome.non_strict(f"thread {connection.thread_id!r}: no int seq")
        violations = check_thread_sequence(connection.messages, after_seq=seqs[0] - 1)
        if violations or len(seqs) != 6:
            problems.append(f"thread {connection.thread_id!r} saw seq {seqs}")
    if problems:
        return Outcome.failed("; ".join(problems))
    return Outcome.ok("each thread's 6 events carry a contiguous seq of their own")


@case(
    "lifecycle",
    9,
    "An event before agent_started is refused or delivered in order, never lost",
    "agent_thinking as a run's first event: the call raises and nothing is sent, or it is "
    "delivered; dropped silently is FAILED",
)
async def before_start(ctx: CaseContext) -> Outcome:
    return await _misuse(ctx, "lifecycle-9", [], "before-start")


@case(
    "lifecycle",
    10,
    "A tool_completed without its tool_executing is refused or delivered, never lost",
    "tool_completed for a tool that never started: the call raises and nothing is sent, or it "
    "is delivered in order; dropped silently is FAILED",
)
async def unpaired_tool(ctx: CaseContext) -> Outcome:
    return await _misuse(ctx, "lifecycle-10", [("agent_started", {})], "unpaired")


@case(
    "lifecycle",
    11,
    "A full run reads as a conformant AG-UI 1.1 run (the ag-ui dialect)",
    "the six events of a well-formed run, as the reference server's ag-ui dialect writes them "
    "(reference_impl.agui.dialect), judged by the AG-UI 1.1 validator: OK when no rule is "
    "broken",
)
async def agui_conformant(ctx: CaseContext) -> Outcome:
    connection = await ctx.connect("lifecycle-11")
    await ctx.full_run(await ctx.new_run("lifecycle-11"))
    await ctx.settle(lambda: len(connection.messages) >= 6)
    if len(connection.messages) < 6:
        return Outcome.failed(f"only {len(connection.messages)} of the run's 6 events arrived")
    events = [event for message in connection.messages for event in to_agui(message)]
    validator = Validator()
    validator.feed_many(events)
    validator.finish()
    broken = validator.report().violations
    if broken:
        shown = "; ".join(str(finding) for finding in broken[:5])
        return Outcome.failed(f"{len(broken)} AG-UI rule(s) broken: {shown}")
    return Outcome.ok(f"the run's {len(events)} AG-UI events break no 1.1 rule")
