"""Live delivery end to end on the embedded backend: the real daemon, the real hook (the C fast
path built as `spacesd hooks install` builds it, then the Python pending path), as the clients
run it — stdin a JSON payload, stdout the client's JSON.

A mentions B; B's next hook point carries the message exactly once; A's receipt goes Queued ->
Delivered -> Read; a hook killed before its output is flushed leaves the item pending for the
next hook point; the turn-end point carries only what is addressed to the session; the
asyncRewake waiter exits 2 with the message only when one arrives.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import time
from typing import Any

import pytest
from conftest import SpacesEnv, ThreadDaemon

from spacesd import fasthook

pytestmark = pytest.mark.skipif(fasthook._compiler() is None, reason="no C compiler")

A = "aaaaaaaa-1111-4111-8111-aaaaaaaaaaaa"
B = "bbbbbbbb-2222-4222-8222-bbbbbbbbbbbb"


@pytest.fixture(scope="module")
def helper(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, ...]:
    built = fasthook.build(tmp_path_factory.mktemp("bin"))
    assert built.fast
    return built.argv


def hook_env(env: SpacesEnv, **extra: str) -> dict[str, str]:
    e = {k: v for k, v in env.env.items()
         if k not in ("CLAUDE_CODE_SESSION_ID", "GEMINI_SESSION_ID", "CLAUDE_PID")}
    return {**e, **extra}


def payload(session: str, event: str, **extra: Any) -> bytes:
    return json.dumps({"session_id": session, "transcript_path": "/t.jsonl", "cwd": "/tmp",
                       "hook_event_name": event, **extra}).encode()


def run_hook(helper: tuple[str, ...], env: SpacesEnv, event: str, agent: str, session: str,
             name: str, **extra: Any) -> tuple[int, Any, bytes]:
    p = subprocess.run([*helper, event, agent], input=payload(session, name, **extra),
                       capture_output=True, env=hook_env(env), timeout=30)
    return p.returncode, json.loads(p.stdout) if p.stdout.strip() else None, p.stderr


def context_of(out: Any) -> str:
    assert out is not None
    return str(out["hookSpecificOutput"]["additionalContext"])


def receipt(d: ThreadDaemon, sent: dict[str, Any], want: str) -> dict[str, Any]:
    """A's receipt for what it sent (a message, or a DM), once it reads `want` (10 s)."""
    deadline = time.monotonic() + 10
    while True:
        if sent.get("dm"):
            rec = next(r for r in d.ok("receipts", session=A, limit=50)
                       if r["dm_id"] == sent["id"])
        else:
            rec = d.ok("receipts", session=A, message_id=sent["id"])[0]
        if rec["state"] == want or time.monotonic() > deadline:
            return dict(rec)
        time.sleep(0.02)


def sessions(d: ThreadDaemon, helper: tuple[str, ...], env: SpacesEnv,
             agent_b: str = "claude") -> str:
    """A and B start through their real SessionStart hooks; B's handle."""
    assert run_hook(helper, env, "start", "claude", A, "SessionStart", source="startup")[0] == 0
    assert run_hook(helper, env, "start", agent_b, B, "SessionStart", source="startup")[0] == 0
    # with nothing to deliver, SessionStart's presence runs detached: registered a moment later
    deadline = time.monotonic() + 10
    while True:
        who = {w["session"]: w for w in d.ok("who")}
        if {A, B} <= set(who) or time.monotonic() > deadline:
            return str(who[B]["handle"])
        time.sleep(0.02)


@pytest.fixture
def d(daemon: ThreadDaemon) -> ThreadDaemon:
    return daemon


@pytest.mark.parametrize(("agent", "event", "name"), [
    ("claude", "post", "PostToolUse"), ("codex", "post", "PostToolUse"),
    ("gemini", "post", "AfterTool")])
def test_mention_reaches_the_next_hook_exactly_once(
        d: ThreadDaemon, spaces_env: SpacesEnv, helper: tuple[str, ...], agent: str,
        event: str, name: str) -> None:
    handle = sessions(d, helper, spaces_env, agent)
    sent = d.ok("post", session=A, to="#general", text=f"{handle} can you rebase first?")
    assert receipt(d, sent, "Queued")["state"] == "Queued"
    rc, out, err = run_hook(helper, spaces_env, event, agent, B, name, tool_name="Bash")
    assert (rc, err) == (0, b"")
    text = context_of(out)
    assert text.count("can you rebase first?") == 1 and f"mention #{sent['id']}" in text
    assert out["hookSpecificOutput"]["hookEventName"] == name
    assert receipt(d, sent, "Delivered")["state"] == "Delivered"
    # the next hook points: nothing more (marker gone, no Python started)
    marker = spaces_env.runtime_dir / "live" / f"{B}.inbox"
    deadline = time.monotonic() + 5  # the ack was sent without waiting for its answer
    while marker.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not marker.exists()
    for _ in range(2):
        assert run_hook(helper, spaces_env, event, agent, B, name) == (0, None, b"")
    d.ok("post", session=B, to=f"reply:{sent['id']}", text="rebased")
    assert receipt(d, sent, "Read")["state"] == "Read"


def test_parallel_hooks_of_one_session_deliver_once(
        d: ThreadDaemon, spaces_env: SpacesEnv, helper: tuple[str, ...]) -> None:
    """Claude Code runs PostToolUse concurrently for parallel calls, then PostToolBatch."""
    handle = sessions(d, helper, spaces_env)
    d.ok("post", session=A, to="#general", text=f"{handle} once only")
    procs = [subprocess.Popen([*helper, ev, "claude"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, env=hook_env(spaces_env))
             for ev in ("post", "post", "post", "batch")]
    outs = [p.communicate(payload(B, "PostToolUse"), timeout=30)[0] for p in procs]
    assert sum(o.count(b"once only") for o in outs) == 1


def test_killed_before_flush_stays_pending(d: ThreadDaemon, spaces_env: SpacesEnv,
                                           helper: tuple[str, ...],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import spacesd.daemon.live as live

    monkeypatch.setattr(live, "CLAIM_S", 0.5)
    handle = sessions(d, helper, spaces_env)
    sent = d.ok("post", session=A, to="#general", text=f"{handle} do not lose me")
    r, w = os.pipe()
    fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, 4096)
    os.set_blocking(w, False)
    try:
        while True:  # fill the pipe: the hook's write of its output blocks
            os.write(w, b"x" * 4096)
    except BlockingIOError:
        pass
    os.set_blocking(w, True)
    p = subprocess.Popen([*helper, "post", "claude"], stdin=subprocess.PIPE, stdout=w,
                         env=hook_env(spaces_env))
    os.close(w)
    assert p.stdin is not None
    p.stdin.write(payload(B, "PostToolUse"))
    p.stdin.close()
    time.sleep(1.0)  # it claimed and now sits in write(), before any flush
    assert p.poll() is None
    p.send_signal(signal.SIGKILL)
    p.wait(10)
    os.close(r)
    assert receipt(d, sent, "Queued")["state"] == "Queued"
    assert (spaces_env.runtime_dir / "live" / f"{B}.inbox").exists()
    time.sleep(0.6)  # the claim lapses
    out = run_hook(helper, spaces_env, "post", "claude", B, "PostToolUse")[1]
    assert context_of(out).count("do not lose me") == 1
    assert receipt(d, sent, "Delivered")["state"] == "Delivered"


def test_turn_end_carries_only_what_is_addressed(d: ThreadDaemon, spaces_env: SpacesEnv,
                                                 helper: tuple[str, ...]) -> None:
    handle = sessions(d, helper, spaces_env, "codex")
    d.ok("follow", session=B, channel="general")
    d.ok("post", session=A, to="#general", text="channel chatter")
    rc, out, _ = run_hook(helper, spaces_env, "stop", "codex", B, "Stop",
                          stop_hook_active=False)
    assert (rc, out) == (0, None)  # channel traffic does not keep a finished turn going
    d.ok("post", session=A, to=handle, text="a direct question")
    rc, out, _ = run_hook(helper, spaces_env, "stop", "codex", B, "Stop",
                          stop_hook_active=False)
    assert out["decision"] == "block" and "a direct question" in out["reason"]
    assert "channel chatter" not in out["reason"]
    rc, out, _ = run_hook(helper, spaces_env, "post", "codex", B, "PostToolUse")
    assert "channel chatter" in context_of(out)  # mid-turn it comes


def test_waiter_wakes_only_with_a_message(d: ThreadDaemon, spaces_env: SpacesEnv,
                                          helper: tuple[str, ...]) -> None:
    handle = sessions(d, helper, spaces_env)
    env = hook_env(spaces_env, SPACES_WAKE_TIMEOUT="30")
    p = subprocess.Popen([*helper, "wake", "claude"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert p.stdin is not None
    p.stdin.write(payload(B, "Stop"))
    p.stdin.close()
    p.stdin = None
    time.sleep(0.5)
    assert p.poll() is None  # idle: it waits (pushed, no polling)
    sent = d.ok("post", session=A, to=handle, text="wake up please")
    out, err = p.communicate(timeout=20)
    assert p.returncode == 2 and out == b"" and err.count(b"wake up please") == 1
    assert receipt(d, sent, "Delivered")["state"] == "Delivered"
    # a turn that starts first cancels the waiter: exit 0, silent
    p = subprocess.Popen([*helper, "wake", "claude"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert p.stdin is not None
    p.stdin.write(payload(B, "Stop"))
    p.stdin.close()
    p.stdin = None
    time.sleep(0.5)
    run_hook(helper, spaces_env, "prompt", "claude", B, "UserPromptSubmit", prompt="go")
    assert p.communicate(timeout=20) == (b"", b"") and p.returncode == 0
