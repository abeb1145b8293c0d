"""Family 2, thread resolution: registry, then the standard run-id format, else raise.

Never a fallback to the run id, never a guess from ``split("_")``.
"""

from __future__ import annotations

from reference_impl import generate_run_id

from .harness import CaseContext, describe
from .model import Outcome, case

__all__: list[str] = []


async def _reaches(ctx: CaseContext, thread_id: str, run_id: str, *, register: bool) -> Outcome:
    connection = await ctx.connect(thread_id)
    if register:
        await ctx.must(await ctx.register(run_id, thread_id))
    expected = await ctx.full_run(run_id)
    outcome = await ctx.expect([(connection, expected)], f"all 6 events reached {thread_id!r}")
    strays = sorted({s.thread_id for s in ctx.sends if s.thread_id != thread_id})
    if strays:
        return Outcome.failed(f"{outcome.observed}; but the bridge also sent to {strays}")
    return outcome


@case(
    "resolution",
    1,
    "A registered non-standard run id reaches its registered thread",
    "register_run('job-7f3a', thread), then a full run under 'job-7f3a': every event goes to "
    "that thread and nowhere else",
)
async def registered_nonstandard(ctx: CaseContext) -> Outcome:
    return await _reaches(ctx, "resolution-1", "job-7f3a", register=True)


@case(
    "resolution",
    2,
    "A thread id with underscores is parsed from a standard run id",
    "thread 'user_42_chat_7', run id from generate_run_id, never registered: every event "
    "reaches 'user_42_chat_7' (a split('_') parser sends to '42')",
)
async def underscores(ctx: CaseContext) -> Outcome:
    return await _reaches(ctx, "user_42_chat_7", generate_run_id("user_42_chat_7"), register=False)


@case(
    "resolution",
    3,
    "A thread id containing '_run_' is parsed from a standard run id",
    "thread 'a_run_b_run_1_c', unregistered standard run id: every event reaches exactly that "
    "thread (the parser anchors on the suffix, from the right)",
)
async def run_inside(ctx: CaseContext) -> Outcome:
    thread_id = "a_run_b_run_1_c"
    return await _reaches(ctx, thread_id, generate_run_id(thread_id), register=False)


@case(
    "resolution",
    4,
    "A thread id that starts with 'thread_' is parsed from a standard run id",
    "thread 'thread_abc123' (run id 'thread_thread_abc123_run_…'), unregistered: every event "
    "reaches 'thread_abc123'",
)
async def thread_prefix(ctx: CaseContext) -> Outcome:
    thread_id = "thread_abc123"
    return await _reaches(ctx, thread_id, generate_run_id(thread_id), register=False)


@case(
    "resolution",
    5,
    "A unicode thread id is parsed from a standard run id",
    "thread 'чат_💬 1', unregistered standard run id: every event reaches that thread",
)
async def unicode_thread(ctx: CaseContext) -> Outcome:
    thread_id = "чат_💬 1"
    return await _reaches(ctx, thread_id, generate_run_id(thread_id), register=False)


@case(
    "resolution",
    6,
    "A legacy run id that was never registered is refused",
    "notify_agent_started('run_xyz789', …) with no registration: raises (e.g. "
    "ThreadResolutionError) and sends nothing; returning without sending is NON-STRICT; "
    "sending anywhere (the run-id fallback) is FAILED",
)
async def legacy_unregistered(ctx: CaseContext) -> Outcome:
    await ctx.connect("thread_abc123")
    mark = len(ctx.sends)
    call = await ctx.emit("agent_started", "run_xyz789")
    return await ctx.rejected(call, mark, "unregistered 'run_xyz789'")


@case(
    "resolution",
    7,
    "A run id that equals an existing thread id is not routed there unregistered",
    "thread 'shared-42' has a connection; a run 'shared-42' that was never registered emits: "
    "raises and nothing reaches 'shared-42' (NON-STRICT if it returns without sending)",
)
async def run_id_equals_thread(ctx: CaseContext) -> Outcome:
    await ctx.connect("shared-42")
    mark = len(ctx.sends)
    call = await ctx.emit("agent_started", "shared-42")
    return await ctx.rejected(call, mark, "unregistered run 'shared-42'")


@case(
    "resolution",
    8,
    "A registered run goes to its thread even when its id names another thread",
    "run 'chat-A' registered to thread 'chat-B', both threads connected: every event reaches "
    "'chat-B', nothing reaches 'chat-A'",
)
async def registered_beats_name(ctx: CaseContext) -> Outcome:
    other = await ctx.connect("chat-A")
    outcome = await _reaches(ctx, "chat-B", "chat-A", register=True)
    if other.messages:
        return Outcome.failed(f"thread 'chat-A' got {describe(other.messages)}")
    return outcome


@case(
    "resolution",
    9,
    "A malformed standard-looking run id is refused, not guessed",
    "'thread_abc_run_notanumber', never registered: raises and sends nothing (no guess of "
    "'abc'); NON-STRICT if it returns without sending",
)
async def malformed(ctx: CaseContext) -> Outcome:
    await ctx.connect("abc")
    mark = len(ctx.sends)
    call = await ctx.emit("agent_started", "thread_abc_run_notanumber")
    return await ctx.rejected(call, mark, "malformed 'thread_abc_run_notanumber'")


@case(
    "resolution",
    10,
    "Several runs registered to one thread all reach it",
    "three non-standard run ids registered to one thread, run one after another: the "
    "connection gets all eighteen events, run by run",
)
async def many_runs(ctx: CaseContext) -> Outcome:
    connection = await ctx.connect("resolution-10")
    expected = []
    for n in range(3):
        run_id = f"job-10-{n}"
        await ctx.must(await ctx.register(run_id, "resolution-10"))
        expected += await ctx.full_run(run_id)
    return await ctx.expect([(connection, expected)], "18 events, run by run")


@case(
    "resolution",
    11,
    "Registering the same run to the same thread twice is harmless",
    "register_run(run, thread) twice: no error, and each event of the run arrives once",
)
async def register_twice(ctx: CaseContext) -> Outcome:
    connection = await ctx.connect("resolution-11")
    for _ in range(2):
        await ctx.must(await ctx.register("job-11", "resolution-11"))
    expected = await ctx.full_run("job-11")
    return await ctx.expect([(connection, expected)], "6 events, each once")


@case(
    "resolution",
    12,
    "Re-registering a run to a second thread does not split it",
    "register_run(run, A) then register_run(run, B): raising is OK; if accepted, every event "
    "goes to exactly one of the threads (INFORMATIONAL: which); to both or neither is FAILED",
)
async def reregister(ctx: CaseContext) -> Outcome:
    first = await ctx.connect("resolution-12-a")
    second = await ctx.connect("resolution-12-b")
    await ctx.must(await ctx.register("job-12", "resolution-12-a"))
    again = await ctx.register("job-12", "resolution-12-b")
    if again.raised is not None:
        return Outcome.ok(f"the second register_run {again.outcome()}")
    await ctx.full_run("job-12")
    await ctx.settle(lambda: len(first.messages) + len(second.messages) >= 6)
    counts = {"resolution-12-a": len(first.messages), "resolution-12-b": len(second.messages)}
    if sorted(counts.values()) == [0, 6]:
        winner = next(t for t, n in counts.items() if n == 6)
        return Outcome.informational(
            f"the second register_run was accepted; every event went to {winner!r}"
        )
    return Outcome.failed(f"the second register_run was accepted; events per thread: {counts}")
