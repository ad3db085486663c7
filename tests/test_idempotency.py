"""Exactly once: idempotency keys on the engine (write_key, pruning) and through the daemon
(send, post_summary, outbox replays, "queued" only when the backend is unreachable)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import SpacesEnv, ThreadDaemon
from testutil import OutageBackend

from spacesd import idem, model, outbox
from spacesd.engine import Engine, ReducerError
from spacesd.engine import errors as engine_errors
from spacesd.ipc import Err
from spacesd.model import Identity, MessageType
from spacesd.store import Store

ALICE = Identity(0xA11CE)
DAY_US = 86_400 * 1_000_000


def _summary(session_id: str, **extra: Any) -> dict[str, Any]:
    return {"session_id": session_id, "cwd": "/src/app", "task": f"task of {session_id}",
            "final_message": "done", **extra}


@pytest.fixture
def engine() -> Engine:
    e = Engine(Store(), Identity(1))
    e.ensure_initialized()
    e.call(ALICE, "client_connected", [], host=True)
    return e


def _general(engine: Engine) -> int:
    assert engine.hub_id is not None
    ch = engine.store.channel_by_name(engine.hub_id, "general")
    assert ch is not None
    return ch.id


def _keyed(engine: Engine, key: str, content: str, ts: int | None = None) -> Any:
    return engine.call(ALICE, "send_message_keyed",
                       [key, _general(engine), content, None, None, MessageType.Text],
                       timestamp=ts)


# --------------------------------------------------------------------------------------------
# The engine


def test_a_key_writes_once_and_names_its_row(engine: Engine) -> None:
    first = _keyed(engine, "k1", "hello")
    [msg] = first.inserted("message")
    [key] = first.inserted("write_key")
    assert (key.key, key.identity, key.reducer, key.row_id) == (
        model.write_key_of(ALICE, "k1"), ALICE, "send_message", msg.id)
    again = _keyed(engine, "k1", "hello")
    assert again.is_empty()
    assert engine.store.count("message") == 2  # alice's Join in the hub, and hello
    assert engine.store.write_key(model.write_key_of(ALICE, "k1")) == key


def test_a_refused_keyed_write_keeps_no_key(engine: Engine) -> None:
    with pytest.raises(ReducerError, match="messages are 1-4000"):
        _keyed(engine, "k2", "")
    assert engine.store.count("write_key") == 0
    _keyed(engine, "k2", "now valid")
    assert engine.store.count("write_key") == 1


@pytest.mark.parametrize("key", ["", " ", "a b", "é", "x" * 129, "tab\t"])
def test_invalid_keys_are_refused(engine: Engine, key: str) -> None:
    with pytest.raises(ReducerError) as info:
        _keyed(engine, key, "x")
    assert info.value.message == engine_errors.WRITE_KEY_INVALID
    assert not idem.valid_key(key)


def test_expired_keys_are_pruned_a_few_at_each_keyed_write(engine: Engine) -> None:
    t0 = model.now_micros()
    for i in range(model.WRITE_KEY_PRUNE + 4):
        _keyed(engine, f"old-{i}", f"old {i}", ts=t0 + i)
    later = t0 + model.WRITE_KEY_TTL_S * 1_000_000 + DAY_US
    _keyed(engine, "new-1", "new", ts=later)
    assert engine.store.count("write_key") == 4 + 1  # the 16 oldest went with that write
    _keyed(engine, "new-2", "new", ts=later + 1)
    assert {k.key.split("/")[1] for k in engine.store.rows("write_key")} == {"new-1", "new-2"}
    # a key still inside the bound is kept: its write is not made twice
    assert _keyed(engine, "new-1", "new", ts=later + 2).is_empty()


def test_keys_for_summaries_and_sends_are_valid_and_stable() -> None:
    assert idem.summary_key("5f0c2a8e-1111", "3.abc-12") == "summary:5f0c2a8e-1111:3.abc-12"
    odd = idem.summary_key("a session: with spaces 'and' quotes", "1.x")
    assert idem.valid_key(odd) and "'" not in odd and odd == idem.summary_key(
        "a session: with spaces 'and' quotes", "1.x")
    assert idem.valid_key(idem.summary_key("s" * 500, "t" * 500))
    a, b = idem.new_key("send"), idem.new_key("send")
    assert a != b and a.startswith("send:") and idem.valid_key(a)


# --------------------------------------------------------------------------------------------
# The daemon


def test_send_with_a_repeated_key_answers_the_first_message(daemon: ThreadDaemon) -> None:
    first = daemon.ok("send", channel="general", content="once", key="send:abc")
    again = daemon.ok("send", channel="general", content="once", key="send:abc")
    assert "duplicate" not in first and again["duplicate"] is True
    assert again["id"] == first["id"] and again["content"] == "once"
    assert [m["content"] for m in daemon.ok("messages", channel="general")].count("once") == 1
    res = daemon.request("send", channel="general", content="x", key="has space")
    assert isinstance(res, Err) and res.code == "bad_args" and "key" in res.message


def test_summaries_are_posted_once_per_key(daemon: ThreadDaemon) -> None:
    a = daemon.ok("post_summary", summary=_summary("s1"), key="summary:s1:1.aa")
    b = daemon.ok("post_summary", summary=_summary("s1"), key="summary:s1:1.aa")
    assert b["duplicate"] is True and b["id"] == a["id"]
    # without a key (an older hook): the same summary is the same write
    c = daemon.ok("post_summary", summary=_summary("s2"))
    d = daemon.ok("post_summary", summary=_summary("s2"))
    assert d["duplicate"] is True and d["id"] == c["id"]
    e = daemon.ok("post_summary", summary=_summary("s2", final_message="more"))
    assert "duplicate" not in e
    sessions = [json.loads(m["content"])["session_id"]
                for m in daemon.ok("messages", channel="agent-logs")]
    assert sessions == ["s1", "s2", "s2"]


def test_an_outbox_replay_of_a_committed_write_makes_no_second_row(
        daemon: ThreadDaemon, spaces_env: SpacesEnv) -> None:
    # A hook whose answer came too late, or a daemon killed between the commit and the
    # entry's removal: the entry is delivered again, under the same key.
    args = {"summary": _summary("late"), "key": "summary:late:1.ff"}
    posted = daemon.ok("post_summary", **args)
    outbox.write({"id": 1, "op": "post_summary", "args": args}, directory=spaces_env.outbox_dir)
    sent = daemon.ok("send", channel="general", content="cli", key="send:k")
    outbox.write({"op": "send", "args": {"channel": "general", "content": "cli", "key": "send:k"}},
                 directory=spaces_env.outbox_dir)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and outbox.depth(spaces_env.outbox_dir):
        time.sleep(0.05)
    assert outbox.depth(spaces_env.outbox_dir) == 0
    assert not any(p.name.endswith(".bad") for p in spaces_env.outbox_dir.iterdir())
    logs = daemon.ok("messages", channel="agent-logs")
    assert [m["id"] for m in logs] == [posted["id"]]
    assert [m["id"] for m in daemon.ok("messages", channel="general")
            if m["content"] == "cli"] == [sent["id"]]


def test_send_is_not_queued_while_the_backend_is_up(daemon: ThreadDaemon,
                                                   spaces_env: SpacesEnv) -> None:
    # Entries hooks wrote after giving up on a slow answer wait in the outbox: a send is
    # still answered with its own message, never "queued" while the backend takes writes,
    # and each entry is delivered once.
    for n in range(3):
        outbox.write({"op": "send", "args": {"channel": "general", "content": f"older {n}",
                                             "key": f"send:older-{n}"}},
                     directory=spaces_env.outbox_dir)
    answer = daemon.ok("send", channel="general", content="now", key="send:now")
    assert "queued" not in answer and answer["content"] == "now"
    summary = daemon.ok("post_summary", summary=_summary("up"))
    assert "queued" not in summary and isinstance(summary["id"], int)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and outbox.depth(spaces_env.outbox_dir):
        time.sleep(0.05)
    general = [m["content"] for m in daemon.ok("messages", channel="general")]
    assert sorted(c for c in general if c.startswith("older")) == [
        "older 0", "older 1", "older 2"]
    assert general.count("now") == 1


def test_writes_queued_in_an_outage_land_before_later_ones(spaces_env: SpacesEnv) -> None:
    d = ThreadDaemon(spaces_env, backend_class=OutageBackend).start()
    try:
        for n in range(3):
            assert d.ok("send", channel="general", content=f"down {n}")["queued"] is True
        d.daemon_obj.backend.down = False
        answer = d.ok("send", channel="general", content="back")
        assert "queued" not in answer
        general = [m["content"] for m in d.ok("messages", channel="general")]
        assert general[-4:] == ["down 0", "down 1", "down 2", "back"]
        assert outbox.depth(spaces_env.outbox_dir) == 0
    finally:
        d.stop()


# --------------------------------------------------------------------------------------------
# The SpacetimeDB backend (against the test server: the engine behind SpacetimeDB's protocol)


def test_a_repeated_key_over_spacetimedb_finds_its_first_row(tmp_path: Path) -> None:
    from spacesd.daemon.spacetimedb import SpacetimeBackend

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from stdb_server import TestServer
    from testutil import run

    async def main() -> None:
        server = TestServer(tmp_path / "srv")
        await server.start()
        a = SpacetimeBackend(host=server.url, database="spaces", data_dir=tmp_path / "a",
                             agent_name="agent-a")
        b = SpacetimeBackend(host=server.url, database="spaces", data_dir=tmp_path / "b",
                             agent_name="agent-b")
        await a.start()
        await b.start()
        try:
            args = ["send:1", 1, "once", None, None, "Text"]
            (msg,) = (await a.call("send_message_keyed", args)).inserted("message")
            again = await a.call("send_message_keyed", args)
            assert again.inserted("message") == []
            found = await a.find_write("send:1")
            assert found is not None and found.row_id == msg.id and found.identity == a.identity
            assert await b.find_write("send:1") is None  # another identity's key: not seen
            (other,) = (await b.call("send_message_keyed", args)).inserted("message")
            assert other.id != msg.id and other.sender == b.identity
        finally:
            await a.stop()
            await b.stop()
            await server.stop()

    run(main())
