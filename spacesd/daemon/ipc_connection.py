"""One client of the daemon's socket: an asyncio protocol that reads framed requests, runs
them through the op registry in order (a write waits for its commit before the next request
is read from the queue), and writes the answers; after `tail`, a pushed stream of change
events (docs/protocol.md)."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from spacesd.daemon import views
from spacesd.daemon.errors import OpError
from spacesd.daemon.ops import lookup
from spacesd.daemon.registry import Op, Request
from spacesd.ipc import FrameDecoder, FrameTooLarge, ProtocolError, decode_payload, encode_frame
from spacesd.store import Changes

if TYPE_CHECKING:
    from spacesd.daemon.server import Daemon

log = logging.getLogger("spacesd")

TAIL_MAX_BUFFER = 8 * 1024 * 1024
"""A tail client that lets this much pile up unread is dropped."""
PAUSE_AT = 64
"""Stop reading a connection with this many requests waiting for their turn."""


class IpcConnection(asyncio.Protocol):
    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
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

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.daemon.clients.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.daemon.clients.discard(self)
        if self.unsubscribe is not None:
            self.unsubscribe()
            self.unsubscribe = None

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
        self.queue.extend(frames)
        if self.busy:
            self._maybe_pause()
        else:
            self._drain()

    def eof_received(self) -> bool | None:
        """The client is done sending: answer what it sent, then close (half-close clients
        such as `nc -N` get their answers)."""
        if self.tailing or (not self.busy and not self.queue):
            return False
        self.eof = True
        return True

    # request loop

    def _drain(self) -> None:
        daemon = self.daemon
        while self.queue and not self.closed and not self.tailing:
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
                    self._maybe_pause()
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
        self._maybe_resume()
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

    def _maybe_pause(self) -> None:
        if not self.paused and len(self.queue) >= PAUSE_AT and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()

    def _maybe_resume(self) -> None:
        if self.paused and len(self.queue) < PAUSE_AT // 2 and self.transport is not None:
            self.paused = False
            if not self.closed:
                self.transport.resume_reading()

    # output

    def _send(self, obj: dict[str, Any]) -> None:
        if self.closed or self.transport is None or self.transport.is_closing():
            return
        try:
            frame = encode_frame(obj)
        except FrameTooLarge as e:
            frame = encode_frame({"id": obj.get("id"), "ok": False, "error": {
                "code": "internal", "message": f"answer too large: {e.message}"}})
        self.transport.write(frame)

    def _reply(self, rid: Any, result: Any) -> None:
        self._send({"id": rid, "ok": True, "result": result})

    def _error(self, rid: Any, code: str, message: str) -> None:
        self._send({"id": rid, "ok": False, "error": {"code": code, "message": message}})

    def on_changes(self, changes: Changes) -> None:
        if self.closed or self.transport is None:
            return
        try:
            for event in views.change_events(self.daemon.backend.store, changes,
                                             self.tail_channels):
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
