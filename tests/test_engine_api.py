"""The Engine's public API: call, call_many (group commit), ensure_initialized, coerce_args,
argument checking, and what a refusal leaves behind (nothing)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from spacesd import model
from spacesd.engine import Changes, Engine, ReducerError, coerce_args, errors
from spacesd.engine.context import REDUCER_FUNCTIONS
from spacesd.model import ChannelType, Identity, MemberRole, MessageType
from spacesd.store import Store

OWNER = Identity(0x0E)
ALICE = Identity(0xA11CE << 200)
BOT = Identity(0xB07 << 180)


@pytest.fixture
def engine() -> Iterator[Engine]:
    store = Store(":memory:")
    engine = Engine(store, OWNER)
    engine.ensure_initialized()
    yield engine
    store.close()


def connect(engine: Engine, who: Identity, username: str, agent: bool = False) -> None:
    engine.call(who, "client_connected", [], host=True)
    engine.call(who, "register_user", [username, None, agent])


def general(engine: Engine) -> int:
    assert engine.hub_id is not None
    channel = engine.store.channel_by_name(engine.hub_id, "general")
    assert channel is not None
    return channel.id


def snapshot(store: Store) -> dict[str, list[Any]]:
    return {t.name: store.rows(t.name) for t in model.TABLES}


# --------------------------------------------------------------------------------------------
# init


def test_ensure_initialized_runs_init_once(tmp_path: Path) -> None:
    path = tmp_path / "e.db"
    with Store(path) as store:
        engine = Engine(store, OWNER)
        assert not engine.initialized and engine.hub_id is None
        engine.ensure_initialized()
        engine.ensure_initialized()
        assert engine.initialized
        hub = store.server(engine.hub_id or 0)
        assert hub is not None and hub.name == model.HUB_NAME and hub.owner == OWNER
        assert [(c.name, c.channel_type, c.position) for c in store.channels(hub.id)] == list(
            model.HUB_CHANNELS)
        with pytest.raises(ReducerError) as refused:
            engine.call(OWNER, "init", [], host=True)
        assert refused.value.message == errors.ALREADY_INITIALIZED
        for reducer in ("init", "client_connected", "client_disconnected"):
            with pytest.raises(ReducerError) as refused:  # a client's call: the host's refusal
                engine.call(OWNER, reducer, [])
            assert refused.value.message == errors.lifecycle_reducer(reducer)
    with Store(path) as store:
        engine = Engine(store, OWNER)
        assert engine.initialized and engine.hub_id == hub.id
        engine.ensure_initialized()
        assert store.count("server") == 1


# --------------------------------------------------------------------------------------------
# call


def test_call_returns_the_changes(engine: Engine) -> None:
    connect(engine, ALICE, "alice")
    changes = engine.call(ALICE, "send_message",
                          [general(engine), "hello", None, None, MessageType.Text],
                          timestamp=1_800_000_000_000_000)
    assert isinstance(changes, Changes)
    (message,) = changes.inserted("message")
    assert (message.content, message.sender, message.created_at) == (
        "hello", ALICE, 1_800_000_000_000_000)
    assert engine.store.message(message.id) == message
    assert list(changes.tables) == ["message"]


def test_a_refusal_raises_and_changes_nothing(engine: Engine) -> None:
    connect(engine, ALICE, "alice")
    connect(engine, BOT, "bot", agent=True)
    before = snapshot(engine.store)
    with pytest.raises(ReducerError) as refused:
        engine.call(BOT, "create_server", ["Bots", None, None])
    assert refused.value.message == errors.AGENTS_CANNOT_CREATE_SERVERS
    assert str(refused.value) == errors.AGENTS_CANNOT_CREATE_SERVERS
    assert snapshot(engine.store) == before
    # a refusal after earlier writes of the same reducer is rolled back too:
    # register_user writes the profile before finding that an Owner cannot become an agent
    engine.call(ALICE, "create_server", ["Mine", None, None])
    before = snapshot(engine.store)
    with pytest.raises(ReducerError, match="an agent can only hold the Agent role"):
        engine.call(ALICE, "register_user", ["alice2", "Changed", True])
    assert snapshot(engine.store) == before


def test_reducers_that_need_a_profile_refuse_a_caller_without_one(engine: Engine) -> None:
    stranger = Identity(0x5)
    calls: list[tuple[str, list[Any]]] = [
        ("create_server", ["S", None, None]), ("join_server", [1]),
        ("update_profile", ["x", None, None]), ("start_dm", [OWNER])]
    for reducer, args in calls:
        with pytest.raises(ReducerError) as refused:
            engine.call(stranger, reducer, args)
        assert refused.value.message == errors.NO_PROFILE


def test_register_user_creates_a_profile_without_a_connection(engine: Engine) -> None:
    engine.call(ALICE, "register_user", ["alice", "Alice", False])
    profile = engine.store.profile(ALICE)
    assert profile is not None and (profile.username, profile.display_name) == ("alice", "Alice")


@pytest.mark.parametrize(("reducer", "args", "message"), [
    ("no_such_reducer", [], errors.unknown_reducer("no_such_reducer")),
    ("join_server", [], errors.wrong_arity("join_server", 1, 0)),
    ("client_connected", [1], errors.lifecycle_reducer("client_connected")),
    ("leave_server", [1, 2], errors.wrong_arity("leave_server", 1, 2)),
    # A lone surrogate is no Unicode text: named, never an internal error.
    ("send_message", [1, "hi \ud800", None, None, MessageType.Text],
     errors.invalid_text("send_message", "content")),
    ("register_user", ["abc", "\udfff", False],
     errors.invalid_text("register_user", "display_name")),
    ("join_server", "1", errors.not_an_array("join_server")),
    ("join_server", ["1"], errors.bad_argument("join_server", "server_id", "a u64")),
    ("join_server", [True], errors.bad_argument("join_server", "server_id", "a u64")),
    ("join_server", [-1], errors.bad_argument("join_server", "server_id", "a u64")),
    ("join_server", [1 << 64], errors.bad_argument("join_server", "server_id", "a u64")),
    ("set_typing", [1, 1], errors.bad_argument("set_typing", "typing", "a bool")),
    ("start_dm", ["ab" * 32],
     errors.bad_argument("start_dm", "other", "an Identity (64 hex digits)")),
    ("send_message", [1, "x", None, None, "Text"],
     errors.bad_argument("send_message", "message_type",
                         "a MessageType (Text, System, AgentEvent, Join, Leave)")),
    ("send_message", [1, "x", None, None, 9],
     errors.bad_argument("send_message", "message_type",
                         "a MessageType (Text, System, AgentEvent, Join, Leave)")),
    ("update_channel", [1, None, None, 1 << 32],
     errors.bad_argument("update_channel", "position", "a u32 or null")),
    ("register_user", [None, None, False],
     errors.bad_argument("register_user", "username", "a String")),
])
def test_bad_calls_are_refused_with_a_clear_message(engine: Engine, reducer: str,
                                                    args: list[Any], message: str) -> None:
    before = snapshot(engine.store)
    with pytest.raises(ReducerError) as refused:
        engine.call(OWNER, reducer, args)
    assert refused.value.message == message
    assert snapshot(engine.store) == before


def test_enum_arguments_may_be_tags(engine: Engine) -> None:
    connect(engine, OWNER, "owner")
    hub = engine.hub_id
    changes = engine.call(OWNER, "create_channel", [hub, "voice", None, 1])
    (channel,) = changes.inserted("channel")
    assert channel.channel_type is ChannelType.Voice


# --------------------------------------------------------------------------------------------
# call_many


def test_call_many_commits_the_accepted_and_reports_each_refusal(engine: Engine) -> None:
    connect(engine, ALICE, "alice")
    connect(engine, BOT, "bot", agent=True)
    channel = general(engine)
    results = engine.call_many([
        (ALICE, "send_message", [channel, "one", None, None, MessageType.Text]),
        (BOT, "create_server", ["Bots", None, None]),
        (ALICE, "send_message", [channel, "", None, None, MessageType.Text]),
        (ALICE, "nope", []),
        (BOT, "send_message", [channel, "{\"ok\": true}", None, None, MessageType.AgentEvent]),
    ])
    assert [type(r).__name__ for r in results] == [
        "Changes", "ReducerError", "ReducerError", "ReducerError", "Changes"]
    assert results[1] == ReducerError(errors.AGENTS_CANNOT_CREATE_SERVERS)
    assert results[2] == ReducerError(errors.TEXT_CONTENT_INVALID)
    assert results[3] == ReducerError(errors.unknown_reducer("nope"))
    texts = [m.content for m in engine.store.recent_messages(channel, 10)
             if m.message_type != MessageType.Join]
    assert texts == ["one", "{\"ok\": true}"]
    assert engine.call_many([]) == []


def test_call_many_isolates_an_unexpected_failure(engine: Engine,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    connect(engine, ALICE, "alice")

    def broken(*_: Any) -> None:
        raise RuntimeError("bug")

    monkeypatch.setitem(REDUCER_FUNCTIONS, "set_typing", broken)
    results = engine.call_many([
        (ALICE, "set_presence", [True, "first"]),
        (ALICE, "set_typing", [general(engine), True]),
        (ALICE, "set_presence", [True, "third"]),
    ])
    assert isinstance(results[1], ReducerError) and "internal error" in results[1].message
    presence = engine.store.presence(ALICE)
    assert presence is not None and presence.status_text == "third"
    with pytest.raises(RuntimeError):
        engine.call(ALICE, "set_typing", [general(engine), True])


def test_call_many_is_one_durable_commit_per_batch(tmp_path: Path) -> None:
    path = tmp_path / "batch.db"
    with Store(path) as store:
        engine = Engine(store, OWNER)
        engine.ensure_initialized()
        connect(engine, ALICE, "alice")
        channel = general(engine)
        batches, size = 8, 500
        start = time.perf_counter()
        for b in range(batches):
            results = engine.call_many([
                (ALICE, "send_message", [channel, f"m{b}-{i}", None, None, MessageType.Text])
                for i in range(size)])
            assert all(isinstance(r, Changes) for r in results)
        rate = batches * size / (time.perf_counter() - start)
    assert rate >= 2000, f"{rate:.0f} durable send_message/s"
    with Store(path) as reopened:
        assert reopened.count("message") == batches * size + 1  # + alice's Join


# --------------------------------------------------------------------------------------------
# coerce_args


def test_coerce_args_converts_simple_json() -> None:
    hexid = ALICE.hex
    assert coerce_args("set_member_role", [3, hexid, "Moderator"]) == [
        3, ALICE, MemberRole.Moderator]
    assert coerce_args("set_member_role", [3, "0x" + hexid, {"Agent": []}]) == [
        3, ALICE, MemberRole.Agent]
    assert coerce_args("start_dm", [{"__identity__": "0x" + hexid}]) == [ALICE]
    assert coerce_args("send_message", [1, "hi", None, 7, "AgentEvent"]) == [
        1, "hi", None, 7, MessageType.AgentEvent]
    assert coerce_args("send_message", [1, "hi", {"none": []}, {"some": 7}, "Text"]) == [
        1, "hi", None, 7, MessageType.Text]
    assert coerce_args("update_profile", [None, "", {"some": "bio"}]) == [None, "", "bio"]
    assert coerce_args("client_connected", []) == []
    assert coerce_args("update_channel", [1, None, None, (1 << 32) - 1])[3] == (1 << 32) - 1


@pytest.mark.parametrize(("reducer", "args", "param"), [
    ("join_server", ["7"], "server_id"),
    ("join_server", [7.0], "server_id"),
    ("join_server", [-7], "server_id"),
    ("set_member_role", [1, "zz" * 32, "Member"], "identity"),
    ("set_member_role", [1, "ab", "Member"], "identity"),
    ("set_member_role", [1, ALICE.hex, "Boss"], "role"),
    ("set_member_role", [1, ALICE.hex, 1], "role"),
    ("set_member_role", [1, ALICE.hex, {"Member": [1]}], "role"),
    ("set_presence", ["yes", None], "online"),
    ("set_presence", [True, 5], "status_text"),
    ("send_message", [1, "x", {"some": "3"}, None, "Text"], "thread_id"),
])
def test_coerce_args_names_the_bad_argument(reducer: str, args: list[Any], param: str) -> None:
    with pytest.raises(ReducerError) as refused:
        coerce_args(reducer, args)
    assert refused.value.message.startswith(f"argument {param} of {reducer} must be ")


def test_coerce_args_refuses_unknown_reducers_and_wrong_arity() -> None:
    with pytest.raises(ReducerError, match="no such reducer: nope"):
        coerce_args("nope", [])
    with pytest.raises(ReducerError, match="join_server takes 1 argument, got 2"):
        coerce_args("join_server", [1, 2])
    with pytest.raises(ReducerError, match="the arguments of send_message must be an array"):
        coerce_args("send_message", {"channel_id": 1})  # type: ignore[arg-type]


def test_every_model_reducer_has_an_implementation() -> None:
    assert set(REDUCER_FUNCTIONS) == {r.name for r in model.REDUCERS}
