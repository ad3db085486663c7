"""A SQLite store of the 14 Spaces tables.

The schema is generated from `spacesd.model.TABLES`: one SQL table per model table, columns in
model order (a file made before a column was appended to a table gets it on open, with the
column's default: false, 0 or NULL). Storage of the column types:
- Identity: a 32-byte BLOB, big-endian (so byte order is numeric order, as the hex is);
- bool, integers, Timestamp: INTEGER; enums: INTEGER holding the BSATN tag;
- Option<T>: T or NULL.

Auto-increment ids behave like SpacetimeDB's: they start at 1 and are never reused (SQLite
AUTOINCREMENT). Inserting a row whose auto_inc id is 0 assigns the next id; any other id is
kept (used by `apply`, which mirrors rows from a SpacetimeDB server).

Files are opened in WAL mode with synchronous=FULL: a committed transaction survives a power
cut. ":memory:" gives a private in-memory database.

Mutations made while a `Changes` recorder is active (`recording()`) are recorded as
SpacetimeDB reports them: per table, inserted and deleted rows, an update being a delete of
the old row plus an insert of the new one, and a row inserted then deleted in the same
recording (or deleted then re-inserted unchanged) reported not at all.

This module is not thread-safe on its own: serialize access (the engine holds a lock).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import count as _counter
from typing import Any, Final, TypeVar

from spacesd import model
from spacesd.model import (
    Channel,
    DirectConversation,
    Identity,
    Message,
    Row,
    Server,
    ServerMember,
    TableDef,
    TypeSpec,
    UserPresence,
    UserProfile,
    WriteKey,
)

R = TypeVar("R")

_MAX_SQL_INT: Final = (1 << 63) - 1
META_TABLE: Final = "spaces_meta"

# Indexes beyond the primary keys: the model's btree/unique columns plus what reads and
# cascades need. (name, table, columns, unique, partial WHERE)
_INDEXES: Final[tuple[tuple[str, str, str, bool, str], ...]] = (
    ("user_profile_username", "user_profile", "username", True, ""),
    ("server_owner", "server", "owner", False, ""),
    ("server_member_server", "server_member", "server_id, identity", False, ""),
    ("server_member_identity", "server_member", "identity", False, ""),
    ("channel_server", "channel", "server_id, name", False, ""),
    ("thread_channel", "thread", "channel_id", False, ""),
    ("message_channel", "message", "channel_id, id", False, ""),
    ("message_thread", "message", "thread_id, id", False, "thread_id IS NOT NULL"),
    ("reaction_message", "reaction", "message_id, identity", False, ""),
    ("channel_read_state_identity", "channel_read_state", "identity, channel_id", False, ""),
    ("channel_read_state_channel", "channel_read_state", "channel_id", False, ""),
    ("direct_conversation_pair", "direct_conversation", "participant_a, participant_b", False,
     ""),
    ("direct_conversation_b", "direct_conversation", "participant_b", False, ""),
    ("direct_message_conversation", "direct_message", "conversation_id, id", False, ""),
    ("typing_indicator_channel", "typing_indicator", "channel_id, identity", False, ""),
    ("typing_indicator_identity", "typing_indicator", "identity", False, ""),
    ("system_notification_target", "system_notification", "target", False, ""),
    # tasks, path leases and votes (issue 13)
    ("task_channel", "task", "channel_id, state", False, ""),
    ("task_parent", "task", "parent_id", False, "parent_id IS NOT NULL"),
    ("task_claims", "task", "lease_expires", False, "state = 1"),
    ("task_assignee", "task", "assignee", False, "assignee IS NOT NULL"),
    ("path_lease_project", "path_lease", "project", False, ""),
    ("path_lease_holder", "path_lease", "holder", False, ""),
    ("path_lease_expiry", "path_lease", "expires_at", False, ""),
    ("vote_target", "vote", "target_id, voter", False, ""),
    ("write_key_created", "write_key", "created_at", False, ""),
)


# --------------------------------------------------------------------------------------------
# Changes


@dataclass
class TableChanges:
    """Rows inserted into and deleted from one table, each list in the order it happened."""

    inserts: list[Row] = field(default_factory=list)
    deletes: list[Row] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not self.inserts and not self.deletes


@dataclass
class Changes:
    """What one transaction did, per table (only tables it touched)."""

    tables: dict[str, TableChanges] = field(default_factory=dict)

    def table(self, name: str) -> TableChanges:
        return self.tables.get(name) or TableChanges()

    def inserted(self, table: str) -> list[Row]:
        return list(self.table(table).inserts)

    def deleted(self, table: str) -> list[Row]:
        return list(self.table(table).deletes)

    def is_empty(self) -> bool:
        return all(t.is_empty() for t in self.tables.values())

    def __iter__(self) -> Iterator[tuple[str, TableChanges]]:
        return iter(self.tables.items())


class _Recorder:
    """Accumulates the net effect of mutations, keyed by primary key."""

    def __init__(self) -> None:
        self._inserts: dict[str, dict[Any, Row]] = {}
        self._deletes: dict[str, dict[Any, Row]] = {}

    def inserted(self, table: TableDef, row: Row) -> None:
        key = getattr(row, table.primary_key)
        deletes = self._deletes.get(table.name)
        if deletes is not None and key in deletes and deletes[key] == row:
            del deletes[key]  # deleted then re-inserted unchanged: no change at all
            return
        self._inserts.setdefault(table.name, {})[key] = row

    def deleted(self, table: TableDef, row: Row) -> None:
        key = getattr(row, table.primary_key)
        inserts = self._inserts.get(table.name)
        if inserts is not None and key in inserts:
            del inserts[key]  # inserted in this transaction: it never existed outside it
            return
        self._deletes.setdefault(table.name, {})[key] = row

    def changes(self) -> Changes:
        result = Changes()
        for table in model.TABLES:
            inserts = list(self._inserts.get(table.name, {}).values())
            deletes = list(self._deletes.get(table.name, {}).values())
            if inserts or deletes:
                result.tables[table.name] = TableChanges(inserts, deletes)
        return result


# --------------------------------------------------------------------------------------------
# Column conversion


def _sql_type(spec: TypeSpec) -> str:
    if spec.kind == "Option":
        assert spec.inner is not None
        return _sql_type(spec.inner)
    if spec.kind == "Identity":
        return "BLOB"
    if spec.kind == "String":
        return "TEXT"
    return "INTEGER"


def identity_to_db(identity: Identity) -> bytes:
    return identity.value.to_bytes(32, "big")


def identity_from_db(data: bytes) -> Identity:
    return Identity(int.from_bytes(data, "big"))


_Conv = Callable[[Any], Any]


def _optional(inner: _Conv) -> _Conv:
    def convert(value: Any) -> Any:
        return None if value is None else inner(value)
    return convert


def _to_db(spec: TypeSpec) -> _Conv | None:
    kind = spec.kind
    if kind == "Option":
        assert spec.inner is not None
        inner = _to_db(spec.inner)
        if inner is None:
            return None
        return _optional(inner)
    if kind == "Identity":
        return identity_to_db
    if kind == "Enum":
        return int
    return None


def _from_db(spec: TypeSpec) -> _Conv | None:
    kind = spec.kind
    if kind == "Option":
        assert spec.inner is not None
        inner = _from_db(spec.inner)
        if inner is None:
            return None
        return _optional(inner)
    if kind == "Identity":
        return identity_from_db
    if kind == "bool":
        return bool
    if kind == "Enum":
        assert spec.enum is not None
        return spec.enum
    return None


class _TableCodec:
    def __init__(self, table: TableDef) -> None:
        self.table = table
        self.name = table.name
        self.columns = table.column_names
        specs = [c.type for c in table.columns]
        self.pk_index = self.columns.index(table.primary_key)
        self.pk_spec = specs[self.pk_index]
        self.to_db = [_to_db(s) for s in specs]
        self.from_db = [_from_db(s) for s in specs]
        self.pk_to_db = self.to_db[self.pk_index]
        self.column_specs = dict(zip(self.columns, specs, strict=True))
        self.column_to_db = dict(zip(self.columns, self.to_db, strict=True))
        cols = ", ".join(self.columns)
        marks = ", ".join("?" for _ in self.columns)
        self.select = f"SELECT {cols} FROM {self.name}"
        self.insert_sql = f"INSERT INTO {self.name} ({cols}) VALUES ({marks})"
        self.replace_sql = f"INSERT OR REPLACE INTO {self.name} ({cols}) VALUES ({marks})"
        self.auto_inc = table.auto_inc
        if self.auto_inc:
            rest = self.columns[1:]
            self.insert_auto_sql = (
                f"INSERT INTO {self.name} ({', '.join(rest)}) "
                f"VALUES ({', '.join('?' for _ in rest)})")

    def ddl(self) -> str:
        parts = []
        for column in self.table.columns:
            spec = column.type
            sql = f"{column.name} {_sql_type(spec)}"
            if column.name == self.table.primary_key:
                sql += " PRIMARY KEY"
                if self.auto_inc:
                    sql += " AUTOINCREMENT"
            elif spec.kind != "Option":
                sql += " NOT NULL"
            parts.append(sql)
        return f"CREATE TABLE IF NOT EXISTS {self.name} ({', '.join(parts)})"

    def added_columns(self, existing: Sequence[str]) -> list[str]:
        """ALTER TABLE statements for the model's columns a table made by an older version
        lacks (columns are only ever appended, with a default: false/0, or NULL)."""
        out = []
        for column in self.table.columns[len(existing):]:
            spec = column.type
            default = "NULL" if spec.kind == "Option" else "0"
            not_null = "" if spec.kind == "Option" else " NOT NULL"
            if spec.kind in ("String", "Identity"):
                raise AssertionError(f"{self.name}.{column.name}: no default to add it with")
            out.append(f"ALTER TABLE {self.name} ADD COLUMN {column.name} "
                       f"{_sql_type(spec)}{not_null} DEFAULT {default}")
        return out

    def values(self, row: Row) -> list[Any]:
        out = []
        for name, conv in zip(self.columns, self.to_db, strict=True):
            value = getattr(row, name)
            out.append(conv(value) if conv is not None and value is not None else value)
        return out

    def row(self, raw: Sequence[Any]) -> Row:
        return self.table.row_type(*[
            conv(v) if conv is not None and v is not None else v
            for conv, v in zip(self.from_db, raw, strict=True)])

    def key(self, value: Any) -> Any:
        return self.pk_to_db(value) if self.pk_to_db is not None else value

    def column_value(self, column: str, value: Any) -> Any:
        conv = self.column_to_db[column]
        return conv(value) if conv is not None and value is not None else value


_CODECS: Final[dict[str, _TableCodec]] = {t.name: _TableCodec(t) for t in model.TABLES}
_SAVEPOINTS = _counter(1)


def _codec(table: str) -> _TableCodec:
    try:
        return _CODECS[table]
    except KeyError:
        raise KeyError(f"no such table: {table}") from None


def _codec_of(row: Row) -> _TableCodec:
    table = model.TABLE_BY_ROW.get(type(row))
    if table is None:
        raise TypeError(f"not a row of a Spaces table: {row!r}")
    return _CODECS[table.name]


def _int_key_ok(value: Any) -> bool:
    return not isinstance(value, int) or 0 <= value <= _MAX_SQL_INT


# --------------------------------------------------------------------------------------------
# The store


class Store:
    """The tables of the model in one SQLite database (a file path, or ":memory:")."""
    """The 14 tables in one SQLite database (a file path, or ":memory:")."""

    def __init__(self, path: str | os.PathLike[str] = ":memory:") -> None:
        self.path = os.fspath(path)
        self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._recorder: _Recorder | None = None
        self._depth = 0
        self.conn.execute("PRAGMA foreign_keys = OFF")
        if self.path != ":memory:":
            self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = FULL")
        self.conn.execute("PRAGMA busy_timeout = 5000")
        with self.transaction():
            for codec in _CODECS.values():
                self.conn.execute(codec.ddl())
                existing = [r[1] for r in self.conn.execute(f"PRAGMA table_info({codec.name})")]
                for statement in codec.added_columns(existing):
                    self.conn.execute(statement)
            for name, table, columns, unique, where in _INDEXES:
                self.conn.execute(
                    f"CREATE {'UNIQUE ' if unique else ''}INDEX IF NOT EXISTS {name} "
                    f"ON {table} ({columns}){' WHERE ' + where if where else ''}")
            self.conn.execute(
                f"CREATE TABLE IF NOT EXISTS {META_TABLE} (key TEXT PRIMARY KEY, value TEXT)")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- transactions

    @property
    def in_transaction(self) -> bool:
        return self.conn.in_transaction

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT; ROLLBACK if the block raises. Nests as savepoints."""
        if self.conn.in_transaction:
            with self.savepoint():
                yield
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A SAVEPOINT inside the current transaction, rolled back alone if the block raises."""
        name = f"sp{next(_SAVEPOINTS)}"
        self.conn.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            self.conn.execute(f"ROLLBACK TO {name}")
            self.conn.execute(f"RELEASE {name}")
            raise
        self.conn.execute(f"RELEASE {name}")

    @contextmanager
    def recording(self) -> Iterator[Callable[[], Changes]]:
        """Record mutations made in the block; call the yielded function for the Changes."""
        outer = self._recorder
        recorder = _Recorder()
        self._recorder = recorder
        try:
            yield recorder.changes
        finally:
            self._recorder = outer

    # ---------------------------------------------------------------- meta (engine state)

    def meta_get(self, key: str) -> str | None:
        cur = self.conn.execute(f"SELECT value FROM {META_TABLE} WHERE key = ?", (key,))
        found = cur.fetchone()
        return None if found is None else str(found[0])

    def meta_set(self, key: str, value: str) -> None:
        self.conn.execute(
            f"INSERT OR REPLACE INTO {META_TABLE} (key, value) VALUES (?, ?)", (key, value))

    # ---------------------------------------------------------------- writes

    def insert(self, row: R) -> R:
        """Insert a row; an auto_inc id of 0 is replaced by the next id. Returns the row stored."""
        codec = _codec_of(row)
        values = codec.values(row)
        if codec.auto_inc and values[0] == 0:
            cur = self.conn.execute(codec.insert_auto_sql, values[1:])
            new_id = cur.lastrowid
            assert new_id is not None
            row = codec.table.row_type(new_id, *[getattr(row, c) for c in codec.columns[1:]])
        else:
            self.conn.execute(codec.insert_sql, values)
        if self._recorder is not None:
            self._recorder.inserted(codec.table, row)
        return row

    def delete(self, table: str, key: Any) -> Row | None:
        """Delete the row with this primary key; returns it, or None if there was none."""
        row = self.get(table, key)
        if row is not None:
            self.delete_row(row)
        return row

    def delete_row(self, row: Row) -> None:
        codec = _codec_of(row)
        key = getattr(row, codec.table.primary_key)
        self.conn.execute(f"DELETE FROM {codec.name} WHERE {codec.table.primary_key} = ?",
                          (codec.key(key),))
        if self._recorder is not None:
            self._recorder.deleted(codec.table, row)

    def delete_where(self, table: str, **where: Any) -> list[Row]:
        """Delete every row matching all `column=value` conditions; returns them."""
        rows = self.select(table, **where)
        for row in rows:
            self.delete_row(row)
        return rows

    def update(self, row: R) -> R:
        """Replace the row with the same primary key; returns the old row (KeyError if none)."""
        codec = _codec_of(row)
        key = getattr(row, codec.table.primary_key)
        old = self.get(codec.name, key)
        if old is None:
            raise KeyError(f"{codec.name}: no row with {codec.table.primary_key} = {key!r}")
        if old == row:
            return old  # type: ignore[no-any-return]
        values = codec.values(row)
        assignments = ", ".join(f"{c} = ?" for c in codec.columns)
        self.conn.execute(
            f"UPDATE {codec.name} SET {assignments} WHERE {codec.table.primary_key} = ?",
            [*values, codec.key(key)])
        if self._recorder is not None:
            self._recorder.deleted(codec.table, old)
            self._recorder.inserted(codec.table, row)
        return old  # type: ignore[no-any-return]

    def apply(self, changes: Changes | Mapping[str, TableChanges]) -> None:
        """Apply rows received from elsewhere (a SpacetimeDB TransactionUpdate).

        In one transaction: every table's deletes (by primary key), then every table's inserts
        (replacing any row with the same primary key, so applying twice is harmless).
        """
        tables = changes.tables if isinstance(changes, Changes) else changes
        with self.transaction():
            for name, table_changes in tables.items():
                codec = _codec(name)
                pk = codec.table.primary_key
                self.conn.executemany(
                    f"DELETE FROM {name} WHERE {pk} = ?",
                    [(codec.key(getattr(r, pk)),) for r in table_changes.deletes])
            for name, table_changes in tables.items():
                codec = _codec(name)
                self.conn.executemany(
                    codec.replace_sql, [codec.values(r) for r in table_changes.inserts])

    def clear(self, tables: Iterable[str] | None = None) -> None:
        """Delete every row of these tables (all 14 by default); ids are not reused after."""
        with self.transaction():
            for name in tables if tables is not None else _CODECS:
                self.conn.execute(f"DELETE FROM {_codec(name).name}")

    # ---------------------------------------------------------------- generic reads

    def get(self, table: str, key: Any) -> Row | None:
        """The row with this primary key, or None."""
        codec = _codec(table)
        if not _int_key_ok(key):
            return None
        cur = self.conn.execute(
            f"{codec.select} WHERE {codec.table.primary_key} = ?", (codec.key(key),))
        found = cur.fetchone()
        return None if found is None else codec.row(found)

    def select(self, table: str, *, order_by: str | None = None, limit: int | None = None,
               **where: Any) -> list[Row]:
        """Rows matching every `column=value` condition (None matches NULL), by `order_by`
        (a column name, `-column` for descending; primary key by default)."""
        codec = _codec(table)
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in where.items():
            if column not in codec.column_specs:
                raise KeyError(f"{table} has no column {column!r}")
            if value is None:
                clauses.append(f"{column} IS NULL")
            else:
                if not _int_key_ok(value):
                    return []
                clauses.append(f"{column} = ?")
                params.append(codec.column_value(column, value))
        sql = codec.select
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        order = order_by or codec.table.primary_key
        descending = order.startswith("-")
        order = order.lstrip("-")
        if order not in codec.column_specs:
            raise KeyError(f"{table} has no column {order!r}")
        sql += f" ORDER BY {order}{' DESC' if descending else ''}"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [codec.row(r) for r in self.conn.execute(sql, params)]

    def select_one(self, table: str, **where: Any) -> Row | None:
        found = self.select(table, limit=1, **where)
        return found[0] if found else None

    def rows(self, table: str) -> list[Row]:
        """Every row of a table, by primary key."""
        return self.select(table)

    def rows_where(self, table: str, column: str, value: Any) -> list[Row]:
        return self.select(table, **{column: value})

    def task_listing(self, now: int | None, *, states: Iterable[int] | None = None,
                     channel_id: int | None = None, parent_id: int | None = None,
                     limit: int = 200, channel_ids: Iterable[int] | None = None
                     ) -> list[tuple[Any, ...]]:
        """Task rows as raw column tuples (model order; identities as 32 big-endian bytes),
        by id, with the expiry rule applied at `now` when given: a claim that has ended reads
        as Open with no assignee, claimed_at nor lease_expires (what `sweep` would write)."""
        cols = list(_codec("task").columns)
        state_at = cols.index("state")
        if now is not None:
            expired = "(state = 1 AND lease_expires <= :now)"
            cols[cols.index("state")] = f"CASE WHEN {expired} THEN 0 ELSE state END"
            for name in ("assignee", "claimed_at", "lease_expires"):
                cols[cols.index(name)] = f"CASE WHEN {expired} THEN NULL ELSE {name} END"
        clauses: list[str] = []
        params: dict[str, Any] = {"now": now, "limit": limit}
        if states is not None:
            wanted = ", ".join(str(int(x)) for x in states) or "NULL"
            clauses.append(f"({cols[state_at]}) IN ({wanted})")
        if channel_ids is not None:
            listed = ", ".join(str(int(c)) for c in channel_ids) or "NULL"
            clauses.append(f"channel_id IN ({listed})")
        for name, value in (("channel_id", channel_id), ("parent_id", parent_id)):
            if value is not None:
                if not _int_key_ok(value):
                    return []
                clauses.append(f"{name} = :{name}")
                params[name] = value
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"SELECT {', '.join(cols)} FROM task{where} ORDER BY id LIMIT :limit"
        return self.conn.execute(sql, params).fetchall()

    def next_expiry(self) -> int | None:
        """The earliest end of a claim or a lease (microseconds), None when there is none."""
        found = self.conn.execute(
            "SELECT min(t) FROM (SELECT min(lease_expires) AS t FROM task WHERE state = 1 "
            "UNION ALL SELECT min(expires_at) FROM path_lease)").fetchone()
        return None if found is None or found[0] is None else int(found[0])

    def expired_claims(self, now: int) -> list[Row]:
        """Claimed tasks whose claim ended at or before `now` (microseconds)."""
        codec = _codec("task")
        sql = f"{codec.select} WHERE state = 1 AND lease_expires <= ? ORDER BY id"
        return [codec.row(r) for r in self.conn.execute(sql, (now,))]

    def expired_leases(self, now: int) -> list[Row]:
        """Path leases that ended at or before `now` (microseconds)."""
        codec = _codec("path_lease")
        sql = f"{codec.select} WHERE expires_at <= ? ORDER BY id"
        return [codec.row(r) for r in self.conn.execute(sql, (now,))]

    def count(self, table: str) -> int:
        codec = _codec(table)
        found = self.conn.execute(f"SELECT count(*) FROM {codec.name}").fetchone()
        return int(found[0])

    def counts(self) -> dict[str, int]:
        """Row count of every table, in model order."""
        return {t.name: self.count(t.name) for t in model.TABLES}

    # ---------------------------------------------------------------- reads the daemon needs

    def recent_messages(self, channel_id: int, limit: int, before_id: int | None = None,
                        thread_id: int | None = None) -> list[Message]:
        """The last `limit` messages of a channel (of one thread if `thread_id` is given; all
        of the channel, threads included, if not), older than `before_id` if given;
        oldest first. Uses message(channel_id, id) / message(thread_id, id): O(log n + limit).
        """
        if limit <= 0 or not _int_key_ok(channel_id):
            return []
        codec = _CODECS["message"]
        if thread_id is not None:
            if not _int_key_ok(thread_id):
                return []
            sql = f"{codec.select} WHERE thread_id = ? AND channel_id = ?"
            params: list[Any] = [thread_id, channel_id]
        else:
            sql = f"{codec.select} WHERE channel_id = ?"
            params = [channel_id]
        if before_id is not None:
            sql += " AND id < ?"
            params.append(min(before_id, _MAX_SQL_INT))
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(limit)
        found = [codec.row(r) for r in self.conn.execute(sql, params)]
        found.reverse()
        return found

    def messages_after(self, after_id: int, limit: int | None = None) -> list[Message]:
        """Messages with id > after_id (any channel), oldest first."""
        codec = _CODECS["message"]
        sql = f"{codec.select} WHERE id > ? ORDER BY id"
        params: list[Any] = [min(after_id, _MAX_SQL_INT)]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [codec.row(r) for r in self.conn.execute(sql, params)]

    def last_message_id(self) -> int:
        found = self.conn.execute("SELECT max(id) FROM message").fetchone()
        return int(found[0] or 0)

    def nth_newest_message_id(self, n: int) -> int:
        """The id of the n-th newest message (1: the newest); 0 when there are fewer than n.
        Counts rows, not ids: SpacetimeDB's ids are increasing but not dense."""
        found = self.conn.execute("SELECT id FROM message ORDER BY id DESC LIMIT 1 OFFSET ?",
                                  (max(0, n - 1),)).fetchone()
        return int(found[0]) if found else 0

    def server(self, server_id: int) -> Server | None:
        row: Server | None = self.get("server", server_id)
        return row

    def servers(self) -> list[Server]:
        return self.rows("server")

    def channel(self, channel_id: int) -> Channel | None:
        row: Channel | None = self.get("channel", channel_id)
        return row

    def channel_by_name(self, server_id: int, name: str) -> Channel | None:
        row: Channel | None = self.select_one("channel", server_id=server_id, name=name)
        return row

    def channels(self, server_id: int | None = None) -> list[Channel]:
        """Channels of one server (or all), by server, position, id."""
        codec = _CODECS["channel"]
        if server_id is None:
            cur = self.conn.execute(f"{codec.select} ORDER BY server_id, position, id")
        else:
            if not _int_key_ok(server_id):
                return []
            cur = self.conn.execute(
                f"{codec.select} WHERE server_id = ? ORDER BY position, id", (server_id,))
        return [codec.row(r) for r in cur]

    def message(self, message_id: int) -> Message | None:
        row: Message | None = self.get("message", message_id)
        return row

    def profile(self, identity: Identity) -> UserProfile | None:
        row: UserProfile | None = self.get("user_profile", identity)
        return row

    def profile_by_username(self, username: str) -> UserProfile | None:
        row: UserProfile | None = self.select_one("user_profile", username=username)
        return row

    def presence(self, identity: Identity) -> UserPresence | None:
        row: UserPresence | None = self.get("user_presence", identity)
        return row

    def member(self, server_id: int, identity: Identity) -> ServerMember | None:
        row: ServerMember | None = self.select_one(
            "server_member", server_id=server_id, identity=identity)
        return row

    def members(self, server_id: int) -> list[ServerMember]:
        return self.select("server_member", server_id=server_id)

    def memberships(self, identity: Identity) -> list[ServerMember]:
        return self.select("server_member", identity=identity)

    def servers_of(self, identity: Identity) -> list[Server]:
        """The servers an identity is a member of, by id."""
        codec = _CODECS["server"]
        cols = ", ".join(f"s.{c}" for c in codec.columns)
        cur = self.conn.execute(
            f"SELECT {cols} FROM server s JOIN server_member m ON m.server_id = s.id "
            "WHERE m.identity = ? ORDER BY s.id", (identity_to_db(identity),))
        return [codec.row(r) for r in cur]

    def conversation_between(self, a: Identity, b: Identity) -> DirectConversation | None:
        first, second = (a, b) if a <= b else (b, a)
        row: DirectConversation | None = self.select_one(
            "direct_conversation", participant_a=first, participant_b=second)
        return row

    def write_keys_before(self, cutoff: int, limit: int) -> list[WriteKey]:
        """At most `limit` write keys created before `cutoff`, oldest first (pruning)."""
        codec = _CODECS["write_key"]
        cur = self.conn.execute(
            f"{codec.select} WHERE created_at < ? ORDER BY created_at LIMIT ?", (cutoff, limit))
        return [codec.row(r) for r in cur]

    def write_key(self, scoped_key: str) -> WriteKey | None:
        """The write_key row of a scoped key (`model.write_key_of`)."""
        row: WriteKey | None = self.get("write_key", scoped_key)
        return row

    def conversations_of(self, identity: Identity) -> list[DirectConversation]:
        found = (self.select("direct_conversation", participant_a=identity)
                 + self.select("direct_conversation", participant_b=identity))
        found.sort(key=lambda c: c.id)
        return found
