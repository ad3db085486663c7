"""Daemons on SpacetimeDB, each with its own identity, as processes, on BOTH the stand-in
server (tests/stdb_server.py) and the real SpacetimeDB (tests/real_stdb.py, the module's .wasm
published on a server of its own): every test runs on each.

- a Stop-hook post through daemon A shows up in daemon B's `spacesd tail` and in B's
  SessionStart context; a reducer refusal reaches the caller verbatim;
- a DM between A and B reaches both and never a third daemon C;
- the server is killed (SIGKILL) and restarted on its data while A keeps posting: B ends
  with every message exactly once, in order, and both daemons report the reconnect.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest
from conftest import ProcessDaemon, SpacesEnv, console_script, make_spaces_env
from real_stdb import RealServer
from testutil import free_port

from spacesd.ipc import Ok

TESTS = Path(__file__).resolve().parent


class StdbServer(Protocol):
    """What the tests do to a server: either kind."""

    url: str
    database: str

    def start(self) -> object: ...

    def kill(self) -> None: ...

    def stop(self) -> None: ...

    def mint_token(self) -> str: ...


class ServerProcess:
    """The stand-in, tests/stdb_server.py, in a subprocess on a fixed port and data dir."""

    database = "spaces"

    def __init__(self, data: Path, port: int) -> None:
        self.data = data
        self.port = port
        self.proc: subprocess.Popen[str] | None = None
        self.log = data.parent / "stdb-server.log"
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerProcess:
        log = self.log.open("a")
        self.proc = subprocess.Popen(
            [sys.executable, str(TESTS / "stdb_server.py"), "--port", str(self.port),
             "--data", str(self.data)], stdout=log, stderr=log, text=True)
        log.close()
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/v1/ping", timeout=1):
                    return self
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"test server did not start: {self.log.read_text()}"
                                       ) from None
                time.sleep(0.05)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def mint_token(self) -> str:
        """A token of a fresh identity, minted offline from the server's secret."""
        from stdb_server import TokenAuthority

        key = self.data / "secret.key"
        if not key.exists():
            self.data.mkdir(parents=True, exist_ok=True)
            key.write_text("ab" * 32)
        return TokenAuthority(bytes.fromhex(key.read_text().strip())).mint()[1]


class RealProcess:
    """The real SpacetimeDB on a server of its own (kill -9 must not touch the session's),
    the module published as a fresh database on first start."""

    def __init__(self, real: RealServer, root: Path) -> None:
        self.server = RealServer(real.tools, root)
        self.url = self.server.url
        self.database = ""

    def start(self) -> RealProcess:
        self.server.start()
        if not self.database:
            self.database = self.server.publish()
        return self

    def kill(self) -> None:
        self.server.kill()

    def stop(self) -> None:
        self.server.stop()

    def mint_token(self) -> str:
        """A fresh identity's token (POST /v1/identity: the server must be up)."""
        running = self.server.proc is not None
        if not running:
            self.start()
        token = self.server.new_identity()[0]
        if not running:
            self.kill()
        return token


@pytest.fixture(params=["stand-in", "real"])
def make_server(request: pytest.FixtureRequest, tmp_path: Path
                ) -> Iterator[Callable[[], StdbServer]]:
    """A server of the param's kind, not started (start() it)."""
    made: list[StdbServer] = []

    def make() -> StdbServer:
        server: StdbServer
        if request.param == "stand-in":
            server = ServerProcess(tmp_path / "stdb", free_port())
        else:
            server = RealProcess(request.getfixturevalue("real_stdb"), tmp_path / "real")
        made.append(server)
        return server

    try:
        yield make
    finally:
        for server in made:
            server.stop()


def stdb_env(root: Path, server: StdbServer, name: str) -> SpacesEnv:
    env, _ = make_spaces_env(root)
    env.env.update({
        "SPACES_BACKEND": "spacetimedb",
        "SPACETIMEDB_HOST": server.url,
        "SPACETIMEDB_DATABASE": server.database,
        "SPACES_IDENTITY_NAME": name,
        "SPACES_COOLDOWN": "0",
    })
    return env


def short_dir(name: str) -> Path:
    # short paths: Unix socket paths are limited to ~108 bytes
    d = Path(os.path.join("/tmp", f"spc-{os.getpid()}-{name}-{time.time_ns() % 10**6}"))
    d.mkdir()
    return d


Cluster = tuple[StdbServer, ProcessDaemon, ProcessDaemon]


@pytest.fixture
def cluster(make_server: Callable[[], StdbServer]) -> Iterator[Cluster]:
    server = make_server()
    server.start()
    daemons: list[ProcessDaemon] = []
    try:
        for name in ("agent-a", "agent-b"):
            daemons.append(ProcessDaemon(stdb_env(short_dir(name), server, name)).start())
        yield server, daemons[0], daemons[1]
    finally:
        for dm in daemons:
            dm.stop()
            shutil.rmtree(dm.env.root, ignore_errors=True)


def ok(daemon: ProcessDaemon, op: str, **args: Any) -> Any:
    res = daemon.request(op, **args)
    assert isinstance(res, Ok), res
    return res.result


def wait_for(cond: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Tail:
    """`spacesd tail` of a daemon, its lines collected by a thread."""

    def __init__(self, env: SpacesEnv, *args: str) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.proc = subprocess.Popen([console_script("spacesd"), "tail", *args], env=env.env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_line(self, needle: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                continue
            seen.append(line)
            if needle in line:
                return line
        raise AssertionError(f"{needle!r} not in tail output: {seen}")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def test_stop_hook_post_reaches_peer_tail_and_context(
        cluster: Cluster) -> None:
    _, a, b = cluster
    sa, sb = ok(a, "status"), ok(b, "status")
    assert sa["backend"] == sb["backend"] == "spacetimedb"
    assert sa["identity"] != sb["identity"]
    assert sa["username"] == "agent-a" and sb["username"] == "agent-b"
    assert sa["connection"] == "connected" and sa["host"].startswith("http://127.0.0.1:")

    fixtures = Path(__file__).resolve().parent / "fixtures" / "claude-code"
    tail = Tail(b.env)
    try:
        # the tail is connected (the status request itself is the other client)
        wait_for(lambda: ok(b, "status")["clients"] >= 2, 10, "the tail to connect")
        time.sleep(0.2)
        stop = (fixtures / "stop.json").read_text()
        res = subprocess.run([console_script("spaces-session-hook")], input=stop, env=a.env.env,
                             capture_output=True, text=True, timeout=15, cwd=fixtures)
        assert res.returncode == 0 and res.stdout == ""
        line = tail.wait_line("agent-a")
        assert "#agent-logs" in line and "TokenBucket.take" in line
    finally:
        tail.close()

    start = (fixtures / "session-start.json").read_text()
    res = subprocess.run([console_script("spaces-context-hook")], input=start, env=b.env.env,
                         capture_output=True, text=True, timeout=15, cwd=fixtures)
    assert res.returncode == 0
    ctx = json.loads(res.stdout)["hookSpecificOutput"]
    assert ctx["hookEventName"] == "SessionStart"
    assert "agent-a" in ctx["additionalContext"]
    assert "TokenBucket.take" in ctx["additionalContext"]

    # A reducer refusal reaches the caller as a clear error: an agent creating a channel.
    res = subprocess.run([console_script("spacesd"), "call", "create_channel",
                          '[1, "ops", null, "Text"]'], env=a.env.env, capture_output=True,
                         text=True, timeout=15)
    assert res.returncode != 0
    assert "only Admins and the Owner can create channels" in res.stderr + res.stdout
    err = a.request("call", reducer="create_channel", args=[1, "ops", None, "Text"])
    assert not isinstance(err, Ok)
    assert err.code == "reducer_error"
    assert err.message == "only Admins and the Owner can create channels"


def cached(daemon: ProcessDaemon, sql: str) -> list[tuple[Any, ...]]:
    """Rows of the daemon's own SQLite cache (read-only): what its subscriptions delivered."""
    files = list((daemon.env.data_dir / "stdb-cache").glob("*.sqlite"))
    assert len(files) == 1, files
    db = sqlite3.connect(f"file:{files[0]}?mode=ro", uri=True, timeout=5)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def test_secrets_never_reach_the_database(cluster: Cluster) -> None:
    """The daemon's redaction gate on the SpacetimeDB backend: `spacesd send`, a DM and a
    profile field written with secrets arrive at the peer (through the server) redacted."""
    _, a, b = cluster
    token = "ghp_" + "Q1w2E3r4T5y6U7i8O9p0EXAMPLEasdfghjkl1"
    password = "Tr0ub4dor-example-9"
    res = subprocess.run([console_script("spacesd"), "send", "general", "--",
                          f"deployed; note: DB_PASSWORD={password} and token {token}"],
                         env=a.env.env, capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    ok(a, "call", reducer="update_profile", args=[None, None, f"my key is {token}"])
    ok(a, "call", reducer="start_dm", args=[ok(b, "status")["identity"]])
    (conversation,), = cached(a, "SELECT id FROM direct_conversation")
    ok(a, "call", reducer="send_dm", args=[conversation, f"run: mysql -u root -p{password} app"])

    def arrived() -> bool:
        return (any("DB_PASSWORD=[REDACTED]" in m["content"]
                    for m in ok(b, "messages", channel="general"))
                and len(cached(b, "SELECT content FROM direct_message")) == 1
                and cached(b, "SELECT bio FROM user_profile WHERE bio IS NOT NULL") != [])

    wait_for(arrived, 15, "A's writes at B")
    rows = (cached(b, "SELECT content FROM message") + cached(b, "SELECT content FROM "
            "direct_message") + cached(b, "SELECT bio FROM user_profile"))
    seen = json.dumps(rows)
    assert token not in seen and password not in seen, seen
    assert "[REDACTED]" in seen and "deployed; note: DB_PASSWORD=" in seen


def test_a_dm_reaches_its_two_participants_only(cluster: Cluster) -> None:
    server, a, b = cluster
    c = ProcessDaemon(stdb_env(short_dir("agent-c"), server, "agent-c")).start()
    try:
        ok(a, "call", reducer="start_dm", args=[ok(b, "status")["identity"]])
        (conversation,), = cached(a, "SELECT id FROM direct_conversation")
        ok(a, "call", reducer="send_dm", args=[conversation, "just between us"])
        def has_dm(d: ProcessDaemon) -> bool:
            return cached(d, "SELECT content FROM direct_message") == [("just between us",)]

        wait_for(lambda: has_dm(a) and has_dm(b), 10, "the DM in both participants' caches")
        # C sees neither the conversation nor the message, and cannot write to it
        ok(c, "send", channel="general", content="c was here")
        wait_for(lambda: any(m["content"] == "c was here"
                             for m in ok(a, "messages", channel="general")), 10, "C's post")
        counts = ok(c, "status")["counts"]
        assert counts["direct_conversation"] == counts["direct_message"] == 0, counts
        refused = c.request("call", reducer="send_dm", args=[conversation, "let me in"])
        assert not isinstance(refused, Ok) and refused.code == "reducer_error", refused
        assert refused.message == "you are not a participant in this conversation"
        assert cached(b, "SELECT content FROM direct_message") == [("just between us",)]
    finally:
        c.stop()
        shutil.rmtree(c.env.root, ignore_errors=True)


def test_server_killed_and_restarted_while_posting(
        cluster: Cluster) -> None:
    """A posts 30 messages, one every ~0.1 s, alternating `send` to #general and Stop-hook
    summaries to #agent-logs; the server is SIGKILLed after the 10th and started again (same
    data) before the 18th. B must end with the 30 messages exactly once, in posting order."""
    server, a, b = cluster
    total = 30
    outcomes: list[str] = []
    fixtures = Path(__file__).resolve().parent / "fixtures" / "claude-code"
    stop = json.loads((fixtures / "stop.json").read_text())

    def post(i: int) -> None:
        if i % 2 == 0:
            res = a.request("send", channel="general", content=f"seq {i:03d}")
            assert isinstance(res, Ok), res
            outcomes.append("queued" if res.result.get("queued") else "sent")
            return
        data = {**stop, "session_id": f"00000000-0000-4000-8000-{i:012d}",
                "last_assistant_message": f"seq {i:03d}"}
        hook = subprocess.run([console_script("spaces-session-hook")], input=json.dumps(data),
                              env=a.env.env, capture_output=True, text=True, timeout=15,
                              cwd=fixtures)
        assert hook.returncode == 0 and hook.stdout == ""
        outcomes.append("hook")

    for i in range(total):
        if i == 10:
            server.kill()
        if i == 18:
            server.start()
        post(i)
        time.sleep(0.1)

    seq = re.compile(r"seq (\d{3})")

    def b_seqs() -> list[int]:
        found: list[tuple[int, int]] = []
        for channel in ("general", "agent-logs"):
            for msg in ok(b, "messages", channel=channel, limit=500):
                mt = seq.search(msg["content"])
                if mt:
                    found.append((msg["id"], int(mt.group(1))))
        return [n for _, n in sorted(found)]

    try:
        wait_for(lambda: len(b_seqs()) >= total, 30, "B to have every message")
    finally:
        got = b_seqs()
    assert got == list(range(total)), (outcomes, got)
    assert "queued" in outcomes  # the outage was real: writes waited in the outbox
    wait_for(lambda: ok(a, "status")["reconnects"] >= 1 and ok(b, "status")["reconnects"] >= 1,
             10, "both daemons to report the reconnect")
    sa, sb = ok(a, "status"), ok(b, "status")
    assert sa["connection"] == sb["connection"] == "connected"
    assert sa["outbox_depth"] == 0
    for d in (a, b):
        res = subprocess.run([console_script("spacesd"), "status"], env=d.env.env,
                             capture_output=True, text=True, timeout=15)
        assert res.returncode == 0, res.stderr
        assert f"link:      connected to {server.url}" in res.stdout
        assert "reconnect(s)" in res.stdout and "reconnect(s), subscription lag" in res.stdout


def test_reads_before_the_first_subscription_are_unavailable(
        make_server: Callable[[], StdbServer]) -> None:
    """A daemon with a token but no cache starts while SpacetimeDB is down: `spacesd read`
    says the link is not ready (`unavailable`), not that #general does not exist; once the
    server is up the same read answers."""
    server = make_server()
    token = server.mint_token()
    d = short_dir("early")
    env = stdb_env(d, server, "agent-early")
    env.env["SPACETIMEDB_TOKEN"] = token
    daemon = ProcessDaemon(env)
    try:
        daemon.start()
        res = daemon.request("messages", channel="general")
        assert not isinstance(res, Ok)
        assert res.code == "unavailable", res
        assert "not ready" in res.message
        cli = subprocess.run([console_script("spacesd"), "read", "general"], env=env.env,
                             capture_output=True, text=True, timeout=15)
        assert cli.returncode != 0
        assert "unavailable" in cli.stderr and "not ready" in cli.stderr
        assert "no such channel" not in cli.stderr
        channels = daemon.request("channels")
        assert not isinstance(channels, Ok) and channels.code == "unavailable"
        assert ok(daemon, "status")["cache_ready"] is False
        server.start()
        # the daemon's reconnect backoff is capped at 10 s (with jitter): two attempts' worth
        try:
            wait_for(lambda: isinstance(daemon.request("messages", channel="general"), Ok),
                     40, "the first subscription")
        except AssertionError as e:
            raise AssertionError(f"{e}: {ok(daemon, 'status')}\n{daemon.log.read_text()}"
                                 ) from None
        assert ok(daemon, "status")["cache_ready"] is True
        # a channel that really does not exist is not_found once the cache is ready
        missing = daemon.request("messages", channel="no-such-channel")
        assert not isinstance(missing, Ok) and missing.code == "not_found"
    finally:
        daemon.stop()
        shutil.rmtree(d, ignore_errors=True)


def test_edits_and_deletions_across_a_server_restart_reach_the_peer(
        cluster: Cluster) -> None:
    """The server is SIGKILLed and restarted; A edits one message, deletes another and posts a
    new one as soon as it is back. B's `spacesd tail --json` shows the edit and the deletion
    and the new message once; `spacesd read` on B shows the edited text, not the deleted
    message. Then B itself is stopped while A edits and deletes again: started on its cache,
    B shows those changes too."""
    server, a, b = cluster
    ids = [ok(a, "send", channel="general", content=f"r{i}")["id"] for i in range(5)]
    wait_for(lambda: [m["id"] for m in ok(b, "messages", channel="general")][-5:] == ids, 10,
             "B to have the messages")
    tail = Tail(b.env, "--json", "general")

    def call(reducer: str, *args: Any) -> None:
        def done() -> bool:
            res = a.request("call", reducer=reducer, args=list(args))
            if isinstance(res, Ok):
                return True
            assert res.code == "unavailable", res
            return False
        wait_for(done, 15, f"{reducer} to commit")

    def b_general() -> list[tuple[int, str]]:
        return [(m["id"], m["content"]) for m in ok(b, "messages", channel="general")]

    try:
        wait_for(lambda: ok(b, "status")["clients"] >= 2, 10, "the tail to connect")
        server.kill()
        server.start()
        call("edit_message", ids[2], "r2 edited")
        call("delete_message", ids[3])
        new = ok(a, "send", channel="general", content="r5")
        assert not new.get("queued"), new
        seen: list[tuple[str, int]] = []
        for _ in range(3):
            ev = json.loads(tail.wait_line('"', 20))
            # `--json` prints every event flat, id at the top; edits and deletions say "event"
            seen.append((ev.get("event", "message"), ev["id"]))
        assert sorted(seen) == sorted([("message_edited", ids[2]), ("message_deleted", ids[3]),
                                       ("message", new["id"])]), seen
        wait_for(lambda: b_general()[-5:] == [(ids[0], "r0"), (ids[1], "r1"),
                                              (ids[2], "r2 edited"), (ids[4], "r4"),
                                              (new["id"], "r5")], 10, "B's cache to agree")
    finally:
        tail.close()

    b.stop()
    call("edit_message", ids[4], "r4 edited while B was stopped")
    call("delete_message", ids[1])
    b.start()
    wait_for(lambda: ok(b, "status")["connection"] == "connected"
             and "messages" in ok(b, "status")["subscriptions"], 15, "B to subscribe")
    res = subprocess.run([console_script("spacesd"), "read", "general"], env=b.env.env,
                         capture_output=True, text=True, timeout=15)
    assert res.returncode == 0, res.stderr
    tails = [line.split(": ", 1)[1] for line in res.stdout.splitlines()[-4:]]
    assert tails == ["r0", "r2 edited (edited)", "r4 edited while B was stopped (edited)",
                     "r5"], res.stdout
    assert b_general()[-4:] == [(ids[0], "r0"), (ids[2], "r2 edited"),
                                (ids[4], "r4 edited while B was stopped"), (new["id"], "r5")]
