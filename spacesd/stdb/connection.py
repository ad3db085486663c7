"""A SpacetimeDB 2.x client connection: the asyncio shell over `spacesd.stdb.protocol`.

`spacesd.stdb.protocol.ClientProtocol` knows the v2 message exchange and nothing about
sockets: it turns intentions (subscribe, unsubscribe, call a reducer, run a one-off query)
into encoded client frames and received server frames into typed events.

`Connection` owns one WebSocket (`websockets` package, subprotocol `v2.bsatn.spacetimedb`,
Bearer token) at a time, and reconnects when it drops with capped exponential backoff and
jitter. Subscriptions are registered once, with a function that builds their queries: after
every (re)connect the function runs again, so a caller can resume from its high-water marks
(`SELECT * FROM message WHERE id > 41`) and receive neither a gap nor a duplicate.

Events reach the caller through one synchronous callback (or `events()`, an async
iterator), on the event loop's thread in the order the server sent them; a reducer call's
own ReducerResult is delivered as a `TransactionEvent` *before* the awaiting `call()`
returns, so a caller that applies events to a cache sees its own write there when the call
completes. The protocol's replies to our requests resolve the awaiting `call()` / `query()`
(or raise the errors below).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.typing import Subprotocol

from spacesd.model import Identity
from spacesd.stdb.bsatn import BsatnError
from spacesd.stdb.messages import V2_PROTOCOL
from spacesd.stdb.protocol import (
    CallFailedEvent,
    CallRefusedEvent,
    ClientProtocol,
    ConnectedEvent,
    DisconnectedEvent,
    Event,
    QueryErrorEvent,
    QueryResultEvent,
    SubscribedEvent,
    TransactionEvent,
)

log = logging.getLogger("spacesd.stdb")

CompressionChoice = Literal["none", "gzip"]
"""What the client asks the server for (`?compression=`); the frames' own tag is
`spacesd.stdb.messages.Compression`."""


# --------------------------------------------------------------------------------------------
# Errors


class StdbError(Exception):
    pass


class NotConnected(StdbError):
    """The connection is down; nothing was sent."""


class CallUncertain(StdbError):
    """The connection dropped after the call was sent and before its result came: the reducer
    may or may not have committed."""


class CallTimeout(CallUncertain):
    pass


class ReducerRefused(StdbError):
    """The reducer returned an error; its transaction did not commit."""

    def __init__(self, reducer: str, message: str) -> None:
        super().__init__(message)
        self.reducer = reducer
        self.message = message


class ReducerHostError(StdbError):
    """The host could not run the reducer (unknown reducer, bad arguments, a panic)."""

    def __init__(self, reducer: str, message: str) -> None:
        super().__init__(message)
        self.reducer = reducer
        self.message = message


class QueryError(StdbError):
    pass


# --------------------------------------------------------------------------------------------
# The asyncio shell


@dataclass
class Backoff:
    """Capped exponential backoff with "equal jitter": half fixed, half random."""

    initial: float = 0.2
    factor: float = 2.0
    cap: float = 10.0
    attempt: int = 0

    def next_delay(self) -> float:
        d = min(self.cap, self.initial * self.factor ** self.attempt)
        self.attempt += 1
        return d / 2 + random.uniform(0, d / 2)

    def reset(self) -> None:
        self.attempt = 0


QueryBuilder = Callable[[], Sequence[str]]
EventCallback = Callable[[Event], None]


@dataclass
class ConnectionStats:
    state: str = "idle"  # idle, connecting, connected, backoff, closed
    connects: int = 0
    reconnects: int = 0
    last_error: str | None = None
    connected_since: float | None = None
    last_message_at: float | None = None


class Connection:
    """One logical connection to a database that survives socket drops.

    `on_event` is called synchronously for every event. Subscriptions added with
    `subscribe(key, build)` are (re)sent after every connect with `build()`'s queries.
    """

    def __init__(self, url: str, database: str, token: str | None, *,
                 on_event: EventCallback | None = None,
                 compression: CompressionChoice = "none",
                 backoff: Backoff | None = None,
                 open_timeout: float = 10.0,
                 ping_interval: float | None = 10.0) -> None:
        from spacesd.stdb.http import Endpoint

        self.endpoint = Endpoint.parse(url)
        self.database = database
        self.token = token
        self.compression: CompressionChoice = compression
        self.on_event = on_event
        self.backoff = backoff or Backoff()
        self.open_timeout = open_timeout
        self.ping_interval = ping_interval
        self.proto = ClientProtocol()
        self.stats = ConnectionStats()
        self._subs: dict[str, QueryBuilder] = {}
        self._ws: ClientConnection | None = None
        # Every outgoing frame of a session goes through one queue and one writer task, so
        # frames leave in the order they were made (resubscriptions before later calls).
        self._out: asyncio.Queue[bytes] | None = None
        self._waiters: dict[int, asyncio.Future[Any]] = {}
        self._event_queue: asyncio.Queue[Event | None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._ready = asyncio.Event()
        self._attempted = asyncio.Event()  # set after the first attempt, success or failure
        self._applied: dict[str, asyncio.Event] = {}
        self.identity: Identity | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        comp = "Gzip" if self.compression == "gzip" else "None"
        return (f"{self.endpoint.ws_base_url}/v1/database/{quote(self.database, safe='')}"
                f"/subscribe?compression={comp}")

    @property
    def connected(self) -> bool:
        return self._ws is not None and self.proto.ready

    def start(self) -> None:
        if self._task is None:
            self._closing = False
            self._task = asyncio.get_running_loop().create_task(self._run(), name="stdb-conn")

    async def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until connected (InitialConnection received); False on timeout."""
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False

    async def wait_first_attempt(self, timeout: float | None = None) -> bool:
        """Wait until the first connection attempt succeeded (True) or failed (False)."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._attempted.wait(), timeout)
        return self._ready.is_set()

    async def wait_subscribed(self, key: str, timeout: float | None = None) -> bool:
        ev = self._applied.setdefault(key, asyncio.Event())
        try:
            await asyncio.wait_for(ev.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False

    async def close(self) -> None:
        self._closing = True
        ws = self._ws
        if ws is not None:
            await ws.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        self._fail_waiters(NotConnected("connection closed"))
        self.stats.state = "closed"
        if self._event_queue is not None:
            self._event_queue.put_nowait(None)

    async def drop(self) -> None:
        """Close the current socket (tests): the connection reconnects by itself."""
        if self._ws is not None:
            await self._ws.close()

    async def _run(self) -> None:
        while not self._closing:
            self.stats.state = "connecting"
            try:
                await self._session()
                reason = "closed by server"
            except asyncio.CancelledError:
                raise
            except (OSError, ConnectionClosed, InvalidHandshake, InvalidURI,
                    asyncio.TimeoutError, BsatnError, ValueError) as e:
                reason = f"{type(e).__name__}: {e}"
            except Exception as e:  # never let the reconnect loop die
                log.exception("stdb: unexpected error in the connection")
                reason = f"{type(e).__name__}: {e}"
            self._ws = None
            self._ready.clear()
            for ev in self._applied.values():
                ev.clear()
            self._fail_waiters(CallUncertain(f"connection lost: {reason}"))
            self.proto.reset()
            if self._closing:
                break
            self.stats.last_error = reason
            self.stats.state = "backoff"
            self._attempted.set()
            self._emit(DisconnectedEvent(reason))
            delay = self.backoff.next_delay()
            log.info("stdb: disconnected (%s); reconnecting in %.2fs", reason, delay)
            await asyncio.sleep(delay)
        self.stats.state = "closed"

    async def _session(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
        async with connect(
            self.url,
            subprotocols=[Subprotocol(V2_PROTOCOL)],
            additional_headers=headers,
            compression=None,
            max_size=None,
            open_timeout=self.open_timeout,
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_interval,
            user_agent_header="spacesd",
        ) as ws:
            if ws.subprotocol not in (V2_PROTOCOL, None):
                raise ValueError(f"server chose subprotocol {ws.subprotocol!r}")
            out: asyncio.Queue[bytes] = asyncio.Queue()
            writer = asyncio.get_running_loop().create_task(self._writer(ws, out))
            self._ws, self._out = ws, out
            try:
                async for frame in ws:
                    if isinstance(frame, str):
                        raise ValueError("text frame on a binary protocol")
                    self._on_frame(frame)
            finally:
                self._out = None
                writer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await writer

    @staticmethod
    async def _writer(ws: ClientConnection, out: asyncio.Queue[bytes]) -> None:
        with contextlib.suppress(ConnectionClosed):  # the run loop notices and reconnects
            while True:
                await ws.send(await out.get())

    def _send(self, frame: bytes) -> bool:
        if self._out is None:
            return False
        self._out.put_nowait(frame)
        return True

    def _on_frame(self, frame: bytes) -> None:
        now = time.time()
        self.stats.last_message_at = now
        for event in self.proto.receive(frame):
            if isinstance(event, ConnectedEvent):
                self._on_connected(event, now)
            elif isinstance(event, CallRefusedEvent):
                self._resolve(event.request_id, ReducerRefused(event.reducer, event.message))
            elif isinstance(event, CallFailedEvent):
                self._resolve(event.request_id,
                              ReducerHostError(event.reducer, event.message))
            elif isinstance(event, QueryErrorEvent):
                self._resolve(event.request_id, QueryError(event.error))
            elif isinstance(event, QueryResultEvent):
                self._resolve(event.request_id, event.tables)
            else:
                self._emit(event)
                if isinstance(event, SubscribedEvent):
                    self._applied.setdefault(event.key, asyncio.Event()).set()
                elif isinstance(event, TransactionEvent) and event.caller_request is not None:
                    self._resolve(event.caller_request, event)

    def _on_connected(self, event: ConnectedEvent, now: float) -> None:
        self.identity = event.identity
        self.token = event.token or self.token
        if event.reconnect:
            self.stats.reconnects += 1
        self.stats.connects += 1
        self.stats.state = "connected"
        self.stats.connected_since = now
        self.backoff.reset()
        self._emit(event)
        self._ready.set()
        self._attempted.set()
        self._resubscribe()

    def _resolve(self, request_id: int, reply: Any) -> None:
        """Hand a reply (a value, or the exception to raise) to the awaiting request."""
        fut = self._waiters.pop(request_id, None)
        if fut is None or fut.done():
            return
        if isinstance(reply, Exception):
            fut.set_exception(reply)
        else:
            fut.set_result(reply)

    def _emit(self, event: Event) -> None:
        if self._event_queue is not None:
            self._event_queue.put_nowait(event)
        if self.on_event is None:
            return
        try:
            self.on_event(event)
        except Exception:
            log.exception("stdb: event handler failed on %s", type(event).__name__)

    async def events(self) -> AsyncIterator[Event]:
        """The events as an async iterator (from the first call on; the callback, if any,
        still runs first). Ends when the connection is closed."""
        if self._event_queue is None:
            self._event_queue = asyncio.Queue()
        queue = self._event_queue
        while True:
            event = await queue.get()
            if event is None:
                return
            yield event

    def _fail_waiters(self, exc: Exception) -> None:
        waiters, self._waiters = self._waiters, {}
        for fut in waiters.values():
            if not fut.done():
                fut.set_exception(exc)

    # -- subscriptions -----------------------------------------------------------------------

    def _resubscribe(self) -> None:
        for key, build in self._subs.items():
            self._send_subscribe(key, build)

    def _send_subscribe(self, key: str, build: QueryBuilder) -> None:
        if self._out is None or not self.proto.ready:
            return
        self._send(self.proto.subscribe(key, list(build())))

    def subscribe(self, key: str, build: QueryBuilder) -> None:
        """Register a query set under `key`; sent now if connected and after every connect."""
        if key in self._subs:
            raise ValueError(f"subscription {key!r} exists")
        self._subs[key] = build
        self._applied.setdefault(key, asyncio.Event())
        self._send_subscribe(key, build)

    def unsubscribe(self, key: str) -> None:
        self._subs.pop(key, None)
        self._applied.pop(key, None)
        frame = self.proto.unsubscribe(key)
        if frame is not None:
            self._send(frame)

    # -- requests ----------------------------------------------------------------------------

    async def _request(self, rid: int, frame: bytes, timeout: float) -> Any:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters[rid] = fut
        if not self._send(frame):
            self._waiters.pop(rid, None)
            self.proto.forget(rid)
            raise NotConnected("not connected")
        try:
            return await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            self._waiters.pop(rid, None)
            raise CallTimeout(f"no reply within {timeout:g}s") from None

    async def call(self, reducer: str, args: bytes, timeout: float = 15.0) -> TransactionEvent:
        """Call a reducer with BSATN-encoded arguments; returns its committed transaction as
        seen by our subscriptions (already passed to `on_event`).

        Raises NotConnected (nothing sent), ReducerRefused, ReducerHostError, or
        CallUncertain / CallTimeout (sent, outcome unknown)."""
        if not self.connected:
            raise NotConnected("not connected")
        rid, frame = self.proto.call_reducer(reducer, args)
        result: TransactionEvent = await self._request(rid, frame, timeout)
        return result

    async def query(self, sql: str, timeout: float = 15.0) -> dict[str, list[Any]]:
        """A one-off query: the matching rows now, by table."""
        if not self.connected:
            raise NotConnected("not connected")
        rid, frame = self.proto.one_off_query(sql)
        try:
            result: dict[str, list[Any]] = await self._request(rid, frame, timeout)
        except CallUncertain as e:
            raise NotConnected(str(e)) from e
        return result
