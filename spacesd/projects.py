"""The project a lease applies to: an identity two machines agree on without configuration.

`git:<root commit>` of the repository a directory is in (`git rev-list --max-parents=0 HEAD`;
the oldest root when there are several), else `dir:<hostname>:<realpath>` (machine-local by
design). Computed by the daemon once per directory (cached), never in a hook's fast path.
"""

from __future__ import annotations

import functools
import os
import socket
import subprocess
from dataclasses import dataclass

GIT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Project:
    key: str
    """`git:<sha>` or `dir:<host>:<path>`: what leases are keyed by."""
    root: str
    """The repository's top level (or the directory itself): paths are relative to it."""


def _git(cwd: str, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", cwd, *args], capture_output=True, text=True,
                              timeout=GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@functools.lru_cache(maxsize=256)
def _project_of_real(real: str) -> Project:
    top = _git(real, "rev-parse", "--show-toplevel")
    if top:
        roots = _git(top, "rev-list", "--max-parents=0", "--reverse", "HEAD")
        if roots:
            return Project(f"git:{roots.splitlines()[0]}", os.path.realpath(top))
        real = os.path.realpath(top)
    return Project(f"dir:{socket.gethostname().split('.')[0]}:{real}", real)


def project_of(cwd: str) -> Project:
    """The project of a directory (which must exist)."""
    return _project_of_real(os.path.realpath(cwd))


def relative_path(project: Project, path: str, cwd: str | None = None) -> str | None:
    """`path` relative to the project's root: an absolute path, or one relative to `cwd`
    (else to the root). None when it lies outside the root."""
    base = cwd if cwd is not None else project.root
    full = os.path.normpath(os.path.join(base, path))
    real = os.path.realpath(full) if os.path.isabs(full) else full
    root = project.root.rstrip("/") + "/"
    for candidate in (real, full):
        if (candidate + "/").startswith(root):
            rel = candidate[len(root):]
            return rel if rel else None
    return None
