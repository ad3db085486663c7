"""The daemon's side of live sessions: participants opened on the backend, claims and acks
(exactly once), the local delivered record, the marker files, and `wait`'s waiters.

- `delivered_local` (SQLite, synchronous=FULL, in the state dir) holds every item id a hook
  acked; `inbox_claim` never hands out one of them again, whatever the backend's state says.
- A claim holds items for CLAIM_S seconds; one claim per session at a time.
- `<live dir>/<session>.inbox` exists exactly while the session has a Queued item not in
  `delivered_local` (docs/protocol.md, "Markers").
- Acks a hook could not deliver are files in `<state dir>/acks/`, applied at start and
  before each claim.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from spacesd.daemon.backend import BackendError, BackendUnavailable
from spacesd.daemon.participants import Participant, Participants
from spacesd.model import DeliveryState, Identity, InboxItem, SessionState
from spacesd.store import Changes

if TYPE_CHECKING:
    from spacesd.daemon.server import Daemon

log = logging.getLogger("spacesd.live")

CLAIM_S: Final = 15.0
RETRY_S: Final = 2.0
RETRY_FOR_S: Final = 300.0
PID_WATCH_S: Final = 30.0
"""How often live sessions' client processes are checked: one that is gone without a
SessionEnd is marked Ended by its machine."""


TRANSCRIPT_TAIL: Final = 1 << 20
"""How much of a transcript's end a lapsed claim's check reads (its fence is near the end)."""


@dataclass
class Claim:
    id: str
    session: str
    ids: list[int]
    expires: float
    nonce: str
    transcript: str | None = None
    """Gemini's session file, where a killed hook's output still lands (6.2)."""
    headers: list[str] = field(default_factory=list)
    """The fence's item header lines: all in the transcript = the client took the text."""


def in_transcript(path: str, headers: list[str]) -> bool:
    """Whether every header line is in the last TRANSCRIPT_TAIL bytes of `path`."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - TRANSCRIPT_TAIL))
            tail = f.read().decode("utf-8", errors="replace")
    except OSError:
        return False
    return bool(headers) and all(h in tail for h in headers)


@dataclass
class Waiter:
    future: asyncio.Future[dict[str, Any]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class DeliveredLocal:
    """The item ids acked on this machine, durable before an ack is answered."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = FULL")
        self.conn.execute("CREATE TABLE IF NOT EXISTS delivered (item_id INTEGER PRIMARY KEY, "
                          "session TEXT NOT NULL, claim TEXT, at_ns INTEGER NOT NULL)")

    def add(self, session: str, claim: str | None, ids: list[int]) -> int:
        before = self.conn.total_changes
        with self.conn:
            self.conn.executemany(
                "INSERT OR IGNORE INTO delivered (item_id, session, claim, at_ns) "
                "VALUES (?, ?, ?, ?)", [(i, session, claim, time.time_ns()) for i in ids])
        return self.conn.total_changes - before

    def has(self, item_id: int) -> bool:
        return self.conn.execute("SELECT 1 FROM delivered WHERE item_id = ?",
                                 (item_id,)).fetchone() is not None

    def all(self) -> set[int]:
        return {int(r[0]) for r in self.conn.execute("SELECT item_id FROM delivered")}

    def close(self) -> None:
        self.conn.close()


class Live:
    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        settings = daemon.settings
        self.live_dir = settings.live_dir or settings.runtime_dir / "live"
        self.acks_dir = settings.state_dir / "acks"
        data_dir = getattr(daemon.backend, "data_dir", None) or settings.state_dir
        self.participants = Participants(Path(data_dir) / "participants")
        self.delivered = DeliveredLocal(settings.state_dir / "live-delivered.sqlite")
        self.claims: dict[str, Claim] = {}
        self.waiters: dict[str, Waiter] = {}
        self.tasks: set[asyncio.Task[Any]] = set()
        self.unsubscribe: Any = None
        self.claims_served = 0
        self.watch: asyncio.Future[None] | None = None
        self.acks_applied = 0

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        self.participants.load()
        self.live_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.live_dir, 0o700)
        self.apply_spooled_acks()
        self.rebuild_markers()
        self.follow_leases_of_all()
        self.unsubscribe = self.daemon.backend.add_listener(self.on_changes)
        self.spawn(self.resync_delivered())
        self.watch = asyncio.ensure_future(self.watch_pids())

    async def stop(self) -> None:
        if self.unsubscribe is not None:
            self.unsubscribe()
        if self.watch is not None:
            self.watch.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.watch
        for waiter in self.waiters.values():
            if not waiter.future.done():
                waiter.future.set_result({"cancel": True})
        for task in list(self.tasks):
            try:
                await asyncio.wait_for(asyncio.shield(task), 2.0)
            except (asyncio.TimeoutError, Exception):
                task.cancel()  # a retry still waiting: the next start resyncs it
        self.delivered.close()

    async def watch_pids(self) -> None:
        while True:
            await asyncio.sleep(PID_WATCH_S)
            for p in list(self.participants.by_session.values()):
                if p.pid is None or _alive(p.pid):
                    continue
                info = self.daemon.backend.store.get("session_info", p.identity)
                if info is None or info.state == SessionState.Ended:
                    continue
                log.info("session %s (%s): its client %d is gone; ended", p.session, p.handle,
                         p.pid)
                with contextlib.suppress(BackendError):
                    await self.daemon.backend.call("set_session_state",
                                                   [p.identity.hex, "Ended"])
                self.wake(p.session, {"cancel": True})
                self.follow_leases(p, ended=True)

    def spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # -- what is pending ---------------------------------------------------------------------

    def queued(self, p: Participant) -> list[InboxItem]:
        """The participant's Queued items not acked here, oldest first."""
        rows = self.daemon.backend.store.select(
            "inbox_item", recipient=p.identity, state=DeliveryState.Queued)
        return [r for r in rows if not self.delivered.has(r.id)]

    def claimed_ids(self, session: str) -> set[int]:
        now = time.monotonic()
        for lapsed in [c for c in self.claims.values() if c.expires <= now]:
            del self.claims[lapsed.id]
            self.arbitrate(lapsed)
        return {i for c in self.claims.values() if c.session == session for i in c.ids}

    def marker(self, session: str) -> Path:
        return self.live_dir / f"{session}.inbox"

    def refresh_marker(self, p: Participant) -> int:
        pending = len(self.queued(p))
        path = self.marker(p.session)
        try:
            if pending:
                if not path.exists():
                    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
            else:
                path.unlink(missing_ok=True)
        except OSError:
            log.exception("marker %s", path)
        return pending

    def follow_leases(self, p: Participant, *, ended: bool = False) -> None:
        """`<session>.lease` (spacesd.daemon.lease_markers) follows this machine's live
        sessions: kept from a session's registration (its project and identity) to its end."""
        markers = self.daemon.lease_markers
        if markers is None:
            return
        if ended:
            markers.forget_session(p.session)
        else:
            markers.register_session(p.session, p.project, p.identity)

    def follow_leases_of_all(self) -> None:
        """At start: every session of this machine that has not ended."""
        markers = self.daemon.lease_markers
        if markers is None:
            return
        store = self.daemon.backend.store
        for p in list(self.participants.by_session.values()):
            info = store.get("session_info", p.identity)
            if info is None or info.state != SessionState.Ended:
                markers.register_session(p.session, p.project, p.identity, refresh=False)
        markers.refresh()

    def rebuild_markers(self) -> None:
        for old in self.live_dir.glob("*.inbox"):
            old.unlink(missing_ok=True)
        for p in list(self.participants.by_session.values()):
            self.refresh_marker(p)

    def on_changes(self, changes: Changes) -> None:
        """The change feed: markers follow the inbox rows of this machine's sessions, and a
        new Queued item wakes the session's waiter."""
        touched: set[Identity] = set()
        woken: set[Identity] = set()
        for item in changes.inserted("inbox_item"):
            touched.add(item.recipient)
            if item.state == DeliveryState.Queued:
                woken.add(item.recipient)
        for item in changes.deleted("inbox_item"):
            touched.add(item.recipient)
        for identity in touched:
            p = self.participants.by_identity.get(identity)
            if p is None:
                continue
            pending = self.refresh_marker(p)
            if identity in woken and pending:
                self.wake(p.session, {"pending": pending})

    def wake(self, session: str, answer: dict[str, Any]) -> None:
        waiter = self.waiters.pop(session, None)
        if waiter is not None and not waiter.future.done():
            waiter.future.set_result(answer)

    def arbitrate(self, claim: Claim) -> None:
        """A claim lapsed without an ack. Gemini uses a hook's output even when the hook died
        of a signal (6.2): if the claim's text is in the session's transcript, the client took
        it, so it counts as delivered; otherwise its items are claimable again."""
        p = self.participants.get(claim.session)
        if p is None or not claim.transcript or not in_transcript(claim.transcript,
                                                                  claim.headers):
            return
        log.info("claim %s of %s lapsed, but its text is in the transcript: delivered",
                 claim.id, claim.session)
        self.delivered.add(p.session, claim.id, claim.ids)
        self.refresh_marker(p)
        self.spawn(self.mark_delivered(p, claim.ids))

    # -- claim and ack -----------------------------------------------------------------------

    def new_claim(self, session: str, ids: list[int]) -> Claim:
        claim = Claim(secrets.token_hex(8), session, ids, time.monotonic() + CLAIM_S,
                      secrets.token_hex(2))
        self.claims[claim.id] = claim
        self.claims_served += 1
        return claim

    def ack(self, p: Participant, claim_id: str, ids: list[int] | None) -> int:
        """Record the claim's items as delivered (durably, first), update the marker, then
        mark them delivered on the backend as the participant (in the background)."""
        claim = self.claims.pop(claim_id, None)
        if claim is not None and claim.session == p.session:
            acked = claim.ids
        else:
            if claim is not None:
                self.claims[claim_id] = claim  # another session's claim: not ours to ack
            store = self.daemon.backend.store
            acked = [i for i in (ids or []) if (row := store.get("inbox_item", i)) is not None
                     and row.recipient == p.identity]
        if not acked:
            return 0
        added = self.delivered.add(p.session, claim_id, acked)
        self.acks_applied += 1
        self.refresh_marker(p)
        self.spawn(self.mark_delivered(p, acked))
        return added

    async def mark_delivered(self, p: Participant, ids: list[int]) -> None:
        """As the participant (mark_delivered is a no-op on a Delivered or Read item, so a
        retry is safe); while the backend is unavailable, retried every RETRY_S for up to
        RETRY_FOR_S, then at the next start (resync_delivered)."""
        deadline = time.monotonic() + RETRY_FOR_S
        pending = list(ids)
        while pending:
            try:
                await self.daemon.open_participant(p)
                await self.daemon.backend.call("mark_delivered", [pending[0]],
                                               caller=p.identity)
            except BackendUnavailable as e:
                if time.monotonic() > deadline:
                    log.info("mark_delivered as %s: %s (retried at the next start)", p.handle,
                             e.message)
                    return
                await asyncio.sleep(RETRY_S)
                continue
            except BackendError as e:
                log.warning("mark_delivered %d as %s: %s", pending[0], p.handle, e.message)
            pending.pop(0)

    async def resync_delivered(self) -> None:
        """Items acked here whose backend row is still Queued (a call that failed or never
        ran): mark them delivered now, as their recipient."""
        store = self.daemon.backend.store
        for item_id in sorted(self.delivered.all()):
            row = store.get("inbox_item", item_id)
            if row is None or row.state != DeliveryState.Queued:
                continue
            p = self.participants.by_identity.get(row.recipient)
            if p is None:
                continue
            await self.mark_delivered(p, [item_id])

    def apply_spooled_acks(self) -> None:
        """The acks hooks wrote to disk while the daemon was away: applied, then removed."""
        try:
            entries = sorted(e for e in self.acks_dir.iterdir() if e.suffix == ".json")
        except OSError:
            return
        for entry in entries:
            try:
                req = json.loads(entry.read_text("utf-8"))
                args = req.get("args", req)
                p = self.participants.get(str(args["session"]))
                if p is not None:
                    self.ack(p, str(args.get("claim") or ""),
                             [int(i) for i in args.get("ids") or []])
            except (OSError, ValueError, TypeError, KeyError, AttributeError):
                log.warning("acks: %s cannot be read; set aside", entry.name)
                with contextlib.suppress(OSError):
                    entry.rename(entry.with_name(entry.name + ".bad"))
                continue
            entry.unlink(missing_ok=True)
