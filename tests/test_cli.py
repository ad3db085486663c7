"""The `spacesd` CLI: in-process with click's CliRunner, and as a real subprocess."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ProcessDaemon, SpacesEnv, ThreadDaemon, console_script

from spacesd import owner
from spacesd.cli import _parse_call_args, main


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_status_channels_send_read(daemon: ThreadDaemon) -> None:
    code, out, _ = _run("status")
    assert code == 0 and "running" in out and "embedded" in out
    code, out, _ = _run("status", "--json")
    st = json.loads(out)
    assert st["running"] is True and st["backend"] == "embedded"
    code, out, _ = _run("channels")
    assert code == 0 and "#agent-logs" in out and "Spaces Hub" in out
    code, out, _ = _run("channels", "--json")
    assert [json.loads(line)["name"] for line in out.splitlines()] == [
        "general", "agent-logs", "system"]
    code, out, _ = _run("send", "general", "hello from the CLI")
    assert code == 0 and "sent" in out
    code, out, _ = _run("send", "--json", "#general", "second")
    assert json.loads(out)["content"] == "second"
    code, out, _ = _run("read", "general", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    rows = [r for r in rows if r["type"] == "Text"]
    assert [r["content"] for r in rows] == ["hello from the CLI", "second"]
    for r in rows:
        assert set(r) >= {"id", "channel", "sender", "sender_name", "type", "content",
                          "created_at"}
        assert r["created_at"].endswith("Z") and r["channel"] == "general"
    code, out, _ = _run("read", "general", "-n", "1")
    assert code == 0 and out.count("\n") == 1 and "second" in out


def test_call_and_errors(daemon: ThreadDaemon) -> None:
    code, out, _ = _run("call", "set_presence", "true", '"pairing"')
    assert code == 0 and out.strip() == "committed"
    code, out, err = _run("call", "create_channel", "[1, \"x\", null, \"Text\"]")
    assert code == 1 and "reducer_error" in err and "only Admins" in err
    # --as-owner asks a person at a terminal (tests/test_owner.py); over the socket, the
    # request carries the passphrase.
    owner.store_hash(daemon.daemon_obj.settings.owner_passphrase_file, "owner passphrase")
    assert daemon.ok("call", reducer="create_channel", args=[1, "design", None, "Text"],
                     as_owner=True, owner_passphrase="owner passphrase")
    code, out, _ = _run("channels", "--json")
    assert "design" in [json.loads(line)["name"] for line in out.splitlines()]
    code, _, err = _run("read", "no-such-channel")
    assert code == 1 and "not_found" in err
    code, _, err = _run("send", "general", "")
    assert code == 1 and err.count("\n") == 1


def test_parse_call_args() -> None:
    assert _parse_call_args(["1", "hello", "null", "true"]) == [1, "hello", None, True]
    assert _parse_call_args(['[1, "x"]']) == [1, "x"]
    assert _parse_call_args(['"a b"']) == ["a b"]


def test_unreachable_is_one_line(spaces_env: SpacesEnv) -> None:
    for args in (["status"], ["channels"], ["read", "general"], ["send", "general", "x"],
                 ["tail"], ["call", "set_presence", "true", "null"]):
        code, out, err = _run(*args)
        assert code == 1, args
        assert err.count("\n") == 1 and str(spaces_env.socket) in err and "spacesd run" in err
        assert out == "" or args == ["status"]


def test_a_daemon_that_does_not_answer_is_not_called_unreachable(
        spaces_env: SpacesEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    # A hung (or very busy) daemon: the socket accepts, nothing answers. `send` may still
    # land, so the line must not say "not reachable ... start it with `spacesd run`".
    import spacesd.cli as cli
    from spacesd.ipc import Client

    class QuickClient(Client):
        def __init__(self, path: Path, *, timeout: float = 5.0) -> None:
            super().__init__(path, timeout=0.3)

    monkeypatch.setattr(cli, "Client", QuickClient)
    spaces_env.runtime_dir.mkdir(parents=True, exist_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(str(spaces_env.socket))
        listener.listen(8)
        for args in (["status"], ["send", "general", "x"], ["tail"]):
            code, _, err = _run(*args)
            assert code == 1, args
            assert err.count("\n") == 1 and str(spaces_env.socket) in err, (args, err)
            assert "did not answer" in err and "spacesd run" not in err, (args, err)
    finally:
        listener.close()


def test_subprocess_status_and_tail(daemon_process: ProcessDaemon, spaces_env: SpacesEnv) -> None:
    daemon_process.start()
    exe = console_script("spacesd")
    res = subprocess.run([exe, "status"], env=spaces_env.env, capture_output=True, text=True,
                         timeout=30)
    assert res.returncode == 0 and "running" in res.stdout
    tail = subprocess.Popen([exe, "tail", "--json", "general"], env=spaces_env.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)  # the tail subscribes
        sent = subprocess.run([exe, "send", "general", "pushed"], env=spaces_env.env,
                              capture_output=True, text=True, timeout=30)
        assert sent.returncode == 0, sent.stderr
        assert tail.stdout is not None
        line = tail.stdout.readline()
        assert json.loads(line)["content"] == "pushed"
        tail.send_signal(signal.SIGINT)
        assert tail.wait(10) == 0
    finally:
        if tail.poll() is None:
            tail.kill()
    daemon_process.stop()
    res = subprocess.run([exe, "read", "general"], env=spaces_env.env, capture_output=True,
                         text=True, timeout=30)
    assert res.returncode == 1 and res.stdout == "" and res.stderr.count("\n") == 1


def test_config_says_when_the_running_daemon_uses_other_settings(
        spaces_env: SpacesEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The daemon runs on the embedded engine (started from $HOME); `spacesd config` in a
    # project with a spacetime.json shows SpacetimeDB: say that the running one differs.
    from spacesd.config import load_config

    project = tmp_path / "proj"
    project.mkdir()
    (project / "spacetime.json").write_text('{"database": "spaces", "server": "local"}')
    d = ThreadDaemon(spaces_env, config=load_config()).start()
    try:
        code, out, err = _run("config", "--project-dir", str(project))
        assert code == 0 and out.startswith("backend") and "embedded" in out
        assert err == ""  # SPACES_BACKEND=embedded (conftest) holds here as in the daemon
        monkeypatch.delenv("SPACES_BACKEND")
        code, out, err = _run("config", "--project-dir", str(project))
        assert code == 0 and "spacetimedb" in out.splitlines()[0]
        assert err.count("\n") == 1 and "running daemon" in err and "backend embedded" in err
        code, out, err = _run("config", "--json", "--project-dir", str(project))
        assert json.loads(out)["backend"]["value"] == "spacetimedb"
        assert "running daemon" in err
    finally:
        d.stop()
    code, out, err = _run("config", "--project-dir", str(project))  # no daemon: no note
    assert code == 0 and err == ""


def test_tail_json_lines_are_flat_message_objects(capsys: pytest.CaptureFixture[str]) -> None:
    # Scripts read `tail --json` like `read --json`: id, channel, content... at the top of
    # every line, edits included (they were wrapped as {"event": ..., "data": {...}}).
    from spacesd.cli import _print_event

    msg = {"id": 7, "channel": "general", "sender": "ab" * 32, "sender_name": "dev",
           "type": "Text", "content": "v2", "created_at": "2026-11-20T09:00:07.259000Z",
           "channel_id": 1, "edited_at": "2026-11-20T09:01:00.000000Z"}
    _print_event({"event": "message", "data": msg}, True, True)
    _print_event({"event": "message_edited", "data": msg}, True, True)
    _print_event({"event": "message_deleted", "data": {"id": 7, "channel_id": 1}}, True, True)
    new, edited, deleted = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert new["id"] == edited["id"] == deleted["id"] == 7
    assert "event" not in new and edited["event"] == "message_edited"
    assert edited["content"] == "v2" and list(edited)[:7] == list(new)[:7]
    assert deleted == {"id": 7, "channel_id": 1, "event": "message_deleted"}


def test_admin_commands_are_registered() -> None:
    assert {"hooks", "config", "run", "status", "channels", "read", "send", "tail",
            "call"} <= set(main.commands)
