"""``wsbridge serve`` and ``wsbridge tail``: in-process and as real subprocesses."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
from collections.abc import AsyncIterator

import pytest
from server_support import TIMEOUT, WSBRIDGE, WSBRIDGE_ENV, Lines, serve_demo
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from pytest_wsbridge.cli import build_parser
from reference_impl import cli
from reference_impl.demo import DEMO_THREAD
from reference_impl.server import reachable_host


@pytest.mark.parametrize(
    ("host", "shown"),
    [
        ("0.0.0.0", "127.0.0.1"),  # a name to print: nothing binds it
        ("", "127.0.0.1"),
        ("::", "[::1]"),
        ("::1", "[::1]"),
        ("127.0.0.1", "127.0.0.1"),
        ("bridge.internal", "bridge.internal"),
    ],
)
def test_serve_prints_urls_a_browser_can_open_whatever_address_it_listens_on(
    host: str, shown: str
) -> None:
    # BridgeServer.url and .http_url build their host with this, and the CLI prints those.
    assert reachable_host(host) == shown


@pytest.mark.asyncio
async def test_serve_demo_and_tail_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(["serve", "--demo", "--port", "0", "--demo-interval", "0.01"])
    out, stop = Lines(), asyncio.Event()
    server = asyncio.ensure_future(cli.serve(args, out, stop=stop))
    url = (await out.wait_for(r"serving (ws://\S+)"))[1]
    hint = (await out.wait_for(r"wsbridge tail .*"))[0]
    assert hint == f"wsbridge tail {url} --thread {DEMO_THREAD} --token demo-token --last-seq 0"
    await out.wait_for("demo run thread_demo-thread_run_")

    tail_args = build_parser().parse_args([*hint.split()[1:], "--count", "7"])
    printed = Lines()
    assert await asyncio.wait_for(cli.tail(tail_args, printed), TIMEOUT) == 0
    events = [json.loads(line) for line in printed.getvalue().splitlines()]
    assert [e["seq"] for e in events] == list(range(1, 8))
    assert events[0]["type"] == "agent_started"
    assert {e["thread_id"] for e in events} == {DEMO_THREAD}

    refused = build_parser().parse_args(["tail", url, "--thread", DEMO_THREAD, "--token", "bad"])
    assert await asyncio.wait_for(cli.tail(refused, Lines()), TIMEOUT) == 1
    assert "invalid token" in capsys.readouterr().err

    stop.set()
    assert await asyncio.wait_for(server, TIMEOUT) == 0
    assert "shutting down" in out.getvalue()


@pytest.mark.asyncio
async def test_serve_without_tokens_is_open_and_tail_stops_on_request() -> None:
    args = build_parser().parse_args(["serve", "--port", "0", "--token", "t=u"])
    assert args.token == [("t", "u")]
    args.token = []
    out, stop = Lines(), asyncio.Event()
    server = asyncio.ensure_future(cli.serve(args, out, stop=stop))
    url = (await out.wait_for(r"serving (ws://\S+)"))[1]
    assert "authentication is off" in out.getvalue()
    tail_stop = asyncio.Event()
    tail_args = build_parser().parse_args(["tail", url, "--thread", "anything"])
    tailing = asyncio.ensure_future(cli.tail(tail_args, Lines(), stop=tail_stop))
    tail_stop.set()
    assert await asyncio.wait_for(tailing, TIMEOUT) == 0
    stop.set()
    assert await asyncio.wait_for(server, TIMEOUT) == 0


@pytest.mark.parametrize("bad", ["nouser", "=u", "t="])
def test_token_option_needs_token_equals_user(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--token", bad])
    assert "TOKEN=USER" in capsys.readouterr().err


def test_serve_demo_and_tail_as_subprocesses() -> None:
    """The README's first command: events flow from the demo to ``wsbridge tail``."""
    wsbridge, env = WSBRIDGE, WSBRIDGE_ENV
    serve = serve_demo()
    try:
        assert serve.stdout is not None
        first = serve.stdout.readline()
        match = re.search(r"serving (ws://127\.0\.0\.1:\d+)", first)
        assert match, first
        hint = serve.stdout.readline() + serve.stdout.readline()
        command = hint.split("\n")[1].split()
        assert command[:2] == ["wsbridge", "tail"]
        tail = subprocess.run(
            [*wsbridge, *command[1:], "--count", "6"],
            capture_output=True,
            text=True,
            timeout=30,
            env=env,
        )
        assert tail.returncode == 0, tail.stderr
        events = [json.loads(line) for line in tail.stdout.splitlines()]
        assert [e["seq"] for e in events] == [1, 2, 3, 4, 5, 6]
        assert events[-1]["type"] == "agent_completed"
    finally:
        serve.send_signal(signal.SIGTERM)
        stdout, stderr = serve.communicate(timeout=30)
    assert serve.returncode == 0, stderr
    assert "shutting down" in stdout
    assert "Traceback" not in stderr


def test_tail_into_a_reader_that_stops_early_ends_quietly() -> None:
    """``wsbridge tail ... | head -1``: the closed pipe ends tail with exit 0 and no traceback."""
    serve = serve_demo()
    try:
        assert serve.stdout is not None
        match = re.search(r"serving (ws://127\.0\.0\.1:\d+)", serve.stdout.readline())
        assert match
        tail = subprocess.Popen(
            [
                *WSBRIDGE,
                "tail",
                match.group(1),
                "--thread",
                "demo-thread",
                "--token",
                "demo-token",
                "--last-seq",
                "0",
                "--json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=WSBRIDGE_ENV,
        )
        assert tail.stdout is not None
        first = json.loads(tail.stdout.readline())
        assert first["seq"] == 1
        tail.stdout.close()  # the reader stops, as `head -1` does
        _, stderr = tail.communicate(timeout=TIMEOUT)
        assert tail.returncode == 0, stderr
        assert "Traceback" not in stderr
        assert "BrokenPipeError" not in stderr
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.communicate(timeout=30)


@pytest.mark.asyncio
async def test_stopping_a_task_that_swallows_a_cancellation() -> None:
    swallowed = asyncio.Event()

    async def stubborn() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            swallowed.set()  # what wait_for may do before Python 3.12
        await asyncio.Event().wait()

    task = asyncio.ensure_future(stubborn())
    await asyncio.sleep(0)
    await asyncio.wait_for(cli._stop_task(task), TIMEOUT)
    assert swallowed.is_set()
    assert task.cancelled()


@pytest.mark.asyncio
async def test_the_demo_stops_when_asked() -> None:
    from reference_impl import ConnectionManager, ReferenceOrchestrator, create_bridge
    from reference_impl.demo import run_demo

    orchestrator = ReferenceOrchestrator()
    bridge = await create_bridge(connection_manager=ConnectionManager(), orchestrator=orchestrator)
    stop = asyncio.Event()
    runs: list[str] = []

    def on_run(run_id: str) -> None:
        runs.append(run_id)
        stop.set()

    await asyncio.wait_for(
        run_demo(bridge, orchestrator, interval=0, on_run=on_run, stop=stop), TIMEOUT
    )
    assert len(runs) == 1
    assert bridge.metrics.emitted == 6
    await asyncio.wait_for(run_demo(bridge, orchestrator, interval=0, runs=2), TIMEOUT)
    assert bridge.metrics.emitted == 18


async def _tail(url: str, *options: str) -> tuple[int, str]:
    """Run ``wsbridge tail`` in process; return its exit status and printed lines."""
    printed = Lines()
    args = build_parser().parse_args(["tail", url, *options])
    return await asyncio.wait_for(cli.tail(args, printed), TIMEOUT), printed.getvalue()


@pytest.mark.asyncio
async def test_serve_owners_refuse_unowned_threads_and_a_bounded_demo(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = build_parser().parse_args(
        [
            *("serve", "--port", "0", "--token", "ta=alice", "--token", "tb=bob"),
            *("--token", "td=demo", "--owner", "a=1=alice", "--demo", "--demo-thread", "d1"),
            *("--demo-runs", "2", "--demo-interval", "0", "--max-queue", "5"),
            *("--demo-padding", "10"),
        ]
    )
    assert args.owner == [("a=1", "alice")]
    out, stop = Lines(), asyncio.Event()
    server = asyncio.ensure_future(cli.serve(args, out, stop=stop))
    url = (await out.wait_for(r"serving (ws://\S+)"))[1]
    await out.wait_for("demo done: 2 runs on thread 'd1'")
    assert out.getvalue().count("demo run thread_d1_run_") == 2
    status, printed = await _tail(
        url, "--thread", "d1", "--token", "td", "--last-seq", "0", "--count", "12"
    )
    assert status == 0
    events = [json.loads(line) for line in printed.splitlines()]
    assert [event["seq"] for event in events] == list(range(1, 13))
    tool_call = events[2]["payload"]
    assert tool_call["parameters"] == {"city": "Lisbon", "notes": "." * 10}, tool_call
    for token, thread in (("tb", "d1"), ("tb", "a=1"), ("ta", "d1"), ("tb", "nobodys")):
        assert (await _tail(url, "--thread", thread, "--token", token))[0] == 1
        assert f"may not subscribe to thread {thread!r}" in capsys.readouterr().err
    stop.set()
    assert await asyncio.wait_for(server, TIMEOUT) == 0


async def _until_closed(ws: ClientConnection) -> AsyncIterator[str | bytes]:
    """Every frame until the server closes ``ws`` (each receive bounded by TIMEOUT)."""
    while True:
        try:
            yield await asyncio.wait_for(ws.recv(), TIMEOUT)
        except ConnectionClosed:
            return


@pytest.mark.asyncio
async def test_serve_allow_unowned_closes_early_subscribers_when_the_demo_claims() -> None:
    args = build_parser().parse_args(
        [
            *("serve", "--port", "0", "--token", "tb=bob", "--token", "td=demo"),
            *("--allow-unowned", "--demo", "--demo-thread", "later", "--demo-runs", "1"),
            *("--demo-delay", "1", "--demo-interval", "0"),
        ]
    )
    out, stop = Lines(), asyncio.Event()
    server = asyncio.ensure_future(cli.serve(args, out, stop=stop))
    url = (await out.wait_for(r"serving (ws://\S+)"))[1]
    async with connect(url, additional_headers={"Authorization": "Bearer tb"}) as ws:
        await ws.send(json.dumps({"type": "subscribe", "thread_id": "open"}))
        answer = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        assert (answer["type"], answer["thread_id"]) == ("subscribed", "open")
        await ws.send(json.dumps({"type": "subscribe", "thread_id": "later", "last_seq": 0}))
        frames = [json.loads(data) async for data in _until_closed(ws)]
        assert ws.protocol.close_rcvd is not None  # ws.close_code: websockets >= 14.1 only
        assert ws.protocol.close_rcvd.code == 1008
    # subscribed before the claim (then closed by it) or refused after it: never an event
    assert [f["type"] for f in frames] in (["subscribed", "error"], ["error"])
    assert (frames[-1]["code"], frames[-1]["thread_id"]) == ("forbidden", "later")
    await out.wait_for("demo done: 1 runs")
    stop.set()
    assert await asyncio.wait_for(server, TIMEOUT) == 0


@pytest.mark.parametrize(
    ("option", "bad"),
    [
        ("--owner", "nouser"),
        ("--owner", "=u"),
        ("--owner", "t="),
        ("--demo-runs", "0"),
        ("--max-queue", "x"),
        ("--demo-padding", "-1"),
    ],
)
def test_serve_options_refuse_bad_values(
    option: str, bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", option, bad])
    assert option in capsys.readouterr().err


@pytest.mark.asyncio
async def test_serve_refuses_a_thread_given_two_owners(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(
        ["serve", "--port", "0", "--owner", "t=alice", "--owner", "t=bob"]
    )
    assert await asyncio.wait_for(cli.serve(args, Lines()), TIMEOUT) == 2
    assert "belongs to another user" in capsys.readouterr().err


@pytest.mark.asyncio
async def test_a_demo_run_whose_storage_fails_is_reported_and_the_next_one_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from reference_impl import ConnectionManager, ReferenceOrchestrator, create_bridge
    from reference_impl.demo import run_demo
    from reference_impl.exceptions import BackendUnavailableError

    orchestrator = ReferenceOrchestrator()
    bridge = await create_bridge(connection_manager=ConnectionManager(), orchestrator=orchestrator)
    real = bridge.notify_tool_executing
    calls = 0

    async def outage_once(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise BackendUnavailableError("redis append failed: connection refused")
        return await real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(bridge, "notify_tool_executing", outage_once)
    failed: list[tuple[str, str]] = []
    await asyncio.wait_for(
        run_demo(
            bridge,
            orchestrator,
            interval=0,
            runs=2,
            on_error=lambda run_id, exc: failed.append((run_id, str(exc))),
        ),
        TIMEOUT,
    )
    assert [why for _, why in failed] == ["redis append failed: connection refused"]
    events = await bridge.replay(DEMO_THREAD, 0)
    # run 1: started, thinking, then the failed tool call and an agent_error; run 2: all six
    assert [e["type"] for e in events][:3] == ["agent_started", "agent_thinking", "agent_error"]
    assert len(events) == 3 + 6
    calls = 0
    with pytest.raises(BackendUnavailableError):  # without on_error the demo stops
        await asyncio.wait_for(run_demo(bridge, orchestrator, interval=0, runs=1), TIMEOUT)
    await bridge.close()


@pytest.mark.asyncio
async def test_serve_refuses_allow_unowned_with_several_nodes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = build_parser().parse_args(
        ["serve", "--port", "0", "--allow-unowned", "--redis", "redis://127.0.0.1:1/0"]
    )
    assert await asyncio.wait_for(cli.serve(args, Lines()), TIMEOUT) == 2
    assert "--allow-unowned needs a single node" in capsys.readouterr().err
