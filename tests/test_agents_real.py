"""The real agent clients (Claude Code, Codex CLI, Gemini CLI, pinned in tests/agents/
package.json) run headless against a scripted fake model, with Spaces installed by install.sh
and `spacesd hooks install` in a throwaway HOME (tests/agents/harness.py).

What a user relies on, checked on what the real client did: the summary posted for its real
transcript (files, commands and failures, tests, a quiet commit, tokens, model, its own task),
the peer context inside the request the next session sends to its model, one post per session
turn, secrets kept home, nothing lost while the daemon is down; Codex's SessionEnd and hook
trust, and its UUIDv7 session ids told apart.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from agents.fakemodel import Script, final, shell, write
from agents.harness import KINDS, MODELS, SUMMARY_KINDS, Session, World, git, wait_for

from spacesd.agentkinds import short_session_id
from spacesd.transcripts import summarize

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only (install.sh)"),
    pytest.mark.skipif(shutil.which("npm") is None or shutil.which("node") is None,
                       reason="the real clients need node and npm"),
    pytest.mark.timeout(600),
]

SECRET_KEY = "sk-ant-api03-" + "Zq7" * 12
SECRET_PASSWORD = "hunter2-" + "x9" * 6
PEER_MARK = "Recent activity of peer agent sessions"
QUIET_COMMIT = "git add -A && git commit -q -m 'add calc' && git log --oneline -1"


def work_script(project: Path, kind: str) -> Script:
    """A short session: write a file, run a passing and a failing command, the tests, and a
    quiet commit; then the final answer."""
    return Script([
        write(str(project / f"calc_{kind}.py"), "def add(a, b):\n    return a + b\n"),
        shell("echo ok"),
        shell("ls /nonexistent-dir"),
        shell(f"echo {SECRET_KEY} > /dev/null"),
        shell("python3 -m unittest -v"),
        shell(QUIET_COMMIT.replace("add calc", f"add calc for {kind}")),
        final(f"Added calc_{kind}.py; the tests pass."),
    ])


def prompt_for(kind: str) -> str:
    return f"Add an add() helper for {kind} (db password={SECRET_PASSWORD})"


def peer_context(request_text: str) -> str:
    """The peer context inside a request body (JSON text): from its first words to the end of
    the JSON string holding it (or of Gemini's <hook_context> block)."""
    m = re.search(re.escape(PEER_MARK) + r'(?:[^"\\]|\\.)*', request_text)
    return m.group(0).split("</hook_context>")[0] if m else ""


def posted(world: World, s: Session, n: int = 1, timeout: float = 20.0) -> list[dict[str, Any]]:
    """The summaries posted for session `s`, once there are `n` (then a moment more, to see
    that no other comes)."""
    sid = s.session_id
    wait_for(lambda: len(world.summaries(sid)) >= n, timeout)
    time.sleep(1.0)
    return world.summaries(sid)


@dataclass
class Round:
    """Sessions of the three clients, one after the other in one project, then a fourth."""

    project: Path
    sessions: dict[str, Session]
    last: Session
    commits: dict[str, str]


@pytest.fixture(scope="module")
def round_(agent_world: World) -> Round:
    world = agent_world
    project = world.project("round")
    sessions: dict[str, Session] = {}
    commits: dict[str, str] = {}
    for kind in KINDS:
        s = world.run(kind, project, work_script(project, kind), prompt_for(kind))
        posted(world, s)  # the hooks are done before the next session starts
        sessions[kind] = s
        commits[kind] = git(project, "log", "-1", "--format=%h %s").strip()
    last = world.run("claude", project, Script([final("Nothing to do.")]), "Say hello")
    posted(world, last)  # the summary is posted detached from the client, after it exits
    return Round(project, sessions, last, commits)


@pytest.mark.parametrize("kind", KINDS)
def test_the_summary_tells_what_the_real_session_did(agent_world: World, round_: Round,
                                                     kind: str) -> None:
    s = round_.sessions[kind]
    summaries = posted(agent_world, s)
    assert len(summaries) == 1, summaries  # one session turn, one post
    got = summaries[0]
    assert got["agent_kind"] == SUMMARY_KINDS[kind]
    assert got["task"] == prompt_for(kind).replace(SECRET_PASSWORD, "[REDACTED]")
    assert got["files"] == [f"calc_{kind}.py"]
    assert got["commands"][:2] == ["echo ok", "ls /nonexistent-dir"]
    assert got["failed_commands"] == ["ls /nonexistent-dir"]
    assert got["commands_total"] == 5
    assert [(t["command"], t["ok"]) for t in got["tests"]] == [("python3 -m unittest -v", True)]
    assert "Ran 1 test" in got["tests"][0]["result"]
    short, message = round_.commits[kind].split(" ", 1)
    assert message == f"add calc for {kind}"
    assert got["commits"] == [{"hash": short, "branch": "main", "message": message}]
    assert got["model"] == MODELS[kind]
    requests = len(s.requests)
    assert requests == 7
    assert got["tokens"]["input"] + got["tokens"]["cache_read"] == 1200 * requests
    assert got["tokens"]["output"] == 40 * requests
    assert got["final_message"] == f"Added calc_{kind}.py; the tests pass."
    assert got["git_branch"] == "main" and got["project"] == str(round_.project)
    # ... and it is the summary of the transcript the client wrote
    local = summarize(s.transcript, cwd=str(round_.project))
    for key in ("files", "commands", "failed_commands", "model"):
        assert got[key] == json.loads(json.dumps(local[key]).replace(SECRET_KEY, "[REDACTED]"))
    assert [c["hash"] for c in got["commits"]] == [c["hash"] for c in local["commits"]]


@pytest.mark.parametrize("kind", KINDS)
def test_the_next_session_hands_its_model_the_peer_context(round_: Round, kind: str) -> None:
    order = [*KINDS, "last"]
    later = [round_.sessions[k] if k != "last" else round_.last
             for k in order[order.index(kind) + 1:]]
    here = round_.sessions[kind]
    for s in later[:1]:  # the very next session (of another client) heard of this one
        first = s.requests[0].text
        assert PEER_MARK in first, f"{s.kind}'s request has no peer context"
        assert f"task '{prompt_for(kind).replace(SECRET_PASSWORD, '[REDACTED]')}'" in first
        assert f"({SUMMARY_KINDS[kind]}, session {short_session_id(here.session_id)})" in first
        assert f"calc_{kind}.py" in first
    if kind != "claude":  # sessions before it: it saw theirs, in its own first request
        assert PEER_MARK in here.requests[0].text


@pytest.mark.parametrize("kind", KINDS)
def test_the_client_has_spaces_mcp_tools(round_: Round, kind: str) -> None:
    """The client started `spacesd mcp` (installed with the hooks) and offers its model the
    tools: the server speaks MCP to the real clients, not only to the SDK's client."""
    text = round_.sessions[kind].requests[0].text
    name = {"claude": "mcp__spaces__inbox", "codex": '"inbox"', "gemini": "mcp_spaces_inbox"}
    assert name[kind] in text and ("Agent sessions taking part" in text or kind == "claude")


def test_spaces_own_context_is_never_read_back_as_a_task(agent_world: World,
                                                         round_: Round) -> None:
    """Gemini puts the context in front of the prompt (<hook_context>); no client's summary
    quotes it, so no session feeds on the last one's context."""
    for s in [*round_.sessions.values(), round_.last]:
        for summary in agent_world.summaries(s.session_id):
            text = json.dumps(summary)
            assert PEER_MARK not in text and "hook_context" not in text, s.kind
    assert agent_world.summaries(round_.last.session_id)[0]["task"] == "Say hello"
    request = round_.last.requests[0].text  # the context the 4th session got
    assert request.count(PEER_MARK) == 1
    assert "&lt;" not in request and "hook_context&gt;" not in request


def test_secrets_stay_home(agent_world: World, round_: Round) -> None:
    everything = json.dumps(agent_world.messages())
    assert SECRET_KEY not in everything and SECRET_PASSWORD not in everything
    assert "[REDACTED]" in everything
    for s in [*round_.sessions.values(), round_.last]:
        for r in s.requests[:1]:  # the peer context handed to the model
            context = peer_context(r.text)
            assert SECRET_KEY not in context and SECRET_PASSWORD not in context
            assert s.kind == "claude" or "[REDACTED]" in context


def test_several_sessions_of_several_clients_at_once(agent_world: World) -> None:
    world = agent_world
    projects = {k: world.project(f"together-{k}") for k in KINDS}
    started = [world.start(k, projects[k], work_script(projects[k], k), prompt_for(k))
               for k in KINDS]
    started += [world.start("claude", projects["claude"], Script([shell("echo more"),
                                                                  final("ok")]),
                            f"Claude turn {i}") for i in range(4)]
    for s in started:
        assert s.wait() == 0, s.stderr[-2000:]
    # Each session posted exactly once: no Stop/SessionEnd near-duplicate (Claude Code's Stop
    # often reads its transcript before the turn's last message is in it; under this load,
    # about half of its sessions posted twice before the fix, 7 of 12 in one run).
    for s in started:
        summaries = posted(world, s)
        assert len(summaries) == 1, (s.kind, summaries)
        assert summaries[0]["agent_kind"] == SUMMARY_KINDS[s.kind]
    assert len({s.session_id for s in started}) == len(started)


def test_nothing_is_lost_while_the_daemon_is_down(agent_world: World) -> None:
    world = agent_world
    projects = {k: world.project(f"offline-{k}") for k in KINDS}
    world.stop_daemon()
    try:
        sessions = [world.start(k, projects[k], work_script(projects[k], k), prompt_for(k))
                    for k in KINDS]
        for s in sessions:
            assert s.wait() == 0, s.stderr[-2000:]
        # the summaries are written detached from the clients (and Gemini's SessionEnd is
        # not awaited): one entry per session, once each has settled
        outbox = world.state / "outbox"
        wait_for(lambda: len(list(outbox.glob("*.json"))) >= len(KINDS), 30)
        time.sleep(1.0)
        queued = list(outbox.glob("*.json"))
    finally:
        world.start_daemon()
    assert queued, "the hooks queued nothing while the daemon was down"
    for s in sessions:
        summaries = posted(world, s, timeout=30)
        assert len(summaries) == 1, (s.kind, summaries)
        assert summaries[0]["files"] == [f"calc_{s.kind}.py"]


def test_codex_session_ids_are_told_apart(agent_world: World) -> None:
    """UUIDv7 ids of sessions started close together share their first 8 characters; the
    peer context shows each session distinctly."""
    world = agent_world
    project = world.project("codex-ids")
    a = world.run("codex", project, Script([final("first")]), "First codex task")
    b = world.run("codex", project, Script([final("second")]), "Second codex task")
    # UUIDv7: a millisecond timestamp first, so ids of sessions started close together
    # share their head (the first 8 hex digits change every 65.5 s, the first 6 every 4.7 h)
    assert a.session_id[14] == b.session_id[14] == "7"
    assert a.session_id[:6] == b.session_id[:6]
    posted(world, a)
    posted(world, b)
    c = world.run("claude", project, Script([final("ok")]), "Look around")
    context = c.requests[0].text
    tags = re.findall(r"\(codex, session ([0-9a-f]{8})\)", context)
    ours = {short_session_id(a.session_id), short_session_id(b.session_id)}
    assert len(ours) == 2 and ours <= set(tags)
    assert a.session_id[:8] not in tags and b.session_id[:8] not in tags


def test_codex_session_end_posts_what_the_cooldown_held_back(agent_world: World) -> None:
    """A resumed Codex session's turn falls in the cooldown; its SessionEnd (registered, 3 s)
    posts it when `codex exec` ends."""
    world = agent_world
    hooks = json.loads((world.home / ".codex" / "hooks.json").read_text())
    assert hooks["hooks"]["SessionEnd"][0]["hooks"][0]["timeout"] == 3
    project = world.project("codex-end")
    env = {"SPACES_COOLDOWN": "300"}
    first = world.run("codex", project, Script([shell("echo one"), final("one")]),
                      "Turn one", env=env)
    assert len(posted(world, first)) == 1
    second = world.run("codex", project,
                       Script([shell("echo one"), shell("echo two"), final("two")]),
                       "Turn two", env=env, resume=first.session_id)
    assert second.session_id == first.session_id
    summaries = posted(world, first, n=2)
    assert len(summaries) == 2
    assert summaries[-1]["commands"] == ["echo one", "echo two"]
    assert summaries[-1]["prompts"] == 2


def test_codex_runs_no_untrusted_hook_and_spaces_says_so(agent_world: World) -> None:
    world = agent_world
    project = world.project("codex-trust")
    s = world.run("codex", project, Script([final("done")]), "Untrusted", trust=False)
    time.sleep(1.0)
    assert world.summaries(s.session_id) == []  # Codex skipped the hooks silently
    for args in (("hooks", "install", "--agent", "codex"), ("hooks", "status")):
        out = world.spacesd(*args).stdout
        assert "/hooks" in out and "--dangerously-bypass-hook-trust" in out, out
    gemini = world.spacesd("hooks", "install", "--agent", "gemini").stdout
    assert "enable" not in gemini.lower(), gemini


def test_install_leaves_the_checkout_clean(agent_world: World) -> None:
    src = agent_world.base / "src"
    assert not (src / "build").exists()
    assert not list(src.glob("*.egg-info"))


def test_transcript_files_are_the_clients_own(round_: Round) -> None:
    """Where each client keeps its transcript (and the format the reader saw in it)."""
    formats = {k: summarize(s.transcript)["format"] for k, s in round_.sessions.items()}
    assert formats == {"claude": "claude-code", "codex": "codex", "gemini": "gemini-cli"}
    gemini = round_.sessions["gemini"].transcript
    assert gemini.suffix == ".jsonl" and gemini.parent.name == "chats"
    first = json.loads(gemini.read_text().splitlines()[0])
    assert {"sessionId", "projectHash", "startTime"} <= set(first)
    assert subprocess.run(["git", "status", "--porcelain"], cwd=round_.project,
                          capture_output=True, text=True, check=True).stdout == ""
