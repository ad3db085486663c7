"""Live delivery with the real clients (tests/agents: Claude Code 2.1.328, Codex 0.169.0,
Gemini CLI 0.61.0 against a scripted fake model; Spaces installed by install.sh and `spacesd
hooks install`, so the live hooks run through the C fast path built there), on the embedded
backend and on the real SpacetimeDB server (`agent_world_stdb`: the daemon on a database of the
server of tests/real_stdb.py).

- Two sessions in one project: A mentions B's handle while B is running a tool; B's very next
  model request carries the message, exactly once (and no later request carries it twice); A's
  receipt reads Delivered, then Read after B replies. B is Claude Code, Codex and Gemini. On
  the real server, each session is its own identity there (the server's `session_info` and
  `user_profile` rows: two agent profiles on the daemon's machine, neither the daemon's identity).
- A hook killed before it flushed its output leaves the item pending; it arrives at a later
  hook point (after the 15 s claim lapses), exactly once.
- An idle Claude Code session (stream-json input kept open) is woken by a DM through the
  asyncRewake waiter: a new model request carries it; the woken turn (whose
  UserPromptSubmit carries the waiter's text) keeps the count the cap on wake-ups reads.

A's message is posted through the daemon's `post` op as A's participant (the session A's hooks
registered), as an agent's `spacesd post` would.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from agents.fakemodel import FakeModel, Recorded, Script, final, shell
from agents.harness import LIVE_CLIENT_MARKS, MODELS, NODE_BIN, Session, World, wait_for

from spacesd.daemon.live import in_transcript
from spacesd.ipc import Client, Ok

pytestmark = LIVE_CLIENT_MARKS


@pytest.fixture(params=["embedded", "real"])
def live_world(request: pytest.FixtureRequest) -> World:
    """The real clients with Spaces installed, on the embedded backend or the real server."""
    name = "agent_world" if request.param == "embedded" else "agent_world_stdb"
    world: World = request.getfixturevalue(name)
    return world


def op(world: World, name: str, timeout: float = 20, **args: Any) -> Any:
    sock = world.base / "run" / "spacesd" / "spacesd.sock"
    with Client(sock, timeout=timeout) as c:
        res = c.request(name, args)
    assert isinstance(res, Ok), f"{name} {args}: {res}"
    return res.result


def sessions_now(world: World) -> dict[str, dict[str, Any]]:
    return {w["session"]: w for w in op(world, "who", all=True) if w.get("session")}


def new_session(world: World, before: set[str], agent: str) -> dict[str, Any]:
    """The participant a new session's SessionStart hook registered."""
    def found() -> dict[str, Any] | None:
        return next((w for s, w in sessions_now(world).items()
                     if s not in before and w["agent"] == agent), None)
    got: dict[str, Any] = wait_for(found, 60)
    return got


def receipt(world: World, a: str, sent: dict[str, Any], want: str) -> dict[str, Any]:
    def state() -> dict[str, Any] | None:
        for r in op(world, "receipts", session=a, limit=50):
            if (r["dm_id"] if sent.get("dm") else r["message_id"]) == sent["id"]:
                return r if r["state"] == want else None
        return None
    got: dict[str, Any] = wait_for(state, 30)
    return got


def after(requests: list[Recorded], t: float) -> list[Recorded]:
    return [r for r in requests if r.at > t]


def start_a_and_b(world: World, project: Path, kind_b: str,
                  steps_b: list[Any]) -> tuple[Session, Session, dict[str, Any], dict[str, Any]]:
    before = set(sessions_now(world))
    b = world.start(kind_b, project, Script(steps_b), prompt="Work on the build.")
    pb = new_session(world, before, kind_b)
    a = world.start("claude", project, Script([shell("sleep 3"), final("Asked B.")]),
                    prompt="Coordinate with B.")
    pa = new_session(world, before | {pb["session"]}, "claude")
    return a, b, pa, pb


def _hex(value: Any) -> str:
    """An identity from the server's rows ("0x..."), as the daemon spells it (bare hex)."""
    return str(value).lower().removeprefix("0x")


def assert_distinct_identities_on_server(world: World, *parts: dict[str, Any]) -> None:
    """Each session is its own identity in the server's rows: a `session_info` row on this
    daemon's machine and an agent profile in `user_profile` under its handle, none the daemon's."""
    machine = op(world, "status")["identity"]
    infos = {_hex(r["identity"]): r for r in world.sql("SELECT * FROM session_info")}
    users = {_hex(r["identity"]): r for r in world.sql("SELECT * FROM user_profile")}
    ids = [p["identity"] for p in parts]
    assert len({*ids, machine}) == len(ids) + 1, (ids, machine)
    for p in parts:
        assert _hex(infos[p["identity"]]["machine"]) == machine
        assert users[p["identity"]]["username"] == p["handle"].removeprefix("@")
        assert users[p["identity"]]["is_agent"] is True


@pytest.mark.parametrize("kind_b", ["claude", "codex", "gemini"])
def test_a_mentions_b_next_request_exactly_once(live_world: World, kind_b: str) -> None:
    world = live_world
    project = world.project(f"live-{kind_b}")
    a, b, pa, pb = start_a_and_b(world, project, kind_b,
                                 [shell("sleep 8"), shell("echo second"), final("Done.")])
    token = f"rebase-{kind_b}-{os.getpid()}"
    wait_for(lambda: len(b.requests) >= 1, 60)  # B is inside its first tool call
    t_post = time.time()
    sent = op(world, "post", session=pa["session"], to="#general",
              text=f"{pb['handle']} please {token} onto main first")
    assert receipt(world, pa["session"], sent, "Queued")["handle"] == pb["handle"]
    if world.stdb:
        assert_distinct_identities_on_server(world, pa, pb)
    assert b.wait() == 0, b.stderr[-3000:]
    assert a.wait() == 0, a.stderr[-3000:]
    later = after(b.requests, t_post)
    assert later, "B sent no model request after the mention"
    assert token in later[0].text, "not in B's very next model request"
    assert all(r.text.count(token) == 1 for r in later), [r.text.count(token) for r in later]
    assert not any(token in r.text for r in b.requests if r.at <= t_post)
    fence = re.search(r"\[spaces ([0-9a-f]{4})\]", later[0].text)
    assert fence and f"--- {fence.group(1)} end ---" in later[0].text
    if kind_b == "gemini":  # what the daemon's check of a lapsed claim finds (6.2)
        headers = re.findall(rf"--- {fence.group(1)} (?!end ---)[^\n\\]*---", later[0].text)
        assert headers and in_transcript(str(b.transcript), headers), headers
    assert receipt(world, pa["session"], sent, "Delivered")
    op(world, "post", session=pb["session"], to=f"reply:{sent['id']}", text="rebased")
    assert receipt(world, pa["session"], sent, "Read")["read_at"]


def hook_pids(session: str, events: tuple[str, ...]) -> list[int]:
    """Live hook processes (the Python pending path) of `session` at one of `events`."""
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            argv = (d / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"from spacesd.hooks.live import main" in b" ".join(argv) and (
                any(e.encode() in argv for e in events) and session.encode() in argv):
            found.append(int(d.name))
    return found


def test_hook_killed_before_flush_delivers_later(live_world: World) -> None:
    world = live_world
    project = world.project("live-kill")
    a, b, pa, pb = start_a_and_b(world, project, "claude",
                                 [shell("sleep 6"), shell("sleep 20"), final("Done.")])
    wait_for(lambda: len(b.requests) >= 1, 60)
    time.sleep(1.0)  # B's first tool (sleep 6) is running; its PreToolUse is behind us
    token = f"survive-{os.getpid()}"
    sent = op(world, "post", session=pa["session"], to="#general",
              text=f"{pb['handle']} {token}")
    daemon = world.daemon_pid()
    assert daemon is not None
    t_stop = time.time()
    os.kill(daemon, signal.SIGSTOP)  # the hooks' claims wait; they are killed meanwhile
    first = float("inf")
    killed: list[int] = []
    try:  # PostToolUse and PostToolBatch both run after the tool: kill every one of them
        deadline = time.monotonic() + 30
        while (not killed or time.monotonic() < first + 1.5) and time.monotonic() < deadline:
            for pid in hook_pids(pb["session"], ("post", "batch")):
                if pid not in killed:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    first = first if len(killed) > 1 else time.monotonic()
            time.sleep(0.003)
    finally:
        os.kill(daemon, signal.SIGCONT)
    assert killed, "B's PostToolUse hook was never seen"
    assert b.wait() == 0, b.stderr[-3000:]
    a.wait()
    later = after(b.requests, t_stop)
    assert len(later) >= 2
    assert token not in later[0].text  # the killed hook printed nothing
    carrying = [r for r in later if token in r.text]
    assert carrying and carrying[0] is later[1]  # the next hook point after the lapse
    assert all(r.text.count(token) == 1 for r in carrying)
    assert receipt(world, pa["session"], sent, "Delivered")


def test_idle_claude_session_is_woken_by_a_dm(agent_world: World) -> None:
    world = agent_world
    project = world.project("live-wake")
    wired = json.loads((world.home / ".local/share/spacesd/live-wiring.json").read_text())
    assert wired["claude"]["can_wake"] is True and wired["claude"]["version"] == "2.1.328"
    before = set(sessions_now(world))
    model = FakeModel(Script([final("Idle now."), final("Read the DM.")],
                             model=MODELS["claude"])).start()
    env = world.client_env("claude", model.url)
    proc = subprocess.Popen(
        [str(NODE_BIN / "claude"), "-p", "--input-format", "stream-json", "--output-format",
         "stream-json", "--verbose", "--model", MODELS["claude"],
         "--dangerously-skip-permissions"], cwd=project, env=env, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdin is not None
    try:
        proc.stdin.write(json.dumps({"type": "user", "message": {
            "role": "user", "content": "Wait for messages."}}) + "\n")
        proc.stdin.flush()
        pb = new_session(world, before, "claude")
        assert pb["can_wake"] is True
        wait_for(lambda: len(model.model_requests()) >= 1, 60)
        wait_for(lambda: sessions_now(world)[pb["session"]]["state"] == "Idle", 60)
        time.sleep(1.0)  # the waiter is waiting on the daemon
        assert len(model.model_requests()) == 1
        token = f"wake-{os.getpid()}"
        t_dm = time.time()
        sent = op(world, "post", to=pb["handle"], text=f"{token}: are you there?")
        woke = wait_for(lambda: after(model.model_requests(), t_dm), 60)
        assert token in woke[0].text and woke[0].text.count(token) == 1
        assert "Stop hook" in woke[0].text or "system-reminder" in woke[0].text
        # the woken turn runs UserPromptSubmit with the waiter's text as its prompt; it is no
        # user turn, so it keeps the count of wake-ups (hooks/live.py MAX_WAKES), which is
        # what stops two agents from waking each other for ever
        wakes = world.state / "live" / f"{pb['session']}.wakes"
        wait_for(lambda: sessions_now(world)[pb["session"]]["state"] == "Idle", 60)
        assert wakes.read_text().split()[0] == "1"
        rec = next(r for r in op(world, "receipts", limit=50) if r["dm_id"] == sent["id"])
        assert rec["state"] in ("Delivered", "Read")
    finally:
        proc.stdin.close()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
        model.stop()

