"""Exactly once, measured: messages doubled and lost under the failures issue 11 names.

    .venv/bin/python bench/bench_exactly_once.py [--hooks 200] [--clients 50] [--seconds 60]
                                                 [--kills 20] [--stop-hooks 60] [--json F]

1. load: `--hooks` workers each running the real Stop hook (a subprocess, a new session each
   time) and `--clients` CLI clients (the CLI's request: one idempotency key per send, asked
   once more with the same key when the answer is lost) against one daemon for `--seconds`;
   then the outbox drains. Every hook run and every acknowledged send must be exactly one
   message; a send answered "queued" while the backend is up is counted too (goal 0);
2. kill -9 during outbox delivery: `--kills` rounds, each adding entries to the outbox
   (hook summaries and CLI sends with keys, and entries from before keys without), starting
   the daemon and SIGKILLing it a random moment into the delivery; then a clean start drains
   what is left. Every entry must be exactly one message;
3. SIGSTOP: `--stop-hooks` concurrent hooks while the daemon is stopped (SIGSTOP) for 3 s and
   continued: the hooks give up after their 0.8 s, queue to the outbox, and the daemon then
   reads their requests too. Every hook run must be exactly one message.

Goal for each: 0 doubled, 0 lost. Everything runs in private temporary directories on a Unix
socket, bounded in count and time. tests/test_exactly_once.py runs short versions in CI.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_daemon import DaemonProc  # noqa: E402

from spacesd import idem, outbox  # noqa: E402
from spacesd.ipc import Client, Ok  # noqa: E402
from spacesd.model import MessageType  # noqa: E402
from spacesd.store import Store  # noqa: E402

SESSION_HOOK = REPO / "hooks" / "spaces-session-hook"


# --------------------------------------------------------------------------------------------
# Counting


def _counts(root: Path) -> Counter[str]:
    """How many messages carry each tag: a summary's session_id, a send's content."""
    found: Counter[str] = Counter()
    with Store(root / "data" / "spaces.sqlite") as store:
        for msg in store.rows("message"):
            if msg.message_type == MessageType.AgentEvent:
                try:
                    found[str(json.loads(msg.content).get("session_id"))] += 1
                except (ValueError, AttributeError):
                    continue
            elif msg.content.startswith("cli-"):
                found[msg.content] += 1
    return found


def _score(name: str, expected: set[str], maybe: set[str], found: Counter[str],
           **extra: Any) -> dict[str, Any]:
    """`expected` must appear once each; `maybe` (writes whose answer never came) at most once."""
    doubled = sorted(t for t, n in found.items() if n > 1 and (t in expected or t in maybe))
    lost = sorted(t for t in expected if found[t] == 0)
    return {"case": name, "expected": len(expected), "unacknowledged": len(maybe),
            "messages": sum(found[t] for t in expected | maybe), "doubled": len(doubled),
            "lost": len(lost), "examples": (doubled + lost)[:5], **extra}


def _drain(daemon: DaemonProc, timeout: float = 120.0) -> None:
    out = daemon.root / "state" / "outbox"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and outbox.depth(out):
        time.sleep(0.1)
    if outbox.depth(out):
        raise RuntimeError(f"the outbox did not drain: {outbox.depth(out)} entries left")


# --------------------------------------------------------------------------------------------
# Workers


def run_hook(env: dict[str, str], session: str, cwd: str) -> int:
    """The real Stop hook, once, for a new session (posting: no cooldown, nothing to skip)."""
    data = {"session_id": session, "cwd": cwd, "hook_event_name": "Stop",
            "last_assistant_message": f"finished {session}"}
    p = subprocess.run([sys.executable, str(SESSION_HOOK)], input=json.dumps(data).encode(),
                       env=env, capture_output=True, timeout=60)
    return p.returncode


def cli_send(sock: Path, content: str) -> str:
    """What `spacesd send` does: a key per invocation, one more try on a lost answer.
    Returns "sent", "queued" or "lost-answer" (no answer either time: may or may not exist)."""
    args = {"channel": "general", "content": content, "key": idem.new_key("send")}
    for attempt in range(2):
        with Client(sock, timeout=10.0) as client:
            res = client.request("send", args)
        if isinstance(res, Ok):
            return "queued" if res.result.get("queued") else "sent"
        if res.code not in ("timeout", "disconnected"):
            raise RuntimeError(f"send refused: {res.code}: {res.message}")
        if attempt == 0:
            time.sleep(0.2)
    return "lost-answer"


class _Load:
    """Hook workers and CLI clients until `stop`, recording what each did."""

    def __init__(self, daemon: DaemonProc, prefix: str) -> None:
        self.daemon = daemon
        self.prefix = prefix
        self.lock = threading.Lock()
        self.hooks: set[str] = set()
        self.hook_failures = 0
        self.sent: set[str] = set()
        self.unanswered: set[str] = set()
        self.queued = 0
        self.stop_at = 0.0

    def hook_worker(self, w: int, runs: int | None = None) -> None:
        n = 0
        while n < runs if runs is not None else time.monotonic() < self.stop_at:
            session = f"{self.prefix}h{w}-{n}"
            n += 1
            code = run_hook(self.daemon.env, session, str(self.daemon.root))
            with self.lock:
                self.hooks.add(session)
                self.hook_failures += code != 0

    def cli_worker(self, w: int) -> None:
        n = 0
        while time.monotonic() < self.stop_at:
            content = f"cli-{self.prefix}{w}-{n}"
            n += 1
            outcome = cli_send(self.daemon.socket, content)
            with self.lock:
                if outcome == "lost-answer":
                    self.unanswered.add(content)
                else:
                    self.sent.add(content)
                    self.queued += outcome == "queued"


def _threads(targets: list[tuple[Any, tuple[Any, ...]]]) -> list[threading.Thread]:
    ts = [threading.Thread(target=f, args=a, daemon=True) for f, a in targets]
    for t in ts:
        t.start()
    return ts


# --------------------------------------------------------------------------------------------
# The three cases


def case_load(root: Path, hooks: int, clients: int, seconds: float) -> dict[str, Any]:
    daemon = DaemonProc(root)
    daemon.start()
    load = _Load(daemon, "L")
    # The clock starts once every worker runs (starting 200 threads that each spawn
    # processes takes a while on a loaded machine); the CLI clients start first.
    load.stop_at = float("inf")
    t0 = time.monotonic()
    ts = _threads([(load.cli_worker, (w,)) for w in range(clients)]
                  + [(load.hook_worker, (w,)) for w in range(hooks)])
    load.stop_at = time.monotonic() + seconds
    for t in ts:
        t.join()
    elapsed = time.monotonic() - t0
    try:
        _drain(daemon)
    finally:
        daemon.stop()
    return _score(f"{hooks} hooks + {clients} CLI clients, {seconds:g} s", load.hooks | load.sent,
                  load.unanswered, _counts(root), hook_runs=len(load.hooks),
                  sends=len(load.sent), queued_while_up=load.queued,
                  hook_exit_nonzero=load.hook_failures, seconds=round(elapsed, 1))


def _fill_outbox(out: Path, r: int, entries: int) -> set[str]:
    """Entries as the hooks and the daemon write them: summaries and sends with their keys,
    and a few of each without (written before keys existed)."""
    tags = set()
    for i in range(entries):
        tag = f"k{r}-{i}"
        if i % 2 == 0:
            args: dict[str, Any] = {"summary": {"session_id": tag, "cwd": "/p", "task": tag}}
            if i % 10:
                args["key"] = idem.summary_key(tag, "1.x")
            outbox.write({"id": 1, "op": "post_summary", "args": args}, directory=out)
        else:
            tag = f"cli-{tag}"
            args = {"channel": "general", "content": tag}
            if i % 10 != 1:
                args["key"] = idem.new_key("send")
            outbox.write({"id": 1, "op": "send", "args": args}, directory=out)
        tags.add(tag)
    return tags


def case_kills(root: Path, kills: int, entries: int, seed: int = 11) -> dict[str, Any]:
    rng = random.Random(seed)
    out = root / "state" / "outbox"
    daemon = DaemonProc(root)
    daemon.start()  # once, to create the database and identities
    daemon.stop()
    expected: set[str] = set()
    mid_delivery = 0
    for r in range(kills):
        expected |= _fill_outbox(out, r, entries)
        before = outbox.depth(out)
        daemon.start(wait=False)  # not waiting for its socket: delivery may be over by then
        # kill once delivery has gone a random part of the way, a random moment later: so
        # every kill lands during delivery, at any point of an entry's commit and removal
        target = rng.randint(1, before - 1)
        deadline = time.monotonic() + 30
        while outbox.depth(out) > target and time.monotonic() < deadline:
            time.sleep(0.0005)
        time.sleep(rng.uniform(0.0, 0.004))
        assert daemon.proc is not None
        daemon.proc.send_signal(signal.SIGKILL)
        daemon.proc.wait(30)
        daemon.proc = None
        (root / "run" / "spacesd.sock").unlink(missing_ok=True)
        after = outbox.depth(out)
        mid_delivery += 0 < after < before  # some delivered, some not: killed mid-delivery
    daemon.start()
    try:
        _drain(daemon)
    finally:
        daemon.stop()
    bad = [p.name for p in out.iterdir() if p.name.endswith(".bad")]
    return _score(f"kill -9 during outbox delivery, {kills} kills", expected, set(),
                  _counts(root), kills=kills, kills_mid_delivery=mid_delivery,
                  set_aside=len(bad))


def case_sigstop(root: Path, hooks: int, stop_s: float = 3.0) -> dict[str, Any]:
    daemon = DaemonProc(root)
    daemon.start()
    assert daemon.proc is not None
    load = _Load(daemon, "S")
    # Half the hooks start before the stop, half while the daemon is stopped: those connect
    # (the kernel's backlog accepts them), send, and give up after their budget, so some are
    # always both queued by the hook and read by the daemon once it resumes.
    ts = _threads([(load.hook_worker, (w, 1)) for w in range(hooks // 2)])
    time.sleep(0.3)
    daemon.proc.send_signal(signal.SIGSTOP)
    ts += _threads([(load.hook_worker, (w, 1)) for w in range(hooks // 2, hooks)])
    # Stopped for stop_s at least, and on a loaded machine until some hook has given up and
    # queued (the hooks' Python starts can take longer than stop_s), 30 s at most.
    time.sleep(stop_s)
    deadline = time.monotonic() + 30
    while (outbox.depth(root / "state" / "outbox") == 0 and time.monotonic() < deadline
           and any(t.is_alive() for t in ts)):
        time.sleep(0.1)
    queued = outbox.depth(root / "state" / "outbox")  # hooks that gave up (it cannot deliver)
    daemon.proc.send_signal(signal.SIGCONT)
    for t in ts:
        t.join()
    try:
        _drain(daemon)
    finally:
        daemon.stop()
    return _score(f"SIGSTOP {stop_s:g} s while {hooks} hooks run", load.hooks, set(),
                  _counts(root), hook_runs=len(load.hooks), queued_by_hooks=queued,
                  hook_exit_nonzero=load.hook_failures)


# --------------------------------------------------------------------------------------------


def run_all(hooks: int, clients: int, seconds: float, kills: int, entries: int,
            stop_hooks: int) -> list[dict[str, Any]]:
    cases: list[tuple[str, Callable[[Path], dict[str, Any]]]] = [
        ("load", lambda r: case_load(r, hooks, clients, seconds)),
        ("kills", lambda r: case_kills(r, kills, entries)),
        ("sigstop", lambda r: case_sigstop(r, stop_hooks)),
    ]
    results = []
    for name, fn in cases:
        root = Path(tempfile.mkdtemp(prefix=f"spx-{name}-", dir="/tmp"))
        try:
            results.append(fn(root))
        finally:
            shutil.rmtree(root, ignore_errors=True)
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--hooks", type=int, default=200)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--entries", type=int, default=60, help="outbox entries added per kill")
    ap.add_argument("--stop-hooks", type=int, default=60)
    ap.add_argument("--json", help="write the figures here as JSON")
    a = ap.parse_args(argv)
    results = run_all(a.hooks, a.clients, a.seconds, a.kills, a.entries, a.stop_hooks)
    failed = False
    for r in results:
        ok = r["doubled"] == 0 and r["lost"] == 0 and r.get("queued_while_up", 0) == 0
        failed |= not ok
        extra = ", ".join(f"{k} {v}" for k, v in r.items()
                          if k not in ("case", "doubled", "lost", "examples"))
        print(f"{r['case']}: doubled {r['doubled']}, lost {r['lost']} (goal 0, 0) "
              f"{'ok' if ok else 'FAIL'}; {extra}"
              + (f"; e.g. {r['examples']}" if r["examples"] else ""), flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main())
