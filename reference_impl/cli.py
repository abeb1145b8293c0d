"""The reference bridge's subcommands of ``wsbridge``: ``serve`` and ``tail``.

The ``wsbridge`` entry point lives in :mod:`pytest_wsbridge.cli`, which adds the plugin's own
subcommands; this module keeps ``reference_impl`` free of any import of the plugin. Storage is
in-memory (:func:`build_backend`) unless ``serve --redis URL`` makes this process one node of
several sharing that Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from typing import Any, TextIO
from urllib.parse import urlencode

from .agui.dialect import AGUI_FRAME_TYPE, DIALECTS, NATIVE_DIALECT
from .auth import Authorizer, OwnerAuthorizer, TokenAuthenticator, allow_all
from .backends.base import Backend
from .backends.memory import MemoryBackend
from .bridge import create_bridge
from .client import BridgeClient
from .connections import ConnectionManager
from .demo import DEMO_THREAD, DEMO_TOKEN, DEMO_USER, run_demo
from .display import format_event
from .exceptions import BackendUnavailableError, ResyncRequired, WsBridgeError
from .orchestrator import ReferenceOrchestrator
from .server import WILDCARD_HOSTS, BridgeServer

__all__ = [
    "add_commands",
    "build_backend",
    "parse_owner",
    "parse_redis_url",
    "parse_token",
    "serve",
    "tail",
    "viewer_url",
]


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the reference bridge's subcommands; each sets ``func(args) -> int`` as its default."""
    serve_parser = subparsers.add_parser(
        "serve", help="run the reference bridge's WebSocket server (in-memory by default)"
    )
    serve_parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve_parser.add_argument(
        "--port", type=int, default=8765, help="port to listen on (0: any free port)"
    )
    serve_parser.add_argument(
        "--redis",
        default=None,
        type=parse_redis_url,
        metavar="URL",
        help="share runs and events with other server processes through this Redis "
        "(redis://host:port/db; needs the 'redis' extra)",
    )
    serve_parser.add_argument(
        "--demo", action="store_true", help="run a demo agent that emits events every second"
    )
    serve_parser.add_argument(
        "--demo-interval",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="pause between demo runs (0: back to back)",
    )
    serve_parser.add_argument(
        "--demo-thread", default=DEMO_THREAD, metavar="THREAD", help="the demo agent's thread"
    )
    serve_parser.add_argument(
        "--demo-runs",
        type=_positive_int,
        default=None,
        metavar="N",
        help="stop the demo after N runs and print 'demo done' (default: run until stopped)",
    )
    serve_parser.add_argument(
        "--demo-delay",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait this long after start-up before the demo creates its thread and runs "
        "(with --token, use --owner THREAD=demo to let its user subscribe meanwhile)",
    )
    serve_parser.add_argument(
        "--demo-padding",
        type=_whole_number,
        default=0,
        metavar="CHARS",
        help="add CHARS of filler to each demo run's tool call and result (heavier events)",
    )
    serve_parser.add_argument(
        "--owner",
        action="append",
        default=[],
        type=parse_owner,
        metavar="THREAD=USER",
        help="USER owns THREAD (repeatable); with --token only a thread's owner may follow it",
    )
    serve_parser.add_argument(
        "--allow-unowned",
        action="store_true",
        help="let any authenticated user follow a thread nobody owns yet; such subscriptions "
        "are closed (1008) when another user claims the thread (single node only)",
    )
    serve_parser.add_argument(
        "--max-queue",
        type=_positive_int,
        default=1000,
        metavar="N",
        help="live events queued per connection before it is closed as a slow consumer (4008)",
    )
    serve_parser.add_argument(
        "--agui-upstream",
        default=None,
        metavar="URL",
        help="relay the AG-UI runs clients start ('run' frames) to this AG-UI HTTP+SSE agent "
        "(needs the 'agui' extra)",
    )
    serve_parser.add_argument(
        "--agui-timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="end a relayed run with RUN_ERROR when the upstream sends nothing for this long",
    )
    serve_parser.add_argument(
        "--token",
        action="append",
        default=[],
        type=parse_token,
        metavar="TOKEN=USER",
        help="accept bearer TOKEN as USER (repeatable; none: no authentication)",
    )
    serve_parser.set_defaults(func=lambda args: asyncio.run(serve(args)))

    tail_parser = subparsers.add_parser(
        "tail", help="print a thread's events live, resuming across reconnects"
    )
    tail_parser.add_argument("url", help="the server, e.g. ws://127.0.0.1:8765")
    tail_parser.add_argument("--thread", required=True, help="the thread id to follow")
    tail_parser.add_argument("--token", default=None, help="the bearer token")
    tail_parser.add_argument(
        "--last-seq", type=int, default=None, help="resume after this seq (0: from the start)"
    )
    tail_parser.add_argument("--epoch", default=None, help="the epoch of --last-seq")
    tail_parser.add_argument("--count", type=int, default=None, help="exit after this many events")
    tail_parser.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per line (the default when the output is not a terminal)",
    )
    tail_parser.add_argument(
        "--dialect",
        choices=DIALECTS,
        default=NATIVE_DIALECT,
        help="'ag-ui': print the bare AG-UI events (one JSON object per line)",
    )
    tail_parser.set_defaults(func=lambda args: asyncio.run(tail(args)))


def viewer_url(http_url: str, thread_id: str, token: str | None = None) -> str:
    """The live viewer's URL for ``thread_id`` on the server at ``http_url``."""
    query = {"thread": thread_id, **({"token": token} if token else {})}
    return f"{http_url}/?{urlencode(query)}"


def parse_token(text: str) -> tuple[str, str]:
    """Parse ``TOKEN=USER``."""
    token, sep, user = text.partition("=")
    if not sep or not token or not user:
        raise argparse.ArgumentTypeError(f"expected TOKEN=USER, got {text!r}")
    return token, user


def parse_owner(text: str) -> tuple[str, str]:
    """Parse ``THREAD=USER`` (the thread id is everything before the last ``=``)."""
    thread, sep, user = text.rpartition("=")
    if not sep or not thread or not user:
        raise argparse.ArgumentTypeError(f"expected THREAD=USER, got {text!r}")
    return thread, user


def _positive_int(text: str) -> int:
    return _whole_number(text, minimum=1)


def _whole_number(text: str, minimum: int = 0) -> int:
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {text!r}")
    return value


def parse_redis_url(text: str) -> str:
    """Check a ``--redis`` URL's scheme (``redis://``, ``rediss://`` or ``unix://``)."""
    if not text.startswith(("redis://", "rediss://", "unix://")):
        raise argparse.ArgumentTypeError(
            f"expected redis://host:port/db (or rediss://, unix://), got {text!r}"
        )
    return text


def build_backend(args: argparse.Namespace) -> Backend:
    """Return the storage backend ``serve`` runs on: in-memory unless an option says else."""
    return MemoryBackend()


async def _until_signalled(stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signum)


async def serve(
    args: argparse.Namespace, out: TextIO | None = None, *, stop: asyncio.Event | None = None
) -> int:
    """Run the server until SIGINT/SIGTERM (or ``stop`` is set); with ``--demo`` the demo agent."""
    out = out or sys.stdout
    if args.allow_unowned and getattr(args, "redis", None):
        # Owners live in each node's orchestrator: a claim on one node is not seen by the
        # others, so their early subscribers would never be closed. Declare --owner instead.
        print(
            "wsbridge serve: --allow-unowned needs a single node (with --redis a claim on one "
            "node is not seen by the others); give each node the same --owner THREAD=USER",
            file=sys.stderr,
        )
        return 2
    tokens: dict[str, str] = dict(args.token)
    if args.demo and not tokens:
        tokens[DEMO_TOKEN] = DEMO_USER
    orchestrator = ReferenceOrchestrator()
    manager = ConnectionManager()
    storage: dict[str, Any] = (
        {"backend": args.redis}
        if getattr(args, "redis", None)
        else {"backend": build_backend(args)}
    )
    try:
        bridge = await create_bridge(
            connection_manager=manager, orchestrator=orchestrator, **storage
        )
    except BackendUnavailableError as exc:
        print(f"wsbridge serve: {exc}", file=sys.stderr)
        return 1
    try:
        for thread_id, user_id in args.owner:
            orchestrator.create_thread(user_id, thread_id)
        if args.demo and args.demo_delay <= 0:
            # no delay: the thread is the demo user's before the first client can connect
            orchestrator.create_thread(DEMO_USER, args.demo_thread)
    except ValueError as exc:
        print(f"wsbridge serve: {exc}", file=sys.stderr)
        await bridge.close()
        return 2
    # Without tokens every client is the same anonymous user: there is nobody to tell apart.
    authorizer: Authorizer = (
        OwnerAuthorizer(orchestrator, allow_unowned=args.allow_unowned) if tokens else allow_all
    )
    relay = _build_relay(args, bridge)
    server = BridgeServer(
        bridge,
        manager,
        authenticator=TokenAuthenticator(tokens) if tokens else None,
        authorizer=authorizer,
        max_queue=args.max_queue,
        relay=relay,
    )
    demo: asyncio.Task[None] | None = None
    demo_stop = asyncio.Event()
    try:
        await server.start(args.host, args.port)
        ws_url, http_url = server.url, server.http_url
        listening = (
            f" (listening on {args.host or 'every address'})" if args.host in WILDCARD_HOSTS else ""
        )
        _say(out, f"wsbridge: serving {ws_url}{listening}")
        if relay is not None:
            _say(out, f"wsbridge: relaying AG-UI runs to {relay.upstream_url}")
        if not tokens:
            _say(out, "wsbridge: no --token given: authentication is off, every thread is open")
        if args.demo:
            demo_tokens = [t for t, user in tokens.items() if user == DEMO_USER] or list(tokens)
            login = f" --token {demo_tokens[0]}" if demo_tokens else ""
            viewer = viewer_url(http_url, args.demo_thread, demo_tokens[0] if demo_tokens else None)
            _say(
                out,
                f"wsbridge: demo agent on thread {args.demo_thread!r}; watch it with:\n"
                f"  wsbridge tail {ws_url} --thread {args.demo_thread}{login} --last-seq 0\n"
                f"  or open {viewer} in a browser",
            )
            demo = asyncio.ensure_future(_demo(args, bridge, orchestrator, out, demo_stop))
        _say(out, f"wsbridge: metrics at {http_url}/metrics")
        if not args.demo:
            _say(out, f"wsbridge: live viewer at {http_url}/?thread=THREAD&token=TOKEN")
        await _until_signalled(stop)
        _say(out, "wsbridge: shutting down")
    finally:
        demo_stop.set()
        if demo is not None:
            await _stop_task(demo)
        if relay is not None:
            await relay.aclose()
        await server.close()
        await bridge.close()
    return 0


async def _demo(
    args: argparse.Namespace,
    bridge: Any,
    orchestrator: ReferenceOrchestrator,
    out: TextIO,
    stop: asyncio.Event,
) -> None:
    if args.demo_delay > 0:
        await asyncio.sleep(args.demo_delay)
    # The demo user creates its thread as it starts, like a user opening a new chat: with
    # --allow-unowned, other users' early subscriptions to it are closed here (1008).
    try:
        orchestrator.create_thread(DEMO_USER, args.demo_thread)
    except ValueError as exc:
        _say(out, f"wsbridge: demo not started: {exc}")
        return
    runs = 0

    def started(run_id: str) -> None:
        nonlocal runs
        runs += 1
        _say(out, f"wsbridge: demo run {run_id}")

    await run_demo(
        bridge,
        orchestrator,
        thread_id=args.demo_thread,
        interval=args.demo_interval,
        runs=args.demo_runs,
        on_run=started,
        stop=stop,
        padding=args.demo_padding,
        on_error=lambda run_id, exc: _say(out, f"wsbridge: demo run {run_id} failed: {exc}"),
    )
    _say(out, f"wsbridge: demo done: {runs} runs on thread {args.demo_thread!r}")


def _build_relay(args: argparse.Namespace, bridge: Any) -> Any:
    url = getattr(args, "agui_upstream", None)
    if not url:
        return None
    try:
        from .agui.relay import AguiRelay
    except ImportError as exc:  # pragma: no cover - the agui extra is installed in the tests
        raise SystemExit(
            f"wsbridge serve: --agui-upstream needs httpx: pip install 'pytest-wsbridge[agui]' "
            f"({exc})"
        ) from None
    try:
        return AguiRelay(bridge, url, idle_timeout=args.agui_timeout)
    except ValueError as exc:
        raise SystemExit(f"wsbridge serve: --agui-upstream: {exc}") from None


async def _stop_task(task: asyncio.Task[None]) -> None:
    # Cancel until it is done: before Python 3.12 ``asyncio.wait_for`` deep inside a task
    # (a storage call, say) can swallow one cancellation.
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=1.0)
    await asyncio.gather(task, return_exceptions=True)


async def tail(
    args: argparse.Namespace, out: TextIO | None = None, *, stop: asyncio.Event | None = None
) -> int:
    """Print the thread's events until SIGINT/SIGTERM, ``stop`` or ``--count``.

    On a terminal each event is a readable line (:func:`~reference_impl.display.format_event`:
    time, run, type, summary, seq); piped, or with ``--json``, one JSON object per line.
    """
    out = out or sys.stdout
    client = BridgeClient(
        args.url,
        thread_id=args.thread,
        token=args.token,
        last_seq=args.last_seq,
        epoch=args.epoch,
        receive_timeout=None,
        dialect=getattr(args, "dialect", NATIVE_DIALECT),
    )
    as_json = getattr(args, "json", False) or not _is_terminal(out)
    follow = asyncio.ensure_future(_follow(client, args.count, out, as_json=as_json))
    stopped = asyncio.ensure_future(_until_signalled(stop))
    try:
        await asyncio.wait({follow, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (follow, stopped):
            task.cancel()
        results = await asyncio.gather(follow, stopped, return_exceptions=True)
        await client.close()
    error = results[0]
    if isinstance(error, WsBridgeError):
        print(f"wsbridge tail: {error}", file=sys.stderr)
        return 1
    if isinstance(error, BaseException) and not isinstance(error, asyncio.CancelledError):
        raise error
    return 0


def _is_terminal(out: TextIO) -> bool:
    isatty = getattr(out, "isatty", None)
    return bool(isatty()) if callable(isatty) else False


async def _follow(
    client: BridgeClient, count: int | None, out: TextIO, *, as_json: bool = True
) -> None:
    seen = 0
    while count is None or seen < count:
        try:
            event = await client.receive(timeout=None)
        except ResyncRequired as exc:
            print(f"wsbridge tail: {exc}; continuing from the new head", file=sys.stderr)
            continue
        envelope = None
        if event.get("type") == AGUI_FRAME_TYPE:
            # The bare AG-UI event; the envelope stays in the client (a person sees its seq).
            envelope, event = event, event["event"]
        if as_json:
            _say(out, json.dumps(event, separators=(",", ":"), ensure_ascii=False))
        else:
            _say(out, format_event(event, envelope))
        seen += 1


def _say(out: TextIO, line: str) -> None:
    print(line, file=out, flush=True)
