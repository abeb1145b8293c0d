"""Downstream projects for the plugin's pytester self-tests: their bridges and their ini.

``BRIDGES`` is one module (``bridges.py`` in the test project) with a factory per way a real
bridge loses events; each test writes it next to its own test file.
"""

from __future__ import annotations

import pytest

__all__ = ["BRIDGES", "INI", "make_project"]

INI = """
[pytest]
asyncio_mode = {mode}
asyncio_default_fixture_loop_scope = function
filterwarnings =
    error
    # in-process runs: the outer session imported the plugin before this one could rewrite it
    ignore:Module already imported so cannot be rewritten:pytest.PytestAssertRewriteWarning
addopts = -p no:cacheprovider -p no:hypothesispytest
wsbridge_init_timeout = 0.5
wsbridge_delivery_timeout = 0.5
{extra}
"""

BRIDGES = '''
"""Bridges that lose events the ways real ones do (and one sync bridge that does not)."""
import asyncio

from reference_impl import AgentWebSocketBridge, thread_id_from_run_id

TYPES = ("agent_started", "agent_thinking", "tool_executing", "tool_completed",
         "agent_completed", "agent_error")


class SimpleBridge:
    """Resolves registry -> run-id format, sends at once; subclasses break one thing each."""

    def __init__(self, connection_manager, orchestrator):
        if orchestrator is None:
            raise RuntimeError("no orchestrator")
        self.cm = connection_manager
        self.orchestrator = orchestrator
        self.runs = {}
        self.seq = {}

    async def register_run(self, run_id, thread_id):
        self.runs[run_id] = thread_id

    def resolve(self, run_id):
        thread_id = self.runs.get(run_id) or thread_id_from_run_id(run_id)
        if thread_id is None:
            raise LookupError(run_id)
        return thread_id

    def message(self, kind, run_id, thread_id, agent_name, payload):
        self.seq[thread_id] = self.seq.get(thread_id, 0) + 1
        return {"type": kind, "run_id": run_id, "thread_id": thread_id,
                "seq": self.seq[thread_id], "agent_name": agent_name, "payload": payload}

    async def emit(self, kind, run_id, agent_name, **payload):
        thread_id = self.resolve(run_id)
        return await self.cm.send_to_thread(
            thread_id, self.message(kind, run_id, thread_id, agent_name, payload))

    async def notify_agent_started(self, run_id, agent_name, context=None):
        return await self.emit("agent_started", run_id, agent_name, context=context)

    async def notify_agent_thinking(self, run_id, agent_name, reasoning, step_number=None,
                                    progress_percentage=None):
        return await self.emit("agent_thinking", run_id, agent_name, reasoning=reasoning)

    async def notify_agent_completed(self, run_id, agent_name, result=None,
                                     execution_time_ms=None):
        return await self.emit("agent_completed", run_id, agent_name, result=result)

    async def replay(self, thread_id, after_seq):
        return []


class FallbackBridge(SimpleBridge):
    """The audit's bug: asks the orchestrator, then uses the run id as the thread id."""

    async def register_run(self, run_id, thread_id):
        pass  # "the orchestrator knows"

    def resolve(self, run_id):
        return thread_id_from_run_id(run_id) or run_id


class SwallowingBridge(SimpleBridge):
    """Catches send errors and reports success."""

    async def emit(self, kind, run_id, agent_name, **payload):
        try:
            return await super().emit(kind, run_id, agent_name, **payload)
        except Exception:
            return True


class NoReplayBridge(SimpleBridge):
    replay = None


class BufferingBridge(SimpleBridge):
    """Keeps every event and replays after a seq; ``replay_all`` ignores the seq (duplicates)."""

    replay_all = False

    def __init__(self, connection_manager, orchestrator):
        super().__init__(connection_manager, orchestrator)
        self.log = {}

    def message(self, kind, run_id, thread_id, agent_name, payload):
        message = super().message(kind, run_id, thread_id, agent_name, payload)
        self.log.setdefault(thread_id, []).append(message)
        return message

    async def emit(self, kind, run_id, agent_name, **payload):
        try:
            return await super().emit(kind, run_id, agent_name, **payload)
        except ConnectionError:
            return False  # stored already: a resuming subscriber gets it

    async def replay(self, thread_id, after_seq):
        return [m for m in self.log.get(thread_id, [])
                if self.replay_all or m["seq"] > after_seq]


class ReplayAllBridge(BufferingBridge):
    replay_all = True


class SyncBridge(BufferingBridge):
    """Sync notify methods that send from a background task (in flight after the call)."""

    def register_run(self, run_id, thread_id):
        self.runs[run_id] = thread_id

    def notify_agent_started(self, run_id, agent_name, context=None):
        thread_id = self.resolve(run_id)
        message = self.message("agent_started", run_id, thread_id, agent_name, {})
        task = asyncio.get_running_loop().create_task(self.send_later(thread_id, message))
        self.tasks = getattr(self, "tasks", set()) | {task}
        return None

    async def send_later(self, thread_id, message):
        await asyncio.sleep(0.01)
        await self.cm.send_to_thread(thread_id, message)


def make(cls):
    def factory(*, connection_manager, orchestrator):
        return cls(connection_manager, orchestrator)
    factory.__qualname__ = cls.__name__.lower()
    return factory


fallback = make(FallbackBridge)
swallowing = make(SwallowingBridge)
dropping = make(SimpleBridge)
no_replay = make(NoReplayBridge)
buffering = make(BufferingBridge)
replay_all = make(ReplayAllBridge)
sync = make(SyncBridge)


async def no_orchestrator_check(*, connection_manager, orchestrator):
    """Starts "fine" whatever the orchestrator: the optional-orchestrator bug."""
    return AgentWebSocketBridge(connection_manager=connection_manager,
                                orchestrator=orchestrator or "to be set later")


def blocking(*, connection_manager, orchestrator):
    """Calls the orchestrator synchronously and blocks the thread forever when it hangs."""
    import threading
    if orchestrator is None:
        raise RuntimeError("no orchestrator")
    result = orchestrator.health_check()
    if hasattr(result, "close"):
        result.close()
        threading.Event().wait()  # a synchronous hang
    return SimpleBridge(connection_manager, orchestrator)


def sloppy(*, connection_manager, orchestrator):
    """Forgets to await the health check: a coroutine is truthy, so every orchestrator passes."""
    if orchestrator is None:
        raise RuntimeError("no orchestrator")
    if not orchestrator.health_check():
        raise RuntimeError("unhealthy")
    return SimpleBridge(connection_manager, orchestrator)


not_callable = 42
'''


def make_project(
    pytester: pytest.Pytester, tests: str, *, mode: str = "strict", ini: str = ""
) -> None:
    """Write ``bridges.py``, ``pytest.ini`` and ``test_downstream.py`` into ``pytester``."""
    pytester.makepyfile(bridges=BRIDGES, test_downstream=tests)
    pytester.makeini(INI.format(mode=mode, extra=ini))
