"""The plugin's checks catch each way a downstream bridge loses events, and only those."""

from __future__ import annotations

import pytest
from wsbridge_projects import make_project

REFERENCE_TESTS = """
import asyncio
import pytest
from reference_impl import WebSocketBridgeAdapter, generate_run_id

pytestmark = pytest.mark.asyncio

async def test_full_run_with_reconnect(ws_bridge, fake_connection_manager):
    run = generate_run_id("thread_abc123")
    early = await fake_connection_manager.connect("thread_abc123")
    await ws_bridge.notify_agent_started(run, "planner")
    await ws_bridge.notify_agent_thinking(run, "planner", "step one")
    resumed = await early.reconnect()
    await ws_bridge.notify_tool_executing(run, "planner", "search")
    await ws_bridge.notify_tool_completed(run, "planner", "search", result={"hits": 1})
    await ws_bridge.notify_agent_completed(run, "planner")
    assert [m["seq"] for m in resumed.messages] == [3, 4, 5]

async def test_buffered_until_late_subscriber(ws_bridge):
    await ws_bridge.register_run("run_xyz789", "thread_abc123")
    await ws_bridge.notify_agent_thinking("run_xyz789", "planner", "nobody listens yet")

async def test_two_connections_are_not_duplicates(ws_bridge, fake_connection_manager):
    first = await fake_connection_manager.connect("t")
    second = await fake_connection_manager.connect("t")
    run = generate_run_id("t")
    await ws_bridge.notify_agent_started(run, "a")
    await ws_bridge.notify_agent_completed(run, "a")
    assert len(first.messages) == len(second.messages) == 2

async def test_failed_send_is_buffered(ws_bridge, fake_connection_manager):
    await fake_connection_manager.connect("t")
    fake_connection_manager.fail_next_sends(1)
    await ws_bridge.notify_agent_started(generate_run_id("t"), "a")

async def test_app_holding_its_own_reference(ws_bridge):
    adapter = WebSocketBridgeAdapter("planner")
    adapter.set_websocket_bridge(ws_bridge, generate_run_id("t"))
    await adapter.emit_agent_started()

async def test_unknown_run_raises(ws_bridge):
    with pytest.raises(LookupError):
        await ws_bridge.notify_agent_started("run_xyz789", "planner")
"""


def test_reference_bridge_passes_strict(pytester: pytest.Pytester) -> None:
    make_project(pytester, REFERENCE_TESTS)
    result = pytester.runpytest("--wsbridge-strict")
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(
        [
            "*wsbridge: factory reference_impl:create_bridge, strict on*",
            "*tests checked: 6 (0 with violations)*",
            "*events emitted: 10, delivered: 10*",
            "*violations by check: delivery 0, threads 0, fail_fast 0, lifecycle 0*",
        ]
    )


FALLBACK_TESTS = """
import pytest

async def emit_thinking(bridge, fake_connection_manager):
    connection = await fake_connection_manager.connect("thread_abc123")
    await bridge.register_run("run_xyz789", "thread_abc123")
    await bridge.notify_agent_thinking("run_xyz789", "planner", "reaches nobody")
    assert connection.messages == []

@pytest.mark.asyncio
async def test_strict(ws_bridge, fake_connection_manager):
    await emit_thinking(ws_bridge, fake_connection_manager)

@pytest.mark.asyncio
@pytest.mark.wsbridge_threads
async def test_threads_marker(ws_bridge, fake_connection_manager):
    await emit_thinking(ws_bridge, fake_connection_manager)

@pytest.mark.asyncio
@pytest.mark.wsbridge_threads
async def test_unregistered_run_accepted(ws_bridge):
    await ws_bridge.notify_agent_started("run_nothread", "planner")
"""


def test_run_id_fallback_fails_strict_and_threads(pytester: pytest.Pytester) -> None:
    make_project(pytester, FALLBACK_TESTS, ini="wsbridge_factory = bridges:fallback")
    result = pytester.runpytest("--wsbridge-strict", "-k", "strict")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*[[]delivery[]] run 'run_xyz789' (thread 'thread_abc123'): events never reached*",
            "*- agent_thinking [[]index 0, *]: sent to thread 'run_xyz789' instead*",
            "*[[]threads[]] run 'run_xyz789' (thread 'thread_abc123'): events routed to another"
            " thread than the run's (registered with register_run)",
            "*- agent_thinking [[]index 0, emitted at +*s]: sent to thread 'run_xyz789' (the run"
            " id itself: the run-id fallback), not to 'thread_abc123'",
            "*[[]fail_fast[]] factory bridges:fallback must raise*",
        ]
    )
    result = pytester.runpytest("-k", "not strict")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*sent to thread 'run_xyz789' (the run id itself: the run-id fallback)*",
            "*[[]threads[]] run 'run_nothread' (no thread): notify accepted events for a run"
            " with no thread*",
            "*agent_started [[]index 0, *]: accepted (returned False) instead of raising*"
            "sent to thread 'run_nothread'",
        ]
    )
    result.stdout.no_fnmatch_line("*[[]delivery[]]*")  # only the marked check runs


FAIL_FAST_TESTS = """
import pytest

@pytest.mark.wsbridge_fail_fast
def test_one():
    pass

@pytest.mark.wsbridge_fail_fast
def test_two():
    pass
"""


def test_optional_orchestrator_fails_fail_fast_once_per_session(
    pytester: pytest.Pytester,
) -> None:
    make_project(pytester, FAIL_FAST_TESTS, ini="wsbridge_factory = bridges:no_orchestrator_check")
    result = pytester.runpytest("--wsbridge-report=r.json")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*[[]fail_fast[]] factory bridges:no_orchestrator_check must raise within the init"
            " timeout (0.5s) when the orchestrator is None, unhealthy, hanging or not an"
            " orchestrator",
            "*- orchestrator=None (WSB-3.1): the factory returned a AgentWebSocketBridge after"
            " *s instead of raising*",
            "*- an unhealthy orchestrator (health_check() is False) (WSB-3.2): the factory"
            " returned*",
            "*- a hanging orchestrator (no method ever returns) (WSB-3.3): the factory returned*",
            "*- an unhealthy orchestrator (every method raises) (WSB-3.4): the factory returned*",
            "*- orchestrator=object() (not an orchestrator) (WSB-3.6): the factory returned*",
        ]
    )
    # Reported on every test. Count the failure sections only: with CI set, pytest repeats the
    # whole message in the short summary too.
    sections = result.stdout.str().split("short test summary info")[0]
    assert sections.count("[fail_fast]") == 2


def test_reference_factory_passes_fail_fast_and_a_blocking_one_hangs(
    pytester: pytest.Pytester,
) -> None:
    make_project(
        pytester,
        FAIL_FAST_TESTS
        + """
@pytest.mark.wsbridge_fail_fast
@pytest.mark.parametrize("wsbridge_factory", ["bridges:blocking"])
def test_blocking(wsbridge_factory):
    pass
""",
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*[[]fail_fast[]] factory bridges:blocking must raise*",
            "*- a hanging orchestrator (no method ever returns) (WSB-3.3): hang after *s (init"
            " timeout 0.5s) — it blocked its thread*",
        ]
    )
    result.stdout.no_fnmatch_line("*orchestrator=None: *")


def test_never_awaited_stand_in_calls_do_not_leak_warnings(pytester: pytest.Pytester) -> None:
    make_project(
        pytester,
        FAIL_FAST_TESTS
        + """
def test_next_test_collects_garbage():
    import gc
    gc.collect()
""",
        ini="wsbridge_factory = bridges:sloppy",
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=2, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*- a hanging orchestrator (no method ever returns) (WSB-3.3): the factory returned a"
            " SimpleBridge*"
        ]
    )
    result.stdout.no_fnmatch_line("*never awaited*")


DELIVERY_TESTS = """
import pytest
from reference_impl import generate_run_id

pytestmark = [pytest.mark.asyncio, pytest.mark.wsbridge_delivery]

async def test_sent_while_nobody_connected(ws_bridge, fake_connection_manager):
    run = generate_run_id("t")
    await ws_bridge.notify_agent_started(run, "a")
    await fake_connection_manager.connect("t")
    await ws_bridge.notify_agent_completed(run, "a")

async def test_send_error(ws_bridge, fake_connection_manager):
    await fake_connection_manager.connect("t")
    fake_connection_manager.fail_next_sends(1)
    await ws_bridge.notify_agent_started(generate_run_id("t"), "a")
"""


@pytest.mark.parametrize(
    ("factory", "expected"),
    [
        (
            "dropping",
            [
                "*test_sent_while_nobody_connected*",
                "*[[]delivery[]] run 'thread_t_run_*' (thread 't'): events never reached a"
                " connection of the run's thread",
                "*- agent_started [[]index 0, emitted at +*s]: sent while no connection of 't'"
                " was live (send_to_thread returned False); a late subscriber resuming from"
                " seq 0 did not get it either (lost, not buffered)",
            ],
        ),
        (
            "swallowing",
            [
                "*test_send_error*",
                "*- agent_started [[]index 0, *]: send_to_thread raised ConnectionError('injected"
                " send failure'); the notify call returned True: the error was swallowed; a late"
                " subscriber resuming from seq 0 did not get it either*",
            ],
        ),
        (
            "no_replay",
            [
                "*test_sent_while_nobody_connected*",
                "*- agent_started [[]*]: sent while no connection of 't' was live *; replay is"
                " unavailable, so no late subscriber could get it (NoReplayBridge has no replay*",
            ],
        ),
    ],
)
def test_lost_events_fail_delivery(
    pytester: pytest.Pytester, factory: str, expected: list[str]
) -> None:
    make_project(pytester, DELIVERY_TESTS, ini=f"wsbridge_factory = bridges:{factory}")
    result = pytester.runpytest()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(expected)
    if factory == "no_replay":
        result.stdout.fnmatch_lines(
            ["note (1 test(s)): NoReplayBridge has no replay(): late subscribers and resuming*"]
        )


def test_buffering_bridge_passes_and_replay_of_old_events_is_a_duplicate(
    pytester: pytest.Pytester,
) -> None:
    make_project(
        pytester,
        DELIVERY_TESTS
        + """
async def test_reconnect(ws_bridge, fake_connection_manager):
    run = generate_run_id("t")
    connection = await fake_connection_manager.connect("t")
    await ws_bridge.notify_agent_started(run, "a")
    await ws_bridge.notify_agent_thinking(run, "a", "one")
    await connection.reconnect()
    await ws_bridge.notify_agent_completed(run, "a")
""",
        ini="wsbridge_factory = bridges:buffering",
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=3)
    result = pytester.runpytest("--wsbridge-factory=bridges:replay_all")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*[[]delivery[]] run 'thread_t_run_*' (thread 't'): events delivered twice",
            "*- agent_started [[]index 0, *]: delivered twice: connection #2 of 't', resumed"
            " from seq 2 resumed after seq 2 and was sent seq 1 again",
            "*- agent_thinking [[]index 1, *]: delivered twice: *sent seq 2 again",
        ]
    )


def test_unmarked_test_without_strict_is_not_checked(pytester: pytest.Pytester) -> None:
    make_project(
        pytester,
        FALLBACK_TESTS.split("@pytest.mark.asyncio")[0]
        + """
@pytest.mark.asyncio
async def test_unmarked(ws_bridge, fake_connection_manager):
    await emit_thinking(ws_bridge, fake_connection_manager)
""",
        ini="wsbridge_factory = bridges:fallback",
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("*wsbridge ---*")


def test_sync_bridge_is_awaitable_and_in_flight_events_are_awaited(
    pytester: pytest.Pytester,
) -> None:
    make_project(
        pytester,
        """
import pytest
from reference_impl import generate_run_id

@pytest.mark.asyncio
async def test_sync(ws_bridge, fake_connection_manager):
    connection = await fake_connection_manager.connect("t")
    run = generate_run_id("t")
    assert await ws_bridge.notify_agent_started(run, "a") is None
    ws_bridge.notify_agent_started(run, "b")  # the app calls it synchronously
    assert connection.messages == []  # still in flight: the plugin waits for it
""",
        ini="wsbridge_factory = bridges:sync",
    )
    result = pytester.runpytest("--wsbridge-strict")
    result.assert_outcomes(failed=1)
    # both events arrived (no delivery violation); only the factory's fail-fast is wrong
    result.stdout.fnmatch_lines(["*events emitted: 2, delivered: 2*"])
    result.stdout.fnmatch_lines(["*violations by check: delivery 0, threads 0, fail_fast 1*"])


REAL_SERVER_TESTS = """
import pytest
from reference_impl import generate_run_id

pytestmark = pytest.mark.asyncio

async def test_live_and_unread(real_ws_server):
    assert real_ws_server.url.startswith("ws://127.0.0.1:")
    client = await real_ws_server.connect("t1")
    run = generate_run_id("t1")
    await real_ws_server.bridge.notify_agent_started(run, "a")
    assert (await client.receive(timeout=2))["type"] == "agent_started"
    await real_ws_server.bridge.notify_agent_thinking(run, "a", "the test never reads this")

async def test_resume_from_zero(real_ws_server):
    run = generate_run_id("t2")
    await real_ws_server.bridge.notify_agent_started(run, "a")
    client = await real_ws_server.connect("t2", last_seq=0)
    assert (await client.receive(timeout=2))["seq"] == 1

@pytest.mark.parametrize("wsbridge_factory", ["bridges:dropping"])
async def test_dropping(real_ws_server):
    await real_ws_server.bridge.notify_agent_started(generate_run_id("t3"), "a")

class TestWithTokens:
    @pytest.fixture
    def wsbridge_server_options(self):
        from reference_impl.auth import TokenAuthenticator
        return {"authenticator": TokenAuthenticator({"tok": "alice"})}

    async def test_late_subscriber_reuses_the_token(self, real_ws_server):
        client = await real_ws_server.connect("t5", token="tok")
        await client.close()
        await real_ws_server.bridge.notify_agent_started(generate_run_id("t5"), "a")

async def test_body_failure_still_tears_down(real_ws_server):
    await real_ws_server.connect("t4")
    raise RuntimeError("the test itself fails")
"""


def test_real_ws_server_feeds_the_ledger_and_tears_down(pytester: pytest.Pytester) -> None:
    make_project(pytester, REAL_SERVER_TESTS)
    result = pytester.runpytest("--wsbridge-strict")
    result.assert_outcomes(passed=3, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*test_dropping*",
            "*- agent_started [[]index 0, *]: sent while no connection of 't3' was live *; a late"
            " subscriber resuming from seq 0 did not get it either (lost)",
            "*tests checked: 4 (1 with violations)*",
            "*events emitted: 5, delivered: 4*",
        ]
    )
    result.stdout.fnmatch_lines(["E       RuntimeError: the test itself fails"])


LATE_DUPLICATE_TESTS = """
import asyncio

import pytest
from reference_impl import generate_run_id

import bridges


class SoonDuplicate(bridges.SimpleBridge):
    \"\"\"Sends every event at once, then again from a callback scheduled with call_soon.\"\"\"

    async def emit(self, kind, run_id, agent_name, **payload):
        thread_id = self.resolve(run_id)
        message = self.message(kind, run_id, thread_id, agent_name, payload)
        loop = asyncio.get_running_loop()
        loop.call_soon(lambda: loop.create_task(self.cm.send_to_thread(thread_id, message)))
        return await self.cm.send_to_thread(thread_id, message)


@pytest.fixture
def wsbridge_factory():
    def factory(*, connection_manager, orchestrator):
        return SoonDuplicate(connection_manager, orchestrator)
    return factory


@pytest.mark.asyncio
@pytest.mark.wsbridge_delivery
async def test_duplicate_scheduled_after_the_body(ws_bridge, fake_connection_manager):
    run = generate_run_id("t")
    await fake_connection_manager.connect("t")
    await ws_bridge.notify_agent_started(run, "a")
"""


def test_a_duplicate_scheduled_by_the_body_is_still_seen(pytester: pytest.Pytester) -> None:
    """The checks skip running the loop only when nothing is ready to run on it."""
    make_project(pytester, LATE_DUPLICATE_TESTS)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*[[]delivery[]]*", "*got it twice*"])


PROBE_STARTS_EARLY = """
from pytest_wsbridge.flow import plugin_state


def pytest_collection_modifyitems(config, items):
    probe = plugin_state(config).background
    print(f"probe at collection: {'started' if probe is not None else 'none'}")
"""


MARKED = "import pytest\n\n@pytest.mark.wsbridge_fail_fast\ndef test_marked():\n    pass\n"


@pytest.mark.parametrize(
    ("args", "tests", "started"),
    [
        (["--wsbridge-strict"], "def test_plain():\n    pass\n", True),  # from configure
        ([], "def test_plain():\n    pass\n", False),
        ([], MARKED, True),  # as soon as the marked test is collected
    ],
)
def test_the_fail_fast_probe_starts_during_collection(
    pytester: pytest.Pytester, args: list[str], tests: str, started: bool
) -> None:
    make_project(pytester, tests)
    pytester.makeconftest(PROBE_STARTS_EARLY)
    result = pytester.runpytest("-s", *args)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"probe at collection: {'started' if started else 'none'}"])
