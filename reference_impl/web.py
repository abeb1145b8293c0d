"""The plain-HTTP side of a bridge server: ``/metrics`` and the live viewer, as data. No I/O
beyond reading the packaged static files.

:class:`WebRoutes` maps a request target to an :class:`HttpReply`; the ``websockets`` server
(:mod:`reference_impl.server`, through ``process_request``) and the ASGI adapter
(:func:`reference_impl.asgi.ops_app`) are thin layers over it, so both answer the same:

- ``GET /metrics``: the Prometheus text format (:mod:`reference_impl.prometheus`);
- ``GET /?thread=T&token=TOK``: the live viewer page (the query is read by the page itself);
- ``GET /static/NAME``: the viewer's files, among them ``wsbridge-client.js``, the browser
  client apps may serve to their own pages (:func:`static_file`).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from urllib.parse import urlsplit

from .events import EVENTS, EventRole

__all__ = ["STATIC_FILES", "HttpReply", "WebRoutes", "static_file"]

#: The packaged static files (``reference_impl/static/``) and their content types.
STATIC_FILES: dict[str, str] = {
    "viewer.html": "text/html; charset=utf-8",
    "viewer.css": "text/css; charset=utf-8",
    "viewer.js": "text/javascript; charset=utf-8",
    "wsbridge-client.js": "text/javascript; charset=utf-8",
}

_SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    # The viewer's URL carries a token: never send it on as a Referer.
    ("Referrer-Policy", "no-referrer"),
)
_PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@dataclass(frozen=True)
class HttpReply:
    """A complete HTTP response: status, headers (``Content-Type`` first) and body."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""
    reason: str = field(default="", compare=False)

    @classmethod
    def text(cls, status: int, text: str) -> HttpReply:
        """A plain-text reply."""
        return cls(
            status,
            (("Content-Type", "text/plain; charset=utf-8"), *_SECURITY_HEADERS),
            text.encode(),
        )


@cache
def static_file(name: str) -> bytes:
    """The bytes of a packaged static file (a name of :data:`STATIC_FILES`).

    Serve ``static_file("wsbridge-client.js")`` from your own app to use the browser client
    on your pages; it is a classic script defining ``window.WsBridgeClient``.
    """
    if name not in STATIC_FILES:
        raise KeyError(f"no static file {name!r}; the files are {', '.join(STATIC_FILES)}")
    return (resources.files("reference_impl") / "static" / name).read_bytes()


class WebRoutes:
    """Answers ``GET`` requests of the bridge's HTTP side.

    ``metrics`` renders the Prometheus text (``None``: no ``/metrics``); ``ws_path`` is where
    the viewer opens its WebSocket, relative to the page's host (``"/"`` for ``wsbridge
    serve``, ``"/ws"`` for the Starlette example). ``viewer=False`` leaves the viewer out.
    """

    def __init__(
        self,
        *,
        metrics: Callable[[], tuple[bytes, str]] | None = None,
        ws_path: str = "/",
        viewer: bool = True,
    ) -> None:
        self.metrics = metrics
        self.ws_path = ws_path
        self.viewer = viewer

    def handle(self, method: str, target: str) -> HttpReply:
        """The reply to ``method`` ``target`` (a path with an optional query)."""
        path = urlsplit(target).path or "/"
        if method not in ("GET", "HEAD"):
            return HttpReply.text(405, f"method {method} not allowed; use GET\n")
        if path == "/metrics" and self.metrics is not None:
            body, content_type = self.metrics()
            return HttpReply(
                200,
                (("Content-Type", content_type), ("Cache-Control", "no-store"), *_SECURITY_HEADERS),
                body,
            )
        if self.viewer and path in ("/", "/index.html"):
            return HttpReply(
                200,
                (
                    ("Content-Type", STATIC_FILES["viewer.html"]),
                    ("Cache-Control", "no-store"),
                    ("Content-Security-Policy", _PAGE_POLICY),
                    *_SECURITY_HEADERS,
                ),
                self.page(),
            )
        name = path.removeprefix("/static/")
        if self.viewer and name != path and name in STATIC_FILES and name != "viewer.html":
            return HttpReply(
                200,
                (
                    ("Content-Type", STATIC_FILES[name]),
                    ("Cache-Control", "no-cache"),
                    *_SECURITY_HEADERS,
                ),
                static_file(name),
            )
        known = ["/metrics"] if self.metrics is not None else []
        if self.viewer:
            known.append("/?thread=T&token=TOK")
        return HttpReply.text(
            404, f"no such page: {path}; this server answers {' and '.join(known) or 'nothing'}\n"
        )

    def page(self) -> bytes:
        """The viewer page, with the WebSocket path and the event types that end a run (the
        ``END`` rows of :data:`~reference_impl.events.EVENTS`) filled in."""
        terminal = " ".join(EVENTS.with_role(EventRole.END))
        return (
            static_file("viewer.html")
            .decode()
            .replace("{{ws_path}}", html.escape(self.ws_path, quote=True))
            .replace("{{terminal_types}}", html.escape(terminal, quote=True))
            .encode()
        )
