"""The daemon runs on the effective configuration: summaries that name no channel go to the
configured one (SPACES_CHANNEL_ID or config.toml's `channel`), hooks' outbox entries included,
and `spacesd status` shows every effective value with its source, never a token."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from conftest import ProcessDaemon, SpacesEnv, console_script

from spacesd import outbox
from spacesd.ipc import Ok


def _codex_stop(session_id: str) -> str:
    return json.dumps({
        "session_id": session_id, "turn_id": "t-1", "transcript_path": None,
        "cwd": "/home/dev/src/acme-api", "hook_event_name": "Stop", "model": "gpt-5-codex",
        "permission_mode": "default", "stop_hook_active": False,
        "last_assistant_message": f"done with {session_id}",
    })


def _contents(daemon: ProcessDaemon, channel: str) -> str:
    res = daemon.request("messages", channel=channel, limit=50)
    assert isinstance(res, Ok), res
    return json.dumps(res.result)


def test_config_toml_channel_takes_summaries_and_status_shows_sources(
        daemon_process: ProcessDaemon, spaces_env: SpacesEnv) -> None:
    spaces_env.config_dir.mkdir(parents=True, exist_ok=True)
    config_toml = spaces_env.config_dir / "config.toml"
    config_toml.write_text('channel = "general"\n')
    env = {**spaces_env.env, "SPACETIMEDB_TOKEN": "never-print-this-token"}
    daemon_process.env.env = env
    hook = console_script("spaces-session-hook")
    # The daemon is down: the hook queues its post (naming no channel: none in its env).
    queued = subprocess.run([hook], input=_codex_stop("sess-queued"), env=env,
                            capture_output=True, text=True, timeout=30)
    assert queued.returncode == 0 and queued.stdout == ""
    [entry] = outbox.list_pending(spaces_env.outbox_dir)
    assert "channel" not in json.loads(entry.read_text())["args"]
    daemon_process.start()
    live = subprocess.run([hook], input=_codex_stop("sess-live"), env=env,
                          capture_output=True, text=True, timeout=30)
    assert live.returncode == 0 and live.stdout == ""
    deadline = time.monotonic() + 15
    while "sess-queued" not in _contents(daemon_process, "general"):
        assert time.monotonic() < deadline, "the outbox entry was not delivered"
        time.sleep(0.1)
    general = _contents(daemon_process, "general")
    assert "sess-live" in general and "sess-queued" in general
    agent_logs = _contents(daemon_process, "agent-logs")
    assert "sess-live" not in agent_logs and "sess-queued" not in agent_logs

    exe = console_script("spacesd")
    human = subprocess.run([exe, "status"], env=env, capture_output=True, text=True, timeout=30)
    assert human.returncode == 0, human.stderr
    lines = human.stdout.splitlines()
    assert "config:" in lines
    [channel_line] = [line for line in lines if line.split()[:1] == ["channel"]]
    assert channel_line.split() == ["channel", "general", f"({config_toml})"]
    [backend_line] = [line for line in lines if line.split()[:1] == ["backend"]]
    assert backend_line.split() == ["backend", "embedded", "(env:SPACES_BACKEND)"]
    [token_line] = [line for line in lines if line.split()[:1] == ["token"]]
    assert token_line.split() == ["token", "<redacted>", "(env:SPACETIMEDB_TOKEN)"]
    as_json = subprocess.run([exe, "status", "--json"], env=env, capture_output=True,
                             text=True, timeout=30)
    st = json.loads(as_json.stdout)
    assert st["channel"] == "general"
    assert st["config"]["channel"] == {"value": "general", "source": str(config_toml)}
    assert st["config"]["cooldown"]["source"] == "default"
    assert "never-print-this-token" not in human.stdout + as_json.stdout


def test_channel_env_wins_over_config_toml(daemon_process: ProcessDaemon,
                                           spaces_env: SpacesEnv) -> None:
    spaces_env.config_dir.mkdir(parents=True, exist_ok=True)
    (spaces_env.config_dir / "config.toml").write_text('channel = "general"\n')
    daemon_process.env.env = {**spaces_env.env, "SPACES_CHANNEL_ID": "agent-logs"}
    daemon_process.start()
    res = daemon_process.request("post_summary", summary={"session_id": "sess-env"})
    assert isinstance(res, Ok), res
    assert "sess-env" in _contents(daemon_process, "agent-logs")
    status = daemon_process.request("status")
    assert isinstance(status, Ok), status
    st = status.result
    assert st["config"]["channel"] == {"value": "agent-logs", "source": "env:SPACES_CHANNEL_ID"}


def test_unusable_data_dir_is_one_line(spaces_env: SpacesEnv) -> None:
    # SPACES_DATA_DIR under a file: the daemon cannot make its folder. One line naming it and
    # exit 1, not a traceback.
    blocker = spaces_env.root / "a-file"
    blocker.write_text("")
    env = {**spaces_env.env, "SPACES_DATA_DIR": str(blocker / "data")}
    res = subprocess.run([sys.executable, "-m", "spacesd", "run"], env=env, capture_output=True,
                         text=True, timeout=30, cwd=spaces_env.root)
    assert res.returncode == 1
    errors = [line for line in res.stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and str(blocker) in errors[0], res.stderr
    assert "Traceback" not in res.stderr
