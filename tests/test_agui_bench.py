"""The AG-UI benchmark and the comparison table at small sizes (no timing is asserted)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from benchmarks.agui import run_agui, structural_stream, token_stream
from reference_impl.agui import validate_events

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("build", [token_stream, structural_stream])
def test_the_benchmark_streams_are_conformant_and_as_long_as_asked(build: object) -> None:
    assert callable(build)
    stream = build(5_000)
    assert 4_800 < len(stream) <= 5_000
    assert validate_events(stream).findings == []


@pytest.mark.agui
def test_both_validators_run_on_both_streams_and_agree_they_are_clean() -> None:
    rows = run_agui(events=600, repeats=1)
    assert [row.benchmark.split(" M=")[0] for row in rows] == [
        "agui token stream",
        "agui structural mix",
    ]
    for row in rows:
        assert row.correct, row
        assert row.baseline is not None
        assert row.baseline.system == "ag-ui-validate 0.4.0"
        assert row.subject.unit == row.baseline.unit == "events/s"
        assert row.subject.details["events"] == row.baseline.details["events"]
        assert row.target == 5.0


@pytest.mark.agui
@pytest.mark.asyncio
async def test_the_comparison_table_in_the_docs_is_current_and_ours_is_right_everywhere() -> None:
    from benchmarks.agui_compare import END, START, compare, render_table

    # compare() runs ag-ui-validate's async wire layer with asyncio.run: keep it off this loop
    rows = await asyncio.to_thread(compare)
    table = render_table(rows)
    assert table.startswith(f"Right on {len(rows)} of {len(rows)} streams: ours;")
    doc = (ROOT / "docs" / "agui.md").read_text(encoding="utf-8")
    committed = doc.split(START, 1)[1].split(END, 1)[0].strip()
    assert committed == table, "docs/agui.md is stale: run python -m benchmarks.agui_compare"
