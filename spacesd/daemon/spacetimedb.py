"""The daemon on SpacetimeDB: a live v2 subscription cached in a `Store`, writes as reducer
calls (`spacesd run --backend spacetimedb`).

- Identity: the configured token (SPACETIMEDB_TOKEN, cli.toml, ...) or one minted with
  `POST /v1/identity` and kept, 0600, under the data directory. The identity is known from
  the token alone (its `hex_identity` claim), so the daemon starts while the server is down.
- Cache: a SQLite `Store` under the data directory, one per server, database and identity,
  so reads (hooks, CLI) share the embedded backend's implementation and survive a restart.
- Subscriptions, one query set per group of tables (each table in exactly one set):
  `public` (profiles, presence, servers, members, channels, threads), `messages`
  (`SELECT * FROM message WHERE id >= L`, L the id of the W-th newest cached message,
  recomputed at every (re)connect, W = RECONCILE_WINDOW), `private` (the caller's own direct
  conversations, their messages, notifications and read states).
  On SubscribeApplied, a whole-table group replaces the cached rows (what changed meanwhile
  is published as a change). The messages group reconciles the window, the last W cached
  messages: a cached row the server no longer has was deleted while we were away (published
  as a deletion), one that differs was edited (a deletion plus an insertion:
  `message_edited`); rows above the newest cached are new, added in id order; rows the cache
  holds unchanged are not published again. Edits and deletions of messages older than the
  window, made while the daemon was away, are not seen: the cache keeps the old row. A window
  of messages, not of ids (SpacetimeDB's ids jump by 4096 at every server restart: a window
  of ids would shrink to nothing), not of time nor per channel: one query, the same live
  subscription (so, while connected, edits and deletions inside the window arrive as updates
  too), and at most W rows sent again per reconnect whatever the traffic.
  A first start on an empty cache does not take the whole history: it counts the newest
  messages with OneOffQuery reads of ever older `created_at` windows and follows the last
  FIRST_SYNC_MESSAGES of them (`_first_sync`); reads older than that find nothing.
- Status: `connection` is the link's state, except that while a subscription group has
  failed (its SubscriptionError not followed by a SubscribeApplied) it is "subscription
  failed" and `last_error` holds the server's message; reads keep answering from what the
  cache holds.
- The person: the machine's human owner is an identity of its own on the server, minted on
  the first owner call (`call_as_owner`, after the daemon checked the owner passphrase:
  docs/roles.md) and kept, 0600, beside the daemon's token (`owner-<server>.token`). It acts
  over a connection of its own, opened at that first call and kept while the daemon runs, so
  `ctx.sender` is a person profile (is_agent false, named after the Unix user) for the
  module's rules: a DM from it, or `address_sessions` (people only), reaches a session
  "from a person". No agent session is ever given it: participants are agent profiles.
- Writes: `call()` encodes the JSON arguments to BSATN and sends CallReducer; it returns once
  the ReducerResult came back (its rows are in the cache by then). While the server is
  unreachable, `call()` raises BackendUnavailable and the daemon keeps the write in its
  outbox, delivered in order on return. A call whose connection dropped before its result is
  remembered: when the same write is retried, the cache is checked first, so a message that
  did commit is not sent twice.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
import itertools
import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spacesd import paths
from spacesd.daemon.backend import (
    Backend,
    BackendError,
    BackendUnavailable,
    BadArguments,
    JsonArgs,
    ReducerFailed,
)
from spacesd.daemon.identity import default_agent_name, default_owner_name, name_candidates
from spacesd.engine import ReducerError, coerce_args
from spacesd.model import TABLE_BY_NAME, Identity, WriteKey, write_key_of
from spacesd.stdb import bsatn
from spacesd.stdb.bsatn import BsatnError
from spacesd.stdb.connection import (
    CallUncertain,
    CompressionChoice,
    Connection,
    NotConnected,
    QueryError,
    ReducerHostError,
    ReducerRefused,
    StdbError,
)
from spacesd.stdb.http import (
    Endpoint,
    HttpClient,
    HttpError,
    ensure_token,
    read_token,
    token_file,
    write_token,
)
from spacesd.stdb.protocol import (
    ConnectedEvent,
    DisconnectedEvent,
    Event,
    SubscribedEvent,
    SubscriptionErrorEvent,
    TableDelta,
    TransactionEvent,
)
from spacesd.store import Changes, Store, TableChanges

if TYPE_CHECKING:
    from spacesd.config import Config

log = logging.getLogger("spacesd.stdb")

PUBLIC_TABLES = ("user_profile", "user_presence", "server", "server_member", "channel",
                 "thread", "task", "path_lease", "vote", "session_info", "channel_follow",
                 "thread_poster")
PRIVATE_TABLES = ("direct_conversation", "direct_message", "system_notification",
                  "channel_read_state", "inbox_item")
GROUPS = ("public", "messages", "private")
"""The subscription groups (query sets), each applied or refused as one."""
SYNCED_KEY = "stdb_cache_synced"
FINGERPRINT_KEY = "stdb_database_fingerprint"
FLOOR_KEY = "stdb_message_floor"
RECONCILE_WINDOW = 1000
"""How many of the newest cached messages every (re)subscription reads again."""
FIRST_SYNC_MESSAGES = 5000
"""How many of the newest messages a first start on an empty cache follows."""
SYNC_WINDOWS_S = (0, 60, 3600, 86400, 7 * 86400, 30 * 86400, 365 * 86400,
                  *(365 * 86400 * 2 ** k for k in range(1, 7)))
"""The edges (seconds back from now) of the created_at windows _first_sync reads."""
START_TIMEOUT = 10.0
CALL_TIMEOUT = 15.0


def identity_from_token(token: str) -> Identity | None:
    """The `hex_identity` claim of a SpacetimeDB token (a JWT), without verifying it."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        return Identity.from_hex(str(claims["hex_identity"]))
    except (ValueError, KeyError, TypeError):
        return None


def _rfc3339(seconds: float) -> str:
    """A Timestamp literal as SpacetimeDB's SQL reads it (RFC 3339, UTC, microseconds)."""
    when = datetime.datetime.fromtimestamp(max(0.0, seconds), datetime.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-." else "_" for c in text)


class SpacetimeBackend(Backend):
    name = "spacetimedb"

    def __init__(self, *, host: str, database: str, token: str | None = None,
                 data_dir: Path | None = None, agent_name: str | None = None,
                 compression: CompressionChoice = "none") -> None:
        super().__init__()
        self.host = Endpoint.parse(host).base_url
        self._database = database
        self.token = token
        self.data_dir = data_dir if data_dir is not None else paths.data_dir()
        self.agent_name = agent_name
        self.compression: CompressionChoice = compression
        self.conn: Connection | None = None
        self._register_task: asyncio.Task[None] | None = None
        self._uncertain: list[tuple[str, tuple[Any, ...], int]] = []
        self._subscribed: set[str] = set()
        self.last_lag_ms: float | None = None
        self.last_update_at: float | None = None
        self.calls = 0
        self.refusals = 0
        self.subscription_errors: list[str] = []
        self._failed: dict[str, str] = {}  # group -> its SubscriptionError, until applied
        self._settled: dict[str, asyncio.Event] = {}  # group applied or failed (start waits)
        self.resets = 0
        self._discarding = False  # after a database reset: ignore the session until reconnect
        self._synced = False  # see cache_ready
        self._message_low = 0  # the messages subscription's `id > low`, as last sent
        self._need_floor = False
        self._floor_task: asyncio.Task[None] | None = None
        self._participants: dict[Identity, Connection] = {}
        self._owner: Identity | None = None
        self._owner_lock = asyncio.Lock()

    # -- Backend -----------------------------------------------------------------------------

    @property
    def database(self) -> str:
        return f"{self.host}/{self._database}"

    @property
    def available(self) -> bool:
        return self.conn is not None and self.conn.connected

    @property
    def cache_ready(self) -> bool:
        """Every subscription group was applied once, in this process or (the cache kept on
        disk) in an earlier one; or each was applied or refused in this process (reads then
        answer from what the cache holds, status shows the refusal)."""
        if self._store is None:
            return False
        if self._synced:
            return True
        self._synced = self._store.meta_get(SYNCED_KEY) == "1"
        return self._synced or (bool(self._failed) and all(
            key in self._subscribed or key in self._failed for key in GROUPS))

    async def start(self) -> None:
        http = HttpClient(self.host, self.token)
        if not self.token:
            try:
                self.token = await ensure_token(http, self.data_dir)
            except HttpError as e:
                raise RuntimeError(
                    f"cannot reach SpacetimeDB at {self.host} to mint an identity: {e}") from e
        identity = identity_from_token(self.token)
        cache_dir = self.data_dir / "stdb-cache"
        cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        endpoint = Endpoint.parse(self.host)
        key = f"{_safe(endpoint.scheme + '_' + endpoint.netloc)}-{_safe(self._database)}"
        if identity is None:
            # An opaque token: learn the identity from the server (InitialConnection).
            identity = await self._identity_from_server()
        self._identity = identity
        self._store = Store(cache_dir / f"{key}-{identity.hex[:16]}.sqlite")
        with contextlib.suppress(OSError):
            os.chmod(cache_dir / f"{key}-{identity.hex[:16]}.sqlite", 0o600)
        if self._store.meta_get(SYNCED_KEY) is None:
            # a cache written before the flag existed was synced if it knows the database
            known = self._store.meta_get(FINGERPRINT_KEY) is not None
            self._store.meta_set(SYNCED_KEY, "1" if known else "0")
        self.conn = Connection(self.host, self._database, self.token,
                               on_event=self._on_event, compression=self.compression)
        self.conn.subscribe("public", lambda: [f"SELECT * FROM {t}" for t in PUBLIC_TABLES])
        # An empty cache first learns where the recent messages begin (_first_sync, once
        # connected); a cache that has messages resumes from them.
        self._need_floor = self._store.last_message_id() == 0
        if not self._need_floor:
            self.conn.subscribe("messages", self._message_queries)
        self.conn.subscribe("private", self._private_queries)
        self._set_state(f"connecting to {self.database}")
        self.conn.start()
        if await self.conn.wait_first_attempt(START_TIMEOUT):
            for key_ in GROUPS:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._settled_event(key_).wait(), START_TIMEOUT)
            if self._register_task is not None:
                with contextlib.suppress(asyncio.TimeoutError, Exception):
                    await asyncio.wait_for(asyncio.shield(self._register_task), START_TIMEOUT)
        else:
            log.warning("SpacetimeDB at %s is unreachable; serving the cache, writes wait",
                        self.host)

    async def _identity_from_server(self) -> Identity:
        got: asyncio.Future[Identity] = asyncio.get_running_loop().create_future()

        def on_event(ev: Event) -> None:
            if isinstance(ev, ConnectedEvent) and not got.done():
                got.set_result(ev.identity)

        probe = Connection(self.host, self._database, self.token, on_event=on_event)
        probe.start()
        try:
            return await asyncio.wait_for(got, START_TIMEOUT)
        except asyncio.TimeoutError:
            raise RuntimeError(f"cannot reach SpacetimeDB at {self.host} to learn the "
                               "identity of the configured token") from None
        finally:
            await probe.close()

    async def stop(self) -> None:
        for identity in list(self._participants):
            await self.close_participant(identity)
        if self._floor_task is not None:
            self._floor_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._floor_task
            self._floor_task = None
        if self._register_task is not None:
            self._register_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._register_task
            self._register_task = None
        if self.conn is not None:
            await self.conn.close()
            self.conn = None
        if self._store is not None:
            self._store.close()
            self._store = None

    async def _call(self, reducer: str, args: JsonArgs, *, caller: Identity | None = None
                    ) -> Changes:
        if caller is not None and caller != self._identity:
            return await self._participant_call(caller, reducer, args)
        try:
            values = tuple(coerce_args(reducer, list(args)))
            payload = bsatn.encode_args(reducer, values)
        except ReducerError as e:
            raise BadArguments(e.message) from None
        except BsatnError as e:
            raise BadArguments(str(e)) from None
        if self.conn is None or not self.conn.connected:
            raise BackendUnavailable(f"SpacetimeDB at {self.host} is unreachable")
        floor_task = self._floor_task
        if floor_task is not None and not floor_task.done():
            # the messages subscription goes out first, so the call's result holds its row
            with contextlib.suppress(asyncio.TimeoutError, Exception):
                await asyncio.wait_for(asyncio.shield(floor_task), CALL_TIMEOUT)
            if self.conn is None or not self.conn.connected:
                raise BackendUnavailable(f"SpacetimeDB at {self.host} is unreachable")
        found = self._committed_earlier(reducer, values)
        if found is not None:
            return found
        mark = self.store.last_message_id()
        self.calls += 1
        try:
            event = await self.conn.call(reducer, payload, timeout=CALL_TIMEOUT)
        except ReducerRefused as e:
            self.refusals += 1
            raise ReducerFailed(reducer, e.message) from None
        except ReducerHostError as e:
            # the host could not run it (arguments were checked here first): a server fault
            raise BackendError(f"SpacetimeDB could not run {reducer}: {e.message}") from None
        except NotConnected as e:
            raise BackendUnavailable(f"SpacetimeDB at {self.host} is unreachable: {e}") from None
        except CallUncertain as e:
            self._uncertain.append((reducer, values, mark))
            raise BackendUnavailable(f"the connection dropped during {reducer}: {e}") from None
        assert isinstance(event, TransactionEvent)
        return self._changes_of(event.deltas)

    async def find_write(self, key: str) -> WriteKey | None:
        """A one-off query of `write_key` (not subscribed: the row-level security shows the
        daemon its own keys only, and nothing reads them but a repeated keyed write)."""
        scoped = write_key_of(self.identity, key)
        if "'" in scoped or "\\" in scoped or self.conn is None or not self.conn.connected:
            return None
        try:
            rows = (await self.conn.query(f"SELECT * FROM write_key WHERE key = '{scoped}'",
                                          timeout=CALL_TIMEOUT)).get("write_key", [])
        except (QueryError, NotConnected, asyncio.TimeoutError) as e:
            log.warning("cannot read write key %s: %s", key, e)
            return None
        return rows[0] if rows else None

    # -- participants: a minted identity each, over its own connection ----------------------

    async def mint_participant(self) -> tuple[Identity, str | None]:
        try:
            return await HttpClient(self.host, None).create_identity()
        except HttpError as e:
            raise BackendUnavailable(f"cannot mint a participant at {self.host}: {e}") from None

    async def open_participant(self, identity: Identity, token: str | None) -> None:
        """A connection of its own (no subscription): `ctx.sender` is the participant for
        every call, and its client_connected / client_disconnected bracket its life."""
        if identity in self._participants:
            return
        if not token:
            raise BadArguments(f"participant {identity.short()} has no token")
        conn = Connection(self.host, self._database, token, compression=self.compression,
                          on_event=self._on_participant_event)
        # The participant's own inbox rows and receipts, over its own connection: the real
        # server (2.8.3) applies the machine's row-level-security join to the daemon's first
        # subscription but pushes it no later inserts (tests/test_live_real_stdb.py).
        me = f"0x{identity.hex}"
        conn.subscribe("inbox", lambda: [
            f"SELECT * FROM inbox_item WHERE recipient = {me}",
            f"SELECT * FROM inbox_item WHERE sender = {me}",
            # its DMs (the module's row-level security narrows direct_message to them)
            f"SELECT * FROM direct_conversation WHERE participant_a = {me}",
            f"SELECT * FROM direct_conversation WHERE participant_b = {me}",
            "SELECT * FROM direct_message"])
        self._participants[identity] = conn
        conn.start()
        if not await conn.wait_ready(START_TIMEOUT):
            raise BackendUnavailable(f"participant {identity.short()} cannot connect to "
                                     f"{self.database}")

    def _on_participant_event(self, event: Event) -> None:
        """A participant connection's rows (its inbox subscription) go into the same cache
        and change feed as the daemon's own."""
        if isinstance(event, TransactionEvent):
            self._on_transaction(event)
        elif isinstance(event, SubscribedEvent) and self._store is not None:
            changes = Changes()
            for d in event.tables:
                pk = TABLE_BY_NAME[d.table].primary_key
                cached = [(r, self._store.get(d.table, getattr(r, pk))) for r in d.inserts]
                fresh = [r for r, old in cached if old != r]
                if fresh:
                    changes.tables[d.table] = TableChanges(
                        fresh, [old for r, old in cached if old is not None and old != r])
            if not changes.is_empty():
                self._store.apply(changes)
                self._publish(changes)
        elif isinstance(event, SubscriptionErrorEvent):
            log.error("a participant's inbox subscription failed: %s", event.error)

    async def close_participant(self, identity: Identity) -> None:
        conn = self._participants.pop(identity, None)
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()

    async def _participant_call(self, caller: Identity, reducer: str, args: JsonArgs
                                ) -> Changes:
        conn = self._participants.get(caller)
        if conn is None:
            raise BadArguments(f"participant {caller.short()} is not open")
        try:
            payload = bsatn.encode_args(reducer, tuple(coerce_args(reducer, list(args))))
        except ReducerError as e:
            raise BadArguments(e.message) from None
        except BsatnError as e:
            raise BadArguments(str(e)) from None
        if not conn.connected:
            raise BackendUnavailable(f"SpacetimeDB at {self.host} is unreachable")
        self.calls += 1
        try:
            event = await conn.call(reducer, payload, timeout=CALL_TIMEOUT)
        except ReducerRefused as e:
            self.refusals += 1
            raise ReducerFailed(reducer, e.message) from None
        except ReducerHostError as e:
            raise BackendError(f"SpacetimeDB could not run {reducer}: {e.message}") from None
        except StdbError as e:
            raise BackendUnavailable(f"{reducer} as a participant: {e}") from None
        assert isinstance(event, TransactionEvent)
        return self._changes_of(event.deltas)

    # -- the person (the machine's human owner) ---------------------------------------------

    @property
    def person_identity(self) -> Identity | None:
        """The person's identity, known once an owner call opened it. (`owner_identity`
        stays None here: the cache holds the daemon's view, not the person's; the web view
        reads with it.)"""
        return self._owner

    def _owner_token_path(self) -> Path:
        path = token_file(self.data_dir, Endpoint.parse(self.host))
        return path.with_name(f"owner-{path.name}")

    async def _call_as_owner(self, reducer: str, args: JsonArgs) -> Changes:
        """As the person: the caller checked the owner passphrase (docs/roles.md)."""
        return await self._participant_call(await self._open_owner(), reducer, args)

    async def _open_owner(self) -> Identity:
        """The person's identity and connection: minted (kept 0600) at the first owner call,
        opened once, its profile named as a person."""
        async with self._owner_lock:
            if self._owner is not None and self._owner in self._participants:
                return self._owner
            path = self._owner_token_path()
            token = read_token(path)
            if token is None:
                identity, minted = await self.mint_participant()
                if not minted:
                    raise BackendError(f"{self.host} minted an identity without a token")
                token = minted
                write_token(path, token)
            else:
                found = identity_from_token(token)
                if found is None:
                    raise BackendError(f"{path}: not a token this daemon minted")
                identity = found
            await self.open_participant(identity, token)
            self._owner = identity
            await self._name_owner(identity)
            return identity

    async def _name_owner(self, identity: Identity) -> None:
        """client_connected made a person profile `user_<short>`: name it after the Unix user
        (the next free of `<user>`, `<user>-2`, ...)."""
        for _ in range(50):
            profile = self.store.profile(identity)
            if profile is not None:
                break
            await asyncio.sleep(0.1)
        else:
            raise BackendUnavailable("the owner's profile did not arrive from the server")
        if profile.username != f"user_{identity.short()}":
            return
        for name in name_candidates(default_owner_name()):
            try:
                await self._participant_call(identity, "register_user",
                                             [name, profile.display_name, False])
                return
            except ReducerFailed as e:
                if "taken" not in e.message:
                    raise

    def _committed_earlier(self, reducer: str, values: tuple[Any, ...]) -> Changes | None:
        """A retry of a call whose outcome was unknown: if its message is in the cache now,
        it did commit; answer with it instead of sending it again."""
        for i, (r, v, mark) in enumerate(self._uncertain):
            if r != reducer or v != values:
                continue
            del self._uncertain[i]
            if reducer != "send_message" or "messages" not in self._subscribed:
                return None
            channel_id, content, thread_id, reply_to, mtype = values
            for msg in self.store.messages_after(mark):
                if (msg.sender == self.identity and msg.channel_id == channel_id
                        and msg.content == content and msg.thread_id == thread_id
                        and msg.reply_to_id == reply_to and msg.message_type == mtype):
                    log.info("send_message %d had committed before the connection dropped",
                             msg.id)
                    return Changes({"message": TableChanges([msg], [])})
            return None
        return None

    def status(self) -> dict[str, Any]:
        st = self.conn.stats if self.conn is not None else None
        failed = sorted(self._failed.items())
        return {
            "backend": self.name,
            "host": self.host,
            "database": self.database,
            "database_name": self._database,
            # never "connected" while the server refuses one of our subscriptions
            "connection": ("subscription failed" if failed and st is not None
                           and st.state == "connected"
                           else st.state if st is not None else "stopped"),
            "reconnects": st.reconnects if st is not None else 0,
            "connects": st.connects if st is not None else 0,
            "last_error": (f"the server refused the {failed[0][0]} subscription: "
                           f"{failed[0][1]}" if failed
                           else st.last_error if st is not None else None),
            "subscription_lag_ms": (round(self.last_lag_ms, 1)
                                    if self.last_lag_ms is not None else None),
            "last_update_age_s": (round(time.time() - self.last_update_at, 1)
                                  if self.last_update_at is not None else None),
            "subscriptions": sorted(self._subscribed),
            "subscription_errors": self.subscription_errors[-5:],
            "message_high_water": self._store.last_message_id() if self._store else None,
            "cache_ready": self.cache_ready,
            "message_floor": self._message_floor() if self._store else None,
            "calls": self.calls,
            "refusals": self.refusals,
            "uncertain_calls": len(self._uncertain),
            "database_resets": self.resets,
        }

    # -- subscriptions -----------------------------------------------------------------------

    def _message_floor(self) -> int:
        """The id the cache follows the messages from (exclusive): 0, or where a first start
        on an empty cache began."""
        try:
            return int(self.store.meta_get(FLOOR_KEY) or 0)
        except ValueError:
            return 0

    def _message_queries(self) -> list[str]:
        """From the W-th newest cached message on: those W rows come again, so what was
        edited or deleted there while we were away is seen (and, while connected, their
        later edits and deletions arrive as updates)."""
        oldest_kept = self.store.nth_newest_message_id(RECONCILE_WINDOW)
        low = max(self._message_floor(), oldest_kept - 1 if oldest_kept else 0)
        self._message_low = low
        return [f"SELECT * FROM message WHERE id > {low}"]

    async def _first_sync(self) -> None:
        """An empty cache follows the last FIRST_SYNC_MESSAGES messages, not the whole history.

        They are counted with OneOffQuery reads of ever older windows of `created_at` (the
        first with no upper end, so a server clock ahead of ours is no matter): the
        WebSocket's query grammar (SpacetimeDB's subscription grammar, for OneOffQuery too)
        has no LIMIT, ORDER BY nor aggregate, and reads by time are bounded where `id > 0` is
        not. Messages, not ids: the ids jump by 4096 at every server restart. Then the
        messages subscription starts at the oldest of them. A server that refuses the query
        gets the whole history."""
        conn = self.conn
        while conn is not None and conn.connected and self._need_floor:
            try:
                floor = await self._first_sync_floor(conn)
            except StdbError as e:  # the connection dropped: again once it is back
                log.info("counting the newest messages failed: %s", e)
                await asyncio.sleep(0.05)
                continue
            if self._need_floor and self.conn is conn:
                self._start_messages(conn, floor)
            return

    async def _first_sync_floor(self, conn: Connection) -> int:
        """The id below the FIRST_SYNC_MESSAGES-th newest message; 0 if there are fewer."""
        now = time.time()
        ids: list[int] = []
        try:
            for newer, older in itertools.pairwise(SYNC_WINDOWS_S):
                sql = f"SELECT * FROM message WHERE created_at > '{_rfc3339(now - older)}'"
                if newer:
                    sql += f" AND created_at <= '{_rfc3339(now - newer)}'"
                found = (await conn.query(sql, timeout=CALL_TIMEOUT)).get("message", [])
                ids.extend(m.id for m in found)
                if len(ids) >= FIRST_SYNC_MESSAGES:
                    return int(sorted(ids, reverse=True)[FIRST_SYNC_MESSAGES - 1]) - 1
        except QueryError as e:
            log.warning("cannot count the newest messages (%s): following the whole history", e)
        return 0

    def _start_messages(self, conn: Connection, floor: int) -> None:
        log.info("empty cache: following the messages from id %d", floor + 1)
        self.store.meta_set(FLOOR_KEY, str(floor))
        self._need_floor = False
        conn.subscribe("messages", self._message_queries)

    def _private_queries(self) -> list[str]:
        me = f"0x{self.identity.hex}"
        return [
            f"SELECT * FROM direct_conversation WHERE participant_a = {me}",
            f"SELECT * FROM direct_conversation WHERE participant_b = {me}",
            "SELECT * FROM direct_message",  # the module's row-level security: our DMs only
            f"SELECT * FROM system_notification WHERE target = {me}",
            f"SELECT * FROM channel_read_state WHERE identity = {me}",
            # the module's row-level security: the items of this machine's sessions
            "SELECT * FROM inbox_item",
        ]

    def _on_event(self, event: Event) -> None:
        if self._discarding and not isinstance(event, ConnectedEvent):
            return
        if isinstance(event, ConnectedEvent):
            self._discarding = False
            if self._identity is not None and event.identity != self._identity:
                log.error("the server says we are %s, the token says %s",
                          event.identity.hex, self._identity.hex)
            log.info("connected to %s as %s%s", self.database, event.identity.hex,
                     " (reconnect)" if event.reconnect else "")
            self._set_state(f"connected to {self.database}, subscribing"
                            f"{self._reconnects_text()}")
            if self._need_floor and (self._floor_task is None or self._floor_task.done()):
                self._floor_task = asyncio.get_running_loop().create_task(self._first_sync())
        elif isinstance(event, DisconnectedEvent):
            self._subscribed.clear()
            log.warning("disconnected from %s: %s", self.database, event.reason)
            self._set_state(f"offline: {event.reason}; reconnecting to {self.database}, "
                            "writes wait" + self._reconnects_text())
        elif isinstance(event, SubscribedEvent):
            self._on_subscribed(event)
        elif isinstance(event, SubscriptionErrorEvent):
            self._subscribed.discard(event.key)
            self._failed[event.key] = event.error
            self._settled_event(event.key).set()
            self.subscription_errors.append(f"{event.key}: {event.error}")
            log.error("subscription %s failed: %s", event.key, event.error)
            self._set_state(f"connected to {self.database}, but the server refused the "
                            f"{event.key} subscription: {event.error}")
        elif isinstance(event, TransactionEvent):
            self._on_transaction(event)

    def _on_subscribed(self, event: SubscribedEvent) -> None:
        store = self.store
        rows: dict[str, list[Any]] = {}
        for delta in event.tables:
            rows.setdefault(delta.table, []).extend(delta.inserts)
        if event.key == "public" and self._database_was_reset(rows.get("server", [])):
            return
        changes = Changes()
        if event.key == "messages":
            # Reconcile the window: every row with id > low is in `got` as the server has it
            # now; a cached row there that is missing was deleted, one that differs was
            # edited; new rows come in id order; rows already cached as they are, not at all.
            got = {r.id: r for r in rows.get("message", [])}
            cached = {m.id: m for m in store.messages_after(self._message_low)}
            deletes = [m for i, m in cached.items() if got.get(i) != m]
            inserts = [got[i] for i in sorted(got) if cached.get(i) != got[i]]
            if inserts or deletes:
                changes.tables["message"] = TableChanges(inserts, deletes)
        else:
            tables = PUBLIC_TABLES if event.key == "public" else PRIVATE_TABLES
            for name in tables:
                pk = TABLE_BY_NAME[name].primary_key
                old = {getattr(r, pk): r for r in store.rows(name)}
                new = {getattr(r, pk): r for r in rows.get(name, [])}
                deletes = [r for k, r in old.items() if new.get(k) != r]
                inserts = [r for k, r in new.items() if old.get(k) != r]
                if deletes or inserts:
                    changes.tables[name] = TableChanges(inserts, deletes)
        if not changes.is_empty():
            store.apply(changes)
        self._subscribed.add(event.key)
        self._failed.pop(event.key, None)
        self._settled_event(event.key).set()
        if self._subscribed >= set(GROUPS):
            if not self._synced:
                self._synced = True
                store.meta_set(SYNCED_KEY, "1")
            self._set_state(f"subscribed to {self.database}{self._reconnects_text()}")
        if event.key == "public" and (self._register_task is None
                                      or self._register_task.done()):
            self._register_task = asyncio.get_running_loop().create_task(self._register())
        if not changes.is_empty():
            self._publish(changes)

    def _settled_event(self, key: str) -> asyncio.Event:
        return self._settled.setdefault(key, asyncio.Event())

    def _reconnects_text(self) -> str:
        n = self.conn.stats.reconnects if self.conn is not None else 0
        return f" ({n} reconnect{'' if n == 1 else 's'})" if n else ""

    def _database_was_reset(self, servers: list[Any]) -> bool:
        """The cache belongs to an earlier life of the database (republished with its data
        deleted: the first server is not the one we knew). Then the cached messages and
        private rows are dropped and the connection starts over from an empty mark."""
        if not servers:
            return False
        hub = min(servers, key=lambda s: s.id)
        fingerprint = f"{hub.id}:{hub.owner.hex}:{hub.created_at}"
        known = self.store.meta_get(FINGERPRINT_KEY)
        if known == fingerprint:
            return False
        self.store.meta_set(FINGERPRINT_KEY, fingerprint)
        if known is None:
            return False
        log.warning("the database %s was reset: dropping the cache and resubscribing",
                    self.database)
        self.resets += 1
        self.store.clear()
        self.store.meta_set(SYNCED_KEY, "0")
        self.store.meta_set(FLOOR_KEY, "0")  # a new database: its whole (short) history
        self._synced = False
        self._subscribed.clear()
        self._failed.clear()
        self._discarding = True
        if self.conn is not None:
            asyncio.get_running_loop().create_task(self.conn.drop())
        return True

    def _changes_of(self, deltas: Sequence[TableDelta]) -> Changes:
        changes = Changes()
        for d in deltas:
            tc = changes.tables.setdefault(d.table, TableChanges())
            tc.inserts.extend(d.inserts)
            tc.deletes.extend(d.deletes)
        return changes

    def _on_transaction(self, event: TransactionEvent) -> None:
        changes = self._changes_of(event.deltas)
        if changes.is_empty():
            return
        now = time.time()
        self.last_update_at = now
        if event.caller_request is None:
            created = [m.created_at for m in changes.inserted("message")]
            if created:
                self.last_lag_ms = max(0.0, now * 1000 - max(created) / 1000)
        self.store.apply(changes)
        self._publish(changes)

    # -- our profile -------------------------------------------------------------------------

    async def _register(self) -> None:
        """Name our profile as an agent (`<user>-<host>` or the configured name), as the
        embedded backend does, once the server has created the default profile."""
        wanted = self.agent_name or default_agent_name()
        for _ in range(20):
            profile = self.store.profile(self.identity)
            if profile is not None:
                break
            await asyncio.sleep(0.1)
        else:
            return
        if profile.is_agent and (profile.username == wanted or (
                self.agent_name is None and profile.username != f"user_{self.identity.short()}")):
            return
        for name in name_candidates(wanted):
            try:
                await self.call("register_user", [name, profile.display_name, True])
                return
            except ReducerFailed as e:
                if "taken" not in e.message:
                    log.warning("cannot name our profile %r: %s", name, e.message)
                    return
            except BackendError as e:
                log.warning("cannot name our profile yet: %s", e.message)
                self._register_task = None
                return

    def __repr__(self) -> str:
        return f"SpacetimeBackend({self.database})"


def create_backend(config: Config) -> SpacetimeBackend:
    """The daemon's factory (spacesd.daemon.main.make_backend): host, database, token,
    identity name and compression from `spacesd.config.Config` (which read the environment:
    SPACETIMEDB_HOST, SPACETIMEDB_DATABASE, SPACETIMEDB_TOKEN, SPACES_STDB_COMPRESSION...)."""
    host, database = config.host, config.database
    if not host or not database:
        raise RuntimeError("the spacetimedb backend needs a host and a database "
                           "(SPACETIMEDB_HOST and SPACETIMEDB_DATABASE, or spacetime.json)")
    # gzip pays off across a network; on loopback it only costs time
    wanted = config.stdb_compression or (
        "none" if Endpoint.parse(host).host in ("127.0.0.1", "localhost", "::1") else "gzip")
    compression: CompressionChoice = "gzip" if wanted == "gzip" else "none"
    return SpacetimeBackend(host=host, database=database, token=config.token or None,
                            agent_name=config.identity_name, compression=compression)
