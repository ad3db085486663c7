"""The daemon's socket server: one asyncio process, one Unix socket, docs/protocol.md exactly.

    daemon = Daemon(backend, settings)
    await daemon.run()          # until SIGTERM/SIGINT or daemon.request_stop()

Requests on one connection are answered in order; reads are answered inline on the event
loop's thread, writes wait for the backend's durable commit. `tail` turns the connection into
a pushed stream of change events. The hooks' on-disk outbox is delivered on start and whenever
its directory changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import json
import logging
import os
import signal
import socket
import stat
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import filelock

from spacesd import __version__ as _pkg_version
from spacesd import idem, paths, systemd
from spacesd import outbox as hook_outbox
from spacesd.daemon import views
from spacesd.daemon.backend import Backend, BackendError, BackendUnavailable
from spacesd.daemon.handouts import Handouts
from spacesd.daemon.summary import parse_summary, render_summary, summary_content
from spacesd.ipc import FrameDecoder, FrameTooLarge, ProtocolError, decode_payload, encode_frame
from spacesd.model import Identity, Message, MessageType, now_micros
from spacesd.store import Changes

if TYPE_CHECKING:
    from spacesd.config import Config

log = logging.getLogger("spacesd")

MAX_LIMIT = 500
DEFAULT_LIMIT = 20
CONTEXT_MAX_CHARS = 8000
CONTEXT_SCAN = 500
"""How many recent messages of the summaries' channel `context` looks through."""
CONTEXT_MAX_AGE_S = 7 * 24 * 3600
SUMMARY_CACHE = 4 * CONTEXT_SCAN
TAIL_MAX_BUFFER = 8 * 1024 * 1024
"""A tail client that lets this much pile up unread is dropped."""
PAUSE_AT = 64
"""Stop reading a connection with this many requests waiting for their turn."""
OUTBOX_POLL_S = 1.0
ANSWER_BUDGET = 3 * 1024 * 1024
"""Bytes of encoded messages one `messages` answer carries at most (the frame limit is 4 MiB)."""
AGENT_KIND = "claude-code"


class OpError(Exception):
    """An error answer: `code` per docs/protocol.md and a message naming the problem."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Settings:
    socket_path: Path = field(default_factory=paths.socket_path)
    runtime_dir: Path = field(default_factory=paths.runtime_dir)
    state_dir: Path = field(default_factory=paths.state_dir)
    outbox_dir: Path = field(default_factory=paths.outbox_dir)
    channel: str | None = None
    """Where summaries go and where context comes from when a request names no channel
    (config's channel: SPACES_CHANNEL_ID or config.toml); default agent-logs."""
    config: Config | None = None
    """The effective configuration the daemon was started with, shown (redacted) by `status`."""
    host: str = field(default_factory=lambda: socket.gethostname().split(".")[0])
    listener: socket.socket | None = None
    """A listening socket handed over by systemd socket activation: served instead of binding
    `socket_path`, and its file left in place at exit (it belongs to spacesd.socket)."""


# --------------------------------------------------------------------------------------------
# Argument checking


def _arg(args: dict[str, Any], name: str, kinds: tuple[type, ...], what: str,
         default: Any = None, required: bool = False) -> Any:
    if name not in args or args[name] is None:
        if required:
            raise OpError("bad_args", f"missing argument: {name}")
        return default
    value = args[name]
    if isinstance(value, bool) and bool not in kinds:
        raise OpError("bad_args", f"argument {name} must be {what}")
    if not isinstance(value, kinds):
        raise OpError("bad_args", f"argument {name} must be {what}")
    return value


def _int_arg(args: dict[str, Any], name: str, default: int | None = None, *,
             lo: int = 0, hi: int = (1 << 64) - 1, required: bool = False) -> int | None:
    value = _arg(args, name, (int,), "an integer", default, required)
    if value is not None and not lo <= value <= hi:
        raise OpError("bad_args", f"argument {name} must be between {lo} and {hi}")
    return value  # type: ignore[no-any-return]


def _str_arg(args: dict[str, Any], name: str, default: str | None = None, *,
             required: bool = False) -> str | None:
    return _arg(args, name, (str,), "a string", default, required)  # type: ignore[no-any-return]


def _key_arg(args: dict[str, Any]) -> str | None:
    """The request's idempotency key (docs/idempotency.md), if it gives one."""
    key = _str_arg(args, "key")
    if key is not None and not idem.valid_key(key):
        raise OpError("bad_args", "argument key must be 1-128 printable ASCII characters "
                      "without spaces")
    return key


def _summary_key(summary: dict[str, Any]) -> str:
    """The key of a summary posted without one (an older hook): its session and a digest of
    its content, so the same request replayed from the outbox is the same write."""
    body = json.dumps(summary, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    digest = hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return idem.summary_key(str(summary["session_id"]), digest)


def _channel_ref(args: dict[str, Any], name: str = "channel", *,
                 required: bool = True) -> int | str | None:
    value = _arg(args, name, (int, str), "a channel id or name", None, required)
    if isinstance(value, int) and value < 0:
        raise OpError("bad_args", f"argument {name} must be a channel id or name")
    return value  # type: ignore[no-any-return]


def _related_paths(a: str, b: str) -> bool:
    """Equal, or one inside the other (a subfolder of a project is that project)."""
    if a == b:
        return True
    if a == "/" or b == "/":
        return False
    return b.startswith(a.rstrip("/") + "/") or a.startswith(b.rstrip("/") + "/")


# --------------------------------------------------------------------------------------------
# The daemon


class Daemon:
    def __init__(self, backend: Backend, settings: Settings | None = None) -> None:
        self.backend = backend
        self.settings = settings or Settings()
        self.started = time.monotonic()
        self._stop = asyncio.Event()
        self._server: asyncio.AbstractServer | None = None
        self._lock: filelock.BaseFileLock | None = None
        self._conns: set[Connection] = set()
        self._handouts: Handouts | None = None
        self._outbox_task: asyncio.Task[None] | None = None
        self._outbox_kick = asyncio.Event()
        self._outbox_mtime: int | None = None
        self._delivered = 0
        self._serving = False
        self._stopping = False
        self._summaries: OrderedDict[tuple[int, int | None], dict[str, Any] | None] = (
            OrderedDict())
        self._ops: dict[str, Callable[[dict[str, Any]], Any]] = {
            "ping": self.op_ping,
            "status": self.op_status,
            "channels": self.op_channels,
            "messages": self.op_messages,
            "context": self.op_context,
        }
        self._async_ops: dict[str, Callable[[dict[str, Any]], Awaitable[Any]]] = {
            "call": self.op_call,
            "send": self.op_send,
            "post_summary": self.op_post_summary,
        }

    # -- lifecycle ---------------------------------------------------------------------------

    def request_stop(self) -> None:
        self._stop.set()

    async def run(self, *, install_signals: bool = True, ready: Callable[[], None] | None = None
                  ) -> None:
        """Serve until stopped. Raises RuntimeError if another daemon runs or the runtime
        directory is unsafe."""
        self._prepare_runtime_dir()
        self._lock = filelock.FileLock(str(self.settings.runtime_dir / "spacesd.lock"))
        try:
            self._lock.acquire(timeout=0)
        except filelock.Timeout:
            raise RuntimeError(
                f"another spacesd is running (lock {self.settings.runtime_dir / 'spacesd.lock'})"
            ) from None
        loop = asyncio.get_running_loop()
        try:
            if self.settings.listener is None:
                self._remove_stale_socket()
            systemd.status(f"starting the {self.backend.name} backend")
            self.backend.on_state(self._backend_state)
            await self.backend.start()
            self._handouts = Handouts(self.settings.state_dir / "context-handouts.sqlite")
            await self._bind()
            if install_signals:
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.add_signal_handler(sig, self.request_stop)
            self._outbox_task = asyncio.create_task(self._outbox_loop(), name="outbox")
            log.info("spacesd %s serving %s (backend %s, identity %s as %s)", _pkg_version,
                     self.socket_name, self.backend.name, self.backend.identity.hex,
                     self.backend.username)
            self._serving = True
            systemd.ready(self._status_text())
            if ready is not None:
                ready()
            await self._stop.wait()
            log.info("stopping")
            self._stopping = True
            systemd.stopping("stopping: finishing writes")
        finally:
            self._stopping = True
            self.backend.on_state(None)
            await self._shutdown()
            if install_signals:
                for sig in (signal.SIGTERM, signal.SIGINT):
                    with contextlib.suppress(Exception):
                        loop.remove_signal_handler(sig)

    def _status_text(self) -> str:
        """systemd's STATUS= line: the backend's connection state (the SpacetimeDB one), or
        where the data lives (embedded), and the socket."""
        state = self.backend.state_text or f"{self.backend.name} database {self.backend.database}"
        return f"{state}; serving {self.socket_name}"

    def _backend_state(self, text: str) -> None:
        """The backend's connection state changed (connecting, subscribed, offline...)."""
        if self._stopping:
            return
        systemd.status(self._status_text() if self._serving else text)

    def _prepare_runtime_dir(self) -> None:
        """The runtime dir: created 0700, refused if another user owns it, tightened to 0700.
        A socket placed elsewhere (SPACES_SOCKET) only gets its folder created."""
        d = self.settings.runtime_dir
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
        st = d.stat()
        if st.st_uid != os.getuid():
            raise RuntimeError(f"{d} belongs to another user (uid {st.st_uid}); refusing")
        if stat.S_IMODE(st.st_mode) & 0o077:
            os.chmod(d, 0o700)
        self.settings.socket_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)

    def _remove_stale_socket(self) -> None:
        path = self.settings.socket_path
        try:
            st = path.lstat()
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(st.st_mode):
            raise RuntimeError(f"{path} exists and is not a socket; refusing to replace it")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.settimeout(0.5)
        try:
            probe.connect(str(path))
        except OSError as e:
            if e.errno not in (errno.ECONNREFUSED, errno.ENOENT) and not isinstance(
                    e, TimeoutError):
                raise RuntimeError(f"cannot probe {path}: {e}") from e
            log.info("removing stale socket %s", path)
            path.unlink(missing_ok=True)
            return
        finally:
            probe.close()
        raise RuntimeError(f"another daemon answers on {path}")

    @property
    def socket_name(self) -> str:
        listener = self.settings.listener
        if listener is not None:
            with contextlib.suppress(OSError):
                name = listener.getsockname()
                if isinstance(name, str) and name:
                    return name
        return str(self.settings.socket_path)

    async def _bind(self) -> None:
        loop = asyncio.get_running_loop()
        if self.settings.listener is not None:
            self._server = await loop.create_unix_server(
                lambda: Connection(self), sock=self.settings.listener)
            return
        path = self.settings.socket_path
        old = os.umask(0o177)
        try:
            self._server = await loop.create_unix_server(
                lambda: Connection(self), str(path), backlog=512)
        except OSError as e:
            hint = (" (a Unix socket path is limited to about 107 bytes: set SPACES_SOCKET or "
                    "SPACES_RUNTIME_DIR to a shorter one)" if len(os.fsencode(path)) > 100 else "")
            raise RuntimeError(f"cannot listen on {path}: {e.strerror or e}{hint}") from e
        finally:
            os.umask(old)
        os.chmod(path, 0o600)

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()  # stop accepting
        if self._outbox_task is not None:
            self._outbox_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._outbox_task
        # let in-flight requests finish (their writes are being committed)
        deadline = time.monotonic() + 5.0
        while any(c.busy for c in self._conns) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        for conn in list(self._conns):
            conn.close()
        try:
            await self.backend.stop()
        except Exception:
            log.exception("backend stop failed")
        if self._handouts is not None:
            self._handouts.close()
            self._handouts = None
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
            if self.settings.listener is None:
                with contextlib.suppress(FileNotFoundError):
                    self.settings.socket_path.unlink()
            self._server = None
        if self._lock is not None and self._lock.is_locked:
            self._lock.release()
        log.info("stopped")

    # -- dispatch ----------------------------------------------------------------------------

    def is_async(self, op: str) -> bool:
        return op in self._async_ops

    def handle_sync(self, op: str, args: dict[str, Any]) -> Any:
        handler = self._ops.get(op)
        if handler is None:
            raise OpError("unknown_op", f"unknown op: {op!r}")
        return handler(args)

    async def handle_async(self, op: str, args: dict[str, Any]) -> Any:
        return await self._async_ops[op](args)

    # -- helpers -----------------------------------------------------------------------------

    def _resolve_channel(self, ref: int | str | None) -> views.ChannelInfo:
        store = self.backend.store
        if ref is None:
            ref = self.settings.channel or "agent-logs"
        info = views.resolve_channel(store, ref, self.backend.identity)
        if info is None:
            self._require_cache()
            raise OpError("not_found", f"no such channel: {ref}")
        return info

    def _require_cache(self) -> None:
        """A read the backend's cache cannot answer yet (its first subscription is not
        applied) is `unavailable`, not `not_found` nor an empty answer."""
        if not self.backend.cache_ready:
            state = self.backend.state_text or "not connected"
            raise OpError("unavailable", f"the {self.backend.name} link is not ready: nothing "
                          f"received from {self.backend.database} yet ({state})")

    def _summary_channel(self, args: dict[str, Any]) -> views.ChannelInfo:
        ref = _channel_ref(args, required=False)
        if ref is None:
            ref = self.settings.channel or "agent-logs"
            if isinstance(ref, str) and ref.isdigit():
                return self._resolve_channel(int(ref))
        return self._resolve_channel(ref)

    async def _write(self, reducer: str, args: list[Any], as_owner: bool = False) -> Changes:
        try:
            if as_owner:
                return await self.backend.call_as_owner(reducer, args)
            return await self.backend.call(reducer, args)
        except BackendError as e:
            raise OpError(e.code, e.message) from None

    def _queue_request(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        entry = hook_outbox.write({"op": op, "args": args}, directory=self.settings.outbox_dir)
        self._outbox_kick.set()
        return {"queued": True, "entry": entry.name}

    async def _send_keyed(self, key: str, call: list[Any], *, queue: bool, op: str,
                          args: dict[str, Any]) -> dict[str, Any]:
        """send_message_keyed: the message object; a repeated key answers the message its
        first call made, with `"duplicate": true`. Queued to the outbox (with its key) only
        when the backend cannot be reached, and `queue` allows it."""
        try:
            changes = await self.backend.call("send_message_keyed", [key, *call])
        except BackendUnavailable as e:
            if not queue:
                raise OpError(e.code, e.message) from None
            return self._queue_request(op, {**args, "channel": call[0], "key": key})
        except BackendError as e:
            raise OpError(e.code, e.message) from None
        store = self.backend.store
        for msg in views.inserted_messages(changes):
            if msg.sender == self.backend.identity:
                return views.message_object(store, msg)
        found = await self.backend.find_write(key)
        first = store.message(found.row_id) if found is not None else None
        if first is not None:
            return {**views.message_object(store, first), "duplicate": True}
        return {"id": found.row_id if found is not None else None, "duplicate": True}

    # -- ops ---------------------------------------------------------------------------------

    def op_ping(self, args: dict[str, Any]) -> Any:
        return {"pong": True}

    def op_status(self, args: dict[str, Any]) -> Any:
        store = self.backend.store
        result: dict[str, Any] = {
            "version": _pkg_version,
            "pid": os.getpid(),
            "uptime_s": round(time.monotonic() - self.started, 3),
            "backend": self.backend.name,
            "identity": self.backend.identity.hex,
            "username": self.backend.username,
            "database": self.backend.database,
            "host": self.settings.host,
            "socket": self.socket_name,
            "connection": "open",
            "outbox_depth": hook_outbox.depth(self.settings.outbox_dir),
            "outbox_delivered": self._delivered,
            "channel": self.settings.channel or "agent-logs",
            "clients": len(self._conns),
            "counts": views.counts(store),
        }
        result.update(self.backend.status())
        if self.settings.config is not None:
            result["config"] = self.settings.config.redacted()  # never holds the token
        return result

    def op_channels(self, args: dict[str, Any]) -> Any:
        server_ref = _arg(args, "server", (int, str), "a server id or name")
        store = self.backend.store
        if server_ref is None:
            servers = views.servers_of(store, self.backend.identity)
        else:
            server = views.resolve_server(store, server_ref)
            if server is None:
                self._require_cache()
                raise OpError("not_found", f"no such server: {server_ref}")
            servers = [server]
        if not servers:
            self._require_cache()
        out = []
        for server in servers:
            for ch in views.channels_of(store, server.id):
                out.append({"id": ch.id, "server_id": ch.server_id, "server": server.name,
                            "name": ch.name, "topic": ch.topic, "type": ch.channel_type.name,
                            "position": ch.position})
        return out

    def op_messages(self, args: dict[str, Any]) -> Any:
        info = self._resolve_channel(_channel_ref(args))
        self._require_cache()
        limit = _int_arg(args, "limit", DEFAULT_LIMIT, lo=1, hi=MAX_LIMIT)
        before = _int_arg(args, "before")
        thread_id = _int_arg(args, "thread_id")
        assert limit is not None
        store = self.backend.store
        rows = views.recent_messages(store, info.channel.id, limit, before=before,
                                     thread_id=thread_id)
        out = [views.message_object(store, m, info) for m in rows]
        # Keep the answer inside one frame: drop the oldest (a client pages with `before`).
        # Sizes are the encoded ones: a character may take up to 6 bytes (emoji in UTF-8,
        # control characters as \u escapes).
        budget = ANSWER_BUDGET
        for i in range(len(out) - 1, -1, -1):
            budget -= len(json.dumps(out[i], ensure_ascii=False, separators=(",", ":"))
                          .encode("utf-8", "surrogatepass")) + 1
            if budget < 0:
                return out[i + 1:]
        return out

    async def op_call(self, args: dict[str, Any]) -> Any:
        reducer = _str_arg(args, "reducer", required=True)
        call_args = _arg(args, "args", (list,), "a JSON array", [])
        as_owner = _arg(args, "as_owner", (bool,), "true or false", False)
        assert reducer is not None
        await self._write(reducer, call_args, as_owner=as_owner)
        return {"committed": True}

    async def op_send(self, args: dict[str, Any], *, queue: bool = True) -> Any:
        info = self._resolve_channel(_channel_ref(args))
        content = _str_arg(args, "content", required=True)
        mtype = _str_arg(args, "type", "Text")
        if mtype not in ("Text", "AgentEvent"):
            raise OpError("bad_args", "argument type must be Text or AgentEvent")
        thread_id = _int_arg(args, "thread_id")
        reply_to = _int_arg(args, "reply_to_id")
        key = _key_arg(args) or idem.new_key("send")
        call = [info.channel.id, content, thread_id, reply_to, mtype]
        return await self._send_keyed(key, call, queue=queue, op="send", args=args)

    async def op_post_summary(self, args: dict[str, Any], *, queue: bool = True) -> Any:
        summary = _arg(args, "summary", (dict,), "an object", required=True)
        if not isinstance(summary.get("session_id"), str) or not summary["session_id"]:
            raise OpError("bad_args", "argument summary must hold a session_id string")
        key = _key_arg(args) or _summary_key(summary)
        info = self._summary_channel(args)
        content = summary_content(summary, host=self.settings.host, agent=AGENT_KIND)
        call = [info.channel.id, content, None, None, MessageType.AgentEvent.name]
        return await self._send_keyed(key, call, queue=queue, op="post_summary", args=args)

    def op_context(self, args: dict[str, Any]) -> Any:
        session_id = _str_arg(args, "session_id", required=True)
        cwd = _str_arg(args, "cwd", "") or ""
        source = _str_arg(args, "source", "startup") or "startup"
        max_chars = _int_arg(args, "max_chars", CONTEXT_MAX_CHARS, lo=0, hi=1_000_000)
        assert session_id is not None and max_chars is not None
        # The channel the asking agent's Stop hook posts to (its SPACES_CHANNEL_ID), else the
        # configured one: the daemon may not see the agent's environment (systemd).
        ref = _channel_ref(args, required=False)
        info = self._resolve_channel(self._context_channel_ref() if ref is None else ref)
        self._require_cache()
        return self.peer_context(info, session_id, cwd, source, max_chars)

    def _parsed_summary(self, msg: Message) -> dict[str, Any] | None:
        """parse_summary, cached by (message id, edited_at): posted content never changes
        but by an edit."""
        key = (msg.id, msg.edited_at)
        cache = self._summaries
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
        summary = parse_summary(msg.content)
        cache[key] = summary
        if len(cache) > SUMMARY_CACHE:
            cache.popitem(last=False)
        return summary

    def _context_channel_ref(self) -> int | str:
        ref = self.settings.channel or "agent-logs"
        return int(ref) if ref.isdigit() else ref

    def peer_context(self, info: views.ChannelInfo, session_id: str, cwd: str, source: str,
                     max_chars: int) -> dict[str, Any]:
        store = self.backend.store
        now = now_micros()
        horizon = now - CONTEXT_MAX_AGE_S * 1_000_000
        assert self._handouts is not None
        given = self._handouts.given(session_id)
        latest: dict[str, tuple[Message, dict[str, Any]]] = {}
        for msg in reversed(views.recent_messages(store, info.channel.id, CONTEXT_SCAN)):
            if msg.message_type != MessageType.AgentEvent or msg.created_at < horizon:
                continue
            summary = self._parsed_summary(msg)
            if summary is None:
                continue
            sid = str(summary.get("session_id") or f"message-{msg.id}")
            if sid == session_id or sid in latest:
                continue  # own posts; an older summary of a session already seen
            latest[sid] = (msg, summary)
        fresh = [(m, s) for m, s in latest.values() if m.id not in given]
        project = os.path.normpath(cwd) if cwd else ""

        def same_project(summary: dict[str, Any]) -> bool:
            """The asking cwd is the peer's project or cwd, or inside it, or contains it."""
            if not project:
                return False
            for key in ("project", "cwd"):
                p = summary.get(key)
                if isinstance(p, str) and p and _related_paths(os.path.normpath(p), project):
                    return True
            return False

        fresh.sort(key=lambda ms: (not same_project(ms[1]), -ms[0].id))
        since = " since this session last heard" if given else ""
        header = (f"Recent activity of peer agent sessions{since}, from Spaces "
                  f"#{info.channel.name} (reports of what happened; newest first"
                  + (", this project first" if project else "") + "):")
        lines: list[str] = []
        ids: list[int] = []
        used = len(header)
        names: dict[Identity, str] = {}
        for msg, summary in fresh:
            room = max_chars - used - 1
            if room < 160:
                break
            if msg.sender not in names:
                names[msg.sender] = views.sender_name(store, msg.sender)
            line = "- " + render_summary(summary, sender_name=names[msg.sender],
                                         created_at=msg.created_at, now=now)
            if len(line) > room:
                line = line[: room - 1] + "…"
            lines.append(line)
            ids.append(msg.id)
            used += 1 + len(line)
        if not lines:
            return {"text": "", "message_ids": [], "source": source}
        self._handouts.record(session_id, ids)
        return {"text": "\n".join([header, *lines]), "message_ids": ids, "source": source}

    # -- tail --------------------------------------------------------------------------------

    def start_tail(self, conn: Connection, args: dict[str, Any]) -> Any:
        refs = _arg(args, "channels", (list,), "a list of channel ids or names", [])
        ids: set[int] = set()
        for ref in refs:
            if isinstance(ref, bool) or not isinstance(ref, (int, str)):
                raise OpError("bad_args", "argument channels must list channel ids or names")
            ids.add(self._resolve_channel(ref).channel.id)
        conn.tail_channels = ids or None
        conn.unsubscribe = self.backend.add_listener(conn.on_changes)
        return {"subscribed": True, "channels": sorted(ids)}

    def tail_events(self, changes: Changes, channels: set[int] | None) -> Iterable[dict[str, Any]]:
        return views.change_events(self.backend.store, changes, channels)

    # -- outbox ------------------------------------------------------------------------------

    async def _outbox_loop(self) -> None:
        directory = self.settings.outbox_dir
        with contextlib.suppress(OSError):
            hook_outbox.cleanup_tmp(directory)
        while True:
            try:
                mtime = directory.stat().st_mtime_ns
            except OSError:
                mtime = None
            if (mtime is not None and mtime != self._outbox_mtime) or self._outbox_kick.is_set():
                self._outbox_kick.clear()
                try:
                    if await self.deliver_outbox():
                        self._outbox_mtime = mtime
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("outbox: delivery failed; retrying")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._outbox_kick.wait(), OUTBOX_POLL_S)

    async def deliver_outbox(self) -> bool:
        """Deliver pending entries oldest first. Returns False if the backend was unavailable
        (the rest stay for the next round)."""
        for entry in hook_outbox.list_pending(self.settings.outbox_dir):
            try:
                req = hook_outbox.read(entry)
            except FileNotFoundError:
                continue
            except hook_outbox.OutboxError as e:
                log.warning("outbox: %s; set aside", e)
                hook_outbox.quarantine(entry)
                continue
            op = req.get("op")
            args = req.get("args") or {}
            if op not in ("post_summary", "send", "call") or not isinstance(args, dict):
                log.warning("outbox: %s holds op %r, which is not a write; set aside",
                            entry.name, op)
                hook_outbox.quarantine(entry)
                continue
            if not self.backend.available:
                return False
            if op == "send" and "key" not in args:
                # an entry from before keys: its name is its key, so a replay is one write
                args = {**args, "key": f"outbox:{entry.name}"}
            try:
                if op == "call":
                    await self.op_call(args)
                elif op == "send":
                    await self.op_send(args, queue=False)
                else:
                    await self.op_post_summary(args, queue=False)
            except OpError as e:
                if e.code == "unavailable":
                    return False
                log.warning("outbox: %s refused (%s: %s); set aside", entry.name, e.code,
                            e.message)
                hook_outbox.quarantine(entry)
                continue
            except Exception:
                log.exception("outbox: delivering %s failed", entry.name)
                return False
            hook_outbox.remove(entry)
            self._delivered += 1
            log.info("outbox: delivered %s", entry.name)
        return True


# --------------------------------------------------------------------------------------------
# One client connection


class Connection(asyncio.Protocol):
    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.transport: asyncio.Transport | None = None
        self.decoder = FrameDecoder()
        self.queue: deque[bytes] = deque()
        self.busy = False
        self.paused = False
        self.closed = False
        self.tailing = False
        self.tail_channels: set[int] | None = None
        self.unsubscribe: Callable[[], None] | None = None
        self.task: asyncio.Future[None] | None = None
        self.eof = False

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.daemon._conns.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.daemon._conns.discard(self)
        if self.unsubscribe is not None:
            self.unsubscribe()
            self.unsubscribe = None

    def data_received(self, data: bytes) -> None:
        if self.tailing or self.closed:
            return  # nothing may be sent after tail; ignore it
        try:
            frames = self.decoder.feed(data)
        except FrameTooLarge as e:
            self.queue.clear()
            self._send({"id": None, "ok": False,
                        "error": {"code": "frame_too_large", "message": e.message}})
            self.close()
            return
        self.queue.extend(frames)
        if self.busy:
            self._maybe_pause()
        else:
            self._drain()

    def eof_received(self) -> bool | None:
        """The client is done sending: answer what it sent, then close (half-close clients
        such as `nc -N` get their answers)."""
        if self.tailing or (not self.busy and not self.queue):
            return False
        self.eof = True
        return True

    # request loop

    def _drain(self) -> None:
        daemon = self.daemon
        while self.queue and not self.closed and not self.tailing:
            payload = self.queue.popleft()
            rid: Any = None
            try:
                req = decode_payload(payload)
                rid = req.get("id")
                if rid is not None and (isinstance(rid, bool) or not isinstance(rid, int)):
                    rid = None
                    raise OpError("bad_frame", "id must be an integer")
                op = req.get("op")
                if not isinstance(op, str):
                    raise OpError("bad_frame", "request has no op string")
                args = req.get("args", {})
                if args is None:
                    args = {}
                if not isinstance(args, dict):
                    raise OpError("bad_args", "args must be an object")
                if daemon.is_async(op):
                    self.busy = True
                    self._maybe_pause()
                    self.task = asyncio.ensure_future(self._run_async(rid, op, args))
                    return
                if op == "tail":
                    result = daemon.start_tail(self, args)
                    self.tailing = True
                    self._reply(rid, result)
                    self.queue.clear()
                    return
                result = daemon.handle_sync(op, args)
            except ProtocolError as e:
                self._error(rid, e.code, e.message)
                continue
            except OpError as e:
                self._error(rid, e.code, e.message)
                continue
            except Exception as e:
                log.exception("internal error")
                self._error(rid, "internal", f"internal error: {type(e).__name__}: {e}")
                continue
            self._reply(rid, result)
        self._maybe_resume()
        if self.eof and not self.busy and not self.queue and not self.tailing:
            self.close()

    async def _run_async(self, rid: Any, op: str, args: dict[str, Any]) -> None:
        try:
            result = await self.daemon.handle_async(op, args)
        except OpError as e:
            self._error(rid, e.code, e.message)
        except Exception as e:
            log.exception("internal error in %s", op)
            self._error(rid, "internal", f"internal error: {type(e).__name__}: {e}")
        else:
            self._reply(rid, result)
        self.busy = False
        self._drain()

    def _maybe_pause(self) -> None:
        if not self.paused and len(self.queue) >= PAUSE_AT and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()

    def _maybe_resume(self) -> None:
        if self.paused and len(self.queue) < PAUSE_AT // 2 and self.transport is not None:
            self.paused = False
            if not self.closed:
                self.transport.resume_reading()

    # output

    def _send(self, obj: dict[str, Any]) -> None:
        if self.closed or self.transport is None or self.transport.is_closing():
            return
        try:
            frame = encode_frame(obj)
        except FrameTooLarge as e:
            frame = encode_frame({"id": obj.get("id"), "ok": False, "error": {
                "code": "internal", "message": f"answer too large: {e.message}"}})
        self.transport.write(frame)

    def _reply(self, rid: Any, result: Any) -> None:
        self._send({"id": rid, "ok": True, "result": result})

    def _error(self, rid: Any, code: str, message: str) -> None:
        self._send({"id": rid, "ok": False, "error": {"code": code, "message": message}})

    def on_changes(self, changes: Changes) -> None:
        if self.closed or self.transport is None:
            return
        try:
            for event in self.daemon.tail_events(changes, self.tail_channels):
                self._send(event)
        except Exception:
            log.exception("tail: cannot render changes")
        if self.transport.get_write_buffer_size() > TAIL_MAX_BUFFER:
            log.warning("tail client too slow; dropping it")
            self.close()

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()
        self.closed = True
