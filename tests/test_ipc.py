"""spacesd.ipc: framing, and the blocking client against a tiny in-test daemon."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from spacesd import ipc
from spacesd.ipc import (
    MAX_FRAME,
    Client,
    Err,
    FrameDecoder,
    FrameTooLarge,
    IpcError,
    Ok,
    ProtocolError,
    decode_payload,
    encode_frame,
    parse_header,
    parse_ref,
)

Handler = Callable[[dict[str, Any], socket.socket], "dict[str, Any] | None"]


class FakeDaemon:
    """A thread serving the framing on a Unix socket; `handler` maps a request to an answer.

    A handler returning None sends nothing (to provoke client timeouts).
    """

    def __init__(self, path: Path, handler: Handler) -> None:
        self.path = path
        self.handler = handler
        self.requests: list[dict[str, Any]] = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(16)
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        dec = FrameDecoder()
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                for payload in dec.feed(data):
                    try:
                        req = decode_payload(payload)
                    except ProtocolError as e:
                        err = {"code": e.code, "message": e.message}
                        conn.sendall(encode_frame({"id": None, "ok": False, "error": err}))
                        continue
                    self.requests.append(req)
                    ans = self.handler(req, conn)
                    if ans is not None:
                        conn.sendall(encode_frame(ans))
        except FrameTooLarge as e:
            conn.sendall(encode_frame(
                {"id": None, "ok": False, "error": {"code": e.code, "message": e.message}}
            ))
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() thread on Linux
        self.sock.close()
        for c in self.conns:
            with contextlib.suppress(OSError):
                c.close()


def echo(req: dict[str, Any], conn: socket.socket) -> dict[str, Any] | None:
    op = req.get("op")
    if op == "ping":
        return {"id": req["id"], "ok": True, "result": {"pong": True}}
    if op == "echo":
        return {"id": req["id"], "ok": True, "result": req.get("args", {})}
    if op == "slow":
        return None
    if op == "wrong_id":
        return {"id": req["id"] + 100, "ok": True, "result": 1}
    if op == "garbage":
        body = b"not json"
        conn.sendall(len(body).to_bytes(4, "big") + body)
        return None
    if op == "hangup":
        conn.shutdown(socket.SHUT_RDWR)
        return None
    if op == "tail":
        conn.sendall(encode_frame({"id": req["id"], "ok": True, "result": {"subscribed": True}}))
        for i in range(3):
            conn.sendall(encode_frame({"event": "message", "data": {"id": i}}))
        conn.shutdown(socket.SHUT_WR)
        return None
    return {"id": req["id"], "ok": False,
            "error": {"code": "unknown_op", "message": f"unknown op {op!r}"}}


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    # AF_UNIX paths are limited to ~100 bytes: keep them short.
    with tempfile.TemporaryDirectory(prefix="sp-", dir="/tmp") as d:
        yield Path(d)


@pytest.fixture
def daemon(sock_dir: Path) -> Iterator[FakeDaemon]:
    d = FakeDaemon(sock_dir / "s.sock", echo)
    yield d
    d.close()


# -- framing


def test_encode_decode_roundtrip() -> None:
    obj = {"id": 1, "op": "send", "args": {"content": "héllo ✓ \U0001f600"}}
    frame = encode_frame(obj)
    n = parse_header(frame[:4])
    assert n == len(frame) - 4
    assert decode_payload(frame[4:]) == obj
    assert frame[4:] == json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def test_decoder_split_anywhere() -> None:
    frames = b"".join(encode_frame({"id": i, "x": "y" * i}) for i in range(50))
    for step in (1, 3, 7, 64, len(frames)):
        dec = FrameDecoder()
        out: list[dict[str, Any]] = []
        for i in range(0, len(frames), step):
            out += dec.feed_objects(frames[i : i + step])
        assert [o["id"] for o in out] == list(range(50))
        assert dec.buffered == 0


def test_size_limit_enforced_both_ways() -> None:
    with pytest.raises(FrameTooLarge):
        encode_frame({"x": "a" * MAX_FRAME})
    with pytest.raises(FrameTooLarge) as ei:
        parse_header((MAX_FRAME + 1).to_bytes(4, "big"))
    assert ei.value.code == "frame_too_large"
    assert parse_header(MAX_FRAME.to_bytes(4, "big")) == MAX_FRAME
    dec = FrameDecoder()
    # Refused from the header alone, before the body arrives; and stays refused.
    with pytest.raises(FrameTooLarge):
        dec.feed((MAX_FRAME + 1).to_bytes(4, "big") + b"{")
    with pytest.raises(FrameTooLarge):
        dec.feed(b"")
    small = FrameDecoder(max_size=10)
    with pytest.raises(FrameTooLarge):
        small.feed(encode_frame({"abcdefghij": 1}))


@pytest.mark.parametrize(
    "payload", [b"not json", b"[1, 2]", b"\xff\xfe{}", b'"str"', b"",
                b'{"id": 1, "args": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"]
)
def test_bad_payloads(payload: bytes) -> None:
    with pytest.raises(ProtocolError) as ei:
        decode_payload(payload)
    assert ei.value.code == "bad_frame"


def test_bad_frame_does_not_desync_decoder() -> None:
    good = encode_frame({"id": 2})
    bad = len(b"nope").to_bytes(4, "big") + b"nope"
    payloads = FrameDecoder().feed(bad + good)
    assert len(payloads) == 2
    with pytest.raises(ProtocolError):
        decode_payload(payloads[0])
    assert decode_payload(payloads[1]) == {"id": 2}


# -- client


def test_unreachable_returns_err_fast(sock_dir: Path) -> None:
    t0 = time.monotonic()
    r = ipc.request("ping", path=sock_dir / "nothing.sock", timeout=0.5)
    assert isinstance(r, Err) and r.code == "unreachable" and r.client_side
    assert not r.ok
    assert time.monotonic() - t0 < 0.2
    with pytest.raises(IpcError) as ei:
        r.unwrap()
    assert ei.value.code == "unreachable"


def test_stale_socket_file_is_unreachable(sock_dir: Path) -> None:
    p = sock_dir / "stale.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(p))
    s.close()  # the file stays, nobody listens: ECONNREFUSED
    r = ipc.request("ping", path=p, timeout=0.5)
    assert isinstance(r, Err) and r.code == "unreachable"


def test_call_and_reuse_connection(daemon: FakeDaemon) -> None:
    with Client(daemon.path, timeout=2) as c:
        assert c.call("ping") == Ok({"pong": True})
        r = c.call("echo", channel="agent-logs", limit=5)
        assert isinstance(r, Ok) and r.ok
        assert r.result == {"channel": "agent-logs", "limit": 5}
        assert r.unwrap() == r.result
        assert c.connected
    assert len(daemon.conns) == 1
    ids = [q["id"] for q in daemon.requests]
    assert ids == sorted(set(ids))
    assert "args" not in daemon.requests[0]  # omitted when empty


def test_daemon_error_passes_through(daemon: FakeDaemon) -> None:
    r = ipc.request("frobnicate", path=daemon.path, timeout=2)
    assert r == Err("unknown_op", "unknown op 'frobnicate'")
    assert isinstance(r, Err) and not r.client_side


def test_timeout_is_bounded(daemon: FakeDaemon) -> None:
    c = Client(daemon.path, timeout=0.3)
    t0 = time.monotonic()
    r = c.request("slow")
    dt = time.monotonic() - t0
    assert isinstance(r, Err) and r.code == "timeout"
    assert 0.25 < dt < 0.8
    assert not c.connected
    # the client reconnects for the next request
    assert c.call("ping").ok
    c.close()


def test_protocol_violations(daemon: FakeDaemon) -> None:
    with Client(daemon.path, timeout=1) as c:
        r = c.call("wrong_id")
        assert isinstance(r, Err) and r.code == "protocol"
        r = c.call("garbage")
        assert isinstance(r, Err) and r.code == "protocol"
        r = c.call("hangup")
        assert isinstance(r, Err) and r.code == "disconnected"
        assert c.call("ping").ok


def test_oversized_request_is_refused_locally(daemon: FakeDaemon) -> None:
    r = ipc.request("echo", {"x": "a" * (MAX_FRAME + 1)}, path=daemon.path, timeout=1)
    assert isinstance(r, Err) and r.code == "frame_too_large"
    assert daemon.requests == []
    r = ipc.request("echo", {"x": float("nan")}, path=daemon.path, timeout=1)
    assert isinstance(r, Err) and r.code == "bad_args"
    r = ipc.request("echo", {"x": object()}, path=daemon.path, timeout=1)
    assert isinstance(r, Err) and r.code == "bad_args"


def test_oversized_answer_is_a_protocol_error(sock_dir: Path) -> None:
    def huge(req: dict[str, Any], conn: socket.socket) -> None:
        conn.sendall((MAX_FRAME + 1).to_bytes(4, "big"))
        return None

    d = FakeDaemon(sock_dir / "h.sock", huge)
    try:
        r = ipc.request("x", path=d.path, timeout=1)
        assert isinstance(r, Err) and r.code == "protocol"
        assert "limit" in r.message
    finally:
        d.close()


def test_stream_yields_events(daemon: FakeDaemon) -> None:
    c = Client(daemon.path, timeout=1)
    events = c.stream("tail", channels=["agent-logs"], idle_timeout=2)
    assert not c.connected  # the connection belongs to the stream now
    got = list(events)
    assert got == [{"event": "message", "data": {"id": i}} for i in range(3)]
    assert daemon.requests[-1]["args"] == {"channels": ["agent-logs"]}
    with pytest.raises(IpcError) as ei:
        c.stream("nope")
    assert ei.value.code == "unknown_op"


def test_stream_idle_timeout(sock_dir: Path) -> None:
    def quiet(req: dict[str, Any], conn: socket.socket) -> dict[str, Any]:
        return {"id": req["id"], "ok": True, "result": {"subscribed": True}}

    d = FakeDaemon(sock_dir / "q.sock", quiet)
    try:
        events = Client(d.path, timeout=1).stream("tail", idle_timeout=0.2)
        with pytest.raises(IpcError) as ei:
            next(events)
        assert ei.value.code == "timeout"
    finally:
        d.close()


def test_default_path_follows_env(sock_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPACES_SOCKET", str(sock_dir / "env.sock"))
    assert Client().path == os.fspath(sock_dir / "env.sock")


def test_no_heavy_imports() -> None:
    import subprocess
    import sys

    code = (
        "import sys, spacesd.ipc, spacesd.outbox; "
        "bad = {'typing', 'dataclasses', 'asyncio', 'click', 'websockets', 'platformdirs', "
        "'filelock', 'sqlite3', 'hashlib', 'tempfile', 'subprocess', 'inspect'} "
        "& set(sys.modules); "
        "print(sorted(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.skipif(not hasattr(socket, "SO_PEERCRED"), reason="Linux peer credentials")
def test_a_socket_served_by_another_user_is_refused() -> None:
    """A socket another user put in a shared fallback dir never gets our requests."""
    if os.getuid() != 0:
        pytest.skip("serving as another uid needs root")
    shared = Path(tempfile.mkdtemp(prefix="spaces-shared-", dir="/tmp"))
    shared.chmod(0o777)  # like a /tmp fallback another user got to first
    path = str(shared / "spacesd.sock")
    received: list[bytes] = []

    def serve() -> None:
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        os.chmod(path, 0o777)
        srv.listen(1)
        srv.settimeout(5)
        try:
            conn, _ = srv.accept()
            conn.settimeout(1)
            with contextlib.suppress(OSError):
                received.append(conn.recv(65536))
            conn.close()
        except OSError:
            pass
        srv.close()

    # The listener belongs to uid 65534: a child that drops privileges before listening.
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            os.setgid(65534)
            os.setuid(65534)
            serve()
        finally:
            os._exit(0)
    deadline = time.monotonic() + 5
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    r = ipc.Client(path, timeout=1).request("post_summary", {"summary": {"task": "secret"}})
    os.waitpid(pid, 0)
    os.unlink(path)
    shared.rmdir()
    assert isinstance(r, ipc.Err) and r.code == ipc.UNREACHABLE
    assert "another user (uid 65534)" in r.message


def test_parse_ref_digits_are_an_id() -> None:
    """The one rule for a channel or server reference: a string of digits is an id."""
    assert parse_ref("12") == 12 and parse_ref("007") == 7
    assert parse_ref("agent-logs") == "agent-logs"
    assert parse_ref("-1") == "-1" and parse_ref("1e3") == "1e3" and parse_ref("") == ""


def test_send_does_not_wait_for_the_answer(daemon: FakeDaemon, sock_dir: Path) -> None:
    with Client(daemon.path, timeout=2) as c:
        assert c.call("ping") == Ok({"pong": True})
        t = time.monotonic()
        assert c.send("slow", {"x": 1}) is None  # the daemon never answers "slow"
        assert time.monotonic() - t < 0.5
    deadline = time.monotonic() + 2
    while len(daemon.requests) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert daemon.requests[-1]["op"] == "slow" and daemon.requests[-1]["args"] == {"x": 1}
    assert len(daemon.conns) == 1  # the same connection
    gone = Client(sock_dir / "nothing.sock", timeout=0.5).send("ping")
    assert isinstance(gone, Err) and gone.code == "unreachable"
