"""examples/swarm/swarm.sh as people run it: an orchestrator and three workers, each subtask
claimed by exactly one worker and completed, on the embedded backend and on the real SpacetimeDB
server (there one daemon and identity per participant, as on separate machines)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from conftest import VENV_BIN, SpacesEnv
from real_stdb import RealServer

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "swarm" / "swarm.sh"


def run_swarm(env: dict[str, str], tmp: Path) -> str:
    env = dict(env, PATH=f"{VENV_BIN}:{env.get('PATH', '')}", TMPDIR=str(tmp))
    done = subprocess.run([str(SCRIPT)], env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def check(out: str) -> list[str]:
    assert "orchestrator: 3/3 subtasks done:" in out, out
    claimed = re.findall(r"^(worker\d): claimed #(\d+) \(.*\) \[Claimed @\S+\]$", out, re.M)
    assert len(claimed) == 3 and len({t for _, t in claimed}) == 3, out  # never two on one
    results = re.findall(r"^  #(\d+) part \d of the survey: Done by (@\S+): (worker\d): ", out,
                         re.M)
    assert sorted(t for t, _, _ in results) == sorted(t for _, t in claimed), out
    assert dict(claimed) == {w: t for t, _, w in results}, out
    return [holder for _, holder, _ in results]


def test_swarm_on_one_machine(spaces_env: SpacesEnv) -> None:
    holders = check(run_swarm(spaces_env.env, spaces_env.root))  # short paths: sockets <= 107
    assert len(set(holders)) == 3  # each worker its own session's participant


def test_swarm_on_the_real_server(real_stdb: RealServer, spaces_env: SpacesEnv) -> None:
    env = dict(spaces_env.env, SPACETIMEDB_HOST=real_stdb.url,
               SPACETIMEDB_DATABASE=real_stdb.publish())
    env.pop("SPACES_BACKEND", None)
    out = run_swarm(env, spaces_env.root)
    holders = check(out)
    assert sorted(holders) == ["@swarm-worker1", "@swarm-worker2", "@swarm-worker3"]
    # each claim's answer already shows the claimer as holder (the daemon's cache is current)
    for worker, holder in re.findall(r"^(worker\d): claimed .* \[Claimed (@\S+)\]$", out, re.M):
        assert holder == f"@swarm-{worker}"
    assert os.path.exists(SCRIPT)
