"""The benchmarks' command line: pick benchmarks and sizes, print the table, write JSON."""

from __future__ import annotations

import argparse
import asyncio
import platform
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from .results import Row, format_table, replace_results, results_markdown, rows_to_json

__all__ = ["BENCHMARKS", "build_parser", "main", "run"]

BENCHMARKS = ("connections", "fanout", "latency", "replay", "plugin", "redis", "agui")


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("sizes must be positive")
    return sizes


def _names(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}"
        )
    return names


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of ``python -m benchmarks``."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Measure the reference bridge and the plugin against their baselines.",
    )
    add = parser.add_argument
    add("--only", type=_names, default=list(BENCHMARKS), help="comma-separated subset")
    add("--clients", type=int, default=100, help="fan-out: subscribers N (default 100)")
    add("--events", type=int, default=1000, help="fan-out: events M (default 1000)")
    add(
        "--repeats",
        type=int,
        default=1,
        help="fan-out, latency, connections, redis, plugin: interleaved rounds, best kept",
    )
    add("--no-socketio", action="store_true", help="skip the python-socketio baseline")
    add("--latency-rate", type=float, default=1000.0, help="latency: events/s (1000)")
    add("--latency-seconds", type=float, default=10.0, help="latency: seconds of emission (10)")
    add("--replay-events", type=int, default=10_000, help="replay: missed events (10000)")
    add("--connections", type=_sizes, default=[1000, 10000], help="idle clients (1000,10000)")
    add("--plugin-tests", type=int, default=500, help="plugin: generated tests (500)")
    add("--server-tests", type=int, default=50, help="plugin: real_ws_server tests (50)")
    add(
        "--plugin-rounds",
        type=int,
        default=1,
        help="plugin: runs of each, best kept (at least --repeats)",
    )
    add("--redis-clients", type=int, default=100, help="redis: subscribers (100)")
    add("--redis-events", type=int, default=1000, help="redis: events (1000)")
    add("--agui-events", type=int, default=100_000, help="agui: stream length (100000)")
    add("--timeout", type=float, default=120.0, help="bound on every wait, seconds")
    add("--json", type=Path, default=None, metavar="PATH", help="also write the results here")
    add(
        "--docs",
        type=Path,
        default=None,
        metavar="PATH",
        help="rewrite the results block of this Markdown page (docs/benchmarks.md)",
    )
    return parser


async def _run_all(args: argparse.Namespace) -> list[Row]:
    from . import agui, connections, fanout, latency, plugin_overhead, redis_fanout, replay
    from .proc import raise_fd_limit

    raise_fd_limit(2 * max(args.connections) + 1024)
    rows: list[Row] = []
    for name in BENCHMARKS:
        if name not in args.only:
            continue
        started = time.monotonic()
        print(f"running {name} ...", file=sys.stderr, flush=True)
        if name == "fanout":
            rows += await fanout.run_fanout(
                clients=args.clients,
                events=args.events,
                repeats=args.repeats,
                timeout=args.timeout,
                socketio=not args.no_socketio,
            )
        elif name == "latency":
            rows += await latency.run_latency(
                rate=args.latency_rate,
                seconds=args.latency_seconds,
                repeats=args.repeats,
                timeout=args.timeout,
            )
        elif name == "replay":
            rows += await replay.run_replay(events=args.replay_events, timeout=args.timeout)
        elif name == "connections":
            rows += await connections.run_connections(
                args.connections, repeats=args.repeats, timeout=args.timeout
            )
        elif name == "plugin":
            rows += await plugin_overhead.run_plugin(
                tests=args.plugin_tests,
                server_tests=args.server_tests,
                rounds=max(args.plugin_rounds, args.repeats),
                timeout=args.timeout * 3,
            )
        elif name == "agui":
            rows += agui.run_agui(events=args.agui_events, repeats=max(args.repeats, 3))
        elif name == "redis":
            rows += await redis_fanout.run_redis(
                clients=args.redis_clients,
                events=args.redis_events,
                repeats=args.repeats,
                timeout=args.timeout,
            )
        print(f"  {name}: {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)
    return rows


def run(args: argparse.Namespace) -> int:
    """Run the selected benchmarks; 0 when every count was correct, 1 otherwise."""
    if args.docs is not None:
        try:  # fail before a long run, not after it
            replace_results(args.docs.read_text(), "")
        except (OSError, ValueError) as exc:
            print(f"python -m benchmarks: --docs {args.docs}: {exc}", file=sys.stderr)
            return 2
    started = time.monotonic()
    load = _load_average()
    rows = asyncio.run(_run_all(args))
    command = "python -m benchmarks " + " ".join(sys.argv[1:])
    meta = {
        "command": command.strip(),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {_cpus()} CPUs",
        "seconds": round(time.monotonic() - started, 1),
        "load": load,
    }
    print(format_table(rows))
    print(f"\n{meta['command']}  ({meta['date']}, {meta['machine']}, {meta['seconds']} s)")
    if args.json is not None:
        args.json.write_text(rows_to_json(rows, meta))
    if args.docs is not None:
        args.docs.write_text(replace_results(args.docs.read_text(), results_markdown(rows, meta)))
    return 0 if all(row.correct for row in rows) else 1


def _load_average() -> str:
    import os

    try:
        return " / ".join(f"{v:.1f}" for v in os.getloadavg()) + " (1/5/15 min)"
    except OSError:
        return "unknown"


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m benchmarks``."""
    return run(build_parser().parse_args(argv))
