"""The web view steering a real Claude Code session (tests/agents: the pinned CLI against the
scripted fake model, Spaces installed by install.sh with its live hooks): the person, logged in
to the page in a real headless Chromium, types a priority message to the session while it runs
a tool; the session's next model request carries it exactly once, marked as from a person, and
the page's receipt turns to delivered, in the session's panel and on the message.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import browser
import pytest
from agents.fakemodel import Script, final, shell
from agents.harness import LIVE_CLIENT_MARKS, World, wait_for

from spacesd import owner, paths
from spacesd.ipc import Client, Ok

why = browser.missing()
if why is not None and os.environ.get("CI") == "true":
    raise RuntimeError(f"the web view's browser tests cannot run: {why}")
pytestmark = [pytest.mark.skipif(why is not None, reason=why or ""), *LIVE_CLIENT_MARKS]

PASSPHRASE = "the person at the keyboard"


def op(world: World, name: str, **args: Any) -> Any:
    with Client(world.base / "run" / "spacesd" / "spacesd.sock", timeout=20) as c:
        res = c.request(name, args)
    assert isinstance(res, Ok), f"{name} {args}: {res}"
    return res.result


def sessions_now(world: World) -> dict[str, dict[str, Any]]:
    return {w["session"]: w for w in op(world, "who", all=True) if w.get("session")}


@pytest.fixture
def page(agent_world: World) -> Iterator[browser.Browser]:
    """A Chromium logged in to the world's daemon as the person (link, then passphrase)."""
    secret = paths.config_dir(agent_world.env) / owner.FILE_NAME
    had = secret.exists()
    if not had:
        owner.store_hash(secret, PASSPHRASE)
    b = browser.Browser()
    try:
        b.driver.get(op(agent_world, "web", port=0)["url"])
        b.wait_js("return !document.getElementById('pass-form').hidden")
        b.driver.find_element("id", "pass").send_keys(PASSPHRASE + "\n")
        b.wait_js("return document.body.dataset.ready === '1'")
        yield b
    finally:
        b.close()
        if not had:
            secret.unlink(missing_ok=True)


def test_priority_message_typed_in_the_page_reaches_a_real_claude_session(
        agent_world: World, page: browser.Browser) -> None:
    world = agent_world
    project = world.project("web-priority")
    before = set(sessions_now(world))
    session = world.start("claude", project, Script(
        [shell("sleep 8"), shell("echo second"), final("Done.")]), prompt="Work on the build.")
    try:
        joined = wait_for(lambda: next((w for s, w in sessions_now(world).items()
                                        if s not in before and w["agent"] == "claude"), None),
                          60)
        handle, identity = joined["handle"], joined["identity"]
        wait_for(lambda: len(session.requests) >= 1, 60)  # it is inside its first tool call
        # the person finds the session in the sidebar, opens it, types, ticks priority, sends
        page.wait_js(f"return document.querySelector(\"#sessions a[href='/p/{identity}']\")"
                     ).click()
        form = page.wait_js("return !document.getElementById('panel').hidden && "
                            "document.querySelector('#panel-list form.address')")
        token = f"freeze-{os.getpid()}"
        form.find_element("css selector", "textarea").send_keys(
            f"stop: {token}, the API is frozen")
        form.find_element("css selector", "input[type=checkbox]").click()
        t_send = time.time()
        form.find_element("css selector", "button[type=submit]").click()
        panel = "return document.getElementById('panel-list').innerText"
        page.wait(lambda: f"{handle} · " in page.js(panel), what="a receipt in the panel")
        assert session.wait() == 0, session.stderr[-3000:]

        later = [r for r in session.requests if r.at > t_send]
        assert later, "the session sent no model request after the message"
        assert token in later[0].text, "not in the session's very next model request"
        assert all(r.text.count(token) == 1 for r in later), [r.text.count(token)
                                                              for r in later]
        assert not any(token in r.text for r in session.requests if r.at <= t_send)
        assert "PRIORITY from a person" in later[0].text, later[0].text[-3000:]
        assert "priority addressed" in later[0].text and "(person)" in later[0].text

        page.wait(lambda: f"{handle} · delivered" in page.js(panel), timeout=30,
                  what="the delivered receipt in the panel")
        page.js("document.getElementById('panel-close').click()")
        where = next(c["id"] for c in op(world, "channels") if any(
            token in m["content"] for m in op(world, "messages", channel=c["id"], limit=20)))
        page.js("document.querySelector(`button.chan[data-id='${arguments[0]}']`).click()",
                where)
        page.wait(lambda: page.js(
            "const e = [...document.querySelectorAll('#messages li.msg')]"
            ".find(e => e.textContent.includes(arguments[0]));"
            "return e ? e.innerText.includes(arguments[1]) : false",
            token, f"{handle} · delivered"), timeout=30, what="delivered on the message")
        page.screenshot("desktop-priority-delivered")
    finally:
        if session.returncode is None:
            session.proc.kill()
            session.wait()
