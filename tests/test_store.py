"""The SQLite store: schema from the model, CRUD, auto ids, reads, apply, Changes, durability."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from spacesd import model
from spacesd.model import (
    Channel,
    ChannelType,
    DirectConversation,
    DirectMessage,
    Identity,
    MemberRole,
    Message,
    MessageType,
    Reaction,
    Server,
    ServerMember,
    SystemNotification,
    Thread,
    TypingIndicator,
    UserPresence,
    UserProfile,
)
from spacesd.store import Changes, Store, TableChanges

A = Identity(0xA1)
B = Identity((1 << 256) - 1)  # the largest identity survives the round trip
T0 = 1_795_000_000_000_000


@pytest.fixture
def store() -> Store:
    return Store(":memory:")


def text_message(channel_id: int, content: str, thread_id: int | None = None,
                 sender: Identity = A) -> Message:
    return Message(0, channel_id, thread_id, sender, content, MessageType.Text, T0, None, None)


def test_schema_has_every_table_with_model_columns_in_order(store: Store) -> None:
    for table in model.TABLES:
        info = store.conn.execute(f"PRAGMA table_info({table.name})").fetchall()
        assert [row[1] for row in info] == list(table.column_names)
        pk = [row[1] for row in info if row[5]]
        assert pk == [table.primary_key]


def test_identities_are_32_byte_blobs_and_round_trip(store: Store) -> None:
    store.insert(UserProfile(B, "maxi", None, None, None, False, T0))
    raw = store.conn.execute("SELECT identity FROM user_profile").fetchone()[0]
    assert raw == b"\xff" * 32
    assert store.profile(B) == UserProfile(B, "maxi", None, None, None, False, T0)


def test_every_table_round_trips_its_row_types(store: Store) -> None:
    rows = [
        UserProfile(A, "alice", "Alice", "https://a", "bio", True, T0),
        UserPresence(A, True, "busy", T0),
        Server(0, "S", "d", None, A, T0),
        ServerMember(0, 1, A, MemberRole.Moderator, T0),
        Channel(0, 1, "c", None, ChannelType.AgentLog, 4_294_967_295, T0),
        Thread(0, 1, "t", B, T0, True, T0 + 1),
        Message(0, 1, 1, A, "é😀", MessageType.AgentEvent, T0, T0 + 5, 1),
        Reaction(0, 1, B, "👍"),
        model.ChannelReadState(0, A, 1, 9),
        DirectConversation(0, A, B, T0, T0),
        DirectMessage(0, 1, B, "hi", T0, None, False),
        TypingIndicator(0, 1, A, T0),
        SystemNotification(0, B, "title", "body", T0),
    ]
    for row in rows:
        stored = store.insert(row)
        table = model.TABLE_BY_ROW[type(row)]
        fetched = store.get(table.name, getattr(stored, table.primary_key))
        assert fetched == stored
        for column in table.columns:
            value = getattr(fetched, column.name)
            if column.type.kind == "Enum":
                assert type(value) is column.type.enum
            if column.type.kind == "bool":
                assert type(value) is bool


def test_auto_inc_ids_start_at_1_and_are_never_reused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store(path) as store:
        first = store.insert(text_message(1, "a"))
        second = store.insert(text_message(1, "b"))
        assert (first.id, second.id) == (1, 2)
        store.delete("message", 2)
        assert store.insert(text_message(1, "c")).id == 3
        store.delete("message", 3)
        store.delete("message", 1)
    with Store(path) as store:
        assert store.insert(text_message(1, "d")).id == 4
        # a non-zero id is kept (rows mirrored from a server); later ids continue after it
        store.insert(Message(10, 1, None, A, "x", MessageType.Text, T0, None, None))
        assert store.insert(text_message(1, "e")).id == 11


def test_update_and_delete(store: Store) -> None:
    server = store.insert(Server(0, "S", None, None, A, T0))
    old = store.update(Server(server.id, "S2", "desc", None, A, T0))
    assert old == server
    assert store.server(server.id) == Server(server.id, "S2", "desc", None, A, T0)
    assert store.delete("server", server.id) == Server(server.id, "S2", "desc", None, A, T0)
    assert store.server(server.id) is None
    assert store.delete("server", server.id) is None
    with pytest.raises(KeyError):
        store.update(Server(999, "nope", None, None, A, T0))


def test_usernames_are_unique(store: Store) -> None:
    store.insert(UserProfile(A, "same", None, None, None, False, T0))
    with pytest.raises(sqlite3.IntegrityError):
        store.insert(UserProfile(B, "same", None, None, None, False, T0))


def test_ids_beyond_sqlite_range_find_nothing(store: Store) -> None:
    store.insert(text_message(1, "a"))
    assert store.get("message", (1 << 64) - 1) is None
    assert store.select("message", channel_id=(1 << 63)) == []
    assert store.recent_messages((1 << 64) - 1, 10) == []
    assert store.channels((1 << 64) - 1) == []


def test_recent_messages_oldest_first_with_limit_before_and_thread(store: Store) -> None:
    for i in range(10):
        store.insert(text_message(1, f"c1-{i}", thread_id=7 if i % 3 == 0 else None))
        store.insert(text_message(2, f"c2-{i}"))
    recent = store.recent_messages(1, 3)
    assert [m.content for m in recent] == ["c1-7", "c1-8", "c1-9"]
    before = store.recent_messages(1, 2, before_id=recent[0].id)
    assert [m.content for m in before] == ["c1-5", "c1-6"]
    threaded = store.recent_messages(1, 10, thread_id=7)
    assert [m.content for m in threaded] == ["c1-0", "c1-3", "c1-6", "c1-9"]
    assert [m.content for m in store.recent_messages(1, 2, thread_id=7, before_id=threaded[-1].id)
            ] == ["c1-3", "c1-6"]
    assert store.recent_messages(1, 0) == []
    assert store.recent_messages(3, 5) == []


def test_recent_messages_use_the_channel_index(store: Store) -> None:
    def plan(sql: str, *params: object) -> str:
        rows = store.conn.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
        return " | ".join(str(r[-1]) for r in rows)

    channel_plan = plan("SELECT * FROM message WHERE channel_id = ? AND id < ? "
                        "ORDER BY id DESC LIMIT ?", 1, 10, 5)
    assert "message_channel" in channel_plan and "TEMP B-TREE" not in channel_plan
    thread_plan = plan("SELECT * FROM message WHERE thread_id = ? AND channel_id = ? "
                       "ORDER BY id DESC LIMIT ?", 1, 1, 5)
    assert "message_thread" in thread_plan and "TEMP B-TREE" not in thread_plan


def test_recent_messages_stay_fast_in_a_big_table(store: Store) -> None:
    blob = A.value.to_bytes(32, "big")
    n = 200_000
    store.conn.execute("BEGIN")
    store.conn.executemany(
        "INSERT INTO message (channel_id, thread_id, sender, content, message_type, created_at,"
        " edited_at, reply_to_id) VALUES (?, NULL, ?, ?, 0, ?, NULL, NULL)",
        ((i % 50, blob, f"m{i}", T0 + i) for i in range(n)))
    store.conn.execute("COMMIT")
    start = time.perf_counter()
    for channel in range(50):
        found = store.recent_messages(channel, 20)
        assert len(found) == 20 and found[-1].id > found[0].id
    assert (time.perf_counter() - start) / 50 < 0.005


def test_lookups_the_daemon_uses(store: Store) -> None:
    hub = store.insert(Server(0, "Hub", None, None, A, T0))
    other = store.insert(Server(0, "Other", None, None, B, T0))
    store.insert(ServerMember(0, hub.id, A, MemberRole.Owner, T0))
    store.insert(ServerMember(0, other.id, A, MemberRole.Member, T0))
    store.insert(ServerMember(0, other.id, B, MemberRole.Owner, T0))
    late = store.insert(Channel(0, hub.id, "late", None, ChannelType.Text, 5, T0))
    early = store.insert(Channel(0, hub.id, "early", "t", ChannelType.Voice, 0, T0))
    elsewhere = store.insert(Channel(0, other.id, "early", None, ChannelType.Text, 0, T0))
    store.insert(UserProfile(A, "alice", None, None, None, False, T0))

    assert store.channel_by_name(hub.id, "early") == early
    assert store.channel_by_name(other.id, "early") == elsewhere
    assert store.channel_by_name(hub.id, "missing") is None
    assert store.channels(hub.id) == [early, late]
    assert store.channels() == [early, late, elsewhere]
    assert store.profile_by_username("alice") == store.profile(A)
    assert store.profile_by_username("bob") is None
    member = store.member(other.id, B)
    assert member is not None and member.role == MemberRole.Owner
    assert store.member(hub.id, B) is None
    assert [s.name for s in store.servers_of(A)] == ["Hub", "Other"]
    assert [s.name for s in store.servers_of(B)] == ["Other"]
    assert store.count("channel") == 3
    assert store.counts()["server_member"] == 3
    assert [m.identity for m in store.rows_where("server_member", "server_id", other.id)] == [A, B]
    assert len(store.rows("server")) == 2
    assert [m.role for m in store.select("server_member", role=MemberRole.Owner)] == [
        MemberRole.Owner, MemberRole.Owner]


def test_apply_deletes_then_inserts_by_primary_key(store: Store) -> None:
    store.insert(UserProfile(A, "alice", None, None, None, False, T0))
    m1 = store.insert(text_message(1, "one"))
    m2 = store.insert(text_message(1, "two"))
    edited = Message(m1.id, 1, None, A, "one!", MessageType.Text, T0, T0 + 1, None)
    remote = Message(40, 2, None, B, "from the server", MessageType.Text, T0, None, None)
    # username moves from A to B in one transaction: deletes first keeps it unique
    changes = Changes({
        "message": TableChanges(inserts=[edited, remote], deletes=[m1, m2]),
        "user_profile": TableChanges(
            inserts=[UserProfile(B, "alice", None, None, None, False, T0)],
            deletes=[UserProfile(A, "alice", None, None, None, False, T0)]),
    })
    store.apply(changes)
    store.apply(changes.tables)  # applying twice is harmless
    assert store.rows("message") == [edited, remote]
    assert store.profile(A) is None
    profile = store.profile_by_username("alice")
    assert profile is not None and profile.identity == B
    assert store.insert(text_message(1, "next")).id == 41


def test_apply_is_atomic(store: Store) -> None:
    store.insert(text_message(1, "keep"))
    bad = Changes({"message": TableChanges(deletes=[store.rows("message")[0]]),
                   "no_such_table": TableChanges()})
    with pytest.raises(KeyError):
        store.apply(bad)
    assert store.count("message") == 1


def test_recording_reports_net_changes_as_spacetimedb_does(store: Store) -> None:
    kept = store.insert(Server(0, "Kept", None, None, A, T0))
    with store.recording() as changes:
        created = store.insert(Server(0, "Made", None, None, A, T0))
        temp = store.insert(Server(0, "Temp", None, None, A, T0))
        store.delete_row(temp)                                  # inserted then deleted: nothing
        store.update(Server(kept.id, "Kept2", None, None, A, T0))  # update: delete + insert
        store.update(Server(created.id, "Made2", None, None, A, T0))  # insert, then update
        same = store.get("server", kept.id)
        store.update(same)                                      # identical: nothing more
    result = changes()
    assert result.inserted("server") == [Server(kept.id, "Kept2", None, None, A, T0),
                                         Server(created.id, "Made2", None, None, A, T0)]
    assert result.deleted("server") == [kept]
    assert list(result.tables) == ["server"]
    assert not result.is_empty()
    assert Changes().is_empty() and result.inserted("message") == []


def test_a_failed_transaction_leaves_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.insert(text_message(1, "lost"))
        raise RuntimeError("boom")
    assert store.count("message") == 0
    with store.transaction():
        store.insert(text_message(1, "kept"))
        with pytest.raises(RuntimeError), store.savepoint():
            store.insert(text_message(1, "rolled back alone"))
            raise RuntimeError("boom")
    assert [m.content for m in store.rows("message")] == ["kept"]


def test_files_are_wal_with_full_sync_and_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "spaces.db"
    with Store(path) as store:
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        with store.transaction():
            store.insert(text_message(1, "durable"))
        store.meta_set("k", "v")
    with Store(path) as store:
        assert [m.content for m in store.rows("message")] == ["durable"]
        assert store.meta_get("k") == "v"
        assert store.meta_get("missing") is None


def test_two_connections_share_a_file(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    writer, reader = Store(path), Store(path)
    try:
        with writer.transaction():
            writer.insert(text_message(1, "seen by the reader"))
        assert [m.content for m in reader.recent_messages(1, 5)] == ["seen by the reader"]
    finally:
        writer.close()
        reader.close()


def test_clear_empties_tables_without_reusing_ids(store: Store) -> None:
    store.insert(text_message(1, "a"))
    store.clear(["message"])
    assert store.count("message") == 0
    assert store.insert(text_message(1, "b")).id == 2


def test_unknown_tables_and_columns_are_errors(store: Store) -> None:
    with pytest.raises(KeyError):
        store.rows("nope")
    with pytest.raises(KeyError):
        store.select("message", nope=1)
    with pytest.raises(TypeError):
        store.insert(object())


def test_a_file_from_before_the_join_policy_gets_the_column(tmp_path: Path) -> None:
    # A spaces.sqlite made before `server.invite_only` existed: its servers stay open.
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE server (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL,"
                 " description TEXT, icon_url TEXT, owner BLOB NOT NULL,"
                 " created_at INTEGER NOT NULL)")
    conn.execute("INSERT INTO server (name, owner, created_at) VALUES ('Old', ?, 5)",
                 (bytes(32),))
    conn.commit()
    conn.close()
    with Store(path) as store:
        assert store.rows("server") == [model.Server(1, "Old", None, None, Identity(0), 5, False)]
        store.insert(model.Server(0, "New", None, None, Identity(0), 6, True))
    with Store(path) as store:
        assert [s.invite_only for s in store.rows("server")] == [False, True]
