"""The spacesd socket protocol on the client side, and its framing for everyone.

Standard library only, and cheap standard library at that: the hooks import this module on
every turn of every agent session. No `typing`, no `dataclasses` at runtime (they cost more
than the rest of a hook); annotations are strings (`from __future__ import annotations`) and
the few typing names live under `TYPE_CHECKING`, which mypy treats as true.

Framing (docs/protocol.md): a 4-byte unsigned big-endian length, then that many bytes of UTF-8
JSON holding one object; frames over `MAX_FRAME` (4 MiB) are refused in both directions.

Pure framing, for the daemon (asyncio) as well as this client:

    encode_frame(obj) -> bytes              # raises FrameTooLarge
    parse_header(b4) -> int                 # payload length; raises FrameTooLarge
    decode_payload(payload) -> dict         # raises ProtocolError("bad_frame")
    FrameDecoder().feed(data) -> [payload]  # complete payloads (bytes); size-checked

The blocking client never raises for transport or daemon errors: it returns a value.

    with Client(timeout=0.8) as c:
        r = c.call("status")            # Ok(result=...) or Err(code=..., message=...)
        if r.ok: print(r.result)
        else: print(r.code, r.message)
        value = c.call("channels").unwrap()   # raises IpcError on Err, for the CLI

    request("ping", timeout=0.5)        # one-shot helper
    for event in Client().stream("tail", channels=["agent-logs"]): ...  # raises IpcError

Client-side error codes (`Err.code`): "unreachable" (no socket, refused, permission),
"timeout", "disconnected" (the daemon closed mid-request), "protocol" (a malformed or oversized
frame, or an answer to another request). Any other code is the daemon's own (`bad_frame`,
`frame_too_large`, `unknown_op`, `bad_args`, `not_found`, `reducer_error`, `unavailable`,
`internal`).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time

from spacesd import paths

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from typing import Any, Literal, TypeAlias

    from typing_extensions import Self

__all__ = [
    "CLIENT_CODES",
    "DEFAULT_TIMEOUT",
    "HEADER_SIZE",
    "MAX_FRAME",
    "Client",
    "Err",
    "FrameDecoder",
    "FrameTooLarge",
    "IpcError",
    "Ok",
    "ProtocolError",
    "Result",
    "decode_payload",
    "encode_frame",
    "parse_header",
    "parse_ref",
    "request",
]

MAX_FRAME = 4 * 1024 * 1024
"""Largest payload (bytes after the 4-byte header) either side accepts."""
HEADER_SIZE = 4
DEFAULT_TIMEOUT = 5.0
"""Default total time for one request (connect + send + answer), in seconds. Hooks pass less."""

UNREACHABLE = "unreachable"
TIMEOUT = "timeout"
DISCONNECTED = "disconnected"
PROTOCOL = "protocol"
CLIENT_CODES = frozenset({UNREACHABLE, TIMEOUT, DISCONNECTED, PROTOCOL})
"""Error codes made on this side; everything else comes from the daemon."""


def parse_ref(text: str) -> int | str:
    """A channel or server reference as the protocol's `channel` / `server` arguments take
    it: a string of digits is an id, anything else a name. The one place that rule lives:
    the CLI, the hooks (SPACES_CHANNEL_ID) and the daemon (its configured channel, a name
    in a request) all read a reference through it."""
    return int(text) if text.isdigit() else text


# --------------------------------------------------------------------------------------------
# Errors and results


class ProtocolError(ValueError):
    """A frame that breaks the protocol. `code` is the protocol's error code for it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class FrameTooLarge(ProtocolError):
    """A frame over MAX_FRAME. The connection cannot be resynchronised: close it."""

    def __init__(self, size: int, limit: int = MAX_FRAME) -> None:
        super().__init__("frame_too_large", f"frame of {size} bytes exceeds the {limit}-byte limit")
        self.size = size
        self.limit = limit


class IpcError(Exception):
    """Raised by `Err.unwrap()` and by `Client.stream`; carries the same code and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Ok:
    """A successful answer; `result` is the daemon's `result` value."""

    __slots__ = ("result",)
    ok: Literal[True] = True

    def __init__(self, result: Any) -> None:
        self.result = result

    def unwrap(self) -> Any:
        return self.result

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ok) and other.result == self.result

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Ok(result={self.result!r})"


class Err:
    """A failed request: `code` (see the module docstring) and a human-readable `message`."""

    __slots__ = ("code", "message")
    ok: Literal[False] = False

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message

    @property
    def client_side(self) -> bool:
        """True when the daemon never answered (unreachable, timeout, ...)."""
        return self.code in CLIENT_CODES

    def unwrap(self) -> Any:
        raise IpcError(self.code, self.message)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Err) and (other.code, other.message) == (self.code, self.message)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Err(code={self.code!r}, message={self.message!r})"


if TYPE_CHECKING:
    Result: TypeAlias = "Ok | Err"
else:
    Result = (Ok, Err)  # for isinstance(); the annotation form is `Ok | Err`

# --------------------------------------------------------------------------------------------
# Framing (pure functions, shared with the daemon)

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def encode_frame(obj: Mapping[str, Any], *, max_size: int = MAX_FRAME) -> bytes:
    """One frame: 4-byte big-endian length + compact UTF-8 JSON. Raises FrameTooLarge."""
    payload = _dumps(obj).encode("utf-8", "surrogatepass")
    n = len(payload)
    if n > max_size:
        raise FrameTooLarge(n, max_size)
    return n.to_bytes(4, "big") + payload


def parse_header(header: bytes, *, max_size: int = MAX_FRAME) -> int:
    """The payload length a 4-byte header announces. Raises FrameTooLarge over the limit."""
    if len(header) != HEADER_SIZE:
        raise ProtocolError("bad_frame", f"frame header must be 4 bytes, got {len(header)}")
    n = int.from_bytes(header, "big")
    if n > max_size:
        raise FrameTooLarge(n, max_size)
    return n


def decode_payload(payload: bytes) -> dict[str, Any]:
    """The JSON object of one frame. Raises ProtocolError("bad_frame") if it is not one."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ProtocolError("bad_frame", f"frame is not UTF-8: {e.reason}") from None
    try:
        obj = json.loads(text)
    except ValueError as e:
        raise ProtocolError("bad_frame", f"frame is not JSON: {e}") from None
    except RecursionError:
        raise ProtocolError("bad_frame", "frame is nested too deep to decode") from None
    if not isinstance(obj, dict):
        raise ProtocolError("bad_frame", "frame must hold a JSON object")
    return obj


class FrameDecoder:
    """Incremental frame splitter: feed it bytes as they arrive, get whole payloads back.

    `feed` returns the complete payloads (bytes; pass each to `decode_payload`, so one bad
    frame can be answered with `bad_frame` without dropping the connection). A header over the
    limit raises FrameTooLarge as soon as it is seen (before the body arrives); after that the
    stream cannot be resynchronised and every further `feed` raises it again.
    """

    __slots__ = ("_buf", "_failed", "max_size")

    def __init__(self, max_size: int = MAX_FRAME) -> None:
        self.max_size = max_size
        self._buf = bytearray()
        self._failed: FrameTooLarge | None = None

    @property
    def buffered(self) -> int:
        """Bytes held for a frame not yet complete."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes]:
        if self._failed is not None:
            raise self._failed
        buf = self._buf
        buf += data
        out: list[bytes] = []
        pos = 0
        end = len(buf)
        while end - pos >= HEADER_SIZE:
            n = int.from_bytes(buf[pos : pos + HEADER_SIZE], "big")
            if n > self.max_size:
                del buf[:]
                self._failed = FrameTooLarge(n, self.max_size)
                raise self._failed
            if end - pos - HEADER_SIZE < n:
                break
            start = pos + HEADER_SIZE
            out.append(bytes(buf[start : start + n]))
            pos = start + n
        if pos:
            del buf[:pos]
        return out

    def feed_objects(self, data: bytes) -> list[dict[str, Any]]:
        """Like `feed`, decoded; raises ProtocolError on the first bad frame."""
        return [decode_payload(p) for p in self.feed(data)]


# --------------------------------------------------------------------------------------------
# The blocking client


class _Failure(Exception):
    """Internal: carries an Err out of the I/O helpers."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Client:
    """A blocking connection to spacesd; connects lazily, reconnects after any failure.

    `timeout` bounds each whole request (connect, send, answer); `connect_timeout` bounds the
    connect alone (default: the lesser of `timeout` and 0.5 s; a Unix socket connects at once
    or not at all). Methods return `Ok | Err` and never raise for I/O or daemon errors;
    `stream` is the exception (it raises IpcError), because its callers loop over it.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        connect_timeout: float | None = None,
    ) -> None:
        self.path = os.fspath(path) if path is not None else os.fspath(paths.socket_path())
        self.timeout = timeout
        self.connect_timeout = min(timeout, 0.5) if connect_timeout is None else connect_timeout
        self._sock: socket.socket | None = None
        self._decoder = FrameDecoder()
        self._pending: list[bytes] = []
        self._next_id = 1

    # -- lifecycle

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    def close(self) -> None:
        sock, self._sock = self._sock, None
        self._decoder = FrameDecoder()
        self._pending = []
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

    @property
    def connected(self) -> bool:
        return self._sock is not None

    # -- requests

    def call(self, op: str, /, **args: Any) -> Ok | Err:
        """`call("messages", channel="agent-logs", limit=5)`; see `request`."""
        return self.request(op, args)

    def request(
        self, op: str, args: Mapping[str, Any] | None = None, *, timeout: float | None = None
    ) -> Ok | Err:
        """Send one request and wait for its answer. Never raises (bar KeyboardInterrupt)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        try:
            frame = self._frame(op, args)
        except (FrameTooLarge, TypeError, ValueError) as e:
            code = e.code if isinstance(e, ProtocolError) else "bad_args"
            return Err(code, f"cannot encode request: {e}")
        rid = self._next_id - 1
        try:
            self._ensure_connected(deadline)
            self._send(frame, deadline)
            msg = self._recv(deadline)
        except _Failure as f:
            self.close()
            return Err(f.code, f.message)
        return self._interpret(msg, rid)

    def send(self, op: str, args: Mapping[str, Any] | None = None) -> Err | None:
        """Send one request and do not wait for its answer (the daemon still acts on it: it
        answers what a connection sent before that connection's end). None once the frame is
        written, else Err. The live hooks' ack is this, as their last act before exiting: the
        window in which a kill can separate "acked" from "exited 0" is one write, not a round
        trip."""
        deadline = time.monotonic() + self.timeout
        try:
            frame = self._frame(op, args)
            self._ensure_connected(deadline)
            self._send(frame, deadline)
        except (FrameTooLarge, TypeError, ValueError) as e:
            return Err("bad_args", f"cannot encode request: {e}")
        except _Failure as f:
            self.close()
            return Err(f.code, f.message)
        return None

    def stream(
        self,
        op: str = "tail",
        args: Mapping[str, Any] | None = None,
        /,
        *,
        idle_timeout: float | None = None,
        **kwargs: Any,
    ) -> Iterator[dict[str, Any]]:
        """Start a streaming op (`tail`) and return an iterator over its event frames.

        The request is made now: an Err answer raises IpcError here. The iterator then yields
        each pushed frame (`{"event": ..., "data": ...}`) as it arrives, blocking; it ends when
        the daemon closes the connection, and raises IpcError("timeout") if `idle_timeout`
        seconds pass without a frame (None: wait forever). The connection is given to the
        stream: no other request may be sent on it, so this client reconnects for the next.
        """
        merged = dict(args or {})
        merged.update(kwargs)
        res = self.request(op, merged)
        if isinstance(res, Err):
            raise IpcError(res.code, res.message)
        sock, self._sock = self._sock, None
        decoder, pending = self._decoder, self._pending
        self._decoder, self._pending = FrameDecoder(), []
        if sock is None:  # pragma: no cover - request() succeeded, so it is connected
            raise IpcError(DISCONNECTED, "connection lost")
        return self._events(sock, decoder, pending, idle_timeout)

    @staticmethod
    def _events(
        sock: socket.socket,
        decoder: FrameDecoder,
        pending: list[bytes],
        idle_timeout: float | None,
    ) -> Iterator[dict[str, Any]]:
        try:
            sock.settimeout(idle_timeout)
            while True:
                while pending:
                    payload = pending.pop(0)
                    try:
                        yield decode_payload(payload)
                    except ProtocolError as e:
                        raise IpcError(PROTOCOL, e.message) from None
                try:
                    data = sock.recv(65536)
                except TimeoutError:
                    raise IpcError(TIMEOUT, f"no event for {idle_timeout} s") from None
                except OSError as e:
                    raise IpcError(DISCONNECTED, f"connection lost: {e}") from None
                if not data:
                    if decoder.buffered:
                        raise IpcError(DISCONNECTED, "daemon closed the stream mid-frame")
                    return
                try:
                    pending.extend(decoder.feed(data))
                except ProtocolError as e:
                    raise IpcError(PROTOCOL, e.message) from None
        finally:
            with contextlib.suppress(OSError):
                sock.close()

    # -- internals

    def _frame(self, op: str, args: Mapping[str, Any] | None) -> bytes:
        rid = self._next_id
        self._next_id += 1
        req: dict[str, Any] = {"id": rid, "op": op}
        if args:
            req["args"] = dict(args)
        return encode_frame(req)

    def _ensure_connected(self, deadline: float) -> None:
        if self._sock is not None:
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _Failure(TIMEOUT, "timed out before connecting")
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        except OSError as e:  # AF_UNIX missing (Windows) or out of descriptors
            raise _Failure(UNREACHABLE, f"cannot create a socket: {e}") from None
        try:
            sock.settimeout(min(remaining, self.connect_timeout))
            sock.connect(self.path)
        except TimeoutError:
            sock.close()
            raise _Failure(TIMEOUT, f"timed out connecting to {self.path}") from None
        except OSError as e:
            sock.close()
            reason = e.strerror or str(e)
            msg = f"spacesd is not reachable at {self.path}: {reason}"
            raise _Failure(UNREACHABLE, msg) from None
        peer = _peer_uid(sock)
        if peer is not None and peer != os.getuid():
            # Where the runtime dir falls back to /tmp, another user could have put a socket
            # there first: never hand them summaries, prompts or context.
            sock.close()
            msg = f"{self.path} is served by another user (uid {peer}), not by your spacesd"
            raise _Failure(UNREACHABLE, msg)
        self._sock = sock

    def _remaining(self, deadline: float) -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _Failure(TIMEOUT, f"no answer within the time limit from {self.path}")
        return remaining

    def _send(self, frame: bytes, deadline: float) -> None:
        sock = self._sock
        assert sock is not None
        try:
            sock.settimeout(self._remaining(deadline))
            sock.sendall(frame)
        except TimeoutError:
            raise _Failure(TIMEOUT, "timed out sending the request") from None
        except OSError as e:
            raise _Failure(DISCONNECTED, f"connection lost while sending: {e}") from None

    def _recv(self, deadline: float) -> dict[str, Any]:
        sock = self._sock
        assert sock is not None
        while not self._pending:
            try:
                sock.settimeout(self._remaining(deadline))
                data = sock.recv(65536)
            except TimeoutError:
                msg = f"no answer within the time limit from {self.path}"
                raise _Failure(TIMEOUT, msg) from None
            except OSError as e:
                raise _Failure(DISCONNECTED, f"connection lost: {e}") from None
            if not data:
                raise _Failure(DISCONNECTED, "spacesd closed the connection before answering")
            try:
                self._pending.extend(self._decoder.feed(data))
            except ProtocolError as e:
                raise _Failure(PROTOCOL, e.message) from None
        try:
            return decode_payload(self._pending.pop(0))
        except ProtocolError as e:
            raise _Failure(PROTOCOL, e.message) from None

    def _interpret(self, msg: dict[str, Any], rid: int) -> Ok | Err:
        ok = msg.get("ok")
        if ok is True:
            if msg.get("id") != rid:
                self.close()
                return Err(PROTOCOL, f"answer for request {msg.get('id')!r}, expected {rid}")
            return Ok(msg.get("result"))
        if ok is False:
            err = msg.get("error")
            if isinstance(err, dict):
                code = err.get("code")
                message = err.get("message")
            else:
                code, message = None, err
            code = code if isinstance(code, str) and code else "internal"
            message = message if isinstance(message, str) else json.dumps(message)
            if code in ("bad_frame", "frame_too_large") or msg.get("id") != rid:
                self.close()  # the daemon drops the connection after these; so do we
            return Err(code, message)
        self.close()
        return Err(PROTOCOL, "answer has no boolean 'ok'")


def request(
    op: str,
    args: Mapping[str, Any] | None = None,
    *,
    path: str | os.PathLike[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    connect_timeout: float | None = None,
) -> Ok | Err:
    """One request on a fresh connection, closed afterwards. Never raises."""
    client = Client(path, timeout=timeout, connect_timeout=connect_timeout)
    try:
        return client.request(op, args)
    finally:
        client.close()


def _peer_uid(sock: socket.socket) -> int | None:
    """The uid of the process serving `sock` (Linux SO_PEERCRED), or None where unknown."""
    opt = getattr(socket, "SO_PEERCRED", None)
    if opt is None:
        return None
    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, opt, 12)  # struct ucred: pid, uid, gid
    except OSError:
        return None
    return int.from_bytes(creds[4:8], sys.byteorder)
