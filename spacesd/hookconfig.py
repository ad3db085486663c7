"""Add or remove exactly Spaces' own hook entries in an agent's settings file.

Agents and files (user scope / project scope):

- ``claude``: ``~/.claude/settings.json`` (``$CLAUDE_CONFIG_DIR`` moves ``~/.claude``) /
  ``<project>/.claude/settings.json``. ``Stop`` runs ``spaces-session-hook`` (timeout 10 s),
  ``SessionStart`` with matcher ``startup|resume|clear|compact`` runs ``spaces-context-hook``
  (5 s), ``SessionEnd`` runs ``spaces-session-hook`` again (10 s: it posts what the Stop
  cooldown held back).
- ``codex``: ``~/.codex/hooks.json`` (``$CODEX_HOME`` moves ``~/.codex``) /
  ``<project>/.codex/hooks.json``; the same shape as Claude Code's (codex-rs/config
  ``HooksFile``: ``{"hooks": {Event: [{"matcher", "hooks": [{"type": "command", "command",
  "timeout"}]}]}}``, timeout in seconds); its SessionStart sources are startup|resume|clear.
  Codex 0.169 has SessionEnd too (stdin carries ``reason``), with its timeout clamped to 3 s:
  registered with 3 s. Codex runs a hook only once a person trusted it (``/hooks`` in the
  TUI); headless, ``codex exec --dangerously-bypass-hook-trust`` (`NOTES`).
- ``gemini``: ``~/.gemini/settings.json`` / ``<project>/.gemini/settings.json``: ``hooks``
  events ``SessionStart`` (matcher ``*``: Gemini matches lifecycle sources exactly),
  ``AfterAgent`` (its Stop) and ``SessionEnd`` (reasons exit, clear, logout, ...; the CLI does
  not wait for it, best effort), handlers with ``name`` and a ``timeout`` in milliseconds.
  Hooks are on by default in Gemini CLI 0.61.

The agents are spacesd.agentkinds' table (`AGENTS` are its install names; the summaries'
``agent_kind`` comes from the same table).

"Ours" is any command handler whose program is named ``spaces-session-hook`` or
``spaces-context-hook`` (whatever its folder), so a reinstall from another place replaces
rather than duplicates. Everything else in the file is kept, in order. Installing twice
changes nothing the second time. Writes are atomic (temporary file, fsync, rename; a symlinked
settings file is written through). A file that is not a JSON object is refused untouched.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spacesd.agentkinds import INSTALL_NAMES

__all__ = [
    "AGENTS",
    "HOOK_PROGRAMS",
    "NOTES",
    "SCOPES",
    "HookConfigError",
    "HookSpec",
    "Result",
    "hook_commands",
    "install",
    "installed",
    "settings_path",
    "specs",
    "uninstall",
]

AGENTS = INSTALL_NAMES
NOTES = {
    "codex": "Codex runs a hook only after you trust it: open codex and review Spaces' hooks "
             "with /hooks; a headless `codex exec` needs --dangerously-bypass-hook-trust.",
}
"""What a person must do besides installing, by agent (shown by `spacesd hooks install` and
`spacesd hooks status`)."""
CODEX_SESSION_END_TIMEOUT = 3
"""Codex clamps a SessionEnd hook's timeout to 3 s."""
SCOPES = ("user", "project")
SESSION_HOOK = "spaces-session-hook"
CONTEXT_HOOK = "spaces-context-hook"
HOOK_PROGRAMS = (SESSION_HOOK, CONTEXT_HOOK)


class HookConfigError(Exception):
    """A settings file Spaces will not edit, or hooks it cannot find. `str()` is one line."""


@dataclass(frozen=True)
class HookSpec:
    """One entry Spaces adds: an event, its matcher (None: every occurrence), a handler."""

    event: str
    matcher: str | None
    handler: dict[str, Any]

    def group(self) -> dict[str, Any]:
        group: dict[str, Any] = {} if self.matcher is None else {"matcher": self.matcher}
        group["hooks"] = [dict(self.handler)]
        return group


@dataclass(frozen=True)
class Result:
    path: Path
    changed: bool
    removed_file: bool = False


# ------------------------------------------------------------------------------------- where


def _home(env: Mapping[str, str]) -> Path:
    home = env.get("HOME", "").strip()
    return Path(home) if home else Path.home()


def settings_path(agent: str, scope: str = "user", *, project_dir: Path | None = None,
                  env: Mapping[str, str] | None = None) -> Path:
    """The settings file `agent` reads for `scope` (project: under `project_dir` or cwd)."""
    env = os.environ if env is None else env
    if agent not in AGENTS:
        raise HookConfigError(f"unknown agent {agent!r} (one of {', '.join(AGENTS)})")
    if scope not in SCOPES:
        raise HookConfigError(f"unknown scope {scope!r} (user or project)")
    if scope == "project":
        base = Path(project_dir) if project_dir is not None else Path.cwd()
        return base / {"claude": ".claude/settings.json", "codex": ".codex/hooks.json",
                       "gemini": ".gemini/settings.json"}[agent]
    if agent == "claude":
        own = env.get("CLAUDE_CONFIG_DIR", "").strip()
        return (Path(own) if own else _home(env) / ".claude") / "settings.json"
    if agent == "codex":
        own = env.get("CODEX_HOME", "").strip()
        return (Path(own) if own else _home(env) / ".codex") / "hooks.json"
    return _home(env) / ".gemini" / "settings.json"


def _find_program(name: str) -> Path | None:
    beside = Path(sys.executable).parent / name  # the venv or prefix spacesd runs from
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside.absolute()
    found = shutil.which(name)
    return Path(found).absolute() if found else None


def hook_commands() -> dict[str, str]:
    """Shell commands for the installed hooks: absolute paths of the console scripts."""
    out = {}
    for name in HOOK_PROGRAMS:
        path = _find_program(name)
        if path is None:
            raise HookConfigError(f"{name} is not installed (looked beside {sys.executable} and "
                                  "on PATH): install Spaces first (./install.sh)")
        out[name] = shlex.quote(str(path))
    return out


def specs(agent: str, commands: Mapping[str, str]) -> list[HookSpec]:
    """The entries Spaces adds for `agent`, with explicit short timeouts."""
    session, context = commands[SESSION_HOOK], commands[CONTEXT_HOOK]
    if agent == "claude":
        return [HookSpec("Stop", None, {"type": "command", "command": session, "timeout": 10}),
                HookSpec("SessionStart", "startup|resume|clear|compact",
                         {"type": "command", "command": context, "timeout": 5}),
                HookSpec("SessionEnd", None,
                         {"type": "command", "command": session, "timeout": 10})]
    if agent == "codex":
        return [HookSpec("Stop", None, {"type": "command", "command": session, "timeout": 10}),
                HookSpec("SessionStart", "startup|resume|clear",
                         {"type": "command", "command": context, "timeout": 5}),
                HookSpec("SessionEnd", None, {"type": "command", "command": session,
                                              "timeout": CODEX_SESSION_END_TIMEOUT})]
    if agent == "gemini":
        return [HookSpec("AfterAgent", "*", {"name": "spaces-session", "type": "command",
                                             "command": session, "timeout": 10000,
                                             "description": "Post this session's summary to "
                                                            "Spaces #agent-logs"}),
                HookSpec("SessionStart", "*", {"name": "spaces-context", "type": "command",
                                               "command": context, "timeout": 5000,
                                               "description": "Recent activity of peer "
                                                              "sessions, from Spaces"}),
                HookSpec("SessionEnd", "*", {"name": "spaces-session-end", "type": "command",
                                             "command": session, "timeout": 10000,
                                             "description": "Post what the last summary of "
                                                            "this session left out"})]
    raise HookConfigError(f"unknown agent {agent!r} (one of {', '.join(AGENTS)})")


# ------------------------------------------------------------------------------- file editing


def _is_ours(handler: Any) -> bool:
    if not isinstance(handler, dict) or not isinstance(handler.get("command"), str):
        return False
    try:
        words = shlex.split(handler["command"])
    except ValueError:
        words = handler["command"].split()
    return bool(words) and Path(words[0]).name in HOOK_PROGRAMS


def _is_groups(value: Any) -> bool:
    """A list of matcher groups (objects); Gemini also keeps e.g. `disabled: [names]` here."""
    return isinstance(value, list) and all(isinstance(g, dict) for g in value)


def _read(path: Path) -> tuple[dict[str, Any], str | None, str]:
    """(data, original text or None if absent, indent) of a settings file; refuses junk."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}, None, "  "
    except (OSError, UnicodeDecodeError) as e:
        raise HookConfigError(f"{path}: cannot read it ({e}); not changed") from None
    if not text.strip():
        return {}, text, "  "
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise HookConfigError(f"{path}: not valid JSON ({e.msg} at line {e.lineno} column "
                              f"{e.colno}); fix it first, nothing was changed") from None
    if not isinstance(data, dict):
        raise HookConfigError(f"{path}: expected a JSON object, found {type(data).__name__}; "
                              "nothing was changed")
    hooks = data.get("hooks", {})
    if not isinstance(hooks, dict):
        raise HookConfigError(f"{path}: `hooks` is not an object; nothing was changed")
    for event, groups in hooks.items():
        if isinstance(groups, list) and any(isinstance(g, dict) for g in groups) and not (
                _is_groups(groups)):
            raise HookConfigError(f"{path}: hooks.{event} mixes objects with other values; "
                                  "nothing was changed")
    indent = "  "
    for line in text.splitlines()[1:]:
        stripped = line.lstrip(" \t")
        if stripped and stripped != line:
            indent = line[: len(line) - len(stripped)]
            break
    return data, text, indent


def _dump(data: dict[str, Any], indent: str) -> str:
    return json.dumps(data, indent=indent, ensure_ascii=False) + "\n"


def _write_atomic(path: Path, text: str) -> None:
    target = Path(os.path.realpath(path))  # a symlinked settings.json stays a symlink
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = target.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o600
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    dfd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def _unlink_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _strip_ours(hooks: dict[str, Any]) -> None:
    """Remove our handlers everywhere; drop groups and events they leave empty."""
    for event in list(hooks):
        groups = hooks[event]
        if not _is_groups(groups) or not groups:
            continue
        kept = []
        for group in groups:
            handlers = group.get("hooks")
            if isinstance(handlers, list) and any(_is_ours(h) for h in handlers):
                rest = [h for h in handlers if not _is_ours(h)]
                if not rest:
                    continue
                group = {**group, "hooks": rest}
            kept.append(group)
        if kept:
            hooks[event] = kept
        else:
            del hooks[event]


def _ours_by_event(hooks: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for event, groups in hooks.items():
        if not _is_groups(groups):
            continue
        for group in groups:
            handlers = group.get("hooks")
            if isinstance(handlers, list) and any(_is_ours(h) for h in handlers):
                found.setdefault(event, []).append(group)
    return found


def installed(path: Path) -> dict[str, list[dict[str, Any]]]:
    """Spaces' groups in the file, by event (empty when none or no file)."""
    data, _, _ = _read(path)
    hooks = data.get("hooks", {})
    return _ours_by_event(hooks) if isinstance(hooks, dict) else {}


def install(path: Path, agent: str, commands: Mapping[str, str] | None = None) -> Result:
    """Add Spaces' entries for `agent` to `path`; a no-op when exactly they are there."""
    wanted = specs(agent, hook_commands() if commands is None else commands)
    data, original, indent = _read(path)
    hooks = data.get("hooks")
    if hooks is None:
        hooks = data["hooks"] = {}
    desired = {spec.event: [spec.group()] for spec in wanted}
    if _ours_by_event(hooks) == desired:  # exactly our groups, once each: nothing to do
        return Result(path, changed=False)
    for spec in wanted:
        if spec.event in hooks and not _is_groups(hooks[spec.event]):
            raise HookConfigError(f"{path}: hooks.{spec.event} is not a list of objects; "
                                  "nothing was changed")
    _strip_ours(hooks)
    for spec in wanted:
        hooks.setdefault(spec.event, []).append(spec.group())
    text = _dump(data, indent)
    if text == original:
        return Result(path, changed=False)
    _write_atomic(path, text)
    return Result(path, changed=True)


def uninstall(path: Path) -> Result:
    """Remove Spaces' entries (of any agent) from `path`, and nothing else.

    A file left holding nothing but an empty object is removed, and its folder too when that
    is left empty: installing into a missing file and uninstalling restores the old state.
    A symlinked file is kept (as `{}`): it and its folder belong to the link's owner.
    """
    data, original, indent = _read(path)
    hooks = data.get("hooks")
    if original is None or not isinstance(hooks, dict) or not _ours_by_event(hooks):
        return Result(path, changed=False)
    _strip_ours(hooks)
    if not hooks:
        del data["hooks"]
    if not data and not path.is_symlink():  # a symlinked file (dotfiles) stays, as `{}`
        target = Path(os.path.realpath(path))
        target.unlink()
        with contextlib.suppress(OSError):  # not empty: other files live there
            target.parent.rmdir()
        return Result(path, changed=True, removed_file=True)
    _write_atomic(path, _dump(data, indent))
    return Result(path, changed=True)
