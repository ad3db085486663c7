"""`spacesd`: run the daemon, and talk to it (status, channels, read, send, tail, call).

Every command but `run` is a thin client over the daemon's socket (spacesd/ipc.py). One that
cannot reach the daemon says so in one line on stderr and exits 1. `--json` prints results for
scripts: messages one JSON object per line.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from spacesd import __version__, idem, ipc, outbox
from spacesd.cli_admin import config as admin_config
from spacesd.cli_admin import hooks as admin_hooks
from spacesd.cli_common import (
    EXIT_UNREACHABLE,
    _fail,
    _no_answer_line,
    _request,
    _socket_path,
)
from spacesd.cli_live import COMMANDS as live_commands
from spacesd.cli_owner import ask_owner_passphrase, owner_group
from spacesd.cli_tasks import lease as tasks_lease
from spacesd.cli_tasks import task as tasks_task
from spacesd.cli_tasks import vote as tasks_vote
from spacesd.ipc import Client, Err, IpcError

MESSAGE_KEYS = ("id", "channel", "sender", "sender_name", "type", "content", "created_at")


# --------------------------------------------------------------------------------------------
# Helpers


def _dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _time_text(iso: str | None) -> str:
    if not iso:
        return "--:--:--"
    try:
        dt = datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return iso
    local = dt.astimezone()
    if local.date() == datetime.now().astimezone().date():
        return local.strftime("%H:%M:%S")
    return local.strftime("%Y-%m-%d %H:%M")


def _content_text(msg: dict[str, Any]) -> str:
    content = str(msg.get("content", ""))
    if msg.get("type") == "AgentEvent":
        from spacesd.daemon.summary import parse_summary, render_summary

        summary = parse_summary(content)
        if summary is not None:
            created = msg.get("created_at") or ""
            try:
                ts = int(datetime.strptime(created, "%Y-%m-%dT%H:%M:%S.%fZ")
                         .replace(tzinfo=timezone.utc).timestamp() * 1_000_000)
            except ValueError:
                ts = 0
            text = render_summary(summary, sender_name=str(msg.get("sender_name")),
                                  created_at=ts, now=ts)
            # drop the leading "At HH:MM UTC, agent NAME" (the line already shows both)
            _, sep, rest = text.partition(f"agent {msg.get('sender_name')}")
            return "[session summary]" + (rest if sep else " " + text)
        if len(content) > 300:
            content = content[:299] + "…"
    return content


def _message_line(msg: dict[str, Any], show_channel: bool = False) -> str:
    where = f"#{msg.get('channel')} " if show_channel else ""
    kind = msg.get("type")
    tag = "" if kind in ("Text", "AgentEvent") else f"[{kind}] "
    edited = " (edited)" if msg.get("edited_at") else ""
    return (f"{_time_text(msg.get('created_at'))} {where}{msg.get('sender_name')}: "
            f"{tag}{_content_text(msg)}{edited}")


def _message_json(msg: dict[str, Any]) -> dict[str, Any]:
    out = {k: msg.get(k) for k in MESSAGE_KEYS}
    for k, v in msg.items():
        if k not in out:
            out[k] = v
    return out


def _uptime_text(seconds: float) -> str:
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def _config_lines(view: dict[str, Any]) -> list[str]:
    """The daemon's effective settings (`Config.redacted()`), one `key value (source)` line
    each, unset ones left out; the token only ever appears as <redacted>."""
    lines = []
    for key, entry in view.items():
        if isinstance(entry, dict) and entry.get("value") is not None:
            lines.append(f"  {key:<14} {entry['value']}  ({entry.get('source', '?')})")
    warnings = view.get("warnings")
    if isinstance(warnings, list):
        lines.extend(f"  warning: {w}" for w in warnings)
    return ["config:", *lines] if lines else []


json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


# --------------------------------------------------------------------------------------------
# The group


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--socket", "socket_path", type=click.Path(dir_okay=False), default=None,
              help="The daemon's socket (default: SPACES_SOCKET or the runtime dir).")
@click.version_option(__version__, prog_name="spacesd")
@click.pass_context
def main(ctx: click.Context, socket_path: str | None) -> None:
    """Spaces: a real-time fabric for coding agents. `spacesd run` starts the daemon."""
    ctx.ensure_object(dict)
    ctx.obj["socket"] = socket_path
    ctx.obj["request"] = _request  # for the commands of cli_tasks


@main.command()
@click.option("--backend", type=click.Choice(["embedded", "spacetimedb"]), default=None,
              help="Default: the configured one (embedded unless a database is configured).")
@click.option("--socket", "socket_path", type=click.Path(dir_okay=False), default=None,
              help="Serve on this socket path instead of the default.")
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail.")
@click.pass_context
def run(ctx: click.Context, backend: str | None, socket_path: str | None, verbose: bool) -> None:
    """Run the daemon in the foreground (logs to stderr; SIGTERM or Ctrl-C stops it)."""
    from spacesd.daemon.main import run_daemon

    sock = socket_path or (ctx.obj or {}).get("socket")
    code = run_daemon(backend=backend, socket_path=Path(sock) if sock else None,
                      verbose=verbose)
    sys.exit(code)


@main.command()
@json_option
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Is the daemon up: backend, identity, database, counts, outbox depth, uptime, and the
    configuration it runs with (each value with its source; tokens are never shown)."""
    sock = _socket_path(ctx)
    with Client(sock, timeout=5.0) as client:
        res = client.request("status")
    if isinstance(res, Err):
        pending = outbox.depth()
        if res.client_side:
            if as_json:
                click.echo(_dump({"running": False, "socket": str(sock), "outbox_depth": pending,
                                  "error": res.message}))
            waiting = f"; {pending} post(s) wait in the hooks' outbox" if pending else ""
            _fail(_no_answer_line(sock, res.code, res.message) + waiting, EXIT_UNREACHABLE)
        _fail(f"spacesd: {res.code}: {res.message}")
    st: dict[str, Any] = res.result
    if as_json:
        click.echo(_dump({"running": True, **st}))
        return
    counts = st.get("counts") or {}
    lines = [
        f"spacesd {st.get('version')}: running (pid {st.get('pid')}, "
        f"up {_uptime_text(float(st.get('uptime_s') or 0))})",
        f"backend:   {st.get('backend')} ({st.get('connection')})",
        f"database:  {st.get('database')}",
        f"identity:  {st.get('username')} ({st.get('identity')})",
        f"socket:    {st.get('socket', sock)}",
        f"outbox:    {st.get('outbox_depth', 0)} waiting"
        + (f", {st['outbox_delivered']} delivered" if st.get("outbox_delivered") else ""),
        "counts:    " + ", ".join(f"{k} {v}" for k, v in counts.items() if v),
    ]
    if st.get("backend") == "spacetimedb":
        lag = st.get("subscription_lag_ms")
        lines.insert(3, f"link:      {st.get('connection')} to {st.get('host')}, "
                        f"{st.get('reconnects', 0)} reconnect(s), subscription lag "
                        + (f"{lag} ms" if lag is not None else "unknown"))
        if st.get("connection") == "subscription failed":
            lines.insert(4, f"error:     {st.get('last_error')}")
    if isinstance(st.get("config"), dict):
        lines.extend(_config_lines(st["config"]))
    click.echo("\n".join(lines))


@main.command()
@click.option("--server", default=None, help="Only this server (id or name).")
@json_option
@click.pass_context
def channels(ctx: click.Context, server: str | None, as_json: bool) -> None:
    """List the channels of the servers the daemon's identity belongs to."""
    args: dict[str, Any] = {}
    if server is not None:
        args["server"] = ipc.parse_ref(server)
    rows: list[dict[str, Any]] = _request(ctx, "channels", args)
    if as_json:
        for row in rows:
            click.echo(_dump(row))
        return
    current = None
    for row in rows:
        if row.get("server") != current:
            current = row.get("server")
            click.echo(f"{current} (server {row.get('server_id')})")
        topic = f"  {row['topic']}" if row.get("topic") else ""
        click.echo(f"  #{row['name']:<24} {row['type']:<12} id {row['id']}{topic}")


@main.command()
@click.argument("channel")
@click.option("-n", "limit", type=click.IntRange(1, 500), default=20, show_default=True,
              help="How many recent messages.")
@click.option("--before", type=int, default=None, help="Only messages older than this id.")
@json_option
@click.pass_context
def read(ctx: click.Context, channel: str, limit: int, before: int | None,
         as_json: bool) -> None:
    """Show the recent messages of CHANNEL (id or name, e.g. agent-logs), oldest first."""
    args: dict[str, Any] = {"channel": ipc.parse_ref(channel), "limit": limit}
    if before is not None:
        args["before"] = before
    msgs: list[dict[str, Any]] = _request(ctx, "messages", args)
    for msg in msgs:
        click.echo(_dump(_message_json(msg)) if as_json else _message_line(msg))


@main.command()
@click.argument("channel")
@click.argument("text")
@click.option("--event", is_flag=True, help="Send TEXT (a JSON object) as an AgentEvent.")
@click.option("--reply-to", type=int, default=None, help="Reply to this message id.")
@click.option("--thread", "thread_id", type=int, default=None, help="Post in this thread.")
@json_option
@click.pass_context
def send(ctx: click.Context, channel: str, text: str, event: bool, reply_to: int | None,
         thread_id: int | None, as_json: bool) -> None:
    """Send TEXT to CHANNEL as the daemon's identity."""
    args: dict[str, Any] = {"channel": ipc.parse_ref(channel), "content": text,
                            "type": "AgentEvent" if event else "Text"}
    if reply_to is not None:
        args["reply_to_id"] = reply_to
    if thread_id is not None:
        args["thread_id"] = thread_id
    # One key per invocation (docs/idempotency.md): the daemon's outbox and a retry after a
    # lost answer carry it, and the backend makes the message once.
    args["key"] = idem.new_key("send")
    msg: dict[str, Any] = _request(ctx, "send", args, retry=True)
    if as_json:
        click.echo(_dump(_message_json(msg) if "id" in msg else msg))
    elif msg.get("queued"):
        click.echo("queued (the backend is unreachable; it will be sent later)")
    else:
        again = " (sent before under the same key)" if msg.get("duplicate") else ""
        click.echo(f"sent #{msg.get('channel')} message {msg.get('id')}{again}")


@main.command()
@click.argument("channels", nargs=-1)
@json_option
@click.pass_context
def tail(ctx: click.Context, channels: tuple[str, ...], as_json: bool) -> None:
    """Stream new messages as they are committed (all channels, or the CHANNELS given).
    Ctrl-C stops. With --json, edits and deletions carry "event": "message_edited" or
    "message_deleted"."""
    sock = _socket_path(ctx)
    client = Client(sock, timeout=5.0)
    try:
        events = client.stream("tail", {"channels": [ipc.parse_ref(c) for c in channels]})
    except IpcError as e:
        if e.code in ("unreachable", "timeout", "disconnected"):
            _fail(_no_answer_line(sock, e.code, e.message), EXIT_UNREACHABLE)
        _fail(f"spacesd: {e.code}: {e.message}")
    show_channel = len(channels) != 1
    try:
        for ev in events:
            _print_event(ev, as_json, show_channel)
    except KeyboardInterrupt:
        pass
    except IpcError as e:
        _fail(f"spacesd: the stream ended: {e.message}")
    else:
        _fail("spacesd: the daemon closed the stream (stopped?)")
    finally:
        client.close()


def _print_event(ev: dict[str, Any], as_json: bool, show_channel: bool) -> None:
    kind = ev.get("event")
    data = ev.get("data") or {}
    if as_json:
        # One flat object a line, `id` first, whatever the event: a new message as is, an
        # edit as the edited message, a deletion as its id and channel_id; an `event` key
        # tells the latter two apart.
        if kind == "message":
            click.echo(_dump(_message_json(data)))
        elif kind == "message_edited":
            click.echo(_dump({**_message_json(data), "event": kind}))
        else:
            click.echo(_dump({**data, "event": kind}))
    elif kind in ("message", "message_edited"):
        click.echo(_message_line(data, show_channel))
    elif kind == "message_deleted":
        click.echo(f"(message {data.get('id')} deleted)")
    sys.stdout.flush()


@main.command()
@click.argument("reducer")
@click.argument("args", nargs=-1)
@click.option("--as-owner", is_flag=True,
              help="Embedded backend: call as the local human owner of the hub (who may "
                   "create channels, set roles, ...), not as the daemon's agent identity. "
                   "Asks for the owner passphrase at the terminal (`spacesd owner "
                   "passphrase` sets it); refused without a terminal.")
@json_option
@click.pass_context
def call(ctx: click.Context, reducer: str, args: tuple[str, ...], as_owner: bool,
         as_json: bool) -> None:
    """Call any REDUCER as the daemon's identity. Each ARG is one JSON value (a bare word is
    taken as a string), or give one JSON array holding them all.

    \b
    spacesd call create_thread 1 '"design review"'
    spacesd call add_reaction 42 '"👍"'
    spacesd call set_presence true null
    """
    values = _parse_call_args(args)
    request: dict[str, Any] = {"reducer": reducer, "args": values}
    if as_owner:
        request["as_owner"] = True
        request["owner_passphrase"] = ask_owner_passphrase(f"call {reducer} as the owner")
    result = _request(ctx, "call", request)
    click.echo(_dump(result) if as_json else "committed")


def _parse_call_args(args: Iterable[str]) -> list[Any]:
    items = list(args)
    parsed: list[Any] = []
    for text in items:
        try:
            parsed.append(json.loads(text))
        except ValueError:
            parsed.append(text)  # a bare word: a string
    if len(parsed) == 1 and isinstance(parsed[0], list) and items[0].lstrip().startswith("["):
        return list(parsed[0])
    return parsed


# Commands of spacesd/cli_admin.py: `spacesd hooks install|uninstall|status`, `spacesd config`.
main.add_command(admin_hooks, "hooks")
main.add_command(admin_config, "config")
# Commands of spacesd/cli_tasks.py: `spacesd task|lease|vote ...`.
main.add_command(tasks_task, "task")
main.add_command(tasks_lease, "lease")
main.add_command(tasks_vote, "vote")
main.add_command(owner_group, "owner")

# Agent-facing commands of spacesd/cli_live.py: post, reply, dm, inbox, wait, who, join, address.
for _command in live_commands:
    main.add_command(_command)
