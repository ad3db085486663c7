"""The real agent clients, driven headless against a fake model, with Spaces installed for real.

`World` is one throwaway HOME with Spaces installed the way a person does it: `./install.sh`
(pip into a venv, the daemon started in the background: no systemd in tests) and `spacesd
hooks install --agent claude|codex|gemini`. The three CLIs come from tests/agents/node_modules
(scripts/setup-agents.sh: the versions pinned in tests/agents/package.json). Every session gets
its own `FakeModel` (tests/agents/fakemodel.py) on 127.0.0.1, so several sessions of several
clients can run at once:

    world = World.create(base)                     # install.sh + hooks, daemon running
    proj = world.project("api")                    # a git repo with a test file, committed
    s = world.start("codex", proj, Script([...]), prompt="...")   # Popen, returns at once
    s.wait()                                       # exit code; s.stdout / s.stderr
    s.session_id, s.transcript, s.requests         # the client's id, its transcript file,
                                                   # the model requests it sent (bodies)
    world.summaries()                              # the summaries posted to #agent-logs
    world.stop_daemon(); world.start_daemon()

`World.create(base, stdb=Stdb(url, database, owner_token))` runs the World's daemon on a
SpacetimeDB database instead of the embedded engine (install.sh and every later daemon start get
SPACES_BACKEND=spacetimedb, SPACETIMEDB_HOST, SPACETIMEDB_DATABASE and SPACES_IDENTITY_NAME, as
tests/test_stdb_e2e.py's `stdb_env`; the daemon mints its own identity on the server). Several
Worlds on one database are several machines. `world.sql(query)` reads the server's rows with the
database owner's token (RLS does not narrow it). conftest.py's `agent_world_stdb` is such a World
on the real server (fixture `real_stdb`).

Each client is told to keep to itself: no telemetry, update checks, or other network
(`Client.env`, `Client.configure`); the model is the only server it talks to.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from agents.fakemodel import FakeModel, Recorded, Script

LIVE_CLIENT_MARKS = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only (install.sh)"),
    pytest.mark.skipif(shutil.which("npm") is None or shutil.which("node") is None,
                       reason="the real clients need node and npm"),
    pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler for the fast path"),
    pytest.mark.timeout(600),
]
"""The marks of a test module driving the real clients with Spaces' live hooks (the C
helper): its `pytestmark`."""


HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
NODE_BIN = HERE / "node_modules" / ".bin"
KINDS = ("claude", "codex", "gemini")
MODELS = {"claude": "claude-sonnet-4-5", "codex": "gpt-5.1-codex", "gemini": "gemini-2.5-flash"}
SUMMARY_KINDS = {"claude": "claude-code", "codex": "codex", "gemini": "gemini-cli"}


@dataclass(frozen=True)
class Stdb:
    """A SpacetimeDB database for a World's daemon: the server's URL, the database's name, and
    the database owner's token (for `World.sql`; the daemon never sees it)."""

    url: str
    database: str
    owner_token: str = ""


def setup_clients() -> None:
    """npm ci of the pinned CLIs, unless already there (scripts/setup-agents.sh)."""
    subprocess.run([str(ROOT / "scripts" / "setup-agents.sh")], check=True, timeout=900)


def wait_for(cond: Callable[[], Any], timeout: float = 20.0, step: float = 0.1) -> Any:
    """Poll `cond` until it returns something truthy (returned); AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not met within {timeout} s")
        time.sleep(step)


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.com",
           "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.com"}
    out = subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True,
                         text=True, timeout=30)
    return out.stdout


@dataclass
class Session:
    """One run of a real client (`kind`) in `project`, against its own fake model."""

    kind: str
    project: Path
    model: FakeModel
    proc: subprocess.Popen[str]
    home: Path
    started: float = field(default_factory=time.monotonic)
    stdout: str = ""
    stderr: str = ""
    returncode: int | None = None
    elapsed: float | None = None

    def wait(self, timeout: float = 180.0) -> int:
        """Wait for the client to exit; its exit code (stdout/stderr kept)."""
        if self.returncode is None:
            try:
                self.stdout, self.stderr = self.proc.communicate(timeout=timeout)
            finally:
                self.elapsed = time.monotonic() - self.started
                self.model.stop()
            self.returncode = self.proc.returncode
        return self.returncode

    @property
    def requests(self) -> list[Recorded]:
        """The model requests of the session's main loop, in order."""
        return self.model.model_requests()

    @property
    def session_id(self) -> str:
        """The client's own session id, from its machine-readable output."""
        self.wait()
        if self.kind == "codex":
            for line in self.stdout.splitlines():
                with contextlib.suppress(ValueError):
                    ev = json.loads(line)
                    if isinstance(ev, dict) and ev.get("type") == "thread.started":
                        return str(ev["thread_id"])
            raise AssertionError(f"no thread.started in codex's output: {self.stdout[-2000:]}")
        try:
            out = json.loads(self.stdout)
        except ValueError as e:
            raise AssertionError(f"{self.kind} printed no JSON: {self.stdout[-2000:]} "
                                 f"{self.stderr[-2000:]}") from e
        return str(out["session_id"])

    @property
    def transcript(self) -> Path:
        """The transcript file the client wrote for this session."""
        sid = self.session_id
        if self.kind == "claude":
            found = list((self.home / ".claude" / "projects").glob(f"*/{sid}.jsonl"))
        elif self.kind == "codex":
            found = list((self.home / ".codex" / "sessions").glob(f"*/*/*/rollout-*{sid}.jsonl"))
        else:
            found = [p for p in (self.home / ".gemini" / "tmp").glob(
                f"*/chats/session-*-{sid[:8]}.json*") if sid in p.read_text()[:2000]]
        assert len(found) == 1, f"{self.kind} transcript of {sid}: {found}"
        return found[0]


class World:
    """A throwaway HOME with Spaces installed, and the agent clients ready to run there."""

    def __init__(self, base: Path, stdb: Stdb | None = None) -> None:
        self.base = base
        self.home = base / "home"
        self.env: dict[str, str] = {}
        self.install_out = ""
        self.stdb = stdb

    @property
    def backend(self) -> str:
        return "spacetimedb" if self.stdb else "embedded"

    # -- set up / tear down

    @classmethod
    def create(cls, base: Path, agents: tuple[str, ...] = KINDS, *, stdb: Stdb | None = None,
               name: str = "machine") -> World:
        """install.sh in a new HOME under `base`; stdb: the daemon runs on that database, its
        identity named `name` there (a second World on the same database: another name)."""
        from testutil import install_env, snapshot_checkout

        setup_clients()
        world = cls(base, stdb)
        snapshot_checkout(base / "src")
        world.env = install_env(base)
        if stdb is not None:
            world.env.update({"SPACES_BACKEND": "spacetimedb", "SPACETIMEDB_HOST": stdb.url,
                              "SPACETIMEDB_DATABASE": stdb.database,
                              "SPACES_IDENTITY_NAME": name})
        # the pinned CLIs on PATH, as for a person: `spacesd hooks install` reads their version
        world.env["PATH"] = os.pathsep.join((str(world.bin), str(NODE_BIN), world.env["PATH"]))
        world.env["SPACES_COOLDOWN"] = "0"  # every turn posts (the tests count posts)
        res = subprocess.run(["sh", str(base / "src" / "install.sh")], env=world.env,
                             cwd=base, capture_output=True, text=True, timeout=600)
        world.install_out = res.stdout + res.stderr
        if res.returncode != 0:
            raise RuntimeError(f"install.sh failed: {world.install_out}")
        (world.home / ".gitconfig").write_text(
            "[user]\n\tname = Dev\n\temail = dev@example.com\n[init]\n\tdefaultBranch = main\n")
        for agent in agents:
            if agent != "claude":  # install.sh wired Claude Code's
                world.spacesd("hooks", "install", "--agent", agent)
        for agent in agents:
            world.configure(agent)
        return world

    def close(self) -> None:
        pid = self.daemon_pid()
        if pid is not None:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)
            wait_for(lambda: not _alive(pid), 10)
        shutil.rmtree(self.base, ignore_errors=True)

    @property
    def bin(self) -> Path:
        return self.home / ".local" / "bin"

    @property
    def state(self) -> Path:
        return self.home / ".local" / "state" / "spacesd"

    def spacesd(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        res = subprocess.run([str(self.bin / "spacesd"), *args], env=self.env,
                             capture_output=True, text=True, timeout=60, cwd=self.base)
        if check and res.returncode != 0:
            raise AssertionError(f"spacesd {' '.join(args)}: {res.stdout} {res.stderr}")
        return res

    # -- the daemon

    def daemon_pid(self) -> int | None:
        try:
            pid = int((self.state / "daemon.pid").read_text())
        except (OSError, ValueError):
            return None
        return pid if _alive(pid) else None

    def stop_daemon(self) -> None:
        pid = self.daemon_pid()
        assert pid is not None, "no daemon running"
        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: not _alive(pid), 10)

    def start_daemon(self) -> None:
        """`spacesd run` in the background, as install.sh starts it (pid file, log)."""
        log = open(self.state / "daemon.log", "ab")  # noqa: SIM115 - the child keeps it
        proc = subprocess.Popen([str(self.bin / "spacesd"), "run"], env=self.env,
                                cwd=self.home, stdout=log, stderr=log,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        (self.state / "daemon.pid").write_text(f"{proc.pid}\n")
        wait_for(lambda: self.spacesd("status", check=False).returncode == 0, 15)

    # -- the server's rows (SpacetimeDB only)

    def sql(self, query: str) -> list[dict[str, Any]]:
        """The rows `query` returns on the World's database, as the database owner, each a dict
        of column name -> value as the server's JSON gives it, except that identities and
        timestamps are unwrapped ("0x..." hex, micros). Only for a World created with `stdb`."""
        assert self.stdb is not None and self.stdb.owner_token, "sql needs Stdb(owner_token=)"
        req = urllib.request.Request(f"{self.stdb.url}/v1/database/{self.stdb.database}/sql",
                                     data=query.encode(), method="POST")
        req.add_header("Authorization", f"Bearer {self.stdb.owner_token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                tables = json.loads(resp.read())
        except urllib.error.HTTPError as e:
            raise AssertionError(f"{query}: HTTP {e.code}: {e.read().decode()[:2000]}") from None
        rows: list[dict[str, Any]] = []
        for table in tables:
            cols = table["schema"]["elements"]
            rows += [{c["name"]["some"]: _unwrap(c["algebraic_type"], v)
                      for c, v in zip(cols, row, strict=True)} for row in table["rows"]]
        return rows

    # -- what was posted

    def messages(self, channel: str = "agent-logs") -> list[dict[str, Any]]:
        out = self.spacesd("read", channel, "-n", "500", "--json").stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def summaries(self, session_id: str | None = None) -> list[dict[str, Any]]:
        """The session summaries posted to #agent-logs (parsed), oldest first."""
        found = []
        for msg in self.messages():
            content = msg.get("content")
            try:
                obj = json.loads(content) if isinstance(content, str) else None
            except ValueError:
                continue
            if isinstance(obj, dict) and obj.get("kind") == "session_summary" and (
                    session_id is None or obj.get("session_id") == session_id):
                found.append(obj)
        return found

    # -- projects and sessions

    def project(self, name: str) -> Path:
        """A git repository with a passing unittest file, committed on branch main."""
        path = self.base / "projects" / name
        path.mkdir(parents=True)
        git(path, "init", "-q", "-b", "main")
        git(path, "config", "user.name", "Dev")  # Gemini's shell does not read ~/.gitconfig
        git(path, "config", "user.email", "dev@example.com")
        (path / "test_calc.py").write_text(
            "import unittest\n\n\nclass T(unittest.TestCase):\n"
            "    def test_add(self) -> None:\n        self.assertEqual(1 + 1, 2)\n")
        git(path, "add", "-A")
        git(path, "commit", "-q", "-m", "initial")
        return path

    def configure(self, kind: str) -> None:
        """The client's own settings in HOME: quiet, and authenticated against the fake."""
        if kind == "gemini":
            path = self.home / ".gemini" / "settings.json"
            settings = json.loads(path.read_text()) if path.is_file() else {}
            settings.update({
                "security": {"auth": {"selectedType": "gemini-api-key"}},
                "privacy": {"usageStatisticsEnabled": False},
                "telemetry": {"enabled": False},
                "general": {"disableAutoUpdate": True, "disableUpdateNag": True},
            })
            path.write_text(json.dumps(settings, indent=2) + "\n")

    def client_env(self, kind: str, model_url: str) -> dict[str, str]:
        env = dict(self.env)
        if kind == "claude":
            env.update({"IS_SANDBOX": "1", "ANTHROPIC_BASE_URL": model_url,
                        "ANTHROPIC_API_KEY": "sk-ant-fake-key-for-tests",
                        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
                        "DISABLE_AUTOUPDATER": "1", "DISABLE_TELEMETRY": "1",
                        "DISABLE_ERROR_REPORTING": "1"})
        elif kind == "codex":
            env.update({"CODEX_HOME": str(self.home / ".codex"),
                        "FAKE_OPENAI_KEY": "sk-fake-key-for-tests"})
        else:
            env.update({"GEMINI_API_KEY": "fake-gemini-key-for-tests",
                        "GOOGLE_GEMINI_BASE_URL": model_url,
                        "GEMINI_CLI_TRUST_WORKSPACE": "true", "NO_COLOR": "1"})
        return env

    def _argv(self, kind: str, model: FakeModel, prompt: str, trust: bool,
              resume: str | None) -> list[str]:
        name = MODELS[kind]
        if kind == "claude":
            more = ["--resume", resume] if resume else []
            return [str(NODE_BIN / "claude"), "-p", prompt, "--model", name,
                    "--output-format", "json", "--dangerously-skip-permissions", *more]
        if kind == "codex":
            argv = [str(NODE_BIN / "codex"), "exec", "--json", "--skip-git-repo-check",
                    "--dangerously-bypass-approvals-and-sandbox"]
            if trust:  # headless, Codex runs no hook a person has not trusted without it
                argv.append("--dangerously-bypass-hook-trust")
            provider = (f'model_providers.fake={{name="fake",base_url="{model.url}/v1",'
                        f'wire_api="responses",env_key="FAKE_OPENAI_KEY",'
                        f'request_max_retries=0,stream_max_retries=0}}')
            for kv in (f'model="{name}"', 'model_provider="fake"', provider,
                       "check_for_update_on_startup=false", "analytics.enabled=false"):
                argv += ["-c", kv]
            return [*argv, *(["resume", resume] if resume else []), prompt]
        more = ["--resume", resume] if resume else []
        return [str(NODE_BIN / "gemini"), "-p", prompt, "--yolo", "-m", name, "-o", "json",
                *more]

    def start(self, kind: str, project: Path, script: Script, prompt: str = "Do the task.",
              *, hooks: bool = True, trust: bool = True, resume: str | None = None,
              env: dict[str, str] | None = None) -> Session:
        """Start a session of `kind` in `project` (returns at once: `.wait()` for the end).

        hooks=False: the client runs with config that has no Spaces hooks (a baseline);
        trust=False: Codex without --dangerously-bypass-hook-trust; resume: a session id to
        continue (Claude Code --resume, Codex exec resume, Gemini --resume)."""
        assert kind in KINDS, kind
        script.model = MODELS[kind]
        model = FakeModel(script).start()
        run_env = {**self.client_env(kind, model.url), **(env or {})}
        if not hooks:
            run_env = self._without_hooks(kind, run_env)
        argv = self._argv(kind, model, prompt, trust and hooks, resume)
        proc = subprocess.Popen(argv, cwd=project,
                                env=run_env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        return Session(kind, project, model, proc, self.home)

    def run(self, kind: str, project: Path, script: Script, prompt: str = "Do the task.",
            **kw: Any) -> Session:
        """Start a session and wait for it; it must exit 0."""
        s = self.start(kind, project, script, prompt, **kw)
        code = s.wait()
        assert code == 0, f"{kind} exited {code}: {s.stdout[-3000:]}\n{s.stderr[-3000:]}"
        return s

    def _without_hooks(self, kind: str, env: dict[str, str]) -> dict[str, str]:
        """The same client with Spaces' hooks out of the way (for the benchmark's baseline):
        its config folder points at a copy with no hooks."""
        bare = self.base / f"bare-{kind}"
        if kind == "claude":
            (bare).mkdir(exist_ok=True)
            env["CLAUDE_CONFIG_DIR"] = str(bare)
        elif kind == "codex":
            bare.mkdir(exist_ok=True)
            env["CODEX_HOME"] = str(bare)
        else:
            home = bare / "home"
            (home / ".gemini").mkdir(parents=True, exist_ok=True)
            src = json.loads((self.home / ".gemini" / "settings.json").read_text())
            src.pop("hooks", None)
            (home / ".gemini" / "settings.json").write_text(json.dumps(src))
            env["HOME"] = str(home)
        return env


def _unwrap(kind: dict[str, Any], value: Any) -> Any:
    """A special product of one field (__identity__, __timestamp_micros_since_unix_epoch__):
    its value; anything else as given."""
    fields = kind.get("Product", {}).get("elements", []) if isinstance(kind, dict) else []
    if len(fields) == 1 and str(fields[0]["name"].get("some", "")).startswith("__"):
        return value[0]
    return value


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # a zombie child of ours counts as gone
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return True


@contextlib.contextmanager
def world(base: Path, stdb: Stdb | None = None) -> Iterator[World]:
    w = World.create(base, stdb=stdb)
    try:
        yield w
    finally:
        w.close()
