"""Benchmark 2, plugin overhead: a generated downstream suite run by pytest in a subprocess.

The suite (10 files) has ``tests`` tests that each connect a fake client, emit a run's three
events through ``ws_bridge`` and assert they arrived; it is run with and without
``--wsbridge-strict`` (best of ``rounds`` interleaved runs each; wall time of the whole
``pytest`` process). A second suite of ``server_tests`` empty tests using ``real_ws_server``
(when the installed plugin has it) gives the fixture's set-up + tear-down per test, read from
pytest's own phase durations, against the same for ``ws_bridge``.
"""

from __future__ import annotations

import asyncio
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from .results import Measurement, Row

__all__ = ["run_plugin", "write_suite"]

FILES = 10

_CONFTEST = """
import json
import resource
import os

_DURATIONS = []


def pytest_runtest_logreport(report):
    if report.when in ("setup", "teardown"):
        _DURATIONS.append([report.nodeid, report.when, report.duration])


def pytest_sessionfinish(session):
    path = os.environ.get("WSBRIDGE_BENCH_DURATIONS")
    if path:
        with open(path, "w") as out:
            json.dump(_DURATIONS, out)
"""

_HEADER = """
import pytest

from reference_impl import generate_run_id
"""

_BRIDGE_TEST = """

@pytest.mark.asyncio
async def test_run_{n}(ws_bridge, fake_connection_manager):
    thread_id = "thread-{n}"
    run_id = generate_run_id(thread_id)
    conn = await fake_connection_manager.connect(thread_id)
    await ws_bridge.notify_agent_started(run_id, "agent-{n}")
    await ws_bridge.notify_agent_thinking(run_id, "agent-{n}", "step {n}")
    await ws_bridge.notify_agent_completed(run_id, "agent-{n}", result={{"n": {n}}})
    assert [m["seq"] for m in conn.messages] == [1, 2, 3]
    await conn.close()
"""

_SERVER_TEST = """

@pytest.mark.asyncio
async def test_server_{n}(real_ws_server):
    assert real_ws_server.url.startswith("ws://127.0.0.1:")


@pytest.mark.asyncio
async def test_bridge_{n}(ws_bridge):
    assert ws_bridge is not None
"""


def write_suite(root: Path, tests: int, server_tests: int) -> None:
    """Write the downstream project: ``pytest.ini``, a timing conftest and the test files."""
    (root / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n"
    )
    (root / "conftest.py").write_text(_CONFTEST)
    suite = root / "suite"
    suite.mkdir()
    per_file = -(-tests // FILES)
    for index in range(FILES):
        numbers = range(index * per_file, min(tests, (index + 1) * per_file))
        body = "".join(_BRIDGE_TEST.format(n=n) for n in numbers)
        (suite / f"test_runs_{index}.py").write_text(_HEADER + body)
    servers = root / "servers"
    servers.mkdir()
    body = "".join(_SERVER_TEST.format(n=n) for n in range(server_tests))
    (servers / "test_servers.py").write_text(_HEADER + body)


async def _pytest(
    root: Path, target: str, *extra: str, timeout: float
) -> tuple[float, float, int, Path]:
    """Run pytest on ``target``; return wall seconds, CPU seconds, exit code, durations file."""
    durations = root / f"durations-{time.monotonic_ns()}.json"
    env_code = (
        "import os, sys, pytest; "
        f"os.environ['WSBRIDGE_BENCH_DURATIONS'] = {str(durations)!r}; "
        "sys.exit(pytest.main(sys.argv[1:]))"
    )
    cpu_before = _children_cpu()
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        env_code,
        "-q",
        "-p",
        "no:cacheprovider",
        target,
        *extra,
        cwd=str(root),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()
        raise
    elapsed = time.monotonic() - started
    cpu = _children_cpu() - cpu_before
    if process.returncode != 0:
        tail = output.decode(errors="replace")[-2000:]
        print(f"pytest {target} {' '.join(extra)} failed:\n{tail}", file=sys.stderr)
    return elapsed, cpu, int(process.returncode or 0), durations


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _has_real_ws_server() -> bool:
    try:
        from pytest_wsbridge import fixtures
    except ImportError:
        return False
    return hasattr(fixtures, "real_ws_server")


def _median_ms(durations: Path, prefix: str) -> tuple[float, int]:
    per_test: dict[str, float] = {}
    for nodeid, _when, seconds in json.loads(durations.read_text()):
        if f"::{prefix}" in nodeid:
            per_test[nodeid] = per_test.get(nodeid, 0.0) + seconds
    if not per_test:
        return float("nan"), 0
    return 1000 * statistics.median(per_test.values()), len(per_test)


RUNS = {
    "plain": (),
    "strict": ("--wsbridge-strict",),
    "strict, init timeout 0.5 s": ("--wsbridge-strict", "-o", "wsbridge_init_timeout=0.5"),
}


async def run_plugin(
    *, tests: int, server_tests: int, rounds: int = 1, timeout: float = 300.0
) -> list[Row]:
    """The strict/plain ratios of the generated suite, and ``real_ws_server`` set-up+tear-down.

    Wall time includes whatever the once-per-session fail-fast probe adds to the test path
    (it runs in the background from ``pytest_configure``, so nothing when it is done before
    the first test needs it); CPU time is the per-test cost of the checks plus the probe's.
    Targets (issue 14): ≤ 1.10× wall, ≤ 1.05× CPU.
    """
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="wsbridge-bench-") as tmp:
        root = Path(tmp)
        write_suite(root, tests, server_tests)
        wall: dict[str, float] = {}
        cpu: dict[str, float] = {}
        ok = True
        for _ in range(rounds):
            for name, extra in RUNS.items():
                elapsed, used, code, _ = await _pytest(root, "suite", *extra, timeout=timeout)
                ok = ok and code == 0
                wall[name] = min(wall.get(name, elapsed), elapsed)
                cpu[name] = min(cpu.get(name, used), used)
        title = f"plugin suite {tests} tests"
        plain_wall = Measurement("checks off", wall["plain"], "s wall")
        for name in ("strict", "strict, init timeout 0.5 s"):
            rows.append(
                Row(
                    title,
                    Measurement(f"--wsbridge-strict ({name})", wall[name], "s wall"),
                    plain_wall,
                    target=1.10,
                    higher_is_better=False,
                    correct=ok,
                )
            )
        rows.append(
            Row(
                title,
                Measurement("--wsbridge-strict", cpu["strict"], "s CPU"),
                Measurement("checks off", cpu["plain"], "s CPU"),
                target=1.05,
                higher_is_better=False,
                correct=ok,
                note="pytest process CPU (user+sys), all threads: the checks' own cost and "
                "the background fail-fast probe's",
            )
        )
        if server_tests and _has_real_ws_server():
            _, _, code, durations = await _pytest(root, "servers", timeout=timeout)
            server_ms, server_n = _median_ms(durations, "test_server_")
            bridge_ms, bridge_n = _median_ms(durations, "test_bridge_")
            measured = code == 0 and server_n == bridge_n == server_tests
            rows.append(
                Row(
                    "real_ws_server set-up+tear-down",
                    Measurement("real_ws_server", server_ms, "ms (median)"),
                    Measurement("ws_bridge", bridge_ms, "ms (median)"),
                    higher_is_better=False,
                    correct=measured,
                    note=f"{server_ms:.1f} ms per test (target ≤ 10 ms: "
                    f"{'met' if server_ms <= 10 else 'MISSED'})",
                )
            )
    return rows
