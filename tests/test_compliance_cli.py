"""``wsbridge check``: exit codes, case selection, reports and a bad factory string."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_wsbridge.cli import main
from pytest_wsbridge.compliance import CASES
from pytest_wsbridge.compliance.catalogue import BEGIN, END, with_cases_table
from pytest_wsbridge.compliance.catalogue import main as catalogue_main
from pytest_wsbridge.compliance.cli import cases_table

ROOT = Path(__file__).resolve().parents[1]
QUICK = ["--init-timeout", "0.5", "--delivery-timeout", "0.5"]


@pytest.fixture(autouse=True)
def _in_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(sys, "path", list(sys.path))


def test_reference_passes_selected_cases_and_writes_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "out.json"
    status = main(
        [
            "check",
            "reference_impl:create_bridge",
            "--cases",
            "WSB-1.*,resolution",
            "--exclude",
            "WSB-1.5",
            "--report",
            str(report),
        ]
    )
    out = capsys.readouterr().out
    assert status == 0
    data = json.loads(report.read_text(encoding="utf-8"))
    ids = [r["id"] for r in data["cases"]]
    assert ids[0] == "WSB-1.1"
    assert "WSB-1.5" not in ids
    assert "WSB-2.12" in ids
    assert all(i.startswith(("WSB-1.", "WSB-2.")) for i in ids)
    assert data["summary"]["OK"] == len(ids)
    assert "WSB-1.1   OK" in out
    assert "reference_impl.bridge.AgentWebSocketBridge" in out
    assert f"report: {report}" in out
    total = next(line for line in out.splitlines() if line.startswith("total"))
    assert total.split()[1:] == [str(len(ids)), "0", "0", "0", "0"]


def test_a_failing_case_exits_1_and_shows_expected_and_observed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "out.html"
    status = main(
        [
            "check",
            "examples.broken_bridges.run_id_fallback:create_bridge",
            "--cases",
            "resolution",
            "-q",
            "--report",
            str(report),
            *QUICK,
        ]
    )
    out = capsys.readouterr().out
    assert status == 1
    assert "FAILED WSB-2.6 A legacy run id that was never registered is refused" in out
    assert "sent 1 message(s) to thread 'run_xyz789'" in out
    assert "WSB-2.1   OK" not in out  # -q: the summary only
    assert 'href="#WSB-2.6"' in report.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_colon_here", "is not of the form MODULE:CALLABLE"),
        ("no_such_module_xyz:create_bridge", "cannot import module 'no_such_module_xyz'"),
        ("reference_impl:no_such_factory", "has no attribute 'no_such_factory'"),
        ("reference_impl:__version__", "not a callable"),
    ],
)
def test_a_bad_factory_string_exits_2_with_a_clear_message(
    spec: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", spec]) == 2
    err = capsys.readouterr().err
    assert err.startswith("wsbridge check: error: ")
    assert message in err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"]) == 2
    assert "MODULE:CALLABLE" in capsys.readouterr().err
    assert main(["check", "reference_impl:create_bridge", "--cases", "WSB-99.*"]) == 2
    assert "no case matches" in capsys.readouterr().err
    assert main(["check", "reference_impl:create_bridge", "--report", "out.txt"]) == 2
    assert "must end in .json or .html" in capsys.readouterr().err


def test_list_prints_every_case_as_a_markdown_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "| id | family | case | expected |"
    assert len(lines) == 2 + len(CASES)
    assert lines[2].startswith("| WSB-1.1 | delivery | ")


def test_the_console_script_runs_check_from_the_shell() -> None:
    script = Path(sys.executable).with_name("wsbridge")
    done = subprocess.run(
        [
            str(script),
            "check",
            "examples.broken_bridges.swallowed_send_errors:create_bridge",
            "--cases",
            "WSB-1.7,WSB-1.1",
            *QUICK,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": ""},
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "WSB-1.7   FAILED" in done.stdout
    assert "WSB-1.1   OK" in done.stdout
    assert "Traceback" not in done.stderr


def test_the_docs_case_table_is_the_generated_one() -> None:
    page = (ROOT / "docs" / "compliance.md").read_text(encoding="utf-8")
    begin = page.index(BEGIN)
    table = page[page.index("\n", begin) + 1 : page.index(END)]
    assert table.strip() == cases_table(CASES), (
        "docs/compliance.md is stale: run python -m pytest_wsbridge.compliance.catalogue"
    )
    assert with_cases_table(page) == page


def test_the_catalogue_rewrites_only_the_marked_block(tmp_path: Path) -> None:
    page = tmp_path / "compliance.md"
    page.write_text(f"# Cases\n\nintro\n\n{BEGIN} (generated) -->\nold table\n{END}\nafter\n")
    assert catalogue_main([str(page)]) == 0
    text = page.read_text(encoding="utf-8")
    assert text.startswith(f"# Cases\n\nintro\n\n{BEGIN} (generated) -->\n| id | family |")
    assert text.endswith(f"{END}\nafter\n")
    assert "old table" not in text
    for case in CASES:
        assert f"| {case.id} | {case.family.name} |" in text
    assert catalogue_main([str(page)]) == 0
    assert page.read_text(encoding="utf-8") == text  # idempotent
    (tmp_path / "bare.md").write_text("no markers\n")
    assert catalogue_main([str(tmp_path / "bare.md")]) == 2
    assert catalogue_main([str(tmp_path / "missing.md")]) == 2


MY_BRIDGE = """
from reference_impl import create_bridge as _reference


async def create_bridge(*, connection_manager, orchestrator, init_timeout=5.0):
    if orchestrator == "never given":
        raise RuntimeError("an untested path")  # no case reaches this line
    return await _reference(
        connection_manager=connection_manager, orchestrator=orchestrator,
        init_timeout=init_timeout,
    )
"""


def test_check_coverage_reports_the_lines_of_the_bridge_package_the_suite_ran(
    tmp_path: Path,
) -> None:
    (tmp_path / "mybridge").mkdir()
    (tmp_path / "mybridge" / "__init__.py").write_text(MY_BRIDGE, encoding="utf-8")
    script = Path(sys.executable).with_name("wsbridge")
    command = [str(script), "check", "mybridge:create_bridge", "--cases", "WSB-1.1", *QUICK]
    for report in ("out/r.json", "out/r.html"):
        done = subprocess.run(
            [*command, "--coverage", "--report", report],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "coverage of mybridge: " in done.stdout
    data = json.loads((tmp_path / "out" / "r.json").read_text(encoding="utf-8"))
    assert data["coverage"]["package"] == "mybridge"
    assert 50 < data["coverage"]["percent"] < 100  # the untested path is not covered
    assert (tmp_path / "out" / "r-coverage" / "index.html").is_file()
    page = (tmp_path / "out" / "r.html").read_text(encoding="utf-8")
    assert 'href="r-coverage/index.html"' in page
    assert "the bridge&#x27;s package" in page or "the bridge's package" in page


def test_check_coverage_without_the_coverage_package_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "coverage", None)  # import coverage -> ImportError
    status = main(["check", "reference_impl:create_bridge", "--cases", "WSB-1.1", "--coverage"])
    assert status == 2
    assert "pip install 'pytest-wsbridge[coverage]'" in capsys.readouterr().err
