"""Claims are atomic and expire without any daemon: 50 concurrent claimers of one task get
exactly one winner, on the embedded engine (threads) and on the real SpacetimeDB server (50
WebSocket clients); on the real server an expired claim and lease are released by the module's
scheduled reducer with nobody writing, and are claimable again by another identity."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import threading
import time
import urllib.request
from typing import Any

from real_stdb import RealServer

from spacesd.engine import Engine, ReducerError
from spacesd.model import Identity, Task, TaskState
from spacesd.stdb import bsatn
from spacesd.stdb.connection import Connection, ReducerRefused
from spacesd.store import Store

CLAIMERS = 50
CLAIMED = re.compile(r"task (\d+) is claimed by (@\S+) until "
                     r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def _identity(i: int) -> Identity:
    return Identity(int.from_bytes(hashlib.sha256(f"claimer {i}".encode()).digest(), "big"))


def test_fifty_concurrent_claimers_on_the_engine() -> None:
    engine = Engine(Store(":memory:"), _identity(-1))
    engine.ensure_initialized()
    people = [_identity(i) for i in range(CLAIMERS)]
    for who in people:
        engine.call(who, "client_connected", [], host=True)
    engine.call(people[0], "create_task", [1, "the one task", "", None, None])
    (task,) = engine.store.rows("task")
    start = threading.Barrier(CLAIMERS)
    outcomes: list[Any] = [None] * CLAIMERS

    def claim(i: int) -> None:
        start.wait()
        try:
            engine.call(people[i], "claim_task", [task.id, 600])
            outcomes[i] = "won"
        except ReducerError as refusal:
            outcomes[i] = refusal.message

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(CLAIMERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    winners = [i for i, o in enumerate(outcomes) if o == "won"]
    assert len(winners) == 1
    (row,) = engine.store.rows("task")
    assert row.state == TaskState.Claimed and row.assignee == people[winners[0]]
    holder = engine.store.profile(people[winners[0]])
    assert holder is not None
    for i, o in enumerate(outcomes):
        if i != winners[0]:
            m = CLAIMED.fullmatch(o)
            assert m is not None, o
            assert (int(m.group(1)), m.group(2)) == (task.id, f"@{holder.username}")


async def _connect(url: str, database: str, tokens: list[str]) -> list[Connection]:
    conns = [Connection(url, database, t) for t in tokens]
    for c in conns:
        c.start()
    for c in conns:
        assert await c.wait_ready(30)
    return conns


def _hub_general(rows: list[Any]) -> int:
    return int(min(c.id for c in rows if c.name == "general"))


async def _race(url: str, database: str, owner_token: str, tokens: list[str]
                ) -> tuple[list[Any], Task, list[Any]]:
    conns = await _connect(url, database, [owner_token, *tokens])
    owner, claimers = conns[0], conns[1:]
    try:
        general = _hub_general((await owner.query("SELECT * FROM channel"))["channel"])
        await owner.call("create_task", bsatn.encode_args(
            "create_task", (general, "the one task", "", None, None)))
        (task,) = (await owner.query("SELECT * FROM task"))["task"]

        async def claim(c: Connection) -> Any:
            try:
                await c.call("claim_task", bsatn.encode_args("claim_task", (task.id, 600)))
                return "won"
            except ReducerRefused as refusal:
                return refusal.message

        outcomes = await asyncio.gather(*(claim(c) for c in claimers))
        (after,) = (await owner.query("SELECT * FROM task"))["task"]
        profiles = (await owner.query("SELECT * FROM user_profile"))["user_profile"]
        return list(outcomes), after, profiles
    finally:
        for c in conns:
            await c.close()


def test_fifty_concurrent_claimers_on_the_real_server(real_stdb: RealServer) -> None:
    database = real_stdb.publish()
    tokens = [real_stdb.new_identity()[0] for _ in range(CLAIMERS)]
    outcomes, task, profiles = asyncio.run(
        _race(real_stdb.url, database, real_stdb.owner_token, tokens))
    assert outcomes.count("won") == 1, outcomes
    assert task.state == TaskState.Claimed and task.assignee is not None
    (winner,) = [p.username for p in profiles if p.identity == task.assignee]
    for o in outcomes:
        if o != "won":
            m = CLAIMED.fullmatch(o)
            assert m is not None, o
            assert (int(m.group(1)), m.group(2)) == (task.id, f"@{winner}")


def _http_call(url: str, database: str, token: str, reducer: str, args: list[Any]) -> None:
    req = urllib.request.Request(f"{url}/v1/database/{database}/call/{reducer}",
                                 data=json.dumps(args).encode(), method="POST")
    req.add_header("Authorization", f"Bearer {token}")
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.status == 200


def _sql_rows(url: str, database: str, token: str, sql: str) -> int:
    req = urllib.request.Request(f"{url}/v1/database/{database}/sql", data=sql.encode(),
                                 method="POST")
    req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return sum(len(r["rows"]) for r in json.loads(resp.read()))


async def _read(url: str, database: str, token: str) -> tuple[list[Any], list[Any], int]:
    (owner,) = await _connect(url, database, [token])
    try:
        tasks = (await owner.query("SELECT * FROM task"))["task"]
        leases = (await owner.query("SELECT * FROM path_lease")).get("path_lease", [])
        general = _hub_general((await owner.query("SELECT * FROM channel"))["channel"])
        return tasks, leases, general
    finally:
        await owner.close()


def test_expiry_on_the_real_server_needs_no_daemon(real_stdb: RealServer) -> None:
    url, owner = real_stdb.url, real_stdb.owner_token
    database = real_stdb.publish()
    (alice, _), (bob, _) = real_stdb.new_identity(), real_stdb.new_identity()
    _, _, general = asyncio.run(_read(url, database, owner))
    none: dict[str, list[Any]] = {"none": []}
    _http_call(url, database, owner, "create_task", [general, "short", "", none, none])
    (task,), _, _ = asyncio.run(_read(url, database, owner))
    # HTTP calls: each connects, calls and disconnects; nothing of Spaces runs anywhere
    _http_call(url, database, alice, "claim_task", [task.id, 1])
    _http_call(url, database, alice, "acquire_lease", ["git:0f1e", "src/", 1, none])
    (claimed,), leases, _ = asyncio.run(_read(url, database, owner))
    assert claimed.state == TaskState.Claimed and len(leases) == 1
    assert _sql_rows(url, database, owner, "SELECT * FROM expiry_schedule") == 2
    deadline = time.monotonic() + 15
    while True:  # nobody writes: only the module's scheduled reducer can change them
        time.sleep(0.5)
        (task_now,), leases, _ = asyncio.run(_read(url, database, owner))
        if task_now.state == TaskState.Open and not leases:
            break
        assert time.monotonic() < deadline, (task_now, leases)
    assert task_now.assignee is None and task_now.lease_expires is None
    assert _sql_rows(url, database, owner, "SELECT * FROM expiry_schedule") == 0
    _http_call(url, database, bob, "claim_task", [task.id, 600])
    _http_call(url, database, bob, "acquire_lease", ["git:0f1e", "src/", 600, none])
    (taken,), leases, _ = asyncio.run(_read(url, database, owner))
    assert taken.state == TaskState.Claimed and taken.assignee != claimed.assignee
    assert [lease.pattern for lease in leases] == ["src/"]
