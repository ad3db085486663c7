"""The swarm of issue 13 with the real clients (tests/agents: Claude Code and Codex against a
scripted fake model, Spaces installed by install.sh and `spacesd hooks install`), on the
embedded backend and on the real SpacetimeDB server (`agent_world_stdb`: the World's daemon on
a database of it; each session its own minted identity and connection there).

An orchestrator Claude Code session creates a task with 3 subtasks by `spacesd task create` in
its Bash tool; three worker sessions (Claude Code, Claude Code, Codex), which joined the
channel first, each claim one subtask with `spacesd task claim` (trying the open ones in turn:
a refused claim moves on), post progress, and complete it with a result. Every command runs in
the agent's own shell, so it acts as that session's participant (CLAUDE_CODE_SESSION_ID,
CODEX_THREAD_ID). Asserted:

- each worker holds exactly one subtask, never two on one, and each subtask's assignee is the
  participant of the worker that claimed it; the announcement is the orchestrator's message;
- the workers' model requests carry the Task inbox items of the new task (they follow the
  channel);
- the orchestrator's first model request that carries any result carries all three, each once
  (the task_done replies to its announcement are Reply items in its inbox, delivered after its
  waiting tool).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from agents.fakemodel import Script, final, shell
from agents.harness import LIVE_CLIENT_MARKS, Session, World, wait_for
from test_live_real import new_session, op, sessions_now

pytestmark = LIVE_CLIENT_MARKS

WORKERS = ("claude", "claude", "codex")

CLAIM_ONE = """\
# claim the first open subtask of this swarm that nobody holds (a refused claim moves on)
for _ in $(seq 900); do
  for id in $($SPACESD task list --state Open --json | python3 -c '
import json, sys
for line in sys.stdin:
    t = json.loads(line)
    if t["parent_id"] and sys.argv[1] in t["title"]:
        print(t["id"])' "$1"); do
    if $SPACESD task claim "$id" --ttl 600 --json > .claimed 2>/dev/null; then
      cat .claimed; exit 0
    fi
  done
  sleep 0.1
done
echo "nothing to claim" >&2; exit 1
"""

CLAIMED = "$(python3 -c 'import json; print(json.load(open(\".claimed\"))[\"{key}\"])')"

WAIT_RESULTS = """\
# until the three task_done replies are in the channel
for _ in $(seq 1200); do
  n=$($SPACESD read general -n 200 --json | grep task_done | grep -c "$1")
  [ "$n" -ge 3 ] && { echo "all $n results are in"; exit 0; }
  sleep 0.1
done
echo "timed out" >&2; exit 1
"""


def _scripts(base: Path) -> Path:
    tools = base / "swarm-tools"
    tools.mkdir(exist_ok=True)
    (tools / "claim_one.sh").write_text(CLAIM_ONE)
    (tools / "wait_results.sh").write_text(WAIT_RESULTS)
    return tools


def _worker_steps(spacesd: Path, tools: Path, token: str, n: int) -> Script:
    title, task_id = CLAIMED.replace("{key}", "title"), CLAIMED.replace("{key}", "id")
    return Script([
        shell(f"{spacesd} join general"),
        shell(f"SPACESD={spacesd} sh {tools}/claim_one.sh {token}"),
        shell(f'{spacesd} task progress {task_id} "progress {token}: worker {n} is on {title}"'),
        shell(f'{spacesd} task complete {task_id} "result-{n}-{token}: {n + 2} findings"'),
        final(f"Worker {n} done."),
    ])


@pytest.mark.parametrize("backend", ["embedded", "spacetimedb"])
def test_orchestrator_and_three_workers_end_to_end(request: pytest.FixtureRequest,
                                                   backend: str) -> None:
    world: World = request.getfixturevalue(
        "agent_world" if backend == "embedded" else "agent_world_stdb")
    assert op(world, "status")["backend"] == backend
    token = f"swarm{os.getpid()}{backend[0]}"
    tools = _scripts(world.base)
    spacesd = world.bin / "spacesd"  # what install.sh put on a person's PATH (Codex's shell
    # starts a login shell, which resets PATH to the system's)
    go = world.base / f"go-{token}"
    before = set(sessions_now(world))
    orch_dir = world.project(f"swarm-orch-{token}")
    orch = world.start("claude", orch_dir, Script([
        shell(f"until [ -f {go} ]; do sleep 0.1; done; {spacesd} task create general "
              f'"survey {token}" --body "one part each" --subtask "part 1 {token}" '
              f'--subtask "part 2 {token}" --subtask "part 3 {token}" --json'),
        shell(f"SPACESD={spacesd} sh {tools}/wait_results.sh {token}"),
        final("All three parts are in; synthesizing."),
    ]), prompt="Split the survey among the workers and collect their results.")
    p_orch = new_session(world, before, "claude")
    seen = before | {p_orch["session"]}
    workers: list[tuple[Session, dict[str, Any]]] = []
    for n, kind in enumerate(WORKERS, 1):  # Codex last: its shell tool yields at 10 s
        s = world.start(kind, world.project(f"swarm-w{n}-{token}"),
                        _worker_steps(spacesd, tools, token, n),
                        prompt="Take one part of the survey.")
        p = new_session(world, seen, kind)
        seen.add(p["session"])
        workers.append((s, p))
    # every worker has joined the channel (its first tool ran) before the task exists
    wait_for(lambda: all(len(s.requests) >= 2 for s, _ in workers), 120)
    go.touch()
    for s, _ in workers:
        assert s.wait() == 0, f"{s.kind}: {s.stdout[-3000:]}\n{s.stderr[-3000:]}"
    assert orch.wait() == 0, orch.stderr[-3000:]

    tasks = op(world, "task_list", limit=5000)
    parent = next(t for t in tasks if t["title"] == f"survey {token}")
    subs = [t for t in tasks if t["parent_id"] == parent["id"]]
    assert len(subs) == 3 and all(t["state"] == "Done" for t in subs)
    by_assignee = {t["assignee_name"]: t for t in subs}
    # three workers, three subtasks, one each: never two on one
    assert set(by_assignee) == {p["handle"] for _, p in workers}
    for n, (_, p) in enumerate(workers, 1):
        assert by_assignee[p["handle"]]["result"].startswith(f"result-{n}-{token}")
        claimed = json.loads((world.base / "projects" / f"swarm-w{n}-{token}" / ".claimed")
                             .read_text())
        assert claimed["id"] == by_assignee[p["handle"]]["id"]
    announce = next(m for m in world.messages("general") if m["id"] == parent["message_id"])
    assert announce["sender"] == p_orch["identity"]
    progress = [m for m in world.messages("general") if f"progress {token}" in m["content"]]
    assert {m["sender"] for m in progress} == {p["identity"] for _, p in workers}
    assert {m["type"] for m in progress} == {"AgentEvent"}  # replies to the announcement
    assert {m["reply_to_id"] for m in progress} == {parent["message_id"]}

    # the workers follow #general: the new task reached each as Task inbox items
    for s, _ in workers:
        assert any(f"task {parent['id']}: survey {token}" in r.text for r in s.requests), s.kind

    results = [f"result-{n}-{token}" for n in range(1, 4)]
    reqs = orch.requests
    first = next(i for i, r in enumerate(reqs) if any(x in r.text for x in results))
    assert all(x in reqs[first].text for x in results), [x in reqs[first].text for x in results]
    assert all(reqs[first].text.count(x) == 1 for x in results)
    assert "all 3 results are in" in reqs[first].text  # the request after its waiting tool
