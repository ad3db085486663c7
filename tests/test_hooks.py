"""The two Claude Code hooks: behaviour with the daemon down, against a tiny in-test daemon,
the cooldown, redaction on the way out, and what they import.

Every test points SPACES_STATE_DIR / SPACES_RUNTIME_DIR / SPACES_SOCKET at temporary folders,
so nothing touches the real home.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from spacesd import outbox, paths
from spacesd.hooks import context as context_hook
from spacesd.hooks import log, run
from spacesd.hooks import session as session_hook
from spacesd.ipc import FrameDecoder, decode_payload, encode_frame

ROOT = Path(__file__).resolve().parents[1]


FIXTURES = ROOT / "tests" / "fixtures" / "claude-code"  # Claude Code's samples
HAVE_FIXTURES = (FIXTURES / "stop.json").is_file() and (FIXTURES / "transcript.jsonl").is_file()
needs_fixtures = pytest.mark.skipif(not HAVE_FIXTURES, reason=f"no fixtures at {FIXTURES}")
STOP: dict[str, Any] = (
    json.loads((FIXTURES / "stop.json").read_text()) if HAVE_FIXTURES else {}
)
START: dict[str, Any] = {
    "session_id": "9a1d7c33-0e4b-4f5a-8d2c-6b7e1f0a2d44",
    "transcript_path": "/home/dev/.claude/projects/-home-dev-src-acme-api/"
                       "9a1d7c33-0e4b-4f5a-8d2c-6b7e1f0a2d44.jsonl",
    "cwd": "/home/dev/src/acme-api",
    "permission_mode": "default",
    "hook_event_name": "SessionStart",
    "source": "startup",
    "model": "claude-sonnet-4-5",
}
if (FIXTURES / "session-start.json").is_file():
    START = json.loads((FIXTURES / "session-start.json").read_text())
SESSION_HOOK = ROOT / "hooks" / "spaces-session-hook"
CONTEXT_HOOK = ROOT / "hooks" / "spaces-context-hook"

FORBIDDEN = {
    "asyncio", "click", "websockets", "platformdirs", "filelock", "sqlite3", "typing",
    "dataclasses", "inspect", "subprocess", "tempfile", "hashlib", "logging", "json5",
    "tomllib", "tomli", "spacesd.engine", "spacesd.daemon", "spacesd.cli", "spacesd.stdb",
    "spacesd.model", "ssl", "threading", "concurrent",
}

Answer = Callable[[dict[str, Any]], "dict[str, Any] | None"]


class FakeDaemon:
    """Speaks the framing on a Unix socket; records requests; answers via `answer`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.requests: list[dict[str, Any]] = []
        self.answer: Answer = self.default
        self.context_text = ""
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    def default(self, req: dict[str, Any]) -> dict[str, Any] | None:
        op = req.get("op")
        if op == "post_summary":
            return {"id": req["id"], "ok": True,
                    "result": {"id": len(self.requests), "channel": "agent-logs"}}
        if op == "context":
            return {"id": req["id"], "ok": True,
                    "result": {"text": self.context_text, "message_ids": [1]}}
        return {"id": req["id"], "ok": False, "error": {"code": "unknown_op", "message": op}}

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
                for payload in dec.feed(data):
                    req = decode_payload(payload)
                    self.requests.append(req)
                    ans = self.answer(req)
                    if ans is not None:
                        conn.sendall(encode_frame(ans))

    def ops(self, op: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r.get("op") == op]

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() thread on Linux
        self.sock.close()
        with contextlib.suppress(OSError):
            self.path.unlink()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Temp state/runtime dirs, a short socket path, and a clean SPACES_* environment."""
    with tempfile.TemporaryDirectory(prefix="sph-", dir="/tmp") as d:
        base = Path(d)
        for var in list(os.environ):
            if var.startswith("SPACES_"):
                monkeypatch.delenv(var)
        values = {
            "SPACES_STATE_DIR": str(base / "state"),
            "SPACES_RUNTIME_DIR": str(base / "run"),
            "SPACES_SOCKET": str(base / "s.sock"),
            "SPACES_CONFIG_DIR": str(base / "config"),
            "SPACES_DATA_DIR": str(base / "data"),
            "SPACES_HOST": "test-host",
        }
        for k, v in values.items():
            monkeypatch.setenv(k, v)
        yield values


@pytest.fixture
def daemon(env: dict[str, str]) -> Iterator[FakeDaemon]:
    d = FakeDaemon(Path(env["SPACES_SOCKET"]))
    yield d
    d.close()


@pytest.fixture
def stop_input(tmp_path: Path) -> dict[str, Any]:
    """stop.json with its transcript copied somewhere writable (absolute path)."""
    if not HAVE_FIXTURES:
        pytest.skip(f"no fixtures at {FIXTURES}")
    t = tmp_path / "transcript.jsonl"
    shutil.copy(FIXTURES / "transcript.jsonl", t)
    return dict(STOP, transcript_path=str(t))


def run_hook(script: Path, stdin: bytes | str, extra_env: dict[str, str] | None = None,
             args: tuple[str, ...] = (), cwd: Path | None = None,
             ) -> tuple[subprocess.CompletedProcess[bytes], float]:
    data = stdin.encode() if isinstance(stdin, str) else stdin
    env = dict(os.environ)
    env.update(extra_env or {})
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, *args, str(script)], input=data, capture_output=True,
                       env=env, cwd=cwd, timeout=30)
    return p, time.monotonic() - t0


def log_lines() -> list[str]:
    try:
        return paths.log_file().read_text().splitlines()
    except FileNotFoundError:
        return []


# -- daemon down ---------------------------------------------------------------------------


@needs_fixtures
def test_session_hook_daemon_down_queues_to_outbox(env: dict[str, str]) -> None:
    # The fixture's stop.json as is: transcript_path is relative; the hook runs in its folder.
    p, dt = run_hook(SESSION_HOOK, json.dumps(STOP), cwd=FIXTURES)
    assert p.returncode == 0 and p.stdout == b""
    assert dt < 1.0, f"{dt:.3f}s"
    pending = outbox.list_pending()
    assert len(pending) == 1
    req = outbox.read(pending[0])
    assert req["op"] == "post_summary"
    s = req["args"]["summary"]
    assert s["session_id"] == STOP["session_id"]
    assert s["task"].startswith("The /v1/orders endpoint returns 500 under load.")
    assert s["commits"][0]["hash"] == "3e1f2a9"
    assert s["final_message"] == STOP["last_assistant_message"]
    assert "channel" not in req["args"]
    assert log_lines() == []  # the daemon being down is not an error for the Stop hook


def test_context_hook_daemon_down_is_silent(env: dict[str, str]) -> None:
    p, dt = run_hook(CONTEXT_HOOK, json.dumps(START))
    assert p.returncode == 0 and p.stdout == b""
    assert dt < 1.0, f"{dt:.3f}s"
    lines = log_lines()
    assert len(lines) == 1 and "unreachable" in lines[0] and START["session_id"] in lines[0]


def test_hooks_daemon_hung_stay_under_a_second(env: dict[str, str], stop_input: dict[str, Any]
                                               ) -> None:
    # A daemon that accepts but never answers: the client's deadline ends it.
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(env["SPACES_SOCKET"])
    srv.listen(8)
    try:
        for script, data in ((CONTEXT_HOOK, START), (SESSION_HOOK, stop_input)):
            p, dt = run_hook(script, json.dumps(data))
            assert p.returncode == 0 and p.stdout == b""
            assert dt < 1.5, f"{script.name}: {dt:.3f}s"
        assert len(outbox.list_pending()) == 1  # not known to be delivered: kept
    finally:
        srv.close()


@pytest.mark.parametrize("script", [SESSION_HOOK, CONTEXT_HOOK])
@pytest.mark.parametrize("stdin", [b"", b"   \n", b"garbage{", b"[1,2]", b'"x"', b"\xff\xfe",
                                   b"{}", b'{"session_id": 5}'])
def test_garbage_stdin_is_silent(env: dict[str, str], script: Path, stdin: bytes) -> None:
    p, _ = run_hook(script, stdin)
    assert p.returncode == 0 and p.stdout == b"" and p.stderr == b""
    assert outbox.list_pending() == []
    lines = log_lines()
    if not stdin.strip():
        assert lines == []  # nothing came: nothing to report
    elif not stdin.startswith(b"{"):
        assert len(lines) == 1 and "stdin" in lines[0]  # unusable input: one line
    else:
        assert len(lines) <= 1


def test_console_scripts_exist_and_behave(env: dict[str, str]) -> None:
    bindir = Path(sys.executable).parent
    for name in ("spaces-session-hook", "spaces-context-hook"):
        exe = bindir / name
        if not exe.exists():
            pytest.skip("package not installed in this interpreter's environment")
        p = subprocess.run([str(exe)], input=b"{}", capture_output=True, timeout=30)
        assert p.returncode == 0 and p.stdout == b""


# -- imports -------------------------------------------------------------------------------


@pytest.mark.parametrize("script", [SESSION_HOOK, CONTEXT_HOOK])
def test_hooks_import_only_cheap_stdlib(env: dict[str, str], script: Path,
                                        stop_input: dict[str, Any], daemon: FakeDaemon) -> None:
    data = stop_input if script == SESSION_HOOK else START
    daemon.context_text = "peer did things"
    p, _ = run_hook(script, json.dumps(data), args=("-X", "importtime"),
                    extra_env={"SPACES_COOLDOWN": "0"})
    assert p.returncode == 0
    imported = set()
    for row in p.stderr.decode().splitlines():
        if row.startswith("import time:") and "|" in row:
            imported.add(row.rsplit("|", 1)[1].strip())
    assert "spacesd.ipc" in imported  # the hook did run its full path
    bad = {m for m in imported if m in FORBIDDEN or m.split(".")[0] in FORBIDDEN}
    assert not bad, f"{script.name} imported {sorted(bad)}"
    if script == SESSION_HOOK:
        assert daemon.ops("post_summary")  # the posting path, not a shortcut
        # a Claude Code transcript loads Claude Code's reader only
        assert "spacesd.transcripts.claude" in imported
        assert not {"spacesd.transcripts.codex", "spacesd.transcripts.gemini"} & imported
    else:
        assert p.stdout


def test_cooldown_path_skips_transcript_and_redaction(env: dict[str, str],
                                                      stop_input: dict[str, Any],
                                                      daemon: FakeDaemon) -> None:
    assert run_hook(SESSION_HOOK, json.dumps(stop_input))[0].returncode == 0
    p, _ = run_hook(SESSION_HOOK, json.dumps(stop_input), args=("-X", "importtime"))
    mods = p.stderr.decode()
    assert "spacesd.transcript" not in mods and "spacesd.redact" not in mods
    assert len(daemon.ops("post_summary")) == 1


# -- the Stop hook against a daemon ----------------------------------------------------------


@needs_fixtures
def test_session_hook_posts_summary(env: dict[str, str], daemon: FakeDaemon,
                                    stop_input: dict[str, Any]) -> None:
    p, _ = run_hook(SESSION_HOOK, json.dumps(stop_input))
    assert p.returncode == 0 and p.stdout == b"" and p.stderr == b""
    [req] = daemon.ops("post_summary")
    s = req["args"]["summary"]
    assert list(s) == list(session_hook.SUMMARY_FIELDS)
    assert s["kind"] == "session_summary" and s["version"] == 1
    assert s["session_id"] == STOP["session_id"]
    assert s["agent_kind"] == "claude-code"
    assert s["host"] == "test-host"
    assert s["project"] == s["cwd"] == "/home/dev/src/acme-api"
    assert s["git_branch"] == "fix/rate-limit"
    assert s["task"] == ("The /v1/orders endpoint returns 500 under load. Find out why and fix "
                         "it; keep the tests green.")
    assert s["files"] == ["app/ratelimit.py", "tests/test_ratelimit.py"]
    assert s["failed_commands"] == ["pytest tests/test_orders.py -x -q"]
    assert [t["result"] for t in s["tests"]] == ["1 failed, 1 passed in 0.84s",
                                                  "8 passed in 1.92s"]
    assert s["commits"] == [{"hash": "3e1f2a9", "branch": "fix/rate-limit",
                             "message": "Make TokenBucket.take atomic"}]
    assert s["tokens"] == {"input": 10768, "output": 1370, "cache_read": 112842,
                           "cache_creation": 0}
    assert s["duration_s"] == pytest.approx(112.144)
    assert s["final_message"] == STOP["last_assistant_message"]
    assert s["stop_hook_active"] is False
    assert s["transcript_partial"] is False
    assert outbox.list_pending() == []
    assert log_lines() == []


def test_second_stop_within_cooldown_posts_nothing(env: dict[str, str], daemon: FakeDaemon,
                                                   stop_input: dict[str, Any]) -> None:
    assert session_hook.handle(stop_input) == "posted"
    assert session_hook.handle(stop_input) == "cooldown"
    with Path(stop_input["transcript_path"]).open("a") as f:
        f.write(json.dumps({"type": "user", "message": {"role": "user", "content": "more"}}))
        f.write("\n")
    assert session_hook.handle(stop_input) == "cooldown"  # changed, but still cooling down
    assert len(daemon.ops("post_summary")) == 1


def test_after_cooldown_changed_posts_unchanged_skips(env: dict[str, str], daemon: FakeDaemon,
                                                      stop_input: dict[str, Any]) -> None:
    assert session_hook.handle(stop_input) == "posted"
    state_file = session_hook.Cooldown(stop_input["session_id"]).path
    state = json.loads(state_file.read_text())
    state["last_post"] -= 301  # five minutes and a second ago
    state_file.write_text(json.dumps(state))
    assert session_hook.handle(stop_input) == "unchanged"
    with Path(stop_input["transcript_path"]).open("a") as f:
        f.write(json.dumps({"type": "assistant", "message": {
            "id": "msg_02", "role": "assistant", "content": [
                {"type": "tool_use", "id": "tx", "name": "Bash", "input": {"command": "make lint"}}
            ], "usage": {"input_tokens": 10, "output_tokens": 5}}}) + "\n")
    assert session_hook.handle(stop_input) == "posted"
    posts = daemon.ops("post_summary")
    assert len(posts) == 2
    assert "make lint" in posts[1]["args"]["summary"]["commands"]


def test_cooldown_env(env: dict[str, str], daemon: FakeDaemon, stop_input: dict[str, Any],
                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPACES_COOLDOWN", "0")
    assert session_hook.handle(stop_input) == "posted"
    assert session_hook.handle(stop_input) == "unchanged"  # same content: skipped anyway
    changed = dict(stop_input, last_assistant_message="Something else entirely.")
    assert session_hook.handle(changed) == "posted"
    assert len(daemon.ops("post_summary")) == 2
    monkeypatch.setenv("SPACES_COOLDOWN", "3600")
    changed2 = dict(stop_input, last_assistant_message="Third.")
    assert session_hook.handle(changed2) == "cooldown"
    monkeypatch.setenv("SPACES_COOLDOWN", "not a number")  # default 300
    assert session_hook.handle(changed2) == "cooldown"


def test_cooldown_from_config_toml(env: dict[str, str], daemon: FakeDaemon,
                                   stop_input: dict[str, Any],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # `spacesd config` shows config.toml's cooldown as the effective one: the hook obeys it.
    own = Path(env["SPACES_CONFIG_DIR"]) / "config.toml"
    own.parent.mkdir(parents=True)
    own.write_text('channel = "agent-logs"\ncooldown = 0  # post every turn\n')
    assert session_hook.handle(stop_input) == "posted"
    changed = dict(stop_input, last_assistant_message="Something else entirely.")
    assert session_hook.handle(changed) == "posted"
    own.write_text('cooldown = "3600"\n')
    assert session_hook.handle(dict(stop_input, last_assistant_message="Third.")) == "cooldown"
    monkeypatch.setenv("SPACES_COOLDOWN", "0")  # the environment wins
    assert session_hook.handle(dict(stop_input, last_assistant_message="Third.")) == "posted"
    monkeypatch.delenv("SPACES_COOLDOWN")
    own.write_text("[other]\ncooldown = 0\n")  # not Spaces' key: the default, 300 s
    assert session_hook.handle(dict(stop_input, last_assistant_message="Fourth.")) == "cooldown"
    assert len(daemon.ops("post_summary")) == 3


def test_cooldown_is_per_session(env: dict[str, str], daemon: FakeDaemon,
                                 stop_input: dict[str, Any]) -> None:
    assert session_hook.handle(stop_input) == "posted"
    other = dict(stop_input, session_id="another/../session id")
    assert session_hook.handle(other) == "posted"
    names = sorted(p.name for p in (paths.state_dir() / "cooldown").iterdir())
    assert len(names) == 2 and all("/" not in n and not n.startswith(".") for n in names)


def test_concurrent_hook_of_same_session_backs_off(env: dict[str, str], daemon: FakeDaemon,
                                                   stop_input: dict[str, Any]) -> None:
    holder = session_hook.Cooldown(stop_input["session_id"])
    assert holder.acquire()
    try:
        assert session_hook.handle(stop_input) == "busy"
    finally:
        holder.release()
    assert session_hook.handle(stop_input) == "posted"


def test_outbox_after_failed_post_then_cooldown(env: dict[str, str],
                                                stop_input: dict[str, Any]) -> None:
    assert session_hook.handle(stop_input) == "queued"
    assert session_hook.handle(stop_input) == "cooldown"  # queued counts as posted
    assert len(outbox.list_pending()) == 1


def test_daemon_refusal_is_logged_not_queued(env: dict[str, str], daemon: FakeDaemon,
                                             stop_input: dict[str, Any]) -> None:
    daemon.answer = lambda req: {"id": req["id"], "ok": False,
                                 "error": {"code": "not_found", "message": "no channel 'x'"}}
    assert session_hook.handle(stop_input) == "refused"
    assert outbox.list_pending() == []
    [line] = log_lines()
    assert "not_found" in line and stop_input["session_id"] in line
    daemon.answer = daemon.default
    assert session_hook.handle(stop_input) == "posted"  # a refusal does not start a cooldown


def test_unavailable_daemon_queues(env: dict[str, str], daemon: FakeDaemon,
                                   stop_input: dict[str, Any]) -> None:
    daemon.answer = lambda req: {"id": req["id"], "ok": False,
                                 "error": {"code": "unavailable", "message": "backend down"}}
    assert session_hook.handle(stop_input) == "queued"
    assert len(outbox.list_pending()) == 1


def test_channel_and_agent_kind_from_env(env: dict[str, str], daemon: FakeDaemon,
                                         stop_input: dict[str, Any],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPACES_CHANNEL_ID", "7")
    monkeypatch.setenv("SPACES_AGENT_KIND", "codex")
    assert session_hook.handle(stop_input) == "posted"
    [req] = daemon.ops("post_summary")
    assert req["args"]["channel"] == 7
    assert req["args"]["summary"]["agent_kind"] == "codex"
    monkeypatch.setenv("SPACES_CHANNEL_ID", "team-logs")
    monkeypatch.setenv("SPACES_COOLDOWN", "0")
    assert session_hook.handle(dict(stop_input, last_assistant_message="x")) == "posted"
    assert daemon.ops("post_summary")[-1]["args"]["channel"] == "team-logs"


def test_secrets_never_leave(env: dict[str, str], daemon: FakeDaemon, tmp_path: Path) -> None:
    key = "sk-ant-api03-" + "Q" * 40
    ghp = "ghp_" + "a1B2" * 9
    t = tmp_path / "t.jsonl"
    t.write_text("".join(json.dumps(x) + "\n" for x in [
        {"type": "user", "message": {"role": "user",
                                     "content": f"deploy with ANTHROPIC_API_KEY={key}"}},
        {"type": "assistant", "message": {"id": "m", "role": "assistant", "content": [
            {"type": "tool_use", "id": "b", "name": "Bash",
             "input": {"command": f"curl -H 'Authorization: Bearer {ghp}' https://u:pw9@x.io"}},
        ]}},
        {"type": "user", "message": {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "b", "content": "Exit code 1\ndenied",
             "is_error": True}]}},
    ]))
    data = {"session_id": "s-secret", "transcript_path": str(t), "cwd": str(tmp_path),
            "hook_event_name": "Stop", "last_assistant_message": f"Used {key} and password=hunter2"}
    assert session_hook.handle(data) == "posted"
    wire = json.dumps(daemon.requests)
    for secret in (key, ghp, "pw9", "hunter2"):
        assert secret not in wire
    assert "[REDACTED]" in wire
    daemon.close()
    assert session_hook.handle(dict(data, session_id="s-secret2")) == "queued"
    on_disk = "".join(p.read_text() for p in outbox.list_pending())
    for secret in (key, ghp, "pw9", "hunter2"):
        assert secret not in on_disk


def test_summary_fits_a_message(env: dict[str, str], daemon: FakeDaemon, tmp_path: Path) -> None:
    t = tmp_path / "t.jsonl"
    rows = [{"type": "user", "message": {"role": "user", "content": "task " * 2000}}]
    for i in range(200):
        rows.append({"type": "assistant", "message": {"id": f"m{i}", "role": "assistant",
                     "content": [{"type": "tool_use", "id": f"b{i}", "name": "Bash",
                                  "input": {"command": f"run {i} " + "arg " * 100}},
                                 {"type": "tool_use", "id": f"w{i}", "name": "Write",
                                  "input": {"file_path": f"/very/long/{'dir/' * 40}{i}.py"}}]}})
        rows.append({"type": "user", "message": {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": f"b{i}", "content": "Exit code 1",
             "is_error": True}]}})
    t.write_text("".join(json.dumps(r) + "\n" for r in rows))
    data = {"session_id": "big", "transcript_path": str(t), "cwd": "/very",
            "last_assistant_message": "done " * 3000}
    assert session_hook.handle(data) == "posted"
    s = daemon.ops("post_summary")[0]["args"]["summary"]
    size = len(json.dumps(s, ensure_ascii=False, separators=(",", ":")))
    assert size <= session_hook.MAX_SUMMARY_CHARS
    assert list(s) == list(session_hook.SUMMARY_FIELDS)
    assert s["commands_total"] == 200 and s["commands"]


@needs_fixtures
def test_missing_transcript_still_posts_what_stdin_says(env: dict[str, str],
                                                        daemon: FakeDaemon) -> None:
    data = dict(STOP, transcript_path="/nonexistent/t.jsonl", session_id="no-transcript")
    assert session_hook.handle(data) == "posted"
    s = daemon.ops("post_summary")[0]["args"]["summary"]
    assert s["task"] is None and s["final_message"] == STOP["last_assistant_message"]
    assert s["tokens"]["input"] == 0


def test_session_end_of_a_session_without_a_turn_posts_nothing(env: dict[str, str],
                                                              daemon: FakeDaemon) -> None:
    # A session opened and closed at once: its SessionEnd names no transcript that exists,
    # and no turn left a prompt or a final message. "agent x (session y) in /dir." would
    # only be noise in #agent-logs and in every peer's SessionStart context.
    end = {"session_id": "opened-and-closed", "transcript_path": "/nonexistent/t.jsonl",
           "cwd": "/home/dev/src/acme-api", "hook_event_name": "SessionEnd",
           "reason": "prompt_input_exit"}
    assert session_hook.handle(end) == "empty"
    assert session_hook.handle(dict(end, reason="clear")) == "empty"
    assert daemon.ops("post_summary") == [] and outbox.list_pending() == []
    # A turn did happen (a Stop) and said something: the end of that session posts it.
    assert session_hook.handle(dict(end, session_id="one-turn", hook_event_name="Stop",
                                    last_assistant_message="Nothing to change.")) == "posted"
    assert session_hook.handle(dict(end, session_id="one-turn")) == "unchanged"
    assert len(daemon.ops("post_summary")) == 1


def test_project_is_the_git_work_tree(env: dict[str, str], daemon: FakeDaemon,
                                      tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / ".git" / "HEAD").write_text("ref: refs/heads/feat/x\n")
    sub = repo / "pkg" / "sub"
    sub.mkdir(parents=True)
    assert session_hook.handle({"session_id": "g", "cwd": str(sub)}) == "posted"
    s = daemon.ops("post_summary")[0]["args"]["summary"]
    assert s["project"] == str(repo) and s["cwd"] == str(sub)
    assert s["git_branch"] == "feat/x"
    wt = tmp_path / "wt"
    wt.mkdir()
    (wt / ".git").write_text(f"gitdir: {repo / '.git'}\n")
    assert session_hook.git_root_and_branch(str(wt)) == (str(wt), "feat/x")


# -- the SessionStart hook against a daemon --------------------------------------------------


def test_context_hook_asks_the_channel_the_session_hook_posts_to(
        env: dict[str, str], daemon: FakeDaemon, monkeypatch: pytest.MonkeyPatch) -> None:
    assert context_hook.handle(dict(START)) is None
    assert "channel" not in daemon.ops("context")[-1]["args"]  # the daemon's configured one
    monkeypatch.setenv("SPACES_CHANNEL_ID", "team-logs")
    context_hook.handle(dict(START))
    assert daemon.ops("context")[-1]["args"]["channel"] == "team-logs"
    monkeypatch.setenv("SPACES_CHANNEL_ID", "7")
    context_hook.handle(dict(START))
    assert daemon.ops("context")[-1]["args"]["channel"] == 7


def test_context_hook_prints_exactly_the_hook_output(env: dict[str, str],
                                                     daemon: FakeDaemon) -> None:
    daemon.context_text = "Peer session 5f0c2a8e on acme-api (fix/rate-limit) made take() atomic."
    p, _ = run_hook(CONTEXT_HOOK, json.dumps(START))
    assert p.returncode == 0 and p.stderr == b""
    out = json.loads(p.stdout)
    assert out == {"hookSpecificOutput": {"hookEventName": "SessionStart",
                                          "additionalContext": daemon.context_text}}
    [req] = daemon.ops("context")
    assert req["args"] == {"session_id": START["session_id"], "cwd": START["cwd"],
                           "source": "startup", "max_chars": 8000}
    assert log_lines() == []


def test_context_hook_caps_text(env: dict[str, str], daemon: FakeDaemon) -> None:
    daemon.context_text = ("fact number one\n" * 2000)
    out = context_hook.handle(START)
    assert out is not None
    text = json.loads(out)["hookSpecificOutput"]["additionalContext"]
    assert len(text) <= 8000 and text.endswith("…")


@pytest.mark.parametrize("text", ["", "   \n"])
def test_context_hook_nothing_new_prints_nothing(env: dict[str, str], daemon: FakeDaemon,
                                                 text: str) -> None:
    daemon.context_text = text
    p, _ = run_hook(CONTEXT_HOOK, json.dumps(START))
    assert p.returncode == 0 and p.stdout == b""
    assert log_lines() == []


def test_context_hook_error_prints_nothing_logs_once(env: dict[str, str],
                                                     daemon: FakeDaemon) -> None:
    daemon.answer = lambda req: {"id": req["id"], "ok": False,
                                 "error": {"code": "internal", "message": "boom"}}
    p, _ = run_hook(CONTEXT_HOOK, json.dumps(START))
    assert p.returncode == 0 and p.stdout == b""
    [line] = log_lines()
    assert "internal: boom" in line


def test_context_hook_weird_results(env: dict[str, str], daemon: FakeDaemon) -> None:
    results: list[Any] = [None, [], {"text": 5}, {"nope": 1}, "str"]
    for result in results:
        def answer(req: dict[str, Any], r: Any = result) -> dict[str, Any]:
            return {"id": req["id"], "ok": True, "result": r}

        daemon.answer = answer
        assert context_hook.handle(START) is None


# -- the guard and the log -----------------------------------------------------------------


def test_run_swallows_everything(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", open(os.devnull))  # noqa: SIM115
    monkeypatch.setattr("spacesd.hooks.read_input", lambda *a: {"session_id": "s1"})
    silenced: list[bool] = []
    monkeypatch.setattr("spacesd.hooks._silence_stdout", lambda: silenced.append(True))

    def boom(_: dict[str, Any]) -> None:
        raise KeyboardInterrupt

    def exit3(_: dict[str, Any]) -> None:
        raise SystemExit(3)

    def exit0(_: dict[str, Any]) -> None:
        raise SystemExit(0)

    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        assert run("h", boom) == 0
        assert run("h", exit0) == 0
        assert run("h", exit3) == 0
    lines = log_lines()
    assert len(lines) == 2
    assert "KeyboardInterrupt" in lines[0] and "session=s1" in lines[0]
    assert "exit 3" in lines[1]
    assert silenced == [True, True]


def test_log_rotates_and_never_raises(env: dict[str, str], monkeypatch: pytest.MonkeyPatch
                                      ) -> None:
    path = paths.log_file()
    path.parent.mkdir(parents=True)
    path.write_text("x" * (1024 * 1024 + 10))
    log("h", "after rotation\nsecond line")
    assert path.read_text().count("\n") == 1 and "after rotation second line" in path.read_text()
    assert path.with_name("hooks.log.1").stat().st_size > 1024 * 1024
    monkeypatch.setenv("SPACES_STATE_DIR", "/proc/definitely/not/writable")
    log("h", "nowhere to go")  # must not raise


def test_session_end_posts_what_the_cooldown_held_back(env: dict[str, str], daemon: FakeDaemon,
                                                       stop_input: dict[str, Any]) -> None:
    assert session_hook.handle(stop_input) == "posted"
    end = {k: v for k, v in stop_input.items()
           if k not in ("last_assistant_message", "stop_hook_active")}
    end.update(hook_event_name="SessionEnd", reason="prompt_input_exit")
    # Nothing new since the Stop (the final text now comes from the transcript): no post.
    assert session_hook.handle(end) == "unchanged"
    with Path(stop_input["transcript_path"]).open("a") as f:
        f.write(json.dumps({"type": "system", "subtype": "x",
                            "timestamp": "2026-11-20T09:05:00Z"}) + "\n")
    assert session_hook.handle(end) == "unchanged"  # only the end time moved
    assert session_hook.handle(stop_input) == "cooldown"
    with Path(stop_input["transcript_path"]).open("a") as f:
        f.write(json.dumps({"type": "assistant", "message": {
            "id": "msg_late", "role": "assistant", "content": [
                {"type": "text", "text": "Also bumped the version."}],
            "usage": {"input_tokens": 3, "output_tokens": 4}}}) + "\n")
    # The turn's last message, written after its Stop read the transcript (Claude Code's
    # transcript lags): the same turn, not posted twice.
    assert session_hook.handle(end) == "unchanged"
    with Path(stop_input["transcript_path"]).open("a") as f:  # a new turn, in the cooldown
        f.write(json.dumps({"type": "user", "message": {"role": "user",
                                                        "content": "Bump it again"}}) + "\n")
        f.write(json.dumps({"type": "assistant", "message": {
            "id": "msg_later", "role": "assistant", "content": [
                {"type": "text", "text": "Bumped it again."}],
            "usage": {"input_tokens": 5, "output_tokens": 6}}}) + "\n")
    assert session_hook.handle(stop_input) == "cooldown"  # a Stop still waits
    assert session_hook.handle(end) == "posted"  # the end does not
    last = daemon.ops("post_summary")[-1]["args"]["summary"]
    assert last["final_message"] == "Bumped it again."
    assert last["tokens"]["input"] == 10768 + 3 + 5
    assert len(daemon.ops("post_summary")) == 2


@needs_fixtures
def test_bench_runs(env: dict[str, str]) -> None:
    p = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_hooks.py"), "--runs", "2",
                        "--warmup", "0"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "a private spacesd (embedded)" in p.stdout
    for case in ("spaces-context-hook", "spaces-session-hook (in cooldown)",
                 "spaces-session-hook (post_summary, cooldown 0)"):
        assert case in p.stdout


@needs_fixtures
def test_relative_transcript_and_a_vanished_working_directory(env: dict[str, str],
                                                               daemon: FakeDaemon,
                                                               tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    shutil.copy(FIXTURES / "transcript.jsonl", project / "t.jsonl")
    gone = tmp_path / "gone"
    gone.mkdir()
    code = (
        "import os, sys; os.chdir(sys.argv[1]); os.rmdir(sys.argv[1]); "
        "sys.path.insert(0, sys.argv[2]); from spacesd.hooks.session import main; "
        "sys.exit(main())"
    )
    data = dict(STOP, transcript_path="t.jsonl", cwd=str(project))
    p = subprocess.run([sys.executable, "-c", code, str(gone), str(ROOT)],
                       input=json.dumps(data).encode(), capture_output=True, timeout=30)
    assert p.returncode == 0 and p.stdout == b""
    [req] = daemon.ops("post_summary")
    assert req["args"]["summary"]["commits"][0]["hash"] == "3e1f2a9"  # found under cwd
    assert log_lines() == []


# -- Codex CLI and Gemini CLI inputs -----------------------------------------------------------

# Gemini CLI's AfterAgent: no last_assistant_message; the turn's prompt and the answer instead.
# Its transcript is one JSON document (a chat file), not Claude Code's JSONL.
GEMINI_CHAT = {
    "sessionId": "4f0c2a7e-51d9-4b8e-9a63-2c1d0e8f7b15",
    "projectHash": "c0ffee",
    "startTime": "2026-11-25T10:00:00.000Z",
    "lastUpdated": "2026-11-25T10:03:12.000Z",
    "messages": [
        {"id": "m1", "timestamp": "2026-11-25T10:00:00.000Z", "type": "user",
         "content": "Add a --dry-run flag to the deploy script"},
        {"id": "m2", "timestamp": "2026-11-25T10:03:12.000Z", "type": "gemini",
         "content": "Added --dry-run to scripts/deploy.sh.", "model": "gemini-2.5-pro"},
    ],
}


def gemini_input(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    chat = tmp_path / ".gemini" / "tmp" / "c0ffee" / "chats" / "session-2026-11-25T10-00.json"
    chat.parent.mkdir(parents=True, exist_ok=True)
    chat.write_text(json.dumps(GEMINI_CHAT, indent=2))
    data: dict[str, Any] = {
        "session_id": GEMINI_CHAT["sessionId"],
        "transcript_path": str(chat),
        "cwd": str(tmp_path),
        "hook_event_name": "AfterAgent",
        "timestamp": "2026-11-25T10:03:12.114Z",
        "prompt": "Add a --dry-run flag to the deploy script",
        "prompt_response": "Added --dry-run to scripts/deploy.sh: it prints each step "
                           "instead of running it.",
        "stop_hook_active": False,
    }
    data.update(extra)
    return data


def codex_input(**extra: Any) -> dict[str, Any]:
    """Codex CLI's Stop (codex-rs hooks StopCommandInput)."""
    data: dict[str, Any] = {
        "session_id": "0199a3f1-7c2e-7d10-8b4a-3e5f6a7b8c9d",
        "turn_id": "0199a3f1-8e44-7b21-9c0d-1a2b3c4d5e6f",
        "transcript_path": None,
        "cwd": "/home/dev/src/acme-api",
        "hook_event_name": "Stop",
        "model": "gpt-5-codex",
        "permission_mode": "default",
        "stop_hook_active": False,
        "last_assistant_message": "Renamed OrderService.fetch to OrderService.get; tests pass.",
    }
    data.update(extra)
    return data


def test_gemini_after_agent_summary(env: dict[str, str], daemon: FakeDaemon,
                                    tmp_path: Path) -> None:
    data = gemini_input(tmp_path)
    p, _ = run_hook(SESSION_HOOK, json.dumps(data))  # as Gemini CLI runs it
    assert p.returncode == 0 and p.stdout == b"" and p.stderr == b""
    [req] = daemon.ops("post_summary")
    s = req["args"]["summary"]
    assert list(s) == list(session_hook.SUMMARY_FIELDS)
    assert s["agent_kind"] == "gemini-cli"
    assert s["session_id"] == GEMINI_CHAT["sessionId"]
    assert s["task"] == "Add a --dry-run flag to the deploy script"
    assert s["final_message"] == data["prompt_response"]
    assert s["prompts"] == 1
    assert s["cwd"] == str(tmp_path) and s["stop_hook_active"] is False
    assert log_lines() == []


@pytest.mark.parametrize("chat", ["recorded", "gone"])
def test_gemini_session_end_posts_the_held_back_turn(env: dict[str, str], daemon: FakeDaemon,
                                                     tmp_path: Path, chat: str) -> None:
    assert session_hook.handle(gemini_input(tmp_path)) == "posted"
    later = gemini_input(tmp_path, prompt="Now document it in the README",
                         prompt_response="Documented --dry-run under Deploying.")
    chat_file = Path(later["transcript_path"])
    if chat == "recorded":  # Gemini CLI rewrites its chat file with the second turn
        record = dict(GEMINI_CHAT, lastUpdated="2026-11-25T10:06:30.000Z", messages=[
            *GEMINI_CHAT["messages"],
            {"id": "m3", "timestamp": "2026-11-25T10:05:00.000Z", "type": "user",
             "content": [{"text": "Now document it in the README"}]},
            {"id": "m4", "timestamp": "2026-11-25T10:06:30.000Z", "type": "gemini",
             "content": "Documented --dry-run under Deploying.", "model": "gemini-2.5-pro"},
        ])
        chat_file.write_text(json.dumps(record, indent=2))
    else:  # no transcript to read: what stdin said on each turn is all there is
        chat_file.unlink()
    assert session_hook.handle(later) == "cooldown"
    # Gemini CLI's SessionEnd: no prompt, no answer.
    end = {k: later[k] for k in ("session_id", "transcript_path", "cwd")}
    end.update(hook_event_name="SessionEnd", timestamp="2026-11-25T10:09:40.002Z",
               reason="exit")
    assert session_hook.handle(end) == "posted"
    first, last = (r["args"]["summary"] for r in daemon.ops("post_summary"))
    assert last["agent_kind"] == "gemini-cli"  # remembered: SessionEnd does not say
    assert last["task"] == first["task"] == "Add a --dry-run flag to the deploy script"
    assert last["final_message"] == "Documented --dry-run under Deploying."
    assert last["prompts"] == 2
    assert session_hook.handle(end) == "unchanged"  # a second SessionEnd says nothing new
    assert len(daemon.ops("post_summary")) == 2


def test_gemini_session_end_with_nothing_held_back_is_silent(env: dict[str, str],
                                                             daemon: FakeDaemon,
                                                             tmp_path: Path) -> None:
    data = gemini_input(tmp_path)
    assert session_hook.handle(data) == "posted"
    end = {k: data[k] for k in ("session_id", "transcript_path", "cwd")}
    end.update(hook_event_name="SessionEnd", reason="exit")
    assert session_hook.handle(end) == "unchanged"
    assert len(daemon.ops("post_summary")) == 1


def test_codex_stop_summary(env: dict[str, str], daemon: FakeDaemon) -> None:
    data = codex_input()
    p, _ = run_hook(SESSION_HOOK, json.dumps(data))
    assert p.returncode == 0 and p.stdout == b"" and p.stderr == b""
    [req] = daemon.ops("post_summary")
    s = req["args"]["summary"]
    assert s["agent_kind"] == "codex"
    assert s["model"] == "gpt-5-codex"
    assert s["final_message"] == data["last_assistant_message"]
    assert s["session_id"] == data["session_id"] and s["cwd"] == "/home/dev/src/acme-api"
    assert s["task"] is None and s["prompts"] == 0
    assert log_lines() == []


def test_codex_stop_with_nulls_and_a_rollout_transcript(env: dict[str, str], daemon: FakeDaemon,
                                                        tmp_path: Path) -> None:
    rollout = tmp_path / "rollout-2026-11-25T10-00-00-0199a3f1.jsonl"
    rollout.write_text("\n".join(json.dumps(line) for line in [
        {"timestamp": "2026-11-25T10:00:00.000Z", "type": "session_meta",
         "payload": {"id": "0199a3f1", "cwd": "/home/dev/src/acme-api"}},
        {"timestamp": "2026-11-25T10:00:01.000Z", "type": "response_item",
         "payload": {"type": "message", "role": "user",
                     "content": [{"type": "input_text", "text": "rename fetch to get"}]}},
    ]) + "\n")
    data = codex_input(last_assistant_message=None, transcript_path=str(rollout))
    p, _ = run_hook(SESSION_HOOK, json.dumps(data))
    assert p.returncode == 0 and p.stdout == b""
    [req] = daemon.ops("post_summary")
    s = req["args"]["summary"]
    assert s["agent_kind"] == "codex" and s["final_message"] is None
    assert s["model"] == "gpt-5-codex"
    assert log_lines() == []


CODEX_ROLLOUT = next((ROOT / "tests" / "fixtures" / "codex").glob("rollout-*.jsonl"))


def test_codex_stop_summarizes_the_rollout(env: dict[str, str], daemon: FakeDaemon,
                                           tmp_path: Path) -> None:
    # Where Codex keeps it, under a name that says nothing of its format to the summarizer.
    rollout = tmp_path / ".codex" / "sessions" / "2026" / "11" / "25" / CODEX_ROLLOUT.name
    rollout.parent.mkdir(parents=True)
    shutil.copy(CODEX_ROLLOUT, rollout)
    data = codex_input(transcript_path=str(rollout), last_assistant_message=None)
    p, _ = run_hook(SESSION_HOOK, json.dumps(data), args=("-X", "importtime"))
    assert p.returncode == 0 and p.stdout == b""
    imported = {row.rsplit("|", 1)[1].strip() for row in p.stderr.decode().splitlines()
                if row.startswith("import time:") and "|" in row}
    assert "spacesd.transcripts.codex" in imported  # the rollout was read
    assert "spacesd.transcripts.gemini" not in imported
    bad = {m for m in imported if m in FORBIDDEN or m.split(".")[0] in FORBIDDEN}
    assert not bad, f"imported {sorted(bad)}"
    [req] = daemon.ops("post_summary")
    s = req["args"]["summary"]
    assert list(s) == list(session_hook.SUMMARY_FIELDS)
    assert s["agent_kind"] == "codex" and s["model"] == "gpt-5-codex"
    assert s["task"].startswith("Orders sometimes hang for minutes when the payments upstream")
    assert s["prompts"] == 2
    assert s["files"] == ["app/orders/payments.py", "app/orders/errors.py",
                          "tests/test_payments.py"]
    assert s["commands"][:3] == ['rg -n "requests\\.(get|post)" app/orders',
                                 "pytest tests/test_payments.py -q", "pytest -q"]
    assert s["commands_total"] == 6
    assert s["failed_commands"] == ["pytest tests/test_payments.py -q",
                                    "ruff check app/orders tests/test_payments.py"]
    assert [t["ok"] for t in s["tests"]] == [False, True]
    assert s["commits"] == [{"hash": "3c9d2e1", "branch": "main",
                             "message": "orders: time out slow payments calls after 5 s"}]
    assert s["tokens"] == {"input": 8531, "output": 3877, "cache_read": 39680,
                           "cache_creation": 0}
    assert s["git_branch"] == "main" and s["cwd"] == "/home/dev/src/acme-api"
    assert s["duration_s"] == pytest.approx(464.501)
    # Codex's Stop gave no last_assistant_message: the rollout's last agent message it is.
    assert s["final_message"].startswith("ruff found an unused `import time`")
    assert log_lines() == []


def test_agent_kind_env_wins_over_detection(env: dict[str, str], daemon: FakeDaemon,
                                            monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    monkeypatch.setenv("SPACES_AGENT_KIND", "gemini-cli-nightly")
    assert session_hook.handle(gemini_input(tmp_path)) == "posted"
    assert daemon.ops("post_summary")[0]["args"]["summary"]["agent_kind"] == (
        "gemini-cli-nightly")
    monkeypatch.delenv("SPACES_AGENT_KIND")
    assert session_hook.agent_kind(codex_input()) == "codex"
    assert session_hook.agent_kind({"hook_event_name": "Stop"}) == "claude-code"


def test_gemini_prompt_with_spaces_context_is_not_the_task(env: dict[str, str],
                                                           daemon: FakeDaemon) -> None:
    """Gemini CLI 0.61's AfterAgent (recorded) carries the prompt with Spaces' SessionStart
    context in front (<hook_context>): without a readable transcript the task is still only
    what the user typed."""
    data = json.loads((ROOT / "tests" / "fixtures" / "gemini-cli" / "hooks" /
                       "AfterAgent.json").read_text())
    assert data["prompt"].startswith("<hook_context>Recent activity of peer agent sessions")
    data["transcript_path"] = "/nonexistent/session.jsonl"
    assert session_hook.handle(data) == "posted"
    [req] = daemon.ops("post_summary")
    summary = req["args"]["summary"]
    assert summary["task"] == "Say ok" and summary["agent_kind"] == "gemini-cli"
    assert "hook_context" not in json.dumps(summary)


@pytest.mark.parametrize(("kind", "events"), [
    ("claude-code", {"SessionStart", "Stop", "SessionEnd"}),
    ("codex", {"SessionStart", "Stop", "SessionEnd"}),
    ("gemini-cli", {"SessionStart", "AfterAgent", "SessionEnd"}),
])
def test_recorded_hook_inputs_name_their_agent(kind: str, events: set[str]) -> None:
    """The stdin each real client gave Spaces' hooks (tests/fixtures/<kind>/hooks, recorded
    with the pinned versions) is told apart as that client's."""
    folder = ROOT / "tests" / "fixtures" / kind / "hooks"
    seen = {p.stem for p in folder.glob("*.json")}
    assert seen == events
    turn_end = json.loads((folder / ("AfterAgent.json" if kind == "gemini-cli"
                                     else "Stop.json")).read_text())
    assert session_hook.agent_kind(turn_end) == kind
    end = json.loads((folder / "SessionEnd.json").read_text())
    assert isinstance(end["reason"], str)
    assert session_hook.agent_kind(end, {"agent_kind": kind}) == kind


def test_stop_waits_for_a_lagging_transcript(tmp_path: Path) -> None:
    """Claude Code's Stop can run before the turn's last assistant line is written: the hook
    re-reads (up to LAG_WAIT) until the transcript holds stdin's final message, so that
    message's tokens are in the one post of the turn."""
    import threading

    t = tmp_path / "t.jsonl"
    t.write_text(json.dumps({"type": "user", "message": {"role": "user", "content": "go"}})
                 + "\n")
    late = json.dumps({"type": "assistant", "message": {
        "id": "m9", "role": "assistant", "model": "claude-x",
        "content": [{"type": "text", "text": "All done."}],
        "usage": {"input_tokens": 11, "output_tokens": 7}}}) + "\n"

    def write_late() -> None:
        time.sleep(0.15)
        with t.open("a") as f:
            f.write(late)

    writer = threading.Thread(target=write_late)
    writer.start()
    got = session_hook._read_settled(t, None, "All done.")
    writer.join()
    assert got["tokens"]["input"] == 11 and got["last_text"] == "All done."
    started = time.monotonic()  # a final that never shows up costs LAG_WAIT, no more
    session_hook._read_settled(t, None, "Something else")
    assert time.monotonic() - started < session_hook.LAG_WAIT + 0.3


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_detached_summary_waits_for_a_transcript_written_after_the_hooks_returned(
        env: dict[str, str], daemon: FakeDaemon, tmp_path: Path) -> None:
    """`spaces-hook summary claude` (Stop, then SessionEnd) returns at once, before Claude
    Code has written the transcript; the detached runs wait for it to settle: one post, with
    the task, the command, the tokens and the final message (SessionEnd finds it made)."""
    from spacesd import fasthook

    helper = fasthook.build(tmp_path / "bin")
    assert helper.fast, helper.note
    t = tmp_path / "t.jsonl"
    sid = "0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"
    base = {"session_id": sid, "transcript_path": str(t), "cwd": str(tmp_path)}
    stop = {**base, "hook_event_name": "Stop", "stop_hook_active": False,
            "last_assistant_message": "All done."}
    for payload in (stop, {**base, "hook_event_name": "SessionEnd", "reason": "other"}):
        started = time.monotonic()
        p = subprocess.run([*helper.argv, "summary", "claude"], input=json.dumps(payload).encode(),
                           capture_output=True, timeout=30)
        assert time.monotonic() - started < 1.0
        assert (p.returncode, p.stdout, p.stderr) == (0, b"", b"")
    time.sleep(0.6)
    assert daemon.ops("post_summary") == []  # still waiting for the transcript
    lines = [
        {"type": "user", "message": {"role": "user", "content": "Fix the bug"}},
        {"type": "assistant", "message": {"id": "m1", "role": "assistant", "content": [
            {"type": "tool_use", "id": "u1", "name": "Bash", "input": {"command": "echo hi"}}],
            "usage": {"input_tokens": 5, "output_tokens": 2}}},
        {"type": "user", "message": {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "u1", "content": "hi"}]}},
        {"type": "assistant", "message": {"id": "m2", "role": "assistant", "content": [
            {"type": "text", "text": "All done."}],
            "usage": {"input_tokens": 11, "output_tokens": 7}}},
    ]
    t.write_text("".join(json.dumps(line) + "\n" for line in lines))
    deadline = time.monotonic() + 15
    while not daemon.ops("post_summary") and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.5)  # SessionEnd's run goes after the Stop's: it must not post again
    [req] = daemon.ops("post_summary")
    s = req["args"]["summary"]
    assert (s["task"], s["commands"], s["final_message"]) == ("Fix the bug", ["echo hi"],
                                                              "All done.")
    assert s["tokens"]["input"] == 16 and s["tokens"]["output"] == 9
    assert outbox.list_pending() == []


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_context_through_the_helper_prints_exactly_the_hook_output(
        env: dict[str, str], daemon: FakeDaemon, tmp_path: Path) -> None:
    """`spaces-hook context claude` (what the install wires with the live hooks) is the
    context hook, without `site`: the same one line on stdout, the client waits for it."""
    from spacesd import fasthook

    helper = fasthook.build(tmp_path / "bin")
    daemon.context_text = "Peer session 5f0c2a8e on acme-api made take() atomic."
    p = subprocess.run([*helper.argv, "context", "claude"], input=json.dumps(START).encode(),
                       capture_output=True, timeout=30)
    assert (p.returncode, p.stderr) == (0, b"")
    assert json.loads(p.stdout) == {"hookSpecificOutput": {
        "hookEventName": "SessionStart", "additionalContext": daemon.context_text}}
    assert daemon.ops("context")[0]["args"]["session_id"] == START["session_id"]


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_detached_summary_runs_after_an_earlier_run_of_its_session(
        env: dict[str, str], daemon: FakeDaemon, tmp_path: Path) -> None:
    """The helper leaves a ticket before the client goes on; a run waits for the tickets of
    runs the client started before it (Codex fires SessionEnd right after Stop: run first,
    SessionEnd posted a summary without the Stop's facts, then the Stop posted again)."""
    from spacesd import fasthook

    helper = fasthook.build(tmp_path / "bin")
    live = Path(env["SPACES_RUNTIME_DIR"]) / "live"
    live.mkdir(parents=True)
    sid = "1d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"
    earlier = live / f"{sid}.sum-1000"
    earlier.touch()
    t = tmp_path / "t.jsonl"
    t.write_text(json.dumps({"type": "user", "message": {"role": "user", "content": "Go"}})
                 + "\n" + json.dumps({"type": "assistant", "message": {
                     "id": "m1", "role": "assistant", "content": [{"type": "text", "text": "Ok."}],
                     "usage": {"input_tokens": 3, "output_tokens": 1}}}) + "\n")
    stop = {"session_id": sid, "transcript_path": str(t), "cwd": str(tmp_path),
            "hook_event_name": "Stop", "last_assistant_message": "Ok."}
    p = subprocess.run([*helper.argv, "summary", "claude"], input=json.dumps(stop).encode(),
                       capture_output=True, timeout=30)
    assert (p.returncode, p.stdout, p.stderr) == (0, b"", b"")
    time.sleep(1.0)
    assert daemon.ops("post_summary") == []  # the earlier run is not done
    earlier.unlink()
    deadline = time.monotonic() + 10
    while not daemon.ops("post_summary") and time.monotonic() < deadline:
        time.sleep(0.05)
    [req] = daemon.ops("post_summary")
    assert req["args"]["summary"]["task"] == "Go"
    time.sleep(0.2)
    assert [f.name for f in live.iterdir() if ".sum-" in f.name] == []  # its own ticket gone
