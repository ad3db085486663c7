"""Live sessions on the real SpacetimeDB server (tests/real_stdb.py): two daemons (two
machines), a session on each, each session its own minted identity with its own connection.
A mention from A lands in B's inbox (B's daemon sees it through the module's row-level
security, keeps B's marker, hands it to B's hook once), and A's daemon sees B's receipt go
Queued -> Delivered -> Read."""

from __future__ import annotations

import contextlib
import json
import shutil
import stat
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import ProcessDaemon
from real_stdb import RealServer
from test_stdb_e2e import short_dir, stdb_env

from spacesd import owner
from spacesd.ipc import Err, Ok

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


@contextlib.contextmanager
def two_machines(real_stdb: RealServer, names: tuple[str, str]
                 ) -> Iterator[tuple[ProcessDaemon, ProcessDaemon]]:
    """Two daemons (two machines) on a freshly published database, each past its first
    subscription; stopped and their directories removed afterwards."""
    db = Db(real_stdb.url, real_stdb.publish())
    daemons: list[ProcessDaemon] = []
    try:
        for name in names:
            env = stdb_env(short_dir(name), db, name)  # type: ignore[arg-type]
            daemons.append(ProcessDaemon(env).start(timeout=60))
        for d in daemons:
            wait_for(lambda d=d: bool(ok(d, "status")["counts"].get("channel")),  # type: ignore[misc]
                     "the first subscription", 30.0)
        yield daemons[0], daemons[1]
    finally:
        for d in daemons:
            d.stop()
            shutil.rmtree(d.env.root, ignore_errors=True)


@pytest.fixture
def machines(real_stdb: RealServer) -> Iterator[tuple[ProcessDaemon, ProcessDaemon]]:
    with two_machines(real_stdb, ("live-a", "live-b")) as pair:
        yield pair


def test_a_mention_crosses_machines_exactly_once_with_receipts(
        real_stdb: RealServer, machines: tuple[ProcessDaemon, ProcessDaemon]) -> None:
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
    dm = ok(db, "post", session=B, to=pa["handle"], text="one more thing", key="dm-once")
    assert dm["dm"] is True
    again = ok(db, "post", session=B, to=pa["handle"], text="one more thing", key="dm-once")
    assert again["dm"] is True and again["duplicate"] is True  # send_dm_keyed: a retry
    database = db.env.env["SPACETIMEDB_DATABASE"]
    assert [r[3] for r in _sql(real_stdb, database, "SELECT * FROM direct_message")
            ].count("one more thing") == 1
    wait_for(lambda: any(i["kind"] == "Dm" for i in ok(da, "inbox", session=A)["items"]),
             "B's DM in A's inbox")
    claim = ok(da, "inbox_claim", session=A)
    assert "one more thing" in claim["text"] and f"from {pb['handle']}" in claim["text"]


def _sql(server: RealServer, database: str, query: str) -> list[list[Any]]:
    req = urllib.request.Request(f"{server.url}/v1/database/{database}/sql",
                                 data=query.encode(), method="POST")
    req.add_header("Authorization", f"Bearer {server.owner_token}")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return [row for table in json.loads(resp.read()) for row in table["rows"]]


def test_a_person_addresses_and_dms_a_session_on_the_real_server(
        real_stdb: RealServer, machines: tuple[ProcessDaemon, ProcessDaemon]) -> None:
    """The machine's human owner is an identity of its own on the server (a person profile,
    not the daemon's, not a session's), used only after the owner passphrase: a priority
    `address` and a DM from it reach a session on another machine "from a person"."""
    da, db = machines
    pa = ok(da, "session_event", session=A, agent="claude", event="SessionStart",
            cwd=str(da.env.root))["participant"]
    pb = ok(db, "session_event", session=B, agent="codex", event="SessionStart",
            cwd=str(db.env.root))["participant"]
    wait_for(lambda: pb["handle"] in {w["handle"] for w in ok(da, "who")}, "A sees B")
    res = da.request("address", to=pb["handle"], text="stop", priority=True)
    assert isinstance(res, Err) and res.code == "forbidden"  # an agent has no passphrase
    owner.store_hash(da.env.config_dir / owner.FILE_NAME, "owner words")
    sent = ok(da, "address", to=pb["handle"], text="stop and rebase", priority=True,
              owner_passphrase="owner words")
    assert sent["recipients"] == 1
    person = sent["sender"]
    machine_a = ok(da, "status")["identity"]
    participants = {pa["identity"], pb["identity"]}
    assert person != machine_a and person not in participants
    token_path = next((da.env.data_dir / "stdb-tokens").glob("owner-*.token"))
    assert stat.S_IMODE(token_path.stat().st_mode) == 0o600
    marker = db.env.runtime_dir / "live" / f"{B}.inbox"
    wait_for(marker.exists, "B's marker")
    claim = ok(db, "inbox_claim", session=B)
    assert claim["priority"] is True and "PRIORITY from a person" in claim["text"]
    assert "stop and rebase" in claim["text"]
    ok(db, "inbox_ack", claim=claim["claim"], session=B)

    # the server's rows: the sender is a person profile (is_agent false), and so it stays
    database = da.env.env["SPACETIMEDB_DATABASE"]
    profiles = {str(r[0][0]).lower().removeprefix("0x"): r
                for r in _sql(real_stdb, database, "SELECT * FROM user_profile")}
    assert profiles[person][5] is False  # is_agent (identity, username, ..., is_agent, ...)
    assert profiles[pb["identity"]][5] is True and profiles[machine_a][5] is True

    # a DM from the same person (spacesd call --as-owner), after the passphrase again
    res = da.request("call", reducer="start_dm", args=[pb["identity"]], as_owner=True)
    assert isinstance(res, Err) and res.code == "forbidden"
    ok(da, "call", reducer="start_dm", args=[pb["identity"]], as_owner=True,
       owner_passphrase="owner words")
    conv = next(r[0] for r in _sql(real_stdb, database, "SELECT * FROM direct_conversation")
                if {str(r[1][0]).lower().removeprefix("0x"),
                    str(r[2][0]).lower().removeprefix("0x")} == {person, pb["identity"]})
    ok(da, "call", reducer="send_dm", args=[conv, "a word from your person"], as_owner=True,
       owner_passphrase="owner words")
    wait_for(marker.exists, "B's marker for the DM")
    claim = ok(db, "inbox_claim", session=B)
    assert "a word from your person" in claim["text"] and "(person)" in claim["text"]
