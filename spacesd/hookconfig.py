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

Live delivery (docs/live-coordination.md, 5.1 and 7.3; `live_specs`) adds, per agent, the
hook points where inbox items reach a running session and the presence events, all running
the fast path ``spaces-hook EVENT AGENT`` (spacesd/fasthook.py; without a compiler the
``spaces-live-hook`` script): Claude Code PostToolUse, PostToolBatch (2.1.145 and later only:
an older version ignores it or rejects the whole file), PreToolUse, UserPromptSubmit, Stop,
an ``asyncRewake`` Stop waiter (2.1.218 and later), Notification, SessionStart, SessionEnd, in
exec form (``args``, 2.1.139 and later; a command string before); Codex PostToolUse,
PreToolUse, UserPromptSubmit, Stop, SessionStart, SessionEnd (3 s), PermissionRequest; Gemini
AfterTool, BeforeTool (its file-writing tools only: the lease check, spacesd/hooks/lease.py),
BeforeAgent, AfterAgent, SessionStart, SessionEnd, Notification. PreToolUse (Claude Code,
Codex) also runs the lease check.

"Ours" is any command handler whose program is named ``spaces-session-hook``,
``spaces-context-hook``, ``spaces-hook`` or ``spaces-live-hook`` (whatever its folder), so a
reinstall from another place replaces rather than duplicates. Everything else in the file is
kept, in order. Installing twice changes nothing the second time. Writes are atomic (temporary
file, fsync, rename; a symlinked settings file is written through). A file that is not a JSON
object is refused untouched.
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
    "Live",
    "Result",
    "hook_commands",
    "install",
    "installed",
    "live_specs",
    "parse_version",
    "settings_path",
    "specs",
    "summary_spec",
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
LIVE_HOOK = "spaces-hook"
LIVE_SCRIPT = "spaces-live-hook"
HOOK_PROGRAMS = (SESSION_HOOK, CONTEXT_HOOK)
"""The console scripts `hook_commands` looks up."""
OWN_PROGRAMS = (SESSION_HOOK, CONTEXT_HOOK, LIVE_HOOK, LIVE_SCRIPT)
CLAUDE_ARGS_FORM = (2, 1, 139)
"""Claude Code runs `command` + `args` without a shell from this version (CHANGELOG)."""
CLAUDE_POST_TOOL_BATCH = (2, 1, 145)
"""PostToolBatch is known from here (a third party's figure; 2.1.328 checked here)."""
CLAUDE_ASYNC_REWAKE = (2, 1, 218)
"""The lowest version where asyncRewake is confirmed (section 8; 2.1.328 checked here)."""
WAKE_TIMEOUT = 86400


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


@dataclass(frozen=True)
class Live:
    """How the live hooks are run: `argv` (the fast-path helper, or the live script) gets
    EVENT AGENT appended; `version` is the installed client's (None: unknown, so no gated
    feature is used)."""

    argv: tuple[str, ...]
    version: tuple[int, ...] | None = None

    def at_least(self, gate: tuple[int, ...]) -> bool:
        return self.version is not None and self.version >= gate

    @property
    def can_wake(self) -> bool:
        return self.at_least(CLAUDE_ASYNC_REWAKE)


def parse_version(text: str) -> tuple[int, ...] | None:
    """`2.1.328 (Claude Code)` -> (2, 1, 328); None when there is no version number."""
    for word in text.split():
        parts = word.strip("v").split(".")
        if len(parts) >= 2 and all(p.isdigit() for p in parts):
            return tuple(int(p) for p in parts)
    return None


def _live_handler(agent: str, live: Live, event: str, timeout: int,
                  **extra: Any) -> dict[str, Any]:
    argv = [*live.argv, event, agent]
    handler: dict[str, Any] = {"type": "command"}
    if agent == "claude" and live.at_least(CLAUDE_ARGS_FORM):
        handler.update(command=argv[0], args=argv[1:])
    else:
        handler["command"] = shlex.join(argv)
    if agent == "gemini":
        handler = {"name": f"spaces-live-{event}", **handler}
        timeout *= 1000
    handler["timeout"] = timeout
    handler.update(extra)
    return handler


GEMINI_EDITS = "^(write_file|replace)$"
"""Gemini's BeforeTool runs the lease check only (it has no additionalContext for the inbox),
so only for its file-writing tools (the matcher is a regular expression on the tool name)."""


def live_specs(agent: str, live: Live) -> list[HookSpec]:
    """The live delivery and presence entries for `agent` (see the module docstring)."""
    def h(event: str, timeout: int = 5, **extra: Any) -> dict[str, Any]:
        return _live_handler(agent, live, event, timeout, **extra)

    if agent == "claude":
        out = [HookSpec("PostToolUse", None, h("post"))]
        if live.at_least(CLAUDE_POST_TOOL_BATCH):
            out.append(HookSpec("PostToolBatch", None, h("batch")))
        out += [HookSpec("PreToolUse", None, h("pre")),
                HookSpec("UserPromptSubmit", None, h("prompt")),
                HookSpec("Stop", None, h("stop"))]
        if live.can_wake:
            out.append(HookSpec("Stop", None, h("wake", WAKE_TIMEOUT, asyncRewake=True)))
        return [*out, HookSpec("Notification", None, h("notify")),
                HookSpec("SessionStart", None, h("start")), HookSpec("SessionEnd", None, h("end"))]
    if agent == "codex":
        return [HookSpec("PostToolUse", None, h("post")), HookSpec("PreToolUse", None, h("pre")),
                HookSpec("UserPromptSubmit", None, h("prompt")),
                HookSpec("Stop", None, h("stop")), HookSpec("SessionStart", None, h("start")),
                HookSpec("SessionEnd", None, h("end", 3)),
                HookSpec("PermissionRequest", None, h("notify"))]
    if agent == "gemini":
        return [HookSpec("AfterTool", ".*", h("post")),
                HookSpec("BeforeTool", GEMINI_EDITS, h("pre")),
                HookSpec("BeforeAgent", "*", h("prompt")),
                HookSpec("AfterAgent", "*", h("stop")), HookSpec("SessionStart", "*", h("start")),
                HookSpec("SessionEnd", "*", h("end")), HookSpec("Notification", "*", h("notify"))]
    raise HookConfigError(f"unknown agent {agent!r} (one of {', '.join(AGENTS)})")


def summary_spec(agent: str, live: Live, spec: HookSpec,
                 commands: Mapping[str, str]) -> HookSpec:
    """With the live hooks, the session hook runs as `<live> summary AGENT`: detached from the
    client, which goes on at once (spacesd/hooks/session.py, main_detached); the context hook
    as `<live> context AGENT` (no `site` import: sooner). Other entries and fields are kept."""
    event = {commands[SESSION_HOOK]: "summary", commands[CONTEXT_HOOK]: "context"}.get(
        spec.handler.get("command", ""))
    if event is None:
        return spec
    how = _live_handler(agent, live, event, 1)
    handler = {k: v for k, v in spec.handler.items() if k not in ("command", "args")}
    handler.update({k: v for k, v in how.items() if k in ("command", "args")})
    return HookSpec(spec.event, spec.matcher, handler)


# ------------------------------------------------------------------------------- file editing


def _is_ours(handler: Any) -> bool:
    if not isinstance(handler, dict) or not isinstance(handler.get("command"), str):
        return False
    if isinstance(handler.get("args"), list):  # Claude Code's exec form: a program path
        return Path(handler["command"]).name in OWN_PROGRAMS
    try:
        words = shlex.split(handler["command"])
    except ValueError:
        words = handler["command"].split()
    return bool(words) and Path(words[0]).name in OWN_PROGRAMS


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


def install(path: Path, agent: str, commands: Mapping[str, str] | None = None,
            live: Live | None = None) -> Result:
    """Add Spaces' entries for `agent` to `path` (with `live`, the live hooks too); a no-op
    when exactly they are there."""
    commands = hook_commands() if commands is None else commands
    wanted = specs(agent, commands)
    if live is not None:
        wanted = [summary_spec(agent, live, s, commands) for s in wanted]
        wanted += live_specs(agent, live)
    data, original, indent = _read(path)
    hooks = data.get("hooks")
    if hooks is None:
        hooks = data["hooks"] = {}
    desired: dict[str, list[dict[str, Any]]] = {}
    for spec in wanted:
        desired.setdefault(spec.event, []).append(spec.group())
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
