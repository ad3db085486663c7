"""The agent-facing commands (`spacesd post`, `reply`, `dm`, `inbox`, `wait`, `who`, `join`,
`address`) in-process with click's CliRunner, acting as the session the environment names."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner
from conftest import ThreadDaemon

from spacesd import owner
from spacesd.cli import main

A = "eeeeeeee-5555-4555-8555-eeeeeeeeeeee"
B = "ffffffff-6666-4666-8666-ffffffffffff"


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env or {}, catch_exceptions=False)
    return result.exit_code, result.output


def as_claude(session: str) -> dict[str, str]:
    return {"CLAUDE_CODE_SESSION_ID": session}


def test_a_mention_from_a_session_reaches_the_other_and_comes_back_read(
        daemon: ThreadDaemon) -> None:
    b = daemon.ok("session_event", session=B, agent="gemini", event="SessionStart",
                  cwd="/tmp")["participant"]["handle"]
    code, out = run("post", "--json", "#general", f"{b} can you look?", env=as_claude(A))
    assert code == 0, out
    sent: dict[str, Any] = json.loads(out)
    assert [r["state"] for r in sent["receipts"]] == ["Queued"]
    code, out = run("inbox", "--json", env={"GEMINI_SESSION_ID": B})
    items = json.loads(out)["items"]
    assert code == 0 and [i["kind"] for i in items] == ["Mention"]
    assert items[0]["text"] == f"{b} can you look?"
    code, out = run("wait", "--timeout", "0", env={"GEMINI_SESSION_ID": B})
    assert code == 0 and "1 pending" in out
    code, out = run("reply", str(sent["id"]), "on it", env={"GEMINI_SESSION_ID": B})
    assert code == 0 and out.startswith("sent #general message")
    code, out = run("read", "general", "--json")
    mine = next(json.loads(line) for line in out.splitlines()
            if json.loads(line)["id"] == sent["id"])
    assert [r["state"] for r in mine["receipts"]] == ["Read"]
    code, out = run("who", "--json")
    handles = {json.loads(line)["handle"] for line in out.splitlines()}
    assert b in handles and len(handles) == 2


def test_dm_join_and_refusals(daemon: ThreadDaemon) -> None:
    b = daemon.ok("session_event", session=B, agent="codex", event="SessionStart",
                  cwd="/tmp")["participant"]["handle"]
    code, out = run("dm", b, "direct", env=as_claude(A))
    assert code == 0 and out.startswith("sent DM") and "queued" in out
    code, out = run("join", "general", env={"CODEX_THREAD_ID": B})
    assert code == 0 and out.strip() == "following #general"
    code, out = run("inbox")
    assert code == 2 and "not inside an agent session" in out
    code, out = run("address", "project:tmp", "stop", env=as_claude(A))
    assert code == 2 and "refused inside an agent session" in out
    code, out = run("address", "--priority", "--json", b, "stop now")
    assert code == 1 and "terminal" in out  # the owner's passphrase is typed by a person
    owner.store_hash(daemon.daemon_obj.settings.owner_passphrase_file, "owner words")
    sent = daemon.ok("address", to=b, text="stop now", priority=True,
                     owner_passphrase="owner words")
    assert sent["recipients"] == 1
    code, out = run("wait", "--timeout", "0", env=as_claude(A))
    assert code == 1 and "nothing arrived" in out
