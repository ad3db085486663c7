"""The web page's JSON API (behind the session cookie and the Host/Origin checks of
`spacesd.web.server`). Reads come from the daemon's store; writes are reducer calls made as the
person: the local human owner where the backend has one (embedded), else the daemon's own
identity (SpacetimeDB: a person there acts through their machine's daemon).

    GET  /api/state[?channel=|?first=1]  who the page acts as, the sidebar, what search
                                    covers; with either, the first page of `channel` (first:
                                    of the configured channel), to paint in one round trip
    GET  /api/messages?channel=&before=&thread=
    GET  /api/search?q=&channel=
    GET  /api/people
    POST /api/send    {channel, content, thread_id?, reply_to_id?}
    POST /api/edit    {message_id, content}        POST /api/delete {message_id}
    POST /api/react   {message_id, emoji, on}      POST /api/read   {channel, message_id}
    POST /api/thread  {channel, name}
    GET  /api/tasks                 {tasks, leases}: the task_list and lease_list ops' answers
    GET  /api/sessions              POST /api/address {to, text, priority, channel?}
    GET  /api/dm?conversation=      POST /api/dm_start {identity}
    POST /api/dm_send {conversation_id, content}   POST /api/dm_read {conversation_id}

An error is `{"error": {"code", "message"}}` with the protocol's codes (400 bad_args, 404
not_found, 409 reducer_error, 503 unavailable).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from aiohttp import web

from spacesd import idem
from spacesd.daemon import ops_live, views
from spacesd.daemon.backend import BackendError
from spacesd.daemon.errors import OpError
from spacesd.model import Identity, timestamp_to_iso
from spacesd.web import data, live, tasks
from spacesd.web.auth import COOKIE

if TYPE_CHECKING:
    from spacesd.daemon.server import Daemon

STATUS: Final = {"bad_args": 400, "not_found": 404, "reducer_error": 409, "unavailable": 503}
SEARCH_LIMIT: Final = 50
MAX_U64: Final = (1 << 64) - 1


def _fail(code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}},
                             status=STATUS.get(code, 500))


def _int(value: Any, name: str, *, required: bool = False) -> int | None:
    if value is None or value == "":
        if required:
            raise OpError("bad_args", f"missing argument: {name}")
        return None
    if isinstance(value, bool):
        raise OpError("bad_args", f"argument {name} must be an integer")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise OpError("bad_args", f"argument {name} must be an integer") from None
    if not 0 <= number <= MAX_U64:
        raise OpError("bad_args", f"argument {name} must be an integer")
    return number


def _key(body: dict[str, Any]) -> str:
    """The write's idempotency key (docs/idempotency.md): the page sends one per message it
    composes and sends it again if it resends that message after a lost answer, so a retry
    never makes a second message; without one, a fresh key."""
    key = body.get("key")
    if key is None:
        return idem.new_key("web")
    if not idem.valid_key(key):
        raise OpError("bad_args", "argument key must be 1-128 printable ASCII characters "
                      "without spaces")
    return str(key)


def _str(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise OpError("bad_args", f"argument {name} must be a string")
    return value


class Api:
    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon

    @property
    def me(self) -> Identity:
        backend = self.daemon.backend
        return backend.owner_identity or backend.identity

    async def write(self, reducer: str, args: list[Any]) -> None:
        backend = self.daemon.backend
        try:
            if backend.owner_identity is not None:
                await backend.call_as_owner(reducer, args)
            else:
                await backend.call(reducer, args)
        except BackendError as e:
            raise OpError(e.code, e.message) from None

    def channel_id(self, ref: Any) -> int:
        """A channel of a server the page's identity belongs to (the ops' rule,
        `views.resolve_channel`): any other is looked up as if it did not exist."""
        cid = _int(ref, "channel", required=True)
        assert cid is not None
        store = self.daemon.backend.store
        ch = store.channel(cid)
        if ch is None or not views.is_member(store, self.me, ch.server_id):
            self.daemon.require_cache()
            raise OpError("not_found", f"no such channel: {cid}")
        return cid

    # -- reads -------------------------------------------------------------------------------

    def state(self, request: web.Request) -> dict[str, Any]:
        ref = request.query.get("channel")
        cid = self.channel_id(ref) if ref else None
        if cid is not None:
            self.opened(request, cid)
        return self.state_of(cid, bool(ref or request.query.get("first")))

    def opened(self, request: web.Request, cid: int) -> None:
        """The page opened channel `cid`: its next load starts there (`spacesd.web.first`)."""
        if self.daemon.web is not None:
            self.daemon.web.gate.remember(request.cookies.get(COOKIE), cid)

    def state_of(self, cid: int | None, with_page: bool) -> dict[str, Any]:
        """Who the page acts as, the sidebar, what search covers, and with `with_page` the
        newest page of channel `cid` (None: the configured channel)."""
        self.daemon.require_cache()
        backend, store, me = self.daemon.backend, self.daemon.backend.store, self.me
        if cid is None or store.channel(cid) is None:  # the configured one, the default
            found = views.resolve_channel(store, self.daemon.settings.channel, backend.identity)
            cid = found.channel.id if found is not None else None
        web_view = self.daemon.web
        return {"seq": web_view.hub.seq if web_view is not None else 0,
                "me": {"identity": me.hex, "username": views.sender_name(store, me),
                       "owner": backend.owner_identity is not None},
                "backend": backend.name, "database": backend.database,
                "channel": cid, "servers": data.sidebar(store, me),
                "dms": data.conversations(store, me),
                "search": self.search_scope(),
                # the first page of that channel in the same answer: one round trip to paint
                "page": (data.channel_page(store, cid, me=me)
                         if cid is not None and with_page else None)}

    def search_scope(self) -> str:
        store = self.daemon.backend.store
        if self.daemon.backend.name == "embedded":
            return "every message and session summary in this machine's database"
        oldest = store.select("message", limit=1)
        since = timestamp_to_iso(oldest[0].created_at) if oldest else "—"
        return (f"the messages this daemon's cache holds from {self.daemon.backend.database} "
                f"(the newest of each subscribed channel, since {since}); older ones are "
                f"not searched")

    def messages(self, request: web.Request) -> dict[str, Any]:
        q = request.query
        cid = self.channel_id(q.get("channel"))
        if not q.get("before") and not q.get("thread"):
            self.opened(request, cid)
        return data.channel_page(self.daemon.backend.store, cid,
                                 before=_int(q.get("before"), "before"),
                                 thread_id=_int(q.get("thread"), "thread"), me=self.me)

    def search(self, request: web.Request) -> dict[str, Any]:
        self.daemon.require_cache()
        store = self.daemon.backend.store
        text = request.query.get("q", "")
        ref = request.query.get("channel")
        # only the channels the page's identity can read (a member of their server)
        channels = [self.channel_id(ref)] if ref else [
            ch.id for server in views.servers_of(store, self.me)
            for ch in views.channels_of(store, server.id)]
        found = store.search_messages(text, SEARCH_LIMIT, channels,
                                      before_id=_int(request.query.get("before"), "before"))
        return {"query": text, "scope": self.search_scope(),
                "results": [data.message_json(store, m, self.me) for m in found]}

    def conversation(self, ref: Any) -> int:
        cid = _int(ref, "conversation_id", required=True)
        assert cid is not None
        if data.conversation_of(self.daemon.backend.store, self.me, cid) is None:
            self.daemon.require_cache()
            raise OpError("not_found", f"no such conversation: {cid}")
        return cid

    def dm(self, request: web.Request) -> dict[str, Any]:
        cid = self.conversation(request.query.get("conversation"))
        return {"conversation_id": cid,
                "messages": data.dm_page(self.daemon.backend.store, cid, self.me)}

    def sessions(self, request: web.Request) -> dict[str, Any]:
        self.daemon.require_cache()
        return {"sessions": live.sessions(self.daemon.backend.store)}

    def tasks(self, request: web.Request) -> dict[str, Any]:
        return tasks.board(self.daemon)

    def people(self, request: web.Request) -> dict[str, Any]:
        self.daemon.require_cache()
        return {"people": data.people(self.daemon.backend.store)}

    # -- writes ------------------------------------------------------------------------------

    async def send(self, body: dict[str, Any]) -> dict[str, Any]:
        cid = self.channel_id(body.get("channel"))
        await self.write("send_message_keyed", [
            _key(body), cid, _str(body, "content"), _int(body.get("thread_id"), "thread_id"),
            _int(body.get("reply_to_id"), "reply_to_id"), "Text"])
        return {"ok": True}

    async def edit(self, body: dict[str, Any]) -> dict[str, Any]:
        await self.write("edit_message", [_int(body.get("message_id"), "message_id",
                                               required=True), _str(body, "content")])
        return {"ok": True}

    async def delete(self, body: dict[str, Any]) -> dict[str, Any]:
        await self.write("delete_message", [_int(body.get("message_id"), "message_id",
                                                 required=True)])
        return {"ok": True}

    async def react(self, body: dict[str, Any]) -> dict[str, Any]:
        reducer = "add_reaction" if body.get("on", True) is not False else "remove_reaction"
        await self.write(reducer, [_int(body.get("message_id"), "message_id", required=True),
                                   _str(body, "emoji")])
        return {"ok": True}

    async def read(self, body: dict[str, Any]) -> dict[str, Any]:
        cid = self.channel_id(body.get("channel"))
        await self.write("mark_channel_read", [cid, _int(body.get("message_id"), "message_id",
                                                         required=True)])
        return {"ok": True}

    async def dm_start(self, body: dict[str, Any]) -> dict[str, Any]:
        other = body.get("identity")
        if not isinstance(other, str) or len(other) != 64:
            raise OpError("bad_args", "argument identity must be 64 hex digits")
        await self.write("start_dm", [other])
        store, me = self.daemon.backend.store, self.me
        for c in data.conversations(store, me):
            if c["other"] == other.lower():
                return {"conversation_id": c["id"]}
        raise OpError("internal", "the conversation was started but is not in the store")

    async def dm_send(self, body: dict[str, Any]) -> dict[str, Any]:
        cid = self.conversation(body.get("conversation_id"))
        await self.write("send_dm_keyed", [_key(body), cid, _str(body, "content")])
        return {"ok": True}

    async def dm_read(self, body: dict[str, Any]) -> dict[str, Any]:
        await self.write("mark_dm_read", [self.conversation(body.get("conversation_id"))])
        return {"ok": True}

    async def address(self, body: dict[str, Any]) -> dict[str, Any]:
        """A message from the person to a session (`@handle`), a project's sessions
        (`project:<label>`) or every session of this machine (`machine`), posted in the
        configured channel (or `channel`); `priority` puts it first in their next injection.
        The `address` op of the socket, so one rule decides who may address sessions."""
        channel = body.get("channel")
        if channel is not None and (isinstance(channel, bool)
                                    or not isinstance(channel, (int, str))):
            raise OpError("bad_args", "argument channel must be a channel id or name")
        # the person proved the owner passphrase when this session was opened (/login)
        return await ops_live.address(self.daemon, _str(body, "to"), _str(body, "text"),
                                      body.get("priority") is True, channel)

    async def thread(self, body: dict[str, Any]) -> dict[str, Any]:
        cid = self.channel_id(body.get("channel"))
        await self.write("create_thread", [cid, _str(body, "name")])
        return {"ok": True}


def _get(func: Any) -> Any:
    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            return web.json_response(func(request))
        except OpError as e:
            return _fail(e.code, e.message)
    return handle


def _post(func: Any) -> Any:
    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return _fail("bad_args", "the request body must be a JSON object")
        try:
            return web.json_response(await func(body))
        except OpError as e:
            return _fail(e.code, e.message)
    return handle


def add_routes(app: web.Application, daemon: Daemon) -> Api:
    api = Api(daemon)
    for path, read in (("state", api.state), ("messages", api.messages),
                       ("search", api.search), ("people", api.people), ("dm", api.dm),
                       ("tasks", api.tasks), ("sessions", api.sessions)):
        app.router.add_get(f"/api/{path}", _get(read))
    for path, write in (("send", api.send), ("edit", api.edit), ("delete", api.delete),
                        ("react", api.react), ("read", api.read), ("thread", api.thread),
                        ("dm_start", api.dm_start), ("dm_send", api.dm_send),
                        ("dm_read", api.dm_read), ("address", api.address)):
        app.router.add_post(f"/api/{path}", _post(write))
    return api
