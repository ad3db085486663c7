"""The PreToolUse lease check: deny (or ask about) an edit of a path another participant has
leased, naming the holder and when the lease ends (docs/live-coordination.md 10.3).

Run by the live hook (`spacesd.hooks.live`, event `pre`) only when the daemon's marker
`<session>.lease` says someone else holds a lease in this session's project; the C fast path
(spaces-hook.c) has already let every other tool call through without starting Python.

- The paths a tool will write: Claude Code `Write`, `Edit`, `MultiEdit` (`file_path`),
  `NotebookEdit` (`notebook_path`); Gemini CLI `write_file`, `replace` (`file_path`); Codex's
  `apply_patch` — as its own tool or given to the shell — whatever the tool is called, by the
  patch's `*** Add File:`, `*** Update File:`, `*** Delete File:` and `*** Move to:` lines.
  Other shell commands are not parsed (a documented limit: leases are enforced on the agents'
  edit tools).
- One `lease_check{paths, cwd, session}` round trip; the daemon answers from its cache.
- A conflict: Claude Code and Codex `permissionDecision: "deny"` (or `"ask"`) with the reason;
  Gemini CLI `decision: "deny"` (or `"ask"`) with it. `ask` comes from
  `SPACES_LEASE_ON_CONFLICT` or `lease_on_conflict` in Spaces' config.toml; Codex 0.169.0
  refuses `ask` ("unsupported permissionDecision:ask") and so always gets `deny`.
- Anything wrong (no daemon, a bad answer): the tool passes. A lease is a coordination aid; a
  hook never breaks the session.
"""

from __future__ import annotations

import os
import sys

from spacesd import ipc, paths
from spacesd.hooks import CONNECT_TIMEOUT, HOOK_TIMEOUT, log

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

HOOK = "spaces-live-hook"
EDIT_TOOLS = {"Write": "file_path", "Edit": "file_path", "MultiEdit": "file_path",
              "NotebookEdit": "notebook_path", "write_file": "file_path", "replace": "file_path"}
"""Claude Code's and Gemini CLI's file-writing tools and the argument naming the file."""
PATCH_MARK = "*** Begin Patch"
PATCH_HEADS = ("*** Add File: ", "*** Update File: ", "*** Delete File: ", "*** Move to: ")
MAX_PATHS = 64
MODES = ("deny", "ask")


def patch_paths(text: str) -> list[str]:
    """The files an apply_patch text touches (its file headers and move targets)."""
    out: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        for head in PATCH_HEADS:
            if line.startswith(head) and line[len(head):].strip():
                out.append(line[len(head):].strip())
    return out


def _strings(value: Any, depth: int = 0) -> list[str]:
    if isinstance(value, str):
        return [value]
    if depth > 3:
        return []
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v, depth + 1)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v, depth + 1)]
    return []


def edit_paths(tool_name: object, tool_input: object) -> list[str]:
    """The paths this tool call will write, in order, each once (at most MAX_PATHS)."""
    found: list[str] = []
    key = EDIT_TOOLS.get(tool_name) if isinstance(tool_name, str) else None
    if key is not None and isinstance(tool_input, dict):
        value = tool_input.get(key)
        if isinstance(value, str) and value:
            found.append(value)
    for text in _strings(tool_input):
        if PATCH_MARK in text:
            found += patch_paths(text)
    return list(dict.fromkeys(found))[:MAX_PATHS]


def _configured() -> object:
    """config.toml's `lease_on_conflict` (None when unreadable or absent)."""
    path = paths.config_file()
    if not os.path.exists(path):
        return None  # most machines: no tomllib import at all
    if sys.version_info >= (3, 11):
        import tomllib

        try:
            with open(path, "rb") as f:
                return tomllib.loads(f.read(1 << 20).decode("utf-8")).get("lease_on_conflict")
        except (OSError, ValueError):
            return None
    return None  # 3.10: no tomllib; the environment variable is the setting there


def mode() -> str:
    """deny or ask: SPACES_LEASE_ON_CONFLICT, else config.toml's lease_on_conflict, else deny.
    Read only when a conflict was found (tomllib is not an import every hook pays)."""
    raw = os.environ.get("SPACES_LEASE_ON_CONFLICT", "").strip().lower()
    if raw in MODES:
        return raw
    got = _configured()
    return got if isinstance(got, str) and got in MODES else "deny"


def reason(conflicts: list[dict[str, Any]]) -> str:
    """What the agent reads: each leased path, its holder and expiry, and what to do."""
    lines = [str(c.get("message") or f"{c.get('path')} is leased") for c in conflicts[:5]]
    if len(conflicts) > 5:
        lines.append(f"(and {len(conflicts) - 5} more leased paths)")
    holders = list(dict.fromkeys(str(c["holder_name"]) for c in conflicts
                                 if isinstance(c.get("holder_name"), str)))
    ask = f"spacesd post {holders[0]} ..." if holders else "spacesd post ..."
    lines.append(f"Spaces lease: not edited. Ask the holder ({ask}), wait for the lease to "
                 "end, or work on other files.")
    return "\n".join(lines)


def decision(agent: str, conflicts: list[dict[str, Any]], how: str) -> dict[str, Any]:
    """The client's PreToolUse answer that refuses (or asks about) the edit."""
    text = reason(conflicts)
    if agent == "gemini":
        return {"decision": how, "reason": text}
    if agent == "codex":
        how = "deny"  # 0.169.0: "PreToolUse hook returned unsupported permissionDecision:ask"
    return {"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": how,
                                   "permissionDecisionReason": text}}


def check(session: str, data: dict[str, Any]) -> list[dict[str, Any]]:
    """The conflicts of this tool call's paths (empty: let it through)."""
    found = edit_paths(data.get("tool_name"), data.get("tool_input"))
    cwd = data.get("cwd")
    if not found or not isinstance(cwd, str) or not cwd:
        return []
    args = {"paths": found, "cwd": cwd, "session": session}
    try:
        with ipc.Client(timeout=HOOK_TIMEOUT, connect_timeout=CONNECT_TIMEOUT) as client:
            res = client.request("lease_check", args)
    except ipc.IpcError as e:
        if e.code != "unreachable":
            log(HOOK, f"lease_check: {e.code}: {e.message}", session_id=session)
        return []
    if isinstance(res, ipc.Err):
        log(HOOK, f"lease_check: {res.code}: {res.message}", session_id=session)
        return []
    got = res.result.get("conflicts") if isinstance(res.result, dict) else None
    return [c for c in got if isinstance(c, dict)] if isinstance(got, list) else []


def lease_marked(session: str) -> bool:
    return os.path.exists(paths.live_dir() / f"{session}.lease")
