"""``real_ws_server``'s object: the bridge under test behind the reference WebSocket server.

The server listens on 127.0.0.1 and an OS-chosen port. :meth:`RealWsServer.connect` returns a
real :class:`~reference_impl.client.BridgeClient` whose received events are recorded in the
test's ledger. After the test body the plugin reads what the clients have not read yet (the
test is over, nobody else will) so in-flight events count, and a late subscriber is a real
client resuming from seq 0. :meth:`RealWsServer.aclose` closes clients, then the server, then
the tasks it started.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from reference_impl.agui.dialect import AGUI_FRAME_TYPE
from reference_impl.client import BridgeClient
from reference_impl.connections import ConnectionManager
from reference_impl.events import Message
from reference_impl.server import BridgeServer

from .checks import undelivered_threads
from .factory import close_bridge
from .ledger import Ledger
from .waiting import answer_within, wait_for_ledger

__all__ = ["RealWsServer"]


class RealWsServer:
    """A running :class:`~reference_impl.server.BridgeServer` and the clients a test opened."""

    def __init__(self, server: BridgeServer, ledger: Ledger) -> None:
        self.server = server
        self.ledger = ledger
        self.clients: list[BridgeClient] = []
        self._closed: set[int] = set()
        self._tokens: dict[str, str] = {}

    @property
    def url(self) -> str:
        """``ws://127.0.0.1:PORT``."""
        return self.server.url

    @property
    def bridge(self) -> Any:
        """The bridge under test (instrumented: its calls are in the ledger)."""
        return self.server.bridge

    @property
    def connection_manager(self) -> ConnectionManager:
        """The reference connection manager the bridge sends to."""
        return self.server.hub.connection_manager

    async def connect(
        self,
        thread_id: str,
        last_seq: int | None = None,
        *,
        token: str | None = None,
        **options: Any,
    ) -> BridgeClient:
        """Open a subscribed client of ``thread_id`` (``last_seq``: resume after that seq).

        ``options`` go to :class:`~reference_impl.client.BridgeClient` (``on_event`` is
        chained after the ledger's recording); ``dialect="ag-ui"`` gives AG-UI envelope frames,
        and the ledger records the native event of each seq, so the plugin's checks judge
        delivery in that dialect too.
        """
        if token is not None:
            self._tokens[thread_id] = token
        theirs: Callable[[Message], None] | None = options.pop("on_event", None)
        holder: list[BridgeClient] = []

        def on_event(event: Message) -> None:
            native = self._native(thread_id, event)
            if native is not None:
                self.ledger.record_delivery(
                    thread_id, native, connection=holder[0], resumed_from=last_seq
                )
            if theirs is not None:
                theirs(event)

        client = BridgeClient(
            self.url,
            thread_id=thread_id,
            token=token,
            last_seq=last_seq,
            on_event=on_event,
            **options,
        )
        holder.append(client)
        self.clients.append(client)
        close = client.close

        async def close_and_note() -> None:
            self._closed.add(id(client))
            await close()

        client.close = close_and_note  # type: ignore[method-assign]
        await client.connect()
        return client

    def _native(self, thread_id: str, event: Message) -> Message | None:
        """What the ledger records for a received frame: the event itself (native dialect), or
        for an ``ag-ui`` frame the native event its ``seq`` carries, once, at its last part
        (the checks match deliveries to notify calls by run, type and arguments, which AG-UI
        events do not all carry; the bridge sent that native event, so the ledger has it)."""
        if event.get("type") != AGUI_FRAME_TYPE:
            return event
        if event.get("part") != event.get("parts", 1) - 1:
            return None
        seq = event.get("seq")
        for send in reversed(self.ledger.sends):
            message = send.message
            if send.thread_id == thread_id and message is not None and message.get("seq") == seq:
                return message
        return {"type": AGUI_FRAME_TYPE, "thread_id": thread_id, "seq": seq, "run_id": None}

    # -- what the plugin calls after the test body ------------------------------------------

    def start_draining(self) -> Callable[[], Awaitable[None]]:
        """Read every open client in the background; return the coroutine function that stops."""
        tasks = [
            asyncio.ensure_future(_drain(client))
            for client in self.clients
            if id(client) not in self._closed
        ]

        async def stop() -> None:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        return stop

    async def late_subscriber(self, thread_id: str, timeout: float) -> str:
        """Subscribe a real client resuming from seq 0 and read until the thread is whole.

        It uses the token the test last connected to that thread with, if any.
        """
        token = self._tokens.get(thread_id)
        answer = await answer_within(self.connect(thread_id, last_seq=0, token=token), timeout)
        if answer.timed_out:
            return f"a late subscriber resuming from seq 0 could not subscribe within {timeout:g}s"
        if answer.error is not None:
            return f"a late subscriber resuming from seq 0 could not subscribe ({answer.error!r})"
        client = answer.value
        assert client is not None
        self.ledger.name_connection(client, f"late subscriber of {thread_id!r} (resumed from 0)")
        reader = asyncio.ensure_future(_drain(client))
        problem: BaseException | None = None
        try:
            await wait_for_ledger(
                self.ledger, lambda: thread_id not in undelivered_threads(self.ledger), timeout
            )
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                problem = await reader
            await client.close()
        if reader.cancelled() or problem is None:
            return "a late subscriber resuming from seq 0 did not get it either (lost)"
        return f"a late subscriber resuming from seq 0 got {problem!r} instead"

    async def aclose(self) -> None:
        """Close the clients, then the server, then the bridge."""
        for client in self.clients:
            if id(client) not in self._closed:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(client.close(), 5.0)
        await self.server.close()
        await close_bridge(self.bridge)


async def _drain(client: BridgeClient) -> BaseException | None:
    """Receive until cancelled; return the error that stopped it (resync, lost connection)."""
    while True:
        try:
            await client.receive(timeout=None)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return exc
