"""systemd STATUS= lines from a running daemon (a fake NOTIFY_SOCKET): the embedded backend
says where its data is once serving; the SpacetimeDB backend reports each connection state
(connecting, subscribed, offline with the reconnect count) as it changes."""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import ProcessDaemon, SpacesEnv
from test_stdb_e2e import ServerProcess, stdb_env
from testutil import free_port

from spacesd.ipc import Ok


class Notifications:
    """The datagrams a fake service manager receives, split into lines."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.messages: list[list[str]] = []

    def wait_for(self, pred: Callable[[list[str]], bool], timeout: float = 30.0) -> list[str]:
        """The first message (already received or next) for which `pred` holds."""
        for msg in self.messages:
            if pred(msg):
                return msg
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"no such notification in {self.messages}"
            self.sock.settimeout(left)
            msg = self.sock.recv(4096).decode().split("\n")
            self.messages.append(msg)
            if pred(msg):
                return msg

    def drain(self) -> None:
        """Take in whatever is already queued (the sender has exited)."""
        self.sock.settimeout(0)
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode().split("\n"))
            except (BlockingIOError, TimeoutError):
                return

    def statuses(self) -> list[str]:
        return [line[len("STATUS="):] for msg in self.messages for line in msg
                if line.startswith("STATUS=")]

    def close(self) -> None:
        self.sock.close()


def status_with(*words: str) -> Callable[[list[str]], bool]:
    return lambda msg: any(line.startswith("STATUS=") and all(w in line for w in words)
                           for line in msg)


@pytest.fixture
def notify(spaces_env: SpacesEnv) -> Iterator[Notifications]:
    n = Notifications(spaces_env.root / "notify")
    spaces_env.env["NOTIFY_SOCKET"] = str(spaces_env.root / "notify")
    try:
        yield n
    finally:
        n.close()


def test_embedded_status_line_once_serving(daemon_process: ProcessDaemon,
                                           spaces_env: SpacesEnv, notify: Notifications) -> None:
    daemon_process.start()
    ready = notify.wait_for(lambda msg: "READY=1" in msg)
    database = spaces_env.data_dir / "spaces.sqlite"
    assert f"STATUS=embedded database {database}; serving {spaces_env.socket}" in ready
    daemon_process.stop()
    notify.wait_for(lambda msg: "STOPPING=1" in msg)


@pytest.fixture
def stdb(tmp_path: Path) -> Iterator[tuple[ServerProcess, ProcessDaemon, Notifications]]:
    server = ServerProcess(tmp_path / "stdb", free_port()).start()
    root = Path("/tmp") / f"spn-{os.getpid()}-{time.time_ns() % 10**6}"  # short socket paths
    root.mkdir()
    env = stdb_env(root, server, "agent-sd")
    notify = Notifications(root / "notify")
    env.env["NOTIFY_SOCKET"] = str(root / "notify")
    daemon = ProcessDaemon(env)
    try:
        yield server, daemon, notify
    finally:
        daemon.stop()
        notify.close()
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_spacetimedb_connection_states_reach_systemd(
        stdb: tuple[ServerProcess, ProcessDaemon, Notifications]) -> None:
    server, daemon, notify = stdb
    db = f"{server.url}/spaces"
    daemon.start()
    ready = notify.wait_for(lambda msg: "READY=1" in msg)
    assert f"STATUS=subscribed to {db}; serving {daemon.socket}" in ready
    first = notify.statuses()
    assert first.index(f"connecting to {db}") < first.index(f"connected to {db}, subscribing")

    server.kill()
    offline = notify.wait_for(status_with("offline: ", f"reconnecting to {db}", "writes wait"))
    assert any(f"; serving {daemon.socket}" in line for line in offline)
    server.start()
    notify.wait_for(status_with(f"subscribed to {db} (1 reconnect); serving {daemon.socket}"))
    res = daemon.request("status")
    assert isinstance(res, Ok) and res.result["reconnects"] == 1

    daemon.stop()
    stopping = notify.wait_for(lambda msg: "STOPPING=1" in msg)
    assert stopping == ["STOPPING=1", "STATUS=stopping: finishing writes"]
    notify.drain()
    # Nothing after STOPPING claims the backend is offline or reconnecting.
    statuses = notify.statuses()
    assert statuses[statuses.index("stopping: finishing writes") + 1:] == []
