"""A real agent session's wall time with Spaces' hooks and without, per client, in one run.

    .venv/bin/python bench/bench_agents.py [--runs 5] [--clients claude,codex,gemini]

Spaces is installed with install.sh into a throwaway HOME (tests/agents/harness.py: the daemon
in the background, `spacesd hooks install` for each client); the clients are the pinned ones
of tests/agents (scripts/setup-agents.sh installs them). Each run is one headless session
against a fake model on 127.0.0.1 (one shell command, then the final answer), timed from
spawn to exit: "hooks" with Spaces' hooks (SessionStart's context, Stop's post, SessionEnd),
"bare" with the same client pointed at a config folder without them. Runs are interleaved
(bare, hooks, bare, hooks, ...) after one warm-up of each, so drift hits both alike; the table
shows the medians, their difference and ratio. Goal: hooks add under 150 ms to a Claude Code
session.

The session summary is posted detached from the client (it waits for the transcript to
settle after the client exits): after each hooked run the bench waits for that post before
the next run starts, so its work is not charged to the next session (nor left out: a run
that posts nothing fails the bench).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from agents.fakemodel import Script, final, shell
from agents.harness import KINDS, World, wait_for

GOAL_MS = {"claude": 150.0}


def session_ms(world: World, kind: str, project: Path, hooks: bool) -> float:
    s = world.run(kind, project, Script([shell("echo ok"), final("done")]), "Say ok",
                  hooks=hooks)
    assert s.elapsed is not None
    if hooks:  # its summary, posted after the client exited (see the docstring)
        wait_for(lambda: world.summaries(s.session_id), 30)
    return s.elapsed * 1000.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--runs", type=int, default=5, help="timed runs per case (median of them)")
    ap.add_argument("--clients", default=",".join(KINDS))
    opts = ap.parse_args()
    clients = [c for c in opts.clients.split(",") if c]
    world = World.create(Path(tempfile.mkdtemp(prefix="sb-", dir="/tmp")))
    world.env["SPACES_COOLDOWN"] = "300"  # as people run it: one post per session here
    try:
        rows = []
        for kind in clients:
            project = world.project(f"bench-{kind}")
            times: dict[bool, list[float]] = {False: [], True: []}
            for hooks in (False, True):  # warm-up: first runs set up the config folders
                session_ms(world, kind, project, hooks)
            for _ in range(opts.runs):
                for hooks in (False, True):
                    times[hooks].append(session_ms(world, kind, project, hooks))
            bare, with_hooks = statistics.median(times[False]), statistics.median(times[True])
            rows.append((kind, bare, with_hooks))
            print(f"{kind}: bare {[round(t) for t in times[False]]} ms, "
                  f"hooks {[round(t) for t in times[True]]} ms", flush=True)
    finally:
        world.close()
    print(f"\nmedian of {opts.runs} sessions each (interleaved), wall ms from spawn to exit")
    print(f"{'client':<8} {'bare':>9} {'hooks':>9} {'added':>8} {'ratio':>6}  goal")
    ok = True
    for kind, bare, with_hooks in rows:
        added = with_hooks - bare
        goal = GOAL_MS.get(kind)
        verdict = "" if goal is None else (f"< {goal:.0f} ms: " +
                                           ("met" if added < goal else "NOT met"))
        ok = ok and (goal is None or added < goal)
        print(f"{kind:<8} {bare:>9.0f} {with_hooks:>9.0f} {added:>+8.0f} "
              f"{with_hooks / bare:>6.2f}  {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
