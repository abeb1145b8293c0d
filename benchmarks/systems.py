"""The reference bridge served by the reference server, as a benchmark system.

:class:`BridgeSystem` builds the bridge with :func:`reference_impl.create_bridge` (memory
backend unless one is given), serves it with :class:`reference_impl.server.BridgeServer` on
127.0.0.1 and an OS-chosen port, and emits through the public ``notify_*`` API: seq 1 is
``agent_started`` and the rest ``agent_thinking``, each carrying its emit time.
"""

from __future__ import annotations

import uuid
from typing import Any

from reference_impl import ConnectionManager, ReferenceOrchestrator, create_bridge
from reference_impl.bridge import AgentWebSocketBridge

from .harness import THREAD_ID, run_id_for
from .wsclients import Kind

__all__ = ["BridgeSystem", "TwoNodeSystem"]


class BridgeSystem:
    """``async with BridgeSystem() as system: await system.emit(seq, ts)``."""

    token = None

    def __init__(
        self,
        *,
        backend: Any = None,
        bridge_options: dict[str, Any] | None = None,
        dialect: str | None = None,
        **server_options: Any,
    ) -> None:
        self.kind: Kind = "bridge"
        #: The dialect the clients subscribe in (``None``: native).
        self.dialect = dialect
        self.backend = backend
        self.bridge_options = bridge_options or {}
        self.server_options = {"ping_interval": None, **server_options}
        self.url = ""
        self._bridge: AgentWebSocketBridge | None = None
        self._server: Any = None

    @property
    def bridge(self) -> AgentWebSocketBridge:
        """The bridge under test (available inside ``async with``)."""
        assert self._bridge is not None, "enter the system first"
        return self._bridge

    async def __aenter__(self) -> BridgeSystem:
        from reference_impl.server import BridgeServer

        self._bridge = await create_bridge(
            connection_manager=ConnectionManager(),
            orchestrator=ReferenceOrchestrator(),
            backend=self.backend,
            **self.bridge_options,
        )
        self._server = BridgeServer(self._bridge, **self.server_options)
        await self._server.start()
        self.url = self._server.url
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            if self._server is not None:
                await self._server.close()
        finally:
            await self.bridge.close()

    async def emit(self, seq: int, ts: float, thread_id: str = THREAD_ID) -> None:
        """Emit event ``seq`` of the benchmark run of ``thread_id`` through the notify API."""
        run_id = run_id_for(thread_id)
        if seq == 1:
            await self.bridge.notify_agent_started(run_id, "bench", context={"ts": ts})
        else:
            await self.bridge.notify_agent_thinking(
                run_id, "bench", reasoning=repr(ts), step_number=seq
            )


class TwoNodeSystem:
    """Two bridge nodes sharing one Redis: events are emitted on the first; clients are split
    between both, so half of the deliveries cross Redis."""

    token = None

    def __init__(self, redis_url: str) -> None:
        from reference_impl.backends.redis import RedisBackend

        self.kind: Kind = "bridge"
        # A key prefix of its own: each round's thread starts at seq 1 on the same Redis.
        prefix = f"bench-{uuid.uuid4().hex[:12]}:"
        self.nodes = [
            BridgeSystem(backend=RedisBackend(redis_url, key_prefix=prefix)) for _ in range(2)
        ]
        self.urls: list[str] = []
        self.url = ""

    async def __aenter__(self) -> TwoNodeSystem:
        await self.nodes[0].__aenter__()
        try:
            await self.nodes[1].__aenter__()
        except BaseException:
            await self.nodes[0].__aexit__(None, None, None)
            raise
        self.urls = [node.url for node in self.nodes]
        self.url = self.urls[0]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            await self.nodes[1].__aexit__(*exc_info)
        finally:
            await self.nodes[0].__aexit__(*exc_info)

    async def emit(self, seq: int, ts: float, thread_id: str = THREAD_ID) -> None:
        """Emit on the first node."""
        await self.nodes[0].emit(seq, ts, thread_id)
