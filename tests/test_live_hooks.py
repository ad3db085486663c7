"""The live hooks' pending path (spacesd/hooks/live.py), run as the agents run it: through the
C fast path built by spacesd.fasthook, with stdin on a pipe and stdout in a file.

The daemon side here is a framing server in the test that answers `inbox_claim`, `inbox_ack`,
`session_event` and `wait` and records what the hook asked and when; the real ops are checked
against the real daemon in tests/test_live_delivery.py.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from spacesd import fasthook
from spacesd.hooks import live
from spacesd.ipc import FrameDecoder, ProtocolError, encode_frame

SID = "9a1d7c33-0e4b-4f5a-8d2c-6b7e1f0a2d44"
TEXT = "[spaces 7f3a] Messages from other participants.\n--- 7f3a end ---"
Handler = Callable[[dict[str, Any]], Any]


class Daemon:
    """A framing server: `handlers[op](args)` -> result (an exception -> an error frame)."""

    def __init__(self, path: Path, out_file: Path) -> None:
        self.path, self.out_file = path, out_file
        self.seen: list[tuple[str, dict[str, Any], int]] = []  # op, args, stdout size then
        self.handlers: dict[str, Handler] = {
            "inbox_claim": lambda a: {"claim": "c1", "text": TEXT, "ids": [4812, 4815]},
            "inbox_ack": lambda a: {"acked": 2},
            "session_event": lambda a: {"ok": True},
        }
        self.vanished = False
        self.bad_frames: list[bytes] = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    def ops(self) -> list[str]:
        return [op for op, _, _ in self.seen]

    def acked(self, n: int = 1, timeout: float = 5.0) -> list[str]:
        """ops(), once `n` acks arrived: the hook sends its ack and exits without waiting for
        the answer, so the frame may still be on its way when the hook has exited."""
        deadline = time.monotonic() + timeout
        while self.ops().count("inbox_ack") < n and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.ops()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        dec = FrameDecoder()
        with conn:
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                try:
                    reqs = dec.feed_objects(data)
                except ProtocolError:
                    self.bad_frames.append(data)
                    return
                for req in reqs:
                    size = self.out_file.stat().st_size if self.out_file.exists() else -1
                    self.seen.append((req["op"], req.get("args", {}), size))
                    try:
                        res = {"id": req["id"], "ok": True,
                               "result": self.handlers[req["op"]](req.get("args", {}))}
                    except Exception as e:
                        res = {"id": req["id"], "ok": False,
                               "error": {"code": "unknown_op", "message": str(e)}}
                    try:
                        if self.vanished:  # the daemon dies as it answers: the kernel takes
                            conn.shutdown(socket.SHUT_RD)  # nothing more from the hook
                        conn.sendall(encode_frame(res))
                    except OSError:  # the hook was killed, or closed early
                        return
                    if self.vanished:
                        return

    def close(self) -> None:
        self.sock.close()
        self.path.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def helper(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, ...]:
    return fasthook.build(tmp_path_factory.mktemp("bin")).argv


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items()
         if k not in ("CLAUDE_CODE_SESSION_ID", "GEMINI_SESSION_ID", "CLAUDE_PID")}
    e.update(SPACES_LIVE_DIR=str(tmp_path / "live"), SPACES_SOCKET=str(tmp_path / "d.sock"),
             SPACES_STATE_DIR=str(tmp_path / "state"), SPACES_DATA_DIR=str(tmp_path / "data"))
    (tmp_path / "live").mkdir()
    return e


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    d = Daemon(tmp_path / "d.sock", tmp_path / "out")
    yield d
    d.close()


def hook(argv: tuple[str, ...], event: str, agent: str, payload: dict[str, Any],
         env: dict[str, str], out: Path) -> tuple[int, Any, bytes]:
    with open(out, "wb") as f:
        p = subprocess.run([*argv, event, agent], input=json.dumps(payload).encode(),
                           stdout=f, stderr=subprocess.PIPE, env=env, timeout=30, check=False)
    text = out.read_bytes()
    return p.returncode, json.loads(text) if text.strip() else None, p.stderr


def told(daemon: Daemon, n: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The session_event args the daemon got, once there are `n`: presence with nothing to
    deliver runs detached from the client (the helper returns before it is told)."""
    deadline = time.monotonic() + timeout
    while True:
        events = [a for op, a, _ in list(daemon.seen) if op == "session_event"]
        if len(events) >= n or time.monotonic() > deadline:
            return events
        time.sleep(0.02)


def payload(event: str, **extra: Any) -> dict[str, Any]:
    return {"session_id": SID, "transcript_path": "/t.jsonl", "cwd": "/w",
            "hook_event_name": event, **extra}


CASES = [
    ("claude", "post", "PostToolUse",
     {"hookSpecificOutput": {"hookEventName": "PostToolUse", "additionalContext": TEXT}}),
    ("claude", "batch", "PostToolBatch",
     {"hookSpecificOutput": {"hookEventName": "PostToolBatch", "additionalContext": TEXT}}),
    ("claude", "pre", "PreToolUse",
     {"hookSpecificOutput": {"hookEventName": "PreToolUse", "additionalContext": TEXT}}),
    ("claude", "prompt", "UserPromptSubmit",
     {"hookSpecificOutput": {"hookEventName": "UserPromptSubmit", "additionalContext": TEXT}}),
    ("claude", "stop", "Stop",
     {"hookSpecificOutput": {"hookEventName": "Stop", "additionalContext": TEXT}}),
    ("codex", "post", "PostToolUse",
     {"hookSpecificOutput": {"hookEventName": "PostToolUse", "additionalContext": TEXT}}),
    ("codex", "prompt", "UserPromptSubmit",
     {"hookSpecificOutput": {"hookEventName": "UserPromptSubmit", "additionalContext": TEXT}}),
    ("codex", "stop", "Stop", {"decision": "block", "reason": TEXT}),
    ("gemini", "post", "AfterTool",
     {"hookSpecificOutput": {"hookEventName": "AfterTool", "additionalContext": TEXT}}),
    ("gemini", "prompt", "BeforeAgent",
     {"hookSpecificOutput": {"hookEventName": "BeforeAgent", "additionalContext": TEXT}}),
    ("gemini", "stop", "AfterAgent", {"decision": "deny", "reason": TEXT}),
]


@pytest.mark.parametrize(("agent", "event", "name", "want"), CASES)
def test_each_client_gets_its_shape_then_the_ack(
        helper: tuple[str, ...], env: dict[str, str], daemon: Daemon, tmp_path: Path,
        agent: str, event: str, name: str, want: dict[str, Any]) -> None:
    (tmp_path / "live" / f"{SID}.inbox").touch()
    rc, out, err = hook(helper, event, agent, payload(name), env, tmp_path / "out")
    assert (rc, out, err) == (0, want, b"")
    claims = [(a, size) for op, a, size in daemon.seen if op == "inbox_claim"]
    sent = {"session": SID, "point": event, "budget": 2000}
    if agent == "gemini":  # its session file: the daemon checks it if the claim lapses
        sent["transcript"] = "/t.jsonl"
    assert claims == [(sent, 0)]
    daemon.acked()
    acks = [(a, size) for op, a, size in daemon.seen if op == "inbox_ack"]
    assert len(acks) == 1 and acks[0][0] == {"claim": "c1", "session": SID, "ids": [4812, 4815]}
    assert acks[0][1] > 0, "acked before the output was written"
    assert daemon.ops()[-1] == "inbox_ack"


def test_gemini_before_tool_has_no_context(helper: tuple[str, ...], env: dict[str, str],
                                           daemon: Daemon, tmp_path: Path) -> None:
    (tmp_path / "live" / f"{SID}.inbox").touch()
    assert hook(helper, "pre", "gemini", payload("BeforeTool"), env, tmp_path / "out")[:2] == (
        0, None)
    assert "inbox_claim" not in daemon.ops()
    assert live.gemini_output("pre", "t", "stop now") == {"decision": "deny",
                                                          "reason": "stop now\n\nt"}
    denied = live.claude_output("pre", "t", "stop")
    assert denied is not None
    assert denied["hookSpecificOutput"]["permissionDecision"] == "deny"


def test_nothing_pending_asks_nothing(helper: tuple[str, ...], env: dict[str, str],
                                      daemon: Daemon, tmp_path: Path) -> None:
    for argv in (helper, fasthook.fallback_argv()):
        assert hook(argv, "post", "claude", payload("PostToolUse"), env,
                    tmp_path / "out")[:2] == (0, None)
    assert daemon.seen == []


def test_unwritable_stdout_is_never_acked(helper: tuple[str, ...], env: dict[str, str],
                                          daemon: Daemon, tmp_path: Path) -> None:
    (tmp_path / "live" / f"{SID}.inbox").touch()
    r = subprocess.run(["sh", "-c", 'exec "$@" >&-', "sh", *helper, "post", "codex"],
                       input=json.dumps(payload("PostToolUse")).encode(), env=env,
                       capture_output=True, timeout=30)
    assert (r.returncode, r.stderr) == (0, b"")
    assert daemon.ops() == ["inbox_claim"]
    assert daemon.bad_frames == []  # the delivery never went into the daemon's socket


def test_ack_spooled_when_the_daemon_is_gone(helper: tuple[str, ...], env: dict[str, str],
                                             daemon: Daemon, tmp_path: Path) -> None:
    (tmp_path / "live" / f"{SID}.inbox").touch()

    def claim_then_vanish(args: dict[str, Any]) -> Any:
        daemon.close()
        daemon.vanished = True
        return {"claim": "c9", "text": TEXT, "ids": [7]}

    daemon.handlers["inbox_claim"] = claim_then_vanish
    rc, out, _ = hook(helper, "post", "claude", payload("PostToolUse"), env, tmp_path / "out")
    assert rc == 0 and out["hookSpecificOutput"]["additionalContext"] == TEXT
    # The ack is one frame sent without waiting for its answer; the daemon's end refuses it
    # (EPIPE), so the hook spools it for the daemon's next start: acked once, on disk.
    acks = tmp_path / "state" / "acks"
    spooled = [json.loads(p.read_text()) for p in acks.iterdir()] if acks.is_dir() else []
    assert [a for op, a, _ in daemon.seen if op == "inbox_ack"] == []
    assert spooled == [{"op": "inbox_ack", "args": {"claim": "c9", "session": SID, "ids": [7]}}]
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in acks.iterdir())


def test_turn_end_continuations_are_capped(helper: tuple[str, ...], env: dict[str, str],
                                           daemon: Daemon, tmp_path: Path) -> None:
    (tmp_path / "live" / f"{SID}.inbox").touch()
    first = hook(helper, "stop", "codex", payload("Stop", stop_hook_active=False), env,
                 tmp_path / "out")
    assert first[1] == {"decision": "block", "reason": TEXT}
    second = hook(helper, "stop", "codex", payload("Stop", stop_hook_active=True), env,
                  tmp_path / "out")
    assert second[1] is not None
    third = hook(helper, "stop", "codex", payload("Stop", stop_hook_active=True), env,
                 tmp_path / "out")
    assert third[1] is None  # two continuations in this turn: the rest waits
    assert daemon.ops().count("inbox_claim") == 2
    hook(helper, "prompt", "codex", payload("UserPromptSubmit"), env, tmp_path / "out")
    again = hook(helper, "stop", "codex", payload("Stop", stop_hook_active=True), env,
                 tmp_path / "out")
    assert again[1] is not None  # a new user turn starts the count again


def test_presence_events(helper: tuple[str, ...], env: dict[str, str], daemon: Daemon,
                         tmp_path: Path) -> None:
    env = {**env, "CLAUDE_PID": "4242", "CLAUDE_CODE_SESSION_ID": SID}
    for i, (event, name, extra) in enumerate((
            ("start", "SessionStart", {"source": "startup"}),
            ("notify", "Notification", {"notification_type": "idle_prompt"}),
            ("end", "SessionEnd", {"reason": "other"}))):
        assert hook(helper, event, "claude", payload(name, **extra), env,
                    tmp_path / "out")[:2] == (0, None)
        told(daemon, i + 1)
    events = told(daemon, 3)
    assert [e["event"] for e in events] == ["SessionStart", "Notification", "SessionEnd"]
    assert events[0] == {"session": SID, "agent": "claude", "event": "SessionStart",
                         "pid": 4242, "cwd": "/w", "can_wake": False}
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "live-wiring.json").write_text(json.dumps(
        {"claude": {"version": "2.1.328", "can_wake": True, "fast": True}}))
    hook(helper, "start", "claude", payload("SessionStart"), env, tmp_path / "out")
    assert told(daemon, 4)[-1]["can_wake"] is True
    assert events[1]["notification_type"] == "idle_prompt"
    assert "inbox_claim" not in daemon.ops()  # no marker


def test_presence_told_late_never_undoes_a_newer_one(env: dict[str, str], daemon: Daemon,
                                                     tmp_path: Path) -> None:
    """Detached presence runs may reach the daemon out of order: a Stop's run arriving after
    the SessionEnd that followed it is dropped (the session stays ended); SPACES_HOOK_AT is
    when the client ran the hook."""
    py = fasthook.fallback_argv()
    hook(py, "end", "claude", payload("SessionEnd"), {**env, "SPACES_HOOK_AT": "2000"},
         tmp_path / "out")
    hook(py, "stop", "claude", payload("Stop"), {**env, "SPACES_HOOK_AT": "1000"},
         tmp_path / "out")
    assert [a["event"] for a in told(daemon, 1)] == ["SessionEnd"]
    hook(py, "prompt", "claude", payload("UserPromptSubmit"), {**env, "SPACES_HOOK_AT": "3000"},
         tmp_path / "out")
    assert [a["event"] for a in told(daemon, 2)] == ["SessionEnd", "UserPromptSubmit"]


def test_waiter_exits_2_only_with_items(helper: tuple[str, ...], env: dict[str, str],
                                        daemon: Daemon, tmp_path: Path) -> None:
    daemon.handlers["wait"] = lambda a: {"pending": 1}
    rc, out, err = hook(helper, "wake", "claude", payload("Stop"), env, tmp_path / "out")
    assert (rc, out, err) == (2, None, (TEXT + "\n").encode())
    assert daemon.acked() == ["wait", "inbox_claim", "inbox_ack"]
    assert daemon.seen[1][1]["point"] == "wake"
    daemon.seen.clear()
    daemon.handlers["wait"] = lambda a: {"cancel": True}
    assert hook(helper, "wake", "claude", payload("Stop"), env, tmp_path / "out") == (
        0, None, b"")
    assert daemon.ops() == ["wait"]
    daemon.seen.clear()
    answers = iter([{"timeout": True}, {"timeout": True}, {"pending": 2}])
    daemon.handlers["wait"] = lambda a: next(answers)
    assert hook(helper, "wake", "claude", payload("Stop"), env, tmp_path / "out")[0] == 2
    assert daemon.acked() == ["wait", "wait", "wait", "inbox_claim", "inbox_ack"]
    assert daemon.seen[0][1]["timeout"] == 600
    daemon.close()
    assert hook(helper, "wake", "claude", payload("Stop"), env, tmp_path / "out") == (
        0, None, b"")


def test_wake_ups_are_capped_per_user_turn(helper: tuple[str, ...], env: dict[str, str],
                                           daemon: Daemon, tmp_path: Path) -> None:
    """Two agents answering each other's DMs must not wake each other for ever: at most
    MAX_WAKES wake-ups between the person's prompts; then the waiter exits 0 at once (no
    wait, no claim) until UserPromptSubmit starts the count again."""
    daemon.handlers["wait"] = lambda a: {"pending": 1}
    daemon.handlers["inbox_claim"] = lambda a: {"claim": "c1", "text": TEXT, "ids": [1],
                                                "nonce": "7f3a"}
    # the woken turn's own UserPromptSubmit (Claude Code queues the waiter's text as its
    # prompt) is no user turn: it does not start the count again
    woken = payload("UserPromptSubmit", prompt=f"<task-notification>...{TEXT}</system-reminder>")
    for i in range(live.MAX_WAKES):
        assert hook(helper, "wake", "claude", payload("Stop"), env, tmp_path / "out")[0] == 2
        hook(helper, "prompt", "claude", woken, env, tmp_path / "out")
        told(daemon, i + 1)  # with nothing pending, the prompt hook's run is detached
    daemon.acked(live.MAX_WAKES)
    daemon.seen.clear()
    assert hook(helper, "wake", "claude", payload("Stop"), env, tmp_path / "out") == (
        0, None, b"")
    assert daemon.ops() == []  # not even a wait: the items stay Queued for the next prompt
    hook(helper, "prompt", "claude", payload("UserPromptSubmit", prompt="go on"), env,
         tmp_path / "out")
    told(daemon, 1)  # the count started again before the daemon was told
    assert hook(helper, "wake", "claude", payload("Stop"), env, tmp_path / "out")[0] == 2


def test_a_killed_hook_is_not_acked(helper: tuple[str, ...], env: dict[str, str],
                                    daemon: Daemon, tmp_path: Path) -> None:
    """SIGKILL while the claim is being answered: no output and no ack (the item stays)."""
    (tmp_path / "live" / f"{SID}.inbox").touch()
    gate = threading.Event()

    def slow_claim(args: dict[str, Any]) -> Any:
        gate.wait(10)
        return {"claim": "c2", "text": TEXT, "ids": [1]}

    daemon.handlers["inbox_claim"] = slow_claim
    p = subprocess.Popen([*helper, "post", "claude"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, env=env)
    assert p.stdin is not None and p.stdout is not None
    p.stdin.write(json.dumps(payload("PostToolUse")).encode())
    p.stdin.close()
    while "inbox_claim" not in daemon.ops():
        threading.Event().wait(0.01)
    p.send_signal(signal.SIGKILL)
    p.wait(10)
    gate.set()
    assert p.stdout.read() == b"" and "inbox_ack" not in daemon.ops()


def test_stdlib_only() -> None:
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import spacesd.hooks.live; "
            "print('\\n'.join(sys.modules))")
    r = subprocess.run([sys.executable, "-I", "-S", "-c", code, str(fasthook.pkg_dir())],
                       capture_output=True, text=True, check=True)
    mods = {m.split(".")[0] for m in r.stdout.split()}
    ours = {m for m in r.stdout.split() if m.startswith("spacesd")}
    assert ours == {"spacesd", "spacesd.hooks", "spacesd.hooks.lease", "spacesd.hooks.live",
                    "spacesd.ipc", "spacesd.paths", "spacesd.safeio"}
    assert mods - {"spacesd", "__main__"} <= set(sys.stdlib_module_names), mods - set(
        sys.stdlib_module_names)
    assert not mods & {"typing", "asyncio", "click", "sqlite3", "dataclasses", "subprocess"}


def test_plugin_wrapper(helper: tuple[str, ...], env: dict[str, str], daemon: Daemon,
                        tmp_path: Path) -> None:
    """hooks/spaces-live-hook (the plugin's): the built helper when there is one, else the
    Python pending path from the checkout; the same answer either way."""
    wrapper = (str(Path(__file__).resolve().parents[1] / "hooks" / "spaces-live-hook"),)
    (tmp_path / "live" / f"{SID}.inbox").touch()
    want = {"hookSpecificOutput": {"hookEventName": "PostToolUse", "additionalContext": TEXT}}
    assert hook(wrapper, "post", "claude", payload("PostToolUse"), env, tmp_path / "out") == (
        0, want, b"")
    bin_dir = tmp_path / "data" / "bin"
    bin_dir.mkdir(parents=True)
    os.symlink(helper[0], bin_dir / "spaces-hook")
    (tmp_path / "live" / f"{SID}.inbox").unlink()
    daemon.seen.clear()
    assert hook(wrapper, "post", "claude", payload("PostToolUse"), env, tmp_path / "out")[:2] == (
        0, None)
    assert daemon.seen == []


def test_waiter_never_holds_a_one_shot_claude(helper: tuple[str, ...], env: dict[str, str],
                                              daemon: Daemon, tmp_path: Path) -> None:
    """`claude -p PROMPT` waits for its asyncRewake hooks before it exits (seen with 2.1.328):
    the waiter exits at once there, and such a session reports it cannot be woken."""
    daemon.handlers["wait"] = lambda a: {"pending": 1}
    for argv, waits in ((["-p", "go", "--output-format", "json"], False),
                        (["-p", "--input-format", "stream-json"], True),
                        (["--model", "x"], True)):
        fake = subprocess.Popen(  # stands in for the client: its pid and its command line
            [sys.executable, "-c", "import time; time.sleep(30)", *argv])
        try:
            daemon.seen.clear()
            rc = hook(helper, "wake", "claude", payload("Stop"),
                      {**env, "CLAUDE_PID": str(fake.pid)}, tmp_path / "out")[0]
            assert (rc == 2) is waits and ("wait" in daemon.ops()) is waits
            hook(helper, "start", "claude", payload("SessionStart"),
                 {**env, "CLAUDE_PID": str(fake.pid)}, tmp_path / "out")
            assert told(daemon, 1)[-1]["can_wake"] is False  # no wiring file here either way
        finally:
            fake.kill()
            fake.wait()
