"""``/metrics`` and the live viewer for apps that serve the bridge over ASGI (Starlette, FastAPI).

One line in a Starlette app: ``Mount("/ops", app=ops_app(hub, ws_path="/ws"))`` answers
``/ops/metrics`` (the same counters and gauges as ``wsbridge serve``) and the viewer at
``/ops/?thread=T&token=TOK``, whose WebSocket goes to the app's own ``/ws`` route. The answers
are :class:`~reference_impl.web.WebRoutes`'; this module only speaks ASGI (no framework import).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import CollectorRegistry

from .prometheus import CONTENT_TYPE, registry_for, render
from .web import WebRoutes

__all__ = ["ASGIApp", "ops_app"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def ops_app(hub: Any, *, ws_path: str = "/ws", viewer: bool = True) -> ASGIApp:
    """An ASGI app answering ``GET /metrics`` and, unless ``viewer=False``, the viewer.

    ``hub`` is the app's :class:`~reference_impl.session.SessionHub` (or the bridge, for the
    counters without the connection gauges), or a function returning it when the app builds
    its hub later (in its lifespan); the registry is this app's own.
    """
    built: list[tuple[Any, CollectorRegistry]] = []

    def metrics() -> tuple[bytes, str]:
        current = hub() if callable(hub) and not hasattr(hub, "metrics") else hub
        if not built or built[0][0] is not current:
            built[:] = [(current, registry_for(current))]
        return render(built[0][1]), CONTENT_TYPE

    if not callable(hub) or hasattr(hub, "metrics"):
        metrics()  # a hub without BridgeMetrics fails here, at start-up
    routes = WebRoutes(metrics=metrics, ws_path=ws_path, viewer=viewer)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError(f"ops_app serves HTTP only, not {scope['type']!r}")
        path = scope.get("path", "/")
        root = scope.get("root_path", "")
        if root and path.startswith(root):  # Starlette's Mount keeps the prefix in "path"
            path = path[len(root) :]
        query = scope.get("query_string", b"").decode("latin-1")
        if path == "":
            # Mounted at /ops and asked for /ops: the page's relative links need the slash.
            location = f"{root}/" + (f"?{query}" if query else "")
            headers = [(b"location", location.encode("latin-1")), (b"content-length", b"0")]
            await send({"type": "http.response.start", "status": 307, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        reply = routes.handle(scope.get("method", "GET"), path + (f"?{query}" if query else ""))
        headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers]
        headers.append((b"content-length", str(len(reply.body)).encode()))
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        body = b"" if scope.get("method") == "HEAD" else reply.body
        await send({"type": "http.response.body", "body": body})

    return app
