"""The owner passphrase: its hash, the daemon's check and lock-out, and the terminal-only CLI."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from spacesd import owner
from spacesd.owner import OwnerGate, OwnerRefused

PASS = "correct horse battery"


def test_the_hash_is_salted_scrypt_and_verifies(tmp_path: Path) -> None:
    first, second = owner.hash_passphrase(PASS), owner.hash_passphrase(PASS)
    assert first != second and first.startswith("scrypt$32768$8$1$")
    assert PASS not in first
    assert owner.verify(PASS, first) and owner.verify(PASS, second)
    assert not owner.verify(PASS + "!", first)
    with pytest.raises(ValueError):
        owner.verify(PASS, "plain text")


def test_the_file_is_0600_and_holds_only_the_hash(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / owner.FILE_NAME
    owner.store_hash(path, PASS)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert PASS not in text and owner.verify(PASS, text.strip())
    assert owner.load_hash(tmp_path / "nothing") is None


def test_the_gate_refuses_without_a_passphrase_set_or_given(tmp_path: Path) -> None:
    gate = OwnerGate(tmp_path / owner.FILE_NAME)
    with pytest.raises(OwnerRefused) as refused:
        gate.check(PASS)
    assert refused.value.message == owner.NOT_SET
    owner.store_hash(gate.path, PASS)
    for missing in (None, ""):
        with pytest.raises(OwnerRefused) as refused:
            gate.check(missing)
        assert refused.value.message == owner.MISSING
    gate.check(PASS)


def test_wrong_guesses_lock_owner_calls_out_longer_each_time(tmp_path: Path) -> None:
    gate = OwnerGate(tmp_path / owner.FILE_NAME)
    owner.store_hash(gate.path, PASS)
    now = 1000.0
    for k in range(1, 5):
        with pytest.raises(OwnerRefused) as refused:
            gate.check("guess", now=now)
        assert refused.value.message == owner.WRONG
        assert gate.locked_until - now == min(2.0 ** (k - 1), owner.LOCK_MAX)
        with pytest.raises(OwnerRefused) as refused:  # even the right one, while locked
            gate.check(PASS, now=now)
        assert refused.value.message.startswith("too many wrong owner passphrases")
        now = gate.locked_until
    gate.check(PASS, now=now)
    assert gate.failures == 0
    assert owner.LOCK_MAX == 300.0


def test_weak_passphrases_are_refused() -> None:
    assert owner.too_weak("short") is not None
    assert owner.too_weak("x" * owner.MIN_LENGTH) is None
    assert owner.too_weak("x" * (owner.MAX_LENGTH + 1)) is not None


def _setsid_run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`spacesd ...` with no controlling terminal (a new session), input from a pipe: as an
    agent's non-interactive shell runs it."""
    return subprocess.run([sys.executable, "-m", "spacesd", *args], input=PASS + "\n" + PASS
                          + "\n", capture_output=True, text=True, env=env, timeout=60,
                          start_new_session=True, check=False)


def test_setting_the_passphrase_needs_a_terminal(tmp_path: Path) -> None:
    env = {**os.environ, "SPACES_CONFIG_DIR": str(tmp_path)}
    done = _setsid_run(["owner", "passphrase"], env)
    assert done.returncode == 1
    assert "needs a person at a terminal" in done.stderr
    assert not (tmp_path / owner.FILE_NAME).exists()


def test_the_passphrase_is_set_at_a_terminal(tmp_path: Path) -> None:
    import pty

    env = {**os.environ, "SPACES_CONFIG_DIR": str(tmp_path)}
    pid, fd = pty.fork()
    if pid == 0:  # the child: a session whose controlling terminal is the pty
        os.execve(sys.executable, [sys.executable, "-m", "spacesd", "owner", "passphrase"], env)
    output = b""
    answers = [PASS, PASS]
    try:
        while True:
            try:
                chunk = os.read(fd, 1024)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
            if answers and output.rstrip().endswith(b":"):
                os.write(fd, (answers.pop(0) + "\n").encode())
                output += b"\n"
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, output
    assert PASS.encode() not in output  # never echoed
    stored = owner.load_hash(tmp_path / owner.FILE_NAME)
    assert stored is not None and owner.verify(PASS, stored)
