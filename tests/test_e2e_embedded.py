"""Issue 2's "Done when", end to end on the embedded default: a real `spacesd run`, the two
hooks fed Claude Code's fixtures, the CLI reading the result, and the daemon down and up."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from conftest import ProcessDaemon, SpacesEnv, console_script

from spacesd import outbox

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "claude-code"


def _fixture(tmp: Path, name: str, **changes: Any) -> bytes:
    """A fixture with its transcript_path made absolute (the transcript copied beside it)."""
    data = json.loads((FIXTURES / name).read_text())
    transcript = tmp / "transcript.jsonl"
    if not transcript.exists():
        shutil.copy(FIXTURES / "transcript.jsonl", transcript)
    if not os.path.isabs(data.get("transcript_path", "/")):
        data["transcript_path"] = str(transcript)
    data.update(changes)
    return json.dumps(data).encode()


def _hook(name: str, stdin: bytes, env: dict[str, str]) -> tuple[int, str, float]:
    t0 = time.perf_counter()
    res = subprocess.run([console_script(name)], input=stdin, env=env, capture_output=True,
                         timeout=30)
    return res.returncode, res.stdout.decode(), time.perf_counter() - t0


def _read_agent_logs(env: dict[str, str]) -> list[dict[str, Any]]:
    res = subprocess.run([console_script("spacesd"), "read", "agent-logs", "--json"], env=env,
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    return [json.loads(line) for line in res.stdout.splitlines()]


def test_done_when(daemon_process: ProcessDaemon, spaces_env: SpacesEnv) -> None:
    env = spaces_env.env
    tmp = spaces_env.root
    daemon_process.start()

    # Stop -> the summary is in #agent-logs
    stop = _fixture(tmp, "stop.json")
    code, out, _ = _hook("spaces-session-hook", stop, env)
    assert code == 0 and out == ""
    msgs = _read_agent_logs(env)
    assert len(msgs) == 1, msgs
    msg = msgs[0]
    assert msg["type"] == "AgentEvent" and msg["channel"] == "agent-logs"
    summary = json.loads(msg["content"])
    assert summary["kind"] == "session_summary"
    assert summary["session_id"] == "5f0c2a8e-1b7d-4c1e-9a57-3f2d8c6b9e10"
    assert "/home/dev/src/acme-api" in msg["content"] and "fix/rate-limit" in msg["content"]
    assert msg["sender_name"] and msg["created_at"].endswith("Z")

    # SessionStart in the same project -> that summary, as facts, in additionalContext
    start = _fixture(tmp, "session-start.json")
    code, out, _ = _hook("spaces-context-hook", start, env)
    assert code == 0
    payload = json.loads(out)
    ctx = payload["hookSpecificOutput"]["additionalContext"]
    assert payload["hookSpecificOutput"]["hookEventName"] == "SessionStart"
    assert "fix/rate-limit" in ctx and "/home/dev/src/acme-api" in ctx
    assert "3e1f2a9" in ctx and len(ctx) <= 8000

    # a second Stop within the cooldown posts nothing
    code, out, _ = _hook("spaces-session-hook", stop, env)
    assert code == 0 and out == ""
    assert len(_read_agent_logs(env)) == 1

    # daemon down: both hooks exit 0, silent, fast; the post waits in the outbox
    daemon_process.stop()
    other = _fixture(tmp, "stop.json", session_id="0b9e7d55-4c2a-4e61-8f3b-2a1c9d8e7f60")
    code, out, secs = _hook("spaces-session-hook", other, env)
    assert code == 0 and out == "" and secs < 1.0, secs
    code, out, secs = _hook("spaces-context-hook", start, env)
    assert code == 0 and out == "" and secs < 1.0, secs
    assert outbox.depth(spaces_env.outbox_dir) == 1

    # daemon up again: the post is delivered
    daemon_process.start()
    deadline = time.monotonic() + 10
    msgs = _read_agent_logs(env)
    while len(msgs) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
        msgs = _read_agent_logs(env)
    assert [json.loads(m["content"])["session_id"] for m in msgs] == [
        "5f0c2a8e-1b7d-4c1e-9a57-3f2d8c6b9e10", "0b9e7d55-4c2a-4e61-8f3b-2a1c9d8e7f60"]
    assert outbox.depth(spaces_env.outbox_dir) == 0
