"""Benchmarks of the daemon on the embedded backend, side by side with their goals.

    .venv/bin/python bench/bench_daemon.py [--seconds 4] [--clients 50] [--rows 1000000]

1. request rate: 50 concurrent clients (in several processes, threads inside) sending `ping`
   and `messages` requests over the socket; goal >= 5,000 requests/s with p99 < 10 ms;
2. send_message through the daemon: 50 concurrent clients sending messages, each acknowledged
   only once its transaction is durable (WAL, synchronous=FULL, group commit); goal >= 2,000
   messages/s;
3. recent-messages latency with 1,000,000 stored messages (bulk-loaded straight into the
   store first); goal < 2 ms, through the daemon (`messages`, 20 rows) and in the store;

The hooks' wall time against a bare interpreter is bench/bench_hooks.py's (it starts its own
daemon); bench/run_all.py runs both.

Everything runs in private temporary directories; the machine's own Spaces is not touched.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from spacesd.ipc import Client, Ok  # noqa: E402


def _env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "SPACES_DATA_DIR": str(root / "data"),
        "SPACES_STATE_DIR": str(root / "state"),
        "SPACES_RUNTIME_DIR": str(root / "run"),
        "SPACES_CONFIG_DIR": str(root / "config"),
        "SPACES_BACKEND": "embedded",
        "SPACES_PROJECT_DIR": str(root),
        "SPACES_SPACETIME_CONFIG": str(root / "no-cli.toml"),
        "SPACES_COOLDOWN": "0",
    })
    for key in ("SPACES_SOCKET", "SPACES_CHANNEL_ID", "SPACETIMEDB_HOST", "SPACETIMEDB_DATABASE",
                "SPACETIMEDB_TOKEN"):
        env.pop(key, None)
    return env


class DaemonProc:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = _env(root)
        self.socket = root / "run" / "spacesd.sock"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, wait: bool = True) -> None:
        """Start `spacesd run`; with `wait`, return once it answers a ping."""
        log = (self.root / "spacesd.log").open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "spacesd", "run"], env=self.env,
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                     cwd=self.root)
        log.close()
        if not wait:
            return
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with Client(self.socket, timeout=0.5) as c:
                if isinstance(c.request("ping"), Ok):
                    return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("spacesd did not start:\n" + (self.root / "spacesd.log").read_text())

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(30)
        self.proc = None


# --------------------------------------------------------------------------------------------
# Load generation: processes x threads, each thread one connection


def _worker_thread(sock: str, op: str, args: dict[str, Any], start: float, stop: float,
                   out: list[float], errors: list[str], pace: float) -> None:
    c = Client(sock, timeout=10)
    c.request("ping")  # connect before the clock starts
    while time.time() < start:
        time.sleep(0.0005)
    lat = out
    i = 0
    t_next = time.perf_counter()
    while True:
        if pace:  # paced: one request every `pace` seconds (an offered load, not a flood)
            t_next += pace
            delay = t_next - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        t0 = time.perf_counter()
        if time.time() >= stop:
            break
        a = args
        if op == "send":
            a = dict(args, content=f"{args['content']} {i}")
            i += 1
        r = c.request(op, a)
        lat.append(time.perf_counter() - t0)
        if not isinstance(r, Ok):
            errors.append(f"{r.code}: {r.message}")
            if len(errors) > 20:
                break
    c.close()


def _worker_process(sock: str, op: str, args: dict[str, Any], threads: int, start: float,
                    stop: float, q: Any, pace: float) -> None:
    results: list[list[float]] = [[] for _ in range(threads)]
    errors: list[str] = []
    ts = [threading.Thread(target=_worker_thread,
                           args=(sock, op, args, start, stop, results[i], errors, pace))
          for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    q.put(([x for r in results for x in r], errors[:5]))


def load(sock: Path, op: str, args: dict[str, Any], clients: int, seconds: float,
         processes: int = 3, rate: float = 0.0) -> dict[str, float]:
    """`clients` connections as fast as they can go (rate 0), or offering `rate` requests/s
    in all, paced evenly over the clients."""
    pace = clients / rate if rate else 0.0
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    per = [clients // processes + (1 if i < clients % processes else 0) for i in range(processes)]
    start = time.time() + 1.0 + 0.02 * clients
    stop = start + seconds
    procs = [ctx.Process(target=_worker_process,
                         args=(str(sock), op, args, n, start, stop, q, pace))
             for n in per if n]
    for p in procs:
        p.start()
    lat: list[float] = []
    errors: list[str] = []
    for _ in procs:
        got, errs = q.get()
        lat.extend(got)
        errors.extend(errs)
    for p in procs:
        p.join()
    if errors:
        print(f"    errors: {errors[:3]}")
    lat.sort()
    n = len(lat)
    return {
        "requests": n,
        "rate": n / seconds,
        "p50_ms": lat[n // 2] * 1000 if n else 0.0,
        "p99_ms": lat[min(n - 1, int(n * 0.99))] * 1000 if n else 0.0,
        "errors": len(errors),
    }


# --------------------------------------------------------------------------------------------
# Bulk load straight into the store


def bulk_load(db: Path, rows: int) -> tuple[int, float]:
    from spacesd.daemon.identity import load_identities
    from spacesd.store import Store, identity_to_db

    t0 = time.perf_counter()
    store = Store(db)
    general = next(c for c in store.channels() if c.name == "general")
    agent = load_identities(db.parent)["agent"]
    sender = identity_to_db(agent)
    conn = store.conn
    now = time.time_ns() // 1000 - rows * 1000
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    batch = 50_000
    for base in range(0, rows, batch):
        conn.executemany(
            "INSERT INTO message (channel_id, thread_id, sender, content, message_type,"
            " created_at, edited_at, reply_to_id) VALUES (?, NULL, ?, ?, 0, ?, NULL, NULL)",
            ((general.id, sender, f"bulk message {i}", now + i * 1000)
             for i in range(base, min(rows, base + batch))))
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    return general.id, time.perf_counter() - t0


def store_latency(db: Path, channel_id: int, n: int = 2000) -> dict[str, float]:
    from spacesd.store import Store

    store = Store(db)
    top = store.last_message_id()
    lat = []
    for i in range(n):
        before = None if i % 2 == 0 else top - (i * 397) % max(top, 1)
        t0 = time.perf_counter()
        got = store.recent_messages(channel_id, 20, before_id=before)
        lat.append(time.perf_counter() - t0)
        assert got
    store.close()
    lat.sort()
    return {"p50_ms": lat[n // 2] * 1000, "p99_ms": lat[int(n * 0.99)] * 1000}


def daemon_latency(sock: Path, channel_id: int, n: int = 2000) -> dict[str, float]:
    lat = []
    with Client(sock, timeout=10) as c:
        c.request("ping")
        for i in range(n):
            args: dict[str, Any] = {"channel": channel_id, "limit": 20}
            if i % 2:
                args["before"] = 1 + (i * 397) % 1_000_000
            t0 = time.perf_counter()
            r = c.request("messages", args)
            lat.append(time.perf_counter() - t0)
            assert isinstance(r, Ok), r
    lat.sort()
    return {"p50_ms": lat[n // 2] * 1000, "p99_ms": lat[int(n * 0.99)] * 1000}


# --------------------------------------------------------------------------------------------
# Hooks


# --------------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--processes", type=int, default=3)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    opts = ap.parse_args()

    root = Path(tempfile.mkdtemp(prefix="spb-", dir="/tmp"))
    daemon = DaemonProc(root)
    t_all = time.perf_counter()
    results: list[tuple[str, str, str, str]] = []
    try:
        daemon.start()
        print(f"spacesd bench: {opts.clients} clients in {opts.processes} processes, "
              f"{opts.seconds:g} s per run, {os.cpu_count()} CPUs; data in {root}")

        r = load(daemon.socket, "ping", {}, opts.clients, opts.seconds, opts.processes)
        print(f"  ping:       {r['rate']:8.0f} req/s  p50 {r['p50_ms']:.2f} ms  "
              f"p99 {r['p99_ms']:.2f} ms  (flat out)")
        results.append(("request rate (ping, 50 clients, flat out)",
                        f"{r['rate']:.0f} req/s, p99 {r['p99_ms']:.2f} ms",
                        ">= 5,000 req/s", verdict(r["rate"] >= 5000)))
        r = load(daemon.socket, "ping", {}, opts.clients, opts.seconds, opts.processes,
                 rate=5000)
        print(f"  ping:       {r['rate']:8.0f} req/s  p50 {r['p50_ms']:.2f} ms  "
              f"p99 {r['p99_ms']:.2f} ms  (5,000 req/s offered)")
        results.append(("latency at 5,000 req/s (ping, 50 clients)",
                        f"{r['rate']:.0f} req/s, p99 {r['p99_ms']:.2f} ms",
                        ">= 5,000 req/s, p99 < 10 ms",
                        verdict(r["rate"] >= 4900 and r["p99_ms"] < 10)))
        r = load(daemon.socket, "messages", {"channel": "general", "limit": 20}, opts.clients,
                 opts.seconds, opts.processes)
        print(f"  messages:   {r['rate']:8.0f} req/s  p50 {r['p50_ms']:.2f} ms  "
              f"p99 {r['p99_ms']:.2f} ms")
        results.append(("request rate (messages, 50 clients)",
                        f"{r['rate']:.0f} req/s, p99 {r['p99_ms']:.2f} ms",
                        ">= 5,000 req/s, p99 < 10 ms",
                        verdict(r["rate"] >= 5000 and r["p99_ms"] < 10)))

        before = _count(daemon.socket)
        r = load(daemon.socket, "send", {"channel": "general", "content": "bench"},
                 opts.clients, opts.seconds, opts.processes)
        stored = _count(daemon.socket) - before
        print(f"  send:       {r['rate']:8.0f} msg/s  p50 {r['p50_ms']:.2f} ms  "
              f"p99 {r['p99_ms']:.2f} ms  (acknowledged {r['requests']}, stored {stored})")
        st = _status(daemon.socket)
        print(f"              {st.get('commits')} commits in {st.get('batches')} group commits "
              "(WAL, synchronous=FULL)")
        results.append(("send_message via daemon, durable",
                        f"{r['rate']:.0f} msg/s, p99 {r['p99_ms']:.2f} ms",
                        ">= 2,000 msg/s", verdict(r["rate"] >= 2000)))

        daemon.stop()

        db = root / "data" / "spaces.sqlite"
        channel_id, secs = bulk_load(db, opts.rows)
        print(f"  bulk-loaded {opts.rows:,} messages in {secs:.1f} s")
        s = store_latency(db, channel_id)
        daemon.start()
        d = daemon_latency(daemon.socket, channel_id)
        total = _status(daemon.socket)["counts"]["message"]
        print(f"  recent 20 of {total:,}: store p50 {s['p50_ms']:.3f} ms p99 "
              f"{s['p99_ms']:.3f} ms; via daemon p50 {d['p50_ms']:.3f} ms "
              f"p99 {d['p99_ms']:.3f} ms")
        results.append((f"recent messages at {total:,} rows (store)",
                        f"p50 {s['p50_ms']:.3f} ms, p99 {s['p99_ms']:.3f} ms", "< 2 ms (p50)",
                        verdict(s["p50_ms"] < 2)))
        results.append((f"recent messages at {total:,} rows (daemon)",
                        f"p50 {d['p50_ms']:.3f} ms, p99 {d['p99_ms']:.3f} ms", "< 2 ms (p50)",
                        verdict(d["p50_ms"] < 2)))
        daemon.stop()
    finally:
        daemon.stop()
        if not opts.keep:
            shutil.rmtree(root, ignore_errors=True)

    print()
    w = max(len(r[0]) for r in results)
    print(f"{'benchmark':<{w}}  {'figure':<34} {'goal':<28} verdict")
    for name, fig, goal, ok in results:
        print(f"{name:<{w}}  {fig:<34} {goal:<28} {ok}")
    print(f"\n(total bench time {time.perf_counter() - t_all:.0f} s)")
    return 0


def _status(sock: Path) -> dict[str, Any]:
    with Client(sock, timeout=10) as c:
        r = c.request("status")
    assert isinstance(r, Ok), r
    result: dict[str, Any] = r.result
    return result


def _count(sock: Path) -> int:
    return int(_status(sock)["counts"]["message"])


if __name__ == "__main__":
    sys.exit(main())
