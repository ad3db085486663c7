"""Lease markers on the real SpacetimeDB server (tests/real_stdb.py): two daemons (two
machines). A lease taken on machine A reaches machine B through B's subscription, and B keeps
its session's `<session>.lease` marker from that update; B's PreToolUse check names A as the
holder; when the lease ends, the module's scheduled reducer deletes it and B's marker goes
with the deletion — B's clock decides nothing."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import ProcessDaemon
from real_stdb import RealServer
from test_stdb_e2e import short_dir, stdb_env

from spacesd.ipc import Ok

B = "b3b3b3b3-0000-4000-8000-00000000b3b3"


@dataclass
class Db:
    url: str
    database: str


def ok(daemon: ProcessDaemon, op: str, **args: Any) -> Any:
    res = daemon.request(op, timeout=30.0, **args)
    assert isinstance(res, Ok), (res, daemon.log.read_text()[-3000:])
    return res.result


def wait_for(cond: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def machines(real_stdb: RealServer) -> Iterator[tuple[ProcessDaemon, ProcessDaemon]]:
    db = Db(real_stdb.url, real_stdb.publish())
    daemons: list[ProcessDaemon] = []
    try:
        for name in ("lease-a", "lease-b"):
            env = stdb_env(short_dir(name), db, name)  # type: ignore[arg-type]
            daemons.append(ProcessDaemon(env).start(timeout=60))
        for d in daemons:
            wait_for(lambda d=d: bool(ok(d, "status")["counts"].get("channel")),  # type: ignore[misc]
                     "the first subscription")
        yield daemons[0], daemons[1]
    finally:
        for d in daemons:
            d.stop()
            shutil.rmtree(d.env.root, ignore_errors=True)


def repo(path: Path) -> Path:
    (path / "src").mkdir(parents=True)
    git = ["git", "-C", str(path), "-c", "user.name=t", "-c", "user.email=t@e"]
    subprocess.run([*git[:3], "init", "-q"], check=True)
    (path / "src" / "auth.py").write_text("x\n")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "root"], check=True)
    return path


def test_marker_follows_subscription_updates_and_server_expiry(
        machines: tuple[ProcessDaemon, ProcessDaemon]) -> None:
    da, db = machines
    project = repo(db.env.root / "api")
    ok(db, "session_event", session=B, agent="claude", event="SessionStart", cwd=str(project))
    marker = Path(db.env.env.get("SPACES_LIVE_DIR") or db.env.runtime_dir / "live") / (
        f"{B}.lease")
    key = ok(db, "lease_check", session=B, cwd=str(project), paths=["src/auth.py"])["project"]
    assert not marker.exists()
    held = ok(da, "lease_acquire", project=key, path="src/", ttl=4, reason="on machine A")
    wait_for(marker.exists, "B's marker from A's lease (a subscription update)")
    check = ok(db, "lease_check", session=B, cwd=str(project), paths=["src/auth.py"])
    assert [c["lease_id"] for c in check["conflicts"]] == [held["id"]]
    assert check["conflicts"][0]["message"].startswith(
        f"src/auth.py is leased by {held['holder_name']} until {held['expires_at'][:19]}")
    # the server's scheduled reducer deletes the lease at its end; B's marker follows it
    wait_for(lambda: not marker.exists(), "the marker gone after the server's expiry", 30.0)
    assert ok(db, "lease_list", project=key) == []
    assert ok(db, "lease_check", session=B, cwd=str(project),
              paths=["src/auth.py"])["conflicts"] == []
