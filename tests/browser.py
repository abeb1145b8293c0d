"""A real headless Chromium driven over the DevTools protocol with ``websockets`` (tests only).

Debian's ``chromium`` package (``.ci/run`` installs it); nothing is downloaded at test time.
:func:`find_chromium` says where it is; :class:`Chromium` starts it on a throw-away profile
with ``--remote-debugging-port=0``, reads the port from ``DevToolsActivePort`` and speaks CDP
over one browser-level WebSocket; :class:`Page` is one tab (a flattened target session).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

__all__ = ["CHROMIUM_FIX", "BrowserError", "Chromium", "Page", "find_chromium"]

#: What to do when Chromium is missing (the skip message names it).
CHROMIUM_FIX = "apt-get install -y chromium (.ci/run installs it)"

_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class BrowserError(RuntimeError):
    """Chromium did not start, or a DevTools command failed."""


def find_chromium() -> str | None:
    """The Chromium binary: ``$WSBRIDGE_CHROMIUM``, else the first one on ``PATH``."""
    configured = os.environ.get("WSBRIDGE_CHROMIUM")
    if configured:
        return configured
    for name in _CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


class Chromium:
    """``async with Chromium(binary, profile_dir) as browser: page = await browser.new_page()``."""

    def __init__(self, binary: str, profile_dir: Path, *, timeout: float = 30.0) -> None:
        self.binary = binary
        self.profile_dir = profile_dir
        self.timeout = timeout
        self.process: subprocess.Popen[bytes] | None = None
        self._ws: ClientConnection | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader: asyncio.Task[None] | None = None
        self.log_path = profile_dir / "chromium.log"

    async def __aenter__(self) -> Chromium:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def start(self) -> None:
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        port_file = self.profile_dir / "DevToolsActivePort"
        self.process = self._launch()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            if self.process.poll() is not None:
                raise BrowserError(
                    f"chromium exited with {self.process.returncode}: {self._log_tail()}"
                )
            if loop.time() > deadline:
                raise BrowserError(f"chromium wrote no DevToolsActivePort: {self._log_tail()}")
            await asyncio.sleep(0.05)
        port, path = port_file.read_text().splitlines()[:2]
        self._ws = await connect(
            f"ws://127.0.0.1:{port}{path}", max_size=None, open_timeout=self.timeout
        )
        self._reader = asyncio.ensure_future(self._read())

    def _launch(self) -> subprocess.Popen[bytes]:
        with self.log_path.open("wb") as log:
            return subprocess.Popen(
                [
                    self.binary,
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--no-default-browser-check",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-extensions",
                    "--disable-dev-shm-usage",
                    "--hide-scrollbars",
                    "--window-size=1200,900",
                    f"--user-data-dir={self.profile_dir}",
                    "--remote-debugging-address=127.0.0.1",
                    "--remote-debugging-port=0",
                    "about:blank",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-2000:]
        return ""

    async def _read(self) -> None:
        assert self._ws is not None
        try:
            async for data in self._ws:
                message = json.loads(data)
                future = self._pending.pop(message.get("id", -1), None)
                if future is not None and not future.done():
                    future.set_result(message)
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(BrowserError("the DevTools connection closed"))

    async def send(
        self, method: str, params: dict[str, Any] | None = None, session_id: str | None = None
    ) -> dict[str, Any]:
        """Run one DevTools command; return its ``result`` or raise :class:`BrowserError`."""
        if self._ws is None:
            raise BrowserError("the browser is not started")
        message_id = next(self._ids)
        frame: dict[str, Any] = {"id": message_id, "method": method, "params": params or {}}
        if session_id is not None:
            frame["sessionId"] = session_id
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[message_id] = future
        await self._ws.send(json.dumps(frame))
        reply = await asyncio.wait_for(future, self.timeout)
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error']}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    async def new_page(self) -> Page:
        """Open a tab and attach to it."""
        target = await self.send("Target.createTarget", {"url": "about:blank"})
        attached = await self.send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
        )
        page = Page(self, attached["sessionId"])
        await page.send("Page.enable")
        await page.send("Runtime.enable")
        return page

    async def close(self) -> None:
        """Close the browser (``Browser.close``, then terminate, then kill)."""
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.send("Browser.close"), 5)
            await self._ws.close()
            self._ws = None
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        process, self.process = self.process, None
        if process is not None:
            for stop in (process.terminate, process.kill):
                if process.poll() is None:
                    stop()
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        await asyncio.to_thread(process.wait, 10)
            if process.poll() is None:
                raise BrowserError("chromium did not exit")


class Page:
    """One tab of a :class:`Chromium`."""

    def __init__(self, browser: Chromium, session_id: str) -> None:
        self.browser = browser
        self.session_id = session_id

    async def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self.browser.send(method, params, self.session_id)

    async def goto(self, url: str) -> None:
        """Navigate and wait until the document has loaded."""
        result = await self.send("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise BrowserError(f"navigating to {url}: {result['errorText']}")
        await self.wait_for("document.readyState === 'complete'")

    async def evaluate(self, expression: str) -> Any:
        """The JSON value of ``expression`` in the page; a JavaScript exception raises."""
        result = await self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"{expression!r} raised: {text}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout: float | None = None) -> Any:
        """Poll ``expression`` until it is truthy; return its value (raise on timeout)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (timeout if timeout is not None else self.browser.timeout)
        while True:
            value = await self.evaluate(expression)
            if value:
                return value
            if loop.time() > deadline:
                raise BrowserError(f"still falsy after the timeout: {expression}")
            await asyncio.sleep(0.05)

    async def screenshot(self, path: Path) -> Path:
        """Save a PNG of the whole page at ``path``."""
        metrics = await self.send("Page.getLayoutMetrics")
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        shot = await self.send(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {
                    "x": 0,
                    "y": 0,
                    "width": max(size["width"], 800),
                    "height": min(max(size["height"], 400), 4000),
                    "scale": 1,
                },
            },
        )
        await asyncio.to_thread(path.write_bytes, base64.b64decode(shot["data"]))
        return path
