"""Live sessions on the real SpacetimeDB server (tests/real_stdb.py): two daemons (two
machines), a session on each, each session its own minted identity with its own connection.
A mention from A lands in B's inbox (B's daemon sees it through the module's row-level
security, keeps B's marker, hands it to B's hook once), and A's daemon sees B's receipt go
Queued -> Delivered -> Read."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import ProcessDaemon
from real_stdb import RealServer
from test_stdb_e2e import short_dir, stdb_env

from spacesd.ipc import Ok

A = "a1a1a1a1-0000-4000-8000-00000000a1a1"
B = "b2b2b2b2-0000-4000-8000-00000000b2b2"


@dataclass
class Db:
    url: str
    database: str


def ok(daemon: ProcessDaemon, op: str, **args: Any) -> Any:
    res = daemon.request(op, timeout=30.0, **args)
    assert isinstance(res, Ok), (res, daemon.log.read_text()[-3000:])
    return res.result


def wait_for(cond: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
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
        for name in ("live-a", "live-b"):
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


def test_a_mention_crosses_machines_exactly_once_with_receipts(
        machines: tuple[ProcessDaemon, ProcessDaemon]) -> None:
    da, db = machines
    pa = ok(da, "session_event", session=A, agent="claude", event="SessionStart",
            cwd=str(da.env.root))["participant"]
    pb = ok(db, "session_event", session=B, agent="codex", event="SessionStart",
            cwd=str(db.env.root))["participant"]
    machine_a, machine_b = ok(da, "status")["identity"], ok(db, "status")["identity"]
    # the module's row-level security on inbox_item (recipient, sender, and the machine
    # joins) is accepted by the real server for the daemon's subscription
    assert ok(da, "status")["subscription_errors"] == []
    assert ok(db, "status")["subscription_errors"] == []
    assert len({pa["identity"], pb["identity"], machine_a, machine_b}) == 4
    wait_for(lambda: pb["handle"] in {w["handle"] for w in ok(da, "who")}, "A sees B")
    who = {w["handle"]: w for w in ok(da, "who")}
    assert who[pb["handle"]]["machine"] == machine_b and who[pb["handle"]]["agent"] == "codex"

    sent = ok(da, "post", session=A, to="#general", text=f"{pb['handle']} please review")
    assert sent["sender"] == pa["identity"]  # ctx.sender was the session, not the daemon
    marker = db.env.runtime_dir / "live" / f"{B}.inbox"
    wait_for(marker.exists, "B's marker")

    def receipt() -> str | None:
        found = ok(da, "receipts", session=A, message_id=sent["id"])
        return found[0]["state"] if found else None

    wait_for(lambda: receipt() == "Queued", "A's receipt Queued")
    claim = ok(db, "inbox_claim", session=B, point="post")
    assert claim["claim"] and "please review" in claim["text"] and len(claim["ids"]) == 1
    assert ok(db, "inbox_claim", session=B)["claim"] is None  # one claim at a time
    assert ok(db, "inbox_ack", claim=claim["claim"], session=B)["acked"] == 1
    assert not marker.exists()
    assert ok(db, "inbox_claim", session=B)["claim"] is None  # never twice
    wait_for(lambda: receipt() == "Delivered", "A's receipt Delivered")

    ok(db, "post", session=B, to=f"reply:{sent['id']}", text="looks good")
    wait_for(lambda: receipt() == "Read", "A's receipt Read")
    wait_for(lambda: bool(ok(da, "inbox", session=A)["items"]), "B's reply in A's inbox")
    items = ok(da, "inbox", session=A)["items"]
    assert [(i["kind"], i["text"]) for i in items] == [("Reply", "looks good")]

    # a DM between the two sessions, each over its own connection
    dm = ok(db, "post", session=B, to=pa["handle"], text="one more thing")
    assert dm["dm"] is True
    wait_for(lambda: any(i["kind"] == "Dm" for i in ok(da, "inbox", session=A)["items"]),
             "B's DM in A's inbox")
    claim = ok(da, "inbox_claim", session=A)
    assert "one more thing" in claim["text"] and f"from {pb['handle']}" in claim["text"]
