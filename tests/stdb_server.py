"""A SpacetimeDB 2.x test server: the Spaces engine behind SpacetimeDB's HTTP routes and its
v2 (and v3) WebSocket protocol. Tests only; not shipped.

What it implements, as crates/client-api and crates/core do:
- `POST /v1/identity` mints an identity and its token (a JWT-shaped token, HMAC-signed with a
  secret kept in the data directory, so tokens survive restarts); `POST
  /v1/identity/websocket-token` re-signs the caller's token (the official SDK calls it before
  connecting with a token); `GET /v1/ping`.
- Auth: `Authorization: Bearer <token>` (or `?token=`); a request without one gets a fresh
  identity; a bad token is 401.
- `POST /v1/database/{db}/call/{reducer}`: JSON arguments (SATS-JSON: Option as {"some": v} /
  {"none": []}, enums as {"Variant": []}, Identity as hex; plain values and null accepted
  too), client_connected / client_disconnected around the call; a reducer refusal is HTTP 530
  with the message as the body.
- `POST /v1/database/{db}/sql`: the SELECT subset below, answered as SqlStmtResult JSON,
  between client_connected and client_disconnected for the caller (since SpacetimeDB 2.2.0
  every HTTP request to a database runs them: `with_connection` in client-api's
  routes/database.rs), so the caller reads itself online and is offline afterwards. A read
  without side effects goes over a WebSocket (OneOffQuery or a subscription).
- `GET /v1/database/{db}/subscribe`: WebSocket, subprotocol v3.bsatn.spacetimedb preferred,
  then v2.bsatn.spacetimedb; `?compression=None|Gzip|Brotli` (brotli frames are sent
  uncompressed, tag 0, which a server may always do); InitialConnection first;
  client_connected on connect and client_disconnected on close, as ctx.sender;
  Subscribe -> SubscribeApplied / SubscriptionError, Unsubscribe -> UnsubscribeApplied,
  OneOffQuery -> OneOffQueryResult, CallReducer -> ReducerResult to the caller (its own
  query sets' rows inside, `Ok` even when empty, as the real server sends) and a
  TransactionUpdate to every other connection whose query sets the transaction touched.
- Queries: `SELECT * FROM t [WHERE col OP lit [AND ...]]`, one table per query (see
  `parse_query`), for subscriptions and OneOffQuery alike (the real server compiles both with
  the subscription grammar: no LIMIT, ORDER BY nor COUNT over the WebSocket); a Timestamp
  literal is an RFC 3339 string (`created_at > '2026-11-25T09:00:00Z'`). Row-level security
  as the Spaces module has it: a direct conversation and its messages go only to their two
  participants, a notification only to its target, a write key only to its identity; the
  database owner sees every row, as on the real server. Narrower than the real server's
  grammar: no JOIN (the real one takes one); error texts are the real server's where Spaces
  meets them (unknown table, projection, unsupported clause, unknown reducer).
- State in `--data DIR` (SQLite, WAL): kill it, start it again on the same DIR, nothing
  committed is lost; auto_inc ids go on from the next multiple of 4096 (plus one), as the
  real server's do after a restart. The database is named `spaces`; its owner identity and
  token are kept in DIR/owner.json (tests use it to act as the owner).

Run by hand: `python tests/stdb_server.py --host 127.0.0.1 --port 3000 --data /tmp/stdb`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import contextlib
import datetime
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import signal
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from spacesd import model  # noqa: E402
from spacesd.engine import Engine, ReducerError, coerce_args, errors  # noqa: E402
from spacesd.model import TABLE_BY_NAME, Identity, TableDef  # noqa: E402
from spacesd.stdb import bsatn  # noqa: E402
from spacesd.stdb import messages as m  # noqa: E402
from spacesd.stdb.bsatn import BsatnError, ConnectionId  # noqa: E402
from spacesd.store import Changes, Store  # noqa: E402

log = logging.getLogger("stdb_server")

DATABASE = "spaces"
V2 = Subprotocol(m.V2_PROTOCOL)
V3 = Subprotocol(m.V3_PROTOCOL)
GZIP_THRESHOLD = 1024
ISSUER = "http://localhost"

# ============================================================================================
# SQL subset


class QueryParseError(ValueError):
    pass


_TOKEN = re.compile(r"""
    \s*(?:
      (?P<qid>"(?:[^"]|"")*")
    | (?P<hexs>[xX]'[0-9a-fA-F]*')
    | (?P<str>'(?:[^']|'')*')
    | (?P<hex>0[xX][0-9a-fA-F]+)
    | (?P<num>-?\d+)
    | (?P<op><>|!=|<=|>=|=|<|>)
    | (?P<punct>[().,*;])
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    )""", re.VERBOSE)


@dataclass(frozen=True)
class Tok:
    kind: str
    text: str


def _tokenize(sql: str) -> list[Tok]:
    out: list[Tok] = []
    pos = 0
    sql = sql.rstrip()
    while pos < len(sql):
        mt = _TOKEN.match(sql, pos)
        if mt is None or mt.end() == pos:
            raise QueryParseError(f"unexpected input at {pos}: {sql[pos:pos + 20]!r}")
        kind = mt.lastgroup
        assert kind is not None
        out.append(Tok(kind, mt.group(kind)))
        pos = mt.end()
    return out


@dataclass(frozen=True)
class Cond:
    column: str
    op: str
    value: Any


@dataclass(frozen=True)
class Query:
    sql: str
    table: TableDef
    conds: tuple[Cond, ...]
    """The WHERE as one conjunction (empty when it has an OR: see `alternatives`)."""
    alternatives: tuple[tuple[Cond, ...], ...] = ()
    """The WHERE as OR-ed conjunctions, when it has an OR."""

    def matches(self, row: Any) -> bool:
        return any(all(_compare(getattr(row, c.column), c.op, c.value) for c in conj)
                   for conj in (self.alternatives or (self.conds,)))


def _compare(left: Any, op: str, right: Any) -> bool:
    if op == "=":
        return bool(left == right)
    if op in ("<>", "!="):
        return bool(left != right)
    if left is None or right is None:
        return False
    try:
        if op == "<":
            return bool(left < right)
        if op == "<=":
            return bool(left <= right)
        if op == ">":
            return bool(left > right)
        return bool(left >= right)
    except TypeError:
        return False


class _Parser:
    def __init__(self, sql: str) -> None:
        self.sql = sql
        self.toks = _tokenize(sql)
        self.i = 0

    def peek(self) -> Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def next(self) -> Tok:
        tok = self.peek()
        if tok is None:
            raise QueryParseError("unexpected end of query")
        self.i += 1
        return tok

    def keyword(self, word: str) -> None:
        tok = self.next()
        if tok.kind != "word" or tok.text.upper() != word:
            raise QueryParseError(f"expected {word}, got {tok.text!r}")

    def at_keyword(self, word: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind == "word" and tok.text.upper() == word

    def ident(self) -> str:
        tok = self.next()
        if tok.kind == "qid":
            return tok.text[1:-1].replace('""', '"')
        if tok.kind == "word":
            return tok.text
        raise QueryParseError(f"expected an identifier, got {tok.text!r}")

    def column_ref(self, table: TableDef, alias: str | None) -> str:
        name = self.ident()
        tok = self.peek()
        if tok is not None and tok.kind == "punct" and tok.text == ".":
            self.next()
            qualifier, name = name, self.ident()
            if qualifier not in (table.name, alias):
                raise QueryParseError(f"unknown table {qualifier!r}")
        if name not in table.column_names:
            raise QueryParseError(f"`{name}` is not in scope")  # the real server's words
        return name

    def parse(self) -> Query:
        self.keyword("SELECT")
        tok = self.next()
        if not (tok.kind == "punct" and tok.text == "*"):
            self.i -= 1  # `t.*`
            self.ident()
            if self.next().text != "." or self.next().text != "*":
                raise QueryParseError("Column projections are not supported in subscriptions;"
                                      " Subscriptions must return a table type")
        self.keyword("FROM")
        table_name = self.ident()
        table = TABLE_BY_NAME.get(table_name)
        if table is None:
            raise QueryParseError(f"no such table: `{table_name}`. If the table exists, it may "
                                  "be marked private.")
        alias: str | None = None
        if self.at_keyword("AS"):
            self.next()
            alias = self.ident()
        elif (t := self.peek()) is not None and t.kind in ("word", "qid") \
                and not self.at_keyword("WHERE"):
            alias = self.ident()
        dnf: list[list[Cond]] = [[]]
        if self.at_keyword("WHERE"):
            self.next()
            dnf = self.disjunction(table, alias)
        tok2 = self.peek()
        if tok2 is not None and tok2.text == ";":
            self.next()
            tok2 = self.peek()
        if tok2 is not None:
            raise QueryParseError(f"Unsupported: {self.sql}")
        if len(dnf) == 1:
            return Query(self.sql, table, tuple(dnf[0]))
        return Query(self.sql, table, (), tuple(tuple(conj) for conj in dnf))

    # A WHERE is parsed into OR-ed conjunctions (disjunctive normal form).

    def disjunction(self, table: TableDef, alias: str | None) -> list[list[Cond]]:
        dnf = self.conjunction(table, alias)
        while self.at_keyword("OR"):
            self.next()
            dnf = dnf + self.conjunction(table, alias)
        return dnf

    def conjunction(self, table: TableDef, alias: str | None) -> list[list[Cond]]:
        dnf = self.term(table, alias)
        while self.at_keyword("AND"):
            self.next()
            right = self.term(table, alias)
            dnf = [left + other for left in dnf for other in right]
        return dnf

    def term(self, table: TableDef, alias: str | None) -> list[list[Cond]]:
        tok = self.peek()
        if tok is not None and tok.kind == "punct" and tok.text == "(":
            self.next()
            dnf = self.disjunction(table, alias)
            if self.next().text != ")":
                raise QueryParseError("expected )")
            return dnf
        if tok is not None and (tok.kind == "qid" or (
                tok.kind == "word" and tok.text.upper() not in ("TRUE", "FALSE", "NULL"))):
            col = self.column_ref(table, alias)
            op = self.next()
            if op.kind != "op":
                raise QueryParseError(f"expected an operator, got {op.text!r}")
            return [[Cond(col, op.text, self.literal(self.next(), table, col))]]
        lit = self.next()  # literal OP column
        op = self.next()
        if op.kind != "op":
            raise QueryParseError(f"expected an operator, got {op.text!r}")
        col = self.column_ref(table, alias)
        flipped = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(op.text, op.text)
        return [[Cond(col, flipped, self.literal(lit, table, col))]]

    def literal(self, tok: Tok, table: TableDef, column: str) -> Any:
        spec = next(c.type for c in table.columns if c.name == column)
        if spec.kind == "Option":
            if tok.kind == "word" and tok.text.upper() == "NULL":
                return None
            assert spec.inner is not None
            spec = spec.inner
        kind = spec.kind
        if kind == "Identity":
            if tok.kind == "hex":
                digits = tok.text[2:]
            elif tok.kind == "hexs":
                digits = tok.text[2:-1]
            elif tok.kind == "str":
                digits = tok.text[1:-1]
                digits = digits[2:] if digits[:2].lower() == "0x" else digits
            else:
                raise QueryParseError(f"expected an identity literal for {column}")
            try:
                return Identity.from_hex(digits.rjust(64, "0"))
            except ValueError as e:
                raise QueryParseError(str(e)) from None
        if kind == "bool":
            if tok.kind == "word" and tok.text.upper() in ("TRUE", "FALSE"):
                return tok.text.upper() == "TRUE"
            raise QueryParseError(f"expected true or false for {column}")
        if kind == "String":
            if tok.kind != "str":
                raise QueryParseError(f"expected a string literal for {column}")
            return tok.text[1:-1].replace("''", "'")
        if kind == "Enum":
            assert spec.enum is not None
            name = tok.text[1:-1] if tok.kind == "str" else tok.text
            try:
                return spec.enum[name]
            except KeyError:
                raise QueryParseError(f"no variant {name!r} of {spec.enum.__name__}") from None
        if kind == "Timestamp":
            # crates/expr `parse`: any literal is read with Timestamp::parse_from_rfc3339
            # (chrono): a date, a time and an offset; a number is refused.
            text = tok.text[1:-1] if tok.kind == "str" else tok.text
            try:
                when = datetime.datetime.fromisoformat(text)
            except ValueError:
                when = None
            if when is None or when.tzinfo is None:
                raise QueryParseError(f"invalid literal {text!r} for {column}: expected an "
                                      "RFC 3339 timestamp")
            epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
            return (when - epoch) // datetime.timedelta(microseconds=1)
        if tok.kind == "num":
            return int(tok.text)
        if tok.kind == "hex":
            return int(tok.text, 16)
        raise QueryParseError(f"expected a number for {column}, got {tok.text!r}")


def parse_query(sql: str) -> Query:
    """One subscription or one-off query; raises QueryParseError."""
    return _Parser(sql).parse()


# ============================================================================================
# Identities and tokens


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenAuthority:
    """Mints and checks JWT-shaped tokens (HS256 with a secret kept in the data dir).

    The identity is derived from (issuer, subject) as SpacetimeDB does in spirit: a hash,
    with the `c200` prefix real identities carry."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret

    @staticmethod
    def identity_for(issuer: str, subject: str) -> Identity:
        digest = hashlib.blake2b(f"{issuer}|{subject}".encode(), digest_size=30).digest()
        return Identity(int.from_bytes(b"\xc2\x00" + digest, "big"))

    def mint(self, subject: str | None = None, expiry_s: int | None = None) -> tuple[Identity, str]:
        sub = subject or str(uuid.uuid4())
        identity = self.identity_for(ISSUER, sub)
        now = int(time.time())
        claims: dict[str, Any] = {"hex_identity": identity.hex, "sub": sub, "iss": ISSUER,
                                  "aud": ["spacetimedb"], "iat": now,
                                  "exp": now + expiry_s if expiry_s else None}
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        sig = hmac.new(self.secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return identity, f"{header}.{payload}.{_b64(sig)}"

    def verify(self, token: str) -> tuple[Identity, str]:
        """(identity, subject) of a valid token; ValueError otherwise."""
        parts = token.split(".")
        if len(parts) != 3:
            raise ValueError("Authorization is invalid: malformed token")
        sig = hmac.new(self.secret, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        try:
            given = _unb64(parts[2])
            claims = json.loads(_unb64(parts[1]))
        except (ValueError, json.JSONDecodeError):
            raise ValueError("Authorization is invalid: malformed token") from None
        if not hmac.compare_digest(sig, given):
            raise ValueError("Authorization failed: token not signed by this instance")
        exp = claims.get("exp")
        if isinstance(exp, int) and exp < time.time():
            raise ValueError("Authorization failed: token expired")
        sub = str(claims.get("sub"))
        return self.identity_for(str(claims.get("iss")), sub), sub


# ============================================================================================
# The database


class Database:
    """The engine over a SQLite file, plus the row-level visibility of private tables."""

    def __init__(self, data_dir: Path, authority: TokenAuthority) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        owner_file = data_dir / "owner.json"
        if owner_file.exists():
            owner_info = json.loads(owner_file.read_text())
            self.owner = Identity.from_hex(owner_info["identity"])
            self.owner_token: str = owner_info["token"]
        else:
            self.owner, self.owner_token = authority.mint()
            _write_private(owner_file, json.dumps(
                {"identity": self.owner.hex, "token": self.owner_token}))
        self.store = Store(data_dir / "spaces.sqlite")
        # As SpacetimeDB's sequences: auto_inc values are allocated in blocks of 4096 and only
        # a block's end is persisted, so after a restart ids go on from the next block (1, 2,
        # 3, restart, 4097). Unique and increasing, never dense across restarts.
        with self.store.transaction():
            self.store.conn.execute(
                "UPDATE sqlite_sequence SET seq = ((seq + 4095) / 4096) * 4096 WHERE seq > 0")
        self.engine = Engine(self.store, self.owner)
        self.engine.ensure_initialized()
        # conversation id -> participants, for direct_message visibility
        self._participants: dict[int, tuple[Identity, Identity]] = {
            c.id: (c.participant_a, c.participant_b)
            for c in self.store.rows("direct_conversation")}

    def close(self) -> None:
        self.store.close()

    def call(self, caller: Identity, reducer: str, args: tuple[Any, ...], *,
             host: bool = False) -> Changes:
        """A reducer call: a client's (a lifecycle reducer is refused, as SpacetimeDB refuses
        it), or the host's own (`host`: the lifecycle reducers around a connection)."""
        changes = self.engine.call(caller, reducer, args, host=host)
        for c in changes.inserted("direct_conversation"):
            self._participants[c.id] = (c.participant_a, c.participant_b)
        return changes

    def forget_deleted(self, changes: Changes) -> None:
        inserted = {c.id for c in changes.inserted("direct_conversation")}
        for c in changes.deleted("direct_conversation"):
            if c.id not in inserted:
                self._participants.pop(c.id, None)

    def visible(self, table: str, row: Any, who: Identity) -> bool:
        if who == self.owner:  # the database owner bypasses row-level security
            return True
        if table == "direct_conversation":
            return bool(row.participant_a == who or row.participant_b == who)
        if table == "direct_message":
            pair = self._participants.get(row.conversation_id)
            return pair is not None and who in pair
        if table == "system_notification":
            return bool(row.target == who)
        if table == "write_key":
            return bool(row.identity == who)
        if table == "inbox_item":  # its recipient, its sender, and their sessions' machines
            if who in (row.recipient, row.sender):
                return True
            return any(info is not None and info.machine == who for info in (
                self.store.get("session_info", row.recipient),
                self.store.get("session_info", row.sender)))
        return True

    def evaluate(self, query: Query, who: Identity) -> list[Any]:
        name = query.table.name
        eq = {c.column: c.value for c in query.conds if c.op == "="}
        try:
            rows = self.store.select(name, **eq) if eq else self.store.rows(name)
        except (KeyError, TypeError, ValueError):
            rows = self.store.rows(name)
        return [r for r in rows if query.matches(r) and self.visible(name, r, who)]


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


# ============================================================================================
# SATS-JSON (the HTTP routes)


def sats_json_to_plain(value: Any, spec: model.TypeSpec) -> Any:
    """A SATS-JSON argument to the plain JSON form `coerce_args` takes (Option as value or
    null, enums by name, Identity as hex)."""
    if spec.kind == "Option":
        assert spec.inner is not None
        if isinstance(value, dict) and len(value) == 1:
            (k, v), = value.items()
            if k == "none":
                return None
            if k == "some":
                return sats_json_to_plain(v, spec.inner)
        return None if value is None else sats_json_to_plain(value, spec.inner)
    if spec.kind == "Enum" and isinstance(value, dict) and len(value) == 1:
        return next(iter(value))
    if spec.kind == "Identity":
        if isinstance(value, dict) and "__identity__" in value:
            value = value["__identity__"]
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if isinstance(value, int):
            return f"{value:064x}"
        if isinstance(value, str):
            return value[2:] if value[:2].lower() == "0x" else value
    return value


def plain_to_sats_json(value: Any, spec: model.TypeSpec) -> Any:
    if spec.kind == "Option":
        assert spec.inner is not None
        return {"none": []} if value is None else {"some": plain_to_sats_json(value, spec.inner)}
    if spec.kind == "Enum":
        return {value.name: []}
    if spec.kind == "Identity":
        return {"__identity__": f"0x{value.hex}"}
    if spec.kind == "Timestamp":
        return {"__timestamp_micros_since_unix_epoch__": value}
    return value


def _schema_json(table: TableDef) -> dict[str, Any]:
    def ty(spec: model.TypeSpec) -> Any:
        if spec.kind == "Option":
            assert spec.inner is not None
            return {"Sum": {"variants": [
                {"name": {"some": "some"}, "algebraic_type": ty(spec.inner)},
                {"name": {"some": "none"}, "algebraic_type": {"Product": {"elements": []}}}]}}
        if spec.kind == "Enum":
            assert spec.enum is not None
            return {"Sum": {"variants": [
                {"name": {"some": v.name}, "algebraic_type": {"Product": {"elements": []}}}
                for v in spec.enum]}}
        if spec.kind == "Identity":
            return {"Product": {"elements": [
                {"name": {"some": "__identity__"}, "algebraic_type": {"U256": []}}]}}
        if spec.kind == "Timestamp":
            return {"Product": {"elements": [
                {"name": {"some": "__timestamp_micros_since_unix_epoch__"},
                 "algebraic_type": {"I64": []}}]}}
        return {{"bool": "Bool", "u8": "U8", "u16": "U16", "u32": "U32", "u64": "U64",
                 "i64": "I64", "String": "String"}[spec.kind]: []}

    return {"elements": [{"name": {"some": c.name}, "algebraic_type": ty(c.type)}
                         for c in table.columns]}


# ============================================================================================
# WebSocket sessions


@dataclass(eq=False)
class Session:
    server: TestServer
    identity: Identity
    connection_id: ConnectionId
    token: str
    protocol: ServerProtocol
    writer: asyncio.StreamWriter
    v3: bool
    gzip: bool
    query_sets: dict[int, list[Query]] = field(default_factory=dict)
    closed: bool = False

    def send(self, msgs: list[Any]) -> None:
        if self.closed or not msgs:
            return
        batches = [msgs] if self.v3 else [[msg] for msg in msgs]
        for batch in batches:
            frame = m.encode_server_frame(batch)
            if self.gzip and len(frame) > GZIP_THRESHOLD:
                frame = m.encode_server_frame(batch, m.Compression.GZIP)
            self.protocol.send_binary(frame)
        self.flush()

    def flush(self) -> None:
        for chunk in self.protocol.data_to_send():
            if chunk:
                self.writer.write(chunk)
            elif self.writer.can_write_eof():
                with contextlib.suppress(OSError):
                    self.writer.write_eof()

    def query_set_update(self, qs_id: int, changes: Changes) -> m.QuerySetUpdate | None:
        db = self.server.db
        assert db is not None
        tables: list[m.TableUpdate] = []
        for query in self.query_sets.get(qs_id, []):
            name = query.table.name
            tc = changes.tables.get(name)
            if tc is None:
                continue
            me = self.identity
            ins = [r for r in tc.inserts if query.matches(r) and db.visible(name, r, me)]
            dels = [r for r in tc.deletes if query.matches(r) and db.visible(name, r, me)]
            if ins or dels:
                tables.append(m.TableUpdate(name, [m.PersistentTableRows(
                    m.make_row_list(name, ins), m.make_row_list(name, dels))]))
        return m.QuerySetUpdate(qs_id, tables) if tables else None

    def transaction_update(self, changes: Changes) -> m.TransactionUpdate:
        sets = [u for qs in sorted(self.query_sets)
                if (u := self.query_set_update(qs, changes)) is not None]
        return m.TransactionUpdate(sets)


class TestServer:
    """The server: `await start()` (port 0 picks a free one: see `port`, `url`),
    `await stop()`. State lives in `data_dir`; a new TestServer on it carries on."""

    __test__ = False  # not a pytest test class

    def __init__(self, data_dir: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.data_dir = data_dir
        self.host = host
        self.port = port
        data_dir.mkdir(parents=True, exist_ok=True)
        secret_file = data_dir / "secret.key"
        if not secret_file.exists():
            _write_private(secret_file, secrets.token_hex(32))
        self.authority = TokenAuthority(bytes.fromhex(secret_file.read_text().strip()))
        self.db: Database | None = None
        self.sessions: set[Session] = set()
        self._server: asyncio.Server | None = None
        self._conn_tasks: set[asyncio.Task[None]] = set()
        self.reducer_calls = 0
        self.calls_by_reducer: collections.Counter[str] = collections.Counter()  # committed
        # Fault injection (tests): drop the caller's socket right after this many committed
        # WebSocket reducer calls, before their ReducerResult is sent (a crash after commit).
        self.drop_after_commit = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        self.db = Database(self.data_dir, self.authority)
        self._server = await asyncio.start_server(self._on_connection, self.host, self.port)
        sock = self._server.sockets[0]
        self.port = sock.getsockname()[1]
        log.info("stdb test server on %s (database %r, data %s)", self.url, DATABASE,
                 self.data_dir)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for s in list(self.sessions):
            s.protocol.send_close(1001, "server shutting down")
            s.flush()
            s.writer.close()
        for task in list(self._conn_tasks):
            task.cancel()
        if self._conn_tasks:
            await asyncio.gather(*self._conn_tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        if self.db is not None:
            self.db.close()
            self.db = None

    # -- commits and broadcast ---------------------------------------------------------------

    def _commit(self, caller: Identity, reducer: str, args: tuple[Any, ...],
                caller_session: Session | None = None, *, host: bool = False) -> Changes:
        assert self.db is not None
        changes = self.db.call(caller, reducer, args, host=host)
        self.reducer_calls += 1
        self.calls_by_reducer[reducer] += 1
        self._broadcast(changes, exclude=caller_session)
        self.db.forget_deleted(changes)
        return changes

    def _broadcast(self, changes: Changes, exclude: Session | None) -> None:
        if changes.is_empty():
            return
        for s in list(self.sessions):
            if s is exclude or s.closed:
                continue
            update = s.transaction_update(changes)
            if update.query_sets:
                s.send([update])

    # -- HTTP --------------------------------------------------------------------------------

    async def _on_connection(self, reader: asyncio.StreamReader,
                             writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conn_tasks.add(task)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _version = ([*lines[0].split(" "), "", ""])[:3]
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, _, v = line.partition(":")
                        headers[k.strip().lower()] = v.strip()
                if headers.get("upgrade", "").lower() == "websocket":
                    await self._websocket(head, target, headers, reader, writer)
                    return
                length = int(headers.get("content-length", "0") or "0")
                body = await reader.readexactly(length) if length else b""
                status, ctype, payload, extra = await self._route(method, target, headers, body)
                keep = headers.get("connection", "").lower() != "close"
                reason = {200: "OK", 204: "No Content", 400: "Bad Request",
                          401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
                          530: "Reducer Error"}.get(status, "Status")
                out = [f"HTTP/1.1 {status} {reason}", f"Content-Length: {len(payload)}",
                       f"Connection: {'keep-alive' if keep else 'close'}"]
                if payload:
                    out.append(f"Content-Type: {ctype}")
                out += [f"{k}: {v}" for k, v in extra.items()]
                writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + payload)
                await writer.drain()
                if not keep:
                    return
        except (ConnectionError, asyncio.CancelledError):
            pass
        except Exception:
            log.exception("connection failed")
        finally:
            self._conn_tasks.discard(task)
            writer.close()

    def _auth(self, headers: dict[str, str], query: dict[str, list[str]]
              ) -> tuple[Identity, str, bool] | str:
        """(identity, token, minted) or an error text for 401."""
        token: str | None = None
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            token = auth[7:].strip()
        elif "token" in query:
            token = query["token"][0]
        if not token:
            identity, token = self.authority.mint()
            return identity, token, True
        try:
            identity, _ = self.authority.verify(token)
        except ValueError as e:
            return str(e)
        return identity, token, False

    async def _route(self, method: str, target: str, headers: dict[str, str], body: bytes
                     ) -> tuple[int, str, bytes, dict[str, str]]:
        parts = urlsplit(target)
        path = unquote(parts.path).rstrip("/")
        query = parse_qs(parts.query)
        text = "text/plain; charset=utf-8"
        jtype = "application/json"
        if path == "/v1/ping":
            return 200, text, b"", {}
        if path == "/v1/identity" and method == "POST":
            identity, token = self.authority.mint()
            return 200, jtype, json.dumps({"identity": identity.hex, "token": token}).encode(), {}
        if path == "/v1/identity/websocket-token" and method == "POST":
            auth = self._auth(headers, query)
            if isinstance(auth, str) or auth[2]:
                return 401, text, (auth if isinstance(auth, str)
                                   else "Authorization required").encode(), {}
            _, sub = self.authority.verify(auth[1])
            _, short = self.authority.mint(sub, expiry_s=60)
            return 200, jtype, json.dumps({"token": short}).encode(), {}
        mt = re.fullmatch(r"/v1/database/([^/]+)(/.*)?", path)
        if mt is None:
            return 404, text, b"Not Found", {}
        if mt.group(1) != DATABASE:
            return 404, text, b"No such database.", {}
        rest = mt.group(2) or ""
        auth = self._auth(headers, query)
        if isinstance(auth, str):
            return 401, text, auth.encode(), {}
        identity, token, minted = auth
        extra = {"spacetime-identity": identity.hex}
        if minted:
            extra["spacetime-identity-token"] = token
        if rest.startswith("/call/") and method == "POST":
            if headers.get("content-type", "").split(";")[0].strip() != "application/json":
                return 400, text, b"Expected Content-Type: application/json", extra
            status, payload = self._http_call(identity, rest[len("/call/"):], body)
            return status, text, payload, extra
        if rest == "/sql" and method == "POST":
            with self._http_connection(identity) as refused:
                if refused is not None:
                    return 403, text, refused.encode(), extra
                status, ctype, payload = self._http_sql(identity,
                                                        body.decode("utf-8", "replace"))
            return status, ctype, payload, extra
        if rest == "" and method == "GET":
            return 200, jtype, json.dumps({"database_name": DATABASE}).encode(), extra
        return 404, text, b"Not Found", extra

    def _http_call(self, identity: Identity, reducer: str, body: bytes) -> tuple[int, bytes]:
        rdef = model.REDUCER_BY_NAME.get(reducer)
        if rdef is None:
            return 404, b"No such procedure"  # the real server's words, for a reducer too
        if rdef.lifecycle:
            return 400, errors.lifecycle_reducer(reducer).encode()
        try:
            raw = json.loads(body or b"[]")
            if isinstance(raw, dict):
                raw = [raw.get(p) for p in rdef.param_names]
            if not isinstance(raw, list):
                raise ValueError("arguments must be a JSON array")
            plain = [sats_json_to_plain(v, model.parse_type(t))
                     for v, (_, t) in zip(raw, rdef.params, strict=False)] + raw[len(rdef.params):]
            args = tuple(coerce_args(reducer, plain))
        except (ValueError, ReducerError) as e:
            msg = e.message if isinstance(e, ReducerError) else str(e)
            return 400, f"invalid arguments for reducer {reducer}: {msg}".encode()
        with self._http_connection(identity) as refused:
            if refused is not None:
                return 403, refused.encode()
            try:
                self._commit(identity, reducer, args)
                return 200, b""
            except ReducerError as e:
                return 530, e.message.encode()

    @contextlib.contextmanager
    def _http_connection(self, identity: Identity) -> Iterator[str | None]:
        """An HTTP request's connection, as SpacetimeDB's `with_connection` runs it around
        /call and (since 2.2.0) /sql: client_connected first (its refusal, yielded, is the
        request's 403, and nothing else runs), then the request, then client_disconnected
        whatever the request did."""
        try:
            self._commit(identity, "client_connected", (), host=True)
        except ReducerError as e:
            yield e.message
            return
        try:
            yield None
        finally:
            self._commit(identity, "client_disconnected", (), host=True)

    def _http_sql(self, identity: Identity, sql: str) -> tuple[int, str, bytes]:
        assert self.db is not None
        results = []
        for stmt in filter(None, (s.strip() for s in sql.split(";"))):
            t0 = time.perf_counter()
            try:
                query = parse_query(stmt)
            except QueryParseError as e:
                return 400, "text/plain; charset=utf-8", str(e).encode()
            rows = self.db.evaluate(query, identity)
            cols = [c.type for c in query.table.columns]
            results.append({
                "schema": _schema_json(query.table),
                "rows": [[plain_to_sats_json(v, spec)
                          for v, spec in zip(query.table.values_of(r), cols, strict=True)]
                         for r in rows],
                "total_duration_micros": int((time.perf_counter() - t0) * 1e6),
                "stats": {"rows_inserted": 0, "rows_deleted": 0, "rows_updated": 0},
            })
        return 200, "application/json", json.dumps(results, separators=(",", ":")).encode()

    # -- WebSocket ---------------------------------------------------------------------------

    async def _websocket(self, head: bytes, target: str, headers: dict[str, str],
                         reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        proto = ServerProtocol(subprotocols=[V3, V2], max_size=0x2000000)
        proto.receive_data(head)
        events = proto.events_received()
        if not events or not isinstance(events[0], Request):
            return
        request = events[0]
        parts = urlsplit(target)
        query = parse_qs(parts.query)
        mt = re.fullmatch(r"/v1/database/([^/]+)/subscribe/?", unquote(parts.path))

        def reject(status: int, text: str) -> None:
            proto.send_response(proto.reject(status, text))
            writer.write(b"".join(proto.data_to_send()))

        if mt is None:
            return reject(404, "Not Found")
        if mt.group(1) != DATABASE:
            return reject(404, "No such database.")
        auth = self._auth(headers, query)
        if isinstance(auth, str):
            return reject(401, auth)
        identity, token, _ = auth
        response = proto.accept(request)
        if response.status_code != 101:
            proto.send_response(response)
            writer.write(b"".join(proto.data_to_send()))
            return
        chosen = response.headers.get("Sec-WebSocket-Protocol")
        if chosen not in (V2, V3):
            proto.send_response(proto.reject(400, "no valid protocol selected"))
            writer.write(b"".join(proto.data_to_send()))
            return
        comp = (query.get("compression") or ["Gzip"])[0].lower()
        conn_hex = (query.get("connection_id") or [""])[0]
        try:
            conn_id = ConnectionId.from_hex(conn_hex) if conn_hex else \
                ConnectionId(int.from_bytes(secrets.token_bytes(16), "little") or 1)
        except ValueError:
            return reject(400, "Invalid connection ID")
        # client_connected runs before the upgrade completes; a refusal rejects the client.
        try:
            self._commit(identity, "client_connected", (), host=True)
        except ReducerError as e:
            return reject(403, e.message)
        proto.send_response(response)
        session = Session(self, identity, conn_id, token, proto, writer,
                          v3=chosen == V3, gzip=comp == "gzip")
        session.flush()
        self.sessions.add(session)
        session.send([m.InitialConnection(identity, conn_id, token)])
        try:
            await self._session_loop(session, reader)
        finally:
            session.closed = True
            self.sessions.discard(session)
            if self.db is not None:
                try:
                    self._commit(identity, "client_disconnected", (), host=True)
                except Exception:
                    log.exception("client_disconnected failed")

    async def _session_loop(self, session: Session, reader: asyncio.StreamReader) -> None:
        proto = session.protocol
        fragments: list[bytes] = []
        while proto.state is not State.CLOSED:
            data = await reader.read(1 << 16)
            if data:
                proto.receive_data(data)
            else:
                proto.receive_eof()
            for ev in proto.events_received():
                if not isinstance(ev, Frame):
                    continue
                if ev.opcode in (Opcode.BINARY, Opcode.CONT):
                    fragments.append(bytes(ev.data))
                    if ev.fin:
                        payload, fragments = b"".join(fragments), []
                        self._on_client_frame(session, payload)
                elif ev.opcode == Opcode.TEXT:
                    proto.send_close(1003, "text messages are not supported")
            session.flush()
            if not data:
                break

    def _on_client_frame(self, session: Session, payload: bytes) -> None:
        try:
            msgs = (m.decode_client_frame(payload) if session.v3
                    else [m.decode_client_message(payload)])
        except BsatnError as e:
            log.warning("bad client frame: %s", e)
            session.protocol.send_close(1008, f"bad message: {e}"[:120])
            session.flush()
            return
        for msg in msgs:
            try:
                self._handle(session, msg)
            except Exception:
                log.exception("handling %s failed", type(msg).__name__)

    def _handle(self, session: Session, msg: Any) -> None:
        db = self.db
        assert db is not None
        if isinstance(msg, m.Subscribe):
            if msg.query_set_id in session.query_sets:
                session.send([m.SubscriptionError(msg.request_id, msg.query_set_id,
                                                  "query set id already in use")])
                return
            queries = []
            for sql in msg.query_strings:
                try:
                    queries.append(parse_query(sql))
                except QueryParseError as e:  # the real server names the query it refused
                    session.send([m.SubscriptionError(msg.request_id, msg.query_set_id,
                                                      f"{e}, executing: `{sql}`")])
                    return
            tables: dict[str, dict[Any, Any]] = {}
            for q in queries:
                pk = q.table.primary_key
                bucket = tables.setdefault(q.table.name, {})
                for r in db.evaluate(q, session.identity):
                    bucket[getattr(r, pk)] = r
            session.query_sets[msg.query_set_id] = queries
            session.send([m.SubscribeApplied(msg.request_id, msg.query_set_id, m.QueryRows(
                [m.SingleTableRows(name, m.make_row_list(name, list(rows.values())))
                 for name, rows in tables.items()]))])
        elif isinstance(msg, m.Unsubscribe):
            dropped = session.query_sets.pop(msg.query_set_id, None)
            if dropped is None:
                session.send([m.SubscriptionError(msg.request_id, msg.query_set_id,
                                                  "no such query set")])
                return
            rows: m.QueryRows | None = None
            if msg.flags == m.UnsubscribeFlags.SendDroppedRows:
                rows = m.QueryRows([m.SingleTableRows(q.table.name, m.make_row_list(
                    q.table.name, db.evaluate(q, session.identity))) for q in dropped])
            session.send([m.UnsubscribeApplied(msg.request_id, msg.query_set_id, rows)])
        elif isinstance(msg, m.OneOffQuery):
            try:
                q = parse_query(msg.query_string)
            except QueryParseError as e:
                session.send([m.OneOffQueryResult(msg.request_id, str(e))])
                return
            session.send([m.OneOffQueryResult(msg.request_id, m.QueryRows([m.SingleTableRows(
                q.table.name, m.make_row_list(q.table.name, db.evaluate(q, session.identity)))]))])
        elif isinstance(msg, m.CallReducer):
            self._ws_call(session, msg)
        elif isinstance(msg, m.CallProcedure):
            session.send([m.ProcedureResult(
                m.ProcedureInternalError(f"no such procedure `{msg.procedure}`"),
                model.now_micros(), 0, msg.request_id)])

    def _ws_call(self, session: Session, msg: m.CallReducer) -> None:
        ts = model.now_micros()
        rdef = model.REDUCER_BY_NAME.get(msg.reducer)
        outcome: Any
        if rdef is None:
            outcome = m.ReducerInternalError("no such reducer")
        elif rdef.lifecycle:
            # SpacetimeDB's host refuses it before the module runs, in these words.
            outcome = m.ReducerInternalError(errors.lifecycle_reducer(msg.reducer))
        else:
            try:
                args = bsatn.decode_args(msg.reducer, msg.args)
            except BsatnError as e:
                outcome = m.ReducerInternalError(
                    f"invalid arguments for reducer {msg.reducer}: {e}")
            else:
                try:
                    changes = self._commit(session.identity, msg.reducer, args,
                                           caller_session=session)
                except ReducerError as e:
                    outcome = m.ReducerErr.from_message(e.message)
                else:
                    outcome = m.ReducerOk(b"", session.transaction_update(changes))
                    if self.drop_after_commit > 0:
                        self.drop_after_commit -= 1
                        session.closed = True
                        session.writer.transport.abort()
                        return
        session.send([m.ReducerResult(msg.request_id, ts, outcome)])


# ============================================================================================
# Entry point


def _iter_signals() -> Iterable[signal.Signals]:
    return (signal.SIGINT, signal.SIGTERM)


async def _main(args: argparse.Namespace) -> None:
    server = TestServer(Path(args.data), args.host, args.port)
    await server.start()
    print(f"listening on {server.url} database {DATABASE}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in _iter_signals():
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="A SpacetimeDB 2.x test server (HTTP routes + v2/v3 WebSocket) over the "
                    "Spaces engine; database `spaces`.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000, help="0 picks a free port")
    parser.add_argument("--data", required=True, help="data directory (kept across restarts)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(_main(args))


if __name__ == "__main__":
    main()
