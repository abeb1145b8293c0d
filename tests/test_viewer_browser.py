"""The live viewer (``GET /?thread=T&token=TOK``) in a real headless Chromium.

Chromium comes from Debian's packages (``.ci/run`` installs it) and is driven over the DevTools
protocol (``tests/browser.py``). Under ``CI=true`` a missing Chromium fails these tests;
elsewhere they skip, naming the fix. Each test saves a screenshot in its ``tmp_path``.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from browser import CHROMIUM_FIX, Chromium, Page, find_chromium
from server_support import TIMEOUT, Lines, Stack, running_stack

from pytest_wsbridge.cli import build_parser
from reference_impl import cli
from reference_impl.client import BridgeClient
from reference_impl.events import EVENTS, EventRole
from reference_impl.ids import generate_run_id
from reference_impl.protocol import CloseCode

STATE = "window.wsbridgeViewer.state"


@pytest.fixture
def chromium_binary() -> str:
    binary = find_chromium()
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Chromium is not installed; CI must run the browser tests: {CHROMIUM_FIX}")
        pytest.skip(f"Chromium is not installed: {CHROMIUM_FIX}")
    return binary


@pytest_asyncio.fixture
async def page(chromium_binary: str, tmp_path: Path) -> AsyncIterator[Page]:
    """A tab of a headless Chromium of this test alone."""
    async with Chromium(chromium_binary, tmp_path / "profile", timeout=TIMEOUT) as browser:
        yield await browser.new_page()


def viewer_url(stack: Stack, thread_id: str, token: str = "token-alice") -> str:
    return cli.viewer_url(stack.server.http_url, thread_id, token)


async def shown(page: Page) -> list[dict[str, Any]]:
    """The event rows the page draws, in page order: seq, type, kind, run, label and detail."""
    rows: list[dict[str, Any]] = await page.evaluate(
        """[...document.querySelectorAll('.run')].flatMap(run =>
            [...run.querySelectorAll('li.event')].map(li => ({
                run: run.dataset.run, seq: Number(li.dataset.seq), type: li.dataset.type,
                kind: [...li.classList].find(c => c.startsWith('kind-')).slice(5),
                label: li.querySelector('.label').textContent,
                detail: li.querySelector('.detail').textContent})))"""
    )
    return rows


async def run_timeline(page: Page, run_id: str) -> list[str]:
    """The rows of one run's card: ``#SEQ`` for an event, the kind of an inline marker."""
    found: list[str] = await page.evaluate(
        f"""[...document.querySelector('.run[data-run="{run_id}"] ol').children].map(li =>
            li.dataset.kind || '#' + li.dataset.seq)"""
    )
    return found


async def badge(page: Page, run_id: str) -> str:
    text: str = await page.evaluate(
        f"""document.querySelector('.run[data-run="{run_id}"] .badge').textContent"""
    )
    return text


async def notes(page: Page) -> list[str]:
    found: list[str] = await page.evaluate(
        "[...document.querySelectorAll('.note')].map(n => n.dataset.kind)"
    )
    return found


async def emit_run(stack: Stack, thread_id: str, *, finish: bool = True, tag: str = "") -> str:
    """One agent run with a tool call, through the bridge's notify API."""
    bridge, run_id = stack.bridge, generate_run_id(thread_id)
    await bridge.notify_agent_started(run_id, "viewer-agent", {"tag": tag})
    await bridge.notify_agent_thinking(run_id, "viewer-agent", f"thinking about {tag}", 1, 50.0)
    await bridge.notify_tool_executing(run_id, "viewer-agent", "lookup", {"q": tag})
    if finish:
        await bridge.notify_tool_completed(run_id, "viewer-agent", "lookup", {"hit": tag}, 3.5)
        await bridge.notify_agent_completed(run_id, "viewer-agent", {"answer": tag})
    return run_id


@pytest.mark.asyncio
async def test_the_viewer_shows_every_event_of_the_demo_runs(page: Page, tmp_path: Path) -> None:
    """``wsbridge serve --demo``: the URL it prints, opened in Chromium, shows the demo's runs."""
    args = build_parser().parse_args(["serve", "--demo", "--port", "0", "--demo-interval", "0.1"])
    out, stop = Lines(), asyncio.Event()
    server = asyncio.ensure_future(cli.serve(args, out, stop=stop))
    try:
        match = await out.wait_for(r"or open (\S+) in a browser")
        await page.goto(match[1])
        await page.wait_for(f"{STATE}.status === 'live'")
        await page.wait_for("document.querySelectorAll('.badge-done').length >= 2")
        rows = await shown(page)
        # What a Python client reads from the same log, from seq 1: the page shows exactly that.
        url = re.search(r"serving (ws://\S+)", out.getvalue())
        assert url is not None
        async with BridgeClient(
            url[1], thread_id="demo-thread", token="demo-token", last_seq=0
        ) as client:
            logged = [await client.receive(timeout=TIMEOUT) for _ in rows]
    finally:
        stop.set()
        assert await asyncio.wait_for(server, TIMEOUT) == 0
    assert [(r["seq"], r["type"], r["run"]) for r in rows] == [
        (e["seq"], e["type"], e["run_id"]) for e in logged
    ]
    assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1))
    first_run = [r for r in rows if r["run"] == rows[0]["run"]]
    assert [r["label"] for r in first_run] == [
        "started",
        "thinking",
        "tool weather",
        "tool weather done",
        "thinking",
        "completed",
    ]
    assert first_run[2]["detail"] == 'parameters {"city":"Lisbon"}'
    assert first_run[3]["detail"] == 'result {"forecast":"sunny"} in 12.5 ms'
    state = await page.evaluate(f"({{gaps: {STATE}.gaps, duplicates: {STATE}.duplicates}})")
    assert state == {"gaps": [], "duplicates": 0}
    await page.screenshot(tmp_path / "viewer-demo.png")


@pytest.mark.asyncio
async def test_a_server_restart_mid_run_shows_the_new_epoch_then_continues(
    page: Page, tmp_path: Path
) -> None:
    async with running_stack() as stack:
        port = stack.server.port
        await page.goto(viewer_url(stack, "alice-1"))
        await page.wait_for(f"{STATE}.status === 'live'")
        before = await emit_run(stack, "alice-1", finish=False, tag="before")
        await page.wait_for(f"{STATE}.events.length === 3")
        old_epoch = await page.evaluate(f"{STATE}.epoch")
    # The server is gone (its in-memory log with it); the page retries until a new one comes up
    # on the same port. A retry or two that finds nobody listening is still one outage.
    await page.wait_for(f"{STATE}.attempts >= 2")
    async with running_stack(port=port) as restarted:
        after = await emit_run(restarted, "alice-1", tag="after")
        await page.wait_for(f"{STATE}.events.length === 8")
        await page.wait_for(f"{STATE}.status === 'live'")
        state = await page.evaluate(
            f"({{epochs: {STATE}.epochs, epoch: {STATE}.epoch, resyncs: {STATE}.resyncs,"
            f" reconnects: {STATE}.reconnects,"
            f" events: {STATE}.events, gaps: {STATE}.gaps}})"
        )
        await page.screenshot(tmp_path / "viewer-restart.png")
    new_epoch = state["epoch"]
    assert new_epoch != old_epoch
    assert state["epochs"] == [old_epoch, new_epoch]
    assert [r["reason"] for r in state["resyncs"]] == ["epoch changed"]
    assert state["reconnects"] == 1
    assert [(e["epoch"], e["seq"], e["run"]) for e in state["events"]] == [
        *[(old_epoch, seq, before) for seq in (1, 2, 3)],
        *[(new_epoch, seq, after) for seq in (1, 2, 3, 4, 5)],
    ]
    assert state["gaps"] == []
    kinds = await notes(page)
    assert kinds.index("drop") < kinds.index("resync") < kinds.index("epoch")
    rows = await shown(page)
    assert [r["run"] for r in rows] == [before] * 3 + [after] * 5
    # The run cut by the restart says so, in its own timeline.
    assert await run_timeline(page, before) == ["#1", "#2", "#3", "drop", "epoch"]
    assert await badge(page, before) == "interrupted"
    assert await badge(page, after) == "completed"


@pytest.mark.asyncio
async def test_a_dropped_connection_resumes_with_no_duplicate_and_no_gap(
    page: Page, tmp_path: Path
) -> None:
    async with running_stack() as stack:
        await stack.emit("alice-2", 2, note="before the page")
        await page.goto(viewer_url(stack, "alice-2"))
        await page.wait_for(f"{STATE}.events.length === 2")
        run_id = await emit_run(stack, "alice-2", finish=False, tag="dropped")
        await page.wait_for(f"{STATE}.events.length === 5")
        # The server drops every connection (as a restart of a proxy would); the run goes on
        # while the page is away, and after it comes back.
        await stack.server.hub.close_all(CloseCode.GOING_AWAY, "test drop")
        await stack.bridge.notify_tool_completed(run_id, "viewer-agent", "lookup", {"hit": 1})
        await page.wait_for(f"{STATE}.reconnects >= 1")
        await stack.bridge.notify_agent_thinking(run_id, "viewer-agent", "still here", 2)
        await page.wait_for(f"{STATE}.subscribed >= 2")
        await stack.bridge.notify_agent_completed(run_id, "viewer-agent", {"answer": "done"})
        await page.wait_for(f"{STATE}.events.length === 8")
        state = await page.evaluate(
            f"({{events: {STATE}.events.map(e => e.seq), gaps: {STATE}.gaps,"
            f" epochs: {STATE}.epochs, reconnects: {STATE}.reconnects}})"
        )
        await page.screenshot(tmp_path / "viewer-drop.png")
    assert state["events"] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert state["gaps"] == []
    assert len(state["epochs"]) == 1
    assert state["reconnects"] >= 1
    rows = await shown(page)
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert rows[-1]["label"] == "completed"
    kinds = await notes(page)
    assert "drop" in kinds
    assert "resumed" in kinds
    assert "gap" not in kinds
    # The drop and the resume are drawn inside the run they cut, between its events.
    assert await run_timeline(page, run_id) == [
        "#3",
        "#4",
        "#5",
        "drop",
        "resumed",
        "#6",
        "#7",
        "#8",
    ]
    assert await badge(page, run_id) == "completed"


@pytest.mark.asyncio
async def test_the_browser_client_drops_duplicates_reports_gaps_and_follows_resyncs(
    page: Page,
) -> None:
    """``wsbridge-client.js`` on its own, fed frames in Chromium (no socket)."""
    async with running_stack() as stack:
        await page.goto(stack.server.http_url + "/")  # the page without a thread: a form
        assert await page.evaluate("!document.getElementById('pick').hidden")
        result = await page.evaluate(
            """(() => {
              const seen = [], status = [];
              const c = new WsBridgeClient({url: 'ws://127.0.0.1:9/', threadId: 't', lastSeq: 0,
                  onEvent: (e, info) => seen.push([info.epoch, info.seq]),
                  onStatus: s => status.push(s.kind), random: () => 1});
              const ev = (seq, epoch) => JSON.stringify(
                  {type: 'custom', run_id: 'r', thread_id: 't', seq, epoch, payload: {}});
              c._receive(JSON.stringify({type: 'subscribed', thread_id: 't', epoch: 'e1',
                  head_seq: 0, recovered: 0}));
              for (const seq of [1, 2, 2, 1, 4]) c._receive(ev(seq, 'e1'));
              const sent = [];
              c.ws = {send: text => sent.push(JSON.parse(text))};
              c._receive(JSON.stringify({type: 'resync_required', thread_id: 't', epoch: 'e2',
                  head_seq: 7, reason: 'epoch changed'}));
              c._receive(ev(1, 'e2'));
              c._receive(JSON.stringify({type: 'resync_required', thread_id: 't', epoch: 'e2',
                  head_seq: 9, reason: 'history trimmed'}));
              c.ws = null;
              return {seen, status, sent, backoff: [1, 2, 3, 10].map(n => c.backoff(n)),
                      lastSeq: c.lastSeq};
            })()"""
        )
    assert result["seen"] == [["e1", 1], ["e1", 2], ["e1", 4], ["e2", 1]]
    assert result["status"] == [
        "subscribed",
        "duplicate",
        "duplicate",
        "gap",
        "resync",
        "epoch",
        "resync",
    ]
    # A new epoch is read from its start; a trimmed log from its head.
    assert [(f["last_seq"], f["epoch"]) for f in result["sent"]] == [(0, "e2"), (9, "e2")]
    assert result["lastSeq"] == 9
    assert result["backoff"] == [250, 500, 1000, 8000]  # random() = 1: the cap of each attempt


@pytest.mark.asyncio
async def test_the_browser_client_hands_each_agui_event_on_once_across_a_cut_event(
    page: Page,
) -> None:
    """The ``ag-ui`` dialect's envelopes: a native event cut after some of its parts is
    replayed from part 0 on resume, and the parts already handed on are dropped."""
    async with running_stack() as stack:
        await page.goto(stack.server.http_url + "/")
        result = await page.evaluate(
            """(() => {
              const seen = [], status = [], sent = [];
              const c = new WsBridgeClient({url: 'ws://127.0.0.1:9/', threadId: 't', lastSeq: 0,
                  dialect: 'ag-ui', onEvent: (e, i) => seen.push([i.seq, i.part, e.type]),
                  onStatus: s => status.push(s.kind)});
              c.ws = {send: text => sent.push(JSON.parse(text))};
              const frame = (seq, part, parts, type) => JSON.stringify({type: 'ag-ui',
                  thread_id: 't', seq, epoch: 'e1', part, parts, event: {type, runId: 'r'}});
              c._receive(JSON.stringify({type: 'subscribed', thread_id: 't', epoch: 'e1',
                  head_seq: 0, recovered: 0}));
              c._receive(frame(1, 0, 1, 'RUN_STARTED'));
              const call = ['TOOL_CALL_START', 'TOOL_CALL_ARGS', 'TOOL_CALL_END'];
              for (const part of [0, 1]) c._receive(frame(2, part, 3, call[part]));
              const resumeFrom = c.lastSeq;
              c._subscribe();  // what a reconnect sends
              for (const part of [0, 1, 2]) c._receive(frame(2, part, 3, call[part]));
              c._receive(frame(3, 0, 1, 'RUN_FINISHED'));
              c._receive(frame(5, 1, 3, 'TOOL_CALL_ARGS'));
              return {seen, status, sent, resumeFrom, lastSeq: c.lastSeq};
            })()"""
        )
    assert result["seen"] == [
        [1, 0, "RUN_STARTED"],
        [2, 0, "TOOL_CALL_START"],
        [2, 1, "TOOL_CALL_ARGS"],
        [2, 2, "TOOL_CALL_END"],
        [3, 0, "RUN_FINISHED"],
        [5, 1, "TOOL_CALL_ARGS"],
    ]
    assert result["resumeFrom"] == 1  # seq 2 was cut: resume after the last whole event
    assert result["sent"] == [
        {"type": "subscribe", "thread_id": "t", "last_seq": 1, "epoch": "e1", "dialect": "ag-ui"}
    ]
    assert result["status"] == ["subscribed", "duplicate", "duplicate", "gap"]
    assert result["lastSeq"] == 4  # seq 5 is cut after part 1


@pytest.mark.asyncio
async def test_the_event_tables_terminal_types_end_a_run_in_the_viewer(page: Page) -> None:
    """The page learns which types end a run from the server (the END rows of ``EVENTS``), so
    a terminal type added to the table closes its run's card with no edit to the viewer."""
    async with running_stack() as stack:
        await page.goto(viewer_url(stack, "alice-1"))
        await page.wait_for(f"{STATE}.status === 'live'")
        listed = await page.evaluate("document.body.dataset.terminalTypes")
        assert listed.split() == list(EVENTS.with_role(EventRole.END))
        # What the page of a table with one more END row (agent_cancelled) would say, then
        # frames handed to the viewer's own client as its socket would.
        drawn = await page.evaluate(
            f"""(() => {{
              document.body.dataset.terminalTypes += ' agent_cancelled';
              const client = window.wsbridgeViewer.client, epoch = {STATE}.epoch;
              const ev = (seq, run, type) => client._receive(JSON.stringify({{type, seq, epoch,
                  run_id: run, thread_id: 'alice-1', agent_name: 'a', payload: {{}}}}));
              ev(1, 'r1', 'agent_started'); ev(2, 'r1', 'agent_cancelled');
              ev(3, 'r2', 'agent_started'); ev(4, 'r2', 'custom');
              return [...document.querySelectorAll('.run .badge')].map(
                  b => [b.textContent, b.className]);
            }})()"""
        )
    assert drawn == [["agent_cancelled", "badge badge-done"], ["running", "badge"]]


def test_the_static_files_are_self_contained() -> None:
    """No CDN, no remote URL: every file the page loads is served by the bridge itself."""
    from reference_impl.web import STATIC_FILES, static_file

    for name in STATIC_FILES:
        text = static_file(name).decode()
        assert not re.search(r"(src|href)=\"(https?:)?//", text), name
        assert "cdn" not in text.lower(), name
    page = static_file("viewer.html").decode()
    assert re.findall(r'(?:src|href)="([^"]+)"', page) == [
        "static/viewer.css",
        "static/wsbridge-client.js",
        "static/viewer.js",
    ]


@pytest.mark.asyncio
async def test_the_viewer_in_the_agui_dialect_draws_runs_and_resumes_without_duplicates(
    page: Page, tmp_path: Path
) -> None:
    """``&dialect=ag-ui``: each frame one AG-UI event (parts of a native seq); a drop mid-run
    resumes with every (seq, part) once, the same frames a Python client reads."""
    async with running_stack() as stack:
        await page.goto(viewer_url(stack, "alice-1") + "&dialect=ag-ui")
        await page.wait_for(f"{STATE}.status === 'live'")
        run_id = await emit_run(stack, "alice-1", finish=False, tag="agui")
        await page.wait_for(f"{STATE}.events.length === 5")  # 1 + 1 reasoning + 3 tool call
        await stack.server.hub.close_all(CloseCode.GOING_AWAY, "test drop")
        await stack.bridge.notify_tool_completed(run_id, "viewer-agent", "lookup", {"hit": 1})
        await page.wait_for(f"{STATE}.subscribed >= 2")
        await stack.bridge.notify_agent_completed(run_id, "viewer-agent", {"answer": "done"})
        await page.wait_for(f"{STATE}.events.length === 7")
        seen = await page.evaluate(f"{STATE}.events.map(e => [e.seq, e.part, e.type, e.run])")
        async with BridgeClient(
            stack.server.url,
            thread_id="alice-1",
            token="token-alice",
            last_seq=0,
            dialect="ag-ui",
        ) as client:
            frames = []
            while len(frames) < len(seen):
                frames.append(await client.receive(timeout=TIMEOUT))
        await page.screenshot(tmp_path / "viewer-agui.png")
    assert [s[:3] for s in seen] == [[f["seq"], f["part"], f["event"]["type"]] for f in frames]
    assert {s[3] for s in seen} == {run_id}
    assert [s[2] for s in seen][:1] + [s[2] for s in seen][-2:] == [
        "RUN_STARTED",
        "TOOL_CALL_RESULT",
        "RUN_FINISHED",
    ]
    rows = await shown(page)
    assert [r["label"] for r in rows if r["type"] in ("TOOL_CALL_START", "TOOL_CALL_RESULT")] == [
        "tool lookup",
        "tool result",
    ]
    # agent_thinking is one REASONING_MESSAGE_CHUNK, drawn as the native event is.
    assert [s[2] for s in seen][1] == "REASONING_MESSAGE_CHUNK"
    thought = [(r["label"], r["detail"], r["kind"]) for r in rows if r["seq"] == seen[1][0]]
    assert thought == [("thinking", "step 1: thinking about agui (50%)", "agent_thinking")]
    assert await run_timeline(page, run_id) == [
        *[f"#{s[0]}" for s in seen[:5]],
        "drop",
        "resumed",
        "#4",
        "#5",
    ]
    assert await badge(page, run_id) == "completed"
    agent = f"""document.querySelector('.run[data-run="{run_id}"] .agent').textContent"""
    assert await page.evaluate(agent) == "viewer-agent"  # from RUN_STARTED's metadata
    state = await page.evaluate(f"({{gaps: {STATE}.gaps, epochs: {STATE}.epochs.length}})")
    assert state == {"gaps": [], "epochs": 1}
