"""Small helpers shared by the tests: a free TCP port, running a coroutine with a deadline,
polling a condition, a backend in an outage, and install.sh's environment and source
snapshot (test_install and the real-client harness, tests/agents)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from spacesd.daemon.backend import BackendUnavailable, JsonArgs
from spacesd.daemon.embedded import EmbeddedBackend
from spacesd.model import Identity
from spacesd.store import Changes

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(coro: Awaitable[T]) -> T:
    """Run `coro` in a new event loop; it fails after 60 seconds."""

    async def main() -> T:
        return await asyncio.wait_for(coro, 60)

    return asyncio.run(main())


async def wait_until(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll `cond` every 10 ms; AssertionError when it is not true within `timeout` s."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def install_env(base: Path) -> dict[str, str]:
    keep = ("PATH", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")
    env = {k: v for k, v in os.environ.items() if k in keep or k.startswith("PIP_")}
    venv_bin = str(Path(sys.executable).parent)  # not the repo's venv: the installed one
    # Nor rustup's proxies: pip runs `rustc --version` for its user agent, and a proxy run
    # under a new HOME creates ~/.rustup (a developer machine's quirk, not install.sh's).
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "/usr/bin:/bin").split(os.pathsep)
        if p != venv_bin and not (Path(p) / "rustup").exists())
    run = base / "run"
    run.mkdir(mode=0o700)
    env.update({"HOME": str(base / "home"), "XDG_RUNTIME_DIR": str(run),
                "SPACES_INSTALL_NO_SYSTEMD": "1"})
    if os.environ.get("SPACES_INSTALL_PIP_ARGS"):
        env["SPACES_INSTALL_PIP_ARGS"] = os.environ["SPACES_INSTALL_PIP_ARGS"]
    return env


def snapshot_checkout(dest: Path) -> None:
    """install.sh installs from the checkout it sits in: a copy holds still while the working
    tree changes under the test (and pip's build files stay out of it)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    dest.mkdir()
    for name in ("pyproject.toml", "README.md", "install.sh"):
        shutil.copy2(ROOT / name, dest / name)
    for name in ("spacesd", "systemd", "hooks"):
        shutil.copytree(ROOT / name, dest / name, ignore=ignore)



class OutageBackend(EmbeddedBackend):
    """The embedded backend behind an outage: while `down` (true at start) every call raises
    BackendUnavailable, as the SpacetimeDB backend does while its server is unreachable; a
    test ends the outage with `daemon.backend.down = False`."""

    down = True

    @property
    def available(self) -> bool:
        return not self.down and super().available

    async def call(self, reducer: str, args: JsonArgs, *, caller: Identity | None = None
                   ) -> Changes:
        if self.down:
            raise BackendUnavailable("SpacetimeDB is unreachable")
        return await super().call(reducer, args, caller=caller)


def git_repo(path: Path) -> Path:
    """A git repository at `path` (made) whose one commit holds `src/auth.py`: a project that
    leases and tasks key by its root commit."""
    (path / "src").mkdir(parents=True)
    git = ["git", "-C", str(path), "-c", "user.name=t", "-c", "user.email=t@e"]
    subprocess.run([*git[:3], "init", "-q"], check=True)
    (path / "src" / "auth.py").write_text("x\n")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "root"], check=True)
    return path
