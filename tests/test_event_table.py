"""The event-type table is the one source: bridge, adapter, lifecycle, ledger and harness
derive from it, and adding a row is all it takes to add an event type."""

from __future__ import annotations

import ast
import inspect
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from pytest_wsbridge.compliance.harness import NOTIFY_METHODS
from pytest_wsbridge.ledger import Ledger
from reference_impl.adapter import WebSocketBridgeAdapter
from reference_impl.bridge import AgentWebSocketBridge
from reference_impl.events import (
    EVENTS,
    CustomPayload,
    EventRole,
    EventSpec,
    EventTable,
    EventType,
    ToolExecutingPayload,
    event_type_of,
    summary_fields,
)
from reference_impl.lifecycle import TRANSITIONS, RunState

ROOT = Path(__file__).resolve().parent.parent


def test_every_built_in_type_has_a_row() -> None:
    # In table order; a row added later needs no EventType member (adding a type is one edit).
    built_in = [kind.value for kind in EventType]
    assert [kind for kind in EVENTS.types if kind in built_in] == built_in


@pytest.mark.parametrize("spec", list(EVENTS), ids=lambda spec: spec.type)
def test_the_bridge_has_each_rows_notify_method_with_the_rows_signature(spec: EventSpec) -> None:
    method = getattr(AgentWebSocketBridge, spec.notify)
    params = list(inspect.signature(method).parameters.values())
    assert [p.name for p in params] == ["self", "run_id", "agent_name", *spec.parameter_names]
    assert params[3:] == spec.parameters()
    assert inspect.iscoroutinefunction(method)
    assert event_type_of(spec.notify) == spec.type
    assert NOTIFY_METHODS[spec.type] == spec.notify


@pytest.mark.parametrize("spec", list(EVENTS), ids=lambda spec: spec.type)
def test_the_adapter_has_each_rows_emit_method(spec: EventSpec) -> None:
    method = getattr(WebSocketBridgeAdapter, spec.emit_method)
    params = list(inspect.signature(method).parameters.values())
    assert params[1:] == spec.parameters()


def _type_checking_defs(path: Path, class_name: str) -> dict[str, list[tuple[str, str | None]]]:
    """``name -> [(parameter, default source)]`` of the ``if TYPE_CHECKING:`` stubs."""
    tree = ast.parse(path.read_text())
    cls = next(n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == class_name)
    block = next(n for n in cls.body if isinstance(n, ast.If))
    assert ast.unparse(block.test) == "TYPE_CHECKING"
    found = {}
    for node in block.body:
        assert isinstance(node, ast.AsyncFunctionDef)
        args = node.args.args[1:]  # without self
        defaults = [None] * (len(args) - len(node.args.defaults)) + [
            ast.unparse(d) for d in node.args.defaults
        ]
        found[node.name] = [(a.arg, d) for a, d in zip(args, defaults, strict=True)]
    return found


def _table_params(spec: EventSpec) -> list[tuple[str, str | None]]:
    return [
        (p.name, None if p.default is inspect.Parameter.empty else repr(p.default))
        for p in spec.parameters()
    ]


def test_the_typed_declarations_agree_with_the_table() -> None:
    """The stubs static type checkers read cannot drift from the table the runtime uses."""
    notify = {
        **_type_checking_defs(ROOT / "reference_impl/events.py", "NotifyContract"),
        **_type_checking_defs(ROOT / "reference_impl/events.py", "NotifyMethods"),
    }
    emit = _type_checking_defs(ROOT / "reference_impl/adapter.py", "WebSocketBridgeAdapter")
    built_in = [EVENTS[kind.value] for kind in EventType]
    assert set(notify) >= {spec.notify for spec in built_in}
    assert set(emit) >= {spec.emit_method for spec in built_in}
    for spec in EVENTS:  # a row added later may have no declaration yet: it is optional
        if spec.notify in notify:
            assert notify[spec.notify] == [
                ("run_id", None),
                ("agent_name", None),
                *_table_params(spec),
            ]
        if spec.emit_method in emit:
            assert emit[spec.emit_method] == _table_params(spec)
    assert set(notify) <= {spec.notify for spec in EVENTS}
    assert set(emit) <= {spec.emit_method for spec in EVENTS}


def test_the_lifecycle_transitions_come_from_the_roles() -> None:
    expected: dict[tuple[RunState, str], RunState] = {}
    for spec in EVENTS:
        if spec.role is EventRole.START:
            expected[(RunState.NEW, spec.type)] = RunState.RUNNING
        elif spec.role is EventRole.END:
            expected[(RunState.RUNNING, spec.type)] = RunState.FINISHED
        else:
            expected[(RunState.RUNNING, spec.type)] = RunState.RUNNING
            if spec.role is EventRole.FREE:
                expected[(RunState.NEW, spec.type)] = RunState.NEW
    assert dict(TRANSITIONS) == expected


@pytest.mark.asyncio
async def test_generated_notify_methods_bind_like_hand_written_ones() -> None:
    bridge = AgentWebSocketBridge.__new__(AgentWebSocketBridge)
    calls: list[tuple[str, str, str, dict[str, Any]]] = []

    async def record(spec: EventSpec, run_id: str, agent_name: str, arguments: Any) -> str:
        calls.append((spec.type, run_id, agent_name, dict(arguments)))
        return "receipt"

    bridge._emit = record  # type: ignore[method-assign]
    assert await bridge.notify_agent_thinking("r", "a", "hm", progress_percentage=5.0) == "receipt"
    assert await bridge.notify_custom("r", "a", payload={"k": 1}) == "receipt"
    assert calls == [
        (
            "agent_thinking",
            "r",
            "a",
            {"reasoning": "hm", "step_number": None, "progress_percentage": 5.0},
        ),
        ("custom", "r", "a", {"payload": {"k": 1}}),
    ]
    with pytest.raises(TypeError, match="reasoning"):
        await bridge.notify_agent_thinking("r", "a")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="mood"):
        await bridge.notify_agent_started("r", "a", mood=1)  # type: ignore[call-arg]


def test_a_table_refuses_rows_that_would_collide() -> None:
    with pytest.raises(ValueError, match="unique"):
        EventTable([*EVENTS, EventSpec("custom", CustomPayload, EventRole.FREE)])
    with pytest.raises(ValueError, match="not a Python name"):
        EventSpec("agent-paused", CustomPayload, EventRole.STEP)
    with pytest.raises(ValueError, match="reserved"):
        EventSpec("odd", CustomPayload, EventRole.STEP, payload_arg="run_id")
    with pytest.raises(KeyError, match="known: agent_started"):
        EVENTS["agent_paused"]


def test_a_row_refuses_a_summary_it_cannot_fill() -> None:
    with pytest.raises(ValueError, match=r"\['tool'\], not fields of ToolExecutingPayload"):
        EventSpec("x", ToolExecutingPayload, EventRole.STEP, summary="{tool}")
    with pytest.raises(ValueError, match="unbalanced \\["):
        EventSpec("x", ToolExecutingPayload, EventRole.STEP, summary="{tool_name}[ {parameters}")
    with pytest.raises(ValueError, match="unbalanced \\]"):
        EventSpec("x", ToolExecutingPayload, EventRole.STEP, summary="{tool_name}]")
    for spec in EVENTS:  # the built-in rows' summaries name their own fields
        assert set(summary_fields(spec.summary)) <= {"agent_name", *spec.parameter_names}
    assert summary_fields("[step {step_number}: ]{reasoning}[ ({p:g}%)]") == [
        "step_number",
        "reasoning",
        "p",
    ]


def test_the_ledger_records_every_rows_notify_method() -> None:
    ledger = Ledger()
    bridge = AgentWebSocketBridge.__new__(AgentWebSocketBridge)
    ledger.instrument(bridge)
    for spec in EVENTS:
        assert getattr(getattr(bridge, spec.notify), "__wsbridge_ledger__", None) is ledger


# -- adding an event type is one edit ---------------------------------------------------------

PAYLOAD_MODEL = '''
class AgentPausedPayload(_Payload):
    """``agent_paused``: the run waits, e.g. for a person to approve a step."""

    reason: str
    resume_after_s: float | None = Field(default=None, ge=0)


'''
ROW = (
    '        EventSpec("agent_paused", AgentPausedPayload, EventRole.STEP,'
    ' summary="paused[: {reason}][ for {resume_after_s:g} s]"),\n'
)

PROOF = textwrap.dedent(
    """
    import asyncio, inspect

    from pytest_wsbridge.compliance.harness import NOTIFY_METHODS
    from pytest_wsbridge.ledger import Ledger
    from reference_impl import ConnectionManager, ReferenceOrchestrator, generate_run_id
    from reference_impl.adapter import WebSocketBridgeAdapter
    from reference_impl.bridge import create_bridge
    from reference_impl.connections import LocalConnection
    from reference_impl.display import format_event
    from reference_impl.events import EventMessage
    from reference_impl.lifecycle import check_run_lifecycle
    from reference_impl.schema import wire_schema


    async def main():
        manager = ConnectionManager()
        bridge = await create_bridge(
            connection_manager=manager,
            orchestrator=ReferenceOrchestrator(),
            lifecycle_policy="strict",
        )
        ledger = Ledger()
        ledger.instrument(bridge)
        connection = LocalConnection("t_1")
        manager.add(connection)
        run_id = generate_run_id("t_1")
        agent = WebSocketBridgeAdapter("planner")
        agent.set_websocket_bridge(bridge, run_id)
        await agent.emit_agent_started()
        receipt = await agent.emit_agent_paused("needs approval", resume_after_s=5)
        await bridge.notify_agent_paused(run_id, "planner", "still waiting")
        await agent.emit_agent_completed("done")
        assert receipt.delivered and receipt.seq == 2, receipt
        types = [m["type"] for m in connection.messages]
        assert types == ["agent_started", "agent_paused", "agent_paused", "agent_completed"]
        assert connection.messages[1]["payload"] == {
            "reason": "needs approval", "resume_after_s": 5.0
        }
        EventMessage.from_wire(connection.messages[1])
        line = format_event(connection.messages[1])
        assert line.endswith("  agent_paused     paused: needs approval for 5 s  #2"), line
        assert format_event(connection.messages[2]).endswith("paused: still waiting  #3")
        assert check_run_lifecycle(connection.messages, require_terminal=True) == []
        [paused] = check_run_lifecycle([{"type": "agent_paused", "run_id": "r"}])
        assert paused.rule == "started-first", paused
        assert [c.event_type for c in ledger.emissions()][1:3] == ["agent_paused"] * 2
        assert ledger.emissions()[1].arguments["reason"] == "needs approval"
        params = list(inspect.signature(bridge.notify_agent_paused).parameters)
        assert params == ["run_id", "agent_name", "reason", "resume_after_s"], params
        assert NOTIFY_METHODS["agent_paused"] == "notify_agent_paused"
        assert "agent_paused" in wire_schema()["x-payloads"]
        try:
            await bridge.notify_agent_paused(run_id, "planner", "late")
        except Exception as exc:
            assert type(exc).__name__ == "LifecycleError", exc
        else:
            raise AssertionError("agent_paused after agent_completed was accepted")
        await bridge.close()
        print("agent_paused: OK")


    asyncio.run(main())
    """
)


def test_adding_an_event_type_is_one_edit_to_the_table(tmp_path: Path) -> None:
    """Copy both packages, add a payload model and its row to ``events.py`` (nothing else),
    and check that the bridge, the adapter, the lifecycle, the ledger, the harness and the
    schema all know the new type."""
    for package in ("reference_impl", "pytest_wsbridge"):
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    events = tmp_path / "reference_impl" / "events.py"
    source = events.read_text()
    anchor_model = "@dataclass(frozen=True)\nclass EventSpec:"
    anchor_row = '        EventSpec("custom", CustomPayload'
    assert source.count(anchor_model) == 1
    assert source.count(anchor_row) == 1
    source = source.replace(anchor_model, PAYLOAD_MODEL.lstrip("\n") + anchor_model)
    events.write_text(source.replace(anchor_row, ROW + anchor_row))
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", PROOF],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "agent_paused: OK"
