"""Validation rules in isolation (mentions, agent events, URLs, code-point lengths), and a
property test: any sequence of calls keeps the data model's invariants, and a refusal is
always a ReducerError that changes nothing."""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spacesd import model
from spacesd.engine import Engine, ReducerError, errors, validation
from spacesd.model import ChannelType, Identity, MemberRole, MessageType
from spacesd.store import Store

# --------------------------------------------------------------------------------------------
# Rules


@pytest.mark.parametrize(("text", "names"), [
    ("@alice hi", ["alice"]),
    ("hi @alice.", ["alice"]),
    ("hi @a.b.c...", ["a.b.c"]),
    ("(@bob) and @carol, @dave!", ["bob", "carol", "dave"]),
    ("@bob @bob @bob", ["bob"]),
    ("mail me at x@bob.com", []),
    ("@Alice", []),
    ("@", []),
    ("@.", []),
    ("@al-ice_9 done", ["al-ice_9"]),
    ("line\n@eve", ["eve"]),
])
def test_mentions(text: str, names: list[str]) -> None:
    assert validation.mentions(text) == names


@pytest.mark.parametrize("content", [
    "{}", '{"a": [1, 2, {"b": null}]}', ' {"a": 1} ', '{"a": 1e308}', '{"ü": "😀"}'])
def test_agent_events_accept_json_objects(content: str) -> None:
    assert validation.agent_event_content(content) == content


@pytest.mark.parametrize("content", [
    "", "[]", "1", "null", '"s"', "{", '{"a": NaN}', '{"a": Infinity}', '{"a": -Infinity}',
    "{'a': 1}", '{"a": 1} x', "[" * 100_000])
def test_agent_events_refuse_anything_else(content: str) -> None:
    with pytest.raises(ReducerError) as refused:
        validation.agent_event_content(content)
    assert refused.value.message == errors.AGENT_EVENT_INVALID


@pytest.mark.parametrize(("url", "ok"), [
    ("http://a", True), ("https://a", True), ("HtTpS://x.y/z?q=1#f", True),
    ("https://", False), ("http:/a", False), ("ftp://a", False), ("//a", False),
    ("https://a b", False), ("https://a\n", False), ("a", False)])
def test_urls(url: str, ok: bool) -> None:
    if ok:
        assert validation.avatar_url(url) == url
    else:
        with pytest.raises(ReducerError, match="avatar URLs"):
            validation.avatar_url(url)


def test_optional_text_empty_clears_and_none_keeps() -> None:
    assert validation.display_name("") is None
    assert validation.display_name(None) is None
    assert validation.topic("t") == "t"


def test_lengths_count_code_points_not_bytes() -> None:
    assert validation.text_content("😀" * validation.TEXT_CONTENT_MAX)
    assert validation.emoji("👩‍👩‍👧‍👦")  # one glyph, 7 code points: within 32
    with pytest.raises(ReducerError):
        validation.emoji("👩‍👩‍👧‍👦" * 5)  # 35 code points
    assert validation.channel_name("a" * validation.CHANNEL_NAME_MAX)
    with pytest.raises(ReducerError):
        validation.channel_name("é")


def test_blank_names_are_refused_but_inner_spaces_allowed() -> None:
    assert validation.server_name(" a b ") == " a b "
    for blank in ["", " ", "\t\n", "\u3000"]:
        with pytest.raises(ReducerError):
            validation.thread_name(blank)


# --------------------------------------------------------------------------------------------
# Invariants under random calls

def _person(name: str) -> Identity:
    # real identities are hashes: their default usernames (first 8 hex digits) differ
    return Identity(int.from_bytes(hashlib.sha256(name.encode()).digest(), "big"))


OWNER = _person("owner")
PEOPLE = [OWNER, _person("ann"), _person("ben"), _person("cat")]
NAMES = ["owner", "ann", "ben", "cat"]

small_id = st.integers(min_value=1, max_value=6)
text = st.sampled_from(["", "x", "@ann hi", "@ben @cat.", "{\"k\": 1}", "a" * 65, "dev",
                        "general", "Team", "é" * 5, "[1]"])
opt_text = st.one_of(st.none(), text)


def _args_for(reducer: str) -> st.SearchStrategy[list[Any]]:
    params = model.REDUCER_BY_NAME[reducer].params
    parts: list[st.SearchStrategy[Any]] = []
    for name, type_name in params:
        spec = model.parse_type(type_name)
        if spec.kind == "Option":
            assert spec.inner is not None
            inner = spec.inner
            if inner.kind == "String":
                parts.append(opt_text)
            else:
                parts.append(st.one_of(st.none(), small_id))
        elif spec.kind == "String":
            parts.append(st.sampled_from([*NAMES, "Team"]) if name == "username" else text)
        elif spec.kind == "bool":
            parts.append(st.booleans())
        elif spec.kind == "Identity":
            parts.append(st.sampled_from(PEOPLE))
        elif spec.kind == "Enum":
            assert spec.enum is not None
            parts.append(st.sampled_from(list(spec.enum)))
        else:
            parts.append(small_id)
    return st.tuples(*parts).map(list)


CALLABLE = [r.name for r in model.REDUCERS if r.name != "init"]
call = st.tuples(st.sampled_from(PEOPLE), st.sampled_from(CALLABLE)).flatmap(
    lambda pair: st.tuples(st.just(pair[0]), st.just(pair[1]), _args_for(pair[1])))


def check_invariants(store: Store, hub_id: int) -> None:
    servers = {s.id: s for s in store.rows("server")}
    assert hub_id in servers
    members = store.rows("server_member")
    profiles = {p.identity: p for p in store.rows("user_profile")}
    for server in servers.values():
        owners = [m.identity for m in members
                  if m.server_id == server.id and m.role == MemberRole.Owner]
        assert owners == [server.owner]
    assert max(Counter((m.server_id, m.identity) for m in members).values(), default=1) == 1
    for m in members:
        assert m.server_id in servers
        profile = profiles.get(m.identity)
        if profile is not None and profile.is_agent:
            assert m.role == MemberRole.Agent
    member_of = {(m.server_id, m.identity) for m in members}
    channels = {c.id: c for c in store.rows("channel")}
    assert all(c.server_id in servers for c in channels.values())
    assert len({(c.server_id, c.name) for c in channels.values()}) == len(channels)
    threads = {t.id: t for t in store.rows("thread")}
    assert all(t.channel_id in channels for t in threads.values())
    messages = {m.id: m for m in store.rows("message")}
    for m in messages.values():
        assert m.channel_id in channels
        if m.thread_id is not None:
            assert threads[m.thread_id].channel_id == m.channel_id
        if m.message_type == MessageType.AgentEvent:
            validation.agent_event_content(m.content)
        assert channels[m.channel_id].channel_type != ChannelType.Voice
    reactions = store.rows("reaction")
    assert all(r.message_id in messages for r in reactions)
    assert len({(r.message_id, r.identity, r.emoji) for r in reactions}) == len(reactions)
    assert all(r.channel_id in channels for r in store.rows("channel_read_state"))
    for t in store.rows("typing_indicator"):
        assert (channels[t.channel_id].server_id, t.identity) in member_of
    conversations = store.rows("direct_conversation")
    assert all(c.participant_a < c.participant_b for c in conversations)
    assert len({(c.participant_a, c.participant_b) for c in conversations}) == len(conversations)
    ids = {c.id for c in conversations}
    assert all(d.conversation_id in ids for d in store.rows("direct_message"))
    assert len({p.username for p in profiles.values()}) == len(profiles)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(call, min_size=1, max_size=40))
def test_random_calls_keep_invariants_and_refusals_change_nothing(
        calls: list[tuple[Identity, str, list[Any]]]) -> None:
    store = Store(":memory:")
    try:
        engine = Engine(store, OWNER)
        engine.ensure_initialized()
        assert engine.hub_id is not None
        for who in PEOPLE:
            engine.call(who, "client_connected", [], host=True)
        engine.call(OWNER, "create_server", ["Team", None, None])  # server 2, channel 4
        for who, name in zip(PEOPLE[1:], NAMES[1:], strict=True):
            engine.call(who, "register_user", [name, None, name == "cat"])
            engine.call(who, "join_server", [2])
        engine.call(OWNER, "set_member_role", [2, PEOPLE[2], MemberRole.Admin])
        engine.call(PEOPLE[1], "send_message", [4, "hi @ben", None, None, MessageType.Text])
        for caller, reducer, args in calls:
            before = {t.name: store.rows(t.name) for t in model.TABLES}
            try:
                engine.call(caller, reducer, args)
            except ReducerError:
                assert {t.name: store.rows(t.name) for t in model.TABLES} == before
            check_invariants(store, engine.hub_id)
    finally:
        store.close()
