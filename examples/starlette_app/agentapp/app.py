"""The reference bridge behind a Starlette app: a WebSocket route and an endpoint that starts a run.

``WS /ws`` runs one :class:`reference_impl.session.Session` per browser over
:class:`StarletteTransport`; ``POST /threads/{thread_id}/runs`` starts an agent run whose events
the bridge routes to that thread; ``/ops/metrics`` and the live viewer ``/ops/?thread=T&token=TOK``
are :func:`reference_impl.asgi.ops_app`, mounted in one line. FastAPI apps are Starlette apps:
the same transport serves an ``@app.websocket("/ws")`` route.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketState

from reference_impl import (
    AgentBase,
    ConnectionManager,
    ReferenceOrchestrator,
    create_bridge,
    generate_run_id,
)
from reference_impl.asgi import ops_app
from reference_impl.auth import OwnerAuthorizer, TokenAuthenticator, bearer_token
from reference_impl.session import SessionHub

__all__ = ["AgentService", "AnswerAgent", "StarletteTransport", "build_service", "create_app"]


class StarletteTransport:
    """:class:`reference_impl.session.Transport` over a Starlette (or FastAPI) WebSocket."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket

    async def send_text(self, text: str) -> None:
        await self.websocket.send_text(text)

    async def receive(self) -> str | bytes | None:
        message = await self.websocket.receive()
        if message["type"] == "websocket.disconnect":
            return None
        text: str | None = message.get("text")
        return text if text is not None else message.get("bytes")

    async def close(self, code: int, reason: str) -> None:
        if self.websocket.application_state is WebSocketState.CONNECTED:
            # The browser may be gone already; there is nobody left to tell.
            with contextlib.suppress(RuntimeError, OSError):
                await self.websocket.close(code, reason)


class AnswerAgent(AgentBase):
    """A stand-in for your agent: thinks, calls one tool, answers."""

    name = "answer-agent"

    async def execute(self, request: Any) -> Any:
        await self.events.emit_thinking(f"planning an answer to {request!r}", 1, 30.0)
        await self.events.emit_tool_executing("search", {"query": request})
        await self.events.emit_tool_completed("search", {"hits": 3}, 4.2)
        return {"answer": f"three things about {request}"}


@dataclass
class AgentService:
    """What the routes share: the bridge, the orchestrator, the sessions and the running agents.

    ``hub`` is ``None`` when the bridge does not send to a reference ``ConnectionManager`` (in
    tests with the plugin's ``ws_bridge``): the HTTP routes work, ``/ws`` refuses.
    """

    bridge: Any
    orchestrator: ReferenceOrchestrator
    authenticator: TokenAuthenticator
    hub: SessionHub | None = None
    runs: set[asyncio.Task[Any]] = field(default_factory=set)

    async def start_run(self, user_id: str, thread_id: str, question: str) -> str:
        """Start an agent run on ``thread_id`` (claiming the thread if nobody owns it)."""
        if self.orchestrator.owner_of(thread_id) is None:
            self.orchestrator.create_thread(user_id, thread_id)
        run_id = generate_run_id(thread_id)
        await self.bridge.register_run(run_id, thread_id)
        agent = AnswerAgent()
        agent.set_websocket_bridge(self.bridge, run_id)
        task = asyncio.create_task(agent.run(question), name=f"agent run {run_id}")
        self.runs.add(task)
        task.add_done_callback(self.runs.discard)
        return run_id

    async def join(self) -> None:
        """Wait for every running agent to finish."""
        while self.runs:
            await asyncio.gather(*self.runs, return_exceptions=True)

    async def close(self) -> None:
        """Finish the runs, close the sessions (1001) and release the bridge."""
        await self.join()
        if self.hub is not None:
            await self.hub.close_all()
        close = getattr(self.bridge, "close", None)
        if close is not None:
            await close()


async def build_service(tokens: Mapping[str, str]) -> AgentService:
    """The production wiring: connections, orchestrator, a started bridge, the session hub.

    Replace ``TokenAuthenticator`` with your auth, ``ReferenceOrchestrator`` with yours, and pass
    ``backend="redis://host:port/db"`` to ``create_bridge`` when several processes serve the
    same threads.
    """
    connections = ConnectionManager()
    orchestrator = ReferenceOrchestrator()
    bridge = await create_bridge(connection_manager=connections, orchestrator=orchestrator)
    authenticator = TokenAuthenticator(tokens)
    hub = SessionHub(
        bridge,
        connections,
        authenticator=authenticator,
        authorizer=OwnerAuthorizer(orchestrator),
    )
    return AgentService(bridge, orchestrator, authenticator, hub)


def create_app(
    service: AgentService | None = None, *, tokens: Mapping[str, str] | None = None
) -> Starlette:
    """The ASGI app. Without ``service``, its lifespan builds one with :func:`build_service`."""
    state: dict[str, AgentService] = {}

    def current() -> AgentService:
        return state["service"]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state["service"] = service if service is not None else await build_service(tokens or {})
        try:
            yield
        finally:
            await state["service"].close()

    if service is not None:
        state["service"] = service  # usable without a lifespan (httpx's ASGITransport)

    async def start_run(request: Request) -> JSONResponse:
        svc = current()
        user_id = svc.authenticator.authenticate(
            bearer_token(request.headers.get("authorization")) or ""
        )
        if user_id is None:
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        thread_id = request.path_params["thread_id"]
        owner = svc.orchestrator.owner_of(thread_id)
        if owner is not None and owner != user_id:
            return JSONResponse({"error": "forbidden"}, status_code=403)
        body = await request.json()
        run_id = await svc.start_run(user_id, thread_id, str(body.get("question", "")))
        return JSONResponse({"run_id": run_id, "thread_id": thread_id}, status_code=202)

    async def websocket_endpoint(websocket: WebSocket) -> None:
        svc = current()
        await websocket.accept()
        transport = StarletteTransport(websocket)
        if svc.hub is None:
            await transport.close(1011, "this app has no WebSocket hub")
            return
        token = bearer_token(websocket.headers.get("authorization"))
        client = websocket.client
        await svc.hub.serve(
            transport, token=token, peer=f"{client.host}:{client.port}" if client else ""
        )

    return Starlette(
        routes=[
            Route("/threads/{thread_id}/runs", start_run, methods=["POST"]),
            WebSocketRoute("/ws", websocket_endpoint),
            # Prometheus metrics and the live viewer (whose WebSocket is /ws above).
            Mount("/ops", app=ops_app(lambda: current().hub or current().bridge, ws_path="/ws")),
        ],
        lifespan=lifespan,
    )
