"""A demo agent on a timer, so ``wsbridge serve --demo`` shows events flowing.

Each run of :class:`DemoAgent` thinks, calls a tool and completes, through the ordinary
agent side (:class:`~reference_impl.adapter.AgentBase`); :func:`run_demo` starts a new run
every ``interval`` seconds until cancelled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from .adapter import AgentBase
from .exceptions import BackendUnavailableError
from .orchestrator import ReferenceOrchestrator

__all__ = ["DEMO_THREAD", "DEMO_TOKEN", "DEMO_USER", "DemoAgent", "run_demo"]

DEMO_THREAD = "demo-thread"
DEMO_USER = "demo"
DEMO_TOKEN = "demo-token"


class DemoAgent(AgentBase):
    """Thinks, looks up the weather with a pretend tool, and answers."""

    name = "demo-agent"

    def __init__(self, pause: float = 0.0, padding: int = 0) -> None:
        super().__init__()
        self.pause = pause
        #: Characters of filler in the tool call and its result (heavier events, for load tests).
        self.padding = padding

    async def execute(self, request: Any) -> Any:
        await self.events.emit_thinking(f"planning an answer to {request!r}", 1, 25.0)
        await asyncio.sleep(self.pause)
        filler = {"notes": "." * self.padding} if self.padding else {}
        await self.events.emit_tool_executing("weather", {"city": "Lisbon", **filler})
        await asyncio.sleep(self.pause)
        await self.events.emit_tool_completed("weather", {"forecast": "sunny", **filler}, 12.5)
        await self.events.emit_thinking("writing the answer", 2, 90.0)
        return {"answer": "It will be sunny in Lisbon."}


async def run_demo(
    bridge: Any,
    orchestrator: ReferenceOrchestrator,
    *,
    thread_id: str = DEMO_THREAD,
    interval: float = 1.0,
    runs: int | None = None,
    on_run: Callable[[str], None] | None = None,
    stop: asyncio.Event | None = None,
    padding: int = 0,
    on_error: Callable[[str, BackendUnavailableError], None] | None = None,
) -> None:
    """Start a :class:`DemoAgent` run on ``thread_id`` every ``interval`` seconds.

    ``runs`` bounds the number of runs (``None``: until cancelled or ``stop`` is set);
    ``on_run(run_id)`` is called as each run starts; ``padding`` characters of filler go
    into each run's tool call and result. A run whose storage fails
    (:class:`~reference_impl.exceptions.BackendUnavailableError`, Redis down) is reported to
    ``on_error(run_id, exc)`` and the next run starts as usual; without ``on_error`` it raises.
    """
    count = 0
    while (runs is None or count < runs) and not (stop is not None and stop.is_set()):
        count += 1
        run_id = orchestrator.start_run(thread_id)
        if on_run is not None:
            on_run(run_id)
        agent = DemoAgent(pause=interval / 4, padding=padding)
        agent.set_websocket_bridge(bridge, run_id)
        try:
            await agent.run(f"question {count}")
        except BackendUnavailableError as exc:
            if on_error is None:
                raise
            on_error(run_id, exc)
        await asyncio.sleep(interval)
