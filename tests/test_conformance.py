"""Runs the conformance scenarios of tests/conformance/*.json against the embedded engine.

The format is described in tests/conformance/README.md. This file holds:
- the format's interpreter (values, generators, matchers, captures), independent of any
  backend: a `Backend` calls a reducer as a named identity and lists a table's rows as that
  identity may see them;
- `EngineBackend`, the engine behind that interface; `NetworkBackend`, a SpacetimeDB 2.x
  server (the test server, or a real one with module/ published) through spacesd's client;
- the tests: one per scenario, plus coverage tests (every reducer called, every refusal
  message of spacesd.engine.errors produced, every scenario error message a known one).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pytest
from real_stdb import RealServer

from spacesd import model
from spacesd.engine import Engine, ReducerError, coerce_args, errors, patterns
from spacesd.model import Identity, TableDef, TypeSpec
from spacesd.stdb import bsatn
from spacesd.stdb.connection import (
    Connection,
    ReducerHostError,
    ReducerRefused,
    StdbError,
)
from spacesd.stdb.http import HttpClient
from spacesd.store import Changes, Store, TableChanges

R = TypeVar("R")

SCENARIO_DIR = Path(__file__).parent / "conformance"
OWNER = "owner"
LIFECYCLE = frozenset({"client_connected", "client_disconnected"})
STEP_KEYS = frozenset({"as", "call", "args", "error", "changes", "capture", "note", "check",
                       "where", "rows", "count", "direct", "wait"})


class ScenarioError(AssertionError):
    """A scenario step did not produce what it says (or the scenario is malformed)."""


# --------------------------------------------------------------------------------------------
# Loading


@dataclass
class Scenario:
    file: str
    name: str
    description: str
    identities: list[str]
    steps: list[dict[str, Any]]

    @property
    def id(self) -> str:
        return f"{self.file}::{self.name}"


def load_scenarios(directory: Path = SCENARIO_DIR) -> list[Scenario]:
    out: list[Scenario] = []
    for path in sorted(directory.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        prelude = data.get("prelude", [])
        file_identities = data.get("identities", [])
        for entry in data["scenarios"]:
            identities = list(dict.fromkeys([OWNER, *file_identities,
                                             *entry.get("identities", [])]))
            out.append(Scenario(path.stem, entry["name"], entry.get("description", ""),
                                identities, [*prelude, *entry["steps"]]))
    return out


# --------------------------------------------------------------------------------------------
# Backends


class Backend(Protocol):
    def identity(self, name: str) -> Identity: ...

    def call(self, caller: str, reducer: str, json_args: list[Any]) -> Changes | str:
        """The changes of the transaction, or the refusal message."""

    def call_directly(self, caller: str, reducer: str) -> Changes | str:
        """A client's own request to run a lifecycle reducer (on its open connection): what
        the host answers."""

    def rows(self, table: str, viewer: str | None) -> list[Any]:
        """The table's rows, only those `viewer` may see if the table is private."""

    def counts(self, viewer: str) -> dict[str, int]:
        """How many rows of each table `viewer` sees."""

    def wait(self, millis: int) -> None:
        """Let `millis` pass before the next step (a clock, or real time on a server)."""


def _identity_for(name: str) -> Identity:
    return Identity(int.from_bytes(hashlib.sha256(f"spaces-conformance:{name}".encode())
                                   .digest(), "big"))


class EngineBackend:
    def __init__(self, identities: Sequence[str]) -> None:
        self._ids = {name: _identity_for(name) for name in identities}
        self.store = Store(":memory:")
        self.engine = Engine(self.store, self._ids[OWNER])
        self._clock = model.now_micros()
        self.engine.ensure_initialized()

    def identity(self, name: str) -> Identity:
        try:
            return self._ids[name]
        except KeyError:
            raise ScenarioError(f"unknown identity {name!r}") from None

    def wait(self, millis: int) -> None:
        self._clock += millis * 1000

    def call(self, caller: str, reducer: str, json_args: list[Any]) -> Changes | str:
        self._clock += 1000  # strictly increasing, 1 ms apart, as steps of a real client
        try:
            args = coerce_args(reducer, json_args)
            # client_connected / client_disconnected steps stand for a connection opening and
            # closing: the host runs them.
            return self.engine.call(self.identity(caller), reducer, args,
                                    timestamp=self._clock, host=reducer in LIFECYCLE)
        except ReducerError as refusal:
            return refusal.message

    def call_directly(self, caller: str, reducer: str) -> Changes | str:
        self._clock += 1000
        try:
            return self.engine.call(self.identity(caller), reducer, [], timestamp=self._clock)
        except ReducerError as refusal:
            return refusal.message

    def rows(self, table: str, viewer: str | None) -> list[Any]:
        found = self.store.rows(table)
        tdef = model.TABLE_BY_NAME[table]
        if tdef.public:
            return found
        if viewer is None:
            raise ScenarioError(f"{table} is private: a check of it needs \"as\"")
        me = self.identity(viewer)
        if table == "direct_message":
            mine = {c.id for c in self.store.conversations_of(me)}
            return [r for r in found if r.conversation_id in mine]
        return [r for r in found if any(getattr(r, col) == me for col in tdef.visible_to)]

    def counts(self, viewer: str) -> dict[str, int]:
        return {t.name: len(self.rows(t.name, viewer)) for t in model.TABLES}

    def close(self) -> None:
        self.store.close()


# --------------------------------------------------------------------------------------------
# Over the wire: a SpacetimeDB 2.x server (the real one with module/ published, or the test
# server), through spacesd's own client. Calls go over each identity's WebSocket. Reads are
# one-off queries on WebSockets that are open already: every HTTP request to a database, the
# SQL route's included (SpacetimeDB >= 2.2.0), runs client_connected and client_disconnected
# for its caller, so reading through it would change what it reads (the caller's presence
# offline, its typing rows gone, a profile and a hub membership on its first request).


def _token_identity(token: str) -> Identity:
    """The identity a SpacetimeDB token names (its `hex_identity` claim)."""
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return Identity.from_hex(str(claims["hex_identity"]))


def visible_to(viewer: Identity, table: str, rows: list[Any],
               conversations: Iterable[Any]) -> list[Any]:
    """The rows of a private table `viewer` may see (module/src/visibility.rs's filters):
    a conversation and its messages to their two participants, a notification to its
    target. `conversations`: every direct_conversation row, for direct_message."""
    tdef = model.TABLE_BY_NAME[table]
    if tdef.public:
        return rows
    if table == "direct_message":
        mine = {c.id for c in conversations if viewer in (c.participant_a, c.participant_b)}
        return [r for r in rows if r.conversation_id in mine]
    return [r for r in rows if any(getattr(r, col) == viewer for col in tdef.visible_to)]


class NetworkBackend:
    """The scenario's identities as clients of a SpacetimeDB server (a fresh database).

    Runs on `loop` (not running between steps): an in-process test server on the same loop
    makes progress whenever a step awaits.

    Reads are OneOffQuery messages on the reader, a WebSocket of the database owner opened
    before the first step and kept open, so no read runs a lifecycle reducer. The owner
    bypasses row-level security: a private table is read on the viewer's own connection
    while it has one (the server's filters narrow it, as they narrow the viewer's client),
    else on the reader and narrowed here with `visible_to`.

    Opening the reader runs client_connected for the owner before the first step, which gives
    the owner a presence and a profile (it is the hub's Owner already: nothing else). Until
    the scenario's owner connects, which would have made them, those two rows are the
    runner's, not the scenario's: reads leave them out (`READER_ROWS`), so a scenario sees the
    fresh database it starts from, and the owner's first connection as it would be."""

    # The rows the reader's client_connected makes, by table: the column naming the owner.
    READER_ROWS: Mapping[str, str] = {"user_presence": "identity", "user_profile": "identity"}

    def __init__(self, loop: asyncio.AbstractEventLoop, url: str, database: str,
                 owner_token: str, identities: Sequence[str]) -> None:
        self.loop, self.url, self.database = loop, url, database
        self._tokens: dict[str, str] = {OWNER: owner_token}
        self._ids: dict[str, Identity] = {OWNER: _token_identity(owner_token)}
        for name in identities:
            if name != OWNER:
                self._ids[name], self._tokens[name] = self._run(
                    HttpClient(url).create_identity())
        self._conns: dict[str, Connection] = {}
        self._reader = self._run(self._open(OWNER, subscribe=False))
        self._owner_connected = False  # by a step: the reader's rows are the scenario's then

    def _run(self, coro: Coroutine[Any, Any, R]) -> R:
        return self.loop.run_until_complete(coro)

    def identity(self, name: str) -> Identity:
        try:
            return self._ids[name]
        except KeyError:
            raise ScenarioError(f"unknown identity {name!r}") from None

    async def _open(self, name: str, *, subscribe: bool) -> Connection:
        """A WebSocket of `name` (the server runs client_connected as it opens), subscribed
        to every table if `subscribe`."""
        conn = Connection(self.url, self.database, self._tokens[name])
        if subscribe:
            conn.subscribe("all", lambda: [f"SELECT * FROM {t.name}" for t in model.TABLES])
        conn.start()
        if not await conn.wait_ready(10) or (
                subscribe and not await conn.wait_subscribed("all", 10)):
            await conn.close()
            raise ScenarioError(f"{name} could not connect to {self.url}")
        return conn

    # -------------------------------------------------------------- reads

    @staticmethod
    async def _query(conn: Connection, table: str) -> list[Any]:
        try:
            found = await conn.query(f"SELECT * FROM {table}")
        except StdbError as e:
            raise ScenarioError(f"SELECT * FROM {table}: {type(e).__name__}: {e}") from None
        return found.get(table, [])

    async def _read(self, viewer: str | None, tables: Sequence[str]) -> dict[str, list[Any]]:
        own = self._conns.get(viewer) if viewer is not None else None
        conns = {t: own if own is not None and not model.TABLE_BY_NAME[t].public
                 else self._reader for t in tables}
        narrow = [t for t in tables
                  if conns[t] is self._reader and not model.TABLE_BY_NAME[t].public]
        if narrow and viewer is None:
            raise ScenarioError(f"{narrow[0]} is private: a check of it needs \"as\"")
        if "direct_message" in narrow and "direct_conversation" not in conns:
            conns["direct_conversation"] = self._reader  # every conversation, to narrow by
        found = dict(zip(conns, await asyncio.gather(
            *(self._query(conn, t) for t, conn in conns.items())), strict=True))
        out: dict[str, list[Any]] = {}
        for table in tables:
            rows = found[table]
            column = self.READER_ROWS.get(table)
            if column is not None and not self._owner_connected:
                rows = [r for r in rows if getattr(r, column) != self._ids[OWNER]]
            if table in narrow:
                assert viewer is not None
                rows = visible_to(self.identity(viewer), table, rows,
                                  found.get("direct_conversation", []))
            out[table] = sorted(rows, key=attrgetter(model.TABLE_BY_NAME[table].primary_key))
        return out

    def rows(self, table: str, viewer: str | None) -> list[Any]:
        return self._run(self._read(viewer, [table]))[table]

    def _snapshot(self, viewer: str) -> dict[str, list[Any]]:
        return self._run(self._read(viewer, [t.name for t in model.TABLES]))

    def counts(self, viewer: str) -> dict[str, int]:
        return {name: len(rows) for name, rows in self._snapshot(viewer).items()}

    def wait(self, millis: int) -> None:
        time.sleep(millis / 1000)

    # -------------------------------------------------------------- calls

    def call(self, caller: str, reducer: str, json_args: list[Any]) -> Changes | str:
        if reducer == "client_connected":
            return self._lifecycle(caller, self._connect)
        if reducer == "client_disconnected":
            return self._lifecycle(caller, self._disconnect)
        try:
            args = coerce_args(reducer, json_args)
        except ReducerError as refusal:  # refused before sending: no text the wire can carry
            return refusal.message
        try:
            event = self._run(self._conns[caller].call(reducer, bsatn.encode_args(reducer, args)))
        except ReducerRefused as refusal:
            return refusal.message
        return _event_changes(event)

    def call_directly(self, caller: str, reducer: str) -> Changes | str:
        try:
            event = self._run(self._conns[caller].call(reducer, b""))
        except (ReducerRefused, ReducerHostError) as refusal:
            return refusal.message
        return _event_changes(event)

    def _lifecycle(self, caller: str, action: Callable[[str], Coroutine[Any, Any, None]]
                   ) -> Changes:
        """No ReducerResult reports a lifecycle reducer: its changes are the difference in
        what the caller sees before and after."""
        before = self._snapshot(caller)
        self._run(action(caller))
        return _diff(before, self._snapshot(caller))

    async def _connect(self, caller: str) -> None:
        self._conns[caller] = await self._open(caller, subscribe=True)
        if caller == OWNER:
            self._owner_connected = True

    async def _disconnect(self, caller: str) -> None:
        await self._conns.pop(caller).close()
        me = self._ids[caller]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the server runs client_disconnected after
            if any(p.identity == me and not p.online
                   for p in await self._query(self._reader, "user_presence")):
                return
            await asyncio.sleep(0.01)
        raise ScenarioError(f"{caller}'s disconnection was not seen")

    def close(self) -> None:
        for conn in [*self._conns.values(), self._reader]:
            self._run(conn.close())
        self._conns.clear()


def _event_changes(event: Any) -> Changes:
    """The rows a committed call's ReducerResult carries, as Changes."""
    changes = Changes()
    for delta in event.deltas:
        part = changes.tables.setdefault(delta.table, TableChanges())
        part.inserts.extend(delta.inserts)
        part.deletes.extend(delta.deletes)
    return changes


def _diff(before: Mapping[str, list[Any]], after: Mapping[str, list[Any]]) -> Changes:
    changes = Changes()
    for table, rows in after.items():
        pk = model.TABLE_BY_NAME[table].primary_key
        old = {getattr(r, pk): r for r in before.get(table, [])}
        new = {getattr(r, pk): r for r in rows}
        inserts = [r for k, r in new.items() if old.get(k) != r]
        deletes = [r for k, r in old.items() if new.get(k) != r]
        if inserts or deletes:
            changes.tables[table] = TableChanges(inserts, deletes)
    return changes


# --------------------------------------------------------------------------------------------
# Values: generators resolve to plain JSON; typed resolution turns JSON into Python values.

MATCHERS = frozenset({"$not_null", "$any", "$gt", "$ge", "$lt", "$le", "$ne", "$in"})


@dataclass
class Run:
    backend: Backend
    scenario: Scenario
    captured: dict[str, Any] = field(default_factory=dict)
    connected: set[str] = field(default_factory=set)
    reducers_called: set[str] = field(default_factory=set)
    errors_produced: set[str] = field(default_factory=set)

    # -------------------------------------------------------------- generators

    def generate(self, value: Any) -> Any:
        """Expand $repeat / $concat / $short / $hex / $ref in a JSON value."""
        if isinstance(value, list):
            return [self.generate(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "$repeat":
                text, times = arg
                return str(self.generate(text)) * int(times)
            if key == "$concat":
                return "".join(str(self.generate(part)) for part in arg)
            if key == "$short":
                name, digits = (arg, 8) if isinstance(arg, str) else arg
                return self.backend.identity(name).hex[:digits]
            if key == "$hex":
                return self.backend.identity(arg).hex
            if key == "$iso":
                return patterns.until_text(int(self.generate(arg)))
            if key == "$ref":
                if arg not in self.captured:
                    raise ScenarioError(f"nothing captured as {arg!r} yet")
                captured = self.captured[arg]
                return captured.hex if isinstance(captured, Identity) else captured
            if key.startswith("$") and key not in MATCHERS:
                raise ScenarioError(f"unknown generator {key}")
        return {k: self.generate(v) for k, v in value.items()}

    def json_arg(self, spec: TypeSpec, value: Any) -> Any:
        """A scenario argument as the JSON coerce_args takes (identity names become hex)."""
        value = self.generate(value)
        if spec.kind == "Option":
            assert spec.inner is not None
            return None if value is None else self.json_arg(spec.inner, value)
        if spec.kind == "Identity" and isinstance(value, str) and len(value) != 64:
            return self.backend.identity(value).hex
        return value

    def typed(self, spec: TypeSpec, value: Any) -> Any:
        """A scenario value as the Python value of a column of this type."""
        value = self.generate(value)
        if value is None:
            return None
        if spec.kind == "Option":
            assert spec.inner is not None
            return self.typed(spec.inner, value)
        if spec.kind == "Identity":
            if isinstance(value, str) and len(value) == 64:
                return Identity.from_hex(value)
            return self.backend.identity(value)
        if spec.kind == "Enum":
            assert spec.enum is not None
            try:
                return spec.enum[value]
            except KeyError:
                raise ScenarioError(f"{value!r} is not a {spec.enum.__name__}") from None
        return value

    # -------------------------------------------------------------- matching

    def field_matches(self, spec: TypeSpec, expected: Any, actual: Any) -> bool:
        if isinstance(expected, dict) and len(expected) == 1:
            (key, arg), = expected.items()
            if key in MATCHERS:
                if key == "$any":
                    return True
                if key == "$not_null":
                    return (actual is not None) == bool(arg)
                if key == "$in":
                    return any(self.typed(spec, option) == actual for option in arg)
                bound = self.typed(spec, arg)
                if key == "$ne":
                    return bool(actual != bound)
                if actual is None or bound is None:
                    return False
                return bool({"$gt": actual > bound, "$ge": actual >= bound,
                             "$lt": actual < bound, "$le": actual <= bound}[key])
        return bool(self.typed(spec, expected) == actual)

    def row_matches(self, tdef: TableDef, partial: Mapping[str, Any], row: Any) -> bool:
        for column, expected in partial.items():
            if column not in tdef.column_names:
                raise ScenarioError(f"{tdef.name} has no column {column!r}")
            spec = model.parse_type(next(c.type_name for c in tdef.columns
                                         if c.name == column))
            if not self.field_matches(spec, expected, getattr(row, column)):
                return False
        return True

    def filter_rows(self, tdef: TableDef, where: Mapping[str, Any] | None,
                    rows: list[Any]) -> list[Any]:
        return [r for r in rows if where is None or self.row_matches(tdef, where, r)]

    def match_all(self, tdef: TableDef, expected: list[Mapping[str, Any]],
                  actual: list[Any], what: str) -> None:
        """Every expected partial row matches a distinct actual row, and none is left over."""
        if len(expected) != len(actual):
            raise ScenarioError(f"{what}: expected {len(expected)} rows, found {len(actual)}:"
                                f" {actual}")
        candidates = [[j for j, row in enumerate(actual) if self.row_matches(tdef, e, row)]
                      for e in expected]
        taken: dict[int, int] = {}

        def assign(i: int, seen: set[int]) -> bool:
            for j in candidates[i]:
                if j in seen:
                    continue
                seen.add(j)
                if j not in taken or assign(taken[j], seen):
                    taken[j] = i
                    return True
            return False

        for i in range(len(expected)):
            if not assign(i, set()):
                raise ScenarioError(f"{what}: no row matches {expected[i]} among {actual}")

    # -------------------------------------------------------------- steps

    def run(self) -> None:
        for index, step in enumerate(self.scenario.steps):
            unknown = set(step) - STEP_KEYS
            if unknown:
                raise ScenarioError(f"step {index}: unknown keys {sorted(unknown)}")
            try:
                if "call" in step:
                    self.call_step(step)
                elif "check" in step:
                    self.check_step(step)
                elif "wait" in step:
                    self.backend.wait(int(step["wait"]))
                else:
                    raise ScenarioError("a step has \"call\", \"check\" or \"wait\"")
            except ScenarioError as failure:
                raise ScenarioError(
                    f"{self.scenario.id} step {index} {json.dumps(step)[:300]}: {failure}"
                ) from None

    def direct_step(self, step: Mapping[str, Any]) -> None:
        """`"direct": true`: the caller, connected, asks to run a lifecycle reducer itself;
        the host refuses (and the connection stays as it was)."""
        caller, reducer = step.get("as"), step["call"]
        if reducer not in errors.LIFECYCLE or step.get("args", []) or "error" not in step:
            raise ScenarioError("a direct step calls a lifecycle reducer, no args, an error")
        if caller not in self.connected:
            raise ScenarioError(f"{caller} must call client_connected before {reducer}")
        self.reducers_called.add(reducer)
        before = self.backend.counts(caller)
        outcome = self.backend.call_directly(caller, reducer)
        if not isinstance(outcome, str):
            raise ScenarioError(f"a client ran {reducer}: {outcome}")
        self.errors_produced.add(outcome)
        if outcome != step["error"]:
            raise ScenarioError(f"refused with {outcome!r}, expected {step['error']!r}")
        if self.backend.counts(caller) != before:
            raise ScenarioError("a refused call changed rows")

    def call_step(self, step: Mapping[str, Any]) -> None:
        if step.get("direct"):
            self.direct_step(step)
            return
        caller = step.get("as")
        reducer = step["call"]
        if caller not in self.scenario.identities:
            raise ScenarioError(f"\"as\" must name an identity of the scenario, not {caller!r}")
        rdef = model.REDUCER_BY_NAME.get(reducer)
        if rdef is None or reducer == "init":
            raise ScenarioError(f"no reducer {reducer!r} a scenario may call")
        # Portability: on a real server every call travels on a connection, which runs
        # client_connected first; client_disconnected closes it.
        if reducer == "client_connected":
            if caller in self.connected:
                raise ScenarioError(f"{caller} is connected already")
            self.connected.add(caller)
        elif caller not in self.connected:
            raise ScenarioError(f"{caller} must call client_connected before {reducer}")
        elif reducer == "client_disconnected":
            self.connected.discard(caller)
        raw_args = step.get("args", [])
        if len(raw_args) != len(rdef.params):
            raise ScenarioError(f"{reducer} takes {len(rdef.params)} arguments")
        json_args = [self.json_arg(model.parse_type(t), v)
                     for (_, t), v in zip(rdef.params, raw_args, strict=True)]
        self.reducers_called.add(reducer)
        before = self.backend.counts(caller) if "error" in step else None
        outcome = self.backend.call(caller, reducer, json_args)
        expected_error = self.generate(step.get("error"))
        if isinstance(outcome, str):
            if not is_known_message(outcome):
                raise ScenarioError(f"refused with a message errors.py lacks: {outcome!r}")
            self.errors_produced.add(outcome)
            if expected_error is None:
                raise ScenarioError(f"refused: {outcome!r}")
            if outcome != expected_error:
                raise ScenarioError(f"refused with {outcome!r}, expected {expected_error!r}")
            if self.backend.counts(caller) != before:
                raise ScenarioError("a refused call changed rows")
            return
        if expected_error is not None:
            raise ScenarioError(f"succeeded, expected the refusal {expected_error!r}")
        self.check_changes(step.get("changes", {}), outcome)
        for name, spec in step.get("capture", {}).items():
            self.capture_inserted(name, spec, outcome)

    def check_changes(self, expected: Mapping[str, Any], changes: Changes) -> None:
        for table, parts in expected.items():
            tdef = model.TABLE_BY_NAME.get(table)
            if tdef is None:
                raise ScenarioError(f"no table {table!r}")
            if not tdef.public:
                raise ScenarioError(f"changes of private {table} are not portable: check it")
            for kind in parts:
                if kind not in ("inserts", "deletes"):
                    raise ScenarioError(f"changes.{table} has inserts and deletes, not {kind}")
                actual = (changes.inserted(table) if kind == "inserts"
                          else changes.deleted(table))
                want = parts[kind]
                if isinstance(want, int):
                    if len(actual) != want:
                        raise ScenarioError(f"{table} {kind}: expected {want}, got {actual}")
                else:
                    self.match_all(tdef, want, actual, f"{table} {kind}")

    def capture_inserted(self, name: str, spec: Any, changes: Changes) -> None:
        if isinstance(spec, str):
            spec = {"table": spec}
        tdef = model.TABLE_BY_NAME[spec["table"]]
        rows = self.filter_rows(tdef, spec.get("where"), changes.inserted(tdef.name))
        if len(rows) != 1:
            raise ScenarioError(f"capture {name}: {len(rows)} matching inserted rows, not 1")
        self.captured[name] = getattr(rows[0], spec.get("field", tdef.primary_key))

    def check_step(self, step: Mapping[str, Any]) -> None:
        table = step["check"]
        tdef = model.TABLE_BY_NAME.get(table)
        if tdef is None:
            raise ScenarioError(f"no table {table!r}")
        viewer = step.get("as")
        if viewer is not None and viewer not in self.scenario.identities:
            raise ScenarioError(f"unknown identity {viewer!r}")
        rows = self.filter_rows(tdef, step.get("where"), self.backend.rows(table, viewer))
        if "count" not in step and "rows" not in step and "capture" not in step:
            raise ScenarioError("a check has count, rows or capture")
        if "count" in step and len(rows) != step["count"]:
            raise ScenarioError(f"expected {step['count']} rows, found {len(rows)}: {rows}")
        if "rows" in step:
            self.match_all(tdef, step["rows"], rows, table)
        if "capture" in step:
            if len(rows) != 1:
                raise ScenarioError(f"capture needs exactly one row, found {len(rows)}: {rows}")
            for name, column in step["capture"].items():
                self.captured[name] = getattr(rows[0], column)


# --------------------------------------------------------------------------------------------
# Tests

SCENARIOS = load_scenarios()


@dataclass
class Coverage:
    reducers: set[str] = field(default_factory=set)
    errors: set[str] = field(default_factory=set)
    ran: set[str] = field(default_factory=set)


_COVERAGE = Coverage()


def run_scenario(scenario: Scenario) -> Run:
    backend = EngineBackend(scenario.identities)
    try:
        run = Run(backend, scenario)
        run.run()
        return run
    finally:
        backend.close()


def _coverage() -> Coverage:
    """Coverage of every scenario (running those the session has not run yet)."""
    for scenario in SCENARIOS:
        if scenario.id in _COVERAGE.ran:
            continue
        run = run_scenario(scenario)
        _COVERAGE.ran.add(scenario.id)
        _COVERAGE.reducers |= run.reducers_called
        _COVERAGE.errors |= run.errors_produced
    return _COVERAGE


def _iter_ids() -> Iterator[str]:
    return (s.id for s in SCENARIOS)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=list(_iter_ids()))
def test_scenario(scenario: Scenario) -> None:
    run = run_scenario(scenario)
    _COVERAGE.ran.add(scenario.id)
    _COVERAGE.reducers |= run.reducers_called
    _COVERAGE.errors |= run.errors_produced


def test_scenarios_exist_and_names_are_unique() -> None:
    assert len(SCENARIOS) >= 10
    ids = [s.id for s in SCENARIOS]
    assert len(ids) == len(set(ids))


def test_every_reducer_is_exercised() -> None:
    # init runs at the start of every scenario (the database is fresh); clients cannot call it.
    called = _coverage().reducers | {"init"}
    missing = [r.name for r in model.REDUCERS if r.name not in called]
    assert not missing, f"reducers no scenario calls: {missing}"


def template_pattern(text: str) -> re.Pattern[str]:
    """A template message (errors.TEMPLATES) as a pattern: each `{field}` one or more
    characters."""
    return re.compile(re.sub(r"\\\{\w+\\\}", ".+", re.escape(text)))


def is_known_message(text: str) -> bool:
    """A refusal errors.py defines: a module or host message, a lone-surrogate refusal, or a
    filled template."""
    messages = errors.module_messages()
    if (text in messages.values() or text in errors.host_messages().values()
            or text in _invalid_text_messages()):
        return True
    return any(template_pattern(messages[name]).fullmatch(text) for name in errors.TEMPLATES)


def test_every_refusal_message_is_produced() -> None:
    produced = _coverage().errors
    expected = {**errors.module_messages(), **errors.host_messages()}
    missing = {name: text for name, text in expected.items()
               if not any(template_pattern(text).fullmatch(p) if name in errors.TEMPLATES
                          else p == text for p in produced)}
    assert not missing, f"refusals no scenario produces: {missing}"


def _invalid_text_messages() -> set[str]:
    """A lone surrogate in a text argument: refused, naming it, before any reducer runs."""
    return {errors.invalid_text(r.name, name) for r in model.REDUCERS
            for name, type_name in r.params if "String" in type_name}


def test_scenario_error_messages_are_known() -> None:
    for scenario in SCENARIOS:
        for step in scenario.steps:
            # a generated message ($concat, for a template's fields) is checked as it is produced
            if isinstance(step.get("error"), str):
                assert is_known_message(step["error"]), (
                    f"{scenario.id}: unknown message {step['error']}")


def test_templates_fill_to_known_messages() -> None:
    filled = errors.fill(errors.TASK_CLAIMED, task=7, holder="@ada",
                         until=patterns.until_text(951_782_400_999_999))
    assert filled == "task 7 is claimed by @ada until 2000-02-29T00:00:00Z"
    assert is_known_message(filled) and not is_known_message("task 7 is claimed")


# --------------------------------------------------------------------------------------------
# Over the wire


def run_on_test_server(scenario: Scenario, data_dir: Path) -> None:
    """A scenario through spacesd's SpacetimeDB client against the test server (the engine
    behind SpacetimeDB's protocol): proves the runner and the format work over a network."""
    from stdb_server import DATABASE, TestServer

    loop = asyncio.new_event_loop()
    server = TestServer(data_dir)
    try:
        loop.run_until_complete(server.start())
        assert server.db is not None
        backend = NetworkBackend(loop, server.url, DATABASE, server.db.owner_token,
                                 scenario.identities)
        try:
            Run(backend, scenario).run()
            # The runner's reads ran no lifecycle reducer: the server ran client_connected
            # for the reader's connection and for the steps, client_disconnected for the steps.
            steps = Counter(s["call"] for s in scenario.steps
                            if s.get("call") in LIFECYCLE and not s.get("direct"))
            ran = {name: server.calls_by_reducer[name] for name in LIFECYCLE}
            assert ran == {"client_connected": steps["client_connected"] + 1,
                           "client_disconnected": steps["client_disconnected"]}, ran
        finally:
            backend.close()
    finally:
        loop.run_until_complete(server.stop())
        loop.close()


WIRE_ALL = os.environ.get("SPACES_CONFORMANCE_WIRE", "") == "all"
# By default a sample goes over the wire (every file's first scenario, and every scenario of
# the files whose steps take network-specific paths: lifecycle diffs, private tables);
# SPACES_CONFORMANCE_WIRE=all sends them all (a few seconds).
WIRE_SAMPLE = [s for i, s in enumerate(SCENARIOS)
               if WIRE_ALL or s.file in ("lifecycle", "dms", "state", "sessions")
               or i == 0 or SCENARIOS[i - 1].file != s.file]


@pytest.mark.parametrize("scenario", WIRE_SAMPLE, ids=[s.id for s in WIRE_SAMPLE])
def test_scenario_over_the_wire(scenario: Scenario, tmp_path: Path) -> None:
    run_on_test_server(scenario, tmp_path / "stdb")


# The real SpacetimeDB server (tests/real_stdb.py, the `real_stdb` fixture): every scenario on
# a freshly published database of the module's .wasm.


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.id for s in SCENARIOS])
def test_scenario_on_the_real_server(scenario: Scenario, real_stdb: RealServer) -> None:
    database = real_stdb.publish()
    loop = asyncio.new_event_loop()
    try:
        backend = NetworkBackend(loop, real_stdb.url, database, real_stdb.owner_token,
                                 scenario.identities)
        try:
            Run(backend, scenario).run()
        finally:
            backend.close()
    finally:
        loop.close()
