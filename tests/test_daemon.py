"""The daemon over its socket: every op, errors that change nothing, tail, outbox, context."""

from __future__ import annotations

import json
import os
import socket
import stat
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import SpacesEnv, ThreadDaemon
from testutil import OutageBackend

from spacesd import outbox
from spacesd.ipc import Client, Err, FrameDecoder, Ok, decode_payload, encode_frame


def _summary(session_id: str, cwd: str = "/home/dev/src/acme-api", **extra: Any) -> dict[str, Any]:
    return {"session_id": session_id, "project": cwd, "cwd": cwd, "host": "laptop",
            "branch": "fix/rate-limit", "agent": "claude-code",
            "task": f"task of {session_id}", "files": ["src/a.py"],
            "commands": ["pytest -q"], "failed": [], "tests": {"passed": 8, "failed": 0},
            "commits": [{"sha": "3e1f2a9", "message": "fix"}], "tokens": {"total": 1234},
            "duration_s": 125, "final": f"final of {session_id}", **extra}


def _raw(sock: Path) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(str(sock))
    return s


class _Frames(FrameDecoder):
    def __init__(self) -> None:
        super().__init__()
        self.pending: list[bytes] = []


def _read_frame(s: socket.socket, dec: _Frames) -> dict[str, Any] | None:
    while not dec.pending:
        data = s.recv(65536)
        if not data:
            return None
        dec.pending.extend(dec.feed(data))
    return decode_payload(dec.pending.pop(0))


# --------------------------------------------------------------------------------------------


def test_ping_status_and_files(daemon: ThreadDaemon, spaces_env: SpacesEnv) -> None:
    assert daemon.ok("ping") == {"pong": True}
    st = daemon.ok("status")
    assert st["backend"] == "embedded"
    assert len(st["identity"]) == 64
    assert st["username"] and st["database"].endswith("spaces.sqlite")
    assert st["counts"]["channel"] == 3 and st["counts"]["server"] == 1
    assert st["outbox_depth"] == 0 and st["uptime_s"] >= 0 and st["pid"] == os.getpid()
    assert stat.S_IMODE(spaces_env.socket.stat().st_mode) == 0o600
    assert stat.S_IMODE(spaces_env.runtime_dir.stat().st_mode) == 0o700
    ident = spaces_env.data_dir / "identities.json"
    assert stat.S_IMODE(ident.stat().st_mode) == 0o600
    profile_names = {st["username"]}
    assert all(ch.islower() or ch.isdigit() or ch in "_.-" for ch in next(iter(profile_names)))


def test_identity_is_stable_and_is_an_agent(spaces_env: SpacesEnv) -> None:
    d = ThreadDaemon(spaces_env).start()
    first = d.ok("status")
    d.stop()
    d = ThreadDaemon(spaces_env).start()
    try:
        second = d.ok("status")
        assert second["identity"] == first["identity"]
        assert second["username"] == first["username"]
        assert second["owner"] != second["identity"]
        # the agent cannot create channels (agents have no administrative capabilities)
        res = d.request("call", reducer="create_channel", args=[1, "new", None, "Text"])
        assert isinstance(res, Err) and res.code == "reducer_error"
        assert "only Admins" in res.message
    finally:
        d.stop()


def test_configured_identity_name(spaces_env: SpacesEnv) -> None:
    d = ThreadDaemon(spaces_env, agent_name="build-bot").start()
    try:
        assert d.ok("status")["username"] == "build-bot"
    finally:
        d.stop()


def test_channels_send_and_messages(daemon: ThreadDaemon) -> None:
    chans = daemon.ok("channels")
    names = [c["name"] for c in chans]
    assert names == ["general", "agent-logs", "system"]
    assert chans[0]["server"] == "Spaces Hub" and chans[1]["type"] == "AgentLog"
    msg = daemon.ok("send", channel="#general", content="hello @nobody")
    assert msg["content"] == "hello @nobody" and msg["channel"] == "general"
    assert msg["type"] == "Text" and msg["created_at"].endswith("Z")
    assert msg["sender_name"] == daemon.ok("status")["username"]
    daemon.ok("send", channel=chans[0]["id"], content="second")
    got = [m for m in daemon.ok("messages", channel="general", limit=10) if m["type"] == "Text"]
    assert [m["content"] for m in got] == ["hello @nobody", "second"]
    assert daemon.ok("messages", channel="general", limit=1)[0]["content"] == "second"
    older = daemon.ok("messages", channel="general", before=got[1]["id"])
    assert [m["id"] for m in older][-1] == got[0]["id"]
    assert daemon.ok("messages", channel="agent-logs") == []


@pytest.mark.parametrize(("op", "args", "code"), [
    ("nope", {}, "unknown_op"),
    ("messages", {}, "bad_args"),
    ("messages", {"channel": "general", "limit": 0}, "bad_args"),
    ("messages", {"channel": "general", "limit": "5"}, "bad_args"),
    ("messages", {"channel": "no-such"}, "not_found"),
    ("send", {"channel": "general", "content": ""}, "reducer_error"),
    ("send", {"channel": "general", "content": "x" * 4001}, "reducer_error"),
    ("send", {"channel": "general", "content": "x", "type": "System"}, "bad_args"),
    ("send", {"channel": "system", "content": "x"}, "reducer_error"),
    ("call", {"reducer": "no_such_reducer", "args": []}, "bad_args"),
    ("call", {"reducer": "send_message", "args": [1]}, "bad_args"),
    ("call", {"reducer": "send_message", "args": "x"}, "bad_args"),
    ("post_summary", {"summary": {"no": "session"}}, "bad_args"),
    ("context", {}, "bad_args"),
    ("tail", {"channels": ["no-such"]}, "not_found"),
])
def test_bad_requests_change_nothing(daemon: ThreadDaemon, op: str, args: dict[str, Any],
                                     code: str) -> None:
    before = daemon.ok("status")["counts"]
    res = daemon.request(op, **args)
    assert isinstance(res, Err), res
    assert res.code == code, res
    assert res.message
    assert daemon.ok("status")["counts"] == before


def test_bad_frames(daemon: ThreadDaemon) -> None:
    s = _raw(daemon.socket)
    dec = _Frames()
    deep = b'{"id": 4, "op": "ping", "args": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    for payload in (b"not json", b"[1,2]", b"\xff\xfe", b'{"id": 3}', deep):
        s.sendall(len(payload).to_bytes(4, "big") + payload)
        resp = _read_frame(s, dec)
        assert resp is not None and resp["ok"] is False
        assert resp["error"]["code"] == "bad_frame"
    # the connection still works, and answers in order
    s.sendall(encode_frame({"id": 1, "op": "ping"}) + encode_frame({"id": 2, "op": "status"}))
    first, second = _read_frame(s, dec), _read_frame(s, dec)
    assert first and first["id"] == 1 and first["result"] == {"pong": True}
    assert second and second["id"] == 2 and second["ok"]
    # an oversized frame is refused and the connection closed
    s.sendall((4 * 1024 * 1024 + 1).to_bytes(4, "big") + b"{")
    resp = _read_frame(s, dec)
    assert resp is not None and resp["error"]["code"] == "frame_too_large"
    assert _read_frame(s, dec) is None
    s.close()
    assert daemon.ok("ping") == {"pong": True}


def test_messages_answer_fits_a_frame_whatever_the_characters(daemon: ThreadDaemon) -> None:
    # 4000 emoji are 16,000 bytes of UTF-8: 300 of them are more than a 4 MiB frame. The
    # answer keeps the newest that fit, instead of failing with "internal: answer too large".
    with Client(daemon.socket, timeout=30) as c:
        for i in range(300):
            assert isinstance(c.request("send", {"channel": "general",
                                                  "content": f"{i:03d}" + "👍" * 3997}), Ok)
        res = c.request("messages", {"channel": "general", "limit": 500})
    assert isinstance(res, Ok), res
    got = [m["content"][:3] for m in res.result]
    assert 100 < len(got) < 300 and got[-1] == "299"
    assert got == [f"{i:03d}" for i in range(300 - len(got), 300)]


def test_requests_are_answered_in_order_with_writes_between(daemon: ThreadDaemon) -> None:
    s = _raw(daemon.socket)
    dec = _Frames()
    frames = b"".join(
        encode_frame({"id": i, "op": "send", "args": {"channel": "general", "content": f"m{i}"}}
                     if i % 2 else {"id": i, "op": "ping"}) for i in range(1, 41))
    s.sendall(frames)
    ids = []
    for _ in range(40):
        resp = _read_frame(s, dec)
        assert resp is not None and resp["ok"], resp
        ids.append(resp["id"])
    assert ids == list(range(1, 41))
    s.close()


def test_call_reducers(daemon: ThreadDaemon) -> None:
    assert daemon.ok("call", reducer="set_presence", args=[True, "reviewing"]) == {
        "committed": True}
    msg = daemon.ok("send", channel="general", content="react to me")
    daemon.ok("call", reducer="add_reaction", args=[msg["id"], "👍"])
    res = daemon.request("call", reducer="add_reaction", args=[msg["id"], "👍"])
    assert isinstance(res, Err) and res.code == "reducer_error"
    assert daemon.ok("status")["counts"]["reaction"] == 1


def test_concurrent_writers_all_acknowledged(daemon: ThreadDaemon) -> None:
    errors: list[Any] = []

    def writer(n: int) -> None:
        with Client(daemon.socket, timeout=20) as c:
            for i in range(25):
                r = c.call("send", channel="general", content=f"w{n}-{i}")
                if not isinstance(r, Ok):
                    errors.append(r)

    before = daemon.ok("status")["counts"]["message"]
    threads = [threading.Thread(target=writer, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert daemon.ok("status")["counts"]["message"] == before + 300


def test_tail_is_pushed(daemon: ThreadDaemon) -> None:
    events: list[dict[str, Any]] = []
    client = Client(daemon.socket, timeout=5)
    stream = client.stream("tail", {"channels": ["general"]}, idle_timeout=5)

    def reader() -> None:
        for ev in stream:
            events.append(ev)
            if len(events) >= 3:
                return

    t = threading.Thread(target=reader)
    t.start()
    time.sleep(0.1)
    m1 = daemon.ok("send", channel="general", content="one")
    daemon.ok("send", channel="agent-logs", content='{"a": 1}', type="AgentEvent")
    daemon.ok("call", reducer="edit_message", args=[m1["id"], "one!"])
    daemon.ok("call", reducer="delete_message", args=[m1["id"]])
    t.join(5)
    assert [e["event"] for e in events] == ["message", "message_edited", "message_deleted"]
    assert events[0]["data"]["content"] == "one"
    assert events[1]["data"]["content"] == "one!"
    assert events[2]["data"] == {"id": m1["id"], "channel_id": m1["channel_id"]}


def test_post_summary_truncates_and_tags(daemon: ThreadDaemon) -> None:
    big = _summary("s-big", files=[f"src/file_{i}.py" for i in range(2000)],
                   final="z" * 30000)
    msg = daemon.ok("post_summary", summary=big)
    assert msg["type"] == "AgentEvent" and msg["channel"] == "agent-logs"
    content = json.loads(msg["content"])
    assert content["kind"] == "session_summary" and content["session_id"] == "s-big"
    assert len(msg["content"]) <= 16384
    assert content["branch"] == "fix/rate-limit"


def test_context_facts_order_and_handouts(spaces_env: SpacesEnv) -> None:
    d = ThreadDaemon(spaces_env).start()
    try:
        d.ok("post_summary", summary=_summary("other-project", cwd="/srv/other"))
        d.ok("post_summary", summary=_summary("peer-1"))
        d.ok("post_summary", summary=_summary("peer-1", final="newer final of peer-1"))
        d.ok("post_summary", summary=_summary("me"))
        d.ok("send", channel="agent-logs", content='{"kind": "other"}', type="AgentEvent")
        ctx = d.ok("context", session_id="me", cwd="/home/dev/src/acme-api", source="startup")
        text = ctx["text"]
        assert "peer-1" in text and "other-project" in text and "task of me" not in text
        assert "newer final of peer-1" in text and "'final of peer-1'" not in text
        assert text.index("peer-1") < text.index("other-project")  # same project first
        assert "on branch fix/rate-limit" in text and "tests: 8 passed, 0 failed" in text
        assert "committed 3e1f2a9" in text and len(text) <= 8000
        assert len(ctx["message_ids"]) == 2
        # the same session is not given the same summaries twice
        again = d.ok("context", session_id="me", cwd="/home/dev/src/acme-api", source="compact")
        assert again["text"] == "" and again["message_ids"] == []
        sub = d.ok("context", session_id="in-subdir", cwd="/srv/other/pkg/")["text"]
        assert sub.index("other-project") < sub.index("peer-1")
        small = d.ok("context", session_id="x", cwd="/", max_chars=400)
        assert 200 < len(small["text"]) <= 400
    finally:
        d.stop()
    d = ThreadDaemon(spaces_env).start()  # the hand-outs survive a restart
    try:
        resumed = d.ok("context", session_id="me", cwd="/home/dev/src/acme-api", source="resume")
        assert resumed["text"] == ""
        d.ok("post_summary", summary=_summary("peer-2"))
        later = d.ok("context", session_id="me", cwd="/home/dev/src/acme-api", source="resume")
        assert "peer-2" in later["text"] and "peer-1" not in later["text"]
    finally:
        d.stop()


def test_context_reads_the_channel_the_agent_posts_to(daemon: ThreadDaemon) -> None:
    # The agent's SPACES_CHANNEL_ID sends its summaries to #general; the daemon (under
    # systemd, without that variable) is configured for #agent-logs. The context hook passes
    # the same channel, so peers' summaries are found where they were posted.
    daemon.ok("post_summary", summary=_summary("peer-in-general"), channel="general")
    assert daemon.ok("context", session_id="me", cwd="/")["text"] == ""
    ctx = daemon.ok("context", session_id="me", cwd="/", channel="#general")
    assert "peer-in-general" in ctx["text"] and "#general" in ctx["text"]
    res = daemon.request("context", session_id="me", channel="no-such")
    assert isinstance(res, Err) and res.code == "not_found"


def test_outbox_delivered_on_start_and_while_running(spaces_env: SpacesEnv) -> None:
    outbox.write({"op": "post_summary", "args": {"summary": _summary("offline-1")}},
                 directory=spaces_env.outbox_dir)
    outbox.write({"op": "ping", "args": {}}, directory=spaces_env.outbox_dir)
    d = ThreadDaemon(spaces_env).start()
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and outbox.depth(spaces_env.outbox_dir):
            time.sleep(0.05)
        assert outbox.depth(spaces_env.outbox_dir) == 0
        assert any(p.name.endswith(".bad") for p in spaces_env.outbox_dir.iterdir())
        msgs = d.ok("messages", channel="agent-logs")
        assert [json.loads(m["content"])["session_id"] for m in msgs] == ["offline-1"]
        outbox.write({"op": "post_summary", "args": {"summary": _summary("offline-2")}},
                     directory=spaces_env.outbox_dir)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and len(d.ok("messages", channel="agent-logs")) < 2:
            time.sleep(0.05)
        assert len(d.ok("messages", channel="agent-logs")) == 2
        assert outbox.depth(spaces_env.outbox_dir) == 0
    finally:
        d.stop()


def test_single_instance_and_stale_socket(spaces_env: SpacesEnv) -> None:
    spaces_env.runtime_dir.mkdir(mode=0o700, parents=True)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(spaces_env.socket))
    stale.close()  # a socket file nobody answers on
    d = ThreadDaemon(spaces_env).start()
    try:
        assert d.ok("ping") == {"pong": True}
        with pytest.raises(RuntimeError, match="another spacesd"):
            ThreadDaemon(spaces_env).start()
        assert d.ok("ping") == {"pong": True}
    finally:
        d.stop()
    assert not spaces_env.socket.exists()


def test_refuses_foreign_or_non_socket(spaces_env: SpacesEnv) -> None:
    spaces_env.runtime_dir.mkdir(mode=0o700, parents=True)
    spaces_env.socket.write_text("not a socket")
    with pytest.raises(RuntimeError, match="not a socket"):
        ThreadDaemon(spaces_env).start()


def test_sigterm_is_graceful(daemon_process: Any, spaces_env: SpacesEnv) -> None:
    from spacesd.daemon.identity import load_identities
    from spacesd.store import Store

    daemon_process.start()
    assert isinstance(daemon_process.request("send", channel="general", content="bye"), Ok)
    assert daemon_process.stop() == 0
    assert not spaces_env.socket.exists()
    agent = load_identities(spaces_env.data_dir)["agent"]
    with Store(spaces_env.data_dir / "spaces.sqlite") as store:
        presence = store.presence(agent)
        assert presence is not None and presence.online is False
        assert store.recent_messages(1, 1)[0].content == "bye"


def test_writes_queue_while_the_backend_is_unavailable(spaces_env: SpacesEnv) -> None:
    d = ThreadDaemon(spaces_env, backend_class=OutageBackend).start()
    try:
        queued = d.ok("post_summary", summary=_summary("while-down"))
        assert queued["queued"] is True
        assert d.ok("send", channel="general", content="later")["queued"] is True
        res = d.request("call", reducer="set_presence", args=[True, None])
        assert isinstance(res, Err) and res.code == "unavailable"
        time.sleep(1.2)  # the outbox loop tries, and leaves the entries in place
        assert outbox.depth(spaces_env.outbox_dir) == 2
        d.daemon_obj.backend.down = False
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and outbox.depth(spaces_env.outbox_dir):
            time.sleep(0.05)
        assert outbox.depth(spaces_env.outbox_dir) == 0
        logs = d.ok("messages", channel="agent-logs")
        assert [json.loads(m["content"])["session_id"] for m in logs] == ["while-down"]
        assert d.ok("messages", channel="general", limit=1)[0]["content"] == "later"
        assert not any(p.name.endswith(".bad") for p in spaces_env.outbox_dir.iterdir())
    finally:
        d.stop()


def test_large_pages_fit_in_a_frame(daemon: ThreadDaemon) -> None:
    big = json.dumps({"blob": "x" * 16000})
    with Client(daemon.socket, timeout=30) as c:
        for _ in range(260):
            assert isinstance(c.call("send", channel="agent-logs", content=big,
                                     type="AgentEvent"), Ok)
    got = daemon.ok("messages", channel="agent-logs", limit=500)
    assert 50 < len(got) < 260
    ids = [m["id"] for m in got]
    assert ids == sorted(ids)
    older = daemon.ok("messages", channel="agent-logs", limit=500, before=ids[0])
    assert older and older[-1]["id"] < ids[0]


def test_half_closed_client_gets_its_answers(daemon: ThreadDaemon) -> None:
    s = _raw(daemon.socket)
    s.sendall(encode_frame({"id": 1, "op": "send", "args": {"channel": "general",
                                                             "content": "half"}})
              + encode_frame({"id": 2, "op": "ping"}))
    s.shutdown(socket.SHUT_WR)
    dec = _Frames()
    first, second = _read_frame(s, dec), _read_frame(s, dec)
    assert first and first["ok"] and first["result"]["content"] == "half"
    assert second and second["id"] == 2
    assert _read_frame(s, dec) is None
    s.close()


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to give a folder to another user")
def test_refuses_a_runtime_dir_of_another_user(spaces_env: SpacesEnv) -> None:
    spaces_env.runtime_dir.mkdir(mode=0o700, parents=True)
    os.chown(spaces_env.runtime_dir, 54321, 54321)
    with pytest.raises(RuntimeError, match="another user"):
        ThreadDaemon(spaces_env).start()


def test_too_long_socket_path_is_explained(spaces_env: SpacesEnv) -> None:
    long_dir = spaces_env.root / ("x" * 120)
    spaces_env.runtime_dir = long_dir
    with pytest.raises(RuntimeError, match="107 bytes"):
        ThreadDaemon(spaces_env).start()
