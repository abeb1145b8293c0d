"""The plugin's checks against the AG-UI dialect: ``real_ws_server`` clients subscribed with
``dialect="ag-ui"`` feed the delivery check (the ledger records each seq's native event once,
at its last part), and ``wsbridge_agui`` judges the AG-UI events they received."""

from __future__ import annotations

import pytest
from wsbridge_projects import make_project

AGUI_DIALECT_TESTS = """
import pytest
from reference_impl import generate_run_id

pytestmark = pytest.mark.asyncio

async def emit_run(bridge, thread, *, late=False):
    run = generate_run_id(thread)
    await bridge.notify_agent_started(run, "a")
    await bridge.notify_agent_thinking(run, "a", "thinking", 1, 50.0)
    await bridge.notify_tool_executing(run, "a", "weather", {"city": "Lisbon"})
    await bridge.notify_tool_completed(run, "a", "weather", {"sky": "clear"})
    await bridge.notify_agent_completed(run, "a", "done")
    if late:
        await bridge.notify_custom(run, "a", {"name": "late", "value": 1})

async def frames_until(client, kind):
    frames = []
    while not frames or frames[-1]["event"]["type"] != kind:
        frames.append(await client.receive(timeout=10))
    return frames

@pytest.mark.wsbridge_agui
async def test_a_native_run_in_the_agui_dialect(real_ws_server, agui_stream):
    live = await real_ws_server.connect("t1", dialect="ag-ui")
    await emit_run(real_ws_server.bridge, "t1")
    frames = await frames_until(live, "RUN_FINISHED")
    assert len(frames) == 7 and {f["seq"] for f in frames} == {1, 2, 3, 4, 5}
    resumed = await real_ws_server.connect("t1", last_seq=0, dialect="ag-ui")
    assert await frames_until(resumed, "RUN_FINISHED") == frames
    agui_stream.judge([f["event"] for f in frames], source="t1 in ag-ui")

@pytest.mark.wsbridge_agui
async def test_an_event_after_the_run_closed(real_ws_server, agui_stream):
    client = await real_ws_server.connect("t2", dialect="ag-ui")
    await emit_run(real_ws_server.bridge, "t2", late=True)
    frames = await frames_until(client, "RUN_FINISHED")
    frames.append(await client.receive(timeout=10))
    agui_stream.judge([f["event"] for f in frames], source="t2 in ag-ui")

async def test_an_agui_client_that_reads_nothing_still_counts(real_ws_server):
    await real_ws_server.connect("t3", dialect="ag-ui")
    await emit_run(real_ws_server.bridge, "t3")
"""


def test_the_plugins_checks_judge_the_agui_dialect(pytester: pytest.Pytester) -> None:
    make_project(pytester, AGUI_DIALECT_TESTS)
    result = pytester.runpytest("--wsbridge-strict")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_an_event_after_the_run_closed*",
            "*wsbridge_agui: 1 AG-UI stream(s) not conformant*",
            "*lifecycle.after-close*",
        ]
    )
    # Every native event reached the ag-ui clients once per connection: no delivery violation.
    result.stdout.fnmatch_lines(["*violations by check: delivery 0, threads 0*"])
