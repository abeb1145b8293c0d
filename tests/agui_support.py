"""Helpers for the AG-UI tests: an SSE producer app serving the corpus, and uvicorn on port 0."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from pytest_wsbridge.agui.corpus import CASES, LEGAL

__all__ = ["BY_NAME", "corpus_app", "serve"]

BY_NAME = {c.name: c for c in (*CASES, *LEGAL)}


def corpus_app(requests: list[dict[str, Any]] | None = None) -> Starlette:
    """POST /case/NAME answers with that corpus case's body, status and content type.

    POST /drop streams a RUN_STARTED and ends the body; POST /stall sends one and then waits.
    Every request's headers and JSON body are appended to ``requests``.
    """
    seen = requests if requests is not None else []

    async def record(request: Request) -> None:
        seen.append({"headers": dict(request.headers), "body": json.loads(await request.body())})

    async def case(request: Request) -> Response:
        await record(request)
        c = BY_NAME[request.path_params["name"]]

        async def body() -> AsyncIterator[bytes]:
            data = c.as_sse
            for i in range(0, len(data), 7):  # small pieces: the reader must reassemble
                yield data[i : i + 7]

        return StreamingResponse(body(), status_code=c.status, media_type=c.content_type)

    async def drop(request: Request) -> Response:
        await record(request)
        start = {"type": "RUN_STARTED", "threadId": "t", "runId": "r", "protocolVersion": "1.1"}
        return Response(f"data: {json.dumps(start)}\n\n", media_type="text/event-stream")

    async def stall(request: Request) -> Response:
        await record(request)
        start = {"type": "RUN_STARTED", "threadId": "t", "runId": "r", "protocolVersion": "1.1"}

        async def body() -> AsyncIterator[bytes]:
            yield f"data: {json.dumps(start)}\n\n".encode()
            await asyncio.Event().wait()

        return StreamingResponse(body(), media_type="text/event-stream")

    routes = [
        Route("/case/{name}", case, methods=["POST"]),
        Route("/drop", drop, methods=["POST"]),
        Route("/stall", stall, methods=["POST"]),
    ]
    return Starlette(routes=routes)


@asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 and a free port; yield ``http://host:port``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    host, port = sock.getsockname()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        server.force_exit = True
        await asyncio.wait_for(serving, timeout=10)
        sock.close()
