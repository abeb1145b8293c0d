"""The AG-UI readers: files, stdin, HTTP+SSE over a real socket, an ASGI app in-process."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from agui_support import BY_NAME, corpus_app, serve
from server_support import TIMEOUT

from pytest_wsbridge.agui.corpus import CASES, LEGAL, Case
from pytest_wsbridge.agui.exceptions import AguiSourceError
from pytest_wsbridge.agui.readers import (
    collect_asgi,
    collect_bytes,
    collect_file,
    collect_http,
    default_input,
    load_input,
)

ALL = [*CASES, *LEGAL]
EVENT_CASES = [c for c in ALL if c.sse is None and c.status == 200]


def run_input(case: Case) -> dict[str, Any]:
    """The case's input, or the one a client asking for the corpus's run ``r1`` would send."""
    return case.input if case.input is not None else {**default_input("t1"), "runId": "r1"}


def expected(case: Case) -> set[str]:
    return {case.expect} if case.expect else set()


@pytest.mark.parametrize("case", EVENT_CASES, ids=[c.name for c in EVENT_CASES])
@pytest.mark.parametrize("suffix", [".sse", ".jsonl", ".json"])
def test_files_of_each_kind_give_the_corpus_verdict(
    case: Case, suffix: str, tmp_path: Path
) -> None:
    path = tmp_path / f"{case.name}{suffix}"
    if suffix == ".sse":
        path.write_bytes(case.as_sse)
    elif suffix == ".jsonl":
        path.write_text("".join(json.dumps(e) + "\n" for e in case.events), encoding="utf-8")
    else:
        path.write_text(json.dumps(case.events), encoding="utf-8")
    stream = collect_file(path, input=case.input)
    assert {f.rule for f in stream.report.findings} == expected(case)
    assert stream.events == case.events
    assert stream.report.source == str(path)


WIRE_FILE_CASES = [
    c for c in ALL if c.sse is not None and c.status == 200 and "event-stream" in c.content_type
]


@pytest.mark.parametrize("case", WIRE_FILE_CASES, ids=[c.name for c in WIRE_FILE_CASES])
def test_raw_sse_files_are_judged_on_the_wire(case: Case, tmp_path: Path) -> None:
    path = tmp_path / "stream.sse"
    path.write_bytes(case.as_sse)
    assert {f.rule for f in collect_file(path).report.findings} == expected(case)


def test_sniffing_without_a_known_suffix() -> None:
    events = LEGAL[0].events
    for data in (json.dumps(events).encode(), json.dumps(events[0]).encode() + b"\n",
                 BY_NAME["late-run-error"].as_sse):  # fmt: skip
        assert collect_bytes(data, source="x").report.findings == []


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("a.json", b'{"type": "RUN_ERROR", "message": "x"}', "array of events"),
        ("a.json", b"[{", "not JSON"),
        ("a.jsonl", b'{"type": "RUN_ERROR", "message": "x"}\n{oops\n', "a.jsonl:2"),
        ("a.jsonl", b"\xff\xfe", "not UTF-8"),
    ],
)
def test_unreadable_files_say_why(name: str, content: bytes, needle: str, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(AguiSourceError, match=needle):
        collect_file(path)
    with pytest.raises(AguiSourceError, match="cannot read"):
        collect_file(tmp_path / "missing.sse")


def test_load_input_checks_the_run_agent_input(tmp_path: Path) -> None:
    good = tmp_path / "in.json"
    good.write_text(json.dumps(default_input("t9")), encoding="utf-8")
    assert load_input(good)["threadId"] == "t9"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"threadId": "t", "runId": "r"}), encoding="utf-8")
    with pytest.raises(AguiSourceError, match="requires 'messages'"):
        load_input(bad)
    with pytest.raises(AguiSourceError, match="cannot read"):
        load_input(tmp_path / "none.json")


@pytest_asyncio.fixture
async def corpus_server() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    requests: list[dict[str, Any]] = []
    async with serve(corpus_app(requests)) as url:
        yield url, requests


@pytest.mark.asyncio
async def test_http_sources_get_the_corpus_verdict_over_a_real_socket(
    corpus_server: tuple[str, list[dict[str, Any]]],
) -> None:
    url, requests = corpus_server
    for case in ALL:
        stream = await asyncio.to_thread(
            collect_http, f"{url}/case/{case.name}", input=run_input(case), timeout=TIMEOUT
        )
        assert {f.rule for f in stream.report.findings} == expected(case), case.name
    assert len(requests) == len(ALL)
    for request, case in zip(requests, ALL, strict=True):
        assert request["headers"]["content-type"] == "application/json"
        assert request["headers"]["accept"] == "text/event-stream"
        assert request["body"] == run_input(case)


@pytest.mark.asyncio
async def test_a_body_that_ends_or_stalls_mid_run_is_truncated(
    corpus_server: tuple[str, list[dict[str, Any]]],
) -> None:
    url, _ = corpus_server
    asked = {**default_input("t"), "runId": "r"}
    dropped = await asyncio.to_thread(collect_http, f"{url}/drop", input=asked, timeout=TIMEOUT)
    assert [f.rule for f in dropped.report.findings] == ["lifecycle.truncated"]
    stalled = await asyncio.to_thread(collect_http, f"{url}/stall", input=asked, timeout=0.5)
    assert [f.rule for f in stalled.report.findings] == ["lifecycle.truncated"]
    assert [e["type"] for e in stalled.events] == ["RUN_STARTED"]


@pytest.mark.asyncio
async def test_an_unreachable_endpoint_is_unreadable_not_a_verdict() -> None:
    with pytest.raises(AguiSourceError, match="cannot POST"):
        await asyncio.to_thread(collect_http, "http://127.0.0.1:9/", timeout=TIMEOUT)


@pytest.mark.asyncio
@pytest.mark.parametrize("case", ALL, ids=[c.name for c in ALL])
async def test_an_asgi_app_in_process_gets_the_same_verdict(case: Case) -> None:
    requests: list[dict[str, Any]] = []
    app = corpus_app(requests)
    stream = await collect_asgi(
        app, path=f"/case/{case.name}", input=run_input(case), timeout=TIMEOUT
    )
    assert {f.rule for f in stream.report.findings} == expected(case)
    assert requests[0]["headers"]["accept"] == "text/event-stream"
