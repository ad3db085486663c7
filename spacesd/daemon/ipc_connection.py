"""One client of the daemon's socket: an asyncio protocol that reads framed requests, runs
them through the op registry in order (a write waits for its commit before the next request
is read from the queue), and writes the answers; after `tail`, a pushed stream of change
events (docs/protocol.md).

Fairness (spacesd.daemon.limits): one turn answers at most TURN_REQUESTS requests or
TURN_SECONDS of work, then the connection waits its turn behind every other ready one; at
most PAUSE_AT requests wait per connection, and reading pauses while answers pile up unread
(asyncio's write buffer high-water mark). Past the daemon's connection cap a client is told
`busy` and closed; idle and half-sent connections are closed by the daemon's sweep
(`check_timeouts`)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from spacesd.daemon import views
from spacesd.daemon.errors import OpError
from spacesd.daemon.limits import PAUSE_AT, READ_CHUNK, TURN_REQUESTS, TURN_SECONDS
from spacesd.daemon.ops import lookup
from spacesd.daemon.registry import Op, Request
from spacesd.ipc import FrameDecoder, FrameTooLarge, ProtocolError, decode_payload, encode_frame
from spacesd.store import Changes

if TYPE_CHECKING:
    from spacesd.daemon.server import Daemon

log = logging.getLogger("spacesd")

TAIL_MAX_BUFFER = 8 * 1024 * 1024
"""A tail client that lets this much pile up unread is dropped."""


class IpcConnection(asyncio.BufferedProtocol):
    """A BufferedProtocol so that one read takes at most READ_CHUNK bytes: decoding a
    pipelining client's 256 KiB read (asyncio's default) in one go would hold the loop."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.buffer = bytearray(READ_CHUNK)
        self.transport: asyncio.Transport | None = None
        self.decoder = FrameDecoder()
        self.queue: deque[bytes] = deque()
        self.busy = False
        self.paused = False
        self.closed = False
        self.tailing = False
        self.tail_channels: set[int] | None = None
        self.unsubscribe: Callable[[], None] | None = None
        self.task: asyncio.Future[None] | None = None
        self.eof = False
        self.scheduled = False  # a turn is waiting in the event loop's queue
        self.writing_paused = False  # answers pile up unread: read nothing more
        self.last_data = self.last_answer = time.monotonic()

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        cap = self.daemon.max_clients
        if len(self.daemon.clients) >= cap:
            self._error(None, "busy", f"the daemon serves {cap} connections at most; try "
                        "again later")
            self.close()
            return
        self.daemon.clients.add(self)

    def pause_writing(self) -> None:
        self.writing_paused = True
        self._set_reading()

    def resume_writing(self) -> None:
        self.writing_paused = False
        self._set_reading()
        self._schedule()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.daemon.clients.discard(self)
        if self.unsubscribe is not None:
            self.unsubscribe()
            self.unsubscribe = None

    def get_buffer(self, sizehint: int) -> memoryview:
        return memoryview(self.buffer)

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(bytes(self.buffer[:nbytes]))

    def data_received(self, data: bytes) -> None:
        if self.tailing or self.closed:
            return  # nothing may be sent after tail; ignore it
        try:
            frames = self.decoder.feed(data)
        except FrameTooLarge as e:
            self.queue.clear()
            self._send({"id": None, "ok": False,
                        "error": {"code": "frame_too_large", "message": e.message}})
            self.close()
            return
        self.last_data = time.monotonic()
        backlog = bool(self.queue) or self.busy or self.scheduled
        self.queue.extend(frames)
        self._set_reading()
        if backlog:
            self._schedule()  # a pipelining client: its next turn comes after the others'
        else:
            self._drain()  # a client waiting for its answer: now (one turn at most)

    def eof_received(self) -> bool | None:
        """The client is done sending: answer what it sent, then close (half-close clients
        such as `nc -N` get their answers)."""
        if self.tailing or (not self.busy and not self.queue):
            return False
        self.eof = True
        return True

    # request loop

    def _schedule(self) -> None:
        """Run the next turn after every connection ready now had its own."""
        if not self.scheduled and not self.busy and self.queue and not self.closed:
            self.scheduled = True
            asyncio.get_running_loop().call_soon(self._turn)

    def _turn(self) -> None:
        self.scheduled = False
        if not self.busy:
            self._drain()

    def _drain(self) -> None:
        daemon = self.daemon
        deadline = time.monotonic() + TURN_SECONDS
        answered = 0
        while self.queue and not self.closed and not self.tailing:
            if self.writing_paused:
                return  # resume_writing schedules the next turn
            if answered >= TURN_REQUESTS or time.monotonic() >= deadline:
                self._set_reading()
                self._schedule()
                return
            answered += 1
            payload = self.queue.popleft()
            rid: Any = None
            try:
                req = decode_payload(payload)
                rid = req.get("id")
                if rid is not None and (isinstance(rid, bool) or not isinstance(rid, int)):
                    rid = None
                    raise OpError("bad_frame", "id must be an integer")
                op = req.get("op")
                if not isinstance(op, str):
                    raise OpError("bad_frame", "request has no op string")
                args = req.get("args", {})
                if args is None:
                    args = {}
                if not isinstance(args, dict):
                    raise OpError("bad_args", "args must be an object")
                spec = lookup(op)
                request = spec.request(args, client=self)
                if spec.is_async:
                    self.busy = True
                    self._set_reading()
                    self.task = asyncio.ensure_future(self._run_async(rid, spec, request))
                    return
                result = spec.func(daemon, request)
                if spec.stream:
                    self.tailing = True
                    self._reply(rid, result)
                    self.queue.clear()
                    return
            except ProtocolError as e:
                self._error(rid, e.code, e.message)
                continue
            except OpError as e:
                self._error(rid, e.code, e.message)
                continue
            except Exception as e:
                log.exception("internal error")
                self._error(rid, "internal", f"internal error: {type(e).__name__}: {e}")
                continue
            self._reply(rid, result)
        self._set_reading()
        if self.eof and not self.busy and not self.queue and not self.tailing:
            self.close()

    async def _run_async(self, rid: Any, spec: Op, request: Request) -> None:
        try:
            result = await spec.func(self.daemon, request)
        except OpError as e:
            self._error(rid, e.code, e.message)
        except Exception as e:
            log.exception("internal error in %s", spec.name)
            self._error(rid, "internal", f"internal error: {type(e).__name__}: {e}")
        else:
            self._reply(rid, result)
        self.busy = False
        self._drain()

    def _set_reading(self) -> None:
        """Read while fewer than PAUSE_AT requests wait and answers are being read."""
        if self.transport is None or self.closed or self.transport.is_closing():
            return
        if not self.paused and (len(self.queue) >= PAUSE_AT or self.writing_paused):
            self.paused = True
            self.transport.pause_reading()
        elif self.paused and len(self.queue) < PAUSE_AT // 2 and not self.writing_paused:
            self.paused = False
            self.transport.resume_reading()

    def check_timeouts(self, now: float, idle: float, request: float) -> None:
        """Close a connection idle for `idle` seconds, or whose frame has been half-sent for
        `request` seconds (the daemon's sweep calls this). Tail streams only listen."""
        if self.closed or self.tailing or self.busy or self.queue:
            return
        if self.decoder.buffered and now - self.last_data > request:
            self._error(None, "timeout", f"request not completed within {request:g} s")
            self.close()
        elif now - max(self.last_data, self.last_answer) > idle:
            self.close()

    # output

    def _send(self, obj: dict[str, Any]) -> None:
        if self.closed or self.transport is None or self.transport.is_closing():
            return
        try:
            frame = encode_frame(obj)
        except FrameTooLarge as e:
            frame = encode_frame({"id": obj.get("id"), "ok": False, "error": {
                "code": "internal", "message": f"answer too large: {e.message}"}})
        self.last_answer = time.monotonic()
        self.transport.write(frame)

    def _reply(self, rid: Any, result: Any) -> None:
        self._send({"id": rid, "ok": True, "result": result})

    def _error(self, rid: Any, code: str, message: str) -> None:
        self._send({"id": rid, "ok": False, "error": {"code": code, "message": message}})

    def on_changes(self, changes: Changes) -> None:
        if self.closed or self.transport is None:
            return
        try:
            backend = self.daemon.backend
            for event in views.change_events(backend.store, changes, self.tail_channels,
                                             backend.identity):
                self._send(event)
        except Exception:
            log.exception("tail: cannot render changes")
        if self.transport.get_write_buffer_size() > TAIL_MAX_BUFFER:
            log.warning("tail client too slow; dropping it")
            self.close()

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()
        self.closed = True
