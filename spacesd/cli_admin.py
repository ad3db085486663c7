"""`spacesd hooks install|uninstall|status` and `spacesd config`: click commands.

The CLI group in spacesd/cli.py registers `hooks` and `config` from here
(``main.add_command(hooks)``, ``main.add_command(config)``). Neither talks to the daemon.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from spacesd import fasthook, hookconfig, livesetup, mcpconfig
from spacesd.config import ConfigError, load_config

EXIT_ERROR = 1
EXIT_CONFIG = 2


def _fail(message: str, code: int = EXIT_ERROR) -> None:
    click.echo(f"spacesd: {message}", err=True)
    sys.exit(code)


def _home_relative(path: Path) -> str:
    try:
        return "~/" + str(path.relative_to(Path.home()))
    except ValueError:
        return str(path)


scope_option = click.option("--scope", type=click.Choice(hookconfig.SCOPES), default="user",
                            show_default=True,
                            help="user: your settings for every project; project: this "
                                 "project's settings file.")
agent_option = click.option("--agent", type=click.Choice(hookconfig.AGENTS), default="claude",
                            show_default=True, help="Which coding agent's settings to edit.")
project_option = click.option("--project-dir", type=click.Path(file_okay=False, path_type=Path),
                              default=None, help="Project folder for --scope project "
                                                 "(default: the current directory).")


@click.group()
def hooks() -> None:
    """Wire Spaces' hooks into Claude Code (or Codex CLI, Gemini CLI)."""


@hooks.command("install")
@scope_option
@agent_option
@project_option
def hooks_install(scope: str, agent: str, project_dir: Path | None) -> None:
    """Add Spaces' hooks (Stop or AfterAgent, SessionStart, SessionEnd where the agent has
    it; the live delivery and presence hooks; explicit short timeouts) and its MCP server;
    idempotent."""
    try:
        path = hookconfig.settings_path(agent, scope, project_dir=project_dir)
        live, note = livesetup.live_for(agent)
        result = hookconfig.install(path, agent, live=live)
        root = click.get_current_context().find_root().command
        command = livesetup.mcp_command(
            isinstance(root, click.Group) and "mcp" in root.commands)
        mcp = None if command is None else mcpconfig.install(
            mcpconfig.mcp_path(agent, scope, project_dir=project_dir), agent, command)
        livesetup.record(agent, live, fast=live.argv[0].endswith(f"/{hookconfig.LIVE_HOOK}"))
    except (hookconfig.HookConfigError, OSError) as e:
        _fail(str(e))
        return
    where = _home_relative(path)
    if result.changed:
        events = ", ".join(dict.fromkeys(
            spec.event for spec in [*hookconfig.specs(agent, dict.fromkeys(
                hookconfig.HOOK_PROGRAMS, "")), *hookconfig.live_specs(agent, live)]))
        click.echo(f"Spaces hooks installed in {where} ({events}).")
    else:
        click.echo(f"Spaces hooks already installed in {where}; nothing changed.")
    if agent in hookconfig.NOTES:
        click.echo(hookconfig.NOTES[agent])
    click.echo(f"Live hooks: {note}.")
    if agent == "claude":
        click.echo("Idle sessions: woken by a message (asyncRewake)." if live.can_wake else
                   "Idle sessions: not woken (needs Claude Code 2.1.218 or later); messages "
                   "wait for the next turn.")
    if mcp is not None and mcp.changed:
        click.echo(f"MCP server `spacesd mcp` added to {_home_relative(mcp.path)}.")


@hooks.command("uninstall")
@scope_option
@agent_option
@project_option
def hooks_uninstall(scope: str, agent: str, project_dir: Path | None) -> None:
    """Remove exactly Spaces' own hook entries and MCP server; everything else stays."""
    try:
        path = hookconfig.settings_path(agent, scope, project_dir=project_dir)
        result = hookconfig.uninstall(path)
        mcp = mcpconfig.uninstall(mcpconfig.mcp_path(agent, scope, project_dir=project_dir),
                                  agent)
        livesetup.record(agent, None)
    except (hookconfig.HookConfigError, OSError) as e:
        _fail(str(e))
        return
    where = _home_relative(path)
    if result.removed_file:
        click.echo(f"Spaces hooks removed; {where} held nothing else and was removed.")
    elif result.changed:
        click.echo(f"Spaces hooks removed from {where}.")
    else:
        click.echo(f"No Spaces hooks in {where}; nothing changed.")
    if mcp.changed:
        click.echo(f"MCP server removed from {_home_relative(mcp.path)}.")


@hooks.command("status")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@project_option
def hooks_status(as_json: bool, project_dir: Path | None) -> None:
    """Where Spaces' hooks are installed, per agent and scope, and which live path runs."""
    report: dict[str, dict[str, object]] = {}
    for agent in hookconfig.AGENTS:
        for scope in hookconfig.SCOPES:
            path = hookconfig.settings_path(agent, scope, project_dir=project_dir)
            try:
                found: object = sorted(hookconfig.installed(path))
                mcp: object = mcpconfig.installed(
                    mcpconfig.mcp_path(agent, scope, project_dir=project_dir), agent)
            except hookconfig.HookConfigError as e:
                found, mcp = f"unreadable: {e}", False
            report[f"{agent}/{scope}"] = {"path": str(path), "events": found, "mcp": mcp}
            if found and isinstance(found, list) and agent in hookconfig.NOTES:
                report[f"{agent}/{scope}"]["note"] = hookconfig.NOTES[agent]
    fast = fasthook.status()
    live = {"fast": fast.fast, "note": fast.note, "agents": livesetup.wiring()}
    if as_json:
        click.echo(json.dumps({**report, "live": live}))
        return
    notes: dict[str, str] = {}
    for key, entry in report.items():
        events = entry["events"]
        text = ", ".join(events) if isinstance(events, list) and events else (
            "-" if isinstance(events, list) else str(events))
        mcp_text = " +mcp" if entry["mcp"] is True else ""
        click.echo(f"{key:<16} {text + mcp_text:<28} "
                   f"{_home_relative(Path(str(entry['path'])))}")
        if isinstance(entry.get("note"), str):
            notes[key.split("/")[0]] = str(entry["note"])
    for agent, note in notes.items():
        click.echo(f"{agent}: {note}")
    click.echo(f"live hooks: {fast.note}")


@click.command("config")
@click.option("--json", "as_json", is_flag=True, help="One JSON object: {key: {value, source}}.")
@click.option("--project-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to look for spacetime.json (default: SPACES_PROJECT_DIR or the "
                   "current directory).")
def config(as_json: bool, project_dir: Path | None) -> None:
    """Every effective setting and where it came from (tokens are never shown)."""
    try:
        cfg = load_config(cwd=project_dir)
    except ConfigError as e:
        _fail(str(e), EXIT_CONFIG)
        return
    if as_json:
        click.echo(json.dumps(cfg.redacted()))
    else:
        for line in cfg.describe():
            click.echo(line)
    note = _running_daemon_note(cfg.redacted())
    if note:
        click.echo(note, err=True)


_COMPARED = ("backend", "channel", "identity_name")
_COMPARED_STDB = ("host", "database")


def _running_daemon_note(mine: dict[str, object]) -> str | None:
    """A line for stderr when a running daemon's settings differ from these: it looked for
    spacetime.json from its own working directory ($HOME under systemd and install.sh), with
    its own environment, so this command's answer is not what it runs with."""
    from spacesd.ipc import Ok, request

    root = click.get_current_context().find_root().obj
    given = root.get("socket") if isinstance(root, dict) else None
    res = request("status", path=given, timeout=0.5)
    if not isinstance(res, Ok) or not isinstance(res.result, dict):
        return None
    theirs = res.result.get("config")
    if not isinstance(theirs, dict):
        return None

    def value(view: dict[str, object], key: str) -> object:
        entry = view.get(key)
        return entry.get("value") if isinstance(entry, dict) else None

    keys = _COMPARED + (_COMPARED_STDB if value(theirs, "backend") == "spacetimedb" else ())
    differ = [k for k in keys if value(theirs, k) != value(mine, k)]
    if not differ:
        return None
    what = ", ".join(f"{k} {value(theirs, k) if value(theirs, k) is not None else '-'}"
                     for k in differ)
    return (f"spacesd: note: the running daemon (pid {res.result.get('pid')}) uses {what}: it "
            "was started from another directory or environment (`spacesd status` shows its "
            "settings); the values above are what a daemon started here and now would use")
