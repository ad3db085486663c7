"""Add or remove Spaces' MCP server (`spacesd mcp`, stdio) in each agent's configuration.

- ``claude``: user scope ``~/.claude.json`` (``$CLAUDE_CONFIG_DIR/.claude.json`` when set),
  project scope ``<project>/.mcp.json``: ``mcpServers.spaces = {"type": "stdio", "command",
  "args": ["mcp"], "env": {}}``.
- ``codex``: ``$CODEX_HOME/config.toml`` (``~/.codex``) / ``<project>/.codex/config.toml``: a
  ``[mcp_servers.spaces]`` table (``command``, ``args``, ``tool_timeout_sec = 700``: `wait` may
  block up to 600 s), written as one block between Spaces' marker comments, so removing it
  touches nothing else in the file.
- ``gemini``: the settings.json of the hooks: ``mcpServers.spaces = {command, args,
  timeout: 700000}`` (milliseconds).

An existing ``spaces`` entry that does not run a program named ``spacesd`` is someone else's:
it is refused, untouched. Installing twice changes nothing; writes are atomic.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from spacesd.hookconfig import (
    HookConfigError,
    Result,
    _dump,
    _home,
    _read,
    _write_atomic,
    settings_path,
)

__all__ = ["NAME", "install", "installed", "mcp_path", "uninstall"]

NAME = "spaces"
TOOL_TIMEOUT_S = 700
BEGIN = "# >>> spaces mcp server (spacesd hooks install) >>>"
END = "# <<< spaces mcp server <<<"


def mcp_path(agent: str, scope: str = "user", *, project_dir: Path | None = None,
             env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if agent == "gemini":
        return settings_path(agent, scope, project_dir=project_dir, env=env)
    base = Path(project_dir) if project_dir is not None else Path.cwd()
    if agent == "claude":
        if scope == "project":
            return base / ".mcp.json"
        own = env.get("CLAUDE_CONFIG_DIR", "").strip()
        return (Path(own) if own else _home(env)) / ".claude.json"
    if agent == "codex":
        if scope == "project":
            return base / ".codex" / "config.toml"
        own = env.get("CODEX_HOME", "").strip()
        return (Path(own) if own else _home(env) / ".codex") / "config.toml"
    raise HookConfigError(f"unknown agent {agent!r}")


def _entry(agent: str, command: str) -> dict[str, Any]:
    if agent == "claude":
        return {"type": "stdio", "command": command, "args": ["mcp"], "env": {}}
    return {"command": command, "args": ["mcp"], "timeout": TOOL_TIMEOUT_S * 1000}


def _ours(entry: object) -> bool:
    return isinstance(entry, dict) and isinstance(entry.get("command"), str) and (
        Path(entry["command"]).name == "spacesd")


def _toml_block(command: str) -> str:
    return (f"{BEGIN}\n[mcp_servers.{NAME}]\ncommand = {json.dumps(command)}\n"
            f'args = ["mcp"]\ntool_timeout_sec = {TOOL_TIMEOUT_S}\n{END}\n')


def _strip_block(text: str) -> str:
    start = text.find(BEGIN)
    if start < 0:
        return text
    end = text.find(END, start)
    end = len(text) if end < 0 else end + len(END)
    if text[end:end + 1] == "\n":
        end += 1
    head = text[:start]
    if head.endswith("\n\n"):  # the blank line install put before the block
        head = head[:-1]
    return head + text[end:]


def _install_toml(path: Path, command: str) -> Result:
    try:
        original: str | None = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        original = None
    text = original or ""
    rest = _strip_block(text)
    if f"[mcp_servers.{NAME}]" in rest:
        raise HookConfigError(f"{path}: has its own [mcp_servers.{NAME}]; not changed")
    sep = "" if not rest or rest.endswith("\n\n") else ("\n" if rest.endswith("\n") else "\n\n")
    new = rest + sep + _toml_block(command)
    if new == original:
        return Result(path, changed=False)
    _write_atomic(path, new)
    return Result(path, changed=True)


def install(path: Path, agent: str, command: str) -> Result:
    """Add (or update) Spaces' MCP server running `command mcp`."""
    if agent == "codex":
        return _install_toml(path, command)
    data, original, indent = _read(path)
    servers = data.setdefault("mcpServers", {})
    if not isinstance(servers, dict):
        raise HookConfigError(f"{path}: `mcpServers` is not an object; nothing was changed")
    if NAME in servers and not _ours(servers[NAME]):
        raise HookConfigError(f"{path}: mcpServers.{NAME} is not Spaces' own; not changed")
    servers[NAME] = _entry(agent, command)
    text = _dump(data, indent)
    if text == original:
        return Result(path, changed=False)
    _write_atomic(path, text)
    return Result(path, changed=True)


def uninstall(path: Path, agent: str) -> Result:
    """Remove Spaces' MCP server entry, and nothing else."""
    if agent == "codex":
        try:
            original = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return Result(path, changed=False)
        rest = _strip_block(original)
        if rest == original:
            return Result(path, changed=False)
        if not rest.strip():
            path.unlink()
            return Result(path, changed=True, removed_file=True)
        _write_atomic(path, rest)
        return Result(path, changed=True)
    data, text, indent = _read(path)
    servers = data.get("mcpServers")
    if text is None or not isinstance(servers, dict) or not _ours(servers.get(NAME)):
        return Result(path, changed=False)
    del servers[NAME]
    if not servers:
        del data["mcpServers"]
    if not data and not path.is_symlink():
        path.unlink()
        return Result(path, changed=True, removed_file=True)
    _write_atomic(path, _dump(data, indent))
    return Result(path, changed=True)


def installed(path: Path, agent: str) -> bool:
    if agent == "codex":
        try:
            return BEGIN in path.read_text(encoding="utf-8")
        except OSError:
            return False
    data, _, _ = _read(path)
    servers = data.get("mcpServers")
    return isinstance(servers, dict) and _ours(servers.get(NAME))
