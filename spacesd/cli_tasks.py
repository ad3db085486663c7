"""`spacesd task ...`, `spacesd lease ...`, `spacesd vote ...`: thin clients of the task,
lease and vote ops (docs/protocol.md). `--json` prints the op's result as one JSON value (a
list: one object per line). Each command sends its op through `ctx.obj["request"]` (the
group's `_request`: one line on stderr and exit 1 when the daemon refuses or is away).

The writes act as the calling agent session (`--session`, else the id its client exports:
CLAUDE_CODE_SESSION_ID, GEMINI_SESSION_ID, CODEX_THREAD_ID), as `spacesd post` does; outside
a session, as the daemon's identity."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import click

from spacesd.cli_live import _session, agent_option, session_option

json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
ttl_option = click.option("--ttl", type=click.IntRange(1, 86400), default=1800,
                          show_default=True, help="Seconds the claim or lease lasts.")


def _send(ctx: click.Context, op: str, **args: Any) -> Any:
    request: Callable[..., Any] = ctx.obj["request"]
    return request(ctx, op, {k: v for k, v in args.items() if v is not None})


def as_session(command: Callable[..., Any]) -> Callable[..., Any]:
    """`--session` and `--agent` on a write; the command gets `session` (the registered
    session id, or None outside an agent session)."""
    def wrapped(ctx: click.Context, /, *args: Any, session: str | None, agent: str | None,
                **kwargs: Any) -> Any:
        return command(ctx, *args, session=_session(ctx, session, agent, required=False),
                       **kwargs)

    wrapped.__doc__, wrapped.__name__ = command.__doc__, command.__name__
    return session_option(agent_option(wrapped))


def _emit(result: Any, as_json: bool, line: Callable[[dict[str, Any]], str]) -> None:
    rows = result if isinstance(result, list) else [result]
    for row in rows:
        click.echo(json.dumps(row, ensure_ascii=False, separators=(",", ":")) if as_json
                   else line(row))


def task_line(t: dict[str, Any]) -> str:
    who = f" {t['assignee_name']}" if t["assignee_name"] else ""
    until = f" until {t['lease_expires']}" if t["state"] == "Claimed" else ""
    parent = f" (of #{t['parent_id']})" if t["parent_id"] else ""
    result = f" => {t['result']}" if t["result"] else ""
    return f"#{t['id']} [{t['state']}{who}{until}] {t['title']}{parent} in #{t['channel']}{result}"


def lease_line(lease: dict[str, Any]) -> str:
    reason = f" ({lease['reason']})" if lease["reason"] else ""
    return (f"lease {lease['id']}: {lease['pattern']} held by {lease['holder_name']} until "
            f"{lease['expires_at']}{reason} [{lease['project']}]")


@click.group()
def task() -> None:
    """Tasks: create (with subtasks), list, claim, renew, progress, complete, fail, release,
    cancel."""


@task.command("create")
@click.argument("channel")
@click.argument("title")
@click.option("--body", default="", help="What the task is about.")
@click.option("--subtask", "subtasks", multiple=True, help="A subtask title (repeatable).")
@click.option("--parent", type=int, default=None, help="Make it a subtask of this task.")
@click.option("--quiet", is_flag=True, help="Post no task_created announcement.")
@json_option
@click.pass_context
@as_session
def task_create(ctx: click.Context, channel: str, title: str, body: str,
                subtasks: tuple[str, ...], parent: int | None, quiet: bool,
                as_json: bool, session: str | None) -> None:
    """Create TITLE in CHANNEL, with its subtasks, in one go."""
    made = _send(ctx, "task_create", channel=channel, title=title, body=body,
                 subtasks=list(subtasks), parent=parent, announce=not quiet, session=session)
    _emit([made["task"], *made["subtasks"]], as_json, task_line)


@task.command("list")
@click.option("--channel", default=None)
@click.option("--state", default=None,
              type=click.Choice(["active", "Open", "Claimed", "Done", "Failed", "Cancelled"]))
@click.option("--parent", type=int, default=None)
@click.option("-n", "limit", type=click.IntRange(1, 5000), default=200, show_default=True)
@json_option
@click.pass_context
def task_list(ctx: click.Context, channel: str | None, state: str | None, parent: int | None,
              limit: int, as_json: bool) -> None:
    """List tasks, oldest first."""
    _emit(_send(ctx, "task_list", channel=channel, state=state, parent=parent, limit=limit),
          as_json, task_line)


def _simple(name: str, op: str, doc: str, *, ttl: bool = False, result: bool = False,
            write: bool = True) -> None:
    def command(ctx: click.Context, /, task_id: int, as_json: bool, **extra: Any) -> None:
        _emit(_send(ctx, op, task=task_id, **extra), as_json, task_line)

    command.__doc__ = doc
    built: Any = json_option(click.pass_context(as_session(command) if write else command))
    if ttl:
        built = ttl_option(built)
    if result:
        built = click.argument("result")(built)
    task.command(name)(click.argument("task_id", type=int)(built))


_simple("show", "task_show", "TASK_ID in full (body and whole result).", write=False)
_simple("claim", "task_claim", "Claim TASK_ID: of any number of claimers exactly one wins.",
        ttl=True)
_simple("renew", "task_renew", "Extend your claim of TASK_ID.", ttl=True)
_simple("complete", "task_complete", "Finish TASK_ID with RESULT (posted as a reply).",
        result=True)
_simple("fail", "task_fail", "Give up TASK_ID with RESULT as the reason.", result=True)


def progress(ctx: click.Context, /, task_id: int, text: str, as_json: bool, **extra: Any
             ) -> None:
    """Tell how TASK_ID is going (its holder): TEXT is posted as a reply to the task."""
    _emit(_send(ctx, "task_progress", task=task_id, text=text, **extra), as_json,
          lambda r: f"progress on task {r['task']} posted")


task.command("progress")(click.argument("task_id", type=int)(click.argument("text")(
    json_option(click.pass_context(as_session(progress))))))

_simple("release", "task_release", "Give TASK_ID back (Open again).")
_simple("cancel", "task_cancel", "Cancel TASK_ID and its open subtasks (creator, Moderator+).")


@click.group()
def lease() -> None:
    """Path leases: take, drop, list and check them (the project is the repository of --cwd)."""


project_option = click.option("--project", default=None,
                              help="The project key (default: the repository of --cwd).")
cwd_option = click.option("--cwd", default=None, help="A directory of the project (default: .)")


@lease.command("acquire")
@click.argument("path")
@project_option
@cwd_option
@ttl_option
@click.option("--reason", default=None)
@json_option
@click.pass_context
@as_session
def lease_acquire(ctx: click.Context, path: str, project: str | None, cwd: str | None, ttl: int,
                  reason: str | None, as_json: bool, session: str | None) -> None:
    """Lease PATH (a path, a directory ending in /, or a glob) relative to the repository root."""
    cwd = None if project else os.path.abspath(cwd or ".")
    _emit(_send(ctx, "lease_acquire", path=path, project=project, cwd=cwd, ttl=ttl,
                reason=reason, session=session), as_json, lease_line)


@lease.command("release")
@click.argument("lease_id", type=int)
@json_option
@click.pass_context
@as_session
def lease_release(ctx: click.Context, lease_id: int, as_json: bool, session: str | None) -> None:
    """Drop lease LEASE_ID (the holder, or a hub Admin breaking a stale one)."""
    _emit(_send(ctx, "lease_release", lease=lease_id, session=session), as_json,
          lambda r: f"released lease {r['released']}")


@lease.command("list")
@project_option
@cwd_option
@click.option("--all", "every", is_flag=True, help="Leases of every project.")
@json_option
@click.pass_context
def lease_list(ctx: click.Context, project: str | None, cwd: str | None, every: bool,
               as_json: bool) -> None:
    """The unexpired leases of this project (or of every project)."""
    cwd = None if project or every else os.path.abspath(cwd or ".")
    _emit(_send(ctx, "lease_list", project=project, cwd=cwd), as_json, lease_line)


@lease.command("check")
@click.argument("paths", nargs=-1, required=True)
@project_option
@cwd_option
@json_option
@click.pass_context
def lease_check(ctx: click.Context, paths: tuple[str, ...], project: str | None,
                cwd: str | None, as_json: bool) -> None:
    """Who else holds a lease covering PATHS; exit 3 when someone does."""
    cwd = os.path.abspath(cwd or ".")
    found = _send(ctx, "lease_check", paths=list(paths), project=project, cwd=cwd)
    if as_json:
        click.echo(json.dumps(found, ensure_ascii=False, separators=(",", ":")))
    else:
        for c in found["conflicts"]:
            click.echo(c["message"])
    if found["conflicts"]:
        ctx.exit(3)


@click.group()
def vote() -> None:
    """Votes on a message or a task, and their tally."""


@vote.command("cast")
@click.argument("target", type=click.Choice(["message", "task"]))
@click.argument("target_id", type=int)
@click.argument("choice")
@json_option
@click.pass_context
@as_session
def vote_cast(ctx: click.Context, target: str, target_id: int, choice: str,
              as_json: bool, session: str | None) -> None:
    """Vote CHOICE on a message or task (again: replaces your vote)."""
    _emit(_send(ctx, "vote_cast", target=target, id=target_id, choice=choice,
                session=session), as_json,
          tally_line)


@vote.command("show")
@click.argument("target", type=click.Choice(["message", "task"]))
@click.argument("target_id", type=int)
@json_option
@click.pass_context
def vote_show(ctx: click.Context, target: str, target_id: int, as_json: bool) -> None:
    """The tally of a message or task."""
    _emit(_send(ctx, "vote_tally", target=target, id=target_id), as_json, tally_line)


def tally_line(t: dict[str, Any]) -> str:
    parts = [f"{choice}: {n} ({', '.join(t['voters'][choice])})"
             for choice, n in t["counts"].items()]
    return f"{t['target']} {t['id']}: " + ("; ".join(parts) if parts else "no votes")
