"""What `spacesd hooks install` decides for the live hooks of one agent, and its record.

- the program the live hooks run: the C fast path built here (spacesd/fasthook.py), else the
  `spaces-live-hook` console script (the Python pending path on every hook, never wrong);
- the installed client's version (`claude --version`), which gates PostToolBatch, the exec
  form and the asyncRewake waiter (spacesd/hookconfig.py);
- a record, `live-wiring.json` in the data dir: per agent {version, can_wake, fast}, read by
  the live hook when a session starts so the daemon knows whether it can be woken (the
  sender's receipt says so when not).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from spacesd import fasthook, hookconfig, paths

__all__ = ["WIRING", "client_version", "live_for", "mcp_command", "record", "wiring"]

WIRING = "live-wiring.json"
VERSION_COMMAND = {"claude": "claude", "codex": "codex", "gemini": "gemini"}


def client_version(agent: str) -> tuple[int, ...] | None:
    """The installed client's version (`<cli> --version`), None when it cannot be run."""
    exe = shutil.which(VERSION_COMMAND[agent])
    if exe is None:
        return None
    try:
        done = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=20,
                              check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return hookconfig.parse_version(done.stdout) if done.returncode == 0 else None


def live_for(agent: str, bin_dir: Path | None = None) -> tuple[hookconfig.Live, str]:
    """(how the live hooks run, one line saying so)."""
    built = fasthook.build(bin_dir)
    if built.fast:
        argv: tuple[str, ...] = built.argv
    else:
        script = hookconfig._find_program(hookconfig.LIVE_SCRIPT)
        if script is None:
            raise hookconfig.HookConfigError(f"{hookconfig.LIVE_SCRIPT} is not installed and "
                                             f"{built.note}")
        argv = (str(script),)
    return hookconfig.Live(argv, client_version(agent)), built.note


def mcp_command(has_mcp: bool) -> str | None:
    """The absolute `spacesd` to run as `spacesd mcp`, when this Spaces has that command
    (`has_mcp`: the CLI group knows it)."""
    if not has_mcp:
        return None
    found = hookconfig._find_program("spacesd")
    return str(found) if found else None


def _file() -> Path:
    return paths.data_dir() / WIRING


def wiring() -> dict[str, Any]:
    with contextlib.suppress(OSError, ValueError):
        data = json.loads(_file().read_text(encoding="utf-8"))
        if isinstance(data, dict):
            return data
    return {}


def record(agent: str, live: hookconfig.Live | None, fast: bool = False) -> None:
    """Remember what was wired for `agent` (None: removed)."""
    data = wiring()
    if live is None:
        data.pop(agent, None)
    else:
        data[agent] = {"version": ".".join(map(str, live.version)) if live.version else None,
                       "can_wake": agent == "claude" and live.can_wake, "fast": fast}
    path = _file()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{WIRING}.{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)
