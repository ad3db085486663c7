"""Every Spaces benchmark, one after another in one run, each printing its figures beside its
goal:

- bench_hooks.py: each hook's wall time against `python -c "import socket, json, os"` with a
  daemon up (goal: at most 1.5x);
- bench_daemon.py: request rate and p99 with 50 concurrent clients (goal: >= 5,000 req/s,
  p99 < 10 ms), durable send_message through the daemon (goal: >= 2,000 msg/s), recent
  messages at 1,000,000 stored (goal: < 2 ms);
- bench_live_hooks.py: the per-tool-call live hook with nothing pending (C fast path) against hcom
  0.7.31's bound `hcom post` and the Python floor (goal: <= 10 ms and <= hcom), and with
  something pending (goal: <= 1.5x the floor); a mention committed -> in the receiving hook's
  output, embedded and through the real SpacetimeDB (goal p50 <= 50 ms / <= 100 ms);
- bench_codec.py: decode rate of a TransactionUpdate with 10,000 message rows (goal: >= 200,000
  rows/s);
- bench_tasks.py: a task claim's round trip through the daemon (goal p50 <= 5 ms embedded; measured
  on the real SpacetimeDB too) and listing 1,000 open tasks (goal <= 5 ms);
- bench_stdb.py: post-to-peer latency A -> server -> B on loopback, on the stand-in and the real
  SpacetimeDB side by side (goal: p50 < 20 ms on the real one), and a reducer call's round trip
  through the daemon on each;
- bench_web.py: the web view in a real headless Chromium: first paint of a channel of
  1,000,000 stored messages (goal: < 300 ms) and commit -> on screen (goal: p50 < 100 ms).
- bench_redact.py: the daemon's redaction gate on a 16 KB summary (goal: median < 2 ms), the
  hook's own pass, and the catch rates on tests/corpus (goal: >= 95% in every context, < 1%
  of ordinary lines touched);
- bench_exactly_once.py: messages doubled and lost with 200 concurrent hooks + 50 CLI clients
  for 60 s, kill -9 during outbox delivery (20 kills), a daemon stopped with SIGSTOP while
  hooks run (goal: 0 doubled, 0 lost);
- bench_limits.py: another client's ping while one pipelines 20,000 requests (goal: p99 < 10
  ms), 10,000 connections under a soft fd limit of 1,024 (goal: held, daemon answering), a
  client past the connection cap (told busy), idle and half-sent connections (closed);
- bench_live.py: a mention committed -> claimable by the recipient's hook, embedded and through
  the real SpacetimeDB (two daemons) side by side (goal p50 <= 50 ms / <= 100 ms).
- bench_lease_hook.py: the PreToolUse lease hook with no lease held on this project (C fast
  path) against hcom 0.7.31's native `hcom pre` and the Python floor (goal: <= 10 ms and <=
  hcom), and when it must look a path up (goal: <= 1.5x the floor);
- bench_agents.py: a real Claude Code / Codex / Gemini CLI session's wall time with Spaces'
  hooks and without (goal: hooks add < 150 ms to a Claude Code session); not in --quick.

    .venv/bin/python bench/run_all.py [--quick]

Each runs in private temporary directories; the machine's own Spaces is never touched. The
machines here are shared and noisy: read the ratios and the side-by-side figures of one run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true",
                    help="smaller runs (100,000 stored messages, fewer repetitions)")
    opts = ap.parse_args()
    benches: list[list[str]] = [
        ["bench_hooks.py", "--runs", "10" if opts.quick else "30"],
        ["bench_daemon.py", "--seconds", "2" if opts.quick else "4",
         "--rows", "100000" if opts.quick else "1000000"],
        ["bench_codec.py"],
        ["bench_live_hooks.py", "--rounds", "100" if opts.quick else "300"],
        ["bench_stdb.py", "--skip-codec", "--messages", "50" if opts.quick else "200"],
        ["bench_web.py", "--rows", "100000" if opts.quick else "1000000",
         "--loads", "5" if opts.quick else "10", "--messages", "50" if opts.quick else "200"],
        ["bench_tasks.py", "--claims", "50" if opts.quick else "200"],
        ["bench_redact.py", "--repeat", "100" if opts.quick else "300"],
        ["bench_exactly_once.py", *(["--hooks", "40", "--clients", "10", "--seconds", "10"]
                                    if opts.quick else [])],
        ["bench_limits.py", *(["--pipelined", "5000", "--connections", "2000"]
                              if opts.quick else [])],
        ["bench_live.py", "--mentions", "30" if opts.quick else "100"],
        ["bench_lease_hook.py", "--rounds", "100" if opts.quick else "300"],
    ]
    if not opts.quick:  # installs Spaces and runs ~40 real agent sessions: minutes
        benches.append(["bench_agents.py", "--runs", "5"])
    failed = []
    t0 = time.perf_counter()
    for bench in benches:
        print(f"\n===== {' '.join(bench)}", flush=True)
        code = subprocess.call([sys.executable, str(HERE / bench[0]), *bench[1:]])
        if code != 0:
            failed.append(bench[0])
    print(f"\n===== all benchmarks: {time.perf_counter() - t0:.0f} s"
          + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
