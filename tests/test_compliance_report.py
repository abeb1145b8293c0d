"""The JSON and HTML compliance reports and the text summary."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pytest_wsbridge.compliance import CaseResult, SuiteResult, Verdict
from pytest_wsbridge.compliance.report import (
    render_summary,
    suite_from_dict,
    suite_to_dict,
    write_report,
)


def _suite() -> SuiteResult:
    def result(case_id: str, family: str, verdict: Verdict, observed: str) -> CaseResult:
        return CaseResult(
            case_id, family, f"about {case_id}", verdict, f"expect {case_id}", observed, 0.0123
        )

    return SuiteResult(
        factory="pkg.mod:create_bridge",
        bridge_class="pkg.mod.Bridge",
        started="2026-11-28T03:00:00+00:00",
        duration=1.5,
        results=[
            result("WSB-1.1", "delivery", Verdict.OK, "all 6 arrived"),
            result("WSB-1.2", "delivery", Verdict.FAILED, "got 0 of 6 <events> & more"),
            result("WSB-2.6", "resolution", Verdict.NON_STRICT, "returned False"),
            result("WSB-5.1", "replay", Verdict.UNIMPLEMENTED, "Bridge has no replay"),
            result("WSB-2.12", "resolution", Verdict.INFORMATIONAL, "moved to b"),
        ],
    )


def test_json_report_has_a_record_per_case_the_bridge_and_versions(tmp_path: Path) -> None:
    path = write_report(_suite(), tmp_path / "out" / "compliance.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["format"] == "pytest-wsbridge-compliance/1"
    assert data["bridge"] == {"factory": "pkg.mod:create_bridge", "class": "pkg.mod.Bridge"}
    assert set(data["versions"]) >= {"python", "pytest-wsbridge", "websockets", "pydantic"}
    assert all(data["versions"][k] for k in ("python", "pytest-wsbridge", "websockets", "pydantic"))
    assert data["summary"] == {
        "OK": 1,
        "NON-STRICT": 1,
        "INFORMATIONAL": 1,
        "UNIMPLEMENTED": 1,
        "FAILED": 1,
    }
    assert data["index"]["WSB-1.2"] == "FAILED"
    record = data["cases"][1]
    assert set(record) == {
        "id",
        "family",
        "description",
        "verdict",
        "expected",
        "observed",
        "duration",
    }
    assert record["verdict"] == "FAILED"
    assert record["observed"].startswith("got 0 of 6")
    assert [f["name"] for f in data["families"]][:2] == ["delivery", "resolution"]


def test_json_report_reads_back_to_the_same_results() -> None:
    suite = _suite()
    again = suite_from_dict(json.loads(json.dumps(suite_to_dict(suite))))
    assert again.results == [
        CaseResult(**{**r.to_dict(), "verdict": r.verdict}) for r in suite.results
    ]
    assert (again.factory, again.bridge_class) == (suite.factory, suite.bridge_class)


def test_html_report_is_a_self_contained_matrix_with_details_one_click_away(
    tmp_path: Path,
) -> None:
    page = write_report(_suite(), tmp_path / "r.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # no external asset
    assert '<table class="matrix">' in page
    rows = re.findall(r'<tr><th class="family">(.*?)</th>', page)
    assert rows == ["1 delivery", "2 resolution", "5 replay"]
    for case_id in ("WSB-1.1", "WSB-1.2", "WSB-2.6", "WSB-5.1", "WSB-2.12"):
        assert f'href="#{case_id}"' in page
        assert f'<section class="case" id="{case_id}"' in page
    assert "got 0 of 6 &lt;events&gt; &amp; more" in page  # escaped
    cell = re.search(r'<td style="background:(#[0-9a-f]+)"[^>]*><a href="#WSB-1.2">', page)
    assert cell is not None
    assert cell.group(1) == "#d23f31"
    assert "pkg.mod:create_bridge" in page


def test_a_report_path_must_be_json_or_html(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"must end in \.json or \.html"):
        write_report(_suite(), tmp_path / "r.txt")


def test_summary_counts_verdicts_per_family_and_lists_failures() -> None:
    text = render_summary(_suite())
    header, *rows = text.splitlines()
    assert header.split() == [
        "family",
        "OK",
        "NON-STRICT",
        "INFORMATIONAL",
        "UNIMPLEMENTED",
        "FAILED",
    ]
    assert rows[0].split() == ["1", "delivery", "1", "0", "0", "0", "1"]
    assert rows[1].split() == ["2", "resolution", "0", "1", "1", "0", "0"]
    assert "total" in text
    assert "FAILED WSB-1.2 about WSB-1.2" in text
    assert "    expected: expect WSB-1.2" in text
