"""Family 7, bad input: a clear exception, nothing half-sent, and the bridge keeps working.

A refused call must raise and send nothing (returning quietly is NON-STRICT, sending anything
is FAILED); a valid run right after must still arrive, with no seq burnt by the refused event.
"""

from __future__ import annotations

from typing import Any

from .harness import CaseContext
from .model import Outcome, Verdict, case

__all__: list[str] = []


async def _bad_run_id(ctx: CaseContext, thread_id: str, run_id: Any) -> Outcome:
    connection = await ctx.connect(thread_id)
    mark = len(ctx.sends)
    call = await ctx.emit("agent_started", run_id)
    outcome = await ctx.rejected(call, mark, f"run_id {run_id!r}")
    if outcome.verdict is Verdict.FAILED:
        return outcome
    broken = await ctx.still_works(thread_id, connection)
    return Outcome.failed(f"{outcome.observed}; then {broken}") if broken else outcome


async def _bad_event(
    ctx: CaseContext, thread_id: str, kind: str, fields: dict[str, Any]
) -> Outcome:
    """A started run, one bad ``kind`` event, then a valid one: refused, no seq burnt."""
    connection = await ctx.connect(thread_id)
    run_id = await ctx.new_run(thread_id)
    await ctx.emit_steps(run_id, [("agent_started", {})])
    mark = len(ctx.sends)
    call = await ctx.emit(kind, run_id, **fields)
    outcome = await ctx.rejected(call, mark, f"a {kind} with {', '.join(fields)} {_what(fields)}")
    if outcome.verdict is Verdict.FAILED:
        return outcome
    before = len(connection.messages)
    await ctx.emit_steps(run_id, [("agent_completed", {"result": "after"})])
    await ctx.settle(lambda: len(connection.messages) > before)
    if len(connection.messages) <= before:
        return Outcome.failed(f"{outcome.observed}; then a valid agent_completed never arrived")
    seqs = [s for s in (m.get("seq") for m in connection.messages) if isinstance(s, int)]
    if len(seqs) == len(connection.messages) and seqs != list(range(seqs[0], seqs[0] + len(seqs))):
        return Outcome.non_strict(
            f"{outcome.observed}; but the refused event burnt a seq (seq {seqs}): clients see a gap"
        )
    return outcome


def _what(fields: dict[str, Any]) -> str:
    value = list(fields.values())[-1]
    if isinstance(value, str):
        return f"of {len(value.encode()) // 1024} KiB"
    return "that is not JSON-serializable"


@case(
    "badinput",
    1,
    "A None run id is refused",
    "notify_agent_started(None, …) raises and sends nothing; a valid run afterwards arrives",
)
async def none_run_id(ctx: CaseContext) -> Outcome:
    return await _bad_run_id(ctx, "badinput-1", None)


@case(
    "badinput",
    2,
    "An empty run id is refused",
    "notify_agent_started('', …) raises and sends nothing; a valid run afterwards arrives",
)
async def empty_run_id(ctx: CaseContext) -> Outcome:
    return await _bad_run_id(ctx, "badinput-2", "")


@case(
    "badinput",
    3,
    "A non-string run id is refused",
    "notify_agent_started(42, …) raises and sends nothing; a valid run afterwards arrives",
)
async def int_run_id(ctx: CaseContext) -> Outcome:
    return await _bad_run_id(ctx, "badinput-3", 42)


@case(
    "badinput",
    4,
    "A result that is not JSON-serializable is refused before anything is sent",
    "notify_tool_completed(…, result=object()) raises and sends nothing; the run's next event "
    "arrives with the next seq (none burnt; a gap is NON-STRICT)",
)
async def unserializable_result(ctx: CaseContext) -> Outcome:
    fields = {"tool_name": "t", "result": object()}
    return await _bad_event(ctx, "badinput-4", "tool_completed", fields)


@case(
    "badinput",
    5,
    "Tool parameters that are not JSON-serializable are refused",
    "notify_tool_executing(…, parameters={'callback': print}) raises and sends nothing; the "
    "run's next event arrives with the next seq",
)
async def unserializable_parameters(ctx: CaseContext) -> Outcome:
    fields = {"tool_name": "t", "parameters": {"callback": print}}
    return await _bad_event(ctx, "badinput-5", "tool_executing", fields)


@case(
    "badinput",
    6,
    "An oversized payload is refused",
    "notify_agent_thinking with 2 MiB of reasoning (over the 1 MiB frame limit of websockets "
    "clients) raises and sends nothing; the run's next event arrives",
)
async def oversized(ctx: CaseContext) -> Outcome:
    fields = {"reasoning": "x" * (2 * 1024 * 1024)}
    return await _bad_event(ctx, "badinput-6", "agent_thinking", fields)


@case(
    "badinput",
    7,
    "register_run refuses a missing run id or thread id",
    "register_run(None, thread) and register_run(run, '') raise; accepting them quietly is "
    "NON-STRICT",
)
async def bad_registration(ctx: CaseContext) -> Outcome:
    calls = [await ctx.register(None, "badinput-7"), await ctx.register("job-7", "")]
    quiet = [c for c in calls if c.raised is None]
    words = "; ".join(f"register_run{c.args!r} {c.outcome()}" for c in calls)
    return Outcome.non_strict(words) if quiet else Outcome.ok(words)


@case(
    "badinput",
    8,
    "replay refuses a resume point that is not a seq",
    "replay(thread, -1) and replay(thread, '3') raise; answering them is NON-STRICT",
    needs_replay=True,
)
async def bad_resume_point(ctx: CaseContext) -> Outcome:
    await ctx.full_run(await ctx.new_run("badinput-8"))
    calls = [
        await ctx.call("replay", "badinput-8", -1),
        await ctx.call("replay", "badinput-8", "3"),
    ]
    quiet = [c for c in calls if c.raised is None]
    words = "; ".join(f"replay{c.args!r} {c.outcome()}" for c in calls)
    return Outcome.non_strict(words) if quiet else Outcome.ok(words)
