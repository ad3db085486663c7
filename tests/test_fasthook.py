"""The live hooks' C fast path (spacesd/hooks/spaces-hook.c) and its build (spacesd/fasthook.py).

The helper is compiled here twice: as `spacesd hooks install` builds it (the real interpreter
built in), and with SPACES_PYTHON pointing at a recorder script, which shows exactly what the
Python pending path would be started with (its arguments and its stdin, byte for byte).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path

import pytest

from spacesd import fasthook, paths

pytestmark = pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")

SID = "5f0c2a8e-1b2c-4d5e-8f90-0a1b2c3d4e5f"
PAYLOAD = json.dumps({"session_id": SID, "transcript_path": "/t.jsonl", "cwd": "/w",
                      "hook_event_name": "PostToolUse", "tool_name": "Bash",
                      "tool_input": {"command": "echo one"}, "tool_response": "one\n"}).encode()


@pytest.fixture(scope="module")
def recorder_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(helper, folder): a helper whose 'python' records its argv and stdin in folder."""
    root = tmp_path_factory.mktemp("fast")
    rec = root / "rec"
    rec.mkdir()
    script = root / "fake-python"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {rec}/argv\ncat > {rec}/stdin\n')
    script.chmod(0o755)
    out = root / "spaces-hook"
    subprocess.run(["cc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(out),
                    f'-DSPACES_PYTHON="{script}"', '-DSPACES_PKGDIR="/pkg"',
                    str(fasthook.source())], check=True)
    return out, rec


def run(helper: Path, args: list[str], stdin: bytes, env: dict[str, str],
        **kw: object) -> subprocess.CompletedProcess[bytes]:
    base = {k: v for k, v in os.environ.items()
            if k not in ("CLAUDE_CODE_SESSION_ID", "GEMINI_SESSION_ID")}
    done: subprocess.CompletedProcess[bytes] = subprocess.run(
        [str(helper), *args], input=stdin, env={**base, **env}, capture_output=True,
        timeout=20, **kw)  # type: ignore[call-overload]
    return done


@pytest.fixture
def live(tmp_path: Path, recorder_build: tuple[Path, Path]) -> Path:
    for f in recorder_build[1].iterdir():
        f.unlink()
    d = tmp_path / "live"
    d.mkdir()
    return d


def test_nothing_pending_exits_0_silently_without_python(
        recorder_build: tuple[Path, Path], live: Path) -> None:
    helper, rec = recorder_build
    times = []
    for _ in range(15):
        t = time.perf_counter()
        r = run(helper, ["post", "claude"], PAYLOAD, {"SPACES_LIVE_DIR": str(live)})
        times.append(time.perf_counter() - t)
        assert (r.returncode, r.stdout, r.stderr) == (0, b"", b"")
    assert not (rec / "argv").exists()
    assert statistics.median(times) < 0.02, times  # a process start, no interpreter


def test_pending_hands_the_same_stdin_to_python(recorder_build: tuple[Path, Path],
                                                live: Path) -> None:
    helper, rec = recorder_build
    (live / f"{SID}.inbox").touch()
    r = run(helper, ["post", "codex"], PAYLOAD, {"SPACES_LIVE_DIR": str(live)})
    assert r.returncode == 0
    assert (rec / "stdin").read_bytes() == PAYLOAD
    assert (rec / "argv").read_text().splitlines() == [
        "-I", "-S", "-c", fasthook.BOOT, "/pkg", "post", "codex", SID]


def test_lease_marker_counts_only_before_a_tool(recorder_build: tuple[Path, Path],
                                                live: Path) -> None:
    helper, rec = recorder_build
    (live / f"{SID}.lease").touch()
    run(helper, ["post", "codex"], PAYLOAD, {"SPACES_LIVE_DIR": str(live)})
    assert not (rec / "argv").exists()
    # before a tool, and only one that may write a file (spacesd/hooks/lease.py)
    run(helper, ["pre", "codex"], PAYLOAD, {"SPACES_LIVE_DIR": str(live)})
    assert not (rec / "argv").exists()
    patch = {"session_id": SID, "tool_name": "Bash",
             "tool_input": {"command": "apply_patch <<'EOF'\n*** Begin Patch\n..."}}
    edit = {"session_id": SID, "tool_name": "Edit", "tool_input": {"file_path": "a.py"}}
    for agent, call in (("codex", patch), ("claude", edit)):
        (rec / "argv").unlink(missing_ok=True)
        run(helper, ["pre", agent], json.dumps(call).encode(), {"SPACES_LIVE_DIR": str(live)})
        assert (rec / "argv").read_text().splitlines()[5:] == ["pre", agent, SID]
    for name in ("Read", "Writer", "Bash"):
        (rec / "argv").unlink(missing_ok=True)
        call = {"session_id": SID, "tool_name": name, "tool_input": {"file_path": "Write"}}
        run(helper, ["pre", "claude"], json.dumps(call).encode(), {"SPACES_LIVE_DIR": str(live)})
        assert not (rec / "argv").exists(), name


def recorded(rec: Path, timeout: float = 10.0) -> list[str]:
    """The recorded argv, once the (maybe detached) 'python' wrote it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(FileNotFoundError):
            lines = (rec / "argv").read_text().splitlines()
            if lines:
                return lines
        time.sleep(0.02)
    raise AssertionError("python was not started")


def test_once_a_turn_events_always_reach_python(recorder_build: tuple[Path, Path],
                                                live: Path) -> None:
    helper, rec = recorder_build
    for event in ("prompt", "stop", "start", "notify", "end", "wake", "summary", "context"):
        (rec / "argv").unlink(missing_ok=True)
        run(helper, [event, "gemini"], PAYLOAD, {"SPACES_LIVE_DIR": str(live)})
        assert recorded(rec)[5:] == [event, "gemini", SID]
    (rec / "argv").unlink()
    r = run(helper, ["bogus", "claude"], PAYLOAD, {"SPACES_LIVE_DIR": str(live)})
    assert (r.returncode, r.stdout) == (0, b"") and not (rec / "argv").exists()


def test_the_agents_own_variable_wins(recorder_build: tuple[Path, Path], live: Path) -> None:
    helper, rec = recorder_build
    (live / "from-env.inbox").touch()
    env = {"SPACES_LIVE_DIR": str(live), "CLAUDE_CODE_SESSION_ID": "from-env"}
    run(helper, ["post", "claude"], PAYLOAD, env)
    assert (rec / "argv").read_text().splitlines()[-1] == "from-env"
    (rec / "argv").unlink()
    # Codex run from a Claude Code shell inherits CLAUDE_CODE_SESSION_ID: not its session.
    run(helper, ["post", "codex"], PAYLOAD, env)
    assert not (rec / "argv").exists()


@pytest.mark.parametrize("bad", ["", "../live/x", "a" * 65, "a b", "x/y", "é", "a\\u0000"])
def test_bad_session_ids_never_reach_a_path(recorder_build: tuple[Path, Path], live: Path,
                                            bad: str) -> None:
    helper, rec = recorder_build
    (live / "x.inbox").touch()
    (live.parent / "x.inbox").touch()
    payload = b'{"session_id": "' + bad.encode() + b'", "hook_event_name": "PostToolUse"}'
    for env in ({}, {"GEMINI_SESSION_ID": bad or "x/../x"}):
        agent = "gemini" if env else "codex"
        r = run(helper, ["post", agent], payload, {"SPACES_LIVE_DIR": str(live), **env})
        assert (r.returncode, r.stdout, r.stderr) == (0, b"", b"")
        assert not (rec / "argv").exists()


def test_huge_stdin_is_drained(recorder_build: tuple[Path, Path], live: Path) -> None:
    helper, rec = recorder_build
    (live / f"{SID}.inbox").touch()
    big = PAYLOAD[:-1] + b', "pad": "' + b"x" * (3 << 20) + b'"}'
    r = run(helper, ["post", "codex"], big, {"SPACES_LIVE_DIR": str(live)})
    assert r.returncode == 0 and (rec / "stdin").read_bytes() == big
    (rec / "stdin").unlink()
    (rec / "argv").unlink()
    huge = big + b" " * (6 << 20)  # over the 4 MiB cap: read to the end, then dropped
    r = run(helper, ["post", "codex"], huge, {"SPACES_LIVE_DIR": str(live)})
    assert (r.returncode, r.stdout) == (0, b"") and not (rec / "argv").exists()


def test_closed_stdout_and_stdin(recorder_build: tuple[Path, Path], live: Path) -> None:
    helper, rec = recorder_build
    (live / f"{SID}.inbox").touch()
    env = {**os.environ, "SPACES_LIVE_DIR": str(live)}
    p = subprocess.Popen(["sh", "-c", f'exec {helper} post codex >&-'], stdin=subprocess.PIPE,
                         env=env)
    p.communicate(PAYLOAD, timeout=20)
    assert p.returncode == 0 and (rec / "stdin").read_bytes() == PAYLOAD
    r = subprocess.run(["sh", "-c", f"exec {helper} post codex <&-"], env=env,
                       capture_output=True, timeout=20)
    assert (r.returncode, r.stdout) == (0, b"")


def test_stdin_never_closed_does_not_block(recorder_build: tuple[Path, Path],
                                           live: Path) -> None:
    helper, _ = recorder_build
    p = subprocess.Popen([str(helper), "post", "codex"], stdin=subprocess.PIPE,
                         env={**os.environ, "SPACES_LIVE_DIR": str(live)})
    assert p.stdin is not None
    p.stdin.write(PAYLOAD)
    p.stdin.flush()
    t = time.monotonic()
    assert p.wait(timeout=10) == 0
    assert time.monotonic() - t < 5
    p.stdin.close()


@pytest.mark.parametrize("env", [
    {"SPACES_LIVE_DIR": "{root}/a"},
    {"SPACES_RUNTIME_DIR": "{root}/b"},
    {"XDG_RUNTIME_DIR": "{root}/c"},
])
def test_same_live_dir_as_python(recorder_build: tuple[Path, Path], live: Path,
                                 monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    helper, rec = recorder_build
    clean = {"SPACES_LIVE_DIR": "", "SPACES_RUNTIME_DIR": "", "XDG_RUNTIME_DIR": ""}
    clean.update({k: v.format(root=live) for k, v in env.items()})
    for k, v in clean.items():
        monkeypatch.setenv(k, v)
    where = paths.live_dir()
    where.mkdir(parents=True)
    (where / f"{SID}.inbox").touch()
    run(helper, ["post", "codex"], PAYLOAD, clean)
    assert (rec / "argv").exists(), where


def test_build_is_cached_by_source_hash(tmp_path: Path) -> None:
    first = fasthook.build(tmp_path)
    assert first.fast and first.argv == (str(tmp_path / "spaces-hook"),)
    mtime = (tmp_path / "spaces-hook").stat().st_mtime_ns
    again = fasthook.build(tmp_path)
    assert again.fast and "cached" in again.note
    assert (tmp_path / "spaces-hook").stat().st_mtime_ns == mtime
    assert fasthook.status(tmp_path).fast
    (tmp_path / "spaces-hook.key").write_text("stale\n")
    assert not fasthook.status(tmp_path).fast
    assert "built with" in fasthook.build(tmp_path).note


def test_no_compiler_falls_back_to_python(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPACES_CC", "no-such-compiler-here")
    hook = fasthook.build(tmp_path)
    assert not hook.fast and "no C compiler" in hook.note
    assert hook.argv[1:5] == ("-I", "-S", "-c", fasthook.BOOT)
    assert not (tmp_path / "spaces-hook").exists()
    assert not fasthook.status(tmp_path).fast


def test_real_build_runs_python_silently(tmp_path: Path) -> None:
    """The installed form: a marker and no daemon -> the real pending path, exit 0, silent."""
    hook = fasthook.build(tmp_path / "bin")
    live = tmp_path / "live"
    live.mkdir()
    (live / f"{SID}.inbox").touch()
    env = {"SPACES_LIVE_DIR": str(live), "SPACES_SOCKET": str(tmp_path / "none.sock"),
           "SPACES_STATE_DIR": str(tmp_path / "state")}
    for argv in (list(hook.argv), list(fasthook.fallback_argv())):
        r = run(Path(argv[0]), [*argv[1:], "post", "claude"], PAYLOAD, env)
        assert (r.returncode, r.stdout, r.stderr) == (0, b"", b"")


@pytest.fixture(scope="module")
def slow_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(helper, folder): a helper whose 'python' takes 1.5 s, then records its argv, stdin,
    SPACES_DETACHED and SPACES_HOOK_AT."""
    root = tmp_path_factory.mktemp("slow")
    rec = root / "rec"
    rec.mkdir()
    script = root / "slow-python"
    script.write_text(f'#!/bin/sh\nsleep 1.5\ncat > {rec}/stdin\n'
                      f'echo "$SPACES_DETACHED $SPACES_HOOK_AT" > {rec}/env\n'
                      f'printf "%s\\n" "$@" > {rec}/argv\necho out\n')
    script.chmod(0o755)
    out = root / "spaces-hook"
    subprocess.run(["cc", "-O2", "-o", str(out), f'-DSPACES_PYTHON="{script}"',
                    '-DSPACES_PKGDIR="/pkg"', str(fasthook.source())], check=True)
    return out, rec


def test_what_nobody_waits_for_runs_detached(slow_build: tuple[Path, Path],
                                             tmp_path: Path) -> None:
    """The summary, and presence with nothing to deliver, go on after the helper returned
    (the client goes on at once), with the same stdin and nothing on the client's pipes; a
    delivery point with something pending is waited for, its output reaching the client."""
    helper, rec = slow_build
    live = tmp_path / "live"
    live.mkdir()
    env = {"SPACES_LIVE_DIR": str(live)}
    for event in ("summary", "end", "notify", "start", "prompt", "stop"):
        for f in rec.iterdir():
            f.unlink()
        t = time.monotonic()
        r = run(helper, [event, "claude"], PAYLOAD, env)
        assert time.monotonic() - t < 1.0, event  # not the 1.5 s of 'python'
        assert (r.returncode, r.stdout, r.stderr) == (0, b"", b""), event
        assert recorded(rec)[5:] == [event, "claude", SID]
        time.sleep(0.1)
        assert (rec / "stdin").read_bytes() == PAYLOAD
        detached, at = (rec / "env").read_text().split()
        assert detached == "1" and abs(int(at) / 1e9 - time.time()) < 30
    (live / f"{SID}.inbox").touch()
    for f in rec.iterdir():
        f.unlink()
    t = time.monotonic()
    r = run(helper, ["stop", "claude"], PAYLOAD, env)
    assert time.monotonic() - t >= 1.5 and r.stdout == b"out\n"
    assert (rec / "env").read_text().split()[0] != "1"


def test_the_waiter_of_a_one_shot_claude_starts_no_python(
        recorder_build: tuple[Path, Path], live: Path) -> None:
    """`claude -p` ends after its turn: its asyncRewake waiter has nobody to wake."""
    helper, rec = recorder_build
    for argv0, starts in (("-p", False), ("--print", False), ("claude", True)):
        (rec / "argv").unlink(missing_ok=True)
        client = subprocess.Popen(["sh", "-c", "sleep 30", argv0])
        try:
            r = run(helper, ["wake", "claude"], PAYLOAD,
                    {"SPACES_LIVE_DIR": str(live), "CLAUDE_PID": str(client.pid)})
        finally:
            client.kill()
            client.wait()
        assert (r.returncode, r.stdout) == (0, b"")
        assert (rec / "argv").exists() is starts, argv0
