"""The agent side: no emit before a bridge is set; every emit carries the run id."""

from __future__ import annotations

from typing import Any

import pytest

from reference_impl.adapter import AgentBase, BridgeNotSetError, WebSocketBridgeAdapter
from reference_impl.bridge import create_bridge
from reference_impl.connections import ConnectionManager, LocalConnection
from reference_impl.exceptions import WsBridgeError
from reference_impl.ids import generate_run_id
from reference_impl.lifecycle import check_run_lifecycle
from reference_impl.orchestrator import ReferenceOrchestrator


class Recorder:
    """A bridge stand-in that records every notify call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, name: str) -> Any:
        if not name.startswith("notify_"):
            raise AttributeError(name)

        async def notify(*args: Any) -> str:
            self.calls.append((name, args))
            return f"receipt:{name}"

        return notify


EMITS: list[tuple[str, tuple[Any, ...], str, tuple[Any, ...]]] = [
    ("emit_agent_started", ({"q": 1},), "notify_agent_started", ({"q": 1},)),
    ("emit_thinking", ("hm", 2, 50.0), "notify_agent_thinking", ("hm", 2, 50.0)),
    ("emit_tool_executing", ("search", {"q": 1}), "notify_tool_executing", ("search", {"q": 1})),
    ("emit_tool_completed", ("search", [1], 3.0), "notify_tool_completed", ("search", [1], 3.0)),
    ("emit_agent_completed", ({"a": 1}, 9.0), "notify_agent_completed", ({"a": 1}, 9.0)),
    ("emit_error", ("boom", {"x": 1}), "notify_agent_error", ("boom", {"x": 1})),
    ("emit_custom", ({"kind": "chart"},), "notify_custom", ({"kind": "chart"},)),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("emit", "args", "_notify", "_expected"), EMITS)
async def test_emitting_before_a_bridge_is_set_raises(
    emit: str, args: tuple[Any, ...], _notify: str, _expected: tuple[Any, ...]
) -> None:
    adapter = WebSocketBridgeAdapter("planner")
    assert not adapter.has_bridge
    assert adapter.run_id is None
    with pytest.raises(BridgeNotSetError, match="before set_websocket_bridge") as caught:
        await getattr(adapter, emit)(*args)
    assert "'planner'" in str(caught.value)
    assert isinstance(caught.value, WsBridgeError)
    assert isinstance(caught.value, RuntimeError)


@pytest.mark.asyncio
@pytest.mark.parametrize(("emit", "args", "notify", "expected"), EMITS)
async def test_each_emit_reaches_the_bridge_with_the_run_id(
    emit: str, args: tuple[Any, ...], notify: str, expected: tuple[Any, ...]
) -> None:
    bridge = Recorder()
    adapter = WebSocketBridgeAdapter("planner")
    adapter.set_websocket_bridge(bridge, "run-42")
    assert adapter.has_bridge
    assert adapter.run_id == "run-42"
    assert await getattr(adapter, emit)(*args) == f"receipt:{notify}"
    assert bridge.calls == [(notify, ("run-42", "planner", *expected))]


@pytest.mark.asyncio
async def test_emits_through_a_real_bridge() -> None:
    manager = ConnectionManager()
    bridge = await create_bridge(connection_manager=manager, orchestrator=ReferenceOrchestrator())
    connection = LocalConnection("t_x")
    manager.add(connection)
    run_id = generate_run_id("t_x")
    adapter = WebSocketBridgeAdapter("planner")
    adapter.set_websocket_bridge(bridge, run_id)
    receipt = await adapter.emit_agent_started()
    assert receipt.delivered
    await adapter.emit_thinking("hm")
    await adapter.emit_tool_executing("search")
    await adapter.emit_tool_completed("search")
    await adapter.emit_agent_completed("done")
    assert [m["run_id"] for m in connection.messages] == [run_id] * 5
    assert check_run_lifecycle(connection.messages, require_terminal=True) == []


def test_set_websocket_bridge_validates() -> None:
    adapter = WebSocketBridgeAdapter("planner")
    with pytest.raises(ValueError, match="bridge is None"):
        adapter.set_websocket_bridge(None, "run")  # type: ignore[arg-type]
    for run_id in ("", None, 3):
        with pytest.raises(ValueError, match="run_id must be a non-empty str"):
            adapter.set_websocket_bridge(Recorder(), run_id)  # type: ignore[arg-type]
    assert not adapter.has_bridge


@pytest.mark.parametrize("name", ["", None])
def test_adapter_needs_a_name(name: Any) -> None:
    with pytest.raises(ValueError, match="agent_name"):
        WebSocketBridgeAdapter(name)


class Echo(AgentBase):
    name = "echo"

    async def execute(self, request: Any) -> Any:
        await self.events.emit_thinking(f"echoing {request}")
        return {"echo": request}


class Fails(AgentBase):
    name = "fails"

    async def execute(self, request: Any) -> Any:
        raise KeyError("missing")


@pytest.mark.asyncio
async def test_agent_base_run_emits_started_then_completed() -> None:
    bridge = Recorder()
    agent = Echo()
    agent.set_websocket_bridge(bridge, "run-1")
    assert await agent.run("hi") == {"echo": "hi"}
    assert bridge.calls == [
        ("notify_agent_started", ("run-1", "echo", {"request": "hi"})),
        ("notify_agent_thinking", ("run-1", "echo", "echoing hi", None, None)),
        ("notify_agent_completed", ("run-1", "echo", {"echo": "hi"}, None)),
    ]


@pytest.mark.asyncio
async def test_agent_base_run_emits_error_and_reraises() -> None:
    bridge = Recorder()
    agent = Fails()
    agent.set_websocket_bridge(bridge, "run-1")
    with pytest.raises(KeyError, match="missing"):
        await agent.run("hi")
    assert [name for name, _ in bridge.calls] == ["notify_agent_started", "notify_agent_error"]
    assert bridge.calls[1][1] == ("run-1", "fails", "'missing'", {"exception": "KeyError"})


@pytest.mark.asyncio
async def test_agent_base_without_a_bridge_raises_before_executing() -> None:
    agent = Echo()
    with pytest.raises(BridgeNotSetError):
        await agent.run("hi")


@pytest.mark.asyncio
async def test_agent_base_execute_is_abstract() -> None:
    agent = AgentBase()
    agent.set_websocket_bridge(Recorder(), "run-1")
    with pytest.raises(NotImplementedError):
        await agent.run("x")


@pytest.mark.asyncio
async def test_emitting_a_type_the_bridge_lacks_says_so() -> None:
    class ContractOnly:
        """Only the contract's methods: no notify_custom."""

        async def notify_agent_started(self, *args: Any) -> str:
            return "started"

    adapter = WebSocketBridgeAdapter("planner")
    adapter.set_websocket_bridge(ContractOnly(), "run-1")  # type: ignore[arg-type]
    assert await adapter.emit_agent_started() == "started"
    with pytest.raises(BridgeNotSetError, match="ContractOnly has no notify_custom"):
        await adapter.emit_custom({"k": 1})
