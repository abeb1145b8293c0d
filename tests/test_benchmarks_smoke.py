"""The benchmarks at tiny sizes: every count is right (no timing is asserted)."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path

import pytest

from benchmarks import cli as bench_cli
from benchmarks import connections as connections_module
from benchmarks.baselines import socketio_available
from benchmarks.connections import measure_idle
from benchmarks.fanout import run_fanout
from benchmarks.latency import Scenario, run_latency
from benchmarks.plugin_overhead import _pytest, write_suite
from benchmarks.redis_fanout import run_redis
from benchmarks.replay import run_replay
from benchmarks.results import Measurement, Row, format_table, percentile
from pytest_wsbridge import cli as wsbridge_cli


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert math.isnan(percentile([], 50))


def test_table_marks_missed_targets_and_wrong_counts() -> None:
    fast = Measurement("a", 90.0, "x/s")
    slow = Measurement("b", 100.0, "x/s")
    met = Row("one", fast, slow, target=0.8)
    missed = Row("two", fast, slow, target=0.95)
    lower = Row("three", fast, slow, target=0.95, higher_is_better=False)
    wrong = Row("four", fast, slow, target=0.8, correct=False)
    assert (met.met, missed.met, lower.met) == (True, False, True)
    table = format_table([met, missed, lower, wrong]).splitlines()
    verdicts = [line.split("|")[-2].strip() for line in table[2:6]]
    assert verdicts == ["yes", "NO", "yes", "WRONG COUNTS"]


@pytest.mark.asyncio
async def test_fanout_every_client_gets_every_event_in_order() -> None:
    rows = await run_fanout(clients=3, events=20, timeout=30, socketio=socketio_available())
    assert socketio_available(), "the test extra installs python-socketio and aiohttp"
    # by rate; the AG-UI dialect against the native one (rate, CPU); then by server CPU
    assert [(row.subject.system, row.baseline.system) for row in rows if row.baseline] == [
        ("wsbridge", "bare websockets"),
        ("wsbridge", "python-socketio"),
        ("wsbridge ag-ui", "wsbridge"),
        ("wsbridge ag-ui", "wsbridge"),
        ("wsbridge", "bare websockets"),
        ("wsbridge", "python-socketio"),
    ]
    for row in rows:
        assert row.correct, row
        for measured in (row.subject, row.baseline):
            assert measured is not None
            assert measured.details["received"] == 3 * 20
            assert measured.details["complete_clients"] == 3
            assert measured.details["errors"] == []


@pytest.mark.asyncio
async def test_latency_rows_compare_p99_at_a_paced_rate_with_every_event_in_order() -> None:
    scenarios = (Scenario("1 thread × 3 clients", 1, 3), Scenario("3 threads × 1 client", 3, 3))
    rows = await run_latency(rate=60, seconds=0.5, timeout=30, scenarios=scenarios)
    assert [row.benchmark.split(",")[0] for row in rows] == [
        "latency 1 thread × 3 clients",
        "latency 3 threads × 1 client",
    ]
    for row, per_client in zip(rows, (30, 10), strict=True):
        assert row.correct, row
        assert row.target == 1.5
        assert not row.higher_is_better
        for measured in (row.subject, row.baseline):
            assert measured is not None
            assert measured.unit == "ms p99"
            assert measured.details["events"] == 30
            assert measured.details["received"] == 3 * per_client
            assert measured.details["errors"] == []
            d = measured.details
            assert d["latency_p50_ms"] <= d["latency_p99_ms"] <= d["latency_max_ms"]


@pytest.mark.asyncio
async def test_replay_resumes_every_missed_event() -> None:
    (row,) = await run_replay(events=50, timeout=30)
    assert row.correct
    assert row.subject.details["received"] == 50
    assert row.baseline is not None
    assert row.baseline.details["received"] == 50


@pytest.mark.asyncio
@pytest.mark.parametrize("system", ["wsbridge", "bare websockets"])
async def test_idle_connections_all_subscribe(system: str) -> None:
    result = await measure_idle(system, 20, 30)
    assert result["errors"] == []
    assert result["connect_seconds"] > 0


@pytest.mark.asyncio
async def test_the_generated_downstream_suite_passes_under_strict(tmp_path: Path) -> None:
    write_suite(tmp_path, 4, 0)
    strict = ("--wsbridge-strict", "-o", "wsbridge_init_timeout=0.5")
    _, _, code, durations = await _pytest(tmp_path, "suite", *strict, timeout=60)
    assert code == 0
    phases = json.loads(durations.read_text())
    assert len(phases) == 2 * 4  # set-up and tear-down of each test


@pytest.mark.asyncio
async def test_two_redis_nodes_deliver_every_event_to_clients_on_both() -> None:
    rows = await run_redis(clients=4, events=10, timeout=30)
    assert [row.benchmark for row in rows] == [
        "redis fan-out N=4 M=10",
        "redis fan-out N=4 M=10 (server CPU)",
    ]
    for row in rows:
        assert row.correct, row
        assert row.subject.details["received"] == 4 * 10
        assert row.baseline is not None
        assert row.baseline.details["received"] == 4 * 10


@pytest.mark.asyncio
async def test_cli_writes_json_and_wsbridge_bench_delegates(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    # The command calls asyncio.run(): in a thread of its own, so that it cannot replace (and
    # leak) the main thread's current event loop, which pytest-asyncio < 0.25 leaves set.
    code = await asyncio.to_thread(
        wsbridge_cli.main,
        ["bench", "--only", "replay", "--replay-events", "20", "--json", str(out)],
    )
    assert code == 0
    data = json.loads(out.read_text())
    assert data["meta"]["command"].startswith("python -m benchmarks")
    (row,) = data["rows"]
    assert row["correct"] is True
    assert row["subject"]["details"]["received"] == 20


def test_unknown_benchmark_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exc:
        bench_cli.main(["--only", "nope"])
    assert exc.value.code == 2


@pytest.mark.asyncio
async def test_connections_keep_each_systems_least_cpu_round_and_every_rounds_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rounds = {
        "wsbridge": [(0.30, []), (0.20, []), (float("nan"), ["worker exited 1"])],
        "bare websockets": [(float("nan"), ["worker exited 1"]), (0.25, []), (0.15, [])],
    }

    async def fake_worker(system: str, count: int, timeout: float) -> dict[str, object]:
        cpu, errors = rounds[system].pop(0)
        return {
            "server_cpu_s": cpu,
            "connect_seconds": cpu,
            "rss_per_connection": 1.0,
            "errors": list(errors),
        }

    monkeypatch.setattr(connections_module, "_in_worker", fake_worker)
    bridge, bare = await connections_module._best_of(10, 3, 1.0)
    assert bridge["server_cpu_s"] == 0.20
    assert bare["server_cpu_s"] == 0.15
    # a failed round is reported even though a better one was kept
    assert bridge["errors"] == ["worker exited 1"]
    assert bare["errors"] == ["worker exited 1"]
