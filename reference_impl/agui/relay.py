"""The relay: runs of an AG-UI HTTP+SSE agent, stored in the thread's log and fanned out.

:class:`AguiRelay` POSTs a ``RunAgentInput`` to the upstream agent, reads its SSE stream and
hands each event to the bridge (``notify_custom`` with :func:`~.dialect.relayed_payload`), so
every event gets the thread's ``seq`` and ``epoch``, lands in the log (Redis when the bridge is
a node of several) before it is sent, and reaches every subscriber of the thread, in either
dialect, with resume. Each event also goes through a :class:`~.validator.Validator`: a
violation is counted (``BridgeMetrics.agui_violations``) and logged, and the event is relayed
all the same.

An upstream fault ends the run with a ``RUN_ERROR`` whose ``code`` says what happened
(:data:`FAULT_CODES`): the connection was refused, the status was not 200, the content type
was not ``text/event-stream``, the body ended before the run's terminal event, or nothing
arrived for ``idle_timeout`` seconds. The relay never invents a ``RUN_FINISHED``, and once the
upstream has closed its run it adds nothing.

It needs ``httpx`` (the ``agui`` extra). :class:`AguiRelay` is the
:class:`~reference_impl.session.RunStarter` a :class:`~reference_impl.server.BridgeServer`
takes as ``relay=``; ``wsbridge serve --agui-upstream URL`` builds one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx

from ..exceptions import ProtocolError, RegistryConflictError, UpstreamFault, WsBridgeError
from ..metrics import BridgeMetrics
from ..protocol import ErrorCode
from .dialect import relayed_payload
from .shapes import check_run_agent_input
from .sse import SseDecoder, SseEvent, SseItem
from .validator import Finding, Validator

__all__ = ["FAULT_CODES", "AguiRelay", "RelayResult"]

logger = logging.getLogger("reference_impl.agui.relay")

#: ``RUN_ERROR.code`` of each upstream fault the relay reports, and what it means.
FAULT_CODES: dict[str, str] = {
    "upstream_unreachable": "the relay could not connect to the upstream agent",
    "upstream_status": "the upstream answered with an HTTP status other than 200",
    "upstream_content_type": "the upstream's response was not text/event-stream",
    "upstream_truncated": "the upstream's body ended (or broke) before the run's terminal event",
    "upstream_stalled": "the upstream sent nothing for longer than the relay's idle timeout",
    "relay_store_failed": "the bridge could not store an upstream event (e.g. over its size cap)",
    "relay_stopped": "the relay was closed (server shutting down) while the run was active",
}

_TERMINAL = frozenset({"RUN_FINISHED", "RUN_ERROR"})


@dataclass
class RelayResult:
    """What became of one relayed run."""

    thread_id: str
    run_id: str
    #: Upstream events stored and fanned out.
    events: int = 0
    #: The ``code`` of the ``RUN_ERROR`` the relay added, ``None`` if it added none.
    fault: str | None = None
    #: What the validator found in the upstream's stream (violations and warnings).
    findings: list[Finding] = field(default_factory=list)

    @property
    def violations(self) -> list[Finding]:
        """The findings that break a rule (warnings left out)."""
        return [finding for finding in self.findings if finding.is_violation]


class AguiRelay:
    """Relays AG-UI runs from ``upstream_url`` into ``bridge``'s threads; see the module doc.

    ``agent_name`` is the native envelope's ``agent_name`` of relayed events.
    ``connect_timeout`` bounds connecting; ``idle_timeout`` bounds the wait for each chunk of
    the stream (a stall past it ends the run with ``upstream_stalled``). ``headers`` are sent
    with every POST (e.g. the upstream's own ``Authorization``). ``transport`` is an
    ``httpx.AsyncBaseTransport`` for tests.
    """

    def __init__(
        self,
        bridge: Any,
        upstream_url: str,
        *,
        agent_name: str = "ag-ui-agent",
        connect_timeout: float = 10.0,
        idle_timeout: float = 60.0,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not upstream_url.startswith(("http://", "https://")):
            raise ValueError(f"the upstream must be an http(s):// URL, got {upstream_url!r}")
        self.bridge = bridge
        self.upstream_url = upstream_url
        self.agent_name = agent_name
        self.connect_timeout = connect_timeout
        self.idle_timeout = idle_timeout
        metrics = getattr(bridge, "metrics", None)
        self.metrics: BridgeMetrics = (
            metrics if isinstance(metrics, BridgeMetrics) else BridgeMetrics()
        )
        self._client = httpx.AsyncClient(
            headers={**(headers or {})},
            timeout=httpx.Timeout(idle_timeout, connect=connect_timeout),
            transport=transport,
        )
        self._active: dict[str, asyncio.Task[RelayResult]] = {}
        #: The run being relayed on each thread: one at a time, so the thread's stream stays a
        #: sequence of runs (AG-UI closes a run before the next opens).
        self._threads: dict[str, str] = {}
        self._closed = False

    # -- public API ---------------------------------------------------------------------------

    async def start_run(self, run_input: dict[str, Any]) -> str:
        """Check ``run_input`` and relay its run in the background; return its ``runId``.

        Raises :class:`~reference_impl.exceptions.ProtocolError` (``invalid_input``) for an
        input the schema refuses, a ``runId`` already being relayed or registered to another
        thread, or a thread with a run in progress; nothing is stored then.
        """
        thread_id, run_id = await self._admit(run_input)
        task = asyncio.ensure_future(self._relay(run_input, thread_id, run_id))
        self._active[run_id] = task
        self._threads[thread_id] = run_id

        def done(_: object) -> None:
            self._active.pop(run_id, None)
            if self._threads.get(thread_id) == run_id:
                del self._threads[thread_id]

        task.add_done_callback(done)
        return run_id

    async def run(self, run_input: dict[str, Any]) -> RelayResult:
        """Relay one run and return when it has ended (same checks as :meth:`start_run`)."""
        run_id = await self.start_run(run_input)
        return await self._active[run_id]

    @property
    def active_runs(self) -> list[str]:
        """The ``runId`` of every run being relayed now."""
        return list(self._active)

    async def wait_idle(self) -> None:
        """Wait until no run is being relayed."""
        while self._active:
            await asyncio.gather(*list(self._active.values()), return_exceptions=True)

    async def aclose(self) -> None:
        """Stop: every active run ends with ``RUN_ERROR`` (``relay_stopped``); close HTTP."""
        self._closed = True
        tasks = list(self._active.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._client.aclose()

    async def __aenter__(self) -> AguiRelay:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- internals ----------------------------------------------------------------------------

    async def _admit(self, run_input: object) -> tuple[str, str]:
        if self._closed:
            raise ProtocolError(ErrorCode.NO_UPSTREAM.value, "the relay is closed")
        problems = check_run_agent_input(run_input)
        if problems or not isinstance(run_input, dict):
            shown = "; ".join(f"{path}: {message}" for _rule, path, message in problems[:5])
            raise ProtocolError(
                ErrorCode.INVALID_INPUT.value, f"input is not a RunAgentInput: {shown}"
            )
        thread_id, run_id = run_input["threadId"], run_input["runId"]
        if run_id in self._active:
            raise ProtocolError(
                ErrorCode.INVALID_INPUT.value,
                f"run {run_id!r} is being relayed already; a new run needs a new runId",
            )
        busy = self._threads.get(thread_id)
        if busy is not None:
            raise ProtocolError(
                ErrorCode.INVALID_INPUT.value,
                f"thread {thread_id!r} has run {busy!r} in progress; start the next run when "
                "it has ended",
            )
        try:
            await self.bridge.register_run(run_id, thread_id)
        except (RegistryConflictError, ValueError) as exc:
            raise ProtocolError(ErrorCode.INVALID_INPUT.value, str(exc)) from None
        return thread_id, run_id

    async def _relay(self, run_input: dict[str, Any], thread_id: str, run_id: str) -> RelayResult:
        result = RelayResult(thread_id, run_id)
        validator = Validator(run_input)
        state = _RunState()
        self.metrics.agui_runs += 1
        try:
            await self._stream(run_input, result, validator, state)
            if state.open or not state.ended:
                raise UpstreamFault(
                    "upstream_truncated",
                    f"the upstream's body ended before the terminal event of run {run_id!r} "
                    f"({result.events} events relayed)",
                )
        except UpstreamFault as fault:
            await self._fail(result, state, fault.code, str(fault))
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.shield(
                    self._fail(
                        result, state, "relay_stopped", "the relay stopped while the run was active"
                    )
                )
            raise
        finally:
            validator.finish()
            self._count(validator, result)
        return result

    async def _stream(
        self, run_input: dict[str, Any], result: RelayResult, validator: Validator, state: _RunState
    ) -> None:
        url = self.upstream_url
        try:
            async with self._client.stream(
                "POST", url, json=run_input, headers={"Accept": "text/event-stream"}
            ) as response:
                if response.status_code != 200:
                    body = " ".join((await _peek(response)).split())
                    validator.note("wire.http-status", f"HTTP {response.status_code}")
                    raise UpstreamFault(
                        "upstream_status",
                        f"the upstream {url} answered HTTP {response.status_code}"
                        + (f": {body}" if body else ""),
                    )
                media = response.headers.get("content-type", "").split(";")[0].strip().lower()
                if media != "text/event-stream":
                    validator.note("wire.content-type", f"Content-Type {media!r}")
                    raise UpstreamFault(
                        "upstream_content_type",
                        f"the upstream {url} answered {media or 'no content type'!s}, "
                        "not text/event-stream",
                    )
                decoder = SseDecoder()
                async for chunk in response.aiter_bytes():
                    await self._items(decoder.feed(chunk), result, validator, state)
                await self._items(decoder.finish(), result, validator, state)
        except httpx.ConnectError as exc:
            raise UpstreamFault("upstream_unreachable", f"cannot connect to {url}: {exc}") from None
        except httpx.ConnectTimeout:
            raise UpstreamFault(
                "upstream_unreachable",
                f"cannot connect to {url} within {self.connect_timeout:g}s",
            ) from None
        except httpx.TimeoutException:
            if state.ended and not state.open:
                return  # the run closed; a stall after it loses nothing
            raise UpstreamFault(
                "upstream_stalled",
                f"the upstream {url} sent nothing for {self.idle_timeout:g}s "
                f"({result.events} events relayed)",
            ) from None
        except httpx.HTTPError as exc:
            if state.ended and not state.open:
                return
            raise UpstreamFault(
                "upstream_truncated",
                f"the connection to {url} broke before the run's terminal event: {exc!r} "
                f"({result.events} events relayed)",
            ) from None

    async def _items(
        self, items: list[SseItem], result: RelayResult, validator: Validator, state: _RunState
    ) -> None:
        for item in items:
            if not isinstance(item, SseEvent):
                validator.note(item.rule, item.message)
                continue
            event = item.payload
            for finding in validator.feed(event):
                self._log_finding(result, finding)
            try:
                await self.bridge.notify_custom(
                    result.run_id, self.agent_name, relayed_payload(event)
                )
            except WsBridgeError as exc:
                raise UpstreamFault(
                    "relay_store_failed",
                    f"event #{validator.events - 1} ({event.get('type')}) of the upstream "
                    f"could not be stored: {exc}",
                ) from exc
            result.events += 1
            state.see(event)

    async def _fail(self, result: RelayResult, state: _RunState, code: str, message: str) -> None:
        self.metrics.agui_upstream_faults += 1
        if state.ended and not state.open:
            logger.warning(
                "run %r: %s (after the run closed; nothing added)", result.run_id, message
            )
            return
        logger.warning("run %r: %s [%s]", result.run_id, message, code)
        result.fault = code
        try:
            await self.bridge.notify_custom(
                result.run_id,
                self.agent_name,
                relayed_payload({"type": "RUN_ERROR", "message": message, "code": code}),
            )
        except WsBridgeError:
            logger.exception("run %r: the RUN_ERROR could not be stored", result.run_id)
            return
        state.see({"type": "RUN_ERROR"})

    def _count(self, validator: Validator, result: RelayResult) -> None:
        result.findings = list(validator.findings)
        violations = sum(1 for finding in result.findings if finding.is_violation)
        self.metrics.agui_violations += violations

    def _log_finding(self, result: RelayResult, finding: Finding) -> None:
        level = logging.WARNING if finding.is_violation else logging.INFO
        logger.log(level, "run %r: upstream event %s", result.run_id, finding)


class _RunState:
    """Whether the upstream's stream has a run open, and whether any run ended."""

    def __init__(self) -> None:
        self.open = False
        self.ended = False

    def see(self, event: Mapping[str, Any]) -> None:
        kind = event.get("type")
        if kind == "RUN_STARTED":
            self.open = True
        elif kind in _TERMINAL:
            self.open = False
            self.ended = True


async def _peek(response: httpx.Response, limit: int = 200) -> str:
    data = b""
    with contextlib.suppress(httpx.HTTPError):
        async for chunk in response.aiter_bytes():
            data += chunk
            if len(data) >= limit:
                break
    return data[:limit].decode("utf-8", errors="replace")
