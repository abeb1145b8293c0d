"""The ws:// reader against the AG-UI WebSocket binding's frames (DESIGN.md, issue 13).

The server here speaks only what the reader relies on (bearer auth, ``subscribe`` with
``"dialect": "ag-ui"`` answered by ``subscribed``, then ``{"type": "run", "input"}`` answered by
``run_accepted`` and one AG-UI event per ``ag-ui`` envelope frame, or an ``error`` frame), and
checks every frame the reader sends; ``tests/test_agui_relay.py`` runs the reader against the
reference bridge itself.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from server_support import TIMEOUT
from websockets.asyncio.server import ServerConnection, serve

from pytest_wsbridge.agui.corpus import CASES, LEGAL
from pytest_wsbridge.agui.exceptions import AguiSourceError
from pytest_wsbridge.agui.readers import collect_ws, default_input

BY_NAME = {c.name: c for c in (*CASES, *LEGAL)}


class Binding:
    """What the server saw, and what it will answer."""

    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []
        self.mode = "ok"
        self.events: list[dict[str, Any]] = []

    async def handler(self, ws: ServerConnection) -> None:
        if ws.request is None or ws.request.headers.get("Authorization") != "Bearer tok":
            await ws.close(4001, "unauthorized")
            return
        subscribe = json.loads(await ws.recv())
        self.frames.append(subscribe)
        if self.mode == "refuse-subscribe":
            await ws.send(json.dumps({"type": "error", "code": "forbidden", "message": "no"}))
            return
        await ws.send(json.dumps({"type": "subscribed", "thread_id": subscribe["thread_id"],
                                  "epoch": "e1", "head_seq": 0, "recovered": 0}))  # fmt: skip
        run = json.loads(await ws.recv())
        self.frames.append(run)
        if self.mode == "refuse-run":
            await ws.send(json.dumps({"type": "error", "code": "invalid_input", "message": "bad"}))
            await ws.wait_closed()
            return
        accepted = {"type": "run_accepted", "thread_id": subscribe["thread_id"],
                    "run_id": run["input"]["runId"]}  # fmt: skip
        await ws.send(json.dumps(accepted))
        for seq, event in enumerate(self.events, start=1):
            await ws.send(json.dumps(agui_frame(event, subscribe["thread_id"], seq)))
        await ws.wait_closed()  # the reader closes once it has the run's terminal event


@pytest_asyncio.fixture
async def binding() -> AsyncIterator[tuple[str, Binding]]:
    state = Binding()
    async with serve(state.handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}/ws", state


def agui_frame(event: dict[str, Any], thread: str, seq: int) -> dict[str, Any]:
    """The binding's envelope around one AG-UI event (docs/agui-binding.md)."""
    return {"type": "ag-ui", "thread_id": thread, "seq": seq, "epoch": "e1", "part": 0,
            "parts": 1, "event": event}  # fmt: skip


def run_input(thread: str = "t1") -> dict[str, Any]:
    return {**default_input(thread), "runId": "r1"}


@pytest.mark.asyncio
@pytest.mark.parametrize("name", ["message-reopened", "text-not-open", "late-run-error"])
async def test_a_run_over_the_binding_is_judged(binding: tuple[str, Binding], name: str) -> None:
    url, state = binding
    case = BY_NAME[name]
    state.events = case.events
    stream = await collect_ws(url, thread="t1", token="tok", input=run_input(), timeout=TIMEOUT)
    expected = {case.expect} if case.expect else set()
    assert {f.rule for f in stream.report.findings} == expected
    # it stops at the requested run's terminal event (a late RUN_ERROR is not waited for)
    assert (
        stream.events == case.events[: [e["type"] for e in case.events].index("RUN_FINISHED") + 1]
    )
    assert state.frames[0] == {"type": "subscribe", "thread_id": "t1", "dialect": "ag-ui"}
    assert state.frames[1] == {"type": "run", "input": run_input()}


@pytest.mark.asyncio
async def test_a_stream_that_stalls_is_judged_as_it_stands(binding: tuple[str, Binding]) -> None:
    url, state = binding
    state.events = BY_NAME["truncated"].events
    stream = await collect_ws(url, thread="t1", token="tok", input=run_input(), timeout=0.5)
    assert [f.rule for f in stream.report.findings] == ["lifecycle.truncated"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("mode", "token", "needle"),
    [
        ("ok", "wrong", "cannot connect|4001"),
        ("refuse-subscribe", "tok", "refused the subscription: forbidden"),
        ("refuse-run", "tok", "refused the run: invalid_input"),
    ],
)
async def test_refusals_make_the_source_unreadable(
    binding: tuple[str, Binding], mode: str, token: str, needle: str
) -> None:
    url, state = binding
    state.mode = mode
    with pytest.raises(AguiSourceError, match=needle):
        await collect_ws(url, thread="t1", token=token, input=run_input(), timeout=TIMEOUT)


@pytest.mark.asyncio
async def test_the_thread_must_be_the_inputs(binding: tuple[str, Binding]) -> None:
    url, _ = binding
    with pytest.raises(AguiSourceError, match="is not the input's threadId"):
        await collect_ws(url, thread="other", token="tok", input=run_input(), timeout=TIMEOUT)


@pytest.mark.asyncio
async def test_the_cli_verifies_a_ws_source(binding: tuple[str, Binding], tmp_path: Path) -> None:
    url, state = binding
    state.events = BY_NAME["step-twice"].events
    path = tmp_path / "in.json"
    path.write_text(json.dumps(run_input()), encoding="utf-8")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pytest_wsbridge.cli", "agui", "verify", "--json", url,
        "--thread", "t1", "--token", "tok", "--input", str(path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    assert proc.returncode == 1, err
    line = json.loads(out)
    assert [v["rule"] for v in line["violations"]] == ["step.duplicate-open"]
    assert line["source"] == url
