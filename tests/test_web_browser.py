"""The web view in a real headless Chromium (Debian's, through chromedriver and Selenium): the
login link, messages pushed without a reload (from `spacesd send`, edits, deletions,
reactions, threads), summary cards, unread counts, compose, search, keyboard use, markup that
stays text, and screenshots of the main views at desktop and phone width (build/web/*.png)."""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import browser
import pytest
from conftest import SpacesEnv, ThreadDaemon, make_spaces_env

from spacesd import owner

why = browser.missing()
if why is not None and os.environ.get("CI") == "true":
    raise RuntimeError(f"the web view's browser tests cannot run: {why}")
pytestmark = pytest.mark.skipif(why is not None, reason=why or "")

SUMMARY = {
    "session_id": "5f0c2a8e-1111-2222-3333-444455556666", "agent_kind": "claude-code",
    "host": "dev-laptop", "project": "/home/dev/src/acme-api", "git_branch": "fix/rate-limit",
    "task": "Fix the rate limiter's burst handling",
    "files": ["src/limiter.py", "tests/test_limiter.py"],
    "commands": ["pytest -q", "git commit -m 'limiter: bursts'"], "commands_total": 7,
    "failed_commands": [{"command": "pytest -q tests/test_limiter.py", "exit": 1}],
    "tests": [{"command": "pytest -q", "result": "8 passed", "ok": True}],
    "commits": [{"sha": "3e1f2a9c0ffee", "message": "limiter: bursts"}],
    "tokens": {"input": 1200, "output": 800, "cache_read": 5000, "cache_creation": 0},
    "duration_s": 754, "model": "claude-sonnet-4-5",
    "final_message": "Bursts are now smoothed; 8 tests pass.",
}
PASSPHRASE = "correct horse battery staple"
XSS = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>&lt;b&gt;'


class Site:
    def __init__(self, env: SpacesEnv, daemon: ThreadDaemon, page: browser.Browser) -> None:
        self.env, self.daemon, self.page = env, daemon, page
        self.channels = {c["name"]: c["id"] for c in daemon.ok("channels")}

    def open(self, channel: str = "agent-logs") -> None:
        """A new login link, opened as the person: the page asks for the owner passphrase
        (docs/roles.md), which the person types."""
        url = self.daemon.ok("web", port=0)["url"]
        self.page.driver.get("about:blank")  # a new document (not a fragment change)
        self.page.driver.get(url)
        self.page.wait_js("return !document.getElementById('pass-form').hidden")
        assert "passphrase" in self.page.js(
            "return document.getElementById('gate-text').textContent")
        box = self.page.driver.find_element("id", "pass")
        box.send_keys(PASSPHRASE + "\n")
        self.page.wait_js("return document.body.dataset.ready === '1'")
        assert "#t=" not in self.page.driver.current_url
        token = url.split("#t=", 1)[1]  # (in no request's path or query: never logged)
        assert not self.page.js("return performance.getEntriesByType('resource')"
                                ".filter(e => e.name.includes(arguments[0])).length", token)
        self.go(channel)

    def go(self, channel: str) -> None:
        cid = self.channels[channel]  # (by script: at phone width the sidebar is a menu)
        self.page.js("document.querySelector(`button.chan[data-id='${arguments[0]}']`).click()",
                     cid)
        self.page.wait_js(f"return window.spaces.current === {cid} && "
                          f"window.spaces.lastOpen && window.spaces.lastOpen.channel === {cid}")

    def cli(self, *args: str) -> str:
        out = subprocess.run([sys.executable, "-m", "spacesd", *args], env=self.env.env,
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        return out.stdout

    def texts(self, selector: str = "#messages li.msg .body") -> list[str]:
        got: list[str] = self.page.js(
            "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent)",
            selector)
        return got

    def text_of(self, text: str, selector: str = "#messages li.msg") -> str:
        """The whole text of the (current) element holding `text`, '' if none does."""
        found: str = self.page.js(
            "const e = [...document.querySelectorAll(arguments[0])]"
            ".find(e => e.textContent.includes(arguments[1])); return e ? e.innerText : ''",
            selector, text)
        return found

    def wait_text(self, text: str, selector: str = "#messages li.msg") -> Any:
        return self.page.wait(lambda: self.page.js(
            "return [...document.querySelectorAll(arguments[0])]"
            ".find(e => e.textContent.includes(arguments[1])) || null", selector, text),
            what=f"{text!r} in {selector}")


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    root = Path(tempfile.mkdtemp(prefix="spc-web-", dir="/tmp"))
    env, _ = make_spaces_env(root)
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env.env)
    daemon = ThreadDaemon(env).start()
    owner.store_hash(daemon.daemon_obj.settings.owner_passphrase_file, PASSPHRASE)
    page = browser.Browser()
    try:
        yield Site(env, daemon, page)
    finally:
        page.close()
        daemon.stop()
        os.environ.clear()
        os.environ.update(saved)
        shutil.rmtree(root, ignore_errors=True)


def test_cli_message_appears_live_without_reload(site: Site) -> None:
    site.open("agent-logs")
    site.page.js("window.__sameDocument = true")
    site.cli("send", "agent-logs", "hello from the CLI")
    site.wait_text("hello from the CLI")
    assert site.page.js("return window.__sameDocument") is True  # no reload happened
    assert "#t=" not in site.page.driver.current_url  # the token left the address bar
    samples = site.page.wait_js("return window.spaces.latency.length && window.spaces.latency")
    assert 0 <= samples[-1]["ms"] < 5000, samples


def test_markup_in_a_message_is_inert_text(site: Site) -> None:
    site.open("agent-logs")
    site.cli("send", "agent-logs", XSS)
    item = site.wait_text("onerror")
    assert item.find_element("css selector", ".body").text == XSS
    assert site.page.js("return window.pwned === undefined")
    assert site.page.js("return document.querySelectorAll('#messages img, #messages script')"
                        ".length") == 0
    summary = {**SUMMARY, "session_id": "xss-session", "task": XSS, "final_message": XSS}
    site.daemon.ok("post_summary", summary=summary)
    card = site.wait_text("xss-sess", "#messages article.card")
    assert XSS in card.text
    assert site.page.js("return window.pwned === undefined")


def test_summary_card_shows_the_session_facts(site: Site) -> None:
    site.open("agent-logs")
    site.daemon.ok("post_summary", summary=SUMMARY)
    card = site.wait_text("Fix the rate limiter", "#messages article.card")
    text = card.text
    for label in ("Task", "Files", "Commands", "Tests", "Commits", "Tokens", "Duration",
                  "Participant"):
        assert label in text, label
    for fact in ("claude-code on dev-laptop", "/home/dev/src/acme-api · fix/rate-limit",
                 "src/limiter.py", "7 run, 1 failed", "pytest -q tests/test_limiter.py",
                 "8 passed", "3e1f2a9c0f limiter: bursts", "7000", "12 min 34 s",
                 "session 5f0c2a8e", "Bursts are now smoothed; 8 tests pass."):
        assert fact in text, fact
    failed = card.find_element("css selector", "ul.failed li")
    assert failed.text == "pytest -q tests/test_limiter.py"
    link = card.find_element("css selector", "a.who")
    me = site.daemon.ok("status")["identity"]
    assert link.get_attribute("href").endswith(f"/p/{me}")
    link.click()
    site.page.wait_js("return !document.getElementById('panel').hidden")
    assert "@" in site.page.js("return document.getElementById('panel-title').textContent")
    site.page.screenshot("desktop-participant")
    site.page.js("document.getElementById('panel-close').click()")


def test_edits_deletions_reactions_and_threads_arrive_live(site: Site) -> None:
    site.open("general")
    sent = site.daemon.ok("send", channel="general", content="to be edited")
    gone = site.daemon.ok("send", channel="general", content="to be deleted")
    site.wait_text("to be deleted")
    site.daemon.ok("call", reducer="edit_message", args=[sent["id"], "edited text"])
    site.daemon.ok("call", reducer="delete_message", args=[gone["id"]])
    site.daemon.ok("call", reducer="add_reaction", args=[sent["id"], "🚀"])
    site.page.wait(lambda: "(edited)" in site.text_of("edited text")
                   and "🚀 1" in site.text_of("edited text"), what="edit+react")
    site.page.wait(lambda: "to be deleted" not in " ".join(site.texts()), what="deletion")
    site.daemon.ok("call", reducer="create_thread", args=[site.channels["general"], "design"])
    thread = site.page.wait_js("return [...document.querySelectorAll('#threads a.chip')]"
                               ".find(a => a.textContent.includes('design')) || null")
    tid = int(thread.get_attribute("href").rsplit("/", 1)[1])
    site.daemon.ok("send", channel="general", content="inside the thread", thread_id=tid)
    site.wait_text("in thread design")
    site.page.driver.find_element("css selector", f"#threads a.chip[href$='/t/{tid}']").click()
    site.page.wait_js(f"return window.spaces.thread === {tid} && window.spaces.lastOpen")
    site.wait_text("inside the thread")
    assert "edited text" not in " ".join(site.texts())


def test_compose_post_reply_edit_react_delete_as_the_owner(site: Site) -> None:
    site.open("general")
    box = site.page.driver.find_element("id", "text")
    box.send_keys("posted from the page")
    box.send_keys("\n")
    item = site.wait_text("posted from the page")
    owner = site.daemon.ok("status")["owner"]
    stored = site.daemon.ok("messages", channel="general", limit=1)[0]
    assert stored["content"] == "posted from the page" and stored["sender"] == owner
    item.click()
    site.page.js("document.activeElement.blur(); arguments[0].focus()", item)
    item.send_keys("r")
    box.send_keys("a reply\n")
    reply = site.wait_text("a reply")
    assert "↪ @" in reply.text
    assert site.daemon.ok("messages", channel="general", limit=1)[0]["reply_to_id"] == stored["id"]
    site.page.js("arguments[0].focus()", item)
    item.send_keys("e")
    box.clear()
    box.send_keys("posted, then edited\n")
    site.wait_text("posted, then edited")
    item = site.wait_text("posted, then edited")
    item.find_element("css selector", ".actions button[aria-label='React 👍']").click()
    site.page.wait(lambda: "👍 1" in site.text_of("posted, then edited"), what="reaction")
    item = site.wait_text("posted, then edited")
    delete = next(b for b in item.find_elements("css selector", ".actions button")
              if b.text == "Delete")
    delete.click()
    delete.click()
    site.page.wait(lambda: "posted, then edited" not in " ".join(site.texts()), what="gone")
    assert all(m["id"] != stored["id"] for m in site.daemon.ok("messages", channel="general"))


def test_direct_messages_live_with_their_read_mark(site: Site) -> None:
    """The person DMs the daemon's agent from its profile; the agent's answer arrives live,
    with an unread count while the person looks elsewhere; the person's message shows
    "✓ read" when the agent reads it."""
    site.open("general")
    agent = site.daemon.ok("status")["identity"]
    site.page.js("location.hash = arguments[0]", f"#/p/{agent}")
    site.page.wait_js("return !document.getElementById('panel').hidden && "
                      "document.querySelector('#panel-list button.dm-start')").click()
    site.page.wait_js("return window.spaces.dm !== null")
    conv = site.page.js("return window.spaces.dm")
    box = site.page.driver.find_element("id", "text")
    box.send_keys("are you there?\n")
    site.wait_text("are you there?")
    assert "sent" in site.text_of("are you there?")
    site.daemon.ok("call", reducer="send_dm", args=[conv, "yes, on it"])
    site.wait_text("yes, on it")
    site.daemon.ok("call", reducer="mark_dm_read", args=[conv])
    site.page.wait(lambda: "✓ read" in site.text_of("are you there?"), what="read mark")
    site.go("general")
    site.daemon.ok("call", reducer="send_dm", args=[conv, "done"])
    badge = f"button.chan[data-dm='{conv}'] .unread"
    site.page.wait(lambda: site.page.js(f"return document.querySelector(\"{badge}\").textContent")
                   == "1", what="DM unread")
    # (by script: the sidebar may be re-rendered between finding the button and a click)
    site.page.js(f"document.querySelector(\"button.chan[data-dm='{conv}']\").click()")
    site.wait_text("done")
    site.page.wait(lambda: site.page.js(f"return document.querySelector(\"{badge}\").hidden"),
                   what="DM read")


def test_tasks_and_leases_live(site: Site) -> None:
    """Tasks an orchestrator creates, claims and completes, and a path lease, appear on the
    page as they happen, with the count of open and claimed tasks in the sidebar."""
    site.open("general")
    made = site.daemon.ok("task_create", channel="general", title="split the limiter",
                          subtasks=["token bucket", "burst tests"])
    parent, first = made["task"]["id"], made["subtasks"][0]["id"]
    site.page.wait(lambda: site.page.js("return document.getElementById('tasks-count')"
                                        ".textContent") == "3", what="3 active tasks")
    site.page.driver.find_element("id", "tasks-link").click()
    site.page.wait(lambda: "split the limiter" in site.text_of(f"#{parent} ", "#panel-list li"),
                   what="the task board")
    site.daemon.ok("task_claim", task=first)
    site.page.wait(lambda: "Claimed by" in site.text_of("token bucket", "#panel-list li"),
                   what="claimed live")
    site.daemon.ok("lease_acquire", path="src/limiter/", cwd=str(site.env.root),
                   reason="refactoring the limiter")
    site.page.wait(lambda: "refactoring the limiter" in site.text_of(
        "src/limiter/", "#panel-list li"), what="lease live")
    site.daemon.ok("task_complete", task=first, result="bucket in place, 5 tests")
    site.page.wait(lambda: "bucket in place" in site.text_of("token bucket", "#panel-list li"),
                   what="result live")
    assert site.page.js("return document.getElementById('tasks-count').textContent") == "2"
    assert "Claimed by\n@" in site.text_of("token bucket", "#panel-list li")
    assert "@@" not in site.page.js("return document.getElementById('panel-list').innerText")
    site.wait_text("Task created: split the limiter (2 subtasks: token bucket, burst tests)")
    site.wait_text("Task #2 done: token bucket — bucket in place, 5 tests")
    site.page.screenshot("desktop-tasks")
def test_priority_message_to_a_session_and_its_receipt_live(site: Site) -> None:
    """A session registered by its hooks shows in the sidebar with its presence; the person
    sends it a priority message from its profile; the receipt reads queued, then delivered
    the moment the session's hook acks the claim (the ops the real hooks call), in the panel
    and on the message in the channel."""
    session = "web-test-session-1"
    joined = site.daemon.ok("session_event", session=session, agent="claude",
                            event="SessionStart", cwd=str(site.env.root))
    handle, identity = joined["participant"]["handle"], joined["participant"]["identity"]
    site.open("agent-logs")
    link = site.page.wait_js(
        f"return document.querySelector(\"#sessions a[href='/p/{identity}']\")")
    assert handle in link.text and "claude" in link.text
    link.click()
    form = site.page.wait_js("return !document.getElementById('panel').hidden && "
                             "document.querySelector('#panel-list form.address')")
    assert "Session" in site.page.js("return document.getElementById('panel-list').innerText")
    form.find_element("css selector", "textarea").send_keys("stop: the API is frozen")
    form.find_element("css selector", "input[type=checkbox]").click()
    form.find_element("css selector", "button[type=submit]").click()
    site.page.wait(lambda: f"{handle} · queued" in site.page.js(
        "return document.getElementById('panel-list').innerText"), what="queued receipt")
    claim = site.daemon.ok("inbox_claim", session=session, point="pre")
    assert claim["priority"] is True and "stop: the API is frozen" in claim["text"]
    site.daemon.ok("inbox_ack", claim=claim["claim"], session=session, ids=claim["ids"])
    site.page.wait(lambda: f"{handle} · delivered" in site.page.js(
        "return document.getElementById('panel-list').innerText"), what="delivered receipt")
    site.page.wait(lambda: f"{handle} · delivered" in site.text_of("stop: the API is frozen"),
                   what="delivered on the message")
    site.page.screenshot("desktop-session-receipt")
    site.daemon.ok("session_event", session=session, event="UserPromptSubmit")
    site.page.wait_js(f"return document.querySelector(\"#sessions a[href='/p/{identity}'] "
                      f".dot.st-Working\")")
    site.page.js("document.getElementById('panel-close').click()")


def test_unread_counts_search_and_keyboard(site: Site) -> None:
    site.daemon.ok("post_summary", summary=SUMMARY)  # something to search for
    site.open("agent-logs")
    site.page.wait_js("return document.querySelector(`button.chan[aria-current=page]`)")
    general = site.channels["general"]
    badge = f"button.chan[data-id='{general}'] .unread"
    before = int(site.page.js(f"return document.querySelector(\"{badge}\").textContent")
                 or 0)  # e.g. the hub's Join messages of profiles made meanwhile
    for i in range(3):
        site.daemon.ok("send", channel="general", content=f"unread {i}")
    site.page.wait(lambda: site.page.js(f"return document.querySelector(\"{badge}\").textContent")
                   == str(before + 3), what="3 more unread")
    # keyboard: Alt+ArrowUp moves to the channel above (general), which clears its count
    body = site.page.driver.find_element("tag name", "body")
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys
    ActionChains(site.page.driver).key_down(Keys.ALT).send_keys(Keys.ARROW_UP).key_up(
        Keys.ALT).perform()
    site.page.wait_js(f"return window.spaces.current === {general}")
    site.page.wait(lambda: site.page.js(f"return document.querySelector(\"{badge}\").hidden"),
                   what="read")
    # "/" focuses search; Enter searches messages and summaries
    body.send_keys("/")
    assert site.page.js("return document.activeElement.id") == "q"
    site.page.driver.find_element("id", "q").send_keys("limiter burst\n")
    site.page.wait_js("return !document.getElementById('panel').hidden && "
                      "document.querySelectorAll('#panel-list li').length > 0")
    note = site.page.js("return document.getElementById('panel-note').textContent")
    assert "searched every message and session summary" in note
    site.page.screenshot("desktop-search")
    body.send_keys(Keys.ESCAPE)
    assert site.page.js("return document.getElementById('panel').hidden")


def test_reopened_page_paints_the_servers_first_screen_before_its_script(site: Site) -> None:
    """A channel's address (`/c/N`) shows that channel from the HTML alone (the script
    blocked here): the newest messages in view, markup in them as text; the inline style and
    script run under the CSP (by their hashes); an old address (`/#/c/N`, which the server
    cannot see) naming another channel than the server drew hides the server's copy; with the
    script, the page takes over from it."""
    site.open("general")
    site.cli("send", "general", XSS)
    site.wait_text("onerror")
    port = site.daemon.ok("web", port=0)["port"]
    general, logs = site.channels["general"], site.channels["agent-logs"]
    url = f"http://127.0.0.1:{port}/c/{general}"
    driver = site.page.driver
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/app.js"]})
    try:
        driver.get("about:blank")
        driver.get(url)
        site.page.wait_js("return document.querySelectorAll('#first li.msg').length > 0")
        assert site.page.js("return document.getElementById('title').textContent") == "#general"
        newest = site.page.js("const b = [...document.querySelectorAll('#first li.msg .body')];"
                              "return b[b.length - 1].textContent")
        assert newest == XSS
        assert site.page.js("return window.pwned === undefined && "
                            "document.querySelectorAll('#first img, #first script').length "
                            "=== 0")
        in_view = site.page.js(
            "const b = [...document.querySelectorAll('#first li.msg')].pop()"
            ".getBoundingClientRect(); return b.bottom <= window.innerHeight && b.height > 0")
        assert in_view, "the newest message is not in view"
        assert site.page.js("return getComputedStyle(document.getElementById('first'))"
                            ".flexDirection") == "column-reverse"  # the inline style applied
        driver.get("about:blank")  # an old address at `/`: the server drew #general
        driver.get(f"http://127.0.0.1:{port}/#/c/{logs}")
        site.page.wait_js("return document.getElementById('first') !== null")
        assert site.page.js("return document.getElementById('first').hidden")  # the script ran
        driver.get("about:blank")  # another channel's address: the server draws that one
        driver.get(f"http://127.0.0.1:{port}/c/{logs}")
        site.page.wait_js("return document.getElementById('first') !== null")
        assert site.page.js("return document.getElementById('title').textContent") == \
            "#agent-logs"
        assert not site.page.js("return document.getElementById('first').hidden")
        errors = site.page.console_errors()
        assert not [e for e in errors if "Content Security Policy" in e], errors
    finally:
        driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
    # with the script: #general by an old address (the last one opened was #agent-logs: its
    # state was asked for while that page was parsed; the address becomes the path), then by
    # its path: the server's copy, no state asked for
    for address, server_rendered in ((f"/#/c/{general}", False), (f"/c/{general}", True)):
        driver.get("about:blank")
        driver.get(f"http://127.0.0.1:{port}{address}")
        site.page.wait_js(f"return window.spaces.lastOpen && window.spaces.paintKnown && "
                          f"window.spaces.lastOpen.channel === {general}")
        assert site.page.js("return document.getElementById('first') === null || "
                            "document.getElementById('first').hidden")
        assert site.page.js("return window.spaces.serverPaint !== null") is server_rendered
        asked = site.page.js("return performance.getEntriesByType('resource')"
                             ".filter(e => e.name.includes('/api/state')).length")
        assert asked == (0 if server_rendered else 1)  # the state: in the page, or asked once
        assert driver.current_url == url
    site.wait_text("onerror")
    assert site.page.js("return window.pwned === undefined")
    # an address naming another view opens it (the channel behind it), old or new
    for address in ("/#/tasks", "/tasks"):
        driver.get("about:blank")
        driver.get(f"http://127.0.0.1:{port}{address}")
        site.page.wait_js("return !document.getElementById('panel').hidden && document"
                          ".getElementById('panel-title').textContent.includes('Tasks')")
        assert driver.current_url == f"http://127.0.0.1:{port}/tasks"
        assert site.page.js("return document.getElementById('first') === null")
    # a channel that is not there: the default channel, and why
    driver.get("about:blank")
    driver.get(f"http://127.0.0.1:{port}/c/999999")
    site.page.wait(lambda: "no such channel" in site.page.js(
        "return document.getElementById('compose-error').textContent"), what="the refusal")
    site.page.wait_js("return window.spaces.lastOpen && window.spaces.current !== 999999")
    assert "/c/999999" not in driver.current_url


def test_history_back_and_forward_move_between_views(site: Site) -> None:
    """Moving in the page pushes addresses (`/c/N`, `/tasks`, `/p/<identity>`), with no new
    document; the browser's back and forward buttons go through them again, and a reload
    of any of them shows that view."""
    site.open("general")
    general, logs = site.channels["general"], site.channels["agent-logs"]
    origin = site.page.driver.current_url.split("/c/", 1)[0]
    assert site.page.driver.current_url == f"{origin}/c/{general}"
    site.daemon.ok("send", channel="general", content="said in general")
    site.daemon.ok("send", channel="agent-logs", content="said in agent-logs")
    site.wait_text("said in general")
    site.page.js("window.__sameDocument = true")
    site.go("agent-logs")
    site.wait_text("said in agent-logs")
    site.page.driver.find_element("id", "tasks-link").click()
    site.page.wait_js("return !document.getElementById('panel').hidden")
    me = site.daemon.ok("status")["identity"]
    site.page.wait_js(f"return document.querySelector(\"#people a[href='/p/{me}']\")").click()
    site.page.wait(lambda: site.page.driver.current_url == f"{origin}/p/{me}", what="profile")
    site.page.wait_js("return document.getElementById('panel-title').textContent"
                      ".startsWith('@')")
    views = [(f"/c/{general}", general, False), (f"/c/{logs}", logs, False),
             ("/tasks", logs, True), (f"/p/{me}", logs, True)]

    def at(i: int) -> None:
        path, channel, panel = views[i]
        site.page.wait(lambda: site.page.driver.current_url == origin + path, what=path)
        site.page.wait_js(f"return window.spaces.current === {channel} && "
                          f"window.spaces.lastOpen.channel === {channel}")
        site.page.wait(lambda: site.page.js("return document.getElementById('panel')"
                                            ".hidden") is not panel, what=f"{path}'s panel")
        if not panel:
            site.wait_text("said in general" if channel == general else "said in agent-logs")

    for i in (2, 1, 0):
        site.page.driver.back()
        at(i)
    assert "said in agent-logs" not in " ".join(site.texts())
    for i in (1, 2):
        site.page.driver.forward()
        at(i)
    assert site.page.js("return window.__sameDocument") is True  # no new document
    site.page.driver.refresh()  # a reload of the address shows the same view
    site.page.wait_js("return document.body.dataset.ready === '1'")
    at(2)
    assert site.page.js("return window.__sameDocument === undefined")


ATTACK = """<!doctype html><title>another site</title>
<form id="f" method="POST" enctype="text/plain"><input id="i"></form><script>
const target = new URLSearchParams(location.search).get("target");
const channel = Number(new URLSearchParams(location.search).get("channel"));
window.results = {};
fetch(target + "/api/state", {credentials: "include"}).then((r) => r.text())
  .then((t) => { results.read = t; }, () => { results.read = "blocked"; });
fetch(target + "/", {credentials: "include"}).then((r) => r.text())
  .then((t) => { results.page = t; }, () => { results.page = "blocked"; });
window.post = () => {  // a form's text/plain body shaped as the JSON the API takes
  const f = document.getElementById("f"), i = document.getElementById("i");
  f.action = target + "/api/send";
  i.name = JSON.stringify({channel, content: "forged from " + location.origin, x: ""}).slice(0, -2);
  i.value = '"}';
  f.submit();
};
</script>"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_a_page_of_another_origin_cannot_read_or_write_as_the_person(site: Site) -> None:
    """In the browser the person is logged in with, a page served from another port of this
    machine (another origin, the same site) and from localhost (another site) tries to post
    as the person and to read the hub: the browser sends the requests with the cookie where
    it may, and the server refuses them all (Origin, Sec-Fetch-Site); nothing is read or
    written."""
    site.open("general")
    root = Path(tempfile.mkdtemp(prefix="spc-evil-", dir="/tmp"))
    (root / "evil.html").write_text(ATTACK)
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = site.daemon.ok("web", port=0)["port"]
    try:
        for host in ("127.0.0.1", "localhost"):
            site.page.driver.get(
                f"http://{host}:{server.server_address[1]}/evil.html?target="
                f"http://127.0.0.1:{port}&channel={site.channels['general']}")
            results = site.page.wait_js("const r = window.results; return r && r.read && "
                                        "r.page && r")
            assert results == {"read": "blocked", "page": "blocked"}, results
            site.page.js("window.post()")  # the person's browser posts, with the cookie
            site.page.wait(lambda: "/api/send" in site.page.driver.current_url, what="post")
            refused = site.page.wait_js("return document.body && document.body.innerText")
            assert "refused" in refused and "forbidden" in refused, refused
    finally:
        server.shutdown()
        server.server_close()
        shutil.rmtree(root, ignore_errors=True)
    assert not [m for m in site.daemon.ok("messages", channel="general", limit=20)
                if "forged" in m["content"]]
    site.open("general")  # the person's own page still works
    assert site.page.js("return window.spaces.current") == site.channels["general"]
    site.page.console_errors()  # (read, and so cleared: the other site's blocked fetches)


def test_without_a_token_the_page_shows_how_to_get_in(site: Site) -> None:
    fresh = browser.Browser()
    try:
        port = site.daemon.ok("web", port=0)["port"]
        fresh.driver.get(f"http://127.0.0.1:{port}/")
        fresh.wait_js("return !document.getElementById('gate').hidden")
        assert "spacesd web" in fresh.js("return document.getElementById('gate-text')"
                                         ".textContent")
        fresh.driver.get(f"http://127.0.0.1:{port}/#t=forged")
        fresh.wait_js("return !document.getElementById('gate').hidden")
        status = fresh.js("return fetch('/api/state').then(r => r.status)")
        assert status == 403
    finally:
        fresh.close()


def test_leaving_the_page_closes_its_stream(site: Site) -> None:
    """A browser opens at most 6 connections to one host: a page left for another must close
    its event stream, or the 7th visit waits for a connection (it did: 57 s)."""
    site.open("general")
    port = site.daemon.ok("web", port=0)["port"]
    for _ in range(8):
        site.page.driver.get("about:blank")
        t0 = time.monotonic()
        site.page.driver.get(f"http://127.0.0.1:{port}/c/{site.channels['general']}")
        site.page.wait_js("return window.spaces.firstPaint !== null", timeout=8)
        assert time.monotonic() - t0 < 8, "a visit waited for a connection"


def _fits(site: Site, width: int, view: str) -> None:
    """Nothing on the page is wider than the viewport (no sideways scrolling at 320 px)."""
    wide = site.page.js(
        "return [document.documentElement, ...document.querySelectorAll('#layout *')]"
        ".filter(e => e.getClientRects().length && e.scrollWidth > e.clientWidth + 1"
        " && getComputedStyle(e).overflowX !== 'hidden' && e.tagName !== 'TEXTAREA')"
        ".map(e => (e.id || e.className || e.tagName) + ' ' + e.scrollWidth)")
    assert site.page.js("return document.documentElement.scrollWidth") <= width, (view, wide)
    assert not wide, (view, wide)
    shifted = site.page.js(
        "return [document.getElementById('top').getBoundingClientRect().top, "
        "document.scrollingElement.scrollTop, document.body.scrollTop, "
        "document.getElementById('layout').scrollTop, document.getElementById('main').scrollTop,"
        " visualViewport.offsetTop, visualViewport.pageTop]")
    below = site.page.js(
        "return [...document.querySelectorAll('body *')].filter(e => e.getClientRects().length"
        " && e.getBoundingClientRect().bottom > innerHeight + 1 - document.scrollingElement"
        ".scrollTop).slice(0, 8).map(e => e.tagName + '#' + e.id + '.' + e.className + ' ' +"
        " Math.round(e.getBoundingClientRect().bottom))")
    assert not any(shifted), (view, shifted, below)


def test_screenshots_of_the_main_views(site: Site) -> None:
    """The main views at desktop (1280 px) and phone (320 px and 390 px) width, saved as build
    artefacts (build/web/<width>-<view>.png, not committed): the channel with a session
    summary card, a session's participant panel with a priority message being composed,
    the tasks and leases, the sidebar of channels and participants, search; none wider than
    the screen."""
    site.daemon.ok("post_summary", summary=SUMMARY)
    joined = site.daemon.ok("session_event", session="shot-session", agent="claude",
                            event="SessionStart", cwd=str(site.env.root))
    who = joined["participant"]["identity"]
    site.daemon.ok("task_create", channel="general", title="tidy the limiter docs",
                   subtasks=["README", "docstrings"])
    site.open("agent-logs")
    shots = []
    for name, (width, height) in (("desktop", browser.DESKTOP), ("phone", browser.PHONE),
                                  ("phone390", (390, 844))):
        site.page.size(width, height)
        site.go("agent-logs")
        card = site.page.wait_js("return [...document.querySelectorAll('#messages article.card')]"
                                 ".pop()")
        site.page.js("arguments[0].scrollIntoView({block: 'start'})", card)
        _fits(site, width, "channel")
        shots.append(site.page.screenshot(f"{name}-summary-card"))
        site.page.js("document.getElementById('messages').scrollTop = 1e9")
        shots.append(site.page.screenshot(f"{name}-channel"))
        site.page.js("document.querySelector(`#sessions a[href='/p/${arguments[0]}']`).click()",
                     who)
        form = site.page.wait_js("return !document.getElementById('panel').hidden && "
                                 "document.querySelector('#panel-list form.address')")
        box = form.find_element("css selector", "textarea")
        box.clear()
        box.send_keys("stop after this test run: the API is frozen")
        if not form.find_element("css selector", "input[type=checkbox]").is_selected():
            form.find_element("css selector", "input[type=checkbox]").click()
        site.page.js("arguments[0].scrollIntoView({block: 'end'})", form)
        _fits(site, width, "participant")
        shots.append(site.page.screenshot(f"{name}-participant-priority"))
        site.page.js("document.getElementById('tasks-link').click()")
        site.page.wait(lambda: "tidy the limiter docs" in site.page.js(
            "return document.getElementById('panel-list').innerText"), what="the task board")
        _fits(site, width, "tasks")
        shots.append(site.page.screenshot(f"{name}-tasks"))
        site.page.js("document.getElementById('panel-close').click()")
        site.go("general")
        box = site.page.driver.find_element("id", "text")
        box.clear()
        box.send_keys("a reply being typed")
        shots.append(site.page.screenshot(f"{name}-compose"))
        box.clear()
        if width < 600:
            site.page.js("document.getElementById('menu').click()")
            site.page.wait_js("return document.body.classList.contains('menu-open')")
            _fits(site, width, "sidebar")
            shots.append(site.page.screenshot(f"{name}-sidebar"))
            site.page.js("document.getElementById('menu').click()")
    site.page.size(*browser.DESKTOP)
    assert all(p.stat().st_size > 5000 for p in shots), shots
    errors = site.page.console_errors()
    # script errors only: the answers the page expects (401 asking for the passphrase, no
    # favicon) are logged by the browser as network errors
    assert not [e for e in errors if '"source": "network"' not in e], json.dumps(errors)
