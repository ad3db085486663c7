"""The web view over HTTP (no browser): who gets in (login token once, cookie after it), the
Host/Origin/Sec-Fetch-Site refusals, the security headers, the API's answers and errors, the
event stream, and the full-text search it uses (SQLite FTS5, kept by triggers)."""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import html
import http.client
import json
import logging
import re
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import SpacesEnv, ThreadDaemon, make_spaces_env
from testutil import free_port

from spacesd import owner
from spacesd.model import Identity, Message, MessageType
from spacesd.store import Store, fts_query

STATIC = Path(__file__).resolve().parent.parent / "spacesd" / "web" / "static"
PASSPHRASE = "correct horse battery staple"
XSS = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>&lt;b&gt;'


class Http:
    def __init__(self, port: int) -> None:
        self.port = port
        self.origin = f"http://127.0.0.1:{port}"
        self.cookie: str | None = None

    def request(self, method: str, path: str, body: Any = None, *, host: str | None = None,
                origin: str | None = "same", headers: dict[str, str] | None = None,
                cookie: bool = True) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        hdrs = {"Host": host or f"127.0.0.1:{self.port}"}
        if origin == "same":
            if method != "GET":
                hdrs["Origin"] = self.origin
        elif origin is not None:
            hdrs["Origin"] = origin
        if cookie and self.cookie:
            hdrs["Cookie"] = self.cookie
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        out = resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        conn.close()
        return out

    def login(self, token: str, passphrase: str | None = PASSPHRASE) -> int:
        status, headers, _ = self.request("POST", "/login",
                                          {"token": token, "passphrase": passphrase})
        if status == 200:
            self.cookie = headers["set-cookie"].split(";")[0]
        return status


def set_passphrase(daemon: ThreadDaemon) -> None:
    """The person set the owner passphrase (`spacesd owner passphrase`, docs/roles.md)."""
    path = daemon.daemon_obj.settings.owner_passphrase_file
    if not path.exists():
        owner.store_hash(path, PASSPHRASE)


def start_web(daemon: ThreadDaemon) -> tuple[Http, str]:
    set_passphrase(daemon)
    res = daemon.ok("web", port=0)
    assert res["url"].startswith(f"http://127.0.0.1:{res['port']}/#t=")
    return Http(res["port"]), res["url"].split("#t=", 1)[1]


def test_login_token_works_once_and_gives_an_httponly_strict_cookie(daemon: ThreadDaemon
                                                                     ) -> None:
    web, token = start_web(daemon)
    assert web.request("GET", "/api/state")[0] == 403
    assert web.login("not-the-token") == 403
    status, headers, _ = web.request("POST", "/login", {"token": token,
                                                        "passphrase": PASSPHRASE})
    assert status == 200
    cookie = headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    web.cookie = cookie.split(";")[0]
    assert web.request("GET", "/api/state")[0] == 200
    other = Http(web.port)
    assert other.login(token) == 403  # used up
    assert other.request("GET", "/api/state")[0] == 403
    assert other.request("GET", "/events")[0] == 403
    # a second `spacesd web` mints a new link for the same server
    again = daemon.ok("web", port=0)
    assert again["port"] == web.port
    assert other.login(again["url"].split("#t=", 1)[1]) == 200
    assert web.request("POST", "/logout", {})[0] == 200
    assert web.request("GET", "/api/state")[0] == 403


def test_login_needs_the_owner_passphrase(daemon: ThreadDaemon) -> None:
    """The page acts as the owner, and any local client (an agent's shell too) can ask the
    socket for a login link: the person proves themselves with the owner passphrase, checked
    by the daemon's one gate. The link survives a refused passphrase (the person retypes it)
    and is used up by the login that succeeds."""
    res = daemon.ok("web", port=0)
    web, token = Http(res["port"]), res["url"].split("#t=", 1)[1]
    status, _, body = web.request("POST", "/login", {"token": token})
    assert status == 401 and json.loads(body)["error"]["code"] == "passphrase"
    assert "no owner passphrase is set" in json.loads(body)["error"]["message"]
    set_passphrase(daemon)
    assert web.login(token, None) == 401
    status, _, body = web.request("POST", "/login", {"token": token, "passphrase": "guess guess"})
    assert status == 401 and json.loads(body)["error"]["message"] == "wrong owner passphrase"
    # the gate's lock-out after a wrong guess (1 s), then the right passphrase gets in
    deadline = time.monotonic() + 10
    while (code := web.login(token)) != 200 and time.monotonic() < deadline:
        assert code == 401
        time.sleep(0.3)
    assert code == 200 and web.request("GET", "/api/state")[0] == 200
    assert Http(web.port).login(token) == 403  # used up


def test_foreign_host_origin_or_site_is_refused(daemon: ThreadDaemon) -> None:
    web, token = start_web(daemon)
    assert web.login(token) == 200
    state = "/api/state"
    assert web.request("GET", state)[0] == 200
    # DNS rebinding: the attacker's name in Host, even with a valid cookie
    assert web.request("GET", state, host=f"evil.example:{web.port}")[0] == 403
    assert web.request("GET", "/", host=f"evil.example:{web.port}")[0] == 403
    assert web.request("GET", state, host="127.0.0.1:1")[0] == 403
    # cross-origin and cross-site requests
    assert web.request("GET", state, origin="http://evil.example")[0] == 403
    assert web.request("GET", state, headers={"Sec-Fetch-Site": "cross-site"})[0] == 403
    assert web.request("GET", "/events", headers={"Sec-Fetch-Site": "same-site"})[0] == 403
    send = {"channel": 2, "content": "from elsewhere"}
    assert web.request("POST", "/api/send", send, origin="http://evil.example")[0] == 403
    assert web.request("POST", "/api/send", send, origin=None)[0] == 403  # a write needs Origin
    assert web.request("POST", "/api/send", send,
                       origin=f"http://localhost:{web.port}")[0] == 403  # not the page's own
    assert daemon.ok("messages", channel="agent-logs") == []
    assert web.request("POST", "/api/send", send)[0] == 200
    assert [m["content"] for m in daemon.ok("messages", channel="agent-logs")] == [
        "from elsewhere"]


def test_security_headers_and_static_files(daemon: ThreadDaemon) -> None:
    web, _ = start_web(daemon)
    status, headers, body = web.request("GET", "/")
    assert status == 200 and b'<script src="/app.js?v=' in body
    # the script and stylesheet by their content's hash: kept by the browser until changed
    version = re.search(rb'src="/app\.js\?v=([0-9a-f]+)"', body)
    assert version and version.group(1).decode() == hashlib.sha256(
        (STATIC / "app.js").read_bytes()).hexdigest()[:16]
    assert "immutable" in web.request("GET", "/app.js?v=" + version.group(1).decode())[1][
        "cache-control"]
    assert web.request("GET", "/app.js?v=old")[1]["cache-control"] == "no-cache"
    assert headers["cache-control"] == "no-cache"  # the page itself: asked for each time
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert "frame-ancestors 'none'" in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert web.request("GET", "/app.js")[1]["content-type"].startswith("text/javascript")
    assert web.request("GET", "/nope")[0] == 403  # not public, no session
    # no inline script, no HTML sinks anywhere in the page's code
    html = (STATIC / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", html) and " on" not in html.split("<body")[1]
    js = (STATIC / "app.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                 "new Function", "setInterval"):
        assert sink not in js, sink


def test_api_reads_writes_and_errors(daemon: ThreadDaemon) -> None:
    web, token = start_web(daemon)
    assert web.login(token) == 200

    def get(path: str) -> Any:
        status, _, body = web.request("GET", path)
        assert status == 200, body
        return json.loads(body)

    state = get("/api/state")
    owner = daemon.ok("status")["owner"]
    assert state["me"]["identity"] == owner and state["me"]["owner"] is True
    names = [c["name"] for c in state["servers"][0]["channels"]]
    assert names == ["general", "agent-logs", "system"]
    general = state["servers"][0]["channels"][0]["id"]
    before = state["servers"][0]["channels"][0]["unread"]  # the hub's Join messages
    for i in range(3):
        daemon.ok("send", channel="general", content=f"m{i}")
    state = get("/api/state")
    assert state["servers"][0]["channels"][0]["unread"] == before + 3
    page = get(f"/api/messages?channel={general}")
    assert [m["content"] for m in page["messages"]][-3:] == ["m0", "m1", "m2"]
    last = page["messages"][-1]["id"]
    status, _, body = web.request("POST", "/api/read", {"channel": general, "message_id": last})
    assert status == 200, body
    assert get("/api/state")["servers"][0]["channels"][0]["unread"] == 0
    status, _, body = web.request("POST", "/api/react", {"message_id": last, "emoji": "👍"})
    assert status == 200, body
    page = get(f"/api/messages?channel={general}")
    assert page["reactions"][str(last)] == [{"emoji": "👍", "by": [owner]}]
    # errors carry the protocol's codes
    status, _, body = web.request("GET", "/api/messages?channel=999")
    assert status == 404 and json.loads(body)["error"]["code"] == "not_found"
    status, _, body = web.request("GET", "/api/messages?channel=x")
    assert status == 400 and "channel" in json.loads(body)["error"]["message"]
    status, _, body = web.request("POST", "/api/send", {"channel": general, "content": ""})
    assert status == 409 and json.loads(body)["error"]["code"] == "reducer_error"
    status, _, body = web.request("POST", "/api/edit", {"message_id": last, "content": "x"})
    assert status == 409  # the daemon sent it, not the owner
    status, _, body = web.request("POST", "/api/send", "not an object")
    assert status == 400
    # a resend of one composed message (same key, after a lost answer) is one message
    once = {"channel": general, "content": "sent once", "key": "web:resend-1"}
    assert web.request("POST", "/api/send", once)[0] == 200
    assert web.request("POST", "/api/send", once)[0] == 200
    contents = [m["content"] for m in get(f"/api/messages?channel={general}")["messages"]]
    assert contents.count("sent once") == 1
    status, _, body = web.request("POST", "/api/send", {**once, "key": "has space"})
    assert status == 400 and "key" in json.loads(body)["error"]["message"]
    assert [m["content"] for m in get(f"/api/messages?channel={general}")["messages"]
            ] == contents  # refused: nothing changed


def test_search_covers_messages_and_summary_facts(daemon: ThreadDaemon) -> None:
    web, token = start_web(daemon)
    assert web.login(token) == 200
    daemon.ok("send", channel="general", content="the rate limiter drops bursts")
    daemon.ok("post_summary", summary={"session_id": "s1", "task": "fix the flaky websocket test",
                                       "final_message": "Done: retries added."})
    status, _, body = web.request("GET", "/api/search?q=websock")
    found = json.loads(body)
    assert status == 200 and [m["summary"]["session_id"] for m in found["results"]] == ["s1"]
    assert "every message" in found["scope"]
    found = json.loads(web.request("GET", "/api/search?q=rate%20limit")[2])
    assert [m["content"] for m in found["results"]] == ["the rate limiter drops bursts"]
    # JSON syntax and FTS5 operators are not searchable text nor query syntax
    assert json.loads(web.request("GET", "/api/search?q=session_summary")[2])["results"] == []
    assert json.loads(web.request("GET", "/api/search?q=%22%29%28*%20OR")[2])["results"] == []


def test_event_stream_pushes_commits_and_resumes_from_last_event_id(daemon: ThreadDaemon
                                                                    ) -> None:
    web, token = start_web(daemon)
    assert web.login(token) == 200
    conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=10)
    assert web.cookie is not None
    conn.request("GET", "/events", headers={"Host": f"127.0.0.1:{web.port}",
                                            "Cookie": web.cookie})
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("Content-Type") == "text/event-stream"
    sent = daemon.ok("send", channel="general", content="pushed")

    def next_event() -> dict[str, Any]:
        fields: dict[str, str] = {}
        while True:
            line = resp.readline().decode().rstrip("\n")
            if not line:
                if "data" in fields:
                    return {"id": fields.get("id"), **json.loads(fields["data"])}
                continue
            key, _, value = line.partition(": ")
            fields[key] = value

    assert next_event()["event"] == "hello"
    ev = next_event()
    assert ev["event"] == "message" and ev["data"]["id"] == sent["id"]
    assert ev["data"]["content"] == "pushed" and ev["id"] == str(ev["seq"])
    conn.close()
    daemon.ok("call", reducer="edit_message", args=[sent["id"], "pushed, edited"])
    # a page that reconnects with Last-Event-ID gets what it missed, in order
    conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=10)
    conn.request("GET", "/events", headers={"Host": f"127.0.0.1:{web.port}",
                                            "Cookie": web.cookie, "Last-Event-ID": ev["id"]})
    resp = conn.getresponse()
    missed = next_event()
    assert missed["event"] == "message_edited" and missed["data"]["content"] == "pushed, edited"
    conn.close()


def test_fts_index_follows_inserts_edits_deletes_and_is_built_for_old_files(tmp_path: Path
                                                                            ) -> None:
    path = tmp_path / "s.sqlite"
    sender = Identity(7)
    with Store(path) as store:
        for name in ("message_fts_insert", "message_fts_delete", "message_fts_update"):
            store.conn.execute(f"DROP TRIGGER {name}")  # a file from before the index
        store.conn.execute("DROP TABLE message_fts")
        for i, text in enumerate(["alpha beta", "beta gamma", "Größe überall"], start=1):
            store.insert(Message(0, 1, None, sender, text, MessageType.Text, i, None, None))
    with Store(path) as store:  # reopened: the index is built from the rows there
        assert [m.id for m in store.search_messages("beta", 10)] == [2, 1]
        assert [m.id for m in store.search_messages("uberall", 10)] == [3]
        msg = store.message(1)
        assert msg is not None
        msg.content = "delta"
        store.update(msg)
        assert [m.id for m in store.search_messages("beta", 10)] == [2]
        assert [m.id for m in store.search_messages("del", 10)] == [1]
        store.delete("message", 2)
        assert store.search_messages("beta", 10) == []
        assert store.search_messages("gamma", 10, channel_ids=[1]) == []
        assert store.unread_count(1, 0, 10) == 2 and store.unread_count(1, 0, 1) == 1


@pytest.mark.parametrize("text,query", [
    ("fix rate", '"fix" "rate"*'), ('a"b OR (c*', '"a" "b" "OR" "c"*'), ("  ", None)])
def test_fts_query_quotes_every_word(text: str, query: str | None) -> None:
    assert fts_query(text) == query


def test_the_view_on_spacetimedb_reads_the_cache_and_writes_as_the_daemon(
        spaces_env: SpacesEnv) -> None:
    """On SpacetimeDB (the stand-in server) the page reads the daemon's cache, its search
    says what the cache covers, its writes are the daemon's own (no local owner there), and
    a message another machine posts is pushed to the page."""
    from test_stdb_e2e import ServerProcess

    from spacesd.daemon.spacetimedb import SpacetimeBackend

    server = ServerProcess(spaces_env.root / "stdb", free_port()).start()
    daemon = ThreadDaemon(spaces_env, backend_class=functools.partial(
        SpacetimeBackend, host=server.url, database=server.database))
    other = ThreadDaemon(make_spaces_env(spaces_env.root / "other")[0],
                         backend_class=functools.partial(
                             SpacetimeBackend, host=server.url, database=server.database),
                         agent_name="other-machine")
    try:
        daemon.start()
        web, token = start_web(daemon)
        assert web.login(token) == 200
        state = json.loads(web.request("GET", "/api/state?first=1")[2])
        me = daemon.ok("status")["identity"]
        assert state["backend"] == "spacetimedb" and state["me"] == {
            "identity": me, "username": daemon.ok("status")["username"], "owner": False}
        assert "cache" in state["search"] and "older ones are not searched" in state["search"]
        general = next(c["id"] for c in state["servers"][0]["channels"] if c["name"] == "general")
        status, _, body = web.request("POST", "/api/send",
                                      {"channel": general, "content": "from the page"})
        assert status == 200, body
        assert daemon.ok("messages", channel="general", limit=1)[0]["sender"] == me
        conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=20)
        assert web.cookie is not None
        conn.request("GET", "/events", headers={"Host": f"127.0.0.1:{web.port}",
                                                "Cookie": web.cookie})
        resp = conn.getresponse()
        assert resp.readline().startswith(b"retry:")
        other.start()
        other.ok("send", channel="general", content="from another machine")
        seen = b""
        while b"from another machine" not in seen:
            line = resp.readline()
            assert line, "the stream ended"
            seen += line
        conn.close()
        found = json.loads(web.request("GET", "/api/search?q=another%20machine")[2])
        assert [m["content"] for m in found["results"]] == ["from another machine"]
    finally:
        other.stop()
        daemon.stop()
        server.stop()


def test_spacesd_web_prints_its_link_only_at_a_terminal(daemon: ThreadDaemon,
                                                        spaces_env: SpacesEnv) -> None:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "spacesd", "web", "--port", "0"],
                         env=spaces_env.env, capture_output=True, text=True, timeout=30,
                         stdin=subprocess.DEVNULL)
    assert out.returncode != 0 and "#t=" not in out.stdout + out.stderr
    assert "only at a terminal" in out.stderr
    assert daemon.daemon_obj.web is None  # nothing was started for it


def test_spacesd_web_at_a_terminal_prints_a_working_link(daemon: ThreadDaemon,
                                                         spaces_env: SpacesEnv) -> None:
    import os
    import pty
    import subprocess
    import sys

    set_passphrase(daemon)
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run([sys.executable, "-m", "spacesd", "web", "--port", "0"],
                              env=spaces_env.env, stdin=follower, stdout=follower,
                              stderr=subprocess.PIPE, timeout=30)
        assert proc.returncode == 0, proc.stderr
        printed = os.read(leader, 65536).decode()
    finally:
        os.close(leader)
        os.close(follower)
    url = re.search(r"http://127\.0\.0\.1:(\d+)/#t=([A-Za-z0-9_-]+)", printed)
    assert url is not None, printed
    web = Http(int(url.group(1)))
    assert web.login(url.group(2)) == 200
    assert web.request("GET", "/api/state")[0] == 200


def test_a_first_stream_resumes_from_the_state_it_was_built_from(daemon: ThreadDaemon) -> None:
    """The page opens its stream after it has its state: `/events?after=<state's seq>` replays
    what was committed in between, so nothing falls into the gap."""
    web, token = start_web(daemon)
    assert web.login(token) == 200
    daemon.ok("send", channel="general", content="before the state")
    seq = json.loads(web.request("GET", "/api/state")[2])["seq"]
    daemon.ok("send", channel="general", content="in the gap")
    conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=10)
    assert web.cookie is not None
    conn.request("GET", f"/events?after={seq}", headers={"Host": f"127.0.0.1:{web.port}",
                                                         "Cookie": web.cookie})
    resp = conn.getresponse()
    seen = b""
    while b"in the gap" not in seen:
        line = resp.readline()
        assert line, "the stream ended"
        seen += line
    assert b"before the state" not in seen
    conn.close()


def _inline(html: str, tag: str) -> list[str]:
    """The contents of the page's inline `<tag>` elements (no src), in order."""
    return re.findall(rf"<{tag}(?![^>]*\bsrc=)[^>]*>(.*?)</{tag}>", html, re.S)


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_a_logged_in_page_carries_its_first_screen_as_inert_text(daemon: ThreadDaemon) -> None:
    """`GET /` with a live session carries the channel the person was last in, rendered by the
    server (every text escaped) and its state as a JSON data block a message cannot break out
    of; the inline stylesheet and the one inline script run by their hashes in the CSP, with
    no 'unsafe-inline'. Without a session the page carries nothing of the hub's."""
    web, token = start_web(daemon)
    breakout = "</script><script>window.pwned=3</script><!--"
    daemon.ok("send", channel="agent-logs", content=XSS)
    daemon.ok("send", channel="agent-logs", content=breakout)
    daemon.ok("send", channel="general", content="in general")
    for cookie in (False, True):  # before the login, and with a forged cookie
        web.cookie = None if not cookie else "spaces_session=forged"
        status, headers, body = web.request("GET", "/")
        assert status == 200 and b"onerror" not in body and b"boot" not in body
        assert b'id="first"' not in body and b"window.pwned" not in body
    assert web.login(token) == 200
    status, headers, body = web.request("GET", "/")
    page = body.decode()
    assert status == 200 and headers["cache-control"] == "no-store"
    first = page.split('<div id="first"', 1)[1].split("</ol></div>", 1)[0]
    assert 'data-channel="2"' in first  # the configured channel: none opened yet
    assert html.escape(XSS) in first and html.escape(breakout) in first
    assert "<img" not in first and "<script" not in first
    scripts = re.findall(r"<script[^>]*>", page)
    assert scripts[0] == '<script type="application/json" id="boot">', scripts
    assert scripts[1] == scripts[3] == "<script>", scripts
    assert re.fullmatch(r'<script src="/app\.js\?v=[0-9a-f]{16}" async>', scripts[2]), scripts
    boot = json.loads(_inline(page, "script")[0])
    assert [m["content"] for m in boot["page"]["messages"]][-2:] == [XSS, breakout]
    csp = headers["content-security-policy"]
    assert "'unsafe-inline'" not in csp
    (style,) = _inline(page, "style")
    assert style == (STATIC / "app.css").read_text()
    assert f"style-src 'self' {_sha256(style)};" in csp
    inline = _inline(page, "script")[1:]  # (the first is the JSON data block)
    assert len(inline) == 2 and "window.pwned" not in "".join(inline)
    assert f"script-src 'self' {_sha256(inline[0])} {_sha256(inline[1])};" in csp
    # the channel the page opens is where the next load starts, for this session only
    assert web.request("GET", "/api/messages?channel=1")[0] == 200
    assert 'data-channel="1"' in web.request("GET", "/")[2].decode()
    other = Http(web.port)
    assert other.login(daemon.ok("web", port=0)["url"].split("#t=", 1)[1]) == 200
    assert 'data-channel="2"' in other.request("GET", "/")[2].decode()


def test_no_login_link_or_session_cookie_is_written_anywhere(
        daemon: ThreadDaemon, spaces_env: SpacesEnv, caplog: pytest.LogCaptureFixture) -> None:
    """An agent's shell reads files and logs it was not given: the login token and the session
    cookie live in the daemon's memory only (their SHA-256), in no file of Spaces' folders
    (database, state, logs, config) and in no log record, even at debug level."""
    caplog.set_level(logging.DEBUG)
    web, token = start_web(daemon)
    assert web.login(token) == 200
    assert web.cookie is not None
    cookie = web.cookie.split("=", 1)[1]
    unused = daemon.ok("web", port=0)["url"].split("#t=", 1)[1]
    assert web.request("POST", "/api/send", {"channel": 2, "content": "a write"})[0] == 200
    assert web.request("GET", "/")[0] == 200
    daemon.ok("status")  # (a round trip: the daemon has handled all of the above)
    secrets = [s.encode() for s in (token, cookie, unused)]
    files = [p for p in spaces_env.root.rglob("*") if p.is_file()]
    assert any(p.suffix == ".sqlite" for p in files), files  # the scan sees the database
    for path in files:
        data = path.read_bytes()
        assert not [s for s in secrets if s in data], path
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert not [s for s in (token, cookie, unused) if s in logged]


def _private_channel(daemon: ThreadDaemon) -> int:
    """A channel of a server another person made (the page's owner is not a member of it)."""
    backend = daemon.daemon_obj.backend

    async def make() -> int:
        stranger = Identity(int.from_bytes(hashlib.sha256(b"a stranger").digest(), "big"))
        await backend.open_participant(stranger, None)
        await backend.call("create_server", ["Private", None, None], caller=stranger)
        server = next(s for s in backend.store.servers_of(stranger) if s.name == "Private")
        (channel,) = backend.store.channels(server.id)
        await backend.call("send_message", [channel.id, "private words", None, None, "Text"],
                           caller=stranger)
        return int(channel.id)

    assert daemon.loop is not None
    return asyncio.run_coroutine_threadsafe(make(), daemon.loop).result(10)


def test_a_path_route_renders_the_addressed_channel_only_with_a_session(
        daemon: ThreadDaemon) -> None:
    """`/c/N` is the same page with channel N's first screen rendered by the server, for a
    logged-in person only; it becomes the channel the next load of `/` starts at. Without a
    session every view's address gets the plain page (nothing of the hub); a channel that does
    not exist, or of a server the person is not a member of, gets 404 and nothing of it, like
    the API (reads follow membership)."""
    web, token = start_web(daemon)
    ids = {c["name"]: c["id"] for c in daemon.ok("channels")}
    general, logs = ids["general"], ids["agent-logs"]
    daemon.ok("send", channel="general", content=XSS)
    daemon.ok("send", channel="agent-logs", content="only in agent-logs")
    private = _private_channel(daemon)
    views = (f"/c/{general}", f"/c/{general}/t/1", "/d/1", f"/p/{'ab' * 32}", "/tasks")
    for cookie in (None, "spaces_session=forged"):
        web.cookie = cookie
        for path in views:
            status, headers, body = web.request("GET", path)
            assert status == 200, path
            assert headers["cache-control"] == "no-store"
            assert b"boot" not in body and b'id="first"' not in body and b"onerror" not in body
            assert body == web.request("GET", "/")[2], path  # the page that asks to log in
    assert web.login(token) == 200
    status, headers, body = web.request("GET", f"/c/{general}")
    page = body.decode()
    assert status == 200 and headers["cache-control"] == "no-store"
    assert "'unsafe-inline'" not in headers["content-security-policy"]
    first = page.split('<div id="first"', 1)[1].split("</ol></div>", 1)[0]
    assert f'data-channel="{general}"' in first and "<title>#general · Spaces" in page
    assert html.escape(XSS) in first and "<img" not in first and "<script" not in first
    assert "only in agent-logs" not in page
    assert json.loads(_inline(page, "script")[0])["channel"] == general
    # the addressed channel is where the next plain load starts
    assert f'data-channel="{general}"' in web.request("GET", "/")[2].decode()
    page = web.request("GET", f"/c/{logs}")[2].decode()
    assert "only in agent-logs" in page and f'data-channel="{logs}"' in page
    # a thread, a DM: the sidebar's state only (the script draws the view); the tasks and a
    # profile: the last channel behind the panel
    for path in (f"/c/{general}/t/1", "/d/1"):
        page = web.request("GET", path)[2].decode()
        assert json.loads(_inline(page, "script")[0])["page"] is None and 'id="first"' not in page
    for path in (f"/p/{'ab' * 32}", "/tasks"):
        assert "only in agent-logs" in web.request("GET", path)[2].decode()
    # unknown, too large, or not the person's: 404 and nothing of it, as the API says
    for path in (f"/c/{private}", "/c/999999", f"/c/{private}/t/1", "/c/" + "9" * 25,
                 "/p/abc"):
        status, _, body = web.request("GET", path)
        assert status == 404, path
        assert b"private words" not in body and b"boot" not in body, path
        assert b'id="first"' not in body, path
    assert web.request("GET", f"/api/messages?channel={private}")[0] == 404
    assert web.request("GET", f"/api/state?channel={private}")[0] == 404
    status, _, body = web.request("GET", "/api/search?q=private")
    assert status == 200 and json.loads(body)["results"] == []
    # a refused address does not become the remembered channel
    assert f'data-channel="{logs}"' in web.request("GET", "/")[2].decode()
    # Host and Origin rules are the same as every request's
    assert web.request("GET", f"/c/{general}", host="evil.example:80")[0] == 403
    assert web.request("GET", f"/c/{general}",
                       headers={"Sec-Fetch-Site": "cross-site"})[0] == 403
