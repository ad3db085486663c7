"""The daemon's socket server: one asyncio process, one Unix socket, docs/protocol.md exactly.

    daemon = Daemon(backend, settings)
    await daemon.run()          # until SIGTERM/SIGINT or daemon.request_stop()

Requests on one connection are answered in order; reads are answered inline on the event
loop's thread, writes wait for the backend's durable commit. `tail` turns the connection into
a pushed stream of change events. The hooks' on-disk outbox is delivered on start and whenever
its directory changes.

Here: the daemon's lifecycle (lock, socket, backend, shutdown), what the ops share, and the
outbox delivery. The ops are in `ops.py` (registered in `registry.py`), one client's
connection in `ipc_connection.py`, the `context` op's peer summaries in `peer_context.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
import os
import signal
import socket
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import filelock

from spacesd import __version__ as _pkg_version
from spacesd import outbox as hook_outbox
from spacesd import owner, paths, systemd
from spacesd.config import DEFAULT_CHANNEL
from spacesd.daemon import views
from spacesd.daemon.backend import Backend
from spacesd.daemon.errors import OpError
from spacesd.daemon.handouts import Handouts
from spacesd.daemon.ipc_connection import IpcConnection
from spacesd.daemon.lease_markers import LeaseMarkers
from spacesd.daemon.limits import SWEEP_SECONDS, Limits, connection_cap, raise_fd_limit
from spacesd.daemon.live import Live
from spacesd.daemon.ops import REGISTRY, ops_tasks
from spacesd.daemon.participants import Participant
from spacesd.daemon.peer_context import SummaryCache
from spacesd.model import Identity
from spacesd.owner import OwnerGate, OwnerRefused
from spacesd.store import Changes, Store

if TYPE_CHECKING:
    from spacesd.config import Config

log = logging.getLogger("spacesd")

OUTBOX_POLL_S = 1.0
COUNTS_TTL_S = 1.0
"""`status` counts rows at most this often."""
LISTEN_BACKLOG = 4096
"""Connections the kernel queues before the daemon accepts them (capped by somaxconn)."""


@dataclass
class Settings:
    socket_path: Path = field(default_factory=paths.socket_path)
    runtime_dir: Path = field(default_factory=paths.runtime_dir)
    state_dir: Path = field(default_factory=paths.state_dir)
    outbox_dir: Path = field(default_factory=paths.outbox_dir)
    channel: str = DEFAULT_CHANNEL
    """Where summaries go and where context comes from when a request names no channel:
    config's `channel` (SPACES_CHANNEL_ID, config.toml, else agent-logs), an id or a name."""
    config: Config | None = None
    """The effective configuration the daemon was started with, shown (redacted) by `status`."""
    host: str = field(default_factory=lambda: socket.gethostname().split(".")[0])
    live_dir: Path | None = field(default_factory=paths.live_dir_override)
    """Where the marker files of live sessions are kept (SPACES_LIVE_DIR); None: the
    runtime dir's `live/`."""
    listener: socket.socket | None = None
    """A listening socket handed over by systemd socket activation: served instead of binding
    `socket_path`, and its file left in place at exit (it belongs to spacesd.socket)."""
    limits: Limits = field(default_factory=Limits)
    """The connection cap and the idle and request timeouts (spacesd.daemon.limits)."""
    owner_passphrase_file: Path = field(default_factory=owner.passphrase_file)
    """The owner passphrase's hash (`spacesd owner passphrase`): owner calls need it."""


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
        self.clients: set[IpcConnection] = set()
        self.handouts: Handouts | None = None
        self._outbox_task: asyncio.Task[None] | None = None
        self._outbox_kick = asyncio.Event()
        self._outbox_lock = asyncio.Lock()
        self._backlog = 0
        """Writes queued since the outbox was last delivered in full (0: none): an outage's
        backlog, which new writes must not overtake."""
        self._outbox_mtime: int | None = None
        self.delivered = 0
        self._serving = False
        self._stopping = False
        self.summaries = SummaryCache()
        self.lease_markers: LeaseMarkers | None = None
        self.live: Live | None = None
        self._opened: set[Identity] = set()
        self.max_clients = connection_cap(1024, self.settings.limits.max_clients)
        self._sweep_task: asyncio.Task[None] | None = None
        self._commits = 0
        self._counts: tuple[int, float, dict[str, int], int] | None = None
        self._counting: tuple[int, asyncio.Future[tuple[dict[str, int], int]]] | None = None
        self.owner_gate = OwnerGate(self.settings.owner_passphrase_file)
        self._owner_lock = asyncio.Lock()

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
            if hook_outbox.depth(self.settings.outbox_dir):
                self._backlog += 1  # written while no daemon ran: goes before new writes
            self.handouts = Handouts(self.settings.state_dir / "context-handouts.sqlite")
            self._start_lease_markers()
            self.live = Live(self)
            await self.live.start()
            self.max_clients = connection_cap(raise_fd_limit(), self.settings.limits.max_clients)
            self.backend.add_listener(self._committed)
            await self._bind()
            self._sweep_task = asyncio.create_task(self._sweep_loop(), name="sweep")
            # What start-up made lives as long as the daemon: out of the collector's way, so a
            # full collection walks only what requests make (pauses of a few ms otherwise).
            gc.freeze()
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
                lambda: IpcConnection(self), sock=self.settings.listener)
            return
        path = self.settings.socket_path
        old = os.umask(0o177)
        try:
            self._server = await loop.create_unix_server(
                lambda: IpcConnection(self), str(path), backlog=LISTEN_BACKLOG)
        except OSError as e:
            hint = (" (a Unix socket path is limited to about 107 bytes: set SPACES_SOCKET or "
                    "SPACES_RUNTIME_DIR to a shorter one)" if len(os.fsencode(path)) > 100 else "")
            raise RuntimeError(f"cannot listen on {path}: {e.strerror or e}{hint}") from e
        finally:
            os.umask(old)
        os.chmod(path, 0o600)

    async def _sweep_loop(self) -> None:
        """Close idle and half-sent connections (spacesd.daemon.limits), once a second."""
        limits = self.settings.limits
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            now = time.monotonic()
            for conn in list(self.clients):
                conn.check_timeouts(now, limits.idle_timeout, limits.request_timeout)

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()  # stop accepting
        if self.lease_markers is not None:
            self.lease_markers.stop()
        if self._sweep_task is not None:
            self._sweep_task.cancel()
        if self._outbox_task is not None:
            self._outbox_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._outbox_task
        # let in-flight requests finish (their writes are being committed)
        deadline = time.monotonic() + 5.0
        while any(c.busy for c in self.clients) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        for conn in list(self.clients):
            conn.close()
        if self.live is not None:
            with contextlib.suppress(Exception):
                await self.live.stop()
            for identity in list(self._opened):
                with contextlib.suppress(Exception):
                    await self.backend.close_participant(identity)
            self._opened.clear()
        try:
            await self.backend.stop()
        except Exception:
            log.exception("backend stop failed")
        if self.handouts is not None:
            self.handouts.close()
            self.handouts = None
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

    def _start_lease_markers(self) -> None:
        """The PreToolUse fast path's markers (spacesd.daemon.lease_markers)."""
        backend = self.backend
        live_dir = self.settings.live_dir or self.settings.runtime_dir / "live"
        self.lease_markers = LeaseMarkers(live_dir, lambda: backend.store,
                                          lambda: ops_tasks.now_of(self))
        try:
            self.lease_markers.start()
        except OSError:
            log.exception("lease markers unavailable in %s", live_dir)
            self.lease_markers = None
            return
        backend.add_listener(self.lease_markers.on_changes)

    # -- what the ops share ----------------------------------------------------------------

    def resolve_channel(self, ref: int | str | None) -> views.ChannelInfo:
        store = self.backend.store
        if ref is None:
            ref = self.settings.channel
        info = views.resolve_channel(store, ref, self.backend.identity)
        if info is None:
            self.require_cache()
            raise OpError("not_found", f"no such channel: {ref}")
        return info

    def require_live(self) -> Live:
        if self.live is None:
            raise OpError("unavailable", "the daemon is starting")
        return self.live

    async def open_participant(self, p: Participant) -> None:
        """Act as this session's participant on the backend from now on (once per run)."""
        if p.identity in self._opened:
            return
        await self.backend.open_participant(p.identity, p.token)
        self._opened.add(p.identity)

    async def check_owner(self, passphrase: str | None) -> None:
        """The one check of the owner's authority (docs/roles.md): the owner passphrase a
        person typed; `forbidden` otherwise. One at a time (scrypt, off the event loop)."""
        async with self._owner_lock:
            try:
                await asyncio.to_thread(self.owner_gate.check, passphrase)
            except OwnerRefused as refused:
                log.warning("owner call refused: %s", refused.message)
                raise OpError("forbidden", refused.message) from None

    def require_cache(self) -> None:
        """A read the backend's cache cannot answer yet (its first subscription is not
        applied) is `unavailable`, not `not_found` nor an empty answer."""
        if not self.backend.cache_ready:
            state = self.backend.state_text or "not connected"
            raise OpError("unavailable", f"the {self.backend.name} link is not ready: nothing "
                          f"received from {self.backend.database} yet ({state})")

    async def table_counts(self) -> tuple[dict[str, int], int]:
        """Rows per table and the outbox's depth, for `status`: counted off the event loop
        (a count(*) over a million messages takes milliseconds, which would hold every other
        client) on a connection of its own; kept until the next commit, or COUNTS_TTL_S."""
        cached = self._counts
        if cached is not None and cached[0] == self._commits and (
                time.monotonic() - cached[1] < COUNTS_TTL_S):
            return cached[2], cached[3]
        gen = self._commits
        counting = self._counting
        if counting is None or counting[0] != gen:
            counting = (gen, asyncio.ensure_future(asyncio.to_thread(self._count)))
            self._counting = counting
        counts, depth = await asyncio.shield(counting[1])
        if self._counting is counting:
            self._counting = None
            self._counts = (gen, time.monotonic(), counts, depth)
        return counts, depth

    def _committed(self, changes: Changes) -> None:
        self._commits += 1  # what `status` counted is out of date

    def _count(self) -> tuple[dict[str, int], int]:
        depth = hook_outbox.depth(self.settings.outbox_dir)
        path = self.backend.store.path
        if path == ":memory:":  # tests: one connection only, and a small one
            return views.counts(self.backend.store), depth
        with Store(path) as store:
            return views.counts(store), depth

    def queue_request(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        """Put a write in the outbox (delivered in order when the backend takes writes)."""
        entry = hook_outbox.write({"op": op, "args": args}, directory=self.settings.outbox_dir)
        self._backlog += 1
        self._commits += 1  # the outbox's depth changed
        self._outbox_kick.set()
        return {"queued": True, "entry": entry.name}

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

    async def flush_outbox(self) -> bool:
        """Before a new write: deliver the writes queued while the backend was away (or no
        daemon ran), so writes land in the order they were made. False if the backend cannot
        take them now (the new write then waits behind them). Entries that hooks wrote after
        giving up on a slow answer are no backlog: they were sent, and their keys make their
        delivery harmless whenever it comes, so nobody waits for them."""
        if not self._backlog:
            return True
        return await self.deliver_outbox()

    async def deliver_outbox(self) -> bool:
        """Deliver pending entries oldest first, one delivery at a time. Returns False if the
        backend was unavailable (the rest stay for the next round)."""
        async with self._outbox_lock:
            backlog = self._backlog
            delivered = await self._deliver_pending()
            if delivered and self._backlog == backlog:
                self._backlog = 0  # what was queued before this pass is delivered
            return delivered

    async def _deliver_pending(self) -> bool:
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
            spec = REGISTRY.get(op) if isinstance(op, str) else None
            if spec is None or not spec.write or not isinstance(args, dict):
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
                await spec.func(self, spec.request(args, queue=False))
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
            self._commits += 1
            self.delivered += 1
            log.info("outbox: delivered %s", entry.name)
        return True
