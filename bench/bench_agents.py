"""A real agent session's wall time with Spaces' hooks and without, per client, in one run.

    .venv/bin/python bench/bench_agents.py [--runs 5] [--clients claude,codex,gemini]

Spaces is installed with install.sh into a throwaway HOME (tests/agents/harness.py: the daemon
in the background, `spacesd hooks install` for each client); the clients are the pinned ones
of tests/agents (scripts/setup-agents.sh installs them). Each run is one headless session
against a fake model on 127.0.0.1 (one shell command, then the final answer), timed from
spawn to exit: "hooks" with Spaces' hooks (SessionStart's context, Stop's post, SessionEnd),
"bare" with the same client pointed at a config folder without them, and "+mcp" with all
`spacesd hooks install` wires: the hooks and Spaces' MCP server (`spacesd mcp`, which the
clients start and wait for at session start). Runs are interleaved (bare, hooks, +mcp, ...)
after one warm-up of each, so drift hits all alike; the table shows the medians, what the
hooks add and what the MCP server adds on top. Goal: hooks add under 150 ms to a Claude Code
session.

The session summary is posted detached from the client (it waits for the transcript to
settle after the client exits): after each hooked run the bench waits for that post before
the next run starts, so its work is not charged to the next session (nor left out: a run
that posts nothing fails the bench).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from agents.fakemodel import Script, final, shell
from agents.harness import KINDS, World, wait_for

GOAL_MS = {"claude": 150.0}


CASES = ("bare", "hooks", "+mcp")


def hooks_only(world: World, kind: str) -> dict[str, str]:
    """The client's environment for Spaces' hooks without its MCP server: a config folder
    (Claude Code, Codex) or HOME (Gemini) holding the installed hooks and no `mcpServers`."""
    own = world.base / f"hooks-only-{kind}"
    if kind == "claude":
        own.mkdir(exist_ok=True)
        shutil.copy(world.home / ".claude" / "settings.json", own / "settings.json")
        return {"CLAUDE_CONFIG_DIR": str(own)}
    if kind == "codex":
        own.mkdir(exist_ok=True)
        shutil.copy(world.home / ".codex" / "hooks.json", own / "hooks.json")
        return {"CODEX_HOME": str(own)}
    settings = json.loads((world.home / ".gemini" / "settings.json").read_text())
    settings.pop("mcpServers", None)
    (own / ".gemini").mkdir(parents=True, exist_ok=True)
    (own / ".gemini" / "settings.json").write_text(json.dumps(settings))
    shutil.copy(world.home / ".gitconfig", own / ".gitconfig")
    return {"HOME": str(own)}


def session_ms(world: World, kind: str, project: Path, case: str) -> float:
    before = len(world.summaries()) if case != "bare" else 0
    env = hooks_only(world, kind) if case == "hooks" else None
    s = world.run(kind, project, Script([shell("echo ok"), final("done")]), "Say ok",
                  hooks=case != "bare", env=env)
    assert s.elapsed is not None
    if case != "bare":  # its summary, posted after the client exited (see the docstring)
        wait_for(lambda: len(world.summaries()) > before, 30)
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
            times: dict[str, list[float]] = {c: [] for c in CASES}
            for case in CASES:  # warm-up: first runs set up the config folders
                session_ms(world, kind, project, case)
            for _ in range(opts.runs):
                for case in CASES:
                    times[case].append(session_ms(world, kind, project, case))
            rows.append((kind, *(statistics.median(times[c]) for c in CASES)))
            print(f"{kind}: " + ", ".join(f"{c} {[round(t) for t in times[c]]} ms"
                                          for c in CASES), flush=True)
    finally:
        world.close()
    print(f"\nmedian of {opts.runs} sessions each (interleaved), wall ms from spawn to exit")
    print(f"{'client':<8} {'bare':>7} {'hooks':>7} {'+mcp':>7} {'hooks add':>10} {'ratio':>6} "
          f"{'mcp adds':>9}  goal (hooks)")
    ok = True
    for kind, bare, with_hooks, with_mcp in rows:
        added = with_hooks - bare
        goal = GOAL_MS.get(kind)
        verdict = "" if goal is None else (f"< {goal:.0f} ms: " +
                                           ("met" if added < goal else "NOT met"))
        ok = ok and (goal is None or added < goal)
        print(f"{kind:<8} {bare:>7.0f} {with_hooks:>7.0f} {with_mcp:>7.0f} {added:>+10.0f} "
              f"{with_hooks / bare:>6.2f} {with_mcp - with_hooks:>+9.0f}  {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
