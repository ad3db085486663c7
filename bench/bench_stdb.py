"""Post-to-peer latency on SpacetimeDB, loopback, on the stand-in server (tests/stdb_server.py)
and on the real SpacetimeDB (tests/real_stdb.py: ../shared/spacetimedb/spacetimedb-standalone,
the module's .wasm published) side by side in one run: goal p50 < 20 ms on the real server.

    .venv/bin/python bench/bench_stdb.py [--messages 300] [--skip-daemons] [--skip-codec]
                                         [--servers stand-in,real]

On each server:
1. client to client: Spaces' own v2 connection A calls `send_message`, the server commits it
   and pushes the TransactionUpdate, connection B (subscribed to `message WHERE id > N`) has
   the decoded row: time from A's call to B's event;
2. daemon to daemon: two `spacesd run --backend spacetimedb` processes with their own
   identities; a client sends through daemon A's socket (`send`), another reads daemon B's
   `tail` stream: time from the request to the tail event, i.e. what an agent sees;
3. a reducer call's round trip through the daemon: the same `send` requests, from the request
   to daemon A's answer (the reducer's result came back from the server and is in A's cache);
4. (with bench_codec.py beside it) the decode rate of a 10,000-row TransactionUpdate.

Messages are sent one at a time (each waits for the previous one to arrive), so the figures
are latencies, not throughput under load. Without the real server's binary or the .wasm,
the real column says what is missing.
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from spacesd.ipc import Client, Ok  # noqa: E402
from spacesd.model import MessageType  # noqa: E402
from spacesd.stdb import bsatn  # noqa: E402
from spacesd.stdb.connection import Connection  # noqa: E402
from spacesd.stdb.http import HttpClient  # noqa: E402
from spacesd.stdb.protocol import Event, SubscribedEvent, TransactionEvent  # noqa: E402

sys.path.insert(0, str(ROOT / "tests"))
from real_stdb import Missing, RealServer, locate  # noqa: E402

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


def summarize(name: str, samples_ms: list[float], goal: bool = True) -> dict[str, float]:
    s = sorted(samples_ms)

    def pct(p: float) -> float:
        return s[min(len(s) - 1, int(p / 100 * len(s)))]

    p50 = statistics.median(s)
    verdict = (f"  (goal p50 < {GOAL_P50_MS:g} ms: {'met' if p50 < GOAL_P50_MS else 'NOT met'})"
               if goal else "")
    print(f"{name}: n={len(s)}  p50 {p50:.2f} ms  p90 {pct(90):.2f} ms  p99 {pct(99):.2f} ms  "
          f"max {s[-1]:.2f} ms  mean {statistics.fmean(s):.2f} ms{verdict}", flush=True)
    return {"p50": p50, "p90": pct(90), "p99": pct(99), "max": s[-1]}


# --------------------------------------------------------------------------------------------
# 1. client to client


async def client_to_client(url: str, database: str, n: int) -> list[float]:
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

    b = Connection(url, database, tok_b, on_event=on_b)
    b.subscribe("messages", lambda: ["SELECT * FROM message WHERE id > 0"])
    b.start()
    a = Connection(url, database, tok_a)
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


def daemon_env(root: Path, url: str, database: str, name: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "SPACES_DATA_DIR": str(root / "data"), "SPACES_STATE_DIR": str(root / "state"),
        "SPACES_RUNTIME_DIR": str(root / "run"), "SPACES_CONFIG_DIR": str(root / "config"),
        "SPACES_PROJECT_DIR": str(root), "SPACES_SPACETIME_CONFIG": str(root / "none.toml"),
        "XDG_CONFIG_HOME": str(root / "xdg"), "SPACES_BACKEND": "spacetimedb",
        "SPACETIMEDB_HOST": url, "SPACETIMEDB_DATABASE": database,
        "SPACES_IDENTITY_NAME": name,
    })
    for key in ("SPACES_SOCKET", "SPACETIMEDB_TOKEN", "SPACES_CHANNEL_ID"):
        env.pop(key, None)
    return env


def daemon_to_daemon(url: str, database: str, n: int) -> tuple[list[float], list[float]]:
    """(send -> B's tail, send's round trip through A) samples in ms."""
    roots = [Path(tempfile.mkdtemp(prefix=f"spb-{name}-", dir="/tmp")) for name in "ab"]
    procs = []
    try:
        for root, name in zip(roots, ("bench-a", "bench-b"), strict=True):
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "spacesd", "run"],
                env=daemon_env(root, url, database, name),
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
        round_trips: list[float] = []
        for i in range(n + 20):
            text = f"bench daemon {i} {time.time_ns()}"
            t0 = time.perf_counter()
            res = sender.request("send", {"channel": "general", "content": text})
            answered = time.perf_counter()
            if not isinstance(res, Ok) or res.result.get("queued"):
                raise RuntimeError(f"send failed: {res}")
            with cond:
                if not cond.wait_for(lambda t=text: t in arrived, 10):  # type: ignore[misc]
                    raise RuntimeError("the message did not reach daemon B")
            if i >= 20:
                samples.append((arrived[text] - t0) * 1000)
                round_trips.append((answered - t0) * 1000)
        return samples, round_trips
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


def bench_server(kind: str, url: str, database: str, args: argparse.Namespace
                 ) -> dict[str, dict[str, float]]:
    print(f"-- {kind} server {url}, database {database}", flush=True)
    found = {"client A -> server -> client B": summarize(
        f"[{kind}] client A -> server -> client B",
        asyncio.run(client_to_client(url, database, args.messages)))}
    if not args.skip_daemons:
        to_peer, round_trip = daemon_to_daemon(url, database, args.messages)
        found["daemon A send -> server -> daemon B tail"] = summarize(
            f"[{kind}] daemon A `send` -> server -> daemon B `tail`", to_peer)
        found["reducer call round trip through daemon A"] = summarize(
            f"[{kind}] reducer call (send_message) round trip through daemon A", round_trip,
            goal=False)
    return found


def run_stand_in(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    data = Path(tempfile.mkdtemp(prefix="spb-stdb-", dir="/tmp"))
    proc, url = start_server(data)
    try:
        return bench_server("stand-in", url, "spaces", args)
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(data, ignore_errors=True)


def run_real(args: argparse.Namespace) -> dict[str, dict[str, float]] | None:
    try:
        tools = locate()
    except Missing as missing:
        print(f"-- real server: not measured: {missing}")
        return None
    server = RealServer(tools).start()
    try:
        return bench_server("real", server.url, server.publish(), args)
    finally:
        server.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=300)
    ap.add_argument("--skip-daemons", action="store_true")
    ap.add_argument("--skip-codec", action="store_true")
    ap.add_argument("--servers", default="stand-in,real",
                    help="comma-separated: stand-in, real (default both)")
    args = ap.parse_args()
    kinds = [k.strip() for k in args.servers.split(",") if k.strip()]
    print(f"{args.messages} messages each, one at a time; python {sys.version.split()[0]}")
    results: dict[str, dict[str, dict[str, float]]] = {}
    for kind in kinds:
        found = run_stand_in(args) if kind == "stand-in" else run_real(args)
        if found is not None:
            results[kind] = found
    if len(results) == 2:
        print("\nside by side (p50 / p99, ms; real / stand-in as a ratio):")
        for what, stand in results["stand-in"].items():
            real = results["real"][what]
            print(f"  {what:44s} stand-in {stand['p50']:7.2f} / {stand['p99']:7.2f}   "
                  f"real {real['p50']:7.2f} / {real['p99']:7.2f}   "
                  f"ratio {real['p50'] / stand['p50']:.2f}")
    codec = Path(__file__).resolve().parent / "bench_codec.py"
    if not args.skip_codec and codec.exists():
        print("decode rate (bench/bench_codec.py):", flush=True)
        subprocess.run([sys.executable, str(codec)], check=False)


if __name__ == "__main__":
    main()
