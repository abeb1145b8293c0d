"""A real AG-UI producer for the tests: pydantic-ai's AGUIAdapter on a Starlette route, driven by
an offline FunctionModel (no network, no API key). The user's message picks the scenario:

- ``hello``: streamed text;
- ``think``: thinking, then text;
- ``tool``: thinking, text, a streamed call to the ``lookup`` tool, its result, then text;
- ``raise``: a call to ``explode``, a tool that raises (the run ends with RUN_ERROR);
- ``retry``: a call to ``flaky``, a tool that asks for a retry, then text;
- ``front``: a call to the frontend tool ``confirm`` advertised in the input, left unanswered.

Importing it needs no pydantic-ai; building the agent does (tests marked ``agui``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from pytest_wsbridge.agui.readers import default_input

if TYPE_CHECKING:  # pydantic-ai is imported when the agent is built, so that importing this
    # module (for scenario_input) works where the agui extra is not installed (tox floor)
    from pydantic_ai.messages import ModelMessage
    from pydantic_ai.models.function import AgentInfo
    from starlette.applications import Starlette

__all__ = ["SCENARIOS", "agent_app", "scenario_input"]

SCENARIOS = ("hello", "think", "tool", "raise", "retry", "front")
FRONTEND_TOOL = {
    "name": "confirm",
    "description": "Ask the user to confirm.",
    "parameters": {"type": "object", "properties": {"ok": {"type": "boolean"}}},
}


def _prompt(messages: list[ModelMessage]) -> str:
    from pydantic_ai.messages import UserPromptPart

    for message in reversed(messages):
        for part in message.parts:
            if isinstance(part, UserPromptPart) and isinstance(part.content, str):
                return part.content
    return ""


async def _stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[Any]:
    from pydantic_ai.messages import RetryPromptPart, ToolReturnPart
    from pydantic_ai.models.function import DeltaThinkingPart, DeltaToolCall

    answered = any(
        isinstance(p, ToolReturnPart | RetryPromptPart) for m in messages for p in m.parts
    )
    prompt = _prompt(messages)
    if answered:
        yield "Done: "
        yield "all good."
        return
    if prompt in ("think", "tool"):
        yield {0: DeltaThinkingPart(content="Let me ")}
        yield {0: DeltaThinkingPart(content="think.")}
    if prompt == "tool":
        yield "Looking it up."
        yield {1: DeltaToolCall(name="lookup", json_args='{"q": ', tool_call_id="call-lookup")}
        yield {1: DeltaToolCall(json_args='"x"}')}
        return
    calls = {"raise": "explode", "retry": "flaky", "front": "confirm"}
    if prompt in calls:
        args = '{"ok": true}' if prompt == "front" else "{}"
        yield {1: DeltaToolCall(name=calls[prompt], json_args=args, tool_call_id=f"call-{prompt}")}
        return
    yield "Hello "
    yield "there."


def agent_app(pause: float = 0.0) -> Starlette:
    """The producer, as an ASGI app answering ``POST /agent``.

    ``pause`` waits that long before each streamed piece, so a run lasts long enough to be
    broken in the middle (``tests/agui_process.py`` runs the app as a process to kill).
    """
    from pydantic_ai import Agent, ModelRetry
    from pydantic_ai.models.function import FunctionModel
    from pydantic_ai.ui.ag_ui import AGUIAdapter
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[Any]:
        async for piece in _stream(messages, info):
            if pause:
                await asyncio.sleep(pause)
            yield piece

    agent: Agent[None, str] = Agent(FunctionModel(stream_function=stream))

    @agent.tool_plain
    def lookup(q: str) -> str:
        return f"found {q}"

    @agent.tool_plain
    def explode() -> str:
        raise RuntimeError("the tool blew up")

    @agent.tool_plain
    def flaky() -> str:
        raise ModelRetry("try again")

    async def endpoint(request: Request) -> Response:
        return await AGUIAdapter.dispatch_request(request, agent=agent)

    return Starlette(routes=[Route("/agent", endpoint, methods=["POST"])])


def scenario_input(scenario: str, thread: str = "t-agui") -> dict[str, Any]:
    """The RunAgentInput that selects ``scenario``."""
    run_input = default_input(thread)
    run_input["messages"][0]["content"] = scenario
    if scenario == "front":
        run_input["tools"] = [FRONTEND_TOOL]
    return run_input
