"""The web view's HTTP server, inside the daemon: aiohttp on 127.0.0.1, the page's static files,
`/login`, the JSON API (`spacesd.web.api`) and `/events`, a Server-Sent Events stream fed by
the backend's change listener (the same feed `tail` pushes).

Inside the daemon, not a client of its socket: the page reads the daemon's own store (the
embedded database, or the SpacetimeDB cache) on the event loop's thread, with the same views
the ops use, and gets every commit from the listener the moment it is published — no second
cache to keep in step, no extra hop, and one process to secure. `spacesd web` only asks the
daemon (the `web` op) to start it and to mint a login link.

    web = WebServer(daemon)
    await web.start(port)        # 0: any free port
    token = web.gate.mint_login()
    await web.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
import time
from collections import deque
from importlib import resources
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web

from spacesd.daemon.errors import OpError
from spacesd.store import Changes
from spacesd.web import api, data, first
from spacesd.web.auth import COOKIE, SESSION_IDLE_S, Gatekeeper

if TYPE_CHECKING:
    from collections.abc import Callable

    from spacesd.daemon.server import Daemon

log = logging.getLogger("spacesd.web")

HOST: Final = "127.0.0.1"
REPLAY: Final = 4096
"""Events kept for a reconnecting page (`Last-Event-ID`); an older id gets `reset`."""
CLIENT_QUEUE: Final = 4096
"""Events one page may leave unread before it is dropped (it reconnects and resumes)."""
KEEPALIVE_S: Final = 15.0


def _static(name: str) -> bytes:
    return (resources.files("spacesd.web") / "static" / name).read_bytes()


CSP: Final = (f"default-src 'none'; script-src 'self' {first.csp_hash(first.PREFETCH)} "
              f"{first.csp_hash(first.SWITCH)}; "
              f"style-src 'self' {first.csp_hash(_static('app.css').decode())}; "
              "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; "
              "frame-ancestors 'none'")
"""Only the page's own files run, and the two constant inline pieces of the server-rendered
first screen, by their hashes (`spacesd.web.first`)."""
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
STATIC: Final = {"/": ("index.html", "text/html"), "/app.js": ("app.js", "text/javascript"),
                 "/app.css": ("app.css", "text/css")}
PUBLIC: Final = frozenset({*STATIC, "/login", "/favicon.ico"})
VIEWS: Final = re.compile(r"/(?:c/(\d{1,20})(/t/\d{1,20})?|d/\d{1,20}|p/[0-9a-f]{64}|tasks)")
"""The page's own addresses (a channel, a thread, a DM, a profile, the tasks): the same page,
with the addressed channel's first screen rendered by the server for a logged-in person."""

class EventHub:
    """The change stream as SSE frames: each event gets the next sequence number (its `id:`),
    the last REPLAY are kept so a page reconnecting with `Last-Event-ID` misses nothing."""

    def __init__(self) -> None:
        self.seq = 0
        self._recent: deque[tuple[int, str]] = deque(maxlen=REPLAY)
        self._clients: set[asyncio.Queue[str | None]] = set()

    def publish(self, events: list[dict[str, Any]]) -> None:
        sent_at = time.time()
        for ev in events:
            self.seq += 1
            payload = json.dumps({**ev, "seq": self.seq, "sent_at": sent_at},
                                 ensure_ascii=False, separators=(",", ":"))
            frame = f"id: {self.seq}\nevent: {ev['event']}\ndata: {payload}\n\n"
            self._recent.append((self.seq, frame))
            for q in list(self._clients):
                try:
                    q.put_nowait(frame)
                except asyncio.QueueFull:  # too slow: drop it; EventSource reconnects
                    self._clients.discard(q)
                    with contextlib.suppress(asyncio.QueueFull):
                        q.get_nowait()
                        q.put_nowait(None)

    def subscribe(self, last_id: str | None) -> asyncio.Queue[str | None]:
        q: asyncio.Queue[str | None] = asyncio.Queue(CLIENT_QUEUE)
        hello = json.dumps({"event": "hello", "seq": self.seq})
        if last_id is not None and last_id.isdigit():
            after = int(last_id)
            oldest = self._recent[0][0] if self._recent else self.seq + 1
            if after > self.seq or after < oldest - 1:
                q.put_nowait(f"event: reset\ndata: {hello}\n\n")  # a gap: the page reloads
            else:
                for seq, frame in self._recent:
                    if seq > after:
                        q.put_nowait(frame)
        else:
            q.put_nowait(f"event: hello\ndata: {hello}\n\n")
        self._clients.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[str | None]) -> None:
        self._clients.discard(q)

    def close(self) -> None:
        for q in list(self._clients):
            with contextlib.suppress(asyncio.QueueFull):
                q.put_nowait(None)
        self._clients.clear()


class WebServer:
    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.gate = Gatekeeper(0)
        self.hub = EventHub()
        self._runner: web.AppRunner | None = None
        self._unlisten: Callable[[], None] | None = None
        self._files = {path: (_static(name), ctype) for path, (name, ctype) in STATIC.items()}
        # the page names its script and stylesheet by their content's hash, which lets the
        # browser keep them (and the script compiled) until they change: a reload fetches
        # only the page (`_serve_static`)
        self._versions = {path: hashlib.sha256(self._files[path][0]).hexdigest()[:16]
                          for path in ("/app.js", "/app.css")}
        index = self._files["/"][0].decode()
        for path, version in self._versions.items():
            index = index.replace(f'"{path}"', f'"{path}?v={version}"')
        self._files["/"] = (index.encode(), "text/html")
        self._api: api.Api | None = None

    @property
    def port(self) -> int:
        return self.gate.port

    @property
    def running(self) -> bool:
        return self._runner is not None

    def login_url(self) -> str:
        return f"http://{HOST}:{self.port}/#t={self.gate.mint_login()}"

    async def start(self, port: int) -> None:
        app = web.Application(middlewares=[self._guard], client_max_size=256 * 1024)
        app.router.add_get("/", self._serve_static)
        app.router.add_get("/app.js", self._serve_static)
        app.router.add_get("/app.css", self._serve_static)
        for view in ("/c/{c:\\d+}", "/c/{c:\\d+}/t/{t:\\d+}", "/d/{d:\\d+}",
                     "/p/{p:[0-9a-f]+}", "/tasks"):
            app.router.add_get(view, self._serve_view)
        app.router.add_post("/login", self._login)
        app.router.add_post("/logout", self._logout)
        app.router.add_get("/events", self._events)
        self._api = api.add_routes(app, self.daemon)
        runner = web.AppRunner(app, access_log=None, handle_signals=False,
                               shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, HOST, port, reuse_address=True)
        try:
            await site.start()
        except OSError as e:
            await runner.cleanup()
            raise RuntimeError(f"cannot serve the web view on {HOST}:{port}: "
                               f"{e.strerror or e}") from e
        server = site._server  # the bound socket's real port, when 0 was asked for
        sockets = getattr(server, "sockets", None) or []
        self.gate.port = sockets[0].getsockname()[1] if sockets else port
        self._runner = runner
        self._unlisten = self.daemon.backend.add_listener(self._on_changes)
        log.info("web view on http://%s:%d/", HOST, self.port)

    async def stop(self) -> None:
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None
        self.hub.close()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    def _on_changes(self, changes: Changes) -> None:
        try:
            backend = self.daemon.backend
            events = data.change_events(backend.store, changes,
                                        backend.owner_identity or backend.identity)
        except Exception:
            log.exception("web: cannot render changes")
            return
        if events:
            self.hub.publish(events)

    # -- every request -----------------------------------------------------------------------

    @web.middleware
    async def _guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        why = self.gate.refusal(request.method, request.headers.get("Host"),
                                request.headers.get("Origin"),
                                request.headers.get("Sec-Fetch-Site"))
        if why is None and request.path not in PUBLIC and not VIEWS.fullmatch(
                request.path) and not self.gate.session_ok(
                request.cookies.get(COOKIE)):
            why = "not logged in: open the link `spacesd web` prints"
        if why is not None:
            resp: web.StreamResponse = web.json_response(
                {"error": {"code": "forbidden", "message": why}}, status=403)
        else:
            try:
                resp = await handler(request)
            except web.HTTPException as e:  # no such route or method: an answer, not a crash
                resp = web.json_response({"error": {"code": "not_found" if e.status == 404
                                                    else "bad_args", "message": e.reason}},
                                         status=e.status)
        if not resp.prepared:  # (the event stream sent its own when it began)
            for key, value in SECURITY_HEADERS.items():
                resp.headers.setdefault(key, value)
            if request.path not in STATIC:
                resp.headers.setdefault("Cache-Control", "no-store")
        return resp

    async def _serve_static(self, request: web.Request) -> web.StreamResponse:
        body, ctype = self._files[request.path]
        cookie = request.cookies.get(COOKIE)
        if request.path == "/" and self._api is not None and self.gate.session_ok(cookie):
            return self._first_screen(self._api, self.gate.last_channel(cookie))
        current = request.path in self._versions and (
            self._versions[request.path] == request.query.get("v"))
        return web.Response(body=body, content_type=ctype, charset="utf-8", headers={
            "Cache-Control": "max-age=31536000, immutable" if current else "no-cache"})

    def _plain(self, status: int = 200) -> web.Response:
        """The page with nothing of the hub in it (the script asks for what it may show)."""
        body, ctype = self._files["/"]
        return web.Response(body=body, content_type=ctype, charset="utf-8", status=status,
                            headers={"Cache-Control": "no-store"})

    async def _serve_view(self, request: web.Request) -> web.StreamResponse:
        """`/c/N` (`/c/N/t/T`, `/d/N`, `/p/<identity>`, `/tasks`): the page, with the first
        screen of the addressed channel (for a thread or a DM: the sidebar's state only, the
        script draws the view; for the tasks or a profile: the person's last channel behind
        the panel). Without a session: the plain page, which asks to log in. A channel the
        page's identity cannot read (unknown, or of a server it is not a member of): the
        plain page with 404, nothing of it (`Api.channel_id`, the API's own rule)."""
        cookie = request.cookies.get(COOKIE)
        if self._api is None or not self.gate.session_ok(cookie):
            return self._plain()
        match = VIEWS.fullmatch(request.path)
        if match is None:  # (a profile's identity is 64 hex digits)
            return self._plain(404)
        if match.group(1) is None:
            return self._first_screen(self._api, self.gate.last_channel(cookie),
                                      not request.path.startswith("/d/"))
        try:
            channel = self._api.channel_id(match.group(1))
        except OpError as e:
            return self._plain(404 if e.code in ("not_found", "bad_args") else 200)
        if match.group(2) is not None:  # a thread: the script draws it
            return self._first_screen(self._api, channel, False)
        self.gate.remember(cookie, channel)
        return self._first_screen(self._api, channel)

    def _first_screen(self, the_api: api.Api, channel: int | None,
                      with_page: bool = True) -> web.StreamResponse:
        """The page with the first screen of `channel` in it, for a logged-in person
        (`spacesd.web.first`; without `with_page`: the state without the channel's page);
        the plain page if the store cannot answer yet."""
        try:
            state = the_api.state_of(channel, with_page)
        except OpError:
            return self._plain()
        html = first.render(self._files["/"][0].decode(), self._files["/app.css"][0].decode(),
                            state)
        return web.Response(text=html, content_type="text/html", charset="utf-8",
                            headers={"Cache-Control": "no-store"})

    async def _login(self, request: web.Request) -> web.StreamResponse:
        """`{token, passphrase?}`: the one-time token from the link, then the person's proof
        (`_owner_check`); the token is used up only when both hold, so a mistyped
        passphrase can be typed again (the owner gate's lock-out bounds guessing)."""
        try:
            body = await request.json()
        except ValueError:
            body = None
        token = body.get("token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not self.gate.login_ok(token):
            return web.json_response({"error": {
                "code": "forbidden", "message": "this login link is used up or expired: run "
                "`spacesd web` at your terminal for a new one"}}, status=403)
        assert isinstance(body, dict)
        passphrase = body.get("passphrase")
        refused = await self._owner_check(passphrase if isinstance(passphrase, str) else None)
        if refused is not None:
            return web.json_response({"error": {"code": "passphrase", "message": refused}},
                                     status=401)
        if not self.gate.use_login(token):  # another login used it meanwhile
            return web.json_response({"error": {"code": "forbidden",
                                                "message": "this login link is used up"}},
                                     status=403)
        resp = web.json_response({"ok": True})
        session = self.gate.open_session()
        last = self.gate.last_channel(request.cookies.get(COOKIE))  # (a browser logged in)
        if last is not None:
            self.gate.remember(session, last)
        resp.set_cookie(COOKIE, session, httponly=True, samesite="Strict",
                        path="/", max_age=int(SESSION_IDLE_S))
        return resp

    async def _owner_check(self, passphrase: str | None) -> str | None:
        """Why the person is not let in as the owner, or None. The page acts as the hub's
        owner, and an agent of the same user can ask the socket for a login link: the proof
        that a person is there is the owner passphrase (docs/roles.md), checked by the
        daemon's one `check_owner` (scrypt, with its lock-out after wrong guesses)."""
        try:
            await self.daemon.check_owner(passphrase)
        except OpError as e:
            return e.message
        return None

    async def _logout(self, request: web.Request) -> web.StreamResponse:
        self.gate.close_session(request.cookies.get(COOKIE))
        resp = web.json_response({"ok": True})
        resp.del_cookie(COOKIE, path="/")
        return resp

    async def _events(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-store"})
        for key, value in SECURITY_HEADERS.items():
            resp.headers[key] = value
        await resp.prepare(request)
        # a reconnect names the last event it saw; a first connection, the sequence of the
        # state the page was built from (`/api/state`'s `seq`): either way nothing is missed
        q = self.hub.subscribe(request.headers.get("Last-Event-ID")
                               or request.query.get("after"))
        try:
            await resp.write(b"retry: 1000\n\n")
            while True:
                try:
                    frame = await asyncio.wait_for(q.get(), KEEPALIVE_S)
                except asyncio.TimeoutError:
                    frame = ": keepalive\n\n"
                if frame is None:
                    break
                await resp.write(frame.encode("utf-8", "surrogatepass"))
        except ConnectionResetError:
            pass
        finally:
            self.hub.unsubscribe(q)
        return resp
