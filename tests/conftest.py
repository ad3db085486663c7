"""Shared fixtures: private Spaces directories, and a running daemon (in a thread or a process).

- `spaces_env`: fresh data/state/runtime/config dirs under a short /tmp path (Unix socket paths
  are limited to ~108 bytes), exported through the SPACES_*_DIR variables for this test and
  for subprocesses (`spaces_env.env`); the embedded backend is forced and spacetime config
  files of the machine are out of reach.
- `daemon`: a daemon on the embedded backend running in a background thread of this process
  (fast to start); `daemon.request(op, **args)` -> ipc Ok | Err; `daemon.stop()`.
- `daemon_process`: the real `spacesd run` in a subprocess (`.start()`, `.stop()`, `.pid`).
- `agent_world`: the real agent clients with Spaces installed by install.sh in a throwaway
  HOME (tests/agents/harness.py), once per session.
- `agent_world_stdb`: the same, its daemon on a database of the real SpacetimeDB server
  (`real_stdb`), once per session; `agent_world_stdb.sql(query)` reads the server's rows.
- `real_stdb`: the real SpacetimeDB server (tests/real_stdb.py), started once per session with
  an owner; `real_stdb.publish()` publishes the module as a fresh database. Skips every test
  using it with one reason when the binary or the .wasm is missing; fails with CI=true.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from real_stdb import Missing, RealServer, locate

from spacesd.ipc import Client, Err, Ok

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


def console_script(name: str) -> str:
    """The venv's console script `name` (falls back to PATH)."""
    candidate = VENV_BIN / name
    return str(candidate) if candidate.exists() else (shutil.which(name) or name)


@dataclass
class SpacesEnv:
    root: Path
    data_dir: Path
    state_dir: Path
    runtime_dir: Path
    config_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    """The whole environment for subprocesses (os.environ plus the overrides)."""

    @property
    def socket(self) -> Path:
        return self.runtime_dir / "spacesd.sock"

    @property
    def outbox_dir(self) -> Path:
        return self.state_dir / "outbox"


def make_spaces_env(root: Path) -> tuple[SpacesEnv, dict[str, str | None]]:
    """The directories and the variables to set (None: unset) for a private Spaces."""
    dirs = SpacesEnv(root, root / "data", root / "state", root / "run", root / "config")
    overrides: dict[str, str | None] = {
        "SPACES_DATA_DIR": str(dirs.data_dir),
        "SPACES_STATE_DIR": str(dirs.state_dir),
        "SPACES_RUNTIME_DIR": str(dirs.runtime_dir),
        "SPACES_CONFIG_DIR": str(dirs.config_dir),
        "SPACES_BACKEND": "embedded",
        "SPACES_PROJECT_DIR": str(root),
        "SPACES_SPACETIME_CONFIG": str(root / "no-cli.toml"),
        "XDG_CONFIG_HOME": str(root / "xdg-config"),
        "SPACES_SOCKET": None,
        "SPACES_LIVE_DIR": None,
        "CLAUDE_CODE_SESSION_ID": None,
        "GEMINI_SESSION_ID": None,
        "CODEX_THREAD_ID": None,
        "SPACES_CHANNEL_ID": None,
        "SPACES_IDENTITY_NAME": None,
        "SPACES_COOLDOWN": None,
        "SPACETIMEDB_HOST": None,
        "SPACETIMEDB_DATABASE": None,
        "SPACETIMEDB_DB_NAME": None,
        "SPACETIMEDB_TOKEN": None,
    }
    env = dict(os.environ)
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    dirs.env = env
    return dirs, overrides


@pytest.fixture
def spaces_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[SpacesEnv]:
    root = Path(tempfile.mkdtemp(prefix="spc-", dir="/tmp"))
    dirs, overrides = make_spaces_env(root)
    for key, value in overrides.items():
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)
    try:
        yield dirs
    finally:
        shutil.rmtree(root, ignore_errors=True)


def wait_for_socket(sock: Path, timeout: float = 15.0, proc: subprocess.Popen[Any] | None = None
                    ) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            err = proc.stderr.read() if proc.stderr else ""
            raise RuntimeError(f"spacesd exited with {proc.returncode}: {err}")
        with Client(sock, timeout=0.5) as c:
            if isinstance(c.request("ping"), Ok):
                return
        time.sleep(0.03)
    raise TimeoutError(f"spacesd did not answer on {sock} within {timeout} s")


class ThreadDaemon:
    """The daemon (embedded backend) on an event loop in a background thread."""

    def __init__(self, env: SpacesEnv, **settings: Any) -> None:
        self.env = env
        self.socket = env.socket
        self.settings = settings
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None
        self.daemon_obj: Any = None
        self.error: BaseException | None = None

    def start(self) -> ThreadDaemon:
        from spacesd.daemon.embedded import EmbeddedBackend
        from spacesd.daemon.server import Daemon, Settings

        ready = threading.Event()
        backend_class = self.settings.pop("backend_class", EmbeddedBackend)
        backend = backend_class(data_dir=self.env.data_dir,
                                agent_name=self.settings.pop("agent_name", None))
        settings = Settings(socket_path=self.socket, runtime_dir=self.env.runtime_dir,
                            state_dir=self.env.state_dir, outbox_dir=self.env.outbox_dir,
                            **self.settings)
        self.daemon_obj = Daemon(backend, settings)

        def main() -> None:
            loop = asyncio.new_event_loop()
            self.loop = loop
            try:
                loop.run_until_complete(
                    self.daemon_obj.run(install_signals=False, ready=ready.set))
            except BaseException as e:
                self.error = e
                ready.set()
            finally:
                loop.close()

        self.thread = threading.Thread(target=main, name="spacesd-test", daemon=True)
        self.thread.start()
        ready.wait(20)
        if self.error is not None:
            raise RuntimeError(f"daemon failed to start: {self.error}") from self.error
        return self

    def request(self, op: str, timeout: float = 10.0, **args: Any) -> Ok | Err:
        with Client(self.socket, timeout=timeout) as c:
            return c.request(op, args)

    def ok(self, op: str, **args: Any) -> Any:
        res = self.request(op, **args)
        assert isinstance(res, Ok), res
        return res.result

    def stop(self) -> None:
        if self.thread is None or self.loop is None:
            return
        loop, daemon_obj = self.loop, self.daemon_obj
        if not loop.is_closed():
            loop.call_soon_threadsafe(daemon_obj.request_stop)
        self.thread.join(20)
        self.thread = None


@pytest.fixture
def daemon(spaces_env: SpacesEnv) -> Iterator[ThreadDaemon]:
    d = ThreadDaemon(spaces_env).start()
    try:
        yield d
    finally:
        d.stop()


class ProcessDaemon:
    """`spacesd run` in a subprocess, on the private directories of `env`."""

    def __init__(self, env: SpacesEnv, args: tuple[str, ...] = ()) -> None:
        self.env = env
        self.socket = env.socket
        self.args = args
        self.proc: subprocess.Popen[str] | None = None
        self.log = env.root / "spacesd.log"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 20.0) -> ProcessDaemon:
        log = self.log.open("a")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "spacesd", "run", *self.args], env=self.env.env,
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, text=True, cwd=self.env.root)
        log.close()
        try:
            wait_for_socket(self.socket, timeout, self.proc)
        except Exception:
            self.stop()
            raise RuntimeError(f"spacesd did not start: {self.log.read_text()}") from None
        return self

    def request(self, op: str, timeout: float = 10.0, **args: Any) -> Ok | Err:
        with Client(self.socket, timeout=timeout) as c:
            return c.request(op, args)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode
        self.proc = None
        return code


@pytest.fixture
def daemon_process(spaces_env: SpacesEnv) -> Iterator[ProcessDaemon]:
    d = ProcessDaemon(spaces_env)
    try:
        yield d
    finally:
        d.stop()


_REAL_STDB_MISSING: list[str] = []
"""What the real-server tier lacks (one line), once the fixture has looked."""


real_stdb_line = sys._getframe().f_lineno  # the fixture's (0-based) line: skips report it


@pytest.fixture(scope="session")
def real_stdb() -> Iterator[RealServer]:
    try:
        tools = locate()
    except Missing as missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"real SpacetimeDB tier cannot run (CI=true: it must): {missing}",
                        pytrace=False)
        message = f"real SpacetimeDB tier skipped: {missing}"
        _REAL_STDB_MISSING.append(message)
        pytest.skip(message)
    server = RealServer(tools).start()
    try:
        yield server
    finally:
        server.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Every skip of the real-server tier is reported at one place, so the summary folds them
    into one line ("SKIPPED [N] tests/conftest.py: real SpacetimeDB tier skipped: ...")."""
    outcome: Any = yield
    report = outcome.get_result()
    longrepr = report.longrepr
    if (report.skipped and _REAL_STDB_MISSING and isinstance(longrepr, tuple)
            and _REAL_STDB_MISSING[0] in str(longrepr[2])):
        report.longrepr = (__file__, real_stdb_line, longrepr[2])


@pytest.fixture(scope="session")
def agent_world() -> Iterator[Any]:
    """The real agent clients with Spaces installed in a throwaway HOME (tests/agents): one
    install.sh run for the whole test session; tests use their own projects in it."""
    from agents.harness import World

    base = Path(tempfile.mkdtemp(prefix="sa-", dir="/tmp"))  # short: AF_UNIX path limit
    world = World.create(base)
    try:
        yield world
    finally:
        world.close()


@pytest.fixture(scope="session")
def agent_world_stdb(real_stdb: RealServer) -> Iterator[Any]:
    """`agent_world` with its daemon on the real SpacetimeDB server: a fresh database published
    for the test session, the daemon its own identity there (tests/agents/harness.py, Stdb)."""
    from agents.harness import Stdb, World

    stdb = Stdb(real_stdb.url, real_stdb.publish(), real_stdb.owner_token)
    base = Path(tempfile.mkdtemp(prefix="sas-", dir="/tmp"))  # short: AF_UNIX path limit
    world = World.create(base, stdb=stdb)
    try:
        yield world
    finally:
        world.close()
