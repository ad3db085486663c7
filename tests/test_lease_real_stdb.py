"""Lease markers on the real SpacetimeDB server (tests/real_stdb.py): two daemons (two
machines). A lease taken on machine A reaches machine B through B's subscription, and B keeps
its session's `<session>.lease` marker from that update; B's PreToolUse check names A as the
holder; when the lease ends, the module's scheduled reducer deletes it and B's marker goes
with the deletion — B's clock decides nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ProcessDaemon
from real_stdb import RealServer
from test_live_real_stdb import ok, two_machines, wait_for
from testutil import git_repo

B = "b3b3b3b3-0000-4000-8000-00000000b3b3"


@pytest.fixture
def machines(real_stdb: RealServer) -> Iterator[tuple[ProcessDaemon, ProcessDaemon]]:
    with two_machines(real_stdb, ("lease-a", "lease-b")) as pair:
        yield pair


def test_marker_follows_subscription_updates_and_server_expiry(
        machines: tuple[ProcessDaemon, ProcessDaemon]) -> None:
    da, db = machines
    project = git_repo(db.env.root / "api")
    ok(db, "session_event", session=B, agent="claude", event="SessionStart", cwd=str(project))
    marker = Path(db.env.env.get("SPACES_LIVE_DIR") or db.env.runtime_dir / "live") / (
        f"{B}.lease")
    key = ok(db, "lease_check", session=B, cwd=str(project), paths=["src/auth.py"])["project"]
    assert not marker.exists()
    held = ok(da, "lease_acquire", project=key, path="src/", ttl=4, reason="on machine A")
    wait_for(marker.exists, "B's marker from A's lease (a subscription update)", 30.0)
    check = ok(db, "lease_check", session=B, cwd=str(project), paths=["src/auth.py"])
    assert [c["lease_id"] for c in check["conflicts"]] == [held["id"]]
    assert check["conflicts"][0]["message"].startswith(
        f"src/auth.py is leased by {held['holder_name']} until {held['expires_at'][:19]}")
    # the server's scheduled reducer deletes the lease at its end; B's marker follows it
    wait_for(lambda: not marker.exists(), "the marker gone after the server's expiry", 30.0)
    assert ok(db, "lease_list", project=key) == []
    assert ok(db, "lease_check", session=B, cwd=str(project),
              paths=["src/auth.py"])["conflicts"] == []
