"""Local identities: random u256 values kept in a 0600 file under the data dir.

The embedded backend has no server to mint identities, so the daemon keeps its own: one for
itself (an agent profile named after user and host) and one for the local human who owns the
embedded database. They survive restarts, so a new session of the daemon is the same peer.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import secrets
import socket
from pathlib import Path

from spacesd.model import Identity

IDENTITY_FILE = "identities.json"
_USERNAME_OK = re.compile(r"[^a-z0-9_.-]+")


def sanitize_username(raw: str, fallback: str = "spaces") -> str:
    """Fold any text into the username rules: 3-32 characters of [a-z0-9_.-]."""
    name = _USERNAME_OK.sub("-", raw.lower()).strip("-.")
    name = re.sub(r"-{2,}", "-", name)
    if len(name) < 3:
        name = (name + "-" + fallback) if name else fallback
    return name[:32].rstrip("-.") or fallback


def local_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return os.environ.get("USER") or f"uid{os.getuid()}"


def local_host() -> str:
    return socket.gethostname().split(".")[0] or "localhost"


def default_agent_name() -> str:
    """`<user>-<host>`, e.g. `dev-laptop`, within the username rules."""
    return sanitize_username(f"{local_user()}-{local_host()}")


def default_owner_name() -> str:
    return sanitize_username(local_user(), fallback="owner")


def name_candidates(name: str) -> list[str]:
    """The usernames to try, in order, when `name` may be taken: it, then `<name>-2` ...
    `<name>-9` (`name` cut to 29 characters before the suffix)."""
    return [name] + [f"{name[:29]}-{i}" for i in range(2, 10)]


def load_identities(data_dir: Path, roles: tuple[str, ...] = ("agent", "owner")
                    ) -> dict[str, Identity]:
    """Read (or create, 0600) the identity file; every role in `roles` gets a stable identity."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = data_dir / IDENTITY_FILE
    stored: dict[str, str] = {}
    if path.exists():
        with path.open(encoding="utf-8") as f:
            raw = json.load(f)
        if not isinstance(raw, dict):
            raise ValueError(f"{path}: expected a JSON object")
        stored = {str(k): str(v) for k, v in raw.items()}
    changed = False
    for role in roles:
        if role not in stored:
            stored[role] = f"{secrets.randbits(256):064x}"
            changed = True
    if changed:
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(stored, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        dfd = os.open(data_dir, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    else:
        os.chmod(path, 0o600)
    return {role: Identity.from_hex(stored[role]) for role in roles}
