"""Lease markers: empty-ish files in the live directory that the PreToolUse fast path `stat`s
so that, with no lease held by another participant in its project, a tool call never starts
Python (docs/live-coordination.md 7.1, docs/protocol.md "Lease markers").

- `project-<first 32 hex of sha256(project)>.lease` exists iff an unexpired lease of that
  project exists; it holds the holders' identities, one hex per line.
- `<session_id>.lease`, for each session registered with `register_session`, exists iff an
  identity other than the session's own holds an unexpired lease in its project.

The markers follow every transaction that touches `path_lease` (a change listener) and, on the
embedded backend, a timer at the earliest expiry (no write happens when a lease runs out).
Rebuilt from the store at start; left in place at exit (a stale marker costs one Python start).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from spacesd.daemon.tasks_view import live_leases
from spacesd.model import Identity, PathLease
from spacesd.store import Changes, Store

SESSION_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
SUFFIX: Final = ".lease"


def project_marker_name(project: str) -> str:
    return f"project-{hashlib.sha256(project.encode()).hexdigest()[:32]}{SUFFIX}"


@dataclass(frozen=True)
class Session:
    project: str
    identity: Identity


class LeaseMarkers:
    def __init__(self, directory: Path, store: Callable[[], Store],
                 now: Callable[[], int | None]) -> None:
        self.directory = directory
        self._store = store
        self._now = now
        self._sessions: dict[str, Session] = {}
        self._written: dict[str, str] = {}
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        """Create the directory (0700) and rebuild every lease marker from the store."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        for old in self.directory.glob("*" + SUFFIX):
            with contextlib.suppress(FileNotFoundError):
                old.unlink()
        self._written.clear()
        self.refresh()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def on_changes(self, changes: Changes) -> None:
        part = changes.tables.get("path_lease")
        if part is not None and not part.is_empty():
            self.refresh()

    def register_session(self, session_id: str, project: str, identity: Identity,
                         *, refresh: bool = True) -> None:
        """Keep `<session_id>.lease` for a live session (its project and its identity);
        registering it again with the same values changes nothing."""
        if SESSION_ID.fullmatch(session_id) is None:
            raise ValueError("a session id is 1-64 characters of A-Z a-z 0-9 _ -")
        session = Session(project, identity)
        if self._sessions.get(session_id) == session:
            return
        self._sessions[session_id] = session
        if refresh:
            self.refresh()

    def forget_session(self, session_id: str) -> None:
        """The session ended: its marker goes."""
        if self._sessions.pop(session_id, None) is not None:
            self.refresh()

    def sessions(self) -> dict[str, Session]:
        return dict(self._sessions)

    def refresh(self) -> None:
        now = self._now()
        leases = live_leases(self._store(), now)
        holders: dict[str, set[Identity]] = {}
        for lease in leases:
            holders.setdefault(lease.project, set()).add(lease.holder)
        wanted = {project_marker_name(p): "".join(sorted(h.hex + "\n" for h in ids))
                  for p, ids in holders.items()}
        for sid, session in self._sessions.items():
            if holders.get(session.project, set()) - {session.identity}:
                wanted[sid + SUFFIX] = ""
        self._apply(wanted)
        self._schedule(leases, now)

    def _apply(self, wanted: dict[str, str]) -> None:
        for name in set(self._written) - set(wanted):
            with contextlib.suppress(FileNotFoundError):
                (self.directory / name).unlink()
            del self._written[name]
        for name, text in wanted.items():
            if self._written.get(name) == text:
                continue
            tmp = self.directory / f".{name}.tmp"
            tmp.write_text(text, encoding="ascii")
            os.replace(tmp, self.directory / name)
            self._written[name] = text

    def _schedule(self, leases: list[PathLease], now: int | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if now is None or not leases:
            return  # SpacetimeDB deletes expired leases itself: the change arrives
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        due = min(lease.expires_at for lease in leases)
        self._timer = loop.call_later(max(0.0, (due - now) / 1e6) + 0.001, self.refresh)
