"""The real-server tier itself: the module's pinned `spacetimedb` bindings publish and run on
the real SpacetimeDB (a bindings version the server cannot run crashes it at publish), the
published schema is the model's, the tier says in one line what is missing, and the stand-in
server (tests/stdb_server.py) answers what a client meets as the real one does."""

from __future__ import annotations

import asyncio
import json
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import real_stdb
from real_stdb import Missing, RealServer
from stdb_server import TestServer
from test_schema_sync import rust_filters
from testutil import run, wait_until

from spacesd import model
from spacesd.model import MessageType
from spacesd.stdb import bsatn
from spacesd.stdb.connection import Connection, QueryError, ReducerHostError
from spacesd.stdb.protocol import Event, SubscriptionErrorEvent

MODULE = Path(__file__).resolve().parents[1] / "module"


def bindings_pin() -> str:
    text = (MODULE / "Cargo.toml").read_text(encoding="utf-8")
    m = re.search(r'^spacetimedb\s*=\s*\{\s*version\s*=\s*"=([^"]+)"', text, re.M)
    assert m is not None, "module/Cargo.toml pins no exact spacetimedb version"
    return m.group(1)


def locked_version(crate: str) -> str:
    text = (MODULE / "Cargo.lock").read_text(encoding="utf-8")
    m = re.search(rf'\[\[package\]\]\nname = "{re.escape(crate)}"\nversion = "([^"]+)"', text)
    assert m is not None, f"{crate} is not in module/Cargo.lock"
    return m.group(1)


def test_the_pinned_bindings_publish_and_run(real_stdb: RealServer) -> None:
    # The .wasm is built from Cargo.lock, which must hold the exact pin.
    assert locked_version("spacetimedb") == bindings_pin()
    name = real_stdb.publish()
    assert real_stdb.proc is not None and real_stdb.proc.poll() is None, real_stdb.log_tail()
    with urllib.request.urlopen(f"{real_stdb.url}/v1/database/{name}/schema?version=9",
                                timeout=10) as resp:
        schema = json.loads(resp.read())
    # + the module's own scheduled table and reducer (claims and leases that end)
    assert sorted(t["name"] for t in schema["tables"]) == sorted(
        [t.name for t in model.TABLES] + ["expiry_schedule"])
    assert sorted(r["name"] for r in schema["reducers"]) == sorted(
        [r.name for r in model.REDUCERS] + ["expire"])
    published = sorted(" ".join(f["sql"].split()) for f in schema["row_level_security"])
    assert published == sorted(sql for _, sql in rust_filters())
    # and it runs: a second database of the same module, while the first one is live
    assert real_stdb.publish() != name
    assert real_stdb.proc.poll() is None, real_stdb.log_tail()


def test_a_missing_binary_is_one_clear_line(monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    monkeypatch.setenv("SPACES_SPACETIMEDB_BIN", str(tmp_path / "nowhere"))
    with pytest.raises(Missing) as found:
        real_stdb.locate()
    assert str(found.value) == f"SPACES_SPACETIMEDB_BIN={tmp_path / 'nowhere'} is not an " \
        "executable file"


def test_a_missing_wasm_is_one_clear_line(monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    monkeypatch.setenv("SPACES_WASM", str(tmp_path / "none.wasm"))
    with pytest.raises(Missing) as found:
        real_stdb.find_wasm()
    assert "\n" not in str(found.value) and "none.wasm is not a file" in str(found.value)


# --------------------------------------------------------------------------------------------
# The stand-in answers as the real server does (where Spaces meets the answer)


def _http(url: str, path: str, body: bytes = b"", token: str | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url + path, data=body, method="POST")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return int(resp.status), resp.read().decode()
    except urllib.error.HTTPError as e:
        return int(e.code), e.read().decode()


async def _refusal(url: str, database: str, token: str, sql: str) -> list[str]:
    """The SubscriptionError of a query set holding `sql` beside a good query."""
    refused: list[str] = []

    def on_event(ev: Event) -> None:
        if isinstance(ev, SubscriptionErrorEvent):
            refused.append(ev.error)

    sub = Connection(url, database, token, on_event=on_event)
    sub.subscribe("k", lambda: ["SELECT * FROM message", sql])
    sub.start()
    try:
        await wait_until(lambda: bool(refused))
    finally:
        await sub.close()
    return refused


async def _observe(url: str, database: str, owner_token: str) -> dict[str, Any]:
    """What a client meets: refusals, unknown names, the query grammar's errors, and the
    owner's view of a DM between two others."""
    loop = asyncio.get_running_loop()

    async def post(path: str, body: bytes = b"", token: str | None = None) -> tuple[int, str]:
        return await loop.run_in_executor(None, _http, url, path, body, token)

    seen: dict[str, Any] = {}
    tokens = [json.loads((await post("/v1/identity"))[1])["token"] for _ in range(2)]
    seen["refusal"] = await post(f"/v1/database/{database}/call/create_channel",
                                 b'[1, "x", null, {"Text": []}]', tokens[0])
    seen["unknown reducer (http)"] = await post(f"/v1/database/{database}/call/nope", b"[]",
                                                tokens[0])
    seen["bad token"] = (await post(f"/v1/database/{database}/call/nope", b"[]", "bad"))[0]
    conns = [Connection(url, database, t) for t in (*tokens, owner_token)]
    for c in conns:
        c.start()
        assert await c.wait_ready(10)
    a, b, owner = conns
    try:
        try:
            await a.call("nope", b"")
        except ReducerHostError as e:
            seen["unknown reducer (ws)"] = e.message
        for sql in ("SELECT * FROM nope", "SELECT id FROM message",
                    "SELECT * FROM message LIMIT 1", "SELECT * FROM message WHERE nope = 1"):
            try:
                await a.query(sql)
            except QueryError as e:
                seen[sql] = str(e)
            seen[f"subscribe {sql}"] = await _refusal(url, database, tokens[0], sql)
        for channel in (1, 2):
            await a.call("send_message", bsatn.encode_args(
                "send_message", (channel, f"in {channel}", None, None, MessageType.Text)))
        found = await a.query("SELECT * FROM message WHERE content = 'in 1' OR (channel_id = 2 "
                              "AND content <> 'nope')")
        seen["OR"] = sorted(m.content for m in found["message"])
        assert b.identity is not None
        await a.call("start_dm", bsatn.encode_args("start_dm", (b.identity,)))
        (conv,) = (await a.query("SELECT * FROM direct_conversation"))["direct_conversation"]
        await a.call("send_dm", bsatn.encode_args("send_dm", (conv.id, "hi")))
        for name, c in (("b", b), ("owner", owner)):
            found = await c.query("SELECT * FROM direct_message")
            seen[f"{name} sees the DM"] = [m.content for m in found.get("direct_message", [])]
    finally:
        for c in conns:
            await c.close()
    return seen


def test_the_stand_in_answers_as_the_real_server(real_stdb: RealServer,
                                                 tmp_path: Path) -> None:
    async def stand_in() -> dict[str, Any]:
        server = TestServer(tmp_path / "stand-in")
        await server.start()
        try:
            assert server.db is not None
            return await _observe(server.url, "spaces", server.db.owner_token)
        finally:
            await server.stop()

    fake = run(stand_in())
    real = run(_observe(real_stdb.url, real_stdb.publish(), real_stdb.owner_token))
    assert fake == real
    assert real["owner sees the DM"] == real["b sees the DM"] == ["hi"]
    assert real["OR"] == ["in 1", "in 2"]
