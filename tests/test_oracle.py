"""Our BSATN and v2 messages, checked byte for byte against the official TypeScript SDK.

tests/oracle/ pins npm `spacetimedb` (package.json + package-lock.json; `npm ci` installs it,
scripts/test does so, and so does this module when node_modules is missing). oracle.mjs,
bundled from the SDK's own TypeScript sources with the pinned esbuild, runs as one
long-lived node process; it decodes and encodes with the SDK's generated client_api types,
its BinaryReader/BinaryWriter, its WebsocketDecompressAdapter and v3 frame helpers, and
tests/oracle/schema.mjs's table and reducer types (written by hand with the SDK's type
builders, and checked here against spacesd/model.py).

For every value: our bytes decode in the SDK to the same value, consume every byte, and
re-encode to the same bytes; the SDK's encoding of the same value equals our bytes (so its
bytes decode in ours).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stdb_strategies import (
    CLIENT_MESSAGES,
    SERVER_MESSAGES,
    reducer_and_args,
    table_and_rows,
)

from spacesd import model
from spacesd.model import ChannelType, Identity, MemberRole, MessageType, TypeSpec
from spacesd.stdb import bsatn
from spacesd.stdb import messages as m
from spacesd.stdb.bsatn import ConnectionId

ORACLE_DIR = Path(__file__).resolve().parent / "oracle"
PINNED_VERSION = "2.10.1"
BUNDLE = ORACLE_DIR / "node_modules" / ".cache" / "spaces-oracle" / "oracle.bundle.mjs"

ALICE = Identity.from_hex("c200" + "ab" * 29 + "01")
BOB = Identity(2)


class OracleError(Exception):
    pass


class Oracle:
    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self._next = 0

    def call(self, op: str, **args: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._next += 1
        self.proc.stdin.write(json.dumps({"id": self._next, "op": op, **args}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise OracleError(f"oracle exited ({self.proc.poll()})")
        resp: dict[str, Any] = json.loads(line)
        assert resp["id"] == self._next
        if not resp["ok"]:
            raise OracleError(resp["error"])
        return resp

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _build_bundle() -> None:
    sources = [ORACLE_DIR / "oracle.mjs", ORACLE_DIR / "schema.mjs",
               ORACLE_DIR / "package-lock.json"]
    if BUNDLE.exists() and BUNDLE.stat().st_mtime >= max(p.stat().st_mtime for p in sources):
        return
    BUNDLE.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [str(ORACLE_DIR / "node_modules" / ".bin" / "esbuild"), "oracle.mjs", "--bundle",
         "--platform=node", "--format=esm", "--target=node20", "--log-level=warning",
         f"--outfile={BUNDLE}"],
        cwd=ORACLE_DIR, check=True, timeout=120)


@pytest.fixture(scope="module")
def oracle() -> Iterator[Oracle]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the SDK oracle cannot run")
    sdk = ORACLE_DIR / "node_modules" / "spacetimedb" / "package.json"
    if not sdk.exists() or not (ORACLE_DIR / "node_modules" / ".bin" / "esbuild").exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed: cannot install the SDK oracle")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                       cwd=ORACLE_DIR, check=True, timeout=300)
    assert json.loads(sdk.read_text())["version"] == PINNED_VERSION
    _build_bundle()
    proc = subprocess.Popen([node, str(BUNDLE)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, cwd=ORACLE_DIR)
    orc = Oracle(proc)
    try:
        yield orc
    finally:
        orc.close()


# ---------------------------------------------------------------------------------------------
# Our values as the oracle's JSON (the SDK's own field names and value shapes)


def value_json(spec: TypeSpec, v: Any) -> Any:
    kind = spec.kind
    if kind == "Option":
        assert spec.inner is not None
        return None if v is None else value_json(spec.inner, v)
    if kind == "Enum":
        assert spec.enum is not None
        return {"tag": spec.enum(v).name, "value": {}}
    if kind in ("bool", "u8", "u16", "u32", "String"):
        return v
    if kind in ("u64", "i64"):
        return str(v)
    if kind == "Identity":
        return {"__identity__": str(v.value)}
    if kind == "Timestamp":
        return ts_json(v)
    raise AssertionError(kind)


def ts_json(v: int) -> dict[str, str]:
    return {"__timestamp_micros_since_unix_epoch__": str(v)}


def row_json(table: str, row: Any) -> dict[str, Any]:
    tdef = model.TABLE_BY_NAME[table]
    return {c.name: value_json(c.type, getattr(row, c.name)) for c in tdef.columns}


def args_json(reducer: str, args: tuple[Any, ...]) -> dict[str, Any]:
    rdef = model.REDUCER_BY_NAME[reducer]
    return {name: value_json(model.parse_type(t), v)
            for (name, t), v in zip(rdef.params, args, strict=True)}


def row_list_json(rl: m.BsatnRowList) -> dict[str, Any]:
    hint = rl.size_hint
    if isinstance(hint, m.FixedSize):
        hj: dict[str, Any] = {"tag": "FixedSize", "value": hint.size}
    else:
        hj = {"tag": "RowOffsets", "value": [str(o) for o in hint.offsets]}
    return {"sizeHint": hj, "rowsData": rl.rows_data.hex()}


def query_rows_json(qr: m.QueryRows) -> dict[str, Any]:
    return {"tables": [{"table": t.table, "rows": row_list_json(t.rows)} for t in qr.tables]}


def tx_json(tx: m.TransactionUpdate) -> dict[str, Any]:
    def rows_json(r: m.TableUpdateRows) -> dict[str, Any]:
        if isinstance(r, m.PersistentTableRows):
            return {"tag": "PersistentTable", "value": {"inserts": row_list_json(r.inserts),
                                                       "deletes": row_list_json(r.deletes)}}
        return {"tag": "EventTable", "value": {"events": row_list_json(r.events)}}

    return {"querySets": [
        {"querySetId": {"id": qs.query_set_id},
         "tables": [{"tableName": tu.table_name, "rows": [rows_json(r) for r in tu.rows]}
                    for tu in qs.tables]}
        for qs in tx.query_sets]}


def client_json(msg: m.ClientMessage) -> dict[str, Any]:
    if isinstance(msg, m.Subscribe):
        return {"tag": "Subscribe", "value": {"requestId": msg.request_id,
                                              "querySetId": {"id": msg.query_set_id},
                                              "queryStrings": msg.query_strings}}
    if isinstance(msg, m.Unsubscribe):
        return {"tag": "Unsubscribe", "value": {
            "requestId": msg.request_id, "querySetId": {"id": msg.query_set_id},
            "flags": {"tag": m.UnsubscribeFlags(msg.flags).name, "value": {}}}}
    if isinstance(msg, m.OneOffQuery):
        return {"tag": "OneOffQuery", "value": {"requestId": msg.request_id,
                                                "queryString": msg.query_string}}
    if isinstance(msg, m.CallReducer):
        return {"tag": "CallReducer", "value": {"requestId": msg.request_id, "flags": msg.flags,
                                                "reducer": msg.reducer, "args": msg.args.hex()}}
    return {"tag": "CallProcedure", "value": {"requestId": msg.request_id, "flags": msg.flags,
                                              "procedure": msg.procedure,
                                              "args": msg.args.hex()}}


def outcome_json(o: m.ReducerOutcome) -> dict[str, Any]:
    if isinstance(o, m.ReducerOk):
        return {"tag": "Ok", "value": {"retValue": o.ret_value.hex(),
                                       "transactionUpdate": tx_json(o.transaction_update)}}
    if isinstance(o, m.ReducerOkEmpty):
        return {"tag": "OkEmpty", "value": {}}
    if isinstance(o, m.ReducerErr):
        return {"tag": "Err", "value": o.error.hex()}
    return {"tag": "InternalError", "value": o.message}


def server_json(msg: m.ServerMessage) -> dict[str, Any]:
    v: dict[str, Any]
    if isinstance(msg, m.InitialConnection):
        v = {"identity": {"__identity__": str(msg.identity.value)},
             "connectionId": {"__connection_id__": str(msg.connection_id.value)},
             "token": msg.token}
    elif isinstance(msg, m.SubscribeApplied):
        v = {"requestId": msg.request_id, "querySetId": {"id": msg.query_set_id},
             "rows": query_rows_json(msg.rows)}
    elif isinstance(msg, m.UnsubscribeApplied):
        v = {"requestId": msg.request_id, "querySetId": {"id": msg.query_set_id},
             "rows": None if msg.rows is None else query_rows_json(msg.rows)}
    elif isinstance(msg, m.SubscriptionError):
        v = {"requestId": msg.request_id, "querySetId": {"id": msg.query_set_id},
             "error": msg.error}
    elif isinstance(msg, m.TransactionUpdate):
        v = tx_json(msg)
    elif isinstance(msg, m.OneOffQueryResult):
        result = ({"err": msg.result} if isinstance(msg.result, str)
                  else {"ok": query_rows_json(msg.result)})
        v = {"requestId": msg.request_id, "result": result}
    elif isinstance(msg, m.ReducerResult):
        v = {"requestId": msg.request_id, "timestamp": ts_json(msg.timestamp),
             "result": outcome_json(msg.result)}
    else:
        status = msg.status
        sj = ({"tag": "Returned", "value": status.value.hex()}
              if isinstance(status, m.ProcedureReturned)
              else {"tag": "InternalError", "value": status.message})
        v = {"status": sj, "timestamp": ts_json(msg.timestamp),
             "totalHostExecutionDuration": {
                 "__time_duration_micros__": str(msg.total_host_execution_duration)},
             "requestId": msg.request_id}
    return {"tag": type(msg).__name__, "value": v}


# ---------------------------------------------------------------------------------------------
# The two-way check


def check_both_ways(oracle: Oracle, type_name: str, ours: bytes, expected_json: Any) -> None:
    # our bytes, decoded by the SDK: same value, every byte consumed, same bytes back
    dec = oracle.call("decode", type=type_name, hex=ours.hex())
    assert dec["remaining"] == 0, f"SDK left {dec['remaining']} byte(s) of our {type_name}"
    assert dec["json"] == expected_json
    assert "reencode_error" not in dec, dec.get("reencode_error")
    assert bytes.fromhex(dec["hex"]) == ours
    # the SDK's bytes for the same value are ours
    enc = oracle.call("encode", type=type_name, json=expected_json)
    assert bytes.fromhex(enc["hex"]) == ours


ORACLE_SETTINGS = settings(max_examples=40, deadline=None,
                           suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                  HealthCheck.too_slow])


def test_sdk_version_and_schema_match_model(oracle: Oracle) -> None:
    lock = json.loads((ORACLE_DIR / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/spacetimedb"]["version"] == PINNED_VERSION
    pkg = json.loads((ORACLE_DIR / "package.json").read_text())
    assert pkg["dependencies"]["spacetimedb"] == PINNED_VERSION  # exact, not a range

    def spelled(type_name: str) -> str:
        spec = model.parse_type(type_name)
        inner = spec.inner if spec.kind == "Option" else spec
        assert inner is not None
        if inner.kind == "Enum":
            assert inner.enum is not None
            text = "enum[" + ",".join(e.name for e in inner.enum) + "]"
            return f"Option<{text}>" if spec.kind == "Option" else text
        return type_name

    schema = oracle.call("schema")
    assert schema["tables"] == {
        t.name: [[c.name, spelled(c.type_name)] for c in t.columns] for t in model.TABLES}
    assert schema["reducers"] == {
        r.name: [[p, spelled(t)] for p, t in r.params] for r in model.REDUCERS}


# ---------------------------------------------------------------------------------------------
# Rows and reducer arguments


FIXED_ROWS: list[tuple[str, Any]] = [
    ("user_profile", model.UserProfile(ALICE, "alice", "Alice", None, "bio é 🚀", False, 1)),
    ("user_presence", model.UserPresence(BOB, True, None, -1)),
    ("server", model.Server(1, "Spaces Hub", None, "https://x/y.png", ALICE, 2**62, True)),
    ("server_member", model.ServerMember(2, 1, BOB, MemberRole.Agent, 3)),
    ("channel", model.Channel(3, 1, "agent-logs", "t", ChannelType.AgentLog, 2**32 - 1, 4)),
    ("thread", model.Thread(4, 3, "th", ALICE, 5, True, 6)),
    ("message", model.Message(2**64 - 1, 3, 4, ALICE, "", MessageType.Leave, 7, 8, 9)),
    ("reaction", model.Reaction(6, 5, BOB, "👍")),
    ("channel_read_state", model.ChannelReadState(7, ALICE, 3, 5)),
    ("direct_conversation", model.DirectConversation(8, BOB, ALICE, 9, 10)),
    ("direct_message", model.DirectMessage(9, 8, BOB, "dm", 11, None, True)),
    ("typing_indicator", model.TypingIndicator(10, 3, ALICE, 12)),
    ("system_notification", model.SystemNotification(11, BOB, "title", "body", 13)),
    ("task", model.Task(12, 3, 2**64 - 1, None, "t é", "", model.TaskState.Cancelled, ALICE,
                        BOB, 14, 15, None, "done 🚀", 16)),
    ("path_lease", model.PathLease(13, "git:0f1e", "src/**/x.py", BOB, 17, 2**62, None)),
    ("vote", model.Vote(14, model.VoteTarget.Task, 12, ALICE, "+1", -2)),
    ("write_key", model.WriteKey(f"{ALICE.hex}/summary:s:1", ALICE, "send_message", 2**64 - 1,
                                 14)),
    ("server_invite", model.ServerInvite(12, 1, BOB, ALICE, 14)),
    ("session_info", model.SessionInfo(ALICE, BOB, model.AgentKind.Gemini, "git:abc", "api",
                                       None, True, model.SessionState.WaitingForInput, 14, 15,
                                       16)),
    ("inbox_item", model.InboxItem(12, ALICE, BOB, model.InboxKind.Addressed, 3, None, 9, None,
                                   True, model.DeliveryState.Read, 17, 18, None)),
    ("channel_follow", model.ChannelFollow(13, 3, BOB)),
    ("thread_poster", model.ThreadPoster(14, 4, ALICE)),
]


def test_fixed_rows_cover_every_table() -> None:
    assert sorted(t for t, _ in FIXED_ROWS) == sorted(t.name for t in model.TABLES)


@pytest.mark.parametrize(("table", "row"), FIXED_ROWS, ids=[t for t, _ in FIXED_ROWS])
def test_every_table_row_matches_the_sdk(oracle: Oracle, table: str, row: Any) -> None:
    ours = bsatn.encode_row(table, row)
    check_both_ways(oracle, f"row:{table}", ours, row_json(table, row))


@ORACLE_SETTINGS
@given(table_and_rows(max_rows=3))
def test_random_rows_match_the_sdk(oracle: Oracle, pair: tuple[str, list[Any]]) -> None:
    table, rows = pair
    for row in rows:
        check_both_ways(oracle, f"row:{table}", bsatn.encode_row(table, row),
                        row_json(table, row))
        sdk = bytes.fromhex(oracle.call("encode", type=f"row:{table}",
                                        json=row_json(table, row))["hex"])
        assert bsatn.decode_row(table, sdk) == row


@ORACLE_SETTINGS
@given(reducer_and_args())
def test_reducer_arguments_match_the_sdk(oracle: Oracle,
                                         pair: tuple[str, tuple[Any, ...]]) -> None:
    reducer, args = pair
    check_both_ways(oracle, f"args:{reducer}", bsatn.encode_args(reducer, args),
                    args_json(reducer, args))


@ORACLE_SETTINGS
@given(table_and_rows(max_rows=5))
def test_row_lists_parse_in_the_sdk(oracle: Oracle, pair: tuple[str, list[Any]]) -> None:
    table, rows = pair
    rl = m.make_row_list(table, rows)
    check_both_ways(oracle, "BsatnRowList", m.encode_row_list(rl), row_list_json(rl))
    assert m.decode_row_list(m.encode_row_list(rl)) == rl
    got = oracle.call("rows", table=table, hex=rl.rows_data.hex())["rows"]
    assert got == [row_json(table, r) for r in rows]


# ---------------------------------------------------------------------------------------------
# Every message kind


def _rl(table: str, rows: list[Any]) -> m.BsatnRowList:
    return m.make_row_list(table, rows)


MSG_ROWS = [r for t, r in FIXED_ROWS if t == "message"]
TX = m.TransactionUpdate([
    m.QuerySetUpdate(1, [
        m.TableUpdate("message", [m.PersistentTableRows(_rl("message", MSG_ROWS * 2),
                                                        _rl("message", []))]),
        m.TableUpdate("typing_indicator", [m.EventTableRows(_rl("typing_indicator", [
            model.TypingIndicator(1, 2, ALICE, 3), model.TypingIndicator(2, 2, BOB, 4)]))]),
    ]),
    m.QuerySetUpdate(2, []),
])
QR = m.QueryRows([m.SingleTableRows(t, _rl(t, [r])) for t, r in FIXED_ROWS])

CLIENT_EXAMPLES: list[m.ClientMessage] = [
    m.Subscribe(1, 2, ["SELECT * FROM message WHERE channel_id = 3", "SELECT * FROM thread"]),
    m.Subscribe(0, 0, []),
    m.Unsubscribe(3, 2, m.UnsubscribeFlags.Default),
    m.Unsubscribe(4, 2, m.UnsubscribeFlags.SendDroppedRows),
    m.OneOffQuery(5, "SELECT * FROM user_profile"),
    m.call_reducer(6, "send_message", [3, "hi @bob", None, 7, MessageType.Text]),
    m.call_reducer(2**32 - 1, "init", []),
    m.CallProcedure(8, "proc", b"\x00\x01"),
]

SERVER_EXAMPLES: list[m.ServerMessage] = [
    m.InitialConnection(ALICE, ConnectionId(2**128 - 2), "eyJhbGciOi"),
    m.SubscribeApplied(1, 2, QR),
    m.UnsubscribeApplied(3, 2, None),
    m.UnsubscribeApplied(4, 2, QR),
    m.SubscriptionError(1, 2, "no such table `foo`"),
    m.SubscriptionError(None, 2, "recompilation failed"),
    TX,
    m.TransactionUpdate([]),
    m.OneOffQueryResult(5, QR),
    m.OneOffQueryResult(6, "syntax error"),
    m.ReducerResult(6, 1_732_000_000_000_000, m.ReducerOk(b"", TX)),
    m.ReducerResult(7, 0, m.ReducerOkEmpty()),
    m.ReducerResult(8, -5, m.ReducerErr.from_message("not a member of this server")),
    m.ReducerResult(9, 1, m.ReducerInternalError("the reducer panicked")),
    m.ProcedureResult(m.ProcedureReturned(b"\x01"), 10, 250, 11),
    m.ProcedureResult(m.ProcedureInternalError("no such procedure"), 12, 0, 13),
]


def test_examples_cover_every_kind() -> None:
    assert {type(x) for x in CLIENT_EXAMPLES} == {
        m.Subscribe, m.Unsubscribe, m.OneOffQuery, m.CallReducer, m.CallProcedure}
    assert {type(x) for x in SERVER_EXAMPLES} == {
        m.InitialConnection, m.SubscribeApplied, m.UnsubscribeApplied, m.SubscriptionError,
        m.TransactionUpdate, m.OneOffQueryResult, m.ReducerResult, m.ProcedureResult}
    assert {type(x.result) for x in SERVER_EXAMPLES if isinstance(x, m.ReducerResult)} == {
        m.ReducerOk, m.ReducerOkEmpty, m.ReducerErr, m.ReducerInternalError}
    hints = {type(t.rows.size_hint) for t in QR.tables}
    assert hints == {m.FixedSize}  # single rows: FixedSize; TX has RowOffsets and empty
    assert isinstance(TX.query_sets[0].tables[0].rows[0], m.PersistentTableRows)


@pytest.mark.parametrize("msg", CLIENT_EXAMPLES, ids=lambda x: type(x).__name__)
def test_client_messages_match_the_sdk(oracle: Oracle, msg: m.ClientMessage) -> None:
    ours = m.encode_client_message(msg)
    check_both_ways(oracle, "ClientMessage", ours, client_json(msg))
    sdk = bytes.fromhex(oracle.call("encode", type="ClientMessage", json=client_json(msg))["hex"])
    assert m.decode_client_message(sdk) == msg


@pytest.mark.parametrize("msg", SERVER_EXAMPLES, ids=lambda x: type(x).__name__)
def test_server_messages_match_the_sdk(oracle: Oracle, msg: m.ServerMessage) -> None:
    ours = m.encode_server_message(msg)
    check_both_ways(oracle, "ServerMessage", ours, server_json(msg))
    sdk = bytes.fromhex(oracle.call("encode", type="ServerMessage", json=server_json(msg))["hex"])
    assert m.decode_server_message(sdk) == msg


def test_sdk_rows_inside_a_transaction_update_decode_in_ours(oracle: Oracle) -> None:
    sdk = bytes.fromhex(oracle.call("encode", type="ServerMessage", json=server_json(TX))["hex"])
    [tx] = m.decode_server_frame(b"\x00" + sdk)
    assert isinstance(tx, m.TransactionUpdate)
    first = tx.query_sets[0].tables[0].rows[0]
    assert isinstance(first, m.PersistentTableRows)
    assert m.decode_rows("message", first.inserts) == MSG_ROWS * 2
    ev = tx.query_sets[0].tables[1].rows[0]
    assert isinstance(ev, m.EventTableRows)
    assert [r.identity for r in m.decode_rows("typing_indicator", ev.events)] == [ALICE, BOB]


@ORACLE_SETTINGS
@given(CLIENT_MESSAGES)
def test_random_client_messages_match_the_sdk(oracle: Oracle, msg: m.ClientMessage) -> None:
    check_both_ways(oracle, "ClientMessage", m.encode_client_message(msg), client_json(msg))


@ORACLE_SETTINGS
@given(SERVER_MESSAGES)
def test_random_server_messages_match_the_sdk(oracle: Oracle, msg: m.ServerMessage) -> None:
    check_both_ways(oracle, "ServerMessage", m.encode_server_message(msg), server_json(msg))


# ---------------------------------------------------------------------------------------------
# Frames: compression tag, gzip, v3 batches


@pytest.mark.parametrize("compression", [m.Compression.NONE, m.Compression.GZIP])
def test_v2_frames_read_by_the_sdk(oracle: Oracle, compression: m.Compression) -> None:
    for msg in SERVER_EXAMPLES:
        frame = m.encode_server_frame(msg, compression)
        got = oracle.call("server_frame", protocol="v2", hex=frame.hex())["messages"]
        assert got == [server_json(msg)]


@pytest.mark.parametrize("compression", [m.Compression.NONE, m.Compression.GZIP])
def test_v3_frames_read_by_the_sdk(oracle: Oracle, compression: m.Compression) -> None:
    frame = m.encode_server_frame(SERVER_EXAMPLES, compression)
    got = oracle.call("server_frame", protocol="v3", hex=frame.hex())["messages"]
    assert got == [server_json(x) for x in SERVER_EXAMPLES]
    assert m.decode_server_frame(frame) == SERVER_EXAMPLES


def test_sdk_refuses_what_we_refuse(oracle: Oracle) -> None:
    with pytest.raises(OracleError, match="Unexpected Compression"):
        oracle.call("server_frame", protocol="v2", hex="03" + "00")
    with pytest.raises(OracleError, match="at least one message"):
        oracle.call("server_frame", protocol="v3", hex="00")


def test_v3_client_frames_match_the_sdk(oracle: Oracle) -> None:
    ours = m.encode_client_frame(CLIENT_EXAMPLES)
    sdk = oracle.call("encode_client_frame_v3",
                      hexes=[m.encode_client_message(x).hex() for x in CLIENT_EXAMPLES])
    assert bytes.fromhex(sdk["hex"]) == ours
    got = oracle.call("client_frame_v3", hex=ours.hex())["messages"]
    assert got == [client_json(x) for x in CLIENT_EXAMPLES]
    assert m.decode_client_frame(ours) == CLIENT_EXAMPLES


@ORACLE_SETTINGS
@given(st.lists(SERVER_MESSAGES, min_size=1, max_size=3))
def test_random_v3_gzip_frames_match_the_sdk(oracle: Oracle,
                                             batch: list[m.ServerMessage]) -> None:
    frame = m.encode_server_frame(batch, m.Compression.GZIP)
    got = oracle.call("server_frame", protocol="v3", hex=frame.hex())["messages"]
    assert got == [server_json(x) for x in batch]
