"""Tasks, leases and votes through the daemon's socket (embedded backend): the ops of
docs/protocol.md, their refusals, the expiry rule at every read, and the lease markers the
PreToolUse fast path stats."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import SpacesEnv, ThreadDaemon
from testutil import git_repo

from spacesd import owner
from spacesd.daemon.lease_markers import project_marker_name
from spacesd.ipc import Err
from spacesd.model import Identity

OTHER = "ab" * 32  # an identity that is not the daemon's


PASS = "correct horse battery"


def as_owner(daemon: ThreadDaemon, reducer: str, args: list[Any]) -> None:
    """A call as the machine's human owner (docs/roles.md: it needs the owner passphrase)."""
    owner.store_hash(daemon.daemon_obj.settings.owner_passphrase_file, PASS)
    daemon.ok("call", reducer=reducer, args=args, as_owner=True, owner_passphrase=PASS)


def err(daemon: ThreadDaemon, op: str, **args: Any) -> Err:
    res = daemon.request(op, **args)
    assert isinstance(res, Err), res
    return res


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return git_repo(tmp_path / "api")


def root_commit(repo: Path) -> str:
    return subprocess.run(["git", "-C", str(repo), "rev-list", "--max-parents=0", "HEAD"],
                          capture_output=True, text=True, check=True).stdout.strip()


def test_create_with_subtasks_claim_complete(daemon: ThreadDaemon) -> None:
    made = daemon.ok("task_create", channel="general", title="survey", body="three parts",
                     subtasks=["part 1", "part 2", "part 3"])
    top, subs = made["task"], made["subtasks"]
    assert top["state"] == "Open" and top["title"] == "survey" and top["channel"] == "general"
    assert [s["title"] for s in subs] == ["part 1", "part 2", "part 3"]
    assert {s["parent_id"] for s in subs} == {top["id"]}
    announce = top["message_id"]
    assert announce is not None and {s["message_id"] for s in subs} == {announce}
    listed = daemon.ok("task_list", channel="general", parent=top["id"], state="Open")
    assert [t["id"] for t in listed] == [s["id"] for s in subs]
    claimed = daemon.ok("task_claim", task=subs[0]["id"], ttl=600)
    assert claimed["state"] == "Claimed" and claimed["assignee_name"].startswith("@")
    done = daemon.ok("task_complete", task=subs[0]["id"], result="found 3 endpoints")
    assert (done["state"], done["result"]) == ("Done", "found 3 endpoints")
    msgs = daemon.ok("messages", channel="general", limit=5)
    reply = [m for m in msgs if m["reply_to_id"] == announce]
    assert len(reply) == 1 and json.loads(reply[0]["content"]) == {
        "kind": "task_done", "task": subs[0]["id"], "title": "part 1",
        "result": "found 3 endpoints"}
    assert json.loads(next(m for m in msgs if m["id"] == announce)["content"])["subtasks"] == [
        "part 1", "part 2", "part 3"]
    active = daemon.ok("task_list", state="active")
    assert {t["id"] for t in active} == {top["id"], subs[1]["id"], subs[2]["id"]}


def test_a_claim_held_by_another_names_the_holder(daemon: ThreadDaemon) -> None:
    task = daemon.ok("task_create", channel="general", title="one", announce=False)["task"]
    as_owner(daemon, "claim_task", [task["id"], 600])
    refused = err(daemon, "task_claim", task=task["id"])
    assert refused.code == "reducer_error"
    assert refused.message.startswith(f"task {task['id']} is claimed by @")
    assert refused.message.endswith("Z") and " until 20" in refused.message
    assert err(daemon, "task_complete", task=task["id"], result="x").message == (
        "only the task's holder can do that")
    assert err(daemon, "task_claim", task=999999).code == "not_found"
    assert err(daemon, "task_list", state="Sleeping").code == "bad_args"
    assert err(daemon, "task_claim", task=task["id"], ttl=0).code == "bad_args"
    assert err(daemon, "task_create", channel="general", title="x",
               subtasks=[1]).code == "bad_args"
    assert daemon.ok("task_cancel", task=task["id"])["state"] == "Cancelled"


def test_an_expired_claim_reads_open_and_is_claimable(daemon: ThreadDaemon) -> None:
    task = daemon.ok("task_create", channel="general", title="short", announce=False)["task"]
    as_owner(daemon, "claim_task", [task["id"], 1])
    assert daemon.ok("task_list", state="Claimed")[0]["id"] == task["id"]
    time.sleep(1.1)
    assert daemon.ok("task_list", state="Claimed") == []
    assert [t["id"] for t in daemon.ok("task_list", state="Open")] == [task["id"]]
    assert daemon.ok("task_claim", task=task["id"])["state"] == "Claimed"


def test_leases_check_and_markers(daemon: ThreadDaemon, spaces_env: SpacesEnv,
                                  repo: Path) -> None:
    project = f"git:{root_commit(repo)}"
    live = spaces_env.runtime_dir / "live"
    marker = live / project_marker_name(project)
    assert not marker.exists()
    lease = daemon.ok("lease_acquire", cwd=str(repo), path=str(repo / "src" / "auth.py"),
                      reason="refactoring auth", ttl=600)
    assert (lease["project"], lease["pattern"], lease["reason"]) == (
        project, "src/auth.py", "refactoring auth")
    assert marker.read_text() == lease["holder"] + "\n"
    # the holder itself passes; another participant is told who holds it and until when
    assert daemon.ok("lease_check", cwd=str(repo), paths=["src/auth.py"])["conflicts"] == []
    check = daemon.ok("lease_check", cwd=str(repo / "src"), identity=OTHER,
                      paths=["auth.py", str(repo / "README.md"), "/etc/passwd"])
    assert check["project"] == project and len(check["conflicts"]) == 1
    conflict = check["conflicts"][0]
    assert conflict["path"] == "src/auth.py" and conflict["lease_id"] == lease["id"]
    assert conflict["message"].startswith(f"src/auth.py is leased by {lease['holder_name']} until ")
    assert conflict["message"].endswith("Z (refactoring auth)")
    by_key = daemon.ok("lease_check", project=project, identity=OTHER, paths=["src/auth.py"])
    assert len(by_key["conflicts"]) == 1
    assert [x["id"] for x in daemon.ok("lease_list", cwd=str(repo))] == [lease["id"]]
    assert err(daemon, "lease_check", paths=["a"]).code == "bad_args"
    assert err(daemon, "lease_check", project=project, paths=["a"], identity="zz").code == (
        "bad_args")
    assert err(daemon, "lease_acquire", cwd=str(repo), path="/etc/passwd").code == "bad_args"
    assert err(daemon, "lease_acquire", project=project, path="../x").message.startswith(
        "lease patterns are")
    assert daemon.ok("lease_release", lease=lease["id"]) == {"released": lease["id"]}
    assert not marker.exists()
    assert err(daemon, "lease_release", lease=lease["id"]).code == "not_found"


def test_a_session_marker_exists_only_for_others_leases(daemon: ThreadDaemon,
                                                        spaces_env: SpacesEnv) -> None:
    live = spaces_env.runtime_dir / "live"
    markers = daemon.daemon_obj.lease_markers
    loop = daemon.loop
    assert markers is not None and loop is not None

    def register(sid: str, identity: str) -> None:
        loop.call_soon_threadsafe(markers.register_session, sid, "git:p",
                                  Identity.from_hex(identity))

    me = daemon.ok("status")["identity"]
    register("sess-mine", me)
    register("sess-other", OTHER)
    time.sleep(0.1)
    assert not (live / "sess-mine.lease").exists() and not (live / "sess-other.lease").exists()
    lease = daemon.ok("lease_acquire", project="git:p", path="src/", ttl=1)
    assert not (live / "sess-mine.lease").exists()
    assert (live / "sess-other.lease").exists()
    time.sleep(1.2)  # the embedded backend's timer at the earliest expiry
    assert not (live / "sess-other.lease").exists()
    assert not (live / project_marker_name("git:p")).exists()
    assert daemon.ok("lease_list", project="git:p") == []
    assert lease["expires_at"] is not None


def test_votes_and_tally(daemon: ThreadDaemon) -> None:
    msg = daemon.ok("send", channel="general", content="ship it?")
    tally = daemon.ok("vote_cast", target="message", id=msg["id"], choice="yes")
    assert tally["counts"] == {"yes": 1} and len(tally["voters"]["yes"]) == 1
    as_owner(daemon, "cast_vote", ["Message", msg["id"], "no"])
    daemon.ok("vote_cast", target="message", id=msg["id"], choice="no")
    assert daemon.ok("vote_tally", target="message", id=msg["id"])["counts"] == {"no": 2}
    assert err(daemon, "vote_cast", target="thread", id=1, choice="x").code == "bad_args"
    assert err(daemon, "vote_cast", target="task", id=999, choice="x").message == "no such task"
    assert os.environ.get("SPACES_LIVE_DIR") is None


def test_cli_task_lease_vote(daemon: ThreadDaemon, repo: Path) -> None:
    from click.testing import CliRunner

    from spacesd.cli import main

    def run(*args: str, code: int = 0) -> str:
        result = CliRunner().invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    out = run("task", "create", "general", "survey", "--subtask", "a", "--subtask", "b")
    lines = out.splitlines()
    assert len(lines) == 3 and lines[0].endswith("] survey in #general")
    top_id = int(lines[0].split()[0][1:])
    rows = [json.loads(x) for x in run("task", "list", "--parent", str(top_id), "--json")
            .splitlines()]
    assert [r["title"] for r in rows] == ["a", "b"]
    assert "[Claimed @" in run("task", "claim", str(rows[0]["id"]), "--ttl", "60")
    assert "=> 2 found" in run("task", "complete", str(rows[0]["id"]), "2 found")
    refused = CliRunner().invoke(main, ["task", "complete", str(rows[0]["id"]), "x"])
    assert refused.exit_code == 1 and "that task is closed" in refused.output
    leased = json.loads(run("lease", "acquire", "src/", "--cwd", str(repo), "--json"))
    assert leased["pattern"] == "src/"
    assert "held by" in run("lease", "list", "--cwd", str(repo))
    assert run("lease", "check", "src/auth.py", "--cwd", str(repo)) == ""  # one's own
    assert "released lease" in run("lease", "release", str(leased["id"]))
    assert "yes: 1" in run("vote", "cast", "task", str(top_id), "yes")


def test_a_lease_pattern_is_not_scrubbed_by_the_redaction_gate(daemon: ThreadDaemon) -> None:
    # a random-looking directory name would be [REDACTED] as prose; a path is an identifier
    path = "b3f1c9e2a7d84f6e9b0c1d2e3f4a5b6c/x.py"
    lease = daemon.ok("lease_acquire", project="git:p", path=path)
    assert lease["pattern"] == path
    check = daemon.ok("lease_check", project="git:p", identity=OTHER, paths=[path])
    assert [c["pattern"] for c in check["conflicts"]] == [path]


def test_reads_follow_membership(daemon: ThreadDaemon) -> None:
    # docs/roles.md: a task of a server the daemon's identity is not in is not found, and not
    # listed (the owner makes a server the daemon's agent identity never joined)
    as_owner(daemon, "create_server", ["Private", None, None])
    channels = daemon.daemon_obj.backend.store.rows("channel")
    private = max(c.id for c in channels if c.name == "general")
    as_owner(daemon, "create_task", [private, "secret work", "", None, None])
    (hidden,) = [t for t in daemon.daemon_obj.backend.store.rows("task")
                 if t.title == "secret work"]
    mine = daemon.ok("task_create", channel="general", title="visible", announce=False)["task"]
    assert [t["id"] for t in daemon.ok("task_list")] == [mine["id"]]
    assert err(daemon, "task_show", task=hidden.id).code == "not_found"
    assert err(daemon, "task_claim", task=hidden.id).code == "not_found"


SA = "aaaaaaaa-1111-4111-8111-aaaaaaaaaaaa"
SB = "bbbbbbbb-2222-4222-8222-bbbbbbbbbbbb"


def session(daemon: ThreadDaemon, sid: str, agent: str = "claude") -> dict[str, Any]:
    res: dict[str, Any] = daemon.ok("session_event", session=sid, agent=agent,
                                    event="SessionStart", cwd="/tmp")["participant"]
    return res


def test_writes_act_as_the_calling_session_and_tasks_reach_followers(
        daemon: ThreadDaemon, repo: Path) -> None:
    a, b = session(daemon, SA), session(daemon, SB, "codex")
    daemon.ok("follow", session=SB, channel="general")
    made = daemon.ok("task_create", channel="general", title="survey", session=SA,
                     subtasks=["part 1", "part 2"])
    top, subs = made["task"], made["subtasks"]
    assert {t["creator"] for t in [top, *subs]} == {a["identity"]}
    announce = next(m for m in daemon.ok("messages", channel="general", limit=5)
                    if m["id"] == top["message_id"])
    assert announce["sender"] == a["identity"]  # the announcement is the session's message
    items = daemon.ok("inbox", session=SB)["items"]
    tasks = [i for i in items if i["kind"] == "Task"]
    assert [i["task_id"] for i in tasks] == [top["id"], *(s["id"] for s in subs)]
    assert all(i["from"] == a["handle"] for i in tasks)
    assert f"task {subs[0]['id']}: part 1 (subtask of {top['id']}: survey), Open" in tasks[1][
        "text"] and f"claim it: spacesd task claim {subs[0]['id']}" in tasks[1]["text"]
    assert not [i for i in daemon.ok("inbox", session=SA)["items"] if i["kind"] == "Task"]

    claimed = daemon.ok("task_claim", task=subs[0]["id"], session=SB)
    assert (claimed["assignee"], claimed["assignee_name"]) == (b["identity"], b["handle"])
    refused = err(daemon, "task_claim", task=subs[0]["id"], session=SA)
    assert refused.code == "reducer_error" and b["handle"] in refused.message
    assert b["handle"] in err(daemon, "task_claim", task=subs[0]["id"]).message  # daemon too
    assert err(daemon, "task_complete", task=subs[0]["id"], result="x",
               session=SA).message == "only the task's holder can do that"
    assert err(daemon, "task_progress", task=subs[0]["id"], text="halfway",
               session=SA).message == "only the task's holder can do that"
    assert err(daemon, "task_progress", task=subs[0]["id"], text="  ", session=SB).code == (
        "bad_args")
    note = daemon.ok("task_progress", task=subs[0]["id"], text="2 of 3 endpoints", session=SB)
    progress = next(m for m in daemon.ok("messages", channel="general", limit=10)
                    if m["id"] == note["message_id"])
    assert (progress["sender"], progress["reply_to_id"], progress["type"]) == (
        b["identity"], announce["id"], "AgentEvent")
    assert json.loads(progress["content"]) == {
        "kind": "task_progress", "task": subs[0]["id"], "title": "part 1",
        "text": "2 of 3 endpoints"}
    assert daemon.ok("task_show", task=subs[0]["id"])["state"] == "Claimed"  # unchanged
    done = daemon.ok("task_complete", task=subs[0]["id"], result="3 endpoints", session=SB)
    assert done["state"] == "Done"
    reply = next(m for m in daemon.ok("messages", channel="general", limit=10)
                 if m["reply_to_id"] == announce["id"])
    assert reply["sender"] == b["identity"]
    to_a = [i for i in daemon.ok("inbox", session=SA)["items"] if i["kind"] == "Reply"]
    assert len(to_a) == 2 and "2 of 3 endpoints" in to_a[0]["text"]  # progress and the
    assert "3 endpoints" in to_a[1]["text"]  # result reach A

    lease = daemon.ok("lease_acquire", path="src/auth.py", cwd=str(repo), session=SA)
    assert lease["holder"] == a["identity"]
    seen_by_b = daemon.ok("lease_check", paths=["src/auth.py"], cwd=str(repo),
                          identity=b["identity"])["conflicts"]
    assert [c["holder_name"] for c in seen_by_b] == [a["handle"]]
    assert err(daemon, "lease_release", lease=lease["id"], session=SB).code == "reducer_error"
    assert daemon.ok("lease_release", lease=lease["id"], session=SA) == {"released": lease["id"]}

    assert err(daemon, "task_claim", task=subs[1]["id"], session="nobody").code == "not_found"
    assert err(daemon, "task_claim", task=subs[1]["id"], session="../x").code == "bad_args"
    assert daemon.ok("task_show", task=subs[1]["id"])["state"] == "Open"  # nothing changed


def test_compact_listing_is_the_listing_without_repeated_keys(daemon: ThreadDaemon) -> None:
    made = daemon.ok("task_create", channel="general", title="survey", subtasks=["a", "b"])
    daemon.ok("task_claim", task=made["subtasks"][0]["id"])
    daemon.ok("task_complete", task=made["subtasks"][0]["id"], result="r" * 600)
    full = daemon.ok("task_list")
    compact = daemon.ok("task_list", compact=True)
    cols = compact["columns"]
    assert len(compact["rows"]) == len(full) == 3
    for obj, row in zip(full, compact["rows"], strict=True):
        as_obj = dict(zip(cols, row, strict=True))
        assert as_obj["channel"] == obj["channel"] and as_obj["creator"] == obj["creator_name"]
        for key in ("id", "parent_id", "message_id", "title", "state", "lease_expires",
                    "result", "updated_at"):
            assert as_obj[key] == obj[key], key
        assert as_obj["assignee"] == obj["assignee_name"]
    assert [r[cols.index("state")] for r in daemon.ok("task_list", compact=True,
                                                      state="active")["rows"]] == ["Open", "Open"]
    assert err(daemon, "task_list", compact="yes").code == "bad_args"


def test_a_repeated_listing_follows_every_write_and_expiry(daemon: ThreadDaemon) -> None:
    made = daemon.ok("task_create", channel="general", title="cached", subtasks=["x"])
    sub = made["subtasks"][0]["id"]

    def state() -> str:
        rows = daemon.ok("task_list", compact=True, parent=made["task"]["id"])
        cols = rows["columns"]
        assert len(rows["rows"]) == 1
        return str(rows["rows"][0][cols.index("state")])

    assert state() == state() == "Open"
    daemon.ok("task_claim", task=sub, ttl=1)
    assert state() == state() == "Claimed"  # a write: the next listing shows it
    time.sleep(1.2)
    assert state() == "Open"  # the claim ended with no write at all: the listing shows that
    daemon.ok("task_claim", task=sub, ttl=600)
    daemon.ok("task_complete", task=sub, result="r")
    assert state() == "Done"
