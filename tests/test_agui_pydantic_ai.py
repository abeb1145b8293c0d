"""A real AG-UI producer (pydantic-ai's adapter, offline FunctionModel) behind uvicorn on
127.0.0.1: every stream it sends verifies conformant over http://, from Python and the shell."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from agui_support import serve
from server_support import TIMEOUT

from pytest_wsbridge.agui.readers import AguiStream, collect_asgi, collect_http
from reference_impl.agui import check_event_shape

pytestmark = pytest.mark.agui

# (scenario, event types the stream must contain, its terminal event)
EXPECTED = {
    "hello": ({"TEXT_MESSAGE_CONTENT"}, "RUN_FINISHED"),
    "think": ({"REASONING_START", "REASONING_MESSAGE_CONTENT", "TEXT_MESSAGE_CONTENT"},
              "RUN_FINISHED"),
    "tool": ({"REASONING_MESSAGE_CONTENT", "TOOL_CALL_START", "TOOL_CALL_ARGS", "TOOL_CALL_RESULT"},
             "RUN_FINISHED"),
    "raise": ({"TOOL_CALL_START", "TOOL_CALL_END"}, "RUN_ERROR"),
    "retry": ({"TOOL_CALL_RESULT", "TEXT_MESSAGE_CONTENT"}, "RUN_FINISHED"),
    "front": ({"TOOL_CALL_START", "TOOL_CALL_END"}, "RUN_FINISHED"),
}  # fmt: skip


@pytest_asyncio.fixture
async def producer_url() -> AsyncIterator[str]:
    from agui_producer import agent_app

    async with serve(agent_app()) as url:
        yield f"{url}/agent"


def check(stream: AguiStream, scenario: str) -> None:
    assert stream.report.conformant, [str(f) for f in stream.report.findings]
    types = [e["type"] for e in stream.events]
    wanted, terminal = EXPECTED[scenario]
    assert wanted <= set(types), types
    assert types[0] == "RUN_STARTED"
    assert types[-1] == terminal


@pytest.mark.asyncio
async def test_every_pydantic_ai_stream_is_conformant_over_http(producer_url: str) -> None:
    from agui_producer import SCENARIOS, scenario_input

    for scenario in SCENARIOS:
        run_input = scenario_input(scenario)
        stream = await asyncio.to_thread(
            collect_http, producer_url, input=run_input, timeout=TIMEOUT
        )
        check(stream, scenario)
        assert stream.events[0]["runId"] == run_input["runId"]
        if scenario == "front":  # a frontend call is left for the application to answer
            assert "TOOL_CALL_RESULT" not in [e["type"] for e in stream.events]


@pytest.mark.asyncio
async def test_the_same_agent_in_process_gives_the_same_verdicts() -> None:
    from agui_producer import SCENARIOS, agent_app, scenario_input

    app = agent_app()
    for scenario in SCENARIOS:
        stream = await collect_asgi(app, path="/agent", input=scenario_input(scenario),
                                    timeout=TIMEOUT)  # fmt: skip
        check(stream, scenario)


@pytest.mark.asyncio
async def test_ag_ui_protocol_models_accept_every_event_our_shapes_accept(
    producer_url: str,
) -> None:
    from ag_ui.core import Event
    from agui_producer import SCENARIOS, scenario_input
    from pydantic import TypeAdapter

    adapter: TypeAdapter[Any] = TypeAdapter(Event)
    for scenario in SCENARIOS:
        stream = await asyncio.to_thread(
            collect_http, producer_url, input=scenario_input(scenario), timeout=TIMEOUT
        )
        for event in stream.events:
            assert check_event_shape(event) == []
            adapter.validate_python(event)


@pytest.mark.asyncio
async def test_the_cli_verifies_the_agent_over_http(producer_url: str, tmp_path: Path) -> None:
    from agui_producer import scenario_input

    inputs = []
    for scenario in ("tool", "raise"):
        path = tmp_path / f"{scenario}.json"
        path.write_text(json.dumps(scenario_input(scenario)), encoding="utf-8")
        inputs.append(path)
    for path in inputs:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pytest_wsbridge.cli", "agui", "verify", "--json",
            "--input", str(path), producer_url,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
        assert proc.returncode == 0, (out, err)
        line = json.loads(out)
        assert line["conformant"] is True
        assert line["violations"] == []
        assert line["events"] > 3
