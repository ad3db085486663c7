"""v2 messages, row lists and server/client frames (spacesd.stdb.messages)."""

from __future__ import annotations

import contextlib
import gzip
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdb_strategies import (
    ARBITRARY_ROW_LISTS,
    CLIENT_MESSAGES,
    SERVER_MESSAGES,
    TRANSACTION_UPDATES,
    table_and_rows,
)

from spacesd import model
from spacesd.model import Identity, MessageType
from spacesd.stdb import bsatn
from spacesd.stdb import messages as m
from spacesd.stdb.bsatn import BsatnError, ConnectionId

ALICE = Identity(0xC2 << 248 | 0x1234)


def msg(i: int, content: str = "hello") -> model.Message:
    return model.Message(i, 1, None, ALICE, content, MessageType.Text, 1_700_000_000_000_000 + i,
                         None, None)


def tx_with(table: str, inserts: list[Any], deletes: list[Any] | None = None,
            qs: int = 1) -> m.TransactionUpdate:
    rows = m.PersistentTableRows(m.make_row_list(table, inserts),
                                 m.make_row_list(table, deletes or []))
    return m.TransactionUpdate([m.QuerySetUpdate(qs, [m.TableUpdate(table, [rows])])])


# ---------------------------------------------------------------------------------------------
# Known bytes


def test_client_message_bytes() -> None:
    sub = m.Subscribe(7, 3, ["SELECT * FROM message"])
    assert m.encode_client_message(sub) == (
        b"\x00" + struct.pack("<II", 7, 3) + struct.pack("<I", 1)
        + struct.pack("<I", 21) + b"SELECT * FROM message")
    unsub = m.Unsubscribe(8, 3, m.UnsubscribeFlags.SendDroppedRows)
    assert m.encode_client_message(unsub) == b"\x01" + struct.pack("<II", 8, 3) + b"\x01"
    q = m.OneOffQuery(9, "SELECT 1")
    assert m.encode_client_message(q) == b"\x02" + struct.pack("<II", 9, 8) + b"SELECT 1"
    call = m.call_reducer(10, "join_server", [5])
    assert m.encode_client_message(call) == (
        b"\x03" + struct.pack("<I", 10) + b"\x00" + struct.pack("<I", 11) + b"join_server"
        + struct.pack("<I", 8) + struct.pack("<Q", 5))
    proc = m.CallProcedure(11, "p", b"\x01\x02")
    assert m.encode_client_message(proc) == (
        b"\x04" + struct.pack("<I", 11) + b"\x00" + struct.pack("<I", 1) + b"p"
        + struct.pack("<I", 2) + b"\x01\x02")
    for one in (sub, unsub, q, call, proc):
        assert m.decode_client_message(m.encode_client_message(one)) == one


def test_server_message_bytes() -> None:
    cid = ConnectionId(0x0102)
    init = m.InitialConnection(ALICE, cid, "tok")
    assert m.encode_server_message(init) == (
        b"\x00" + ALICE.to_le_bytes() + b"\x02\x01" + b"\x00" * 14 + struct.pack("<I", 3) + b"tok")
    err = m.SubscriptionError(None, 4, "bad")
    assert m.encode_server_message(err) == b"\x03\x01" + struct.pack("<II", 4, 3) + b"bad"
    rr = m.ReducerResult(5, -1, m.ReducerOkEmpty())
    assert m.encode_server_message(rr) == b"\x06" + struct.pack("<Iq", 5, -1) + b"\x01"
    rr_err = m.ReducerResult(5, 0, m.ReducerErr.from_message("no"))
    assert m.encode_server_message(rr_err) == (
        b"\x06" + struct.pack("<Iq", 5, 0) + b"\x02" + struct.pack("<I", 6)
        + struct.pack("<I", 2) + b"no")
    ie = m.ReducerResult(5, 0, m.ReducerInternalError("boom"))
    assert m.encode_server_message(ie)[-9:] == b"\x03" + struct.pack("<I", 4) + b"boom"
    pr = m.ProcedureResult(m.ProcedureReturned(b"\x09"), 2, 3, 4)
    assert m.encode_server_message(pr) == (
        b"\x07\x00" + struct.pack("<I", 1) + b"\x09" + struct.pack("<qqI", 2, 3, 4))
    oq = m.OneOffQueryResult(1, "nope")
    assert m.encode_server_message(oq) == b"\x05" + struct.pack("<I", 1) + b"\x01" + \
        struct.pack("<I", 4) + b"nope"
    empty_tx = m.TransactionUpdate([])
    assert m.encode_server_message(empty_tx) == b"\x04\x00\x00\x00\x00"
    unsub = m.UnsubscribeApplied(1, 2, None)
    assert m.encode_server_message(unsub) == b"\x02" + struct.pack("<II", 1, 2) + b"\x01"


def test_row_list_bytes_and_table_update_rows_tags() -> None:
    rows = [msg(1), msg(2, "longer content")]
    tx = tx_with("message", rows)
    data = m.encode_server_message(tx)
    rl = m.make_row_list("message", rows)
    assert isinstance(rl.size_hint, m.RowOffsets)
    first = len(bsatn.encode_row("message", rows[0]))
    assert rl.size_hint.offsets == [0, first]
    expected = (b"\x04" + struct.pack("<I", 1) + struct.pack("<I", 1) + struct.pack("<I", 1)
                + struct.pack("<I", 7) + b"message" + struct.pack("<I", 1) + b"\x00"
                + b"\x01" + struct.pack("<I", 2) + struct.pack("<QQ", 0, first)
                + struct.pack("<I", len(rl.rows_data)) + rl.rows_data
                + b"\x01" + struct.pack("<I", 0) + struct.pack("<I", 0))
    assert data == expected
    ev = m.TransactionUpdate([m.QuerySetUpdate(2, [m.TableUpdate("typing_indicator", [
        m.EventTableRows(m.make_row_list("typing_indicator", [
            model.TypingIndicator(1, 2, ALICE, 3)]))])])])
    enc = m.encode_server_message(ev)
    assert b"\x01\x00" + struct.pack("<H", 56) in enc  # EventTable, then FixedSize(56)


# ---------------------------------------------------------------------------------------------
# Size hints, as the server chooses them


def test_make_row_list_size_hints() -> None:
    assert m.make_row_list("message", []) == m.BsatnRowList(m.RowOffsets([]), b"")
    one = m.make_row_list("message", [msg(1)])
    assert one.size_hint == m.FixedSize(len(one.rows_data))
    same = m.make_row_list("message", [msg(1, "aa"), msg(2, "bb"), msg(3, "cc")])
    assert isinstance(same.size_hint, m.FixedSize) and len(same) == 3
    varied = m.make_row_list("message", [msg(1, "a"), msg(2, "bb"), msg(3, "a")])
    assert isinstance(varied.size_hint, m.RowOffsets)
    n = len(bsatn.encode_row("message", msg(1, "a")))
    assert varied.size_hint.offsets == [0, n, 2 * n + 1]
    # same total as FixedSize would give but different row sizes: offsets
    tricky = m.make_row_list("message", [msg(1, "aaa"), msg(2, "a"), msg(3, "aa")])
    assert isinstance(tricky.size_hint, m.RowOffsets)
    # static-size tables are always FixedSize
    ti = m.make_row_list("typing_indicator", [model.TypingIndicator(i, 1, ALICE, i)
                                              for i in range(4)])
    assert ti.size_hint == m.FixedSize(56) and len(ti) == 4
    # rows longer than a u16 cannot be FixedSize
    big = m.make_row_list("message", [msg(1, "x" * 70_000)])
    assert big.size_hint == m.RowOffsets([0])
    with pytest.raises(BsatnError, match="as a message row"):
        m.make_row_list("message", [model.Reaction(1, 1, ALICE, "x")])


@settings(max_examples=100, deadline=None)
@given(table_and_rows(max_rows=8))
def test_row_lists_round_trip(pair: tuple[str, list[Any]]) -> None:
    name, rows = pair
    rl = m.make_row_list(name, rows)
    assert m.decode_rows(name, rl) == rows
    assert len(rl) == len(rows)
    assert rl.row_bytes() == [bsatn.encode_row(name, r) for r in rows]
    sizes = {len(bsatn.encode_row(name, r)) for r in rows}
    if not rows:
        assert rl.size_hint == m.RowOffsets([])
    elif len(sizes) == 1:
        assert rl.size_hint == m.FixedSize(sizes.pop())
    else:
        assert isinstance(rl.size_hint, m.RowOffsets)
    # the same rows described by offsets decode the same
    starts: list[int] = []
    pos = 0
    for r in rows:
        starts.append(pos)
        pos += len(bsatn.encode_row(name, r))
    assert m.decode_rows(name, m.BsatnRowList(m.RowOffsets(starts), rl.rows_data)) == rows


def test_decode_rows_checks_the_size_hint() -> None:
    rows = [msg(1, "a"), msg(2, "bb")]
    rl = m.make_row_list("message", rows)
    assert isinstance(rl.size_hint, m.RowOffsets)
    bad_offsets: list[m.RowSizeHint] = [
        m.RowOffsets([0]),                       # too few
        m.RowOffsets([0, 5, 9]),                 # too many
        m.RowOffsets([1, rl.size_hint.offsets[1]]),  # first is not 0
        m.RowOffsets([0, rl.size_hint.offsets[1] + 1]),
        m.RowOffsets([]),
        m.FixedSize(0),
        m.FixedSize(len(rl.rows_data)),          # one row claimed, two found
        m.FixedSize(7),
    ]
    for hint in bad_offsets:
        with pytest.raises(BsatnError, match="do not match"):
            m.decode_rows("message", m.BsatnRowList(hint, rl.rows_data))
    with pytest.raises(BsatnError):
        m.decode_rows("message", m.BsatnRowList(rl.size_hint, rl.rows_data[:-1]))
    with pytest.raises(BsatnError, match="unknown table"):
        m.decode_rows("nope", rl)
    # an empty list may carry either hint
    assert m.decode_rows("message", m.BsatnRowList(m.FixedSize(9), b"")) == []
    assert m.decode_rows("message", m.BsatnRowList()) == []


def test_row_bytes_checks_the_hint() -> None:
    assert m.BsatnRowList(m.FixedSize(2), b"abcd").row_bytes() == [b"ab", b"cd"]
    assert m.BsatnRowList(m.RowOffsets([0, 1]), b"abc").row_bytes() == [b"a", b"bc"]
    for bad in (m.BsatnRowList(m.FixedSize(3), b"abcd"),
                m.BsatnRowList(m.FixedSize(0), b"a"),
                m.BsatnRowList(m.RowOffsets([]), b"a"),
                m.BsatnRowList(m.RowOffsets([1]), b"ab"),
                m.BsatnRowList(m.RowOffsets([0, 3, 2]), b"abcd"),
                m.BsatnRowList(m.RowOffsets([0, 9]), b"abcd")):
        with pytest.raises(BsatnError):
            bad.row_bytes()


# ---------------------------------------------------------------------------------------------
# Round trips and malformed input


@settings(max_examples=200, deadline=None)
@given(CLIENT_MESSAGES)
def test_client_messages_round_trip(message: m.ClientMessage) -> None:
    data = m.encode_client_message(message)
    assert m.decode_client_message(data) == message
    assert m.decode_client_frame(data) == [message]
    for cut in {0, len(data) // 2, len(data) - 1}:
        with pytest.raises(BsatnError):
            m.decode_client_message(data[:cut])


@settings(max_examples=200, deadline=None)
@given(SERVER_MESSAGES)
def test_server_messages_round_trip(message: m.ServerMessage) -> None:
    data = m.encode_server_message(message)
    assert m.decode_server_message(data) == message
    assert m.decode_server_frame(b"\x00" + data) == [message]
    assert m.decode_server_frame(m.encode_server_frame(message, m.Compression.GZIP)) == [message]
    for cut in {0, len(data) // 3, len(data) - 1}:
        with pytest.raises(BsatnError):
            m.decode_server_message(data[:cut])
    with pytest.raises(BsatnError, match="trailing"):
        m.decode_server_message(data + b"\x00")


@settings(max_examples=60, deadline=None)
@given(st.lists(SERVER_MESSAGES, min_size=1, max_size=4),
       st.sampled_from([m.Compression.NONE, m.Compression.GZIP]))
def test_v3_server_frames_carry_several_messages(batch: list[m.ServerMessage],
                                                 compression: m.Compression) -> None:
    frame = m.encode_server_frame(batch, compression)
    assert frame[0] == compression
    assert m.decode_server_frame(frame) == batch
    body = b"".join(m.encode_server_message(x) for x in batch)
    assert m.decode_server_frame(b"\x00" + body) == batch


@settings(max_examples=60, deadline=None)
@given(st.lists(CLIENT_MESSAGES, min_size=1, max_size=4))
def test_v3_client_frames(batch: list[m.ClientMessage]) -> None:
    frame = m.encode_client_frame(batch)
    assert frame == b"".join(m.encode_client_message(x) for x in batch)
    assert m.decode_client_frame(frame) == batch
    if len(batch) > 1:
        with pytest.raises(BsatnError, match="trailing"):
            m.decode_client_message(frame)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_never_raise_anything_but_bsatn_error(data: bytes) -> None:
    for decode in (m.decode_client_message, m.decode_client_frame, m.decode_server_message,
                   m.decode_server_frame, m.decode_string):
        try:
            decode(data)
        except BsatnError as e:
            assert 0 <= e.offset <= len(data) + 1


@settings(max_examples=150, deadline=None)
@given(SERVER_MESSAGES, st.data())
def test_corrupted_server_messages_never_raise_anything_but_bsatn_error(
        message: m.ServerMessage, data: st.DataObject) -> None:
    blob = bytearray(m.encode_server_message(message))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(blob) - 1))
        blob[i] = data.draw(st.integers(0, 255))
    try:
        decoded = m.decode_server_message(bytes(blob))
    except BsatnError:
        return
    # whatever decodes must also yield rows or BsatnError, never another exception
    if isinstance(decoded, m.TransactionUpdate):
        for qs in decoded.query_sets:
            for tu in qs.tables:
                for rows in tu.rows:
                    lists = ([rows.inserts, rows.deletes]
                             if isinstance(rows, m.PersistentTableRows) else [rows.events])
                    for rl in lists:
                        with contextlib.suppress(BsatnError):
                            m.decode_rows(tu.table_name, rl)


def test_huge_lengths_fail_fast() -> None:
    # a TransactionUpdate claiming 2**32-1 query sets in 4 bytes
    with pytest.raises(BsatnError, match="cannot fit"):
        m.decode_server_message(b"\x04\xff\xff\xff\xff")
    # RowOffsets claiming 2**31 offsets
    bad = b"\x05" + struct.pack("<I", 1) + b"\x00" + struct.pack("<I", 1) + \
        struct.pack("<I", 1) + b"t" + b"\x01" + struct.pack("<I", 2**31)
    with pytest.raises(BsatnError, match="cannot fit"):
        m.decode_server_message(bad)


def test_invalid_tags_and_flags() -> None:
    with pytest.raises(BsatnError, match="ServerMessage tag 8"):
        m.decode_server_message(b"\x08")
    with pytest.raises(BsatnError, match="ClientMessage tag 5"):
        m.decode_client_message(b"\x05")
    with pytest.raises(BsatnError, match="ReducerOutcome tag 4"):
        m.decode_server_message(b"\x06" + bytes(12) + b"\x04")
    with pytest.raises(BsatnError, match="UnsubscribeFlags tag 2"):
        m.decode_client_message(b"\x01" + bytes(8) + b"\x02")
    with pytest.raises(BsatnError, match="call flags 1") as e:
        m.decode_client_message(b"\x03" + bytes(4) + b"\x01" + bytes(8))
    assert e.value.offset == 5
    with pytest.raises(BsatnError, match="invalid UnsubscribeFlags"):
        m.encode_client_message(m.Unsubscribe(1, 1, 3))
    with pytest.raises(BsatnError, match="not a ClientMessage"):
        m.encode_client_message(m.InitialConnection(ALICE, ConnectionId(0), ""))  # type: ignore[arg-type]
    with pytest.raises(BsatnError, match="not a ServerMessage"):
        m.encode_server_message(m.Subscribe(1, 1, []))  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Frames


def test_server_frames_compression() -> None:
    tx = tx_with("message", [msg(i) for i in range(50)])
    body = m.encode_server_message(tx)
    assert m.decode_server_frame(b"\x00" + body) == [tx]
    assert m.decode_server_frame(b"\x02" + gzip.compress(body)) == [tx]
    gz = m.encode_server_frame(tx, m.Compression.GZIP)
    assert gz[0] == 2 and len(gz) < len(body)
    assert gzip.decompress(gz[1:]) == body
    with pytest.raises(BsatnError, match="brotli") as e:
        m.decode_server_frame(b"\x01" + body)
    assert "compression=Gzip" in str(e.value)
    with pytest.raises(BsatnError, match="brotli"):
        m.encode_server_frame(tx, m.Compression.BROTLI)
    with pytest.raises(BsatnError, match="compression tag 3"):
        m.decode_server_frame(b"\x03" + body)
    with pytest.raises(BsatnError, match="empty"):
        m.decode_server_frame(b"")
    with pytest.raises(BsatnError, match="no message"):
        m.decode_server_frame(b"\x00")
    with pytest.raises(BsatnError, match="no message"):
        m.decode_server_frame(b"\x02" + gzip.compress(b""))
    with pytest.raises(BsatnError, match="gzip"):
        m.decode_server_frame(b"\x02not gzip")
    with pytest.raises(BsatnError, match="truncated gzip"):
        m.decode_server_frame(b"\x02" + gzip.compress(body)[:-10])
    with pytest.raises(BsatnError, match="after the gzip stream"):
        m.decode_server_frame(b"\x02" + gzip.compress(body) + b"xx")
    with pytest.raises(BsatnError, match="inflates beyond"):
        m.decode_server_frame(b"\x02" + gzip.compress(bytes(10_000)), max_size=1000)
    with pytest.raises(BsatnError, match="at least one"):
        m.encode_server_frame([])
    with pytest.raises(BsatnError, match="at least one"):
        m.encode_client_frame([])
    with pytest.raises(BsatnError, match="empty client frame"):
        m.decode_client_frame(b"")


def test_uncompressed_frame_errors_point_into_the_frame() -> None:
    body = m.encode_server_message(m.SubscriptionError(1, 2, "x"))
    with pytest.raises(BsatnError) as e:
        m.decode_server_frame(b"\x00" + body[:-1])
    assert e.value.offset == 1 + 1 + 5 + 4  # tag, sum tag, Some(u32), query_set_id


# ---------------------------------------------------------------------------------------------
# Helpers


def test_reducer_err_message() -> None:
    err = m.ReducerErr.from_message("not a member of this server")
    assert err.message == "not a member of this server"
    assert m.decode_string(err.error) == err.message
    assert m.ReducerErr(b"raw text").message == "raw text"
    assert m.encode_string("é") == b"\x02\x00\x00\x00\xc3\xa9"
    with pytest.raises(BsatnError, match="trailing"):
        m.decode_string(m.encode_string("a") + b"!")


def test_call_reducer_encodes_arguments_per_signature() -> None:
    call = m.call_reducer(3, "set_typing", {"channel_id": 9, "typing": True})
    assert call == m.CallReducer(3, "set_typing", struct.pack("<Q", 9) + b"\x01")
    with pytest.raises(BsatnError):
        m.call_reducer(3, "set_typing", [9])


def test_transaction_update_with_ten_thousand_rows() -> None:
    rows = [msg(i, f"message {i}") for i in range(10_000)]
    frame = m.encode_server_frame(tx_with("message", rows, rows[:3]), m.Compression.GZIP)
    [tx] = m.decode_server_frame(frame)
    assert isinstance(tx, m.TransactionUpdate)
    upd = tx.query_sets[0].tables[0].rows[0]
    assert isinstance(upd, m.PersistentTableRows)
    assert m.decode_rows("message", upd.inserts) == rows
    assert m.decode_rows("message", upd.deletes) == rows[:3]


@settings(max_examples=30, deadline=None)
@given(TRANSACTION_UPDATES)
def test_reducer_ok_carries_a_transaction_update(tx: m.TransactionUpdate) -> None:
    rr = m.ReducerResult(1, 2, m.ReducerOk(b"", tx))
    assert m.decode_server_message(m.encode_server_message(rr)) == rr


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([t.name for t in model.TABLES]), ARBITRARY_ROW_LISTS)
def test_arbitrary_row_lists_decode_or_raise_bsatn_error(table: str,
                                                         rl: m.BsatnRowList) -> None:
    try:
        rows = m.decode_rows(table, rl)
    except BsatnError:
        return
    assert len(rows) == len(rl)
    assert b"".join(bsatn.encode_row(table, r) for r in rows) == rl.rows_data


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([r.name for r in model.REDUCERS]), st.binary(max_size=60))
def test_random_reducer_arguments_decode_or_raise_bsatn_error(reducer: str,
                                                              data: bytes) -> None:
    try:
        args = bsatn.decode_args(reducer, data)
    except BsatnError:
        return
    assert bsatn.encode_args(reducer, args) == data
