"""Tasks through the daemon, side by side with their goals:

1. claim round trip: `task_claim` of an Open task through the daemon's socket (the reducer's
   durable commit included), embedded backend; goal p50 <= 5 ms. Measured the same way on the
   real SpacetimeDB (../shared/spacetimedb, the module's .wasm published) when it is here;
   Both as the daemon and as an agent session's participant (what `spacesd task claim` in an
   agent's shell does);
2. listing 1,000 open tasks: `task_list state=Open limit=1000 compact=true` through the socket
   (the whole answer: 1,000 task rows), embedded backend; goal <= 5 ms (p50): after a write
   (no listing cache) and repeated (the daemon's listing cache, kept until the next commit).
   Beside it the same listing as objects (one JSON object per task) and in the store alone
   (spacesd.daemon.tasks_view.list_tasks).

    .venv/bin/python bench/bench_tasks.py [--claims 200] [--servers embedded,real]

Private temporary directories; the machine's own Spaces is not touched.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from bench_daemon import DaemonProc  # noqa: E402
from bench_stdb import daemon_env  # noqa: E402
from real_stdb import Missing, RealServer, locate  # noqa: E402

from spacesd.ipc import Client, Ok  # noqa: E402

CLAIM_GOAL_MS = 5.0
LIST_GOAL_MS = 5.0
OPEN_TASKS = 1000


def ok(client: Client, op: str, **args: Any) -> Any:
    res = client.request(op, args)
    if not isinstance(res, Ok):
        raise RuntimeError(f"{op} failed: {res}")
    return res.result


def report(name: str, samples: list[float], goal: float | None) -> float:
    s = sorted(samples)
    p50 = statistics.median(s)
    p99 = s[min(len(s) - 1, int(0.99 * len(s)))]
    verdict = f"  (goal p50 <= {goal:g} ms: {'met' if p50 <= goal else 'NOT met'})" \
        if goal is not None else ""
    print(f"{name}: n={len(s)}  p50 {p50:.2f} ms  p99 {p99:.2f} ms  max {s[-1]:.2f} ms"
          f"{verdict}", flush=True)
    return p50


SESSION = "bench-tasks-session-0001"


def claims(client: Client, n: int, session: bool = False) -> list[float]:
    """`n` claims of fresh Open tasks, as the daemon or (`session`) as an agent session's
    participant (its own identity; on SpacetimeDB its own connection, the answer awaited on
    the daemon's subscription)."""
    extra: dict[str, Any] = {}
    if session:
        ok(client, "session_event", session=SESSION, agent="claude", event="SessionStart",
           cwd=str(ROOT))
        extra["session"] = SESSION
    made = ok(client, "task_create", channel="general", title="bench parent",
              subtasks=[], announce=False)
    ids = [ok(client, "task_create", channel="general", title=f"bench {i}",
              parent=made["task"]["id"], announce=False)["task"]["id"] for i in range(n + 10)]
    samples = []
    for i, task_id in enumerate(ids):
        t0 = time.perf_counter()
        ok(client, "task_claim", task=task_id, ttl=600, **extra)
        if i >= 10:
            samples.append((time.perf_counter() - t0) * 1000)
    return samples


def listing(client: Client, reps: int, compact: bool = False, fresh: bool = True
            ) -> list[float]:
    """`fresh`: a write (a message) before each listing, so that none is answered from the
    daemon's listing cache (what an agent listing after others' writes gets)."""
    have = len(ok(client, "task_list", state="Open", limit=5000))
    for i in range(have, OPEN_TASKS):
        ok(client, "task_create", channel="general", title=f"open task {i}", announce=False)
    samples = []
    for i in range(reps + 5):
        if fresh:
            ok(client, "send", channel="general", content=f"a write before listing {i}")
        t0 = time.perf_counter()
        got = ok(client, "task_list", state="Open", limit=OPEN_TASKS, compact=compact)
        samples.append((time.perf_counter() - t0) * 1000)
        assert len(got["rows"] if compact else got) == OPEN_TASKS
    return samples[5:]


def in_store(root: Path, reps: int) -> list[float]:
    from spacesd.daemon import tasks_view
    from spacesd.model import now_micros
    from spacesd.store import Store

    store = Store(str(root / "data" / "spaces.sqlite"))
    samples = []
    for _ in range(reps):
        t0 = time.perf_counter()
        rows = tasks_view.list_tasks(store, now_micros(), state="Open", limit=OPEN_TASKS)
        samples.append((time.perf_counter() - t0) * 1000)
        assert len(rows) == OPEN_TASKS
    store.close()
    return samples


def run_embedded(args: argparse.Namespace) -> None:
    root = Path(tempfile.mkdtemp(prefix="spb-tasks-", dir="/tmp"))
    daemon = DaemonProc(root)
    try:
        daemon.start()
        with Client(daemon.socket, timeout=30) as client:
            report("[embedded] task_claim round trip through the daemon",
                   claims(client, args.claims), CLAIM_GOAL_MS)
            report("[embedded] task_claim round trip as an agent session",
                   claims(client, args.claims, session=True), CLAIM_GOAL_MS)
            # the claimed ones are not Open: list 1,000 Open ones besides them
            report(f"[embedded] task_list of {OPEN_TASKS} open tasks through the daemon, "
                   "compact, after a write", listing(client, args.reps, compact=True),
                   LIST_GOAL_MS)
            report(f"[embedded] task_list of {OPEN_TASKS} open tasks through the daemon, "
                   "compact, repeated (cached)",
                   listing(client, args.reps, compact=True, fresh=False), LIST_GOAL_MS)
            report(f"[embedded] task_list of {OPEN_TASKS} open tasks through the daemon, "
                   "objects, after a write", listing(client, args.reps), None)
        report("[embedded] the same listing in the store (tasks_view.list_tasks)",
               in_store(root, args.reps), None)
    finally:
        daemon.stop()
        shutil.rmtree(root, ignore_errors=True)


def run_real(args: argparse.Namespace) -> None:
    try:
        tools = locate()
    except Missing as missing:
        print(f"[real] not measured: {missing}")
        return
    server = RealServer(tools).start()
    root = Path(tempfile.mkdtemp(prefix="spb-tasks-real-", dir="/tmp"))
    proc = None
    try:
        database = server.publish()
        proc = subprocess.Popen([sys.executable, "-m", "spacesd", "run"],
                                env=daemon_env(root, server.url, database, "bench-tasks"),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=root)
        sock = root / "run" / "spacesd.sock"
        deadline = time.monotonic() + 60
        while True:
            with Client(sock, timeout=1) as c:
                res = c.request("channels", {})
                if isinstance(res, Ok) and res.result:
                    break
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the daemon did not sync with the real server")
            time.sleep(0.1)
        with Client(sock, timeout=30) as client:
            report("[real SpacetimeDB] task_claim round trip through the daemon",
                   claims(client, args.claims), None)
            report("[real SpacetimeDB] task_claim round trip as an agent session",
                   claims(client, args.claims, session=True), None)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
        server.close()
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--claims", type=int, default=200)
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--servers", default="embedded,real")
    args = ap.parse_args()
    for kind in args.servers.split(","):
        if kind == "embedded":
            run_embedded(args)
        else:
            run_real(args)


if __name__ == "__main__":
    main()
