"""The task, lease and vote ops of docs/protocol.md ("Tasks, leases and votes"), on the op
registry. They act as the daemon's identity; the rules themselves are the reducers'
(docs/tasks.md): an op only shapes arguments and answers."""

from __future__ import annotations

import contextlib
import json
import os
from typing import TYPE_CHECKING, Any

from spacesd import idem, model, projects
from spacesd.daemon import tasks_view, views
from spacesd.daemon.backend import BackendError
from spacesd.daemon.errors import OpError
from spacesd.daemon.ops_live import participant, session_arg
from spacesd.daemon.registry import Arg, Request, channel_arg, int_arg, op, str_arg
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


async def write(daemon: Daemon, reducer: str, args: list[Any]) -> Changes:
    try:
        return await daemon.backend.call(reducer, args)
    except BackendError as e:
        raise OpError(e.code, e.message) from None


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


def created_task(daemon: Daemon, changes: Changes, title: str) -> Task:
    for row in changes.inserted("task"):
        if row.creator == daemon.backend.identity and row.title == title:
            return row  # type: ignore[no-any-return]
    raise OpError("internal", "the task was committed but not found in the changes")


async def post_event(daemon: Daemon, channel_id: int, event: dict[str, Any],
                     reply_to: int | None = None) -> int | None:
    """Post an AgentEvent as a keyed write (docs/idempotency.md: a retry makes no second
    message); its id (None when the cache did not report it)."""
    changes = await write(daemon, "send_message_keyed", [
        idem.new_key(str(event["kind"])), channel_id, json.dumps(event, ensure_ascii=False),
        None, reply_to, MessageType.AgentEvent.name])
    for msg in changes.inserted("message"):
        if msg.sender == daemon.backend.identity:
            return int(msg.id)
    return None


@op("task_create", channel_arg(), str_arg("title", required=True), str_arg("body", ""),
    Arg("subtasks", (list,), "a list of titles", []), int_arg("parent"),
    Arg("announce", (bool,), "true or false", True))
async def cmd_task_create(daemon: Daemon, req: Request) -> Any:
    subtasks = req.args["subtasks"]
    if len(subtasks) > MAX_SUBTASKS or not all(isinstance(s, str) for s in subtasks):
        raise OpError("bad_args", f"argument subtasks must list at most {MAX_SUBTASKS} titles")
    info = daemon.resolve_channel(req.args["channel"])
    title, parent = req.args["title"], req.args["parent"]
    announced = None
    if req.args["announce"]:
        # first, so that every task records it and results are posted as replies to it
        announced = await post_event(daemon, info.channel.id, {
            "kind": "task_created", "title": title, "body": req.args["body"],
            "subtasks": subtasks})
    changes = await write(daemon, "create_task",
                          [info.channel.id, title, req.args["body"], parent, announced])
    top = created_task(daemon, changes, title)
    children = []
    for sub in subtasks:
        sub_changes = await write(daemon, "create_task",
                                  [info.channel.id, sub, "", top.id, announced])
        children.append(created_task(daemon, sub_changes, sub))
    return {"task": answer(daemon, top.id), "subtasks": [answer(daemon, c.id) for c in children]}


@op("task_list", channel_arg(required=False), str_arg("state"), int_arg("parent"),
    int_arg("limit", LIST_DEFAULT, lo=1, hi=LIST_MAX))
def cmd_task_list(daemon: Daemon, req: Request) -> Any:
    state = req.args["state"]
    if state is not None and state not in STATES:
        raise OpError("bad_args", f"argument state must be one of {', '.join(STATES)}")
    channel_id = None
    if req.args["channel"] is not None:
        channel_id = daemon.resolve_channel(req.args["channel"]).channel.id
    daemon.require_cache()
    return tasks_view.list_tasks(daemon.backend.store, now_of(daemon), channel_id=channel_id,
                                 state=state, parent_id=req.args["parent"],
                                 limit=req.args["limit"], channels=readable_channels(daemon))


def task_arg() -> Arg:
    return int_arg("task", required=True)


@op("task_show", task_arg())
def cmd_task_show(daemon: Daemon, req: Request) -> Any:
    return answer(daemon, req.args["task"])


@op("task_claim", task_arg(), ttl_arg())
async def cmd_task_claim(daemon: Daemon, req: Request) -> Any:
    task_row(daemon, req.args["task"])
    await write(daemon, "claim_task", [req.args["task"], req.args["ttl"]])
    return answer(daemon, req.args["task"])


@op("task_renew", task_arg(), ttl_arg())
async def cmd_task_renew(daemon: Daemon, req: Request) -> Any:
    task_row(daemon, req.args["task"])
    await write(daemon, "renew_task", [req.args["task"], req.args["ttl"]])
    return answer(daemon, req.args["task"])


async def _finish(daemon: Daemon, req: Request, reducer: str, kind: str) -> Any:
    task = task_row(daemon, req.args["task"])
    await write(daemon, reducer, [task.id, req.args["result"]])
    event = {"kind": kind, "task": task.id, "title": task.title, "result": req.args["result"]}
    with contextlib.suppress(OpError):  # finished either way; the announcement is a courtesy
        await post_event(daemon, task.channel_id, event, reply_to=task.message_id)
    return answer(daemon, task.id)


@op("task_complete", task_arg(), str_arg("result", required=True))
async def cmd_task_complete(daemon: Daemon, req: Request) -> Any:
    return await _finish(daemon, req, "complete_task", "task_done")


@op("task_fail", task_arg(), str_arg("result", required=True))
async def cmd_task_fail(daemon: Daemon, req: Request) -> Any:
    return await _finish(daemon, req, "fail_task", "task_failed")


@op("task_release", task_arg())
async def cmd_task_release(daemon: Daemon, req: Request) -> Any:
    task_row(daemon, req.args["task"])
    await write(daemon, "release_task", [req.args["task"]])
    return answer(daemon, req.args["task"])


@op("task_cancel", task_arg())
async def cmd_task_cancel(daemon: Daemon, req: Request) -> Any:
    task_row(daemon, req.args["task"])
    await write(daemon, "cancel_task", [req.args["task"]])
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
    ttl_arg(), str_arg("reason"))
async def cmd_lease_acquire(daemon: Daemon, req: Request) -> Any:
    project = project_arg(req, required=True)
    assert project is not None
    path = req.args["path"]
    if os.path.isabs(path) and req.args["project"] is None:
        rel = projects.relative_path(project, path)
        if rel is None:
            raise OpError("bad_args", f"argument path is outside the project: {path}")
        path = rel
    changes = await write(daemon, "acquire_lease",
                          [project.key, path, req.args["ttl"], req.args["reason"]])
    for lease in changes.inserted("path_lease"):
        if lease.holder == daemon.backend.identity:
            return tasks_view.lease_object(daemon.backend.store, lease)
    raise OpError("internal", "the lease was committed but not found in the changes")


@op("lease_release", int_arg("lease", required=True))
async def cmd_lease_release(daemon: Daemon, req: Request) -> Any:
    if daemon.backend.store.get("path_lease", req.args["lease"]) is None:
        daemon.require_cache()
        raise OpError("not_found", f"no such lease: {req.args['lease']}")
    await write(daemon, "release_lease", [req.args["lease"]])
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


@op("vote_cast", target_arg(), int_arg("id", required=True), str_arg("choice", required=True))
async def cmd_vote_cast(daemon: Daemon, req: Request) -> Any:
    target = vote_target(req)
    await write(daemon, "cast_vote", [target.name, req.args["id"], req.args["choice"]])
    return tasks_view.tally(daemon.backend.store, target, req.args["id"])


@op("vote_tally", target_arg(), int_arg("id", required=True))
def cmd_vote_tally(daemon: Daemon, req: Request) -> Any:
    daemon.require_cache()
    return tasks_view.tally(daemon.backend.store, vote_target(req), req.args["id"])
