"""Fairness and limits of the daemon under abuse, measured (issue 11; docs/protocol.md,
"Limits").

    .venv/bin/python bench/bench_limits.py [--pipelined 20000] [--connections 10000]

1. pipelining: one client writes `--pipelined` requests at once (`status`, then `messages`,
   whose work is inline) and reads the answers, while another client (a process of its own)
   pings every 5 ms on its own connection; goal: the other client's ping p99 < 10 ms (idle,
   for comparison, beside). Run as root, the bench raises its priority (nice -10) for all
   three processes alike, to keep the shared machine's other load out of the figure;
2. connections: the daemon started under a soft fd limit of 1,024 (its hard limit above),
   `--connections` clients connect and stay; goal: all held and a new client's ping answered;
   past a (lowered) connection cap a client is answered `busy` and closed, never left hanging;
3. timeouts: with a 2 s idle and a 1 s request timeout, an idle connection and one whose
   frame stays half-sent are closed by the daemon (goal: both, within the timeout plus the
   1 s sweep).

All on Unix sockets in private temporary directories, bounded in count and time.
tests/test_limits.py runs short versions in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_daemon import _env  # noqa: E402

from spacesd.ipc import Client, FrameDecoder, Ok, decode_payload, encode_frame  # noqa: E402


class Served:
    """A daemon process (embedded backend) with chosen limits and a chosen soft fd limit."""

    def __init__(self, root: Path, *, soft_fds: int | None = None, max_clients: int | None = None,
                 idle: float | None = None, request: float | None = None) -> None:
        self.root = root
        self.socket = root / "run" / "spacesd.sock"
        self.env = _env(root)
        self.args = json.dumps({"max_clients": max_clients, "idle": idle, "request": request})
        self.soft_fds = soft_fds
        self.proc: subprocess.Popen[bytes] | None = None

    def _limit(self) -> None:  # in the child, before exec
        if self.soft_fds is not None:
            _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            resource.setrlimit(resource.RLIMIT_NOFILE, (self.soft_fds, hard))

    def start(self) -> Served:
        log = (self.root / "spacesd.log").open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve", self.args],
            env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=self.root,
            preexec_fn=self._limit)
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with Client(self.socket, timeout=0.5) as c:
                if isinstance(c.request("ping"), Ok):
                    return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("spacesd did not start:\n" + (self.root / "spacesd.log").read_text())

    def fd_limit(self) -> int:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/limits").read_text().splitlines():
            if line.startswith("Max open files"):
                return int(line.split()[3])
        return -1

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def _serve(spec: str) -> None:
    """The daemon as `spacesd run` makes it, with the limits given on the command line."""
    from spacesd.daemon.embedded import EmbeddedBackend
    from spacesd.daemon.limits import IDLE_TIMEOUT, REQUEST_TIMEOUT, Limits
    from spacesd.daemon.main import setup_logging
    from spacesd.daemon.server import Daemon, Settings

    a = json.loads(spec)
    limits = Limits(max_clients=a["max_clients"], idle_timeout=a["idle"] or IDLE_TIMEOUT,
                    request_timeout=a["request"] or REQUEST_TIMEOUT)
    setup_logging()
    asyncio.run(Daemon(EmbeddedBackend(), Settings(limits=limits)).run())


# --------------------------------------------------------------------------------------------
# 1. pipelining


def _pinger(sock: Path, every: float = 0.005) -> subprocess.Popen[str]:
    """Another client, in a process of its own (no shared GIL with the pipelining one): pings
    every `every` seconds until its stdin closes, then prints the latencies (seconds)."""
    code = (
        "import json, sys, threading, time\n"
        "from spacesd.ipc import Client, Ok\n"
        "stop = threading.Event()\n"
        "threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()\n"
        f"c = Client({str(sock)!r}, timeout=10)\n"
        "c.request('ping')\n"
        "print('ready', flush=True)\n"
        "out = []\n"
        "while not stop.is_set():\n"
        "    t0 = time.perf_counter()\n"
        "    res = c.request('ping')\n"
        "    out.append(time.perf_counter() - t0)\n"
        "    assert isinstance(res, Ok), res\n"
        f"    time.sleep({every})\n"
        "print(json.dumps(out))\n")
    p = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True, cwd=REPO)
    assert p.stdout is not None
    p.stdout.readline()
    return p


def _pings_until(p: subprocess.Popen[str]) -> list[float]:
    out, _ = p.communicate("", timeout=60)
    return [float(x) for x in json.loads(out.strip().splitlines()[-1])]


def _pipeline(sock: Path, op: str, args: dict[str, Any], n: int) -> tuple[int, float]:
    """Write n requests at once (a writer thread), read the n answers; (answers, seconds)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(str(sock))
    frames = b"".join(encode_frame({"id": i, "op": op, "args": args}) for i in range(n))
    t0 = time.perf_counter()
    writer = threading.Thread(target=s.sendall, args=(frames,), daemon=True)
    writer.start()
    dec = FrameDecoder()
    got = 0
    expected = 0
    while got < n:
        data = s.recv(1 << 20)
        if not data:
            break
        for payload in dec.feed(data):
            # the answer's id and success from its first bytes (compact JSON, id first): the
            # bench measures the daemon, not this process decoding 20,000 answers
            if not payload.startswith(b'{"id":%d,"ok":true' % expected):
                raise RuntimeError(f"answer {got}: {payload[:200]!r}")
            expected += 1
            got += 1
    writer.join()
    s.close()
    return got, time.perf_counter() - t0


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))] * 1000 if xs else float("nan")


def case_pipelining(root: Path, n: int) -> list[dict[str, Any]]:
    served = Served(root).start()
    out = []
    try:
        with Client(served.socket) as client:
            for c in range(20):
                client.request("send", {"channel": "general", "content": f"m{c}"})
        pinger = _pinger(served.socket)
        time.sleep(1.0)
        idle = _pings_until(pinger)
        for op, args in (("status", {}), ("messages", {"channel": "general", "limit": 20})):
            pinger = _pinger(served.socket)
            time.sleep(0.2)
            got, seconds = _pipeline(served.socket, op, args, n)
            lat = _pings_until(pinger)
            out.append({"case": f"one client pipelining {n} {op}", "answered": got,
                        "pipelined_s": round(seconds, 2), "pings": len(lat),
                        "ping_p50_ms": round(_pct(lat, 0.5), 2),
                        "ping_p99_ms": round(_pct(lat, 0.99), 2),
                        "ping_max_ms": round(max(lat) * 1000, 2) if lat else None,
                        "idle_ping_p99_ms": round(_pct(idle, 0.99), 2),
                        "ok": got == n and _pct(lat, 0.99) < 10.0})
    finally:
        served.stop()
    return out


# --------------------------------------------------------------------------------------------
# 2. connections


def _raise_own_fd_limit(need: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(need, soft)), hard))


def case_connections(root: Path, n: int) -> dict[str, Any]:
    _raise_own_fd_limit(n + 256)
    served = Served(root, soft_fds=1024).start()
    held: list[socket.socket] = []
    try:
        t0 = time.perf_counter()
        for _ in range(n):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(str(served.socket))
            held.append(s)
        connect_s = time.perf_counter() - t0
        deadline = time.monotonic() + 60
        clients = 0
        while time.monotonic() < deadline:
            with Client(served.socket, timeout=10) as c:
                res = c.request("status")
            if isinstance(res, Ok):
                clients = int(res.result["clients"]) - 1
                if clients >= n:
                    break
            time.sleep(0.2)
        t1 = time.perf_counter()
        with Client(served.socket, timeout=10) as c:
            pong = c.request("ping")
        ping_ms = (time.perf_counter() - t1) * 1000
        # every held connection still answered: a sample of them pings
        sample_ok = sum(_ping_raw(s) for s in held[:: max(1, n // 50)])
        return {"case": f"{n} connections under a soft fd limit of 1024",
                "daemon_fd_limit": served.fd_limit(), "held": clients,
                "connect_s": round(connect_s, 2), "new_client_ping_ms": round(ping_ms, 2),
                "held_sample_answered": sample_ok,
                "ok": isinstance(pong, Ok) and clients >= n}
    finally:
        for s in held:
            s.close()
        served.stop()


def _ping_raw(s: socket.socket) -> bool:
    s.settimeout(10)
    s.sendall(encode_frame({"id": 1, "op": "ping"}))
    dec = FrameDecoder()
    while True:
        data = s.recv(65536)
        if not data:
            return False
        for payload in dec.feed(data):
            return bool(decode_payload(payload).get("ok"))


def _first_answer(s: socket.socket, timeout: float) -> dict[str, Any] | None:
    """The first frame the daemon sends, or None if it closes without one (or is silent)."""
    s.settimeout(timeout)
    dec = FrameDecoder()
    try:
        while True:
            data = s.recv(65536)
            if not data:
                return None
            for payload in dec.feed(data):
                return decode_payload(payload)
    except TimeoutError:
        return {"silent": True}


def case_cap(root: Path, cap: int) -> dict[str, Any]:
    served = Served(root, max_clients=cap).start()
    held: list[socket.socket] = []
    try:
        for _ in range(cap):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(str(served.socket))
            held.append(s)
        time.sleep(0.5)
        extra = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        extra.connect(str(served.socket))
        t0 = time.perf_counter()
        answer = _first_answer(extra, 5.0)
        refused_ms = (time.perf_counter() - t0) * 1000
        closed = extra.recv(1) == b""
        extra.close()
        held.pop().close()
        time.sleep(0.3)
        with Client(served.socket, timeout=5) as c:
            again = c.request("ping")
        code = (answer or {}).get("error", {}).get("code")
        return {"case": f"a client past a cap of {cap}", "answer": code,
                "refused_in_ms": round(refused_ms, 1), "closed": closed,
                "served_after_one_left": isinstance(again, Ok),
                "ok": code == "busy" and closed and isinstance(again, Ok)}
    finally:
        for s in held:
            s.close()
        served.stop()


# --------------------------------------------------------------------------------------------
# 3. timeouts


def case_timeouts(root: Path, idle: float = 2.0, request: float = 1.0) -> dict[str, Any]:
    served = Served(root, idle=idle, request=request).start()
    try:
        idle_s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        idle_s.connect(str(served.socket))
        half = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        half.connect(str(served.socket))
        half.sendall(encode_frame({"id": 1, "op": "ping"})[:6])  # a frame never finished
        busy = Client(served.socket, timeout=5)
        t0 = time.monotonic()
        half_answer = _first_answer(half, request + 5)
        half_s = time.monotonic() - t0
        idle_answer = _first_answer(idle_s, idle + 5)
        idle_closed_s = time.monotonic() - t0
        still = busy.request("ping")  # a connection that spoke recently is left alone
        busy.close()
        code = (half_answer or {}).get("error", {}).get("code")
        return {"case": f"idle {idle:g} s and request {request:g} s timeouts",
                "half_sent_answer": code, "half_sent_closed_after_s": round(half_s, 2),
                "idle_closed": idle_answer is None,
                "idle_closed_after_s": round(idle_closed_s, 2),
                "recent_client_served": isinstance(still, Ok),
                "ok": code == "timeout" and idle_answer is None and half_s < request + 2
                and idle_closed_s < idle + 2}
    finally:
        served.stop()


# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--serve", help=argparse.SUPPRESS)
    ap.add_argument("--pipelined", type=int, default=20000)
    ap.add_argument("--connections", type=int, default=10000)
    ap.add_argument("--cap", type=int, default=200)
    ap.add_argument("--json", help="write the figures here as JSON")
    a = ap.parse_args(argv)
    if a.serve:
        _serve(a.serve)
        return 0
    if os.geteuid() == 0:
        # The machines here are shared: other tenants' load is not the daemon's doing. The
        # daemon, the pinging client and the pipelining one all inherit this same priority.
        with contextlib.suppress(OSError):
            os.nice(-10)
    results: list[dict[str, Any]] = []
    cases: list[tuple[str, Callable[[Path], list[dict[str, Any]]]]] = [
        ("pipe", lambda r: case_pipelining(r, a.pipelined)),
        ("conns", lambda r: [case_connections(r, a.connections)]),
        ("cap", lambda r: [case_cap(r, a.cap)]),
        ("timeouts", lambda r: [case_timeouts(r)]),
    ]
    for name, fn in cases:
        root = Path(tempfile.mkdtemp(prefix=f"spl-{name}-", dir="/tmp"))
        try:
            for r in fn(root):
                results.append(r)
                figures = ", ".join(f"{k} {v}" for k, v in r.items() if k not in ("case", "ok"))
                print(f"{r['case']}: {'ok' if r['ok'] else 'FAIL'}; {figures}", flush=True)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1))
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main())
