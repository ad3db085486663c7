"""The Engine: runs reducers as transactions over a Store."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from spacesd import model
from spacesd.engine import errors, reducers
from spacesd.engine.args import check_args
from spacesd.engine.context import (
    META_HUB_ID,
    META_INITIALIZED,
    REDUCER_FUNCTIONS,
    ReducerContext,
)
from spacesd.engine.errors import ReducerError
from spacesd.engine.reducers import tasks
from spacesd.model import Identity
from spacesd.store import Changes, Store

log = logging.getLogger(__name__)

assert reducers.__all__  # importing the package registered every reducer
_missing = {r.name for r in model.REDUCERS} - set(REDUCER_FUNCTIONS)
if _missing:
    raise AssertionError(f"reducers without an implementation: {sorted(_missing)}")


class Engine:
    """The reducers of model.REDUCERS over a Store, each call one transaction.

    `owner` is the database owner: init makes it the owner of the Spaces Hub. Calls are
    serialized by a lock, so one Engine may be shared by threads.
    """

    def __init__(self, store: Store, owner: Identity) -> None:
        self.store = store
        self.owner = owner
        self._lock = threading.RLock()
        self._hub_id: int | None = None
        self._next_expiry: int | None = None
        self._expiry_known = False
        self._load_state()

    def _load_state(self) -> None:
        hub = self.store.meta_get(META_HUB_ID)
        self._hub_id = int(hub) if hub is not None else None

    @property
    def hub_id(self) -> int | None:
        """The id of the Spaces Hub, once init has run."""
        return self._hub_id

    @property
    def initialized(self) -> bool:
        return self.store.meta_get(META_INITIALIZED) is not None

    def ensure_initialized(self) -> None:
        """Run init as the owner if this database has never been initialized."""
        with self._lock:
            if not self.initialized:
                self.call(self.owner, "init", [], host=True)

    def _prepare(self, caller: Identity, reducer: str, args: Sequence[Any],
                 timestamp: int | None, host: bool) -> tuple[Any, ReducerContext, list[Any]]:
        if not isinstance(caller, Identity):
            raise TypeError(f"caller must be an Identity, not {type(caller).__name__}")
        if reducer in errors.LIFECYCLE and not host:
            raise ReducerError(errors.lifecycle_reducer(reducer))
        checked = check_args(reducer, args)
        fn = REDUCER_FUNCTIONS[reducer]
        ctx = ReducerContext(self.store, caller,
                             model.now_micros() if timestamp is None else timestamp,
                             self.owner, self._hub_id)
        return fn, ctx, checked

    def _run(self, caller: Identity, reducer: str, args: Sequence[Any],
             timestamp: int | None, host: bool = False) -> Changes:
        """One call inside the current transaction, in its own savepoint."""
        fn, ctx, checked = self._prepare(caller, reducer, args, timestamp, host)
        try:
            with self.store.savepoint(), self.store.recording() as changes:
                if reducer != "init" and self._expiry_due(ctx.timestamp):
                    # expiry: what SpacetimeDB's scheduled reducer does, due at this timestamp
                    tasks.sweep(ctx)
                fn(ctx, *checked)
        except BaseException:
            self._expiry_known = False
            raise
        finally:
            if reducer == "init":
                self._load_state()
        done = changes()
        if "task" in done.tables or "path_lease" in done.tables:
            self._expiry_known = False
        return done

    def _expiry_due(self, now: int) -> bool:
        """Whether a claim or lease may have ended by `now` (the earliest end is cached until a
        transaction touches tasks or leases), so most calls skip the sweep's queries."""
        if not self._expiry_known:
            self._next_expiry = self.store.next_expiry()
            self._expiry_known = True
        return self._next_expiry is not None and self._next_expiry <= now

    def call(self, caller: Identity, reducer: str, args: Sequence[Any] = (), *,
             timestamp: int | None = None, host: bool = False) -> Changes:
        """Run one reducer as `caller` in one transaction: it commits whole, or raises
        ReducerError (unknown reducer, wrong arguments, or a refusal) and changes nothing.

        A client's call (`host` False) of a lifecycle reducer (init, client_connected,
        client_disconnected) is refused, as a SpacetimeDB host refuses it: only the host runs
        them, around a connection (`host=True`: the daemon's backend, the test server)."""
        with self._lock:
            try:
                with self.store.transaction():
                    return self._run(caller, reducer, args, timestamp, host)
            finally:
                if reducer == "init":
                    self._load_state()

    def call_many(self, calls: Sequence[tuple[Identity, str, Sequence[Any]]]
                  ) -> list[Changes | ReducerError]:
        """Group commit: each call in its own savepoint (a refused call is rolled back alone),
        one COMMIT for the whole batch. Results are in call order. A call that fails with an
        unexpected exception (a bug) is rolled back alone and reported as a ReducerError.
        These are clients' calls: a lifecycle reducer among them is refused."""
        results: list[Changes | ReducerError] = []
        if not calls:
            return results
        with self._lock:
            try:
                with self.store.transaction():
                    for caller, reducer, args in calls:
                        try:
                            results.append(self._run(caller, reducer, args, None))
                        except ReducerError as refusal:
                            results.append(refusal)
                        except Exception as exc:
                            log.exception("reducer %s failed", reducer)
                            results.append(ReducerError(f"internal error: {exc}"))
            finally:
                self._load_state()
        return results


__all__ = ["Changes", "Engine", "ReducerError", "errors"]
