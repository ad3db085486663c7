"""The sans-I/O client protocol state (spacesd.stdb.protocol.ClientProtocol), fed bytes by
hand; and the test server's v3 framing, spoken by a raw WebSocket client."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from spacesd.model import Identity, Message, MessageType
from spacesd.stdb import messages as m
from spacesd.stdb.bsatn import BsatnError, ConnectionId
from spacesd.stdb.protocol import (
    CallFailedEvent,
    CallRefusedEvent,
    ClientProtocol,
    ConnectedEvent,
    QueryErrorEvent,
    QueryResultEvent,
    SubscribedEvent,
    SubscriptionErrorEvent,
    TransactionEvent,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stdb_server import TestServer

ME = Identity(0xC200 << 240 | 12345)


def msg(i: int, content: str = "x") -> Message:
    return Message(i, 1, None, ME, content, MessageType.Text, 1_700_000_000_000_000 + i,
                   None, None)


def frame(*msgs: m.ServerMessage, gzip: bool = False) -> bytes:
    return m.encode_server_frame(list(msgs), m.Compression.GZIP if gzip else m.Compression.NONE)


def connected(p: ClientProtocol) -> None:
    [ev] = p.receive(frame(m.InitialConnection(ME, ConnectionId(7), "tok")))
    assert isinstance(ev, ConnectedEvent) and ev.identity == ME
    assert not ev.reconnect  # the first session of this protocol object
    assert p.ready and p.token == "tok"


def test_subscribe_and_updates_map_to_keys() -> None:
    p = ClientProtocol()
    connected(p)
    sub = m.decode_client_message(p.subscribe("msgs", ["SELECT * FROM message"]))
    assert isinstance(sub, m.Subscribe) and sub.query_strings == ["SELECT * FROM message"]
    with pytest.raises(ValueError):
        p.subscribe("msgs", ["SELECT * FROM message"])
    applied = m.SubscribeApplied(sub.request_id, sub.query_set_id, m.QueryRows(
        [m.SingleTableRows("message", m.make_row_list("message", [msg(1), msg(2, "yy")]))]))
    [ev] = p.receive(frame(applied))
    assert isinstance(ev, SubscribedEvent) and ev.key == "msgs"
    assert [r.id for r in ev.tables[0].inserts] == [1, 2]
    # a v3 frame with two updates, gzip-compressed; one for an unknown query set is ignored
    upd = m.TransactionUpdate([m.QuerySetUpdate(sub.query_set_id, [m.TableUpdate(
        "message", [m.PersistentTableRows(m.make_row_list("message", [msg(3)]),
                                          m.make_row_list("message", [msg(1)]))])])])
    stray = m.TransactionUpdate([m.QuerySetUpdate(99, [m.TableUpdate(
        "message", [m.PersistentTableRows(m.make_row_list("message", [msg(4)]),
                                          m.make_row_list("message", []))])])])
    out = p.receive(frame(upd, stray, gzip=True))
    assert len(out) == 1  # the stray update yields no event
    ev = out[0]
    assert isinstance(ev, TransactionEvent) and ev.caller_request is None
    assert [r.id for r in ev.deltas[0].inserts] == [3]
    assert [r.id for r in ev.deltas[0].deletes] == [1]
    unsub = m.decode_client_message(p.unsubscribe("msgs") or b"")
    assert isinstance(unsub, m.Unsubscribe) and unsub.query_set_id == sub.query_set_id
    assert p.receive(frame(m.UnsubscribeApplied(unsub.request_id, unsub.query_set_id,
                                                None))) == []
    assert p.unsubscribe("msgs") is None


def test_reducer_results_resolve_their_requests() -> None:
    p = ClientProtocol()
    connected(p)
    rid, data = p.call_reducer("send_message", b"\x01")
    call = m.decode_client_message(data)
    assert isinstance(call, m.CallReducer) and call.request_id == rid
    [ev] = p.receive(frame(m.ReducerResult(rid, 5, m.ReducerOk(
        b"", m.TransactionUpdate([])))))
    assert isinstance(ev, TransactionEvent) and ev.caller_request == rid
    assert ev.reducer == "send_message" and ev.timestamp == 5
    rid2, _ = p.call_reducer("create_channel", b"")
    [ev] = p.receive(frame(m.ReducerResult(
        rid2, 6, m.ReducerErr.from_message("only Admins and the Owner can create channels"))))
    assert ev == CallRefusedEvent(rid2, "create_channel",
                                  "only Admins and the Owner can create channels")
    rid3, _ = p.call_reducer("nope", b"")
    [ev] = p.receive(frame(m.ReducerResult(
        rid3, 7, m.ReducerInternalError("No such reducer"))))
    assert ev == CallFailedEvent(rid3, "nope", "No such reducer")
    rid4, _ = p.call_reducer("set_typing", b"")
    [ev] = p.receive(frame(m.ReducerResult(rid4, 8, m.ReducerOkEmpty())))
    assert isinstance(ev, TransactionEvent) and ev.deltas == [] and ev.caller_request == rid4
    qid, _ = p.one_off_query("SELECT * FROM nope")
    [ev] = p.receive(frame(m.OneOffQueryResult(qid, "no such table")))
    assert ev == QueryErrorEvent(qid, "no such table")
    qid2, _ = p.one_off_query("SELECT * FROM message")
    [ev] = p.receive(frame(m.OneOffQueryResult(qid2, m.QueryRows(
        [m.SingleTableRows("message", m.make_row_list("message", [msg(1)]))]))))
    assert isinstance(ev, QueryResultEvent) and ev.request_id == qid2
    assert [r.id for r in ev.tables["message"]] == [1]
    # a result for a request we do not know answers no request: a refusal yields nothing,
    # a commit only its rows (named "?")
    assert p.receive(frame(m.ReducerResult(4243, 9, m.ReducerErr.from_message("no")))) == []
    assert p.receive(frame(m.OneOffQueryResult(4244, "no such table"))) == []
    [ev] = p.receive(frame(m.ReducerResult(4242, 9, m.ReducerOkEmpty())))
    assert isinstance(ev, TransactionEvent) and ev.reducer == "?"
    assert p.pending == {}


def test_subscription_error_and_reset() -> None:
    p = ClientProtocol()
    connected(p)
    sub = m.decode_client_message(p.subscribe("bad", ["SELECT * FROM nope"]))
    assert isinstance(sub, m.Subscribe)
    [ev] = p.receive(frame(m.SubscriptionError(sub.request_id, sub.query_set_id,
                                               "no such table")))
    assert isinstance(ev, SubscriptionErrorEvent) and ev.key == "bad"
    p.subscribe("bad", ["SELECT * FROM message"])  # the key may be used again
    rid, _ = p.call_reducer("x", b"")
    dropped = p.reset()
    assert rid in dropped and not p.ready and p.pending == {}
    p.subscribe("bad", ["SELECT * FROM message"])  # forgotten by reset
    [ev] = p.receive(frame(m.InitialConnection(ME, ConnectionId(8), "tok2")))
    assert isinstance(ev, ConnectedEvent) and ev.reconnect and p.ready and p.token == "tok2"


def test_malformed_frames_raise_the_codec_error() -> None:
    p = ClientProtocol()
    for bad in (b"", b"\x00", b"\x00\xff", b"\x07abc", b"\x02not gzip",
                frame(m.InitialConnection(ME, ConnectionId(1), "t"))[:-2]):
        with pytest.raises(BsatnError):
            p.receive(bad)


def test_test_server_speaks_v3(tmp_path: Path) -> None:
    """A v3 client: two client messages in one frame; the server answers both."""

    async def main() -> None:
        server = TestServer(tmp_path)
        await server.start()
        try:
            url = f"ws://127.0.0.1:{server.port}/v1/database/spaces/subscribe?compression=None"
            async with connect(url, subprotocols=[Subprotocol(m.V3_PROTOCOL),
                                                  Subprotocol(m.V2_PROTOCOL)]) as ws:
                assert ws.subprotocol == m.V3_PROTOCOL
                first = await ws.recv()
                assert isinstance(first, bytes)
                [init] = m.decode_server_frame(first)
                assert isinstance(init, m.InitialConnection)
                await ws.send(m.encode_client_frame([
                    m.Subscribe(1, 1, ["SELECT * FROM channel"]),
                    m.OneOffQuery(2, "SELECT * FROM server")]))
                got: list[m.ServerMessage] = []
                while len(got) < 2:
                    data = await ws.recv()
                    assert isinstance(data, bytes)
                    got += m.decode_server_frame(data)
                applied, result = got
                assert isinstance(applied, m.SubscribeApplied) and applied.query_set_id == 1
                assert isinstance(result, m.OneOffQueryResult) and result.request_id == 2
                assert not isinstance(result.result, str)
                assert result.result.tables[0].table == "server"
            # a database that does not exist is refused before the upgrade
            with pytest.raises(Exception, match="404"):
                async with connect(url.replace("/spaces/", "/nope/"),
                                   subprotocols=[Subprotocol(m.V2_PROTOCOL)]):
                    pass
            with pytest.raises(Exception, match="401"):
                async with connect(url, subprotocols=[Subprotocol(m.V2_PROTOCOL)],
                                   additional_headers={"Authorization": "Bearer a.b.c"}):
                    pass
        finally:
            await server.stop()

    asyncio.run(main())
