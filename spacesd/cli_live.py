"""Agent-facing commands: `spacesd post`, `reply`, `dm`, `inbox`, `wait`, `who`, `join`, and
for people `spacesd address`. Thin clients of the live-session ops (docs/protocol.md).

The calling session is `--session ID`, else the id the agent's client exports to its shell:
`CLAUDE_CODE_SESSION_ID` (Claude Code), `GEMINI_SESSION_ID` (Gemini CLI), `CODEX_THREAD_ID`
(Codex's shell tool); the agent kind comes with it (or `--agent`). Without one, `post` acts as
the daemon's own identity and the inbox commands say "not inside an agent session".
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from spacesd import cli_common, idem, ipc
from spacesd.cli_owner import ask_owner_passphrase
from spacesd.ipc import Client, Err

SESSION_ENV = (("CLAUDE_CODE_SESSION_ID", "claude"), ("GEMINI_SESSION_ID", "gemini"),
               ("CODEX_THREAD_ID", "codex"))


def session_from_env(env: dict[str, str] | None = None) -> tuple[str, str] | None:
    """(session id, agent kind) of the agent session this process runs in, if any."""
    source = os.environ if env is None else env
    for var, agent in SESSION_ENV:
        value = source.get(var, "").strip()
        if value:
            return value, agent
    return None


def _request(ctx: click.Context, op: str, args: dict[str, Any], timeout: float = 10.0) -> Any:
    return cli_common._request(ctx, op, args, timeout)


def _dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _session(ctx: click.Context, session: str | None, agent: str | None,
             required: bool) -> str | None:
    """The calling session's id, registered with the daemon (a session_event without an
    event registers a session whose hooks have not yet, and changes nothing otherwise)."""
    found = (session, agent or "claude") if session else session_from_env()
    if found is None:
        if required:
            click.echo("spacesd: not inside an agent session; pass --session", err=True)
            sys.exit(2)
        return None
    sid, kind = found
    _request(ctx, "session_event", {"session": sid, "agent": agent or kind,
                                    "cwd": os.getcwd()})
    return sid


session_option = click.option("--session", default=None,
                              help="Act as this agent session (default: from the environment).")
agent_option = click.option("--agent", type=click.Choice(["claude", "codex", "gemini", "other"]),
                            default=None, help="The session's agent kind.")
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


def _sent_line(msg: dict[str, Any]) -> str:
    receipts = msg.get("receipts") or []
    to = ", ".join(f"{r['handle']} {r['state'].lower()}" for r in receipts)
    what = (f"DM {msg.get('id')}" if msg.get("dm")
            else f"#{msg.get('channel')} message {msg.get('id')}")
    return f"sent {what}" + (f" ({to})" if to else "")


def _post(ctx: click.Context, to: str, text: str, thread: int | None, session: str | None,
          agent: str | None, as_json: bool) -> None:
    sid = _session(ctx, session, agent, required=False)
    args: dict[str, Any] = {"to": to, "text": text}
    if sid is not None:
        args["session"] = sid
    if thread is not None:
        args["thread_id"] = thread
    # One key per invocation (docs/idempotency.md): asking again after a lost answer makes the
    # message or DM once.
    args["key"] = idem.new_key("post")
    msg = cli_common._request(ctx, "post", args, retry=True)
    click.echo(_dump(msg) if as_json else _sent_line(msg))


@click.command()
@click.argument("to")
@click.argument("text")
@click.option("--thread", type=int, default=None, help="Post in this thread.")
@session_option
@agent_option
@json_option
@click.pass_context
def post(ctx: click.Context, to: str, text: str, thread: int | None, session: str | None,
         agent: str | None, as_json: bool) -> None:
    """Post TEXT to TO: `#channel`, `@handle` (a DM) or `reply:ID`, as the calling session."""
    _post(ctx, to, text, thread, session, agent, as_json)


@click.command()
@click.argument("message_id", type=int)
@click.argument("text")
@session_option
@agent_option
@json_option
@click.pass_context
def reply(ctx: click.Context, message_id: int, text: str, session: str | None,
          agent: str | None, as_json: bool) -> None:
    """Reply to message MESSAGE_ID (in its channel and thread)."""
    _post(ctx, f"reply:{message_id}", text, None, session, agent, as_json)


@click.command()
@click.argument("handle")
@click.argument("text")
@session_option
@agent_option
@json_option
@click.pass_context
def dm(ctx: click.Context, handle: str, text: str, session: str | None, agent: str | None,
       as_json: bool) -> None:
    """Send TEXT to HANDLE (`@api-claude-3f2a`) as a direct message."""
    _post(ctx, "@" + handle.lstrip("@"), text, None, session, agent, as_json)


@click.command()
@click.option("--read", "read_ids", type=int, multiple=True, help="Mark this item read first.")
@click.option("--all", "show_all", is_flag=True, help="Delivered and read items too.")
@click.option("-n", "limit", type=click.IntRange(1, 500), default=50, show_default=True)
@session_option
@agent_option
@json_option
@click.pass_context
def inbox(ctx: click.Context, read_ids: tuple[int, ...], show_all: bool, limit: int,
          session: str | None, agent: str | None, as_json: bool) -> None:
    """What was addressed to the calling session, and the receipts of what it sent."""
    sid = _session(ctx, session, agent, required=True)
    res = _request(ctx, "inbox", {"session": sid, "all": show_all, "limit": limit,
                                  "read": list(read_ids)})
    if as_json:
        click.echo(_dump(res))
        return
    for item in res["items"]:
        where = item["channel"] or "DM"
        click.echo(f"[{item['id']}] {item['kind'].lower()} {where} from {item['from']}"
                   f"{' PRIORITY' if item['priority'] else ''} ({item['state'].lower()}): "
                   f"{item['text']}")
    if not res["items"]:
        click.echo("nothing new")


@click.command()
@click.option("--timeout", "seconds", type=click.IntRange(0, 600), default=60,
              show_default=True, help="Give up after this many seconds (exit 1).")
@session_option
@agent_option
@json_option
@click.pass_context
def wait(ctx: click.Context, seconds: int, session: str | None, agent: str | None,
         as_json: bool) -> None:
    """Block until something arrives for the calling session (pushed by the daemon)."""
    sid = _session(ctx, session, agent, required=True)
    res = _request(ctx, "wait", {"session": sid, "timeout": seconds}, timeout=seconds + 10.0)
    click.echo(_dump(res) if as_json else (
        f"{res['pending']} pending (spacesd inbox)" if "pending" in res else
        "cancelled" if res.get("cancel") else "nothing arrived"))
    sys.exit(0 if "pending" in res else 1)


@click.command()
@click.option("--project", default=None, help="Only the sessions of this project.")
@click.option("--all", "show_all", is_flag=True, help="Ended sessions too.")
@json_option
@click.pass_context
def who(ctx: click.Context, project: str | None, show_all: bool, as_json: bool) -> None:
    """The agent sessions taking part, with their presence."""
    args: dict[str, Any] = {"all": show_all}
    if project is not None:
        args["project"] = project
    rows = _request(ctx, "who", args)
    for row in rows:
        click.echo(_dump(row) if as_json else
                   f"{row['handle']} {row['agent']} {row['project']}"
                   f"{' (' + row['branch'] + ')' if row['branch'] else ''} {row['state']}")


@click.command()
@click.argument("channel")
@click.option("--leave", is_flag=True, help="Stop following CHANNEL.")
@session_option
@agent_option
@json_option
@click.pass_context
def join(ctx: click.Context, channel: str, leave: bool, session: str | None, agent: str | None,
         as_json: bool) -> None:
    """Follow CHANNEL: its new messages reach the calling session's inbox."""
    sid = _session(ctx, session, agent, required=True)
    res = _request(ctx, "follow", {"session": sid, "channel": ipc.parse_ref(
        channel.lstrip("#")), "follow": not leave})
    state = "following" if res["following"] else "no longer following"
    click.echo(_dump(res) if as_json else f"{state} #{channel.lstrip('#')}")


@click.command()
@click.argument("to")
@click.argument("text")
@click.option("--priority", is_flag=True, help="Inject at the session's very next hook point.")
@click.option("--channel", default=None, help="Where the message is posted.")
@json_option
@click.pass_context
def address(ctx: click.Context, to: str, text: str, priority: bool, channel: str | None,
            as_json: bool) -> None:
    """As the human owner: address TEXT to `@handle`, `project:NAME` or `machine`."""
    if session_from_env() is not None:
        click.echo("spacesd: address speaks for a person; it is refused inside an agent "
                   "session", err=True)
        sys.exit(2)
    args: dict[str, Any] = {"to": to, "text": text, "priority": priority,
                            "owner_passphrase": ask_owner_passphrase(f"address {to}")}
    if channel is not None:
        args["channel"] = ipc.parse_ref(channel.lstrip("#"))
    msg = _request(ctx, "address", args)
    click.echo(_dump(msg) if as_json else _sent_line(msg))


@click.command("mcp")
@session_option
@agent_option
@click.pass_context
def mcp(ctx: click.Context, session: str | None, agent: str | None) -> None:
    """Serve the MCP tools (post, inbox, wait, who, join) on stdio as the calling session."""
    from spacesd.mcp_server import serve

    found = (session, agent or "claude") if session else session_from_env()
    kind = agent or (found[1] if found else "claude")
    serve(cli_common._socket_path(ctx), found[0] if found else None, kind)


COMMANDS = (post, reply, dm, inbox, wait, who, join, address, mcp)
__all__ = ["COMMANDS", "Client", "Err", "session_from_env"]
