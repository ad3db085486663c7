"""What each session was already given by the `context` op, kept across daemon restarts.

A small SQLite file in the state dir (it is the daemon's memory of hand-outs, not Spaces data:
losing it only means a resumed session may see a summary twice).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path

RETENTION_S = 30 * 24 * 3600


class Handouts:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = path
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS handed_out ("
            " session_id TEXT NOT NULL, message_id INTEGER NOT NULL, given_at INTEGER NOT NULL,"
            " PRIMARY KEY (session_id, message_id)) WITHOUT ROWID")
        self._db.execute("DELETE FROM handed_out WHERE given_at < ?",
                         (int(time.time()) - RETENTION_S,))

    def given(self, session_id: str) -> set[int]:
        rows = self._db.execute(
            "SELECT message_id FROM handed_out WHERE session_id = ?", (session_id,))
        return {int(r[0]) for r in rows}

    def record(self, session_id: str, message_ids: Iterable[int]) -> None:
        now = int(time.time())
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR IGNORE INTO handed_out (session_id, message_id, given_at)"
                " VALUES (?, ?, ?)", [(session_id, int(m), now) for m in message_ids])

    def close(self) -> None:
        self._db.close()
