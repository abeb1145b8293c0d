"""``wsbridge agui verify``: exit status, human and --json output, stdin, HTTP, bad usage."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from agui_support import corpus_app, serve
from server_support import TIMEOUT

from pytest_wsbridge.agui.catalogue import render_rules_markdown
from pytest_wsbridge.agui.corpus import CASES, LEGAL
from pytest_wsbridge.agui.readers import default_input
from reference_impl.agui import RULES_BY_ID

ROOT = Path(__file__).resolve().parent.parent
WSBRIDGE = [sys.executable, "-m", "pytest_wsbridge.cli"]
BY_NAME = {c.name: c for c in (*CASES, *LEGAL)}


def verify(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*WSBRIDGE, "agui", "verify", *args],
        input=stdin.decode("utf-8", "replace") if stdin is not None else None,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def write(tmp_path: Path, name: str) -> str:
    path = tmp_path / f"{name}.sse"
    path.write_bytes(BY_NAME[name].as_sse)
    return str(path)


def test_exit_0_when_every_source_is_conformant(tmp_path: Path) -> None:
    names = ["opens-with-run-error", "late-run-error", "message-reopened", "args-not-json",
             "result-parts"]  # fmt: skip
    done = verify(*[write(tmp_path, n) for n in names])
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(": conformant") == len(names)
    assert (
        done.stdout.rstrip().splitlines()[-1].startswith(f"summary: {len(names)} of {len(names)}")
    )


def test_exit_1_and_each_violation_with_index_type_rule_and_fix(tmp_path: Path) -> None:
    done = verify(write(tmp_path, "text-not-open"), write(tmp_path, "late-run-error"))
    assert done.returncode == 1
    rule = RULES_BY_ID["text.not-open"]
    assert "#1 TEXT_MESSAGE_CONTENT: [text.not-open]" in done.stdout
    assert f"change: {rule.fix}" in done.stdout
    assert rule.page in done.stdout
    assert done.stdout.rstrip().splitlines()[-1] == (
        "summary: 1 of 2 source(s) conformant, 1 violation(s)"
    )


def test_warnings_alone_exit_0(tmp_path: Path) -> None:
    done = verify(write(tmp_path, "version-undeclared"))
    assert done.returncode == 0
    assert "warning #0 RUN_STARTED: [version.undeclared]" in done.stdout


def test_json_prints_one_line_per_source_in_the_contract_shape(tmp_path: Path) -> None:
    done = verify("--json", write(tmp_path, "step-twice"), write(tmp_path, "version-undeclared"))
    assert done.returncode == 1
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(lines) == 2
    for line in lines:
        assert list(line) == ["source", "events", "conformant", "violations", "warnings"]
    assert lines[0]["conformant"] is False
    assert lines[0]["violations"] == [
        {"rule": "step.duplicate-open", "index": 2, "type": "STEP_STARTED",
         "message": "step 'plan' is already open"}
    ]  # fmt: skip
    assert lines[1]["conformant"] is True
    assert [w["rule"] for w in lines[1]["warnings"]] == ["version.undeclared"]


def test_stdin_is_read_and_sniffed() -> None:
    done = verify("--json", "-", stdin=BY_NAME["first-event"].as_sse)
    assert done.returncode == 1
    assert json.loads(done.stdout)["source"] == "<stdin>"
    jsonl = "".join(json.dumps(e) + "\n" for e in BY_NAME["late-run-error"].events).encode()
    assert verify("-", stdin=jsonl).returncode == 0


def test_exit_2_for_an_unreadable_source_even_beside_good_ones(tmp_path: Path) -> None:
    done = verify(write(tmp_path, "late-run-error"), str(tmp_path / "missing.jsonl"))
    assert done.returncode == 2
    assert "missing.jsonl: cannot read" in done.stderr
    assert "late-run-error.sse: conformant" in done.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ([], "the following arguments are required"),
        (["ws://127.0.0.1:9/ws"], "needs --thread"),
        (["--timeout", "soon", "x.sse"], "invalid float"),
    ],
)
def test_exit_2_for_bad_usage(args: list[str], needle: str) -> None:
    done = verify(*args)
    assert done.returncode == 2
    assert needle in done.stderr


def test_exit_2_for_an_input_that_is_not_a_run_agent_input(tmp_path: Path) -> None:
    bad = tmp_path / "in.json"
    bad.write_text('{"threadId": "t"}', encoding="utf-8")
    done = verify("--input", str(bad), write(tmp_path, "late-run-error"))
    assert done.returncode == 2
    assert "not a valid RunAgentInput" in done.stderr


def test_input_enables_the_rules_that_need_it(tmp_path: Path) -> None:
    case = BY_NAME["frontend-answered"]
    path = tmp_path / "in.json"
    path.write_text(json.dumps(case.input), encoding="utf-8")
    stream = tmp_path / "s.jsonl"
    stream.write_text("".join(json.dumps(e) + "\n" for e in case.events), encoding="utf-8")
    assert verify(str(stream)).returncode == 0
    done = verify("--json", "--input", str(path), str(stream))
    assert done.returncode == 1
    assert [v["rule"] for v in json.loads(done.stdout)["violations"]] == ["input.frontend-result"]


@pytest.mark.asyncio
async def test_an_http_endpoint_is_verified_from_the_shell(tmp_path: Path) -> None:
    path = tmp_path / "in.json"
    path.write_text(json.dumps({**default_input("t1"), "runId": "r1"}), encoding="utf-8")
    async with serve(corpus_app()) as url:
        proc = await asyncio.create_subprocess_exec(
            *WSBRIDGE, "agui", "verify", "--json", "--input", str(path),
            f"{url}/case/result-parts", f"{url}/case/crlf", f"{url}/case/http-status",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    assert proc.returncode == 1, err
    lines = [json.loads(line) for line in out.decode().splitlines()]
    assert [line["conformant"] for line in lines] == [True, False, False]
    assert [[v["rule"] for v in line["violations"]] for line in lines[1:]] == [
        ["wire.line-ending"],
        ["wire.http-status"],
    ]


def test_rules_prints_the_catalogue_and_the_docs_page_is_current() -> None:
    done = subprocess.run([*WSBRIDGE, "agui", "rules"], capture_output=True, text=True,
                          timeout=TIMEOUT, check=True)  # fmt: skip
    assert done.stdout == render_rules_markdown()
    committed = (ROOT / "docs" / "agui-rules.md").read_text(encoding="utf-8")
    assert committed == render_rules_markdown(), (
        "docs/agui-rules.md is stale: run python -m pytest_wsbridge.agui.catalogue"
    )
    for rule_id in RULES_BY_ID:
        assert f"`{rule_id}`" in committed
