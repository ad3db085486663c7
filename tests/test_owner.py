"""The owner passphrase: its hash, the daemon's check and lock-out, and the terminal-only CLI."""

from __future__ import annotations

import itertools
import os
import select
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import ThreadDaemon

from spacesd import owner
from spacesd.engine import errors
from spacesd.ipc import Err
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


def run_in_pty(args: list[str], env: dict[str, str], answers: list[str]) -> tuple[int, bytes]:
    """`spacesd ARGS` with a pseudo-terminal as its controlling terminal, as a person runs it:
    each prompt (a line ending in ":") gets the next answer typed. Exit code and output."""
    import pty

    pid, fd = pty.fork()
    if pid == 0:  # the child: a new session whose controlling terminal is the pty
        os.execve(sys.executable, [sys.executable, "-m", "spacesd", *args], env)
    output, answers, answered = b"", list(answers), 0
    deadline = time.monotonic() + 60
    try:
        while True:
            if not select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
                os.kill(pid, signal.SIGKILL)
                raise AssertionError(f"spacesd {args} hung at a terminal: {output!r}")
            try:
                chunk = os.read(fd, 1024)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
            # Answer a prompt printed since the last answer (not the same one twice).
            if answers and output[answered:].strip().endswith(b":"):
                os.write(fd, (answers.pop(0) + "\n").encode())
                output += b"\n"
                answered = len(output)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), output


def test_the_passphrase_is_set_at_a_terminal(tmp_path: Path) -> None:
    env = {**os.environ, "SPACES_CONFIG_DIR": str(tmp_path)}
    code, output = run_in_pty(["owner", "passphrase"], env, [PASS, PASS])
    assert code == 0, output
    assert PASS.encode() not in output  # never echoed
    stored = owner.load_hash(tmp_path / owner.FILE_NAME)
    assert stored is not None and owner.verify(PASS, stored)
    # Changing it asks for the current one first.
    code, output = run_in_pty(["owner", "passphrase"], env, ["not it at all", "x", "x"])
    assert code == 1 and b"wrong owner passphrase" in output
    assert owner.load_hash(tmp_path / owner.FILE_NAME) == stored


# --------------------------------------------------------------------------------------------
# Through the daemon


def _profiles_and_roles(d: ThreadDaemon) -> object:
    store = d.daemon_obj.backend.store
    return store.rows("user_profile"), store.rows("server_member"), store.rows("channel")


def test_owner_calls_need_the_passphrase_over_the_socket(daemon: ThreadDaemon) -> None:
    create: dict[str, Any] = {"reducer": "create_channel",
                              "args": [1, "design", None, "Text"], "as_owner": True}
    before = _profiles_and_roles(daemon)
    refused = daemon.request("call", **create)  # no passphrase set yet
    assert isinstance(refused, Err) and refused.code == "forbidden"
    assert refused.message == owner.NOT_SET and "spacesd owner passphrase" in refused.message
    owner.store_hash(daemon.daemon_obj.settings.owner_passphrase_file, PASS)
    for given in (None, ""):
        refused = daemon.request("call", **create, owner_passphrase=given)
        assert isinstance(refused, Err) and refused.message == owner.MISSING
    refused = daemon.request("call", **create, owner_passphrase="a guess, wrong")
    assert isinstance(refused, Err) and refused.code == "forbidden"
    assert refused.message == owner.WRONG
    refused = daemon.request("call", **create, owner_passphrase=PASS)  # locked for 1 s
    assert isinstance(refused, Err) and "too many wrong" in refused.message
    assert _profiles_and_roles(daemon) == before
    time.sleep(1.05)
    assert daemon.ok("call", **create, owner_passphrase=PASS) == {"committed": True}
    assert "design" in [c["name"] for c in daemon.ok("channels")]


def test_the_agent_cannot_escalate_through_the_daemon(daemon: ThreadDaemon) -> None:
    """The issue's path: the agent makes itself a person, then an Admin with --as-owner."""
    owner.store_hash(daemon.daemon_obj.settings.owner_passphrase_file, PASS)
    backend = daemon.daemon_obj.backend
    me = backend.identity.hex
    before = _profiles_and_roles(daemon)
    refused = daemon.request("call", reducer="register_user", args=["name", None, False])
    assert isinstance(refused, Err) and refused.code == "reducer_error"
    assert refused.message == errors.AGENT_CANNOT_BECOME_PERSON
    refused = daemon.request("call", reducer="set_member_role", args=[1, me, "Admin"],
                             as_owner=True)
    assert isinstance(refused, Err) and refused.code == "forbidden"
    refused = daemon.request("call", reducer="set_member_role", args=[1, me, "Admin"],
                             as_owner=True, owner_passphrase=PASS + "?")
    assert isinstance(refused, Err) and refused.code == "forbidden"
    time.sleep(1.05)
    # Even the owner cannot make the agent an Admin: an agent holds only Agent.
    refused = daemon.request("call", reducer="set_member_role", args=[1, me, "Admin"],
                             as_owner=True, owner_passphrase=PASS)
    assert isinstance(refused, Err) and refused.message == errors.AGENT_ROLE_ONLY
    for reducer in ("client_connected", "client_disconnected", "init"):
        refused = daemon.request("call", reducer=reducer, args=[])
        assert isinstance(refused, Err) and refused.message == errors.lifecycle_reducer(reducer)
    assert _profiles_and_roles(daemon) == before


def test_the_cli_asks_a_person_at_a_terminal(daemon: ThreadDaemon) -> None:
    owner.store_hash(daemon.daemon_obj.settings.owner_passphrase_file, PASS)
    env = {k: v for k, v in os.environ.items()}
    argv = ["call", "--as-owner", "create_channel", "1", "design", "null", "Text"]
    # An agent's non-interactive shell: no terminal, the passphrase on stdin is not read.
    done = _setsid_run(argv, env)
    assert done.returncode == 1 and "needs a person at a terminal" in done.stderr
    assert "design" not in [c["name"] for c in daemon.ok("channels")]
    code, output = run_in_pty(argv, env, ["wrong passphrase!"])
    assert code == 1 and b"wrong owner passphrase" in output
    time.sleep(1.05)
    code, output = run_in_pty(argv, env, [PASS])
    assert code == 0 and b"committed" in output and b"create_channel" in output
    assert PASS.encode() not in output
    assert "design" in [c["name"] for c in daemon.ok("channels")]


# --------------------------------------------------------------------------------------------
# Reads follow membership


def _as_owner(d: ThreadDaemon, reducer: str, *args: object) -> None:
    assert d.ok("call", reducer=reducer, args=list(args), as_owner=True,
                owner_passphrase=PASS) == {"committed": True}


def test_reads_show_only_servers_the_daemon_belongs_to(daemon: ThreadDaemon) -> None:
    from spacesd.ipc import Client

    owner.store_hash(daemon.daemon_obj.settings.owner_passphrase_file, PASS)
    store = daemon.daemon_obj.backend.store
    _as_owner(daemon, "create_server", "Private", None, None)
    private = next(s for s in store.servers() if s.name == "Private")
    secret_channel = store.channel_by_name(private.id, "general")
    assert secret_channel is not None
    _as_owner(daemon, "send_message", secret_channel.id, "the secret plan", None, None, "Text")
    # Not a member: the server and its channels read as if they did not exist.
    assert "Private" not in {c["server"] for c in daemon.ok("channels")}
    for server in (private.id, "Private"):
        refused = daemon.request("channels", server=server)
        assert isinstance(refused, Err) and refused.code == "not_found"
    refused = daemon.request("messages", channel=secret_channel.id)
    assert isinstance(refused, Err) and refused.code == "not_found"
    refused = daemon.request("context", session_id="s", channel=secret_channel.id)
    assert isinstance(refused, Err) and refused.code == "not_found"
    refused = daemon.request("tail", channels=[secret_channel.id])
    assert isinstance(refused, Err) and refused.code == "not_found"
    # A tail of everything leaves the Private server out.
    events: list[dict[str, object]] = []
    stream = Client(daemon.socket, timeout=5).stream("tail", {}, idle_timeout=5)
    reader = threading.Thread(target=lambda: events.extend(itertools.islice(stream, 1)))
    reader.start()
    time.sleep(0.2)
    _as_owner(daemon, "send_message", secret_channel.id, "more secrets", None, None, "Text")
    daemon.ok("send", channel="general", content="hello hub")
    reader.join(5)
    assert [e["data"]["content"] for e in events] == ["hello hub"]  # type: ignore[index]
    # Once a member (the server is open), it reads as any other.
    daemon.ok("call", reducer="join_server", args=[private.id])
    contents = [m["content"] for m in daemon.ok("messages", channel=secret_channel.id)]
    assert "the secret plan" in contents
    assert "Private" in {c["server"] for c in daemon.ok("channels")}
