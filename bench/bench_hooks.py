"""Hook wall time against a bare interpreter, side by side in one run.

    .venv/bin/python bench/bench_hooks.py [--runs 30] [--socket PATH] [--post] [--json FILE]

Each case is a fresh subprocess of the same Python (the venv's, by default this one), timed
from spawn to exit; runs are interleaved round-robin so drift hits every case alike; the
table shows median and p90 wall milliseconds and the median's ratio to the baseline
`python -c "import socket, json, os"` (goal for the hooks with the daemon up: at most 1.5x).

Cases:
- baseline: `python -c "import socket, json, os"`
- spaces-context-hook: SessionStart, asks the daemon for `context` and prints it
- spaces-session-hook, cooldown: a Stop inside the session's cooldown (the common per-turn
  case: no transcript read, no socket)
- spaces-session-hook, post: SPACES_COOLDOWN=0 and a new session id each run, so every run
  parses the fixture transcript, redacts and posts `post_summary`
- the same two session cases and the context case through the installed console scripts, if
  present (they add pip's wrapper)

Daemon: `--socket PATH` (a running daemon), else this script starts a private `spacesd run`
(embedded backend) in a temporary directory and measures against it. Against a daemon of
yours the posting case is skipped unless `--post` is given (it would post N summaries to your
#agent-logs). Hook state (cooldown, outbox, log) goes to a temporary SPACES_STATE_DIR.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_daemon import DaemonProc  # noqa: E402

from spacesd import ipc  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "claude-code"  # Claude Code's samples

# --------------------------------------------------------------------------------------------
# Measuring


class Case:
    def __init__(self, name: str, argv: list[str], stdin: Any, env: dict[str, str],
                 check: str | None = None) -> None:
        self.name = name
        self.argv = argv
        self.stdin = stdin  # bytes, or a callable(run_index) -> bytes
        self.env = env
        self.check = check
        self.times: list[float] = []

    def once(self, i: int) -> None:
        data = self.stdin(i) if callable(self.stdin) else self.stdin
        t0 = time.perf_counter()
        p = subprocess.run(self.argv, input=data, capture_output=True, env=self.env)
        dt = time.perf_counter() - t0
        if p.returncode != 0:
            raise SystemExit(f"bench: {self.name} exited {p.returncode}: {p.stderr.decode()}")
        if self.check == "stdout" and not p.stdout:
            raise SystemExit(f"bench: {self.name} printed nothing (is the daemon answering?)")
        self.times.append(dt)


def pctl(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--socket", help="a running daemon's socket (default: start a private one)")
    ap.add_argument("--post", action="store_true",
                    help="also time posting summaries against a real daemon")
    ap.add_argument("--python", default=sys.executable, help="interpreter for every case")
    ap.add_argument("--json", help="write the figures here as JSON")
    a = ap.parse_args(argv)

    py = a.python
    if not (FIXTURES / "stop.json").is_file():
        raise SystemExit(f"bench: no Claude Code fixtures at {FIXTURES}")
    tmp = Path(tempfile.mkdtemp(prefix="spb-", dir="/tmp"))
    private: DaemonProc | None = None
    try:
        if a.socket:
            sock = a.socket
            if not isinstance(ipc.request("ping", path=sock, timeout=1.0), ipc.Ok):
                raise SystemExit(f"bench: nothing answers ping at {a.socket}")
            daemon_note = f"your daemon at {sock}"
            mine = False
        else:
            (tmp / "daemon").mkdir()
            private = DaemonProc(tmp / "daemon")
            private.start()
            sock = str(private.socket)
            daemon_note = f"a private spacesd (embedded) at {sock}"
            mine = True

        env = dict(os.environ)
        for k in list(env):
            if k.startswith("SPACES_"):
                del env[k]
        # Bytecode as an installed package has it (pip compiles at install time): with
        # PYTHONDONTWRITEBYTECODE every run would recompile spacesd from source.
        bytecode_note = ""
        if env.pop("PYTHONDONTWRITEBYTECODE", None) is not None:
            bytecode_note = ("PYTHONDONTWRITEBYTECODE was set: unset for the runs, so the "
                             "warm-up writes .pyc files as an install would")
        env.update({"SPACES_SOCKET": sock, "SPACES_STATE_DIR": str(tmp / "state")})

        transcript = tmp / "transcript.jsonl"
        shutil.copy(FIXTURES / "transcript.jsonl", transcript)
        stop = json.loads((FIXTURES / "stop.json").read_text())
        stop["transcript_path"] = str(transcript)
        start = json.loads((FIXTURES / "session-start.json").read_text())
        tag = f"{os.getpid()}-{int(time.time())}"

        def start_b(i: int) -> bytes:
            # A new session each run: the daemon never hands a session the same context twice.
            return json.dumps(dict(start, session_id=f"bench-context-{tag}-{i}")).encode()

        cool_stop = dict(stop, session_id=f"bench-cooldown-{tag}")
        cool_b = json.dumps(cool_stop).encode()

        def post_stdin(i: int) -> bytes:
            return json.dumps(dict(stop, session_id=f"bench-post-{tag}-{i}")).encode()

        env_post = dict(env, SPACES_COOLDOWN="0")
        session_script = str(ROOT / "hooks" / "spaces-session-hook")
        context_script = str(ROOT / "hooks" / "spaces-context-hook")
        cases = [
            Case('python -c "import socket, json, os"',
                 [py, "-c", "import socket, json, os"], b"", env),
            Case("spaces-context-hook (context from daemon)", [py, context_script], start_b,
                 env, check="stdout"),
            Case("spaces-session-hook (in cooldown)", [py, session_script], cool_b, env),
        ]
        do_post = a.post or mine
        if do_post:
            cases.append(Case("spaces-session-hook (post_summary, cooldown 0)",
                              [py, session_script], post_stdin, env_post))
        bindir = Path(py).parent
        if (bindir / "spaces-context-hook").exists():
            cases.append(Case("  console script spaces-context-hook",
                              [str(bindir / "spaces-context-hook")], start_b, env,
                              check="stdout"))
            cases.append(Case("  console script spaces-session-hook (in cooldown)",
                              [str(bindir / "spaces-session-hook")], cool_b, env))
            if do_post:
                cases.append(Case("  console script spaces-session-hook (post)",
                                  [str(bindir / "spaces-session-hook")], post_stdin,
                                  env_post))

        # Prime: the cooldown session posts once, so its later runs are in cooldown.
        subprocess.run([py, session_script], input=cool_b, env=env, check=True)
        for i in range(a.warmup):
            for c in cases:
                c.once(-1 - i)
        for c in cases:
            c.times.clear()
        for i in range(a.runs):
            for c in cases:
                c.once(i)

        base = statistics.median(cases[0].times)
        ver = subprocess.run([py, "-c", "import sys; print(sys.version.split()[0])"],
                             capture_output=True, text=True).stdout.strip()
        print(f"python: {py} ({ver})")
        print(f"daemon: {daemon_note}")
        if not do_post:
            print("        (posting case skipped against a real daemon; --post to include it)")
        if bytecode_note:
            print(f"note:   {bytecode_note}")
        print(f"runs:   {a.runs} per case after {a.warmup} warm-up, interleaved; wall ms "
              f"from spawn to exit")
        w = max(len(c.name) for c in cases)
        print(f"\n{'case':<{w}}  {'median':>7}  {'p90':>7}  {'ratio':>6}")
        rows = []
        for c in cases:
            med = statistics.median(c.times)
            p90 = pctl(c.times, 0.9)
            ratio = med / base
            rows.append({"case": c.name.strip(), "median_ms": round(med * 1e3, 2),
                         "p90_ms": round(p90 * 1e3, 2), "ratio": round(ratio, 2)})
            print(f"{c.name:<{w}}  {med * 1e3:7.1f}  {p90 * 1e3:7.1f}  {ratio:5.2f}x")
        print("\ngoal: hooks at most 1.5x the baseline with the daemon up")
        if a.json:
            Path(a.json).write_text(json.dumps({
                "python": py, "version": ver, "daemon": daemon_note, "runs": a.runs,
                "cases": rows}, indent=2))
        return 0
    finally:
        if private is not None:
            private.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
