"""SpacetimeDB WebSocket protocol v2 (and v3 framing) messages: sans-I/O, bytes in, values out.

Schema: crates/client-api-messages/src/websocket/{v2,common,v3}.rs in SpacetimeDB, and the
official TypeScript SDK's src/sdk/client_api/types.ts (pinned by tests/oracle). Field names
here are the Rust ones; wrapper products are flattened: QuerySetId is an `int` (its u32),
Identity is model.Identity, ConnectionId is bsatn.ConnectionId, Timestamp and TimeDuration
are `int` microseconds.

Client -> server (ClientMessage; tags in order): Subscribe 0, Unsubscribe 1, OneOffQuery 2,
CallReducer 3, CallProcedure 4. A v2 client frame is one encoded ClientMessage, no tag byte;
a v3 client frame is several, back to back.

Server -> client (ServerMessage): InitialConnection 0, SubscribeApplied 1,
UnsubscribeApplied 2, SubscriptionError 3, TransactionUpdate 4, OneOffQueryResult 5,
ReducerResult 6, ProcedureResult 7. A server frame is one compression tag byte (0 none,
1 brotli, 2 gzip; always present, even with `?compression=None`) and then the (possibly
compressed) body: one message (v2) or one or more back to back (v3).

Public API:
- encode_client_message(msg) -> bytes; decode_client_message(data) -> ClientMessage (exactly
  one); decode_client_frame(data) -> list[ClientMessage] (v2 or v3 client frames);
- encode_server_message(msg) -> bytes (no tag); decode_server_message(data) -> ServerMessage;
- encode_server_frame(msgs, compression=Compression.NONE) -> bytes (tag + body; several
  messages make a v3 frame); decode_server_frame(frame) -> list[ServerMessage] (tag,
  gzip, v2 and v3; brotli is refused with a clear error since no brotli package is present);
- make_row_list(table_name, rows) -> BsatnRowList, choosing the size hint as the server
  does (FixedSize(n) when every row is n bytes, RowOffsets(starts) otherwise, RowOffsets([])
  when empty); decode_rows(table_name, row_list) -> list of model row dataclasses (the
  hint must agree with the rows); BsatnRowList.row_bytes() splits rows without decoding;
  encode_row_list / decode_row_list for a BsatnRowList on its own;
- call_reducer(request_id, reducer_name, args) builds a CallReducer with BSATN arguments;
- encode_string / decode_string: a whole buffer holding one BSATN String (ReducerErr's
  payload for reducers whose error type is String).

Every malformed input raises bsatn.BsatnError (with the offset); nothing else escapes.
"""

from __future__ import annotations

import enum
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TypeAlias

from spacesd.model import Identity
from spacesd.stdb import bsatn
from spacesd.stdb.bsatn import BsatnError, ConnectionId, Reader, Writer

__all__ = [
    "MAX_DECOMPRESSED_FRAME",
    "V2_PROTOCOL",
    "V3_PROTOCOL",
    "BsatnRowList",
    "CallProcedure",
    "CallReducer",
    "ClientMessage",
    "Compression",
    "EventTableRows",
    "FixedSize",
    "InitialConnection",
    "OneOffQuery",
    "OneOffQueryResult",
    "PersistentTableRows",
    "ProcedureInternalError",
    "ProcedureResult",
    "ProcedureReturned",
    "ProcedureStatus",
    "QueryRows",
    "QuerySetUpdate",
    "ReducerErr",
    "ReducerInternalError",
    "ReducerOk",
    "ReducerOkEmpty",
    "ReducerOutcome",
    "ReducerResult",
    "RowOffsets",
    "RowSizeHint",
    "ServerMessage",
    "SingleTableRows",
    "Subscribe",
    "SubscribeApplied",
    "SubscriptionError",
    "TableUpdate",
    "TableUpdateRows",
    "TransactionUpdate",
    "Unsubscribe",
    "UnsubscribeApplied",
    "UnsubscribeFlags",
    "call_reducer",
    "decode_client_frame",
    "decode_client_message",
    "decode_row_list",
    "decode_rows",
    "decode_server_frame",
    "decode_server_message",
    "decode_string",
    "encode_client_frame",
    "encode_client_message",
    "encode_row_list",
    "encode_server_frame",
    "encode_server_message",
    "encode_string",
    "make_row_list",
]

V2_PROTOCOL: Final = "v2.bsatn.spacetimedb"
V3_PROTOCOL: Final = "v3.bsatn.spacetimedb"

MAX_DECOMPRESSED_FRAME: Final = 256 * 1024 * 1024
"""A gzip frame inflating beyond this many bytes is refused (a bound, not a protocol limit)."""


# --------------------------------------------------------------------------------------------
# Rows


@dataclass(frozen=True, slots=True)
class FixedSize:
    """RowSizeHint::FixedSize(u16): every row is `size` bytes."""

    size: int


@dataclass(frozen=True, slots=True)
class RowOffsets:
    """RowSizeHint::RowOffsets(Vec<u64>): the start offset of each row."""

    offsets: list[int] = field(default_factory=list)


RowSizeHint: TypeAlias = FixedSize | RowOffsets


@dataclass(frozen=True, slots=True)
class BsatnRowList:
    """A packed list of BSATN rows: a size hint and the rows' bytes, back to back."""

    size_hint: RowSizeHint = field(default_factory=RowOffsets)
    rows_data: bytes = b""

    def __len__(self) -> int:
        hint = self.size_hint
        if isinstance(hint, FixedSize):
            return len(self.rows_data) // hint.size if hint.size else 0
        return len(hint.offsets)

    def row_bytes(self) -> list[bytes]:
        """Each row's bytes, split by the size hint (which is checked)."""
        data = self.rows_data
        hint = self.size_hint
        if isinstance(hint, FixedSize):
            size = hint.size
            if not data:
                return []
            if size == 0 or len(data) % size:
                raise BsatnError(f"rows_data of {len(data)} byte(s) is not a multiple of "
                                 f"FixedSize({size})", 0)
            return [data[i:i + size] for i in range(0, len(data), size)]
        offsets = hint.offsets
        if not offsets:
            if data:
                raise BsatnError(f"{len(data)} byte(s) of rows_data but no row offsets", 0)
            return []
        bounds = [*offsets, len(data)]
        if bounds[0] != 0:
            raise BsatnError(f"first row offset is {bounds[0]}, not 0", 0)
        out = []
        for i in range(len(offsets)):
            start, end = bounds[i], bounds[i + 1]
            if not start <= end <= len(data):
                raise BsatnError(f"row offset {end} out of order or beyond rows_data", start)
            out.append(data[start:end])
        return out


def make_row_list(table_name: str, rows: Sequence[Any]) -> BsatnRowList:
    """Encodes `rows` of `table_name` as the server would: FixedSize(n) when all rows are n
    bytes (n fits a u16, n > 0), else RowOffsets(start of each row); empty: RowOffsets([])."""
    codec = bsatn.row_codec(table_name)
    out = bytearray()
    starts: list[int] = []
    encode_into = codec.encode_into
    row_type = codec.table.row_type
    for row in rows:
        if type(row) is not row_type:
            raise BsatnError(f"cannot encode {type(row).__name__} as a {table_name} row",
                             len(out))
        starts.append(len(out))
        encode_into(out, row)
    data = bytes(out)
    if not starts:
        return BsatnRowList(RowOffsets([]), data)
    size = len(data) - starts[-1]
    if 0 < size <= 0xFFFF and len(data) == size * len(starts) and (
            codec.static_size is not None
            or all(starts[i] == i * size for i in range(len(starts)))):
        return BsatnRowList(FixedSize(size), data)
    return BsatnRowList(RowOffsets(starts), data)


def decode_rows(table_name: str, row_list: BsatnRowList) -> list[Any]:
    """The rows of a BsatnRowList of `table_name` as model row dataclasses.

    Rows are decoded back to back; the size hint must agree with where each row ends.
    """
    codec = bsatn.row_codec(table_name)
    data = row_list.rows_data
    rows, ends = codec.decode_concat(data)
    hint = row_list.size_hint
    if isinstance(hint, FixedSize):
        size = hint.size
        if data and (size == 0 or ends != list(range(size, len(data) + 1, size))):
            bad = next((i for i, e in enumerate(ends) if e != (i + 1) * size), len(ends))
            raise BsatnError(f"{table_name} rows do not match FixedSize({size}) "
                             f"(row {bad})", ends[bad - 1] if bad else 0)
    else:
        offsets = hint.offsets
        if len(offsets) != len(rows) or (offsets and (offsets[0] != 0
                                                      or offsets[1:] != ends[:-1])):
            starts = [0, *ends[:-1]] if ends else []
            bad = next((i for i, (a, b) in enumerate(zip(offsets, starts, strict=False)) if a != b),
                       min(len(offsets), len(starts)))
            raise BsatnError(f"{table_name} rows do not match RowOffsets "
                             f"({len(offsets)} offset(s), {len(rows)} row(s); row {bad})",
                             starts[bad] if bad < len(starts) else len(data))
    return rows


def _write_row_list(w: Writer, rl: BsatnRowList) -> None:
    hint = rl.size_hint
    if isinstance(hint, FixedSize):
        w.u8(0)
        w.u16(hint.size)
    elif isinstance(hint, RowOffsets):
        w.u8(1)
        w.u64_array(hint.offsets)
    else:
        raise BsatnError(f"not a RowSizeHint: {hint!r}", len(w.out))
    w.bytes_(rl.rows_data)


def _read_row_list(r: Reader) -> BsatnRowList:
    if r.tag("RowSizeHint", 2) == 0:
        hint: RowSizeHint = FixedSize(r.u16())
    else:
        hint = RowOffsets(r.u64_array())
    return BsatnRowList(hint, r.bytes_())


def encode_row_list(row_list: BsatnRowList) -> bytes:
    """A BsatnRowList on its own, as BSATN (size hint, then the rows' bytes)."""
    w = Writer()
    _write_row_list(w, row_list)
    return w.getvalue()


def decode_row_list(data: bytes | bytearray | memoryview) -> BsatnRowList:
    r = Reader(data)
    rl = _read_row_list(r)
    r.expect_end("BsatnRowList")
    return rl


# --------------------------------------------------------------------------------------------
# Client messages


class UnsubscribeFlags(enum.IntEnum):
    Default = 0
    SendDroppedRows = 1


@dataclass(frozen=True, slots=True)
class Subscribe:
    request_id: int
    query_set_id: int
    query_strings: list[str]


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    request_id: int
    query_set_id: int
    flags: int = UnsubscribeFlags.Default


@dataclass(frozen=True, slots=True)
class OneOffQuery:
    request_id: int
    query_string: str


@dataclass(frozen=True, slots=True)
class CallReducer:
    """`args` is the BSATN product of the reducer's arguments (see call_reducer)."""

    request_id: int
    reducer: str
    args: bytes
    flags: int = 0


@dataclass(frozen=True, slots=True)
class CallProcedure:
    request_id: int
    procedure: str
    args: bytes
    flags: int = 0


ClientMessage: TypeAlias = Subscribe | Unsubscribe | OneOffQuery | CallReducer | CallProcedure


def call_reducer(request_id: int, reducer_name: str,
                 args: Sequence[Any] | Mapping[str, Any]) -> CallReducer:
    """A CallReducer for one of model.REDUCERS, its arguments encoded per its signature."""
    return CallReducer(request_id, reducer_name, bsatn.encode_args(reducer_name, args))


def _write_client(w: Writer, msg: ClientMessage) -> None:
    if isinstance(msg, Subscribe):
        w.u8(0)
        w.u32(msg.request_id)
        w.u32(msg.query_set_id)
        w.string_array(msg.query_strings)
    elif isinstance(msg, Unsubscribe):
        w.u8(1)
        w.u32(msg.request_id)
        w.u32(msg.query_set_id)
        if msg.flags not in (0, 1):
            raise BsatnError(f"invalid UnsubscribeFlags {msg.flags!r}", len(w.out))
        w.u8(int(msg.flags))
    elif isinstance(msg, OneOffQuery):
        w.u8(2)
        w.u32(msg.request_id)
        w.string(msg.query_string)
    elif isinstance(msg, CallReducer):
        w.u8(3)
        w.u32(msg.request_id)
        w.u8(msg.flags)
        w.string(msg.reducer)
        w.bytes_(msg.args)
    elif isinstance(msg, CallProcedure):
        w.u8(4)
        w.u32(msg.request_id)
        w.u8(msg.flags)
        w.string(msg.procedure)
        w.bytes_(msg.args)
    else:
        raise BsatnError(f"not a ClientMessage: {type(msg).__name__}", len(w.out))


def _read_client(r: Reader) -> ClientMessage:
    tag = r.tag("ClientMessage", 5)
    if tag == 0:
        return Subscribe(r.u32(), r.u32(), r.string_array())
    if tag == 1:
        rid, qs = r.u32(), r.u32()
        return Unsubscribe(rid, qs, UnsubscribeFlags(r.tag("UnsubscribeFlags", 2)))
    if tag == 2:
        return OneOffQuery(r.u32(), r.string())
    rid = r.u32()
    flags_at = r.pos
    flags = r.u8()
    if flags != 0:
        raise BsatnError(f"invalid call flags {flags}", flags_at)
    name = r.string()
    args = r.bytes_()
    if tag == 3:
        return CallReducer(rid, name, args, flags)
    return CallProcedure(rid, name, args, flags)


def encode_client_message(msg: ClientMessage) -> bytes:
    """One ClientMessage as BSATN: a whole v2 client frame."""
    w = Writer()
    _write_client(w, msg)
    return w.getvalue()


def encode_client_frame(msgs: Sequence[ClientMessage]) -> bytes:
    """A v3 client frame: one or more ClientMessages back to back."""
    if not msgs:
        raise BsatnError("a v3 frame holds at least one message")
    w = Writer()
    for msg in msgs:
        _write_client(w, msg)
    return w.getvalue()


def decode_client_message(data: bytes | bytearray | memoryview) -> ClientMessage:
    """Exactly one ClientMessage (a v2 client frame)."""
    r = Reader(data)
    msg = _read_client(r)
    r.expect_end("ClientMessage")
    return msg


def decode_client_frame(data: bytes | bytearray | memoryview) -> list[ClientMessage]:
    """A client frame: one (v2) or more (v3) ClientMessages back to back."""
    r = Reader(data)
    if not r.remaining:
        raise BsatnError("empty client frame", 0)
    out = []
    while r.remaining:
        out.append(_read_client(r))
    return out


# --------------------------------------------------------------------------------------------
# Server messages


@dataclass(frozen=True, slots=True)
class SingleTableRows:
    table: str
    rows: BsatnRowList


@dataclass(frozen=True, slots=True)
class QueryRows:
    tables: list[SingleTableRows] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PersistentTableRows:
    inserts: BsatnRowList = field(default_factory=BsatnRowList)
    deletes: BsatnRowList = field(default_factory=BsatnRowList)


@dataclass(frozen=True, slots=True)
class EventTableRows:
    events: BsatnRowList = field(default_factory=BsatnRowList)


TableUpdateRows: TypeAlias = PersistentTableRows | EventTableRows


@dataclass(frozen=True, slots=True)
class TableUpdate:
    table_name: str
    rows: list[TableUpdateRows]


@dataclass(frozen=True, slots=True)
class QuerySetUpdate:
    query_set_id: int
    tables: list[TableUpdate]


@dataclass(frozen=True, slots=True)
class InitialConnection:
    identity: Identity
    connection_id: ConnectionId
    token: str


@dataclass(frozen=True, slots=True)
class SubscribeApplied:
    request_id: int
    query_set_id: int
    rows: QueryRows


@dataclass(frozen=True, slots=True)
class UnsubscribeApplied:
    request_id: int
    query_set_id: int
    rows: QueryRows | None = None


@dataclass(frozen=True, slots=True)
class SubscriptionError:
    request_id: int | None
    query_set_id: int
    error: str


@dataclass(frozen=True, slots=True)
class TransactionUpdate:
    query_sets: list[QuerySetUpdate]


@dataclass(frozen=True, slots=True)
class OneOffQueryResult:
    """`result` is Result<QueryRows, String>: QueryRows on success, the error text if not."""

    request_id: int
    result: QueryRows | str


@dataclass(frozen=True, slots=True)
class ReducerOk:
    ret_value: bytes
    transaction_update: TransactionUpdate


@dataclass(frozen=True, slots=True)
class ReducerOkEmpty:
    pass


@dataclass(frozen=True, slots=True)
class ReducerErr:
    """The reducer's structured error: the BSATN of its error value (a String for Spaces'
    module, whose reducers return Result<(), String>)."""

    error: bytes

    @classmethod
    def from_message(cls, message: str) -> ReducerErr:
        return cls(encode_string(message))

    @property
    def message(self) -> str:
        """The error as text: the BSATN String it holds, else its bytes decoded leniently."""
        try:
            return decode_string(self.error)
        except BsatnError:
            return self.error.decode("utf-8", "replace")


@dataclass(frozen=True, slots=True)
class ReducerInternalError:
    message: str


ReducerOutcome: TypeAlias = ReducerOk | ReducerOkEmpty | ReducerErr | ReducerInternalError


@dataclass(frozen=True, slots=True)
class ReducerResult:
    request_id: int
    timestamp: int
    result: ReducerOutcome


@dataclass(frozen=True, slots=True)
class ProcedureReturned:
    value: bytes


@dataclass(frozen=True, slots=True)
class ProcedureInternalError:
    message: str


ProcedureStatus: TypeAlias = ProcedureReturned | ProcedureInternalError


@dataclass(frozen=True, slots=True)
class ProcedureResult:
    status: ProcedureStatus
    timestamp: int
    total_host_execution_duration: int
    request_id: int


ServerMessage: TypeAlias = (InitialConnection | SubscribeApplied | UnsubscribeApplied
                            | SubscriptionError | TransactionUpdate | OneOffQueryResult
                            | ReducerResult | ProcedureResult)


def _write_query_rows(w: Writer, qr: QueryRows) -> None:
    w.array_len(len(qr.tables))
    for t in qr.tables:
        w.string(t.table)
        _write_row_list(w, t.rows)


def _read_query_rows(r: Reader) -> QueryRows:
    n = r.array_len(4 + 1 + 4)
    return QueryRows([SingleTableRows(r.string(), _read_row_list(r)) for _ in range(n)])


def _write_tx(w: Writer, tx: TransactionUpdate) -> None:
    w.array_len(len(tx.query_sets))
    for qs in tx.query_sets:
        w.u32(qs.query_set_id)
        w.array_len(len(qs.tables))
        for tu in qs.tables:
            w.string(tu.table_name)
            w.array_len(len(tu.rows))
            for rows in tu.rows:
                if isinstance(rows, PersistentTableRows):
                    w.u8(0)
                    _write_row_list(w, rows.inserts)
                    _write_row_list(w, rows.deletes)
                elif isinstance(rows, EventTableRows):
                    w.u8(1)
                    _write_row_list(w, rows.events)
                else:
                    raise BsatnError(f"not a TableUpdateRows: {type(rows).__name__}",
                                     len(w.out))


def _read_tx(r: Reader) -> TransactionUpdate:
    query_sets = []
    for _ in range(r.array_len(4 + 4)):
        qs_id = r.u32()
        tables = []
        for _ in range(r.array_len(4 + 4)):
            name = r.string()
            rows: list[TableUpdateRows] = []
            for _ in range(r.array_len(1 + 1 + 4)):
                if r.tag("TableUpdateRows", 2) == 0:
                    rows.append(PersistentTableRows(_read_row_list(r), _read_row_list(r)))
                else:
                    rows.append(EventTableRows(_read_row_list(r)))
            tables.append(TableUpdate(name, rows))
        query_sets.append(QuerySetUpdate(qs_id, tables))
    return TransactionUpdate(query_sets)


def _write_server(w: Writer, msg: ServerMessage) -> None:
    if isinstance(msg, InitialConnection):
        w.u8(0)
        w.identity(msg.identity)
        w.connection_id(msg.connection_id)
        w.string(msg.token)
    elif isinstance(msg, SubscribeApplied):
        w.u8(1)
        w.u32(msg.request_id)
        w.u32(msg.query_set_id)
        _write_query_rows(w, msg.rows)
    elif isinstance(msg, UnsubscribeApplied):
        w.u8(2)
        w.u32(msg.request_id)
        w.u32(msg.query_set_id)
        if msg.rows is None:
            w.option_none()
        else:
            w.option_some()
            _write_query_rows(w, msg.rows)
    elif isinstance(msg, SubscriptionError):
        w.u8(3)
        if msg.request_id is None:
            w.option_none()
        else:
            w.option_some()
            w.u32(msg.request_id)
        w.u32(msg.query_set_id)
        w.string(msg.error)
    elif isinstance(msg, TransactionUpdate):
        w.u8(4)
        _write_tx(w, msg)
    elif isinstance(msg, OneOffQueryResult):
        w.u8(5)
        w.u32(msg.request_id)
        if isinstance(msg.result, QueryRows):
            w.u8(0)
            _write_query_rows(w, msg.result)
        else:
            w.u8(1)
            w.string(msg.result)
    elif isinstance(msg, ReducerResult):
        w.u8(6)
        w.u32(msg.request_id)
        w.timestamp(msg.timestamp)
        outcome = msg.result
        if isinstance(outcome, ReducerOk):
            w.u8(0)
            w.bytes_(outcome.ret_value)
            _write_tx(w, outcome.transaction_update)
        elif isinstance(outcome, ReducerOkEmpty):
            w.u8(1)
        elif isinstance(outcome, ReducerErr):
            w.u8(2)
            w.bytes_(outcome.error)
        elif isinstance(outcome, ReducerInternalError):
            w.u8(3)
            w.string(outcome.message)
        else:
            raise BsatnError(f"not a ReducerOutcome: {type(outcome).__name__}", len(w.out))
    elif isinstance(msg, ProcedureResult):
        w.u8(7)
        status = msg.status
        if isinstance(status, ProcedureReturned):
            w.u8(0)
            w.bytes_(status.value)
        elif isinstance(status, ProcedureInternalError):
            w.u8(1)
            w.string(status.message)
        else:
            raise BsatnError(f"not a ProcedureStatus: {type(status).__name__}", len(w.out))
        w.timestamp(msg.timestamp)
        w.time_duration(msg.total_host_execution_duration)
        w.u32(msg.request_id)
    else:
        raise BsatnError(f"not a ServerMessage: {type(msg).__name__}", len(w.out))


def _read_server(r: Reader) -> ServerMessage:
    tag = r.tag("ServerMessage", 8)
    if tag == 0:
        return InitialConnection(r.identity(), r.connection_id(), r.string())
    if tag == 1:
        return SubscribeApplied(r.u32(), r.u32(), _read_query_rows(r))
    if tag == 2:
        rid, qs = r.u32(), r.u32()
        return UnsubscribeApplied(rid, qs, _read_query_rows(r) if r.option_tag() else None)
    if tag == 3:
        req = r.u32() if r.option_tag() else None
        return SubscriptionError(req, r.u32(), r.string())
    if tag == 4:
        return _read_tx(r)
    if tag == 5:
        rid = r.u32()
        if r.tag("Result", 2) == 0:
            return OneOffQueryResult(rid, _read_query_rows(r))
        return OneOffQueryResult(rid, r.string())
    if tag == 6:
        rid = r.u32()
        ts = r.timestamp()
        otag = r.tag("ReducerOutcome", 4)
        outcome: ReducerOutcome
        if otag == 0:
            outcome = ReducerOk(r.bytes_(), _read_tx(r))
        elif otag == 1:
            outcome = ReducerOkEmpty()
        elif otag == 2:
            outcome = ReducerErr(r.bytes_())
        else:
            outcome = ReducerInternalError(r.string())
        return ReducerResult(rid, ts, outcome)
    status: ProcedureStatus
    if r.tag("ProcedureStatus", 2) == 0:
        status = ProcedureReturned(r.bytes_())
    else:
        status = ProcedureInternalError(r.string())
    return ProcedureResult(status, r.timestamp(), r.time_duration(), r.u32())


def encode_server_message(msg: ServerMessage) -> bytes:
    """One ServerMessage as BSATN (without the frame's compression tag)."""
    w = Writer()
    _write_server(w, msg)
    return w.getvalue()


def decode_server_message(data: bytes | bytearray | memoryview) -> ServerMessage:
    """Exactly one ServerMessage from BSATN (without a compression tag)."""
    r = Reader(data)
    msg = _read_server(r)
    r.expect_end("ServerMessage")
    return msg


# --------------------------------------------------------------------------------------------
# Server frames: compression tag + one (v2) or more (v3) messages


class Compression(enum.IntEnum):
    """A server frame's first byte."""

    NONE = 0
    BROTLI = 1
    GZIP = 2


def _brotli() -> Any:
    try:
        import brotli  # type: ignore[import-not-found]
    except ImportError:
        return None
    return brotli


def _gunzip(body: bytes, limit: int) -> bytes:
    d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(body, limit)
    except zlib.error as e:
        raise BsatnError(f"bad gzip data in frame: {e}", 1) from None
    if d.unconsumed_tail:
        raise BsatnError(f"gzip frame inflates beyond {limit} bytes", 1)
    if not d.eof:
        raise BsatnError("truncated gzip data in frame", 1 + len(body))
    if d.unused_data:
        raise BsatnError(f"{len(d.unused_data)} byte(s) after the gzip stream in frame",
                         1 + len(body) - len(d.unused_data))
    return out


def _decompress(frame: bytes, limit: int) -> bytes:
    if not frame:
        raise BsatnError("empty server frame", 0)
    tag = frame[0]
    body = frame[1:]
    if tag == Compression.NONE:
        return body
    if tag == Compression.GZIP:
        return _gunzip(body, limit)
    if tag == Compression.BROTLI:
        brotli = _brotli()
        if brotli is None:
            raise BsatnError("brotli-compressed server frame: no brotli decoder is installed; "
                             "connect with ?compression=Gzip or ?compression=None", 0)
        try:
            out: bytes = brotli.decompress(body)
        except Exception as e:  # the brotli module raises its own error type
            raise BsatnError(f"bad brotli data in frame: {e}", 1) from None
        if len(out) > limit:
            raise BsatnError(f"brotli frame inflates beyond {limit} bytes", 1)
        return out
    raise BsatnError(f"unknown compression tag {tag} in server frame", 0)


def decode_server_frame(frame: bytes | bytearray | memoryview, *,
                        max_size: int = MAX_DECOMPRESSED_FRAME) -> list[ServerMessage]:
    """A WebSocket binary frame from the server: compression tag, then one ServerMessage
    (v2) or one or more back to back (v3). Offsets in errors are into the decompressed body
    when the frame was compressed, else into the frame."""
    data = bytes(frame)
    body = _decompress(data, max_size)
    base = 1 if data[0] == Compression.NONE else 0
    r = Reader(body)
    if not r.remaining:
        raise BsatnError("server frame holds no message", 1)
    out = []
    try:
        while r.remaining:
            out.append(_read_server(r))
    except BsatnError as e:
        if base:
            raise BsatnError(e.reason, e.offset + base) from None
        raise
    return out


def encode_server_frame(msgs: ServerMessage | Sequence[ServerMessage],
                        compression: Compression = Compression.NONE) -> bytes:
    """A server frame: tag byte + body; a sequence of several messages is a v3 frame."""
    batch: Sequence[ServerMessage] = (msgs if isinstance(msgs, Sequence) else [msgs])
    if not batch:
        raise BsatnError("a server frame holds at least one message")
    w = Writer()
    for msg in batch:
        _write_server(w, msg)
    body = bytes(w.out)
    if compression == Compression.NONE:
        return b"\x00" + body
    if compression == Compression.GZIP:
        co = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)
        return b"\x02" + co.compress(body) + co.flush()
    if compression == Compression.BROTLI:
        brotli = _brotli()
        if brotli is None:
            raise BsatnError("brotli compression requested but no brotli encoder is installed")
        return b"\x01" + bytes(brotli.compress(body))
    raise BsatnError(f"unknown compression {compression!r}")


# --------------------------------------------------------------------------------------------
# Strings as whole buffers (ReducerErr payloads)


def encode_string(text: str) -> bytes:
    w = Writer()
    w.string(text)
    return w.getvalue()


def decode_string(data: bytes | bytearray | memoryview) -> str:
    r = Reader(data)
    s = r.string()
    r.expect_end("String")
    return s

