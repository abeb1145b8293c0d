"""The chat app's agent events reach the browser: run with ``pytest --wsbridge-strict``."""

from reference_impl import generate_run_id


async def test_a_run_streams_to_the_thread(ws_bridge, fake_connection_manager):
    browser = await fake_connection_manager.connect("thread_abc123")
    run_id = generate_run_id("thread_abc123")
    await ws_bridge.notify_agent_started(run_id, "planner")
    await ws_bridge.notify_tool_executing(run_id, "planner", "search")
    await ws_bridge.notify_tool_completed(run_id, "planner", "search")
    await ws_bridge.notify_agent_completed(run_id, "planner")
    assert [m["type"] for m in browser.messages] == [
        "agent_started",
        "tool_executing",
        "tool_completed",
        "agent_completed",
    ]


async def test_a_registered_run_reaches_its_thread(ws_bridge, fake_connection_manager):
    await fake_connection_manager.connect("thread_abc123")
    await ws_bridge.register_run("run_xyz789", "thread_abc123")
    await ws_bridge.notify_agent_thinking("run_xyz789", "planner", "looking it up")


async def test_the_browser_connects_late(ws_bridge, fake_connection_manager):
    run_id = generate_run_id("thread_abc123")
    await ws_bridge.notify_agent_started(run_id, "planner")  # nobody connected yet
    browser = await fake_connection_manager.connect("thread_abc123")
    await ws_bridge.notify_agent_completed(run_id, "planner")
    assert browser.messages[-1]["type"] == "agent_completed"
    # the plugin checks that agent_started is still there for a browser that resumes


async def test_a_reconnecting_browser_gets_what_it_missed(ws_bridge, fake_connection_manager):
    browser = await fake_connection_manager.connect("thread_abc123")
    run_id = generate_run_id("thread_abc123")
    await ws_bridge.notify_agent_started(run_id, "planner")
    await browser.close()
    await ws_bridge.notify_agent_thinking(run_id, "planner", "while the browser was away")
    browser = await browser.reconnect()
    assert [m["seq"] for m in browser.messages] == [2]


async def test_over_a_real_websocket(real_ws_server):
    browser = await real_ws_server.connect("thread_abc123")
    run_id = generate_run_id("thread_abc123")
    await real_ws_server.bridge.notify_agent_started(run_id, "planner")
    assert (await browser.receive(timeout=2))["type"] == "agent_started"
