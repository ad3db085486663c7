"""Hooks never block: regular files only, opened non-blocking, reads bounded (spacesd.safeio),
and a Stop hook facing FIFOs at .git/HEAD, config.toml, its log and its state file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spacesd import outbox, safeio

ROOT = Path(__file__).resolve().parent.parent
SESSION_HOOK = ROOT / "hooks" / "spaces-session-hook"


def _fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


def test_regular_files_are_read_within_the_bound(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"x" * 200_000)
    assert safeio.read_bytes(f, 10) == b"x" * 10
    assert len(safeio.read_bytes(f, 1_000_000)) == 200_000
    assert safeio.read_text(f, 3) == "xxx"
    with safeio.open_binary(f) as fh:
        assert fh.read(4) == b"xxxx"
    (tmp_path / "bad").write_bytes(b"\xff\xfe")
    with pytest.raises(UnicodeDecodeError):
        safeio.read_text(tmp_path / "bad", 10)
    assert safeio.read_text(tmp_path / "bad", 10, errors="replace") == "\ufffd\ufffd"


@pytest.mark.parametrize("kind", ["fifo", "directory", "device", "symlink-to-fifo"])
def test_anything_but_a_regular_file_is_refused_at_once(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "p"
    if kind == "fifo":
        _fifo(path)
    elif kind == "directory":
        path.mkdir()
    elif kind == "device":
        path = Path("/dev/zero")
    else:
        path.symlink_to(_fifo(tmp_path / "target"))
    t0 = time.monotonic()
    with pytest.raises(safeio.NotRegularFile):
        safeio.read_bytes(path, 1 << 20)
    with pytest.raises(OSError):  # a FIFO for writing: no reader, so ENXIO, never a wait
        safeio.open_fd(path, os.O_WRONLY | os.O_APPEND)
    assert time.monotonic() - t0 < 1.0


def test_missing_files_are_os_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        safeio.read_bytes(tmp_path / "none", 10)


def test_a_fifo_in_the_outbox_is_set_aside_not_waited_on(tmp_path: Path) -> None:
    _fifo(tmp_path / "1-1.json")
    [entry] = outbox.list_pending(tmp_path)
    with pytest.raises(outbox.OutboxError, match="not a regular file"):
        outbox.read(entry)


def test_a_fifo_config_is_a_config_error(tmp_path: Path) -> None:
    from spacesd import config

    path = _fifo(tmp_path / "config.toml")
    t0 = time.monotonic()
    with pytest.raises(config.ConfigError, match="not a regular file"):
        config._read_toml(path)
    assert time.monotonic() - t0 < 1.0


def test_the_stop_hook_does_not_hang_on_fifos(tmp_path: Path) -> None:
    """FIFOs at the project's .git/HEAD, at Spaces' config.toml, at the hooks log and at the
    session's state file: the hook still exits 0 at once and queues its summary."""
    state, config_dir = tmp_path / "state", tmp_path / "config"
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)
    _fifo(project / ".git" / "HEAD")
    _fifo(config_dir / "config.toml")
    _fifo(state / "hooks.log")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPACES_")}
    env.update(SPACES_STATE_DIR=str(state), SPACES_CONFIG_DIR=str(config_dir),
               SPACES_RUNTIME_DIR=str(tmp_path / "run"), SPACES_SOCKET=str(tmp_path / "s"),
               SPACES_DATA_DIR=str(tmp_path / "data"))
    stdin = {"session_id": "fifo-session", "cwd": str(project), "hook_event_name": "Stop",
             "last_assistant_message": "done", "transcript_path": str(_fifo(tmp_path / "t"))}
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, str(SESSION_HOOK)], input=json.dumps(stdin).encode(),
                       capture_output=True, env=env, timeout=20)
    assert (p.returncode, p.stdout, p.stderr) == (0, b"", b"")
    assert time.monotonic() - t0 < 5.0
    [entry] = outbox.list_pending(state / "outbox")
    request = outbox.read(entry)
    assert request["args"]["summary"]["project"] == str(project)
    assert request["args"]["summary"].get("git_branch") is None
    assert request["args"]["key"].startswith("summary:fifo-session:1.")
    # the session's state file a FIFO too: the hook gives up on it, silently and at once
    for name in os.listdir(state / "cooldown"):
        os.unlink(state / "cooldown" / name)
        _fifo(state / "cooldown" / name)
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, str(SESSION_HOOK)], input=json.dumps(stdin).encode(),
                       capture_output=True, env=env, timeout=20)
    assert (p.returncode, p.stdout, p.stderr) == (0, b"", b"")
    assert time.monotonic() - t0 < 5.0
