"""Post-to-peer latency on SpacetimeDB (the test server), loopback: goal p50 < 20 ms.

    .venv/bin/python bench/bench_stdb.py [--messages 300] [--skip-daemons] [--skip-codec]

1. client to client: Spaces' own v2 connection A calls `send_message`, the test server (a
   separate process) commits it and pushes the TransactionUpdate, connection B (subscribed
   to `message WHERE id > N`) has the decoded row: time from A's call to B's event;
2. daemon to daemon: two `spacesd run --backend spacetimedb` processes with their own
   identities; a client sends through daemon A's socket (`send`), another reads daemon B's
   `tail` stream: time from the request to the tail event, i.e. what an agent sees;
3. (with bench_codec.py beside it) the decode rate of a 10,000-row TransactionUpdate, so one
   run shows both figures of the issue.

Messages are sent one at a time (each waits for the previous one to arrive), so the figures
are latencies, not throughput under load.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from spacesd.ipc import Client, Ok  # noqa: E402
from spacesd.model import MessageType  # noqa: E402
from spacesd.stdb import bsatn  # noqa: E402
from spacesd.stdb.connection import Connection  # noqa: E402
from spacesd.stdb.http import HttpClient  # noqa: E402
from spacesd.stdb.protocol import Event, SubscribedEvent, TransactionEvent  # noqa: E402

GOAL_P50_MS = 20.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(data: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "stdb_server.py"), "--port", str(port),
         "--data", str(data)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while True:
        try:
            with urllib.request.urlopen(f"{url}/v1/ping", timeout=1):
                return proc, url
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start") from None
            time.sleep(0.05)


def summarize(name: str, samples_ms: list[float]) -> dict[str, Any]:
    s = sorted(samples_ms)

    def pct(p: float) -> float:
        return s[min(len(s) - 1, int(p / 100 * len(s)))]

    p50 = statistics.median(s)
    print(f"{name}: n={len(s)}  p50 {p50:.2f} ms  p90 {pct(90):.2f} ms  p99 {pct(99):.2f} ms  "
          f"max {s[-1]:.2f} ms  mean {statistics.fmean(s):.2f} ms  "
          f"(goal p50 < {GOAL_P50_MS:g} ms: {'met' if p50 < GOAL_P50_MS else 'NOT met'})")
    return {"p50": p50, "p90": pct(90), "p99": pct(99), "max": s[-1]}


# --------------------------------------------------------------------------------------------
# 1. client to client


async def client_to_client(url: str, n: int) -> list[float]:
    http = HttpClient(url)
    _, tok_a = await http.create_identity()
    _, tok_b = await http.create_identity()
    arrived: dict[str, float] = {}
    got = asyncio.Event()

    def on_b(ev: Event) -> None:
        deltas = ev.deltas if isinstance(ev, TransactionEvent) else (
            ev.tables if isinstance(ev, SubscribedEvent) else [])
        now = time.perf_counter()
        for d in deltas:
            for row in d.inserts:
                if d.table == "message":
                    arrived[row.content] = now
                    got.set()

    b = Connection(url, "spaces", tok_b, on_event=on_b)
    b.subscribe("messages", lambda: ["SELECT * FROM message WHERE id > 0"])
    b.start()
    a = Connection(url, "spaces", tok_a)
    a.start()
    assert await a.wait_ready(10) and await b.wait_subscribed("messages", 10)
    samples: list[float] = []
    for i in range(n + 20):
        text = f"bench {i} {time.time_ns()}"
        got.clear()
        t0 = time.perf_counter()
        await a.call("send_message", bsatn.encode_args(
            "send_message", (1, text, None, None, MessageType.Text)))
        while text not in arrived:
            await asyncio.wait_for(got.wait(), 10)
            got.clear()
        if i >= 20:  # warm-up
            samples.append((arrived[text] - t0) * 1000)
    await a.close()
    await b.close()
    return samples


# --------------------------------------------------------------------------------------------
# 2. daemon to daemon


def daemon_env(root: Path, url: str, name: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "SPACES_DATA_DIR": str(root / "data"), "SPACES_STATE_DIR": str(root / "state"),
        "SPACES_RUNTIME_DIR": str(root / "run"), "SPACES_CONFIG_DIR": str(root / "config"),
        "SPACES_PROJECT_DIR": str(root), "SPACES_SPACETIME_CONFIG": str(root / "none.toml"),
        "XDG_CONFIG_HOME": str(root / "xdg"), "SPACES_BACKEND": "spacetimedb",
        "SPACETIMEDB_HOST": url, "SPACETIMEDB_DATABASE": "spaces",
        "SPACES_IDENTITY_NAME": name,
    })
    for key in ("SPACES_SOCKET", "SPACETIMEDB_TOKEN", "SPACES_CHANNEL_ID"):
        env.pop(key, None)
    return env


def daemon_to_daemon(url: str, n: int) -> list[float]:
    roots = [Path(tempfile.mkdtemp(prefix=f"spb-{name}-", dir="/tmp")) for name in "ab"]
    procs = []
    try:
        for root, name in zip(roots, ("bench-a", "bench-b"), strict=True):
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "spacesd", "run"], env=daemon_env(root, url, name),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=root))
        socks = [root / "run" / "spacesd.sock" for root in roots]
        for sock in socks:
            deadline = time.monotonic() + 20
            while not isinstance(Client(sock, timeout=0.5).request("ping"), Ok):
                if time.monotonic() > deadline:
                    raise RuntimeError("a daemon did not start")
                time.sleep(0.05)
        arrived: dict[str, float] = {}
        cond = threading.Condition()

        def reader() -> None:
            for ev in Client(socks[1], timeout=5).stream("tail", {}):
                if ev.get("event") == "message":
                    with cond:
                        arrived[ev["data"]["content"]] = time.perf_counter()
                        cond.notify_all()

        threading.Thread(target=reader, daemon=True).start()
        time.sleep(0.3)
        sender = Client(socks[0], timeout=10)
        samples: list[float] = []
        for i in range(n + 20):
            text = f"bench daemon {i} {time.time_ns()}"
            t0 = time.perf_counter()
            res = sender.request("send", {"channel": "general", "content": text})
            if not isinstance(res, Ok):
                raise RuntimeError(f"send failed: {res}")
            with cond:
                if not cond.wait_for(lambda t=text: t in arrived, 10):  # type: ignore[misc]
                    raise RuntimeError("the message did not reach daemon B")
            if i >= 20:
                samples.append((arrived[text] - t0) * 1000)
        return samples
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        for root in roots:
            shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=300)
    ap.add_argument("--skip-daemons", action="store_true")
    ap.add_argument("--skip-codec", action="store_true")
    args = ap.parse_args()
    data = Path(tempfile.mkdtemp(prefix="spb-stdb-", dir="/tmp"))
    proc, url = start_server(data)
    try:
        print(f"test server {url}; {args.messages} messages each, one at a time; "
              f"python {sys.version.split()[0]}")
        summarize("client A -> server -> client B", asyncio.run(
            client_to_client(url, args.messages)))
        if not args.skip_daemons:
            summarize("daemon A `send` -> server -> daemon B `tail`",
                      daemon_to_daemon(url, args.messages))
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(data, ignore_errors=True)
    codec = Path(__file__).resolve().parent / "bench_codec.py"
    if not args.skip_codec and codec.exists():
        print("decode rate (bench/bench_codec.py):", flush=True)
        subprocess.run([sys.executable, str(codec)], check=False)


if __name__ == "__main__":
    main()
