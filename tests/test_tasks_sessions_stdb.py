"""Task and lease writes as agent sessions on the real SpacetimeDB server (tests/real_stdb.py):
two sessions of one daemon are two participants, each its own minted identity and connection,
so ctx.sender of a claim or lease is the session, and one session's claim or lease refuses the
other naming its handle. The answers read the daemon's cache, which the daemon's subscription
(not the participant's connection) fills: they show the write."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import ProcessDaemon
from real_stdb import RealServer
from test_live_real_stdb import Db, ok, wait_for
from test_stdb_e2e import short_dir, stdb_env

from spacesd.ipc import Err

A = "a3a3a3a3-0000-4000-8000-00000000a3a3"
B = "b4b4b4b4-0000-4000-8000-00000000b4b4"


@pytest.fixture
def machine(real_stdb: RealServer) -> Iterator[ProcessDaemon]:
    env = stdb_env(short_dir("tasks"), Db(real_stdb.url, real_stdb.publish()), "tasks-m")  # type: ignore[arg-type]
    d = ProcessDaemon(env).start(timeout=60)
    try:
        wait_for(lambda: bool(ok(d, "status")["counts"].get("channel")), "the first subscription")
        yield d
    finally:
        d.stop()
        shutil.rmtree(env.root, ignore_errors=True)


def refused(d: ProcessDaemon, op: str, **args: Any) -> Err:
    res = d.request(op, timeout=30.0, **args)
    assert isinstance(res, Err), res
    return res


def test_sessions_claim_and_lease_as_themselves(machine: ProcessDaemon) -> None:
    d = machine
    repo = d.env.root / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@e"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "root"], check=True)
    pa = ok(d, "session_event", session=A, agent="claude", event="SessionStart",
            cwd=str(repo))["participant"]
    pb = ok(d, "session_event", session=B, agent="codex", event="SessionStart",
            cwd=str(repo))["participant"]
    made = ok(d, "task_create", session=A, channel="general", title="survey",
              subtasks=["part 1"])
    assert made["task"]["creator"] == pa["identity"]
    sub = made["subtasks"][0]
    assert sub["creator"] == pa["identity"] and sub["message_id"] == made["task"]["message_id"]
    claimed = ok(d, "task_claim", session=B, task=sub["id"])
    assert (claimed["state"], claimed["assignee"]) == ("Claimed", pb["identity"])
    assert pb["handle"] in refused(d, "task_claim", session=A, task=sub["id"]).message
    done = ok(d, "task_complete", session=B, task=sub["id"], result="found it")
    assert (done["state"], done["result"]) == ("Done", "found it")
    reply = [m for m in ok(d, "messages", channel="general", limit=10)
             if m["reply_to_id"] == made["task"]["message_id"]]
    assert [m["sender"] for m in reply] == [pb["identity"]]

    lease = ok(d, "lease_acquire", session=A, path="src/", cwd=str(repo), reason="refactor")
    assert lease["holder"] == pa["identity"]
    message = refused(d, "lease_acquire", session=B, path="src/a.py", cwd=str(repo)).message
    assert pa["handle"] in message
    seen = ok(d, "lease_check", paths=["src/a.py"], cwd=str(repo), identity=pb["identity"])
    assert [c["holder_name"] for c in seen["conflicts"]] == [pa["handle"]]
    assert refused(d, "lease_release", session=B, lease=lease["id"]).code == "reducer_error"
    assert ok(d, "lease_release", session=A, lease=lease["id"]) == {"released": lease["id"]}
    wait_for(lambda: ok(d, "lease_list") == [], "the lease gone from the daemon's cache")
