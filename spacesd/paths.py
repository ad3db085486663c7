"""Where Spaces keeps its files. Standard library only: the hooks import this.

The directories follow platformdirs' rules for the app name "spacesd" (XDG on Linux and the
BSDs, ~/Library on macOS); tests/test_paths.py checks that they agree with platformdirs itself,
which the daemon and CLI may use. Environment overrides, for tests and unusual setups:
SPACES_SOCKET (the socket path), SPACES_DATA_DIR, SPACES_STATE_DIR, SPACES_RUNTIME_DIR,
SPACES_CONFIG_DIR.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

TYPE_CHECKING = False  # not typing's: the hooks must not pay for importing typing
if TYPE_CHECKING:
    from collections.abc import Mapping

APP = "spacesd"


def _env_dir(var: str, env: Mapping[str, str] | None = None) -> Path | None:
    value = (os.environ if env is None else env).get(var, "").strip()
    return Path(value) if value else None


def _home(env: Mapping[str, str] | None = None) -> Path:
    home = "" if env is None else env.get("HOME", "").strip()
    return Path(home) if home else Path.home()


def _xdg(var: str, default: str, env: Mapping[str, str] | None = None) -> Path:
    value = (os.environ if env is None else env).get(var, "").strip()
    return Path(value) if value else _home(env) / default


def data_dir() -> Path:
    """Durable data: the embedded database, identity keys. ~/.local/share/spacesd"""
    if (d := _env_dir("SPACES_DATA_DIR")) is not None:
        return d
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / APP
    return _xdg("XDG_DATA_HOME", ".local/share") / APP


def state_dir() -> Path:
    """State that may be lost without harm to data: logs, cooldowns, the hooks' outbox."""
    if (d := _env_dir("SPACES_STATE_DIR")) is not None:
        return d
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / APP
    return _xdg("XDG_STATE_HOME", ".local/state") / APP


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    """Spaces' own settings; `env` stands in for os.environ (config.load_config takes one)."""
    if (d := _env_dir("SPACES_CONFIG_DIR", env)) is not None:
        return d
    if sys.platform == "darwin":
        return _home(env) / "Library" / "Application Support" / APP
    return _xdg("XDG_CONFIG_HOME", ".config", env) / APP


def runtime_dir() -> Path:
    """The socket's folder: $XDG_RUNTIME_DIR/spacesd, else /run/user/<uid>/spacesd.

    Where neither exists (containers, some ssh sessions), /tmp/runtime-<uid>/spacesd, as
    platformdirs does; the daemon creates it 0700 and refuses one owned by another user.
    """
    if (d := _env_dir("SPACES_RUNTIME_DIR")) is not None:
        return d
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / APP / "TemporaryItems"
    xdg = os.environ.get("XDG_RUNTIME_DIR", "").strip()
    if xdg:
        return Path(xdg) / APP
    run_user = Path(f"/run/user/{os.getuid()}")
    if run_user.is_dir() and os.access(run_user, os.W_OK):
        return run_user / APP
    return Path(f"/tmp/runtime-{os.getuid()}") / APP


def socket_path() -> Path:
    if (s := _env_dir("SPACES_SOCKET")) is not None:
        return s
    return runtime_dir() / "spacesd.sock"


def live_dir_override() -> Path | None:
    """SPACES_LIVE_DIR, if set: where the daemon keeps live sessions' marker files."""
    return _env_dir("SPACES_LIVE_DIR")


def live_dir() -> Path:
    """The marker files of live sessions (`<session>.inbox`): SPACES_LIVE_DIR, else the
    runtime dir's `live/` (tmpfs on systemd machines)."""
    return live_dir_override() or runtime_dir() / "live"


def acks_dir() -> Path:
    """Acks of inbox claims a hook could not deliver; the daemon applies them at start."""
    return state_dir() / "acks"


def bin_dir() -> Path:
    """Programs Spaces builds on this machine (the fast-path hook helper, spaces-hook.c
    computes the same live dir as `live_dir`: keep them in step)."""
    return data_dir() / "bin"


def outbox_dir() -> Path:
    """Posts the hooks could not deliver; the daemon sends them when it starts."""
    return state_dir() / "outbox"


def log_file() -> Path:
    """One line per hook failure (hooks never print on failure)."""
    return state_dir() / "hooks.log"


def config_file(env: Mapping[str, str] | None = None) -> Path:
    """Spaces' own optional settings (TOML)."""
    return config_dir(env) / "config.toml"
