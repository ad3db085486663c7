"""The embedded backend: the Spaces engine over a SQLite file, inside the daemon.

Two connections to one WAL database: the writer (the engine's, used only on the writer thread)
and the reader (the daemon's `store`, used on the event loop's thread). Every write goes
through one writer task that takes all calls waiting at that moment and commits them with
`Engine.call_many` (one transaction each, one fsync for the batch): a call is acknowledged
only once its COMMIT is durable (WAL, synchronous=FULL), and concurrent writers share fsyncs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from spacesd import paths
from spacesd.daemon.backend import (
    Backend,
    BackendUnavailable,
    BadArguments,
    JsonArgs,
    ReducerFailed,
    started,
)
from spacesd.daemon.identity import (
    default_agent_name,
    default_owner_name,
    load_identities,
    name_candidates,
)
from spacesd.engine import Engine, coerce_args
from spacesd.engine.errors import ReducerError
from spacesd.model import Identity, UserProfile
from spacesd.store import Changes, Store

log = logging.getLogger("spacesd.embedded")

DB_FILE = "spaces.sqlite"
MAX_BATCH = 512

_Pending = tuple[Identity, str, tuple[Any, ...], "asyncio.Future[Changes]"]


class EmbeddedBackend(Backend):
    name = "embedded"

    def __init__(self, *, data_dir: Path | None = None, db_path: Path | None = None,
                 agent_name: str | None = None, owner_name: str | None = None) -> None:
        super().__init__()
        self.data_dir = data_dir if data_dir is not None else paths.data_dir()
        self.db_path = db_path if db_path is not None else self.data_dir / DB_FILE
        self.agent_name = agent_name
        self.owner_name = owner_name
        self._owner: Identity | None = None
        self._opened: set[Identity] = set()
        self._writer_store: Store | None = None
        self._engine: Engine | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._queue: asyncio.Queue[_Pending | None] | None = None
        self._writer_task: asyncio.Task[None] | None = None
        self._stopping = False
        self.commits = 0
        self.batches = 0
        self.refusals = 0

    # -- Backend -----------------------------------------------------------------------------

    @property
    def owner(self) -> Identity:
        return started(self._owner)

    @property
    def database(self) -> str:
        return str(self.db_path)

    @property
    def available(self) -> bool:
        return self._writer_task is not None and not self._stopping

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spaces-writer")
        await loop.run_in_executor(self._executor, self._open)
        self._store = Store(self.db_path)
        self._queue = asyncio.Queue()
        self._stopping = False
        self._writer_task = asyncio.create_task(self._writer(), name="embedded-writer")

    async def stop(self) -> None:
        if self._writer_task is None:
            return
        self._stopping = True
        assert self._queue is not None and self._executor is not None
        await self._queue.put(None)
        with contextlib.suppress(Exception):
            await self._writer_task
        self._writer_task = None
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self._close)
        finally:
            self._executor.shutdown(wait=True)
            self._executor = None
            if self._store is not None:
                self._store.close()
                self._store = None

    async def _call(self, reducer: str, args: JsonArgs, *, caller: Identity | None = None
                    ) -> Changes:
        if caller is not None and caller != self.identity and caller not in self._opened:
            raise BadArguments(f"participant {caller.short()} is not open")
        return await self._enqueue(caller or self.identity, reducer, args)

    async def mint_participant(self) -> tuple[Identity, str | None]:
        return Identity(secrets.randbits(256)), None

    async def open_participant(self, identity: Identity, token: str | None) -> None:
        if identity in self._opened:
            return
        self._opened.add(identity)
        try:
            await self._host_call(identity, "client_connected")
        except BaseException:
            self._opened.discard(identity)
            raise

    async def _host_call(self, identity: Identity, reducer: str) -> None:
        """A lifecycle reducer for a participant, as the host runs it around a connection
        (clients may not call them), on the writer thread; its changes are published."""
        if self._executor is None or self._engine is None or self._stopping:
            raise BackendUnavailable("the embedded engine is not running")
        engine = self._engine
        changes = await asyncio.get_running_loop().run_in_executor(
            self._executor, lambda: engine.call(identity, reducer, (), host=True))
        self._publish(changes)

    async def close_participant(self, identity: Identity) -> None:
        if identity not in self._opened:
            return
        self._opened.discard(identity)
        with contextlib.suppress(BackendUnavailable):
            await self._host_call(identity, "client_disconnected")

    async def _call_as_owner(self, reducer: str, args: JsonArgs) -> Changes:
        """As the local human who owns the embedded database (and the hub)."""
        return await self._enqueue(self.owner, reducer, args)

    async def _enqueue(self, caller: Identity, reducer: str, args: JsonArgs) -> Changes:
        if self._queue is None or self._stopping:
            raise BackendUnavailable("the embedded engine is not running")
        try:
            coerced = tuple(coerce_args(reducer, list(args)))
        except ReducerError as e:
            raise BadArguments(e.message) from None
        fut: asyncio.Future[Changes] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((caller, reducer, coerced, fut))
        return await fut

    def status(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "database": self.database,
            "connection": "local" if self.available else "stopped",
            "owner": self._owner.hex if self._owner is not None else None,
            "commits": self.commits,
            "batches": self.batches,
            "refusals": self.refusals,
            "pending_writes": self._queue.qsize() if self._queue is not None else 0,
        }

    # -- writer ------------------------------------------------------------------------------

    async def _writer(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        queue = self._queue
        done = False
        while not done:
            item = await queue.get()
            if item is None:
                break
            batch = [item]
            while len(batch) < MAX_BATCH and not queue.empty():
                nxt = queue.get_nowait()
                if nxt is None:
                    done = True
                    break
                batch.append(nxt)
            calls = [(caller, reducer, args) for caller, reducer, args, _ in batch]
            try:
                results = await loop.run_in_executor(self._executor, self._commit, calls)
            except Exception as e:
                log.exception("commit of %d calls failed", len(calls))
                for *_, fut in batch:
                    if not fut.done():
                        fut.set_exception(BackendUnavailable(f"the database failed: {e}"))
                continue
            self.batches += 1
            for (_, reducer, _, fut), res in zip(batch, results, strict=True):
                if isinstance(res, ReducerError):
                    self.refusals += 1
                    if not fut.done():
                        fut.set_exception(ReducerFailed(reducer, res.message))
                    continue
                self.commits += 1
                self._publish(res)
                if not fut.done():
                    fut.set_result(res)

    def _commit(self, calls: list[tuple[Identity, str, tuple[Any, ...]]]
                ) -> list[Changes | ReducerError]:
        assert self._engine is not None
        return list(self._engine.call_many(calls))

    # -- writer-thread work ------------------------------------------------------------------

    def _open(self) -> None:
        ids = load_identities(self.data_dir)
        self._identity, self._owner = ids["agent"], ids["owner"]
        self.db_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        store = Store(self.db_path)
        engine = Engine(store, self._owner)
        engine.ensure_initialized()
        self._writer_store, self._engine = store, engine
        owner, agent = self._owner, self._identity
        if store.profile(owner) is None:
            engine.call(owner, "client_connected", (), host=True)
            self._register(owner, self.owner_name or default_owner_name(), is_agent=False)
            engine.call(owner, "client_disconnected", (), host=True)
        engine.call(agent, "client_connected", (), host=True)
        profile = store.profile(agent)
        wanted = self.agent_name or default_agent_name()
        if profile is None or (profile.username != wanted and (
                self.agent_name is not None or profile.username == f"user_{agent.short()}")):
            self._register(agent, wanted, is_agent=True)
        elif not profile.is_agent:
            self._register(agent, profile.username, is_agent=True)

    def _register(self, who: Identity, name: str, *, is_agent: bool) -> None:
        assert self._engine is not None and self._writer_store is not None
        last: ReducerError | None = None
        for candidate in name_candidates(name):
            profile: UserProfile | None = self._writer_store.profile(who)
            if profile is not None and profile.username == candidate and \
                    profile.is_agent == is_agent:
                return
            try:
                self._engine.call(who, "register_user", (candidate, None, is_agent))
                return
            except ReducerError as e:
                last = e
                if "taken" not in e.message:
                    break
        log.warning("cannot name %s %r: %s", who.short(), name, last)

    def _close(self) -> None:
        if self._engine is not None and self._identity is not None:
            try:
                self._engine.call(self._identity, "client_disconnected", (), host=True)
            except Exception:
                log.exception("client_disconnected failed")
        if self._writer_store is not None:
            self._writer_store.close()
        self._writer_store = None
        self._engine = None

    def __repr__(self) -> str:
        return f"EmbeddedBackend({self.db_path})"
