"""The daemon's SpacetimeDB backend (spacesd.daemon.spacetimedb) in process, against the test
server: cache, reads, writes, refusals, private rows, restarts of either side, and a call whose
connection drops after its commit (retried without a duplicate)."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

import pytest

from spacesd.daemon.backend import BackendUnavailable, BadArguments, ReducerFailed
from spacesd.daemon.spacetimedb import SpacetimeBackend, create_backend, identity_from_token
from spacesd.model import MemberRole
from spacesd.stdb.connection import Backoff
from spacesd.store import Changes, Store

sys.path.insert(0, str(Path(__file__).resolve().parent))
from real_stdb import RealServer
from stdb_server import TestServer
from testutil import free_port, run, wait_until


async def make_backend(url: str, data: Path, name: str, database: str = "spaces"
                       ) -> SpacetimeBackend:
    b = SpacetimeBackend(host=url, database=database, data_dir=data, agent_name=name)
    await b.start()
    assert b.conn is not None
    b.conn.backoff = Backoff(initial=0.05, cap=0.3)
    return b


def test_two_backends_share_the_database(tmp_path: Path) -> None:
    async def main() -> None:
        server = TestServer(tmp_path / "srv")
        await server.start()
        a = await make_backend(server.url, tmp_path / "a", "agent-a")
        b = await make_backend(server.url, tmp_path / "b", "agent-b")
        try:
            assert a.identity != b.identity
            assert a.username == "agent-a" and b.username == "agent-b"
            member = a.store.member(1, a.identity)
            assert member is not None and member.role == MemberRole.Agent
            seen: list[Changes] = []
            b.add_listener(seen.append)
            changes = await a.call("send_message", [1, "hello b", None, None, "Text"])
            (msg,) = changes.inserted("message")
            assert msg.content == "hello b" and msg.sender == a.identity
            assert a.store.message(msg.id) == msg  # in the caller's cache on return
            await wait_until(lambda: b.store.message(msg.id) is not None)
            assert any(c.inserted("message") == [msg] for c in seen)
            with pytest.raises(ReducerFailed) as err:
                await a.call("create_channel", [1, "ops", None, "Text"])
            assert err.value.message == "only Admins and the Owner can create channels"
            with pytest.raises(BadArguments):
                await a.call("send_message", ["one", "x"])
            # DMs reach only their participants' caches
            await a.call("start_dm", [b.identity.hex])
            await wait_until(lambda: b.store.conversation_between(a.identity, b.identity)
                             is not None)
            conv = b.store.conversation_between(a.identity, b.identity)
            assert conv is not None
            await b.call("send_dm", [conv.id, "psst"])
            await wait_until(lambda: len(a.store.rows("direct_message")) == 1)
            c = await make_backend(server.url, tmp_path / "c", "agent-c")
            assert c.store.rows("direct_conversation") == []
            assert c.store.rows("direct_message") == []
            await c.stop()
            st = a.status()
            assert st["connection"] == "connected" and st["reconnects"] == 0
            assert st["host"] == server.url and st["database_name"] == "spaces"
            assert b.status()["subscription_lag_ms"] is not None
        finally:
            await a.stop()
            await b.stop()
            await server.stop()

    run(main())


def test_uncertain_call_is_not_sent_twice(tmp_path: Path) -> None:
    """The server commits a send_message and the connection drops before its result: the
    call is reported unavailable (the daemon queues it); the retry finds the committed row in
    the cache instead of sending a second copy."""

    async def main() -> None:
        port = free_port()
        server = TestServer(tmp_path / "srv", port=port)
        await server.start()
        a = await make_backend(server.url, tmp_path / "a", "agent-a")
        try:
            server.drop_after_commit = 1
            args = [1, "exactly once", None, None, "Text"]
            with pytest.raises(BackendUnavailable):
                await a.call("send_message", args)
            await wait_until(lambda: a.available and "messages" in a.status()["subscriptions"])
            changes = await a.call("send_message", args)
            (msg,) = changes.inserted("message")
            assert msg.content == "exactly once"
            assert server.db is not None
            stored = [m for m in server.db.store.rows("message") if m.content == "exactly once"]
            assert len(stored) == 1 and stored[0].id == msg.id
            assert a.status()["reconnects"] == 1
            # a second, deliberate identical message is sent normally
            again = await a.call("send_message", args)
            assert again.inserted("message")[0].id != msg.id
        finally:
            await a.stop()
            await server.stop()

    run(main())


def test_offline_start_and_catch_up(tmp_path: Path) -> None:
    """A backend with a kept token starts while the server is down (identity from the token,
    reads from its cache), refuses writes as unavailable, and catches up when the server
    comes back, without duplicates."""

    async def main() -> None:
        port = free_port()
        server = TestServer(tmp_path / "srv", port=port)
        await server.start()
        a = await make_backend(server.url, tmp_path / "a", "agent-a")
        b = await make_backend(server.url, tmp_path / "b", "agent-b")
        await a.call("send_message", [1, "first", None, None, "Text"])
        await wait_until(lambda: any(m.content == "first" for m in b.store.rows("message")))
        b_identity = b.identity
        await b.stop()
        for i in range(3):
            await a.call("send_message", [1, f"while b is away {i}", None, None, "Text"])
        await server.stop()
        (cache,) = (tmp_path / "b" / "stdb-cache").glob("*.sqlite")
        with Store(cache) as old:  # a cache from before the synced flag: still readable
            old.conn.execute("DELETE FROM spaces_meta WHERE key = 'stdb_cache_synced'")
        b2 = SpacetimeBackend(host=server.url, database="spaces", data_dir=tmp_path / "b",
                              agent_name="agent-b")
        await b2.start()  # the server is down: starts from the token and the cache
        assert b2.conn is not None
        b2.conn.backoff = Backoff(initial=0.05, cap=0.3)
        try:
            assert b2.identity == b_identity
            assert not b2.available and b2.cache_ready
            assert any(m.content == "first" for m in b2.store.rows("message"))
            with pytest.raises(BackendUnavailable):
                await b2.call("send_message", [1, "x", None, None, "Text"])
            server = TestServer(tmp_path / "srv", port=port)
            await server.start()
            await wait_until(lambda: b2.available
                             and "messages" in b2.status()["subscriptions"])
            contents = [m.content for m in b2.store.rows("message")]
            assert contents.count("first") == 1
            assert [c for c in contents if c.startswith("while")] == [
                f"while b is away {i}" for i in range(3)]
        finally:
            await b2.stop()
            await a.stop()
            await server.stop()

    run(main())


def test_identity_from_token_and_factory(tmp_path: Path) -> None:
    from stdb_server import TokenAuthority

    from spacesd.config import load_config

    ident, token = TokenAuthority(b"k" * 32).mint()
    assert identity_from_token(token) == ident
    assert identity_from_token("opaque") is None
    env = {"HOME": str(tmp_path), "SPACETIMEDB_HOST": "http://127.0.0.1:3000",
           "SPACETIMEDB_DATABASE": "spaces"}
    backend = create_backend(load_config(tmp_path, env))
    assert isinstance(backend, SpacetimeBackend)
    assert backend.database == "http://127.0.0.1:3000/spaces"
    assert backend.compression == "none"
    env["SPACETIMEDB_HOST"] = "https://stdb.example.com"
    remote = create_backend(load_config(tmp_path, env))
    assert isinstance(remote, SpacetimeBackend) and remote.compression == "gzip"
    forced = create_backend(load_config(tmp_path, {**env, "SPACES_STDB_COMPRESSION": "none"}))
    assert forced.compression == "none"
    del env["SPACETIMEDB_DATABASE"]
    with pytest.raises(RuntimeError):
        create_backend(load_config(tmp_path, env))


def test_database_reset_drops_the_cache(tmp_path: Path) -> None:
    """The database is republished with its data deleted (a fresh server on the same port):
    the backend notices, drops its cached rows and starts over, rather than waiting for
    message ids above its old mark."""

    async def main() -> None:
        port = free_port()
        server = TestServer(tmp_path / "srv1", port=port)
        await server.start()
        a = await make_backend(server.url, tmp_path / "a", "agent-a")
        try:
            for i in range(5):
                await a.call("send_message", [1, f"old life {i}", None, None, "Text"])
            await server.stop()
            # the same host (same signing key: the token stays valid), a new database
            (tmp_path / "srv2").mkdir()
            (tmp_path / "srv2" / "secret.key").write_bytes(
                (tmp_path / "srv1" / "secret.key").read_bytes())
            server = TestServer(tmp_path / "srv2", port=port)
            await server.start()
            await wait_until(lambda: a.status()["database_resets"] == 1
                             and "messages" in a.status()["subscriptions"])
            contents = [m.content for m in a.store.rows("message")]
            assert not any(c.startswith("old life") for c in contents)
            changes = await a.call("send_message", [1, "new life", None, None, "Text"])
            assert changes.inserted("message")[0].content == "new life"
            assert a.username == "agent-a"
        finally:
            await a.stop()
            await server.stop()

    run(main())


def test_edits_and_deletions_while_away_are_reconciled(tmp_path: Path) -> None:
    """The server is killed and restarted; while B is still away, A edits one message,
    deletes another and posts new ones. When B is back its cache has the edit, not the
    deleted message, and every new message once, in order; its tail listeners got the edit
    and the deletion as `message_edited` / `message_deleted`, nothing it already had again.
    An edit older than the reconcile window is not seen (the documented limit)."""
    from spacesd.daemon import spacetimedb as backend_mod
    from spacesd.daemon import views

    async def main() -> None:
        port = free_port()
        server = TestServer(tmp_path / "srv", port=port)
        await server.start()
        a = await make_backend(server.url, tmp_path / "a", "agent-a")
        b = await make_backend(server.url, tmp_path / "b", "agent-b")
        try:
            sent = []
            for i in range(8):
                ch = await a.call("send_message", [1, f"before {i}", None, None, "Text"])
                sent.append(ch.inserted("message")[0].id)
            await wait_until(lambda: b.store.last_message_id() == sent[-1])
            events: list[dict[str, object]] = []
            b.add_listener(lambda c: events.extend(
                views.change_events(b.store, c, None, b.identity)))
            assert b.conn is not None
            b.conn.backoff = Backoff(initial=4.0, factor=1.0, cap=4.0)  # B stays away longer
            await server.stop()  # killed: both lose their connection
            await wait_until(lambda: not a.available and not b.available)
            server = TestServer(tmp_path / "srv", port=port)
            await server.start()
            await wait_until(lambda: a.available and "messages" in a.status()["subscriptions"])
            assert not b.available
            await a.call("edit_message", [sent[5], "before 5, edited"])
            await a.call("delete_message", [sent[6]])
            new = []
            for i in range(3):
                ch = await a.call("send_message", [1, f"after {i}", None, None, "Text"])
                new.append(ch.inserted("message")[0].id)
            # ids go on from the next block of 4096 after a restart, as on the real server
            assert new[0] > sent[-1] + 4000, (sent, new)
            with pytest.MonkeyPatch.context() as mp:
                mp.setattr(backend_mod, "RECONCILE_WINDOW", 4)  # the last 4 cached: sent[4..7]
                await a.call("edit_message", [sent[1], "before 1, edited (too old)"])
                await wait_until(lambda: b.available
                                 and "messages" in b.status()["subscriptions"], 15)
            edited = b.store.message(sent[5])
            assert edited is not None and edited.content == "before 5, edited"
            assert edited.edited_at is not None
            assert b.store.message(sent[6]) is None
            mine = [m.content for m in b.store.rows("message") if m.id >= sent[0]]
            assert mine == [*(f"before {i}" for i in range(5)), "before 5, edited",
                            "before 7", "after 0", "after 1", "after 2"]
            by_id = {m.id: m.content for m in b.store.rows("message")}
            assert by_id[sent[1]] == "before 1"  # older than the window: not seen
            assert [by_id[i] for i in new] == ["after 0", "after 1", "after 2"]
            kinds = [(e["event"], e["data"]["id"]) for e in events]  # type: ignore[index]
            assert kinds == [("message_deleted", sent[6]), ("message_edited", sent[5]),
                             *(("message", i) for i in new)], kinds
            assert b.status()["reconnects"] == 1
            # while connected, an edit inside the window arrives as an update
            events.clear()
            await a.call("edit_message", [sent[7], "before 7, edited live"])
            await wait_until(lambda: bool(events))
            assert [(e["event"], e["data"]["id"]) for e in events] == [  # type: ignore[index]
                ("message_edited", sent[7])]
        finally:
            await a.stop()
            await b.stop()
            await server.stop()

    run(main())


def test_first_start_follows_only_the_recent_messages(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A first start on an empty cache counts the newest messages with OneOffQuery reads of
    created_at windows (here the newest window is empty: the messages are older than it) and
    follows the last FIRST_SYNC_MESSAGES messages only, however the ids jumped at a server
    restart; later messages arrive; a restart on that
    cache resumes from it, and the reconcile window never brings back older history."""
    from spacesd.daemon import spacetimedb as backend_mod

    monkeypatch.setattr(backend_mod, "FIRST_SYNC_MESSAGES", 10)
    monkeypatch.setattr(backend_mod, "RECONCILE_WINDOW", 1000)
    monkeypatch.setattr(backend_mod, "SYNC_WINDOWS_S", (0, 0.3, 3600, 86400))

    async def main() -> None:
        server = TestServer(tmp_path / "srv")
        await server.start()
        a = await make_backend(server.url, tmp_path / "a", "agent-a")
        b: SpacetimeBackend | None = await make_backend(server.url, tmp_path / "b", "agent-b")
        try:
            assert b is not None
            await b.stop()  # B has joined; its cache is lost, its token kept
            shutil.rmtree(tmp_path / "b" / "stdb-cache")
            ids = []
            for i in range(30):
                if i == 25:  # a server restart: the ids jump to the next block of 4096
                    await server.stop()
                    server = TestServer(tmp_path / "srv", port=server.port)
                    await server.start()
                    await wait_until(lambda: a.available, 15)
                ch = await a.call("send_message", [1, f"history {i}", None, None, "Text"])
                ids.append(ch.inserted("message")[0].id)
            assert ids[25] > ids[24] + 4000
            await asyncio.sleep(0.5)  # older than the first window
            b = await make_backend(server.url, tmp_path / "b", "agent-b")
            assert server.db is not None
            on_server = [m.id for m in server.db.store.rows("message")]
            floor = b.status()["message_floor"]
            # the last 10 messages, counted: not the last 10 ids (which hold only 5 of them)
            assert on_server[-1] == ids[-1] and floor == ids[-10] - 1
            cached = [m.id for m in b.store.rows("message")]
            assert cached == [i for i in on_server if i > floor]
            assert ids[-1] in cached and ids[0] not in cached
            assert b.cache_ready
            ch = await a.call("send_message", [1, "later", None, None, "Text"])
            later = ch.inserted("message")[0].id
            await wait_until(lambda: b is not None and b.store.message(later) is not None)
            await b.stop()
            b = await make_backend(server.url, tmp_path / "b", "agent-b")  # on its cache
            assert b.status()["message_floor"] == floor
            assert [m.id for m in b.store.rows("message")] == [*cached, later]
            assert b.status()["subscriptions"] == ["messages", "private", "public"]
        finally:
            await a.stop()
            if b is not None:
                await b.stop()
            await server.stop()

    run(main())


def test_first_start_on_an_empty_database(tmp_path: Path) -> None:
    """No message at all: every window is empty, the cache follows from id 0 and the first
    message arrives."""

    async def main() -> None:
        server = TestServer(tmp_path / "srv")
        await server.start()
        assert server.db is not None
        server.db.store.clear(["message"])
        a = await make_backend(server.url, tmp_path / "a", "agent-a")
        b = await make_backend(server.url, tmp_path / "b", "agent-b")
        try:
            assert b.status()["message_floor"] == 0 and b.cache_ready
            ch = await a.call("send_message", [1, "first ever", None, None, "Text"])
            msg = ch.inserted("message")[0]
            await wait_until(lambda: b.store.message(msg.id) == msg)
        finally:
            await a.stop()
            await b.stop()
            await server.stop()

    run(main())


def test_a_write_right_after_the_first_connect_returns_its_row(tmp_path: Path) -> None:
    """An empty cache, the server down at start: the first write made the moment the link is
    up waits for the messages subscription (sent after _first_sync), so its result holds the
    message it committed (the daemon answers `send` with it)."""

    async def main() -> None:
        port = free_port()
        server = TestServer(tmp_path / "srv", port=port)
        await server.start()
        b = await make_backend(server.url, tmp_path / "b", "agent-b")
        await b.stop()
        await server.stop()
        shutil.rmtree(tmp_path / "b" / "stdb-cache")
        b2 = SpacetimeBackend(host=server.url, database="spaces", data_dir=tmp_path / "b",
                              agent_name="agent-b")
        await b2.start()
        assert b2.conn is not None
        b2.conn.backoff = Backoff(initial=0.05, cap=0.1)
        server = TestServer(tmp_path / "srv", port=port)
        await server.start()
        try:
            while not b2.available:
                await asyncio.sleep(0)
            changes = await b2.call("send_message", [1, "first words", None, None, "Text"])
            (msg,) = changes.inserted("message")
            assert msg.content == "first words" and b2.store.message(msg.id) == msg
        finally:
            await b2.stop()
            await server.stop()

    run(main())


@pytest.mark.parametrize("kind", ["stand-in", "real"])
def test_a_refused_subscription_is_not_connected(kind: str, tmp_path: Path,
                                                 request: pytest.FixtureRequest,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The server refuses one of the daemon's query sets (as SpacetimeDB 2.8 refused the
    private group while the module's RLS join was written the other way): status must not say
    "connected" but name the refusal; writes go on and reads answer from the cache."""
    original = SpacetimeBackend._private_queries

    def refused(self: SpacetimeBackend) -> list[str]:
        return [*original(self), "SELECT * FROM no_such_table"]

    monkeypatch.setattr(SpacetimeBackend, "_private_queries", refused)

    async def main() -> None:
        server: TestServer | None = None
        if kind == "stand-in":
            server = TestServer(tmp_path / "srv")
            await server.start()
            url, database = server.url, "spaces"
        else:
            real: RealServer = request.getfixturevalue("real_stdb")
            url, database = real.url, real.publish()
        a = await make_backend(url, tmp_path / "a", "agent-a", database)
        try:
            st = a.status()
            assert st["connection"] == "subscription failed", st
            assert st["last_error"].startswith("the server refused the private subscription: ")
            assert "no_such_table" in st["last_error"], st["last_error"]
            assert st["subscriptions"] == ["messages", "public"]
            assert a.state_text is not None and "refused the private" in a.state_text
            assert a.cache_ready  # reads answer from what the cache holds
            changes = await a.call("send_message", [1, "still writing", None, None, "Text"])
            (msg,) = changes.inserted("message")
            assert a.store.message(msg.id) == msg
        finally:
            await a.stop()
            if server is not None:
                await server.stop()

    run(main())
