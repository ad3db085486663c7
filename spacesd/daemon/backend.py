"""The interface between the daemon and whatever holds the data.

Two implementations: `EmbeddedBackend` (spacesd/daemon/embedded.py: the SQLite engine in this
process) and the SpacetimeDB backend (spacesd/daemon/spacetimedb.py: a WebSocket subscription whose
rows are cached in the same `Store` class). The daemon only ever talks to this interface:

- lifecycle: `await start()` (connect / open, announce the identity with client_connected),
  `await stop()` (flush pending writes, client_disconnected, close);
- `identity`, `username`: who the daemon is;
- writes: `await call(reducer, args)` -> `Changes` once the transaction is committed (for the
  embedded engine: durable on disk); a refusal raises `ReducerFailed` carrying the reducer's
  own message; `BadArguments` for arguments that do not fit the reducer; `BackendUnavailable`
  when the write cannot be made now (the daemon queues it); optionally
  `await call_as_owner(reducer, args)` where a local owner identity exists (embedded);
- reads: `store`, a `spacesd.store.Store` with the committed (or subscribed) rows; reads are
  synchronous and done on the event loop's thread; `cache_ready` is False while that store
  cannot answer yet (no subscription applied so far);
- the change feed: `add_listener(callback)` -> an unsubscribe function; the callback runs on
  the event loop's thread with every committed `Changes`, in commit order (what `tail` pushes);
- `status()`: a dict of backend-specific facts (connection state, database, ...);
- the connection state for people: `on_state(callback)` is called with a one-line text
  ("connecting to ...", "subscribed to ...", "offline: ...") whenever it changes, and
  `state_text` holds the latest (None for a backend that has no connection, the embedded one).
  The daemon forwards it to systemd (``STATUS=``).
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from spacesd.daemon.gate import scrub_args
from spacesd.daemon.gate import warm as gate_warm
from spacesd.model import Identity, WriteKey, write_key_of
from spacesd.store import Changes, Store

log = logging.getLogger("spacesd.backend")

ChangeListener = Callable[[Changes], None]
StateListener = Callable[[str], None]
JsonArgs = list[Any]
_T = TypeVar("_T")


def started(value: _T | None) -> _T:
    """`value`, set by `start()`; before that a RuntimeError ("backend not started")."""
    if value is None:
        raise RuntimeError("backend not started")
    return value


class BackendError(Exception):
    """Base of the errors `Backend.call` raises; `code` is the protocol's error code."""

    code = "internal"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ReducerFailed(BackendError):
    """The reducer refused: nothing changed. `message` is the reducer's own text."""

    code = "reducer_error"

    def __init__(self, reducer: str, message: str) -> None:
        super().__init__(message)
        self.reducer = reducer


class BadArguments(BackendError):
    """The arguments do not fit the reducer's signature (unknown reducer, wrong types)."""

    code = "bad_args"


class BackendUnavailable(BackendError):
    """The backend cannot take this request now (e.g. SpacetimeDB unreachable)."""

    code = "unavailable"


class Backend(abc.ABC):
    """What the daemon needs from a backend. See the module docstring."""

    #: "embedded" or "spacetimedb"
    name: str = "?"

    def __init__(self) -> None:
        gate_warm()  # the redaction gate's first use costs ~0.2 s: not on a hook's write
        self._listeners: list[ChangeListener] = []
        self._state_listener: StateListener | None = None
        self.state_text: str | None = None
        self._identity: Identity | None = None  # set by start()
        self._store: Store | None = None  # set by start()

    # -- identity and reads ------------------------------------------------------------------

    @property
    def identity(self) -> Identity:
        """The daemon's own identity (valid after start)."""
        return started(self._identity)

    @property
    def store(self) -> Store:
        """The read side: committed rows (embedded) or the subscribed-row cache."""
        return started(self._store)

    @property
    def username(self) -> str | None:
        profile = self.store.profile(self.identity)
        return profile.username if profile is not None else None

    @property
    @abc.abstractmethod
    def database(self) -> str:
        """Where the data lives, for people: a file path or `host/database`."""

    @property
    def available(self) -> bool:
        """False while writes would raise BackendUnavailable."""
        return True

    @property
    def cache_ready(self) -> bool:
        """False while `store` cannot answer reads yet: a remote backend whose first
        subscription has not been applied (nor left a cache from an earlier run). The daemon
        answers reads `unavailable` then, rather than `not_found` or an empty list."""
        return True

    # -- lifecycle ---------------------------------------------------------------------------

    @abc.abstractmethod
    async def start(self) -> None:
        """Open or connect; call client_connected for `identity`."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Finish pending writes, call client_disconnected, close. Idempotent."""

    # -- writes ------------------------------------------------------------------------------

    async def call(self, reducer: str, args: JsonArgs, *, caller: Identity | None = None
                   ) -> Changes:
        """Call `reducer` as `identity` (or as `caller`, a participant opened with
        `open_participant`) with positional JSON arguments (as in protocol.md's `call` op:
        Identity as hex, enums by variant name, Option as value or null). Its text
        arguments pass the redaction gate first (spacesd/daemon/gate.py): this is the one way
        out of the machine, for the daemon and for every participant.

        Returns the committed changes (a participant's call on a remote backend: what its
        own subscription saw, possibly nothing; the daemon's subscription brings the rows).
        Raises ReducerFailed, BadArguments or BackendUnavailable.
        """
        return await self._call(reducer, scrub_args(reducer, args), caller=caller)

    # -- participants (one per agent session; issue 12) --------------------------------------

    async def mint_participant(self) -> tuple[Identity, str | None]:
        """A new identity for an agent session, and the token that proves it (None where the
        backend needs none: the embedded engine trusts the daemon)."""
        raise BadArguments(f"the {self.name} backend has no participants")

    async def open_participant(self, identity: Identity, token: str | None) -> None:
        """Start acting as `identity` (client_connected for it): `call(..., caller=identity)`
        works from then on. Opening an open participant does nothing."""
        raise BadArguments(f"the {self.name} backend has no participants")

    async def close_participant(self, identity: Identity) -> None:
        """Stop acting as `identity` (client_disconnected for it). Idempotent."""
        return None

    async def find_write(self, key: str) -> WriteKey | None:
        """The `write_key` row of `key` used by this daemon's identity, or None: where a
        repeated keyed write (a success that wrote nothing) finds the row its first call made.
        Reads the store; a remote backend asks its database."""
        return self.store.write_key(write_key_of(self.identity, key))

    @property
    def owner_identity(self) -> Identity | None:
        """The local human owner `call_as_owner` acts as, where the backend has one."""
        return None

    @property
    def person_identity(self) -> Identity | None:
        """Who `call_as_owner` acts as, once known (a backend may learn it at the first owner
        call: SpacetimeDB mints the person's identity then)."""
        return self.owner_identity

    async def call_as_owner(self, reducer: str, args: JsonArgs) -> Changes:
        """Call as the local human owner of the database, where the backend has one (the
        embedded engine: the `spacesd call --as-owner` of a one-machine setup), through the
        same gate. Others raise BadArguments."""
        return await self._call_as_owner(reducer, scrub_args(reducer, args))

    @abc.abstractmethod
    async def _call(self, reducer: str, args: JsonArgs, *, caller: Identity | None = None
                    ) -> Changes:
        """The backend's own write: `call` with arguments that passed the gate."""

    async def _call_as_owner(self, reducer: str, args: JsonArgs) -> Changes:
        raise BadArguments(f"the {self.name} backend has no local owner identity")

    # -- change feed -------------------------------------------------------------------------

    def add_listener(self, callback: ChangeListener) -> Callable[[], None]:
        """Call `callback(changes)` for each committed transaction; returns an unsubscriber."""
        self._listeners.append(callback)

        def remove() -> None:
            if callback in self._listeners:
                self._listeners.remove(callback)

        return remove

    def _publish(self, changes: Changes) -> None:
        """Implementations call this on the event loop's thread after each commit."""
        for callback in list(self._listeners):
            try:
                callback(changes)
            except Exception:
                log.exception("change listener failed")

    # -- connection state --------------------------------------------------------------------

    def on_state(self, callback: StateListener | None) -> None:
        """Call `callback(text)` on every change of the connection state (one listener)."""
        self._state_listener = callback

    def _set_state(self, text: str) -> None:
        """Implementations call this on the event loop's thread when the state changes."""
        if text == self.state_text:
            return
        self.state_text = text
        if self._state_listener is not None:
            try:
                self._state_listener(text)
            except Exception:
                log.exception("state listener failed")

    # -- status ------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Backend-specific facts; the daemon merges them into the `status` op's result."""
        return {"backend": self.name, "database": self.database, "connection": "open"}
