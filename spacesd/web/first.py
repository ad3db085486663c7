"""The first screen, rendered by the server into the page's HTML: for a person already logged in
(a live session cookie), `GET /` carries the channel they were last in (else the configured
one) as plain HTML, every text escaped, with the stylesheet inline, so the browser paints the
channel's newest messages from the document alone, before any script has run; and the state
the script would ask `/api/state` for, as a JSON data block the script reads instead of a
round trip. The script then renders the same page itself and drops the server's copy.

Three inline pieces, all constant and allowed by their SHA-256 in the Content-Security-Policy
(no 'unsafe-inline'): the stylesheet (`app.css`, byte for byte); `SWITCH`, which hides the
server's copy when the address names another view (another channel, a thread, a DM, a
profile); and `PREFETCH`, which asks for the addressed channel's state while the page is
parsed. A JSON data block is not a script: the policy does not run it, nor does the browser.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html import escape
from typing import Any, Final

SWITCH: Final = ("var f=document.getElementById('first'),c=f.dataset.channel,"
                 "h=location.hash,p=location.pathname;"
                 "if((h&&h!=='#/'&&h!=='#/c/'+c)||(p!=='/'&&p!=='/c/'+c&&p!=='/tasks'&&"
                 "p.indexOf('/p/')!==0)){f.hidden=true}")
"""Hides the server's first screen when the address asks for another view: an old one in the
fragment (`/#/c/7`, which the server cannot see), or the path it becomes (the script, loaded
`async`, may run before the document is parsed and turn `/#/c/7` into `/c/7`); the tasks and
a profile are panels over the channel drawn."""
PREFETCH: Final = ("(function(){var m=/^#\\/c\\/(\\d+)$/.exec(location.hash);"
                   "if(m&&m[1]!==document.documentElement.dataset.channel){"
                   "window.spacesEarly=fetch('/api/state?channel='+m[1],"
                   "{credentials:'same-origin'})}})()")
"""When the address names another channel than the server rendered, asks for its state while
the page is still being parsed (the script, when it runs, takes the answer: `spacesEarly`)."""


def csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def boot_json(state: dict[str, Any]) -> str:
    """`state` as the text of a JSON data block: no `<`, `>` or `&` (a message holding
    `</script>` cannot end the block)."""
    text = json.dumps(state, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _when(iso: str) -> str:
    return f"{iso[:10]} {iso[11:16]} UTC" if len(iso) >= 16 else iso


def _item(m: dict[str, Any]) -> str:
    summary = m.get("summary")
    if isinstance(summary, dict):
        title = (f"Session summary — {summary.get('agent_kind') or 'agent'}"
                 f" on {summary.get('host') or '?'}")
        body = (f'<article class="card"><h3>{escape(title)}</h3>'
                f'<p class="where">{escape(str(summary.get("task") or ""))}</p></article>')
    else:
        body = f'<div class="body">{escape(str(m.get("content", "")))}</div>'
    tag = ' <span class="tag">agent</span>' if m.get("sender_agent") else ""
    return (f'<li class="msg"><div class="meta"><span class="author">'
            f'{escape(str(m.get("sender_name", "")))}</span>{tag}'
            f'<time datetime="{escape(str(m.get("created_at", "")))}">'
            f'{escape(_when(str(m.get("created_at", ""))))}</time></div>{body}</li>')


def first_screen(state: dict[str, Any]) -> str:
    """The channel's newest page as HTML (the newest at the bottom, in view: the box scrolls
    from its end), or '' when the state carries no page."""
    page = state.get("page")
    if not isinstance(page, dict):
        return ""
    messages = page.get("messages") or []
    items = "".join(_item(m) for m in messages)
    return (f'<div id="first" class="first" data-channel="{int(state["channel"] or 0)}">'
            f'<ol class="messages">{items}</ol></div><script>{SWITCH}</script>')


def title_of(state: dict[str, Any]) -> str:
    for server in state.get("servers") or []:
        for ch in server.get("channels") or []:
            if ch.get("id") == state.get("channel"):
                return "#" + str(ch.get("name"))
    return "Spaces"


def render(index: str, css: str, state: dict[str, Any]) -> str:
    """index.html with the stylesheet inline, the boot state, the channel's title and its
    first screen."""
    html = re.sub(r'<link rel="stylesheet" href="/app\.css[^"]*">',
                  lambda _: f"<style>{css}</style>", index)
    html = html.replace("<title>Spaces</title>", f"<title>{escape(title_of(state))} · Spaces"
                        f'</title>\n<script type="application/json" id="boot">'
                        f"{boot_json(state)}</script><script>{PREFETCH}</script>")
    html = html.replace('<html lang="en">',
                        f'<html lang="en" data-channel="{int(state["channel"] or 0)}">')
    html = html.replace('<h1 id="title">Spaces</h1>',
                        f'<h1 id="title">{escape(title_of(state))}</h1>')
    return html.replace('<div id="older-wrap">', first_screen(state) + '<div id="older-wrap">')
