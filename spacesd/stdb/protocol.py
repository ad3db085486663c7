"""The SpacetimeDB 2.x client protocol, sans I/O: calls and bytes in, typed events out.

`ClientProtocol` knows the v2 message exchange of one WebSocket session and nothing about
sockets or event loops (the way h11's `Connection` and websockets' `protocol.py` do it):

- intentions go in as calls (`subscribe`, `unsubscribe`, `call_reducer`, `one_off_query`) and
  come back as the encoded client frame to send;
- received server frames go in through `receive(frame)` and come back as a list of `Event`s:
  the server's query-set ids mapped back to the caller's subscription keys, and the replies
  to our own requests as events carrying their request id (`TransactionEvent` with
  `caller_request` for a committed call, `CallRefusedEvent`, `CallFailedEvent`,
  `QueryResultEvent`, `QueryErrorEvent`).

The asyncio client in `spacesd.stdb.connection` drives it over a real socket.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from spacesd.model import Identity
from spacesd.stdb import messages as m
from spacesd.stdb.bsatn import ConnectionId

# --------------------------------------------------------------------------------------------
# Events


@dataclass
class TableDelta:
    """Rows of one table for one subscription key: decoded model rows."""

    key: str
    table: str
    inserts: list[Any] = field(default_factory=list)
    deletes: list[Any] = field(default_factory=list)


@dataclass
class ConnectedEvent:
    """InitialConnection: who the server says we are. `reconnect` is True from the second
    session of this protocol object on."""

    identity: Identity
    connection_id: ConnectionId
    token: str
    reconnect: bool


@dataclass
class DisconnectedEvent:
    """The socket closed (made by the I/O layer, which is the one that knows)."""

    reason: str


@dataclass
class SubscribedEvent:
    """A query set was applied: `tables` holds every matching row now (inserts only)."""

    key: str
    tables: list[TableDelta]


@dataclass
class SubscriptionErrorEvent:
    key: str
    error: str


@dataclass
class TransactionEvent:
    """A committed transaction's effect on our subscriptions. `caller_request` is set when it
    came in the ReducerResult of our own call (`reducer` names it then): it is also the reply
    to that call."""

    deltas: list[TableDelta]
    caller_request: int | None = None
    reducer: str | None = None
    timestamp: int | None = None  # the reducer's start (µs), for our own calls


@dataclass
class CallRefusedEvent:
    """The reply to our reducer call `request_id`: the reducer returned an error; its
    transaction did not commit."""

    request_id: int
    reducer: str
    message: str


@dataclass
class CallFailedEvent:
    """The reply to our reducer call `request_id`: the host could not run the reducer
    (unknown reducer, bad arguments, a panic)."""

    request_id: int
    reducer: str
    message: str


@dataclass
class QueryResultEvent:
    """The reply to our one-off query `request_id`: the matching rows, by table."""

    request_id: int
    tables: dict[str, list[Any]]


@dataclass
class QueryErrorEvent:
    """The reply to our one-off query `request_id`: the server refused it."""

    request_id: int
    error: str


Event = (ConnectedEvent | DisconnectedEvent | SubscribedEvent | SubscriptionErrorEvent
         | TransactionEvent)
"""What a subscriber sees (the asyncio client's `on_event`)."""
Reply = CallRefusedEvent | CallFailedEvent | QueryResultEvent | QueryErrorEvent
"""A reply to one of our requests that is not also a subscription event."""
ProtocolEvent = Event | Reply
"""Everything `ClientProtocol.receive` returns."""


# --------------------------------------------------------------------------------------------
# The protocol state


@dataclass
class Pending:
    kind: Literal["call", "query"]
    name: str  # reducer name or query text


class ClientProtocol:
    """The v2 exchange of one WebSocket session. Bytes in, events out; no I/O.

    Request ids and query-set ids are per connection: `reset()` (on a new socket) forgets the
    query sets and pending requests, the caller resubscribes.
    """

    def __init__(self) -> None:
        self._next_request = 1
        self._next_query_set = 1
        self.identity: Identity | None = None
        self.connection_id: ConnectionId | None = None
        self.token: str | None = None
        self.sessions = 0
        """How many InitialConnections this object has seen (across resets)."""
        self._qs_to_key: dict[int, str] = {}
        self._key_to_qs: dict[str, int] = {}
        self.pending: dict[int, Pending] = {}

    def reset(self) -> dict[int, Pending]:
        """Forget the session; returns the requests that were awaiting a reply."""
        dropped = self.pending
        self.pending = {}
        self._qs_to_key.clear()
        self._key_to_qs.clear()
        self.identity = None
        self.connection_id = None
        return dropped

    def forget(self, request_id: int) -> None:
        """Stop waiting for `request_id` (its frame was never sent)."""
        self.pending.pop(request_id, None)

    def _request_id(self) -> int:
        rid = self._next_request
        self._next_request = (self._next_request + 1) & 0xFFFFFFFF or 1
        return rid

    @property
    def ready(self) -> bool:
        return self.identity is not None

    # -- outgoing ----------------------------------------------------------------------------

    def subscribe(self, key: str, queries: Sequence[str]) -> bytes:
        if key in self._key_to_qs:
            raise ValueError(f"already subscribed: {key}")
        qs = self._next_query_set
        self._next_query_set += 1
        self._qs_to_key[qs] = key
        self._key_to_qs[key] = qs
        msg = m.Subscribe(request_id=self._request_id(), query_set_id=qs,
                          query_strings=list(queries))
        return m.encode_client_message(msg)

    def unsubscribe(self, key: str) -> bytes | None:
        qs = self._key_to_qs.get(key)
        if qs is None:
            return None
        return m.encode_client_message(
            m.Unsubscribe(request_id=self._request_id(), query_set_id=qs, flags=0))

    def call_reducer(self, reducer: str, args: bytes) -> tuple[int, bytes]:
        rid = self._request_id()
        self.pending[rid] = Pending("call", reducer)
        msg = m.CallReducer(request_id=rid, flags=0, reducer=reducer, args=args)
        return rid, m.encode_client_message(msg)

    def one_off_query(self, query: str) -> tuple[int, bytes]:
        rid = self._request_id()
        self.pending[rid] = Pending("query", query)
        return rid, m.encode_client_message(m.OneOffQuery(request_id=rid, query_string=query))

    # -- incoming ----------------------------------------------------------------------------

    def receive(self, frame: bytes) -> list[ProtocolEvent]:
        """Decode one server frame (compression tag per the connection's setting, v3 batches
        accepted) into the events it carries, in order; a message that concerns none of our
        subscriptions or requests yields none. Raises `BsatnError` on a malformed frame."""
        out: list[ProtocolEvent] = []
        for msg in m.decode_server_frame(frame):
            event = self._handle(msg)
            if event is not None:
                out.append(event)
        return out

    def _deltas(self, qs_id: int, tables: Sequence[Any]) -> list[TableDelta]:
        key = self._qs_to_key.get(qs_id)
        if key is None:
            return []
        deltas: list[TableDelta] = []
        for tu in tables:
            delta = TableDelta(key, tu.table_name)
            for rows in tu.rows:
                if isinstance(rows, m.PersistentTableRows):
                    delta.inserts.extend(m.decode_rows(tu.table_name, rows.inserts))
                    delta.deletes.extend(m.decode_rows(tu.table_name, rows.deletes))
                else:  # EventTableRows: transient rows, shown as inserts
                    delta.inserts.extend(m.decode_rows(tu.table_name, rows.events))
            deltas.append(delta)
        return deltas

    def _tx_deltas(self, update: m.TransactionUpdate) -> list[TableDelta]:
        deltas: list[TableDelta] = []
        for qsu in update.query_sets:
            deltas.extend(self._deltas(qsu.query_set_id, qsu.tables))
        return deltas

    def _query_rows(self, key: str, rows: m.QueryRows) -> list[TableDelta]:
        return [TableDelta(key, t.table, inserts=m.decode_rows(t.table, t.rows))
                for t in rows.tables]

    def _handle(self, msg: m.ServerMessage) -> ProtocolEvent | None:
        if isinstance(msg, m.InitialConnection):
            self.identity = msg.identity
            self.connection_id = msg.connection_id
            self.token = msg.token
            self.sessions += 1
            return ConnectedEvent(msg.identity, msg.connection_id, msg.token,
                                  self.sessions > 1)
        if isinstance(msg, m.SubscribeApplied):
            key = self._qs_to_key.get(msg.query_set_id)
            if key is None:
                return None
            return SubscribedEvent(key, self._query_rows(key, msg.rows))
        if isinstance(msg, (m.UnsubscribeApplied, m.SubscriptionError)):
            key = self._qs_to_key.pop(msg.query_set_id, None)
            if key is None:
                return None
            self._key_to_qs.pop(key, None)
            if isinstance(msg, m.SubscriptionError):
                return SubscriptionErrorEvent(key, msg.error)
            return None
        if isinstance(msg, m.TransactionUpdate):
            deltas = self._tx_deltas(msg)
            return TransactionEvent(deltas) if deltas else None
        if isinstance(msg, m.OneOffQueryResult):
            return self._query_result(msg)
        if isinstance(msg, m.ReducerResult):
            return self._reducer_result(msg)
        return None  # ProcedureResult and anything newer: not ours

    def _query_result(self, msg: m.OneOffQueryResult) -> Reply | None:
        if self.pending.pop(msg.request_id, None) is None:
            return None
        result = msg.result
        if isinstance(result, str):
            return QueryErrorEvent(msg.request_id, result)
        tables: dict[str, list[Any]] = {}
        for t in result.tables:
            tables.setdefault(t.table, []).extend(m.decode_rows(t.table, t.rows))
        return QueryResultEvent(msg.request_id, tables)

    def _reducer_result(self, msg: m.ReducerResult) -> ProtocolEvent | None:
        """A committed call is a TransactionEvent (its rows reach the subscriptions even for
        a request we no longer know, named "?"); a refusal or a host error is the reply of a
        request we know, else nothing."""
        pending = self.pending.pop(msg.request_id, None)
        name = pending.name if pending is not None else "?"
        outcome = msg.result
        if isinstance(outcome, m.ReducerOk):
            deltas = self._tx_deltas(outcome.transaction_update)
            return TransactionEvent(deltas, msg.request_id, name, msg.timestamp)
        if isinstance(outcome, m.ReducerOkEmpty):
            return TransactionEvent([], msg.request_id, name, msg.timestamp)
        if pending is None:
            return None
        if isinstance(outcome, m.ReducerErr):
            return CallRefusedEvent(msg.request_id, name, outcome.message)
        return CallFailedEvent(msg.request_id, name, str(outcome.message))
