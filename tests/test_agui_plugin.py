"""The pytest side of AG-UI: the agui_stream fixture, assert_agui_conformant, the wsbridge_agui
marker and --wsbridge-strict, run in a separate pytest process (pytester)."""

from __future__ import annotations

import pytest

import pytest_wsbridge
from pytest_wsbridge import assert_agui_conformant
from pytest_wsbridge.agui.corpus import CASES, LEGAL

INNER = """
import pytest
from pytest_wsbridge import assert_agui_conformant

START = b'data: {"type":"RUN_STARTED","threadId":"t","runId":"r","protocolVersion":"1.1"}\\n\\n'
FINISH = b'data: {"type":"RUN_FINISHED","threadId":"t","runId":"r"}\\n\\n'
ORPHAN = b'data: {"type":"TEXT_MESSAGE_CONTENT","messageId":"m","delta":"x"}\\n\\n'
GOOD = START + FINISH
BAD = START + ORPHAN + FINISH


def sse_app(body):
    async def app(scope, receive, send):
        await receive()
        headers = [(b"content-type", b"text/event-stream")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
    return app


@pytest.mark.asyncio
@pytest.mark.wsbridge_agui
async def test_marked_bad(agui_stream):
    await agui_stream(sse_app(BAD), path="/agent")


@pytest.mark.asyncio
async def test_unmarked_bad(agui_stream):
    stream = await agui_stream(sse_app(BAD))
    assert not stream.conformant


@pytest.mark.asyncio
@pytest.mark.wsbridge_agui
async def test_marked_good(agui_stream):
    stream = await agui_stream(sse_app(GOOD))
    assert stream.conformant and len(agui_stream.streams) == 1


@pytest.mark.wsbridge_agui
def test_marked_without_a_stream():
    pass


@pytest.mark.asyncio
async def test_assertion_helper(agui_stream):
    assert_agui_conformant(await agui_stream(sse_app(BAD)))


@pytest.mark.wsbridge_agui
def test_judged_events(agui_stream):
    agui_stream.judge([{"type": "RUN_ERROR", "message": "refused"}], source="relay")
"""


def outcomes(result: pytest.RunResult) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in result.outlines:
        for word in ("PASSED", "FAILED"):
            if line.startswith("test_inner.py::") and f" {word}" in line:
                found[line.split("::")[1].split()[0]] = word
    return found


def test_marker_fixture_and_assertion(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inner=INNER)
    result = pytester.runpytest_subprocess("-v", "-p", "no:cacheprovider")
    assert outcomes(result) == {
        "test_marked_bad": "FAILED",
        "test_unmarked_bad": "PASSED",
        "test_marked_good": "PASSED",
        "test_marked_without_a_stream": "FAILED",
        "test_assertion_helper": "FAILED",
        "test_judged_events": "PASSED",
    }
    text = result.stdout.str()
    assert "wsbridge_agui: 1 AG-UI stream(s) not conformant" in text
    assert "asgi:/agent: NOT conformant" in text
    assert "#1 TEXT_MESSAGE_CONTENT: [text.not-open]" in text
    assert "change: Send TEXT_MESSAGE_START first" in text
    assert "the test collected no AG-UI stream" in text
    assert "AG-UI stream is not conformant" in text


def test_strict_applies_the_marker_wherever_the_fixture_is_used(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inner=INNER)
    result = pytester.runpytest_subprocess("-v", "-p", "no:cacheprovider", "--wsbridge-strict")
    found = outcomes(result)
    assert found["test_unmarked_bad"] == "FAILED"
    assert found["test_marked_good"] == "PASSED"


def test_the_marker_is_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.wsbridge_agui: every AG-UI stream*"])


def test_helpers_are_exported_and_judge_events_directly() -> None:
    for name in ("assert_agui_conformant", "AguiCollector", "AguiStream", "record_agui_stream"):
        assert name in pytest_wsbridge.__all__
    assert_agui_conformant(LEGAL[0].events)
    bad = next(c for c in CASES if c.expect == "text.not-open")
    with pytest.raises(AssertionError, match=r"\[text.not-open\]"):
        assert_agui_conformant(bad.events)
