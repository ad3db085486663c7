"""BSATN codec: primitives, the 13 generated row codecs and the reducer argument codecs."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdb_strategies import reducer_and_args, rows_of, table_and_rows

from spacesd import model
from spacesd.model import ChannelType, Identity, MemberRole, MessageType
from spacesd.stdb import bsatn
from spacesd.stdb.bsatn import BsatnError, ConnectionId, Reader, Writer

ALICE = Identity.from_hex("c200" + "11" * 28 + "abcd")


def msg_row(**kw: Any) -> model.Message:
    base: dict[str, Any] = dict(id=7, channel_id=2, thread_id=None, sender=ALICE,
                                content="hi", message_type=MessageType.Text, created_at=5,
                                edited_at=None, reply_to_id=None)
    base.update(kw)
    return model.Message(**base)


# ---------------------------------------------------------------------------------------------
# Wire facts


def test_scalars_are_little_endian_with_u32_prefixes() -> None:
    assert bsatn.encode_value("bool", True) == b"\x01"
    assert bsatn.encode_value("u8", 0xAB) == b"\xab"
    assert bsatn.encode_value("u16", 0x0102) == b"\x02\x01"
    assert bsatn.encode_value("u32", 1) == b"\x01\x00\x00\x00"
    assert bsatn.encode_value("u64", 2**64 - 1) == b"\xff" * 8
    assert bsatn.encode_value("i64", -2) == b"\xfe" + b"\xff" * 7
    assert bsatn.encode_value("Timestamp", 1) == struct.pack("<q", 1)
    assert bsatn.encode_value("String", "hé") == b"\x03\x00\x00\x00h\xc3\xa9"
    assert bsatn.encode_value("String", "") == b"\x00\x00\x00\x00"


def test_option_is_some_0_none_1() -> None:
    assert bsatn.encode_value("Option<String>", None) == b"\x01"
    assert bsatn.encode_value("Option<String>", "a") == b"\x00\x01\x00\x00\x00a"
    assert bsatn.encode_value("Option<u64>", 0) == b"\x00" + b"\x00" * 8
    assert bsatn.decode_value("Option<u64>", b"\x01") is None
    assert bsatn.decode_value("Option<Timestamp>", b"\x00" + struct.pack("<q", -5)) == -5


def test_identity_travels_little_endian_reversed_from_its_hex() -> None:
    raw = bsatn.encode_value("Identity", ALICE)
    assert len(raw) == 32
    assert raw == bytes.fromhex(ALICE.hex)[::-1]
    assert raw[-2:] == b"\x00\xc2"
    assert bsatn.decode_value("Identity", raw) == ALICE


def test_enums_are_their_variant_index() -> None:
    assert bsatn.encode_value("ChannelType", ChannelType.AgentLog) == b"\x03"
    assert bsatn.encode_value("MemberRole", MemberRole.Agent) == b"\x04"
    assert bsatn.decode_value("MessageType", b"\x02") is MessageType.AgentEvent
    assert bsatn.encode_value("MemberRole", 1) == b"\x01"  # a plain int tag is accepted


def test_connection_id_is_u128_le() -> None:
    w = Writer()
    cid = ConnectionId.from_hex("00" * 15 + "ff")
    w.connection_id(cid)
    assert w.getvalue() == b"\xff" + b"\x00" * 15
    assert Reader(w.getvalue()).connection_id() == cid
    assert cid.hex == "00" * 15 + "ff"
    assert repr(cid).startswith("ConnectionId(0x")
    with pytest.raises(ValueError):
        ConnectionId(1 << 128)


def test_message_row_layout_byte_by_byte() -> None:
    row = msg_row(thread_id=9, edited_at=11, reply_to_id=None,
                  message_type=MessageType.AgentEvent)
    expected = (struct.pack("<QQ", 7, 2) + b"\x00" + struct.pack("<Q", 9)
                + ALICE.to_le_bytes() + b"\x02\x00\x00\x00hi" + b"\x02"
                + struct.pack("<q", 5) + b"\x00" + struct.pack("<q", 11) + b"\x01")
    assert bsatn.encode_row("message", row) == expected
    assert bsatn.decode_row("message", expected) == row


def test_static_sizes() -> None:
    sizes = {name: c.static_size for name, c in bsatn.ROW_CODECS.items()}
    assert sizes["typing_indicator"] == 8 + 8 + 32 + 8
    assert sizes["channel_read_state"] == 8 + 32 + 8 + 8
    assert sizes["server_member"] == 8 + 8 + 32 + 1 + 8
    assert sizes["direct_conversation"] == 8 + 32 + 32 + 8 + 8
    assert sizes["message"] is None
    assert sizes["user_profile"] is None
    assert set(sizes) == {t.name for t in model.TABLES}


# ---------------------------------------------------------------------------------------------
# Round trips


@settings(max_examples=150, deadline=None)
@given(table_and_rows(max_rows=4))
def test_every_table_round_trips(pair: tuple[str, list[Any]]) -> None:
    name, rows = pair
    codec = bsatn.row_codec(name)
    blobs = [codec.encode(r) for r in rows]
    for blob, row in zip(blobs, rows, strict=True):
        assert codec.decode(blob) == row
        if codec.static_size is not None:
            assert len(blob) == codec.static_size
    decoded, ends = codec.decode_concat(b"".join(blobs))
    assert decoded == rows
    total = 0
    expected_ends = []
    for b in blobs:
        total += len(b)
        expected_ends.append(total)
    assert ends == expected_ends


@settings(max_examples=120, deadline=None)
@given(reducer_and_args())
def test_every_reducer_argument_product_round_trips(pair: tuple[str, tuple[Any, ...]]) -> None:
    name, args = pair
    data = bsatn.encode_args(name, args)
    assert bsatn.decode_args(name, data) == args
    params = model.REDUCER_BY_NAME[name].param_names
    assert bsatn.encode_args(name, dict(zip(params, args, strict=True))) == data
    # the product is its fields' encodings back to back
    parts = [bsatn.encode_value(t, v)
             for (_, t), v in zip(model.REDUCER_BY_NAME[name].params, args, strict=True)]
    assert data == b"".join(parts)


def test_reducer_arguments_by_name_and_errors() -> None:
    data = bsatn.encode_args("send_message", {"channel_id": 3, "content": "yo",
                                              "thread_id": None, "reply_to_id": 4,
                                              "message_type": MessageType.Text})
    assert bsatn.decode_args("send_message", data) == (3, "yo", None, 4, MessageType.Text)
    assert bsatn.encode_args("init", []) == b""
    assert bsatn.decode_args("client_connected", b"") == ()
    with pytest.raises(BsatnError, match="trailing"):
        bsatn.decode_args("init", b"\x00")
    with pytest.raises(BsatnError, match="takes 2"):
        bsatn.encode_args("edit_message", [1])
    with pytest.raises(BsatnError, match="missing"):
        bsatn.encode_args("edit_message", {"message_id": 1})
    with pytest.raises(BsatnError, match="unknown reducer"):
        bsatn.encode_args("nope", [])
    with pytest.raises(BsatnError, match="trailing"):
        bsatn.decode_args("join_server", bytes(9))
    with pytest.raises(BsatnError):
        bsatn.decode_args("join_server", b"")


# ---------------------------------------------------------------------------------------------
# Malformed input: one error type, with an offset


def test_malformed_rows_raise_bsatn_error_with_offset() -> None:
    good = bsatn.encode_row("message", msg_row())
    with pytest.raises(BsatnError) as e:
        bsatn.decode_row("message", good[:-1])
    assert e.value.offset > 0
    with pytest.raises(BsatnError, match="trailing"):
        bsatn.decode_row("message", good + b"\x01")
    with pytest.raises(BsatnError, match="empty"):
        bsatn.decode_row("message", b"")
    bad_option = bytearray(good)
    bad_option[16] = 7  # thread_id's Option tag
    with pytest.raises(BsatnError, match="Option tag 7") as e:
        bsatn.decode_row("message", bytes(bad_option))
    assert e.value.offset == 16
    # content's length claims more than there is
    long_len = bytearray(good)
    long_len[17 + 32:17 + 36] = struct.pack("<I", 2**31)
    with pytest.raises(BsatnError, match="truncated") as e:
        bsatn.decode_row("message", bytes(long_len))
    assert e.value.offset == 17 + 32
    bad_enum = bytearray(good)
    bad_enum[17 + 32 + 4 + 2] = 9
    with pytest.raises(BsatnError, match="IndexError"):
        bsatn.decode_row("message", bytes(bad_enum))
    bad_utf8 = bytearray(good)
    bad_utf8[17 + 32 + 4] = 0xFF
    with pytest.raises(BsatnError, match="UnicodeDecodeError"):
        bsatn.decode_row("message", bytes(bad_utf8))


def test_bool_must_be_0_or_1() -> None:
    assert bsatn.decode_value("bool", b"\x00") is False
    with pytest.raises(BsatnError):
        bsatn.decode_value("bool", b"\x02")
    row = model.UserPresence(ALICE, True, None, 1)
    blob = bytearray(bsatn.encode_row("user_presence", row))
    blob[32] = 2
    with pytest.raises(BsatnError):
        bsatn.decode_row("user_presence", bytes(blob))


def test_unencodable_values_raise_bsatn_error() -> None:
    with pytest.raises(BsatnError, match="range"):
        bsatn.encode_row("message", msg_row(id=-1))
    with pytest.raises(BsatnError):
        bsatn.encode_row("message", msg_row(id=2**64))
    with pytest.raises(BsatnError, match="Identity"):
        bsatn.encode_row("message", msg_row(sender=ALICE.hex))
    with pytest.raises(BsatnError):
        bsatn.encode_row("message", msg_row(message_type=9))
    with pytest.raises(BsatnError):
        bsatn.encode_row("message", msg_row(content=None))
    with pytest.raises(BsatnError):
        bsatn.encode_row("message", msg_row(content="\ud800"))
    with pytest.raises(BsatnError):
        bsatn.encode_row("message", msg_row(created_at=1.5))
    with pytest.raises(BsatnError, match="as a message row"):
        bsatn.encode_row("message", model.Reaction(1, 2, ALICE, "x"))
    with pytest.raises(BsatnError, match="unknown table"):
        bsatn.encode_row("messages", msg_row())
    with pytest.raises(BsatnError):
        bsatn.encode_value("bool", 2)
    with pytest.raises(BsatnError, match="unknown type"):
        bsatn.encode_value("f64", 1.0)


def test_bools_accept_ints_0_and_1_as_sqlite_returns_them() -> None:
    row = model.UserPresence(ALICE, 1, None, 1)  # type: ignore[arg-type]
    assert bsatn.decode_row("user_presence", bsatn.encode_row("user_presence", row)).online is True


def test_reader_bounds() -> None:
    r = Reader(b"\xff\xff\xff\xff")
    with pytest.raises(BsatnError, match="cannot fit"):
        r.array_len()
    r = Reader(struct.pack("<I", 3) + b"ab")
    with pytest.raises(BsatnError, match="truncated") as e:
        r.bytes_()
    assert e.value.offset == 0
    r = Reader(b"\x01")
    with pytest.raises(BsatnError, match="u32"):
        r.u32()
    r = Reader(struct.pack("<I", 1) + b"\xc3")
    with pytest.raises(BsatnError, match="UTF-8"):
        r.string()
    r = Reader(b"\x05")
    with pytest.raises(BsatnError, match="tag 5"):
        r.tag("Thing", 2)
    r = Reader(b"\x00\x01")
    r.u8()
    with pytest.raises(BsatnError, match="trailing") as e:
        r.expect_end()
    assert e.value.offset == 1


def test_writer_refuses_out_of_range() -> None:
    w = Writer()
    cases: list[tuple[Callable[[Any], None], object]] = [
        (w.u8, 256), (w.u16, -1), (w.u32, 2**32), (w.u64, "1"), (w.i64, 2**63),
        (w.u128, 2**128), (w.u256, -1)]
    for method, value in cases:
        with pytest.raises(BsatnError):
            method(value)
    with pytest.raises(BsatnError):
        w.identity(b"\x00" * 32)  # type: ignore[arg-type]
    with pytest.raises(BsatnError):
        w.string(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(BsatnError):
        w.bytes_("text")  # type: ignore[arg-type]
    assert w.getvalue() == b""


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([t.name for t in model.TABLES]), st.binary(max_size=120))
def test_random_bytes_decode_or_raise_bsatn_error(table: str, data: bytes) -> None:
    codec = bsatn.row_codec(table)
    try:
        rows, ends = codec.decode_concat(data)
    except BsatnError as e:
        assert 0 <= e.offset <= len(data)
    else:
        assert (ends[-1] if ends else 0) == len(data)
        assert b"".join(codec.encode(r) for r in rows) == data


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_every_truncation_of_a_row_raises(data: st.DataObject) -> None:
    table = data.draw(st.sampled_from([t.name for t in model.TABLES]))
    row = data.draw(rows_of(table))
    blob = bsatn.encode_row(table, row)
    cut = data.draw(st.integers(0, len(blob) - 1))
    with pytest.raises(BsatnError):
        bsatn.decode_row(table, blob[:cut])


def test_decode_accepts_bytearray_and_memoryview() -> None:
    blob = bsatn.encode_row("message", msg_row())
    assert bsatn.decode_row("message", bytearray(blob)) == msg_row()
    assert bsatn.decode_row("message", memoryview(blob)) == msg_row()


def test_identity_objects_are_shared_within_a_decode() -> None:
    blob = bsatn.encode_row("message", msg_row()) * 3
    rows, _ = bsatn.row_codec("message").decode_concat(blob)
    assert rows[0].sender is rows[2].sender
    assert rows[0].sender == ALICE and hash(rows[0].sender) == hash(ALICE)
