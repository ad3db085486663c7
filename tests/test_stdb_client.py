"""Spaces' SpacetimeDB client (HTTP + reconnecting v2 connection) against the test server,
and the test server's protocol behaviour (subscriptions, WHERE forms, private tables,
ReducerResult, lifecycle reducers, state kept across restarts)."""

from __future__ import annotations

import asyncio
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from spacesd.model import ChannelType, Identity, Message, MessageType
from spacesd.stdb import bsatn
from spacesd.stdb.connection import (
    Backoff,
    Connection,
    NotConnected,
    QueryError,
    ReducerHostError,
    ReducerRefused,
)
from spacesd.stdb.http import (
    HttpClient,
    ReducerCallError,
    ensure_token,
    token_file,
)
from spacesd.stdb.protocol import (
    ConnectedEvent,
    Event,
    SubscribedEvent,
    SubscriptionErrorEvent,
    TransactionEvent,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
import testutil
from stdb_server import TestServer, parse_query
from testutil import free_port, run


class Client:
    """A Connection with its events recorded."""

    def __init__(self, url: str, token: str | None, **kw: Any) -> None:
        self.events: list[Event] = []
        self.conn = Connection(url, "spaces", token, on_event=self.events.append,
                               backoff=Backoff(initial=0.05, cap=0.5), **kw)

    def messages(self) -> list[Message]:
        out: list[Message] = []
        for ev in self.events:
            if isinstance(ev, SubscribedEvent):
                out += [r for d in ev.tables if d.table == "message" for r in d.inserts]
            elif isinstance(ev, TransactionEvent):
                out += [r for d in ev.deltas if d.table == "message" for r in d.inserts]
        return out

    def rows(self, table: str) -> list[Any]:
        out: list[Any] = []
        for ev in self.events:
            deltas = ev.tables if isinstance(ev, SubscribedEvent) else (
                ev.deltas if isinstance(ev, TransactionEvent) else [])
            out += [r for d in deltas if d.table == table for r in d.inserts]
        return out


async def start_server(tmp: Path, port: int = 0) -> TestServer:
    server = TestServer(tmp, port=port)
    await server.start()
    return server


async def wait_until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    """testutil.wait_until with this file's default of 5 s."""
    await testutil.wait_until(cond, timeout)


def send_args(channel: int, content: str) -> bytes:
    return bsatn.encode_args("send_message", (channel, content, None, None, MessageType.Text))


# --------------------------------------------------------------------------------------------
# SQL subset


def test_query_forms() -> None:
    q = parse_query('SELECT * FROM "message" WHERE ("message"."id" > 5) AND '
                    '("message"."channel_id" = 2)')
    assert q.table.name == "message"
    assert [(c.column, c.op, c.value) for c in q.conds] == [("id", ">", 5),
                                                            ("channel_id", "=", 2)]
    hexid = "ab" * 32
    for sql in (f"SELECT * FROM system_notification WHERE target = 0x{hexid}",
                f"select * from system_notification where target = X'{hexid}'"):
        (cond,) = parse_query(sql).conds
        assert cond.value == Identity.from_hex(hexid)
    (cond,) = parse_query("SELECT * FROM channel WHERE channel_type = 'AgentLog'").conds
    assert cond.value is ChannelType.AgentLog
    (cond,) = parse_query("SELECT * FROM message WHERE 3 < id").conds
    assert (cond.op, cond.value) == (">", 3)
    (cond,) = parse_query("SELECT * FROM message WHERE created_at > "
                          "'2026-11-25T09:00:00.000001Z'").conds
    assert (cond.op, cond.value) == (">", 1795597200000001)
    (cond,) = parse_query("SELECT * FROM message WHERE created_at <= "
                          "'2026-11-25 10:00:00+01:00'").conds
    assert cond.value == 1795597200000000
    # OR, as the real server takes it (precedence: AND binds tighter)
    q = parse_query("SELECT * FROM message WHERE content = 'x' OR id = 1 AND (channel_id = 2 "
                    "OR channel_id = 3)")
    assert q.conds == ()
    assert [[(c.column, c.value) for c in conj] for conj in q.alternatives] == [
        [("content", "x")], [("id", 1), ("channel_id", 2)], [("id", 1), ("channel_id", 3)]]
    for bad in ("SELECT * FROM nope", "SELECT id FROM message", "DELETE FROM message",
                "SELECT * FROM message WHERE nope = 1", "SELECT * FROM message WHERE id = 1 OR",
                # the subscription grammar (subscriptions and OneOffQuery) has no LIMIT nor
                # ORDER BY; a Timestamp literal is RFC 3339 with an offset, never a number
                "SELECT * FROM message LIMIT 1", "SELECT * FROM message ORDER BY id",
                "SELECT * FROM message WHERE created_at > 1795597200000000",
                "SELECT * FROM message WHERE created_at > '2026-11-25T09:00:00'"):
        with pytest.raises(ValueError):
            parse_query(bad)


# --------------------------------------------------------------------------------------------
# HTTP


def test_http_routes(tmp_path: Path) -> None:
    async def main() -> None:
        server = await start_server(tmp_path / "srv")
        try:
            http = HttpClient(server.url)
            assert await http.ping()
            identity, token = await http.create_identity()
            assert identity.hex.startswith("c200")
            http.token = token
            await http.call_reducer("spaces", "send_message",
                                    [1, "over http", {"none": []}, None, {"Text": []}])
            with pytest.raises(ReducerCallError) as err:
                await http.call_reducer("spaces", "create_channel",
                                        [1, "nope", None, {"Text": []}])
            assert err.value.status == 530
            assert str(err.value) == "only Admins and the Owner can create channels"
            (result,) = await http.sql("spaces", "SELECT * FROM message WHERE id > 0")
            contents = [row[4] for row in result["rows"]]
            assert "over http" in contents
            # every HTTP request runs the lifecycle reducers around itself (/sql too, as
            # SpacetimeDB >= 2.2.0 does): the caller reads itself online inside its own
            # /sql request, and anyone else reads it offline afterwards
            presence = f"SELECT * FROM user_presence WHERE identity = 0x{identity.hex}"
            (pres,) = await http.sql("spaces", presence)
            assert pres["rows"][0][1] is True
            (pres,) = await HttpClient(server.url).sql("spaces", presence)
            assert pres["rows"][0][1] is False
            assert not await HttpClient(f"http://127.0.0.1:{free_port()}").ping()
            # token kept 0600 when none is configured
            fresh = HttpClient(server.url)
            tok = await ensure_token(fresh, tmp_path / "data")
            path = token_file(tmp_path / "data", fresh.endpoint)
            assert path.read_text().strip() == tok
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            assert await ensure_token(HttpClient(server.url), tmp_path / "data") == tok
        finally:
            await server.stop()

    run(main())


# --------------------------------------------------------------------------------------------
# WebSocket


def test_subscribe_call_and_refusal(tmp_path: Path) -> None:
    async def main() -> None:
        server = await start_server(tmp_path)
        try:
            http = HttpClient(server.url)
            _, tok_a = await http.create_identity()
            _, tok_b = await http.create_identity()
            a, b = Client(server.url, tok_a), Client(server.url, tok_b, compression="gzip")
            for c in (a, b):
                c.conn.subscribe("msgs", lambda: ["SELECT * FROM message WHERE channel_id = 1"])
                c.conn.start()
                assert await c.conn.wait_ready(5)
                assert await c.conn.wait_subscribed("msgs", 5)
            assert isinstance(a.events[0], ConnectedEvent) and not a.events[0].reconnect
            ev = await a.conn.call("send_message", send_args(1, "hi from a"))
            assert [r.content for d in ev.deltas for r in d.inserts] == ["hi from a"]
            assert ev.caller_request is not None
            await wait_until(lambda: any(m.content == "hi from a" for m in b.messages()))
            # not in #general: b's query set does not match
            await a.conn.call("send_message", send_args(2, "in agent-logs"))
            await asyncio.sleep(0.1)
            assert all(m.content != "in agent-logs" for m in b.messages())
            with pytest.raises(ReducerRefused, match="only Admins and the Owner"):
                await a.conn.call("create_channel", bsatn.encode_args(
                    "create_channel", (1, "nope", None, ChannelType.Text)))
            with pytest.raises(ReducerHostError, match="no such reducer"):
                await a.conn.call("nope", b"")
            rows = await a.conn.query("SELECT * FROM channel WHERE server_id = 1")
            assert sorted(c.name for c in rows["channel"]) == ["agent-logs", "general", "system"]
            with pytest.raises(QueryError):
                await a.conn.query("SELECT * FROM nope")
            # a bad subscription is reported, the connection lives on
            a.conn.subscribe("bad", lambda: ["SELECT * FROM nope"])
            await wait_until(lambda: any(isinstance(e, SubscriptionErrorEvent)
                                         for e in a.events))
            assert a.conn.connected
            # presence: both online while connected (client_connected ran as ctx.sender)
            online = server.db.store.rows("user_presence")  # type: ignore[union-attr]
            assert sum(p.online for p in online) == 2
            await a.conn.close()
            await wait_until(lambda: sum(
                p.online for p in server.db.store.rows("user_presence")) == 1)  # type: ignore[union-attr]
            await b.conn.close()
            with pytest.raises(NotConnected):
                await b.conn.call("send_message", send_args(1, "x"))
        finally:
            await server.stop()

    run(main())


def test_private_tables_reach_only_their_participants(tmp_path: Path) -> None:
    async def main() -> None:
        server = await start_server(tmp_path)
        try:
            http = HttpClient(server.url)
            clients = []
            for _ in range(3):
                ident, tok = await http.create_identity()
                c = Client(server.url, tok)
                c.conn.subscribe("priv", lambda: [
                    "SELECT * FROM direct_conversation", "SELECT * FROM direct_message",
                    "SELECT * FROM system_notification"])
                c.conn.start()
                assert await c.conn.wait_subscribed("priv", 5)
                clients.append((ident, c))
            (_, a), (ib, b), (_, c3) = clients
            await a.conn.call("start_dm", bsatn.encode_args("start_dm", (ib,)))
            await wait_until(lambda: len(b.rows("direct_conversation")) == 1)
            conv = b.rows("direct_conversation")[0]
            await a.conn.call("send_dm", bsatn.encode_args("send_dm", (conv.id, "secret")))
            await wait_until(lambda: [d.content for d in b.rows("direct_message")] == ["secret"])
            await asyncio.sleep(0.1)
            assert c3.rows("direct_conversation") == [] and c3.rows("direct_message") == []
            assert [d.content for d in a.rows("direct_message")] == ["secret"]
            for _, c in clients:
                await c.conn.close()
        finally:
            await server.stop()

    run(main())


def test_reconnect_resumes_from_high_water_mark(tmp_path: Path) -> None:
    """The server goes away and comes back (state kept): messages committed meanwhile arrive
    once, none twice, and the connection reports its reconnect."""

    async def main() -> None:
        port = free_port()
        server = await start_server(tmp_path, port)
        http = HttpClient(server.url)
        _, tok_a = await http.create_identity()
        _, tok_b = await http.create_identity()
        seen: dict[int, Message] = {}

        def hwm() -> list[str]:
            return [f"SELECT * FROM message WHERE id > {max(seen, default=0)}"]

        b = Client(server.url, tok_b)
        b.conn.subscribe("msgs", hwm)

        def record(ev: Event) -> None:
            b.events.append(ev)
            for m in _messages_of(ev):
                assert m.id not in seen, f"message {m.id} delivered twice"
                seen[m.id] = m

        b.conn.on_event = record
        b.conn.start()
        assert await b.conn.wait_subscribed("msgs", 5)
        a = Client(server.url, tok_a)
        a.conn.start()
        assert await a.conn.wait_ready(5)
        for i in range(5):
            await a.conn.call("send_message", send_args(1, f"before {i}"))
        await wait_until(lambda: sum(m.content.startswith("before") for m in seen.values()) == 5)
        await server.stop()
        await asyncio.sleep(0.3)
        assert not b.conn.connected
        # committed while b is away (through the HTTP route of a restarted server)
        server = await start_server(tmp_path, port)
        await a.conn.wait_ready(5)
        for i in range(5):
            await http.call_reducer("spaces", "send_message",
                                    [1, f"while away {i}", None, None, "Text"])
        await wait_until(lambda: b.conn.stats.reconnects >= 1, 10)
        for i in range(5):
            await a.conn.call("send_message", send_args(1, f"after {i}"))
        await wait_until(lambda: sum(m.content.startswith("after") for m in seen.values()) == 5)
        texts = [m.content for _, m in sorted(seen.items()) if m.message_type == MessageType.Text]
        assert texts == ([f"before {i}" for i in range(5)] + [f"while away {i}" for i in range(5)]
                         + [f"after {i}" for i in range(5)])
        assert a.conn.stats.reconnects >= 1
        await a.conn.close()
        await b.conn.close()
        await server.stop()

    run(main())


def _messages_of(ev: Event) -> list[Message]:
    if isinstance(ev, SubscribedEvent):
        return [r for d in ev.tables if d.table == "message" for r in d.inserts]
    if isinstance(ev, TransactionEvent):
        return [r for d in ev.deltas if d.table == "message" for r in d.inserts]
    return []


def test_server_state_survives_restart(tmp_path: Path) -> None:
    async def main() -> None:
        server = await start_server(tmp_path)
        http = HttpClient(server.url)
        ident, tok = await http.create_identity()
        http.token = tok
        await http.call_reducer("spaces", "send_message", [1, "durable", None, None, "Text"])
        url = server.url
        await server.stop()
        server = await start_server(tmp_path)
        try:
            http2 = HttpClient(server.url, tok)
            (res,) = await http2.sql("spaces", "SELECT * FROM message")
            assert "durable" in [r[4] for r in res["rows"]]
            # the token minted before the restart is still valid
            c = Client(server.url, tok)
            c.conn.start()
            assert await c.conn.wait_ready(5)
            assert c.conn.identity == ident
            await c.conn.close()
            assert url.startswith("http://127.0.0.1:")
        finally:
            await server.stop()

    run(main())


def test_events_as_an_async_iterator(tmp_path: Path) -> None:
    async def main() -> None:
        server = await start_server(tmp_path)
        try:
            conn = Connection(server.url, "spaces", None)  # anonymous: an identity is minted
            conn.subscribe("ch", lambda: ["SELECT * FROM channel"])
            kinds: list[str] = []

            async def consume() -> None:
                async for ev in conn.events():
                    kinds.append(type(ev).__name__)

            task = asyncio.create_task(consume())
            await asyncio.sleep(0)
            conn.start()
            assert await conn.wait_subscribed("ch", 5)
            assert conn.identity is not None and conn.token
            await conn.close()
            await asyncio.wait_for(task, 5)
            assert kinds[:2] == ["ConnectedEvent", "SubscribedEvent"]
        finally:
            await server.stop()

    run(main())


def test_endpoint_parsing() -> None:
    from spacesd.stdb.http import Endpoint

    e = Endpoint.parse("https://maincloud.spacetimedb.com")
    assert (e.scheme, e.host, e.port) == ("https", "maincloud.spacetimedb.com", 443)
    assert e.base_url == "https://maincloud.spacetimedb.com"
    assert e.ws_base_url == "wss://maincloud.spacetimedb.com"
    e = Endpoint.parse("127.0.0.1:3000")
    assert e.base_url == "http://127.0.0.1:3000" and e.ws_base_url == "ws://127.0.0.1:3000"
    assert Endpoint.parse("ws://[::1]:3000/").netloc == "[::1]:3000"
    for bad in ("ftp://x", "http://"):
        with pytest.raises(ValueError):
            Endpoint.parse(bad)


def test_http_response_parsing() -> None:
    from spacesd.stdb.http import _read_response

    async def parse(raw: bytes, method: str = "GET") -> tuple[int, bytes]:
        reader = asyncio.StreamReader()
        reader.feed_data(raw)
        reader.feed_eof()
        resp = await _read_response(reader, method)
        return resp.status, resp.body

    async def main() -> None:
        chunked = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n")
        assert await parse(chunked) == (200, b"hello world")
        cont = (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 530 Reducer Error\r\n"
                b"Content-Length: 4\r\n\r\nnope")
        assert await parse(cont) == (530, b"nope")
        assert await parse(b"HTTP/1.1 200 OK\r\n\r\nuntil eof") == (200, b"until eof")
        assert await parse(b"HTTP/1.1 204 No Content\r\n\r\n") == (204, b"")
        with pytest.raises(ValueError):
            await parse(b"SSH-2.0-OpenSSH\r\n\r\n")

    run(main())
