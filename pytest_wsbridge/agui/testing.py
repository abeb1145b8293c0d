"""pytest helpers for AG-UI: collect a stream from your own app or endpoint, assert it conforms.

    async def test_my_agent_speaks_ag_ui(agui_stream):
        stream = await agui_stream(my_asgi_app, path="/agent", input=run_input)
        assert_agui_conformant(stream)          # fails with the full report

    @pytest.mark.wsbridge_agui                  # every stream the test collected must conform
    async def test_relay(agui_stream): ...

The marker ``wsbridge_agui`` checks, after the test body, every stream collected through
``agui_stream`` (or handed to :func:`record_agui_stream` by another fixture, e.g. one that reads
our WebSocket binding in the ``ag-ui`` dialect). ``--wsbridge-strict`` applies it to every test that
uses ``agui_stream``. Warnings never fail a test.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

import pytest

from reference_impl.agui import Report

from ..markers import AGUI_MARKER
from .cli import format_report
from .readers import AguiStream, StreamCheck, collect_asgi, collect_http, collect_ws

__all__ = [
    "AGUI_FIXTURE",
    "AGUI_MARKER",
    "AguiCollector",
    "agui_stream",
    "assert_agui_conformant",
    "check_agui_item",
    "record_agui_stream",
]

AGUI_FIXTURE = "agui_stream"
_STREAMS_KEY = pytest.StashKey[list[AguiStream]]()


def _report_of(target: AguiStream | Report | Iterable[Any]) -> Report:
    if isinstance(target, AguiStream):
        return target.report
    if isinstance(target, Report):
        return target
    check = StreamCheck("<events>")
    for event in target:
        check.event(event)
    return check.finish().report


def assert_agui_conformant(target: AguiStream | Report | Iterable[Any]) -> None:
    """Fail (``AssertionError``) with the whole report unless the stream has no violation.

    ``target`` is what :func:`agui_stream` returned, a :class:`~reference_impl.agui.Report`, or
    the events themselves (judged as a complete stream).
    """
    report = _report_of(target)
    if not report.conformant:
        raise AssertionError("AG-UI stream is not conformant:\n" + format_report(report))


def record_agui_stream(node: pytest.Item, stream: AguiStream) -> None:
    """Add ``stream`` to what the ``wsbridge_agui`` check judges for this test."""
    node.stash.setdefault(_STREAMS_KEY, []).append(stream)


class AguiCollector:
    """What the ``agui_stream`` fixture gives a test: call it to collect and judge a stream."""

    def __init__(self, node: pytest.Item, timeout: float = 30.0) -> None:
        self._node = node
        self.timeout = timeout

    @property
    def streams(self) -> list[AguiStream]:
        """Every stream collected in this test, in order."""
        streams: list[AguiStream] = self._node.stash.get(_STREAMS_KEY, [])
        return list(streams)

    async def __call__(
        self,
        target: Any,
        *,
        input: Mapping[str, Any] | None = None,
        path: str = "/",
        headers: Mapping[str, str] | None = None,
        thread: str | None = None,
        token: str | None = None,
        timeout: float | None = None,
    ) -> AguiStream:
        """Collect one run from ``target``: an ASGI app (POSTed to ``path`` in-process), an
        ``http(s)://`` URL (HTTP+SSE) or a ``ws://`` URL (our binding; needs ``thread``)."""
        limit = self.timeout if timeout is None else timeout
        if isinstance(target, str) and target.startswith(("http://", "https://")):
            stream = await asyncio.to_thread(
                collect_http, target, input=input, timeout=limit, headers=headers
            )
        elif isinstance(target, str) and target.startswith(("ws://", "wss://")):
            if thread is None:
                raise ValueError("a ws:// target needs thread=")
            stream = await collect_ws(target, thread=thread, token=token, input=input,
                                      timeout=limit)  # fmt: skip
        elif callable(target):
            stream = await collect_asgi(target, input=input, path=path, headers=headers,
                                        timeout=limit)  # fmt: skip
        else:
            raise TypeError(f"agui_stream needs an ASGI app or an http(s)/ws URL, not {target!r}")
        record_agui_stream(self._node, stream)
        return stream

    def judge(
        self,
        events: Iterable[Any],
        *,
        input: Mapping[str, Any] | None = None,
        source: str = "<events>",
    ) -> AguiStream:
        """Judge events the test already has (read from a bridge connection, say); record them."""
        check = StreamCheck(source, input)
        for event in events:
            check.event(event)
        stream = check.finish()
        record_agui_stream(self._node, stream)
        return stream


@pytest.fixture
def agui_stream(request: pytest.FixtureRequest) -> AguiCollector:
    """Collect AG-UI streams from your ASGI app or endpoint; each is judged by the 1.1 rules."""
    return AguiCollector(request.node)


def check_agui_item(item: pytest.Item, *, strict: bool) -> None:
    """The ``wsbridge_agui`` check: ``pytest.fail`` with the reports of non-conformant streams."""
    marked = item.get_closest_marker(AGUI_MARKER) is not None
    in_use = AGUI_FIXTURE in getattr(item, "fixturenames", ())
    if not (marked or (strict and in_use)):
        return
    streams = item.stash.get(_STREAMS_KEY, [])
    if marked and not streams:
        pytest.fail(
            f"{AGUI_MARKER}: the test collected no AG-UI stream (use the agui_stream fixture)",
            pytrace=False,
        )
    bad = [s.report for s in streams if not s.report.conformant]
    if bad:
        text = "\n".join(format_report(report) for report in bad)
        pytest.fail(
            f"{AGUI_MARKER}: {len(bad)} AG-UI stream(s) not conformant\n{text}", pytrace=False
        )
