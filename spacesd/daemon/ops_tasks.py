"""The task, lease and vote ops of docs/protocol.md ("Tasks, leases and votes"), on the op
registry. The writes act as the calling session's participant (`session`, as the live ops do:
each agent session its own identity, on SpacetimeDB its own connection and token), else as
the daemon's identity; the rules themselves are the reducers' (docs/tasks.md): an op only
shapes arguments and answers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import weakref
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

from spacesd import idem, model, projects
from spacesd.daemon import tasks_view, views
from spacesd.daemon.backend import Backend
from spacesd.daemon.errors import OpError
from spacesd.daemon.ops_live import call, participant, session_arg
from spacesd.daemon.participants import Participant
from spacesd.daemon.registry import Arg, Request, channel_arg, int_arg, op, str_arg
from spacesd.engine.errors import NOT_TASK_HOLDER
from spacesd.model import Identity, MessageType, Task, TaskState, VoteTarget
from spacesd.store import Changes

if TYPE_CHECKING:
    from spacesd.daemon.server import Daemon

DEFAULT_TTL = 1800
MAX_SUBTASKS = 20
LIST_DEFAULT = 200
LIST_MAX = 5000
STATES = ("active", *(s.name for s in TaskState))


def ttl_arg() -> Arg:
    return int_arg("ttl", DEFAULT_TTL, lo=1, hi=86400)


def now_of(daemon: Daemon) -> int | None:
    """The embedded database's clock (expiry at every read); None on SpacetimeDB, whose
    server releases what has expired."""
    return model.now_micros() if daemon.backend.name == "embedded" else None


SEEN_TIMEOUT_S = 10.0
Seen = Callable[[Changes], bool]


def me(daemon: Daemon, p: Participant | None) -> Identity:
    """Who a write acts as: the session's participant, else the daemon."""
    return p.identity if p is not None else daemon.backend.identity


async def write(daemon: Daemon, reducer: str, args: list[Any], p: Participant | None = None,
                seen: Seen | None = None) -> Changes:
    """One write as `p` (or the daemon). A participant's own connection to SpacetimeDB
    subscribes to nothing, so its call's changes are empty: the changes `seen` accepts are
    then awaited on the daemon's subscription (at most SEEN_TIMEOUT_S), so that the answer,
    read from the daemon's cache, shows the write."""
    if seen is None or p is None or daemon.backend.name == "embedded":
        return await call(daemon, reducer, args, p)
    arrived: list[Changes] = []
    event = asyncio.Event()

    def on_changes(changes: Changes) -> None:
        if seen(changes):
            arrived.append(changes)
            event.set()

    unsubscribe = daemon.backend.add_listener(on_changes)
    try:
        changes = await call(daemon, reducer, args, p)
        if seen(changes):
            return changes
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(event.wait(), SEEN_TIMEOUT_S)
        return arrived[0] if arrived else changes
    finally:
        unsubscribe()


def task_changed(task: Task) -> Seen:
    """Changes that rewrote `task` (any write of a task moves its updated_at)."""
    return lambda ch: any(r.id == task.id and r != task for r in ch.inserted("task"))


def readable_channels(daemon: Daemon) -> set[int]:
    """The channels of the servers the daemon's identity belongs to (docs/roles.md: reads
    follow membership)."""
    store = daemon.backend.store
    return {c.id for s in views.servers_of(store, daemon.backend.identity)
            for c in views.channels_of(store, s.id)}


def task_row(daemon: Daemon, task_id: int) -> Task:
    """The task, `not_found` as for an unknown one when it is in a server the daemon's identity
    is not a member of."""
    store = daemon.backend.store
    found: Task | None = store.get("task", task_id)
    if found is not None:
        channel = store.channel(found.channel_id)
        if channel is None or not views.is_member(store, daemon.backend.identity,
                                                  channel.server_id):
            found = None
    if found is None:
        daemon.require_cache()
        raise OpError("not_found", f"no such task: {task_id}")
    return found


def answer(daemon: Daemon, task_id: int) -> dict[str, Any]:
    return tasks_view.task_object(daemon.backend.store, task_row(daemon, task_id),
                                  now_of(daemon))


def _created(changes: Changes, creator: Identity, title: str, parent: int | None
             ) -> Task | None:
    for row in changes.inserted("task"):
        if row.creator == creator and row.title == title and row.parent_id == parent:
            return row  # type: ignore[no-any-return]
    return None


async def create(daemon: Daemon, p: Participant | None, args: list[Any]) -> Task:
    """create_task as `p`: the new row (from the call's changes or the daemon's feed)."""
    creator, title, parent = me(daemon, p), args[1], args[3]
    changes = await write(daemon, "create_task", args, p,
                          lambda ch: _created(ch, creator, title, parent) is not None)
    found = _created(changes, creator, title, parent)
    if found is None:
        raise OpError("internal", "the task was committed but not found in the changes")
    return found


async def post_event(daemon: Daemon, channel_id: int, event: dict[str, Any],
                     reply_to: int | None = None, p: Participant | None = None) -> int | None:
    """Post an AgentEvent as a keyed write (docs/idempotency.md: a retry makes no second
    message) as `p`; its id (None when the cache did not report it)."""
    sender, content = me(daemon, p), json.dumps(event, ensure_ascii=False)

    def mine(ch: Changes) -> bool:
        return any(m.sender == sender and m.content == content for m in ch.inserted("message"))

    changes = await write(daemon, "send_message_keyed", [
        idem.new_key(str(event["kind"])), channel_id, content, None, reply_to,
        MessageType.AgentEvent.name], p, mine)
    for msg in changes.inserted("message"):
        if msg.sender == sender and msg.content == content:
            return int(msg.id)
    return None


@op("task_create", channel_arg(), str_arg("title", required=True), str_arg("body", ""),
    Arg("subtasks", (list,), "a list of titles", []), int_arg("parent"),
    Arg("announce", (bool,), "true or false", True), session_arg(required=False))
async def cmd_task_create(daemon: Daemon, req: Request) -> Any:
    subtasks = req.args["subtasks"]
    if len(subtasks) > MAX_SUBTASKS or not all(isinstance(s, str) for s in subtasks):
        raise OpError("bad_args", f"argument subtasks must list at most {MAX_SUBTASKS} titles")
    p = participant(daemon, req.args["session"])
    info = daemon.resolve_channel(req.args["channel"])
    title, parent = req.args["title"], req.args["parent"]
    announced = None
    if req.args["announce"]:
        # first, so that every task records it and results are posted as replies to it
        announced = await post_event(daemon, info.channel.id, {
            "kind": "task_created", "title": title, "body": req.args["body"],
            "subtasks": subtasks}, p=p)
    top = await create(daemon, p, [info.channel.id, title, req.args["body"], parent, announced])
    children = [await create(daemon, p, [info.channel.id, sub, "", top.id, announced])
                for sub in subtasks]
    return {"task": answer(daemon, top.id), "subtasks": [answer(daemon, c.id) for c in children]}


class ListCache:
    """The last listings of a backend, kept until its next commit (any table: names and
    memberships show in a listing too) and, on the embedded backend, until the earliest end of
    a claim or lease (the expiry rule at every read changes a listing then without a commit).
    An agent polling `task list` between writes is answered without rebuilding it."""

    SIZE = 16

    def __init__(self, backend: Backend) -> None:
        self.entries: dict[Hashable, tuple[int | None, Any]] = {}
        backend.add_listener(self._committed)

    def _committed(self, changes: Changes) -> None:
        self.entries.clear()

    def get(self, key: Hashable, now: int | None) -> Any:
        found = self.entries.get(key)
        if found is None or (now is not None and found[0] is not None and now >= found[0]):
            return None
        return found[1]

    def put(self, key: Hashable, until: int | None, result: Any) -> None:
        if len(self.entries) >= self.SIZE:
            self.entries.clear()
        self.entries[key] = (until, result)


_LIST_CACHES: weakref.WeakKeyDictionary[Backend, ListCache] = weakref.WeakKeyDictionary()


def list_cache(backend: Backend) -> ListCache:
    found = _LIST_CACHES.get(backend)
    if found is None:
        found = _LIST_CACHES[backend] = ListCache(backend)
    return found


@op("task_list", channel_arg(required=False), str_arg("state"), int_arg("parent"),
    int_arg("limit", LIST_DEFAULT, lo=1, hi=LIST_MAX),
    Arg("compact", (bool,), "true or false", False))
def cmd_task_list(daemon: Daemon, req: Request) -> Any:
    state = req.args["state"]
    if state is not None and state not in STATES:
        raise OpError("bad_args", f"argument state must be one of {', '.join(STATES)}")
    channel_id = None
    if req.args["channel"] is not None:
        channel_id = daemon.resolve_channel(req.args["channel"]).channel.id
    daemon.require_cache()
    store, now, cache = daemon.backend.store, now_of(daemon), list_cache(daemon.backend)
    key = (req.args["compact"], channel_id, state, req.args["parent"], req.args["limit"])
    found = cache.get(key, now)
    if found is not None:
        return found
    lister = tasks_view.list_compact if req.args["compact"] else tasks_view.list_tasks
    result = lister(store, now, channel_id=channel_id, state=state,
                    parent_id=req.args["parent"], limit=req.args["limit"],
                    channels=readable_channels(daemon))
    cache.put(key, store.next_expiry() if now is not None else None, result)
    return result


def task_arg() -> Arg:
    return int_arg("task", required=True)


@op("task_show", task_arg())
def cmd_task_show(daemon: Daemon, req: Request) -> Any:
    return answer(daemon, req.args["task"])


async def task_write(daemon: Daemon, req: Request, reducer: str, *extra: Any) -> Task:
    """`reducer(task, *extra)` as the calling session (or the daemon); the task as it was."""
    p = participant(daemon, req.args["session"])
    task = task_row(daemon, req.args["task"])
    await write(daemon, reducer, [task.id, *extra], p, task_changed(task))
    return task


@op("task_claim", task_arg(), ttl_arg(), session_arg(required=False))
async def cmd_task_claim(daemon: Daemon, req: Request) -> Any:
    await task_write(daemon, req, "claim_task", req.args["ttl"])
    return answer(daemon, req.args["task"])


@op("task_renew", task_arg(), ttl_arg(), session_arg(required=False))
async def cmd_task_renew(daemon: Daemon, req: Request) -> Any:
    await task_write(daemon, req, "renew_task", req.args["ttl"])
    return answer(daemon, req.args["task"])


async def _finish(daemon: Daemon, req: Request, reducer: str, kind: str) -> Any:
    task = await task_write(daemon, req, reducer, req.args["result"])
    p = participant(daemon, req.args["session"])
    event = {"kind": kind, "task": task.id, "title": task.title, "result": req.args["result"]}
    with contextlib.suppress(OpError):  # finished either way; the announcement is a courtesy
        await post_event(daemon, task.channel_id, event, reply_to=task.message_id, p=p)
    return answer(daemon, task.id)


@op("task_complete", task_arg(), str_arg("result", required=True), session_arg(required=False))
async def cmd_task_complete(daemon: Daemon, req: Request) -> Any:
    return await _finish(daemon, req, "complete_task", "task_done")


@op("task_fail", task_arg(), str_arg("result", required=True), session_arg(required=False))
async def cmd_task_fail(daemon: Daemon, req: Request) -> Any:
    return await _finish(daemon, req, "fail_task", "task_failed")


@op("task_progress", task_arg(), str_arg("text", required=True), session_arg(required=False))
async def cmd_task_progress(daemon: Daemon, req: Request) -> Any:
    """The holder's progress note: an AgentEvent reply to the task's announcement (so it
    reaches whoever follows the channel and the creator), changing nothing of the task."""
    text = req.args["text"]
    if not text.strip():
        raise OpError("bad_args", "argument text must not be blank")
    p = participant(daemon, req.args["session"])
    task = task_row(daemon, req.args["task"])
    if task.state != TaskState.Claimed or task.assignee != me(daemon, p):
        raise OpError("reducer_error", NOT_TASK_HOLDER)  # as task_complete says it
    event = {"kind": "task_progress", "task": task.id, "title": task.title, "text": text}
    posted = await post_event(daemon, task.channel_id, event, reply_to=task.message_id, p=p)
    return {"task": task.id, "message_id": posted}


@op("task_release", task_arg(), session_arg(required=False))
async def cmd_task_release(daemon: Daemon, req: Request) -> Any:
    await task_write(daemon, req, "release_task")
    return answer(daemon, req.args["task"])


@op("task_cancel", task_arg(), session_arg(required=False))
async def cmd_task_cancel(daemon: Daemon, req: Request) -> Any:
    await task_write(daemon, req, "cancel_task")
    return answer(daemon, req.args["task"])


# --------------------------------------------------------------------------------------------
# Leases


def project_arg(req: Request, *, required: bool) -> projects.Project | None:
    """The project named by `project`, else the one `cwd` is in."""
    if req.args["project"] is not None:
        return projects.Project(req.args["project"], req.args["cwd"] or "/")
    cwd = req.args["cwd"]
    if cwd is None:
        if required:
            raise OpError("bad_args", "missing argument: project or cwd")
        return None
    if not os.path.isdir(cwd):
        raise OpError("bad_args", f"argument cwd must be a directory: {cwd}")
    return projects.project_of(cwd)


@op("lease_acquire", str_arg("path", required=True), str_arg("project"), str_arg("cwd"),
    ttl_arg(), str_arg("reason"), session_arg(required=False))
async def cmd_lease_acquire(daemon: Daemon, req: Request) -> Any:
    p = participant(daemon, req.args["session"])
    holder = me(daemon, p)
    project = project_arg(req, required=True)
    assert project is not None
    path = req.args["path"]
    if os.path.isabs(path) and req.args["project"] is None:
        rel = projects.relative_path(project, path)
        if rel is None:
            raise OpError("bad_args", f"argument path is outside the project: {path}")
        path = rel

    def mine(ch: Changes) -> bool:
        return any(r.holder == holder and r.project == project.key
                   for r in ch.inserted("path_lease"))

    changes = await write(daemon, "acquire_lease",
                          [project.key, path, req.args["ttl"], req.args["reason"]], p, mine)
    for lease in changes.inserted("path_lease"):
        if lease.holder == holder and lease.project == project.key:
            return tasks_view.lease_object(daemon.backend.store, lease)
    raise OpError("internal", "the lease was committed but not found in the changes")


@op("lease_release", int_arg("lease", required=True), session_arg(required=False))
async def cmd_lease_release(daemon: Daemon, req: Request) -> Any:
    p = participant(daemon, req.args["session"])
    lease_id = req.args["lease"]
    if daemon.backend.store.get("path_lease", lease_id) is None:
        daemon.require_cache()
        raise OpError("not_found", f"no such lease: {lease_id}")
    await write(daemon, "release_lease", [lease_id], p,
                lambda ch: any(r.id == lease_id for r in ch.deleted("path_lease")))
    return {"released": req.args["lease"]}


@op("lease_list", str_arg("project"), str_arg("cwd"))
def cmd_lease_list(daemon: Daemon, req: Request) -> Any:
    project = project_arg(req, required=False)
    daemon.require_cache()
    store = daemon.backend.store
    return [tasks_view.lease_object(store, lease) for lease in
            tasks_view.live_leases(store, now_of(daemon), project.key if project else None)]


@op("lease_check", Arg("paths", (list,), "a list of paths", required=True), str_arg("project"),
    str_arg("cwd"), str_arg("identity"), session_arg(required=False))
def cmd_lease_check(daemon: Daemon, req: Request) -> Any:
    paths = req.args["paths"]
    if not all(isinstance(p, str) and p for p in paths):
        raise OpError("bad_args", "argument paths must list non-empty strings")
    project = project_arg(req, required=True)
    assert project is not None
    asker = daemon.backend.identity
    if req.args["identity"] is not None:
        try:
            asker = Identity.from_hex(req.args["identity"])
        except ValueError as e:
            raise OpError("bad_args", f"argument identity must be 64 hex digits: {e}") from None
    if req.args["session"] is not None:  # the PreToolUse hook: asking as its session
        who = participant(daemon, req.args["session"])
        assert who is not None
        asker = who.identity
    cwd = req.args["cwd"] if req.args["project"] is None else None
    relative = [r for p in paths if (r := projects.relative_path(project, p, cwd)) is not None]
    found = tasks_view.conflicts(daemon.backend.store, now_of(daemon), project.key, relative,
                                 asker)
    return {"project": project.key, "conflicts": found}


# --------------------------------------------------------------------------------------------
# Votes


def target_arg() -> Arg:
    return str_arg("target", required=True)


def vote_target(req: Request) -> VoteTarget:
    target = req.args["target"]
    if target not in ("message", "task"):
        raise OpError("bad_args", "argument target must be message or task")
    return VoteTarget.Message if target == "message" else VoteTarget.Task


@op("vote_cast", target_arg(), int_arg("id", required=True), str_arg("choice", required=True),
    session_arg(required=False))
async def cmd_vote_cast(daemon: Daemon, req: Request) -> Any:
    target = vote_target(req)
    p = participant(daemon, req.args["session"])
    voter, target_id = me(daemon, p), req.args["id"]
    await write(daemon, "cast_vote", [target.name, target_id, req.args["choice"]], p,
                lambda ch: any(v.voter == voter and v.target_id == target_id
                               for v in ch.inserted("vote")))
    return tasks_view.tally(daemon.backend.store, target, req.args["id"])


@op("vote_tally", target_arg(), int_arg("id", required=True))
def cmd_vote_tally(daemon: Daemon, req: Request) -> Any:
    daemon.require_cache()
    return tasks_view.tally(daemon.backend.store, vote_target(req), req.args["id"])
