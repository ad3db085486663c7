"""install.sh in a throwaway HOME: a working daemon and wired hooks, idempotent, clean removal.

One real install per session (pip into a fresh venv, ~15-60 s); systemd is not used
(SPACES_INSTALL_NO_SYSTEMD=1: a test must never touch the real user manager), so the daemon
runs in the background as on a machine without `systemctl --user`. Extra pip arguments (e.g.
an offline wheel directory) can be given with SPACES_INSTALL_PIP_ARGS.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from testutil import install_env, snapshot_checkout

ROOT = Path(__file__).resolve().parent.parent
INSTALL = ROOT / "install.sh"

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="install.sh is tested on Linux")

USER_SETTINGS: dict[str, Any] = {
    "model": "opus",
    "hooks": {"Stop": [{"hooks": [{"type": "command", "command": "say done", "timeout": 3}]}]},
}

Manifest = dict[str, tuple[object, ...]]


def manifest(home: Path, names_only: tuple[Path, ...]) -> Manifest:
    """Every path under `home`: kind, link target or content hash and mode.

    Under `names_only` (the kept data and state, which the running daemon writes to) only the
    names count, without SQLite's transient side files.
    """
    out: Manifest = {}
    for dirpath, dirnames, filenames in os.walk(home):
        dirnames.sort()
        for name in dirnames + sorted(filenames):
            path = Path(dirpath) / name
            rel = str(path.relative_to(home))
            loose = any(path == d or d in path.parents for d in names_only)
            if loose and name.endswith(("-wal", "-shm", "-journal", ".lock")):
                continue
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir",)
            elif loose or ("/venv/" in f"/{rel}/" and "__pycache__" in rel):
                out[rel] = ("file",)
            else:
                out[rel] = ("file", hashlib.sha256(path.read_bytes()).hexdigest(),
                            stat.S_IMODE(st.st_mode))
    return out


@dataclass
class Install:
    base: Path
    home: Path
    env: dict[str, str]
    before: Manifest
    first: subprocess.CompletedProcess[str]

    @property
    def data(self) -> Path:
        return self.home / ".local" / "share" / "spacesd"

    @property
    def state(self) -> Path:
        return self.home / ".local" / "state" / "spacesd"

    @property
    def bin(self) -> Path:
        return self.home / ".local" / "bin"

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["sh", str(self.base / "src" / "install.sh"), *args],
                              env=self.env, cwd=self.base, capture_output=True, text=True,
                              timeout=600)

    def manifest(self) -> Manifest:
        return manifest(self.home, (self.data, self.state))

    def daemon_pid(self) -> int | None:
        try:
            pid = int((self.state / "daemon.pid").read_text())
            os.kill(pid, 0)
        except (OSError, ValueError):
            return None
        return pid


def wait_gone(pid: int) -> bool:
    """Whether process `pid` is gone within 10 s (polled every 0.1 s)."""
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except OSError:
            return True
        time.sleep(0.1)
    return False


@pytest.fixture(scope="module")
def installed() -> Iterator[Install]:
    base = Path(tempfile.mkdtemp(prefix="si-", dir="/tmp"))  # short: AF_UNIX path limit
    home = base / "home"
    (home / ".claude").mkdir(parents=True)
    (home / ".claude" / "settings.json").write_text(json.dumps(USER_SETTINGS, indent=2) + "\n")
    (home / ".bashrc").write_text("export EDITOR=vi\n")
    (home / ".local" / "bin").mkdir(parents=True)
    (home / ".local" / "bin" / "other-tool").write_text("#!/bin/sh\n")
    snapshot_checkout(base / "src")
    env = install_env(base)
    inst = Install(base, home, env, manifest(home, ()), subprocess.CompletedProcess([], 0))
    try:
        inst.first = inst.run()
        yield inst
    finally:  # stop any daemon a test started: the background one, or the fake unit's
        pids = [inst.daemon_pid()]
        with contextlib.suppress(OSError, ValueError):
            pids.append(int((base / "fake-systemd" / "pid").read_text()))
        for pid in pids:
            if pid is None:
                continue
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)
            wait_gone(pid)
        shutil.rmtree(base, ignore_errors=True)


def test_install_brings_up_a_daemon_and_wires_hooks(installed: Install) -> None:
    first = installed.first
    assert first.returncode == 0, first.stdout + first.stderr
    src = installed.base / "src"  # pip's build files do not stay in the checkout
    assert not (src / "build").exists() and not (src / "spacesd.egg-info").exists()
    assert "started in the background" in first.stdout  # and says so
    assert "running" in first.stdout  # ends with `spacesd status`
    for name in ("spacesd", "spaces-session-hook", "spaces-context-hook"):
        link = installed.bin / name
        assert link.is_symlink() and os.readlink(link) == str(installed.data / "venv" / "bin" /
                                                              name)
    status = subprocess.run([str(installed.bin / "spacesd"), "status", "--json"],
                            env=installed.env, capture_output=True, text=True, timeout=30)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout.splitlines()[0])["backend"] == "embedded"
    assert installed.daemon_pid() is not None
    settings = json.loads((installed.home / ".claude" / "settings.json").read_text())
    assert settings["model"] == "opus"
    stop = settings["hooks"]["Stop"]
    assert stop[0] == USER_SETTINGS["hooks"]["Stop"][0]  # the user's own hook is kept
    ours = stop[1]["hooks"][0]
    assert ours["timeout"] == 10
    # with the live hooks, the summary and the context run through the helper (issue 10)
    helper = str(installed.data / "bin" / "spaces-hook")
    assert shlex.split(ours["command"]) == [helper, "summary", "claude"]
    context = settings["hooks"]["SessionStart"][0]
    assert context["matcher"] == "startup|resume|clear|compact"
    assert shlex.split(context["hooks"][0]["command"]) == [helper, "context", "claude"]
    # The wired context hook runs against the daemon: exit 0, and quickly.
    started = time.monotonic()
    hook = subprocess.run(shlex.split(context["hooks"][0]["command"]), env=installed.env,
                          text=True,
                          input=json.dumps({"session_id": "s1", "cwd": str(installed.base),
                                            "hook_event_name": "SessionStart",
                                            "source": "startup", "transcript_path": ""}),
                          capture_output=True, timeout=30)
    assert hook.returncode == 0 and time.monotonic() - started < 5


def test_second_run_changes_nothing(installed: Install) -> None:
    before = installed.manifest()
    pid = installed.daemon_pid()
    again = installed.run()
    assert again.returncode == 0, again.stdout + again.stderr
    assert "up to date" in again.stdout and "nothing changed" in again.stdout
    assert installed.manifest() == before
    assert installed.daemon_pid() == pid


FAKE_SYSTEMCTL = r"""#!/bin/sh
# A stand-in for `systemctl --user`: logs its arguments; "starts" spacesd.service by running
# its ExecStart in the background, as the manager would. Never touches a real manager.
printf '%s\n' "$*" >>"$FAKE_SYSTEMD/calls"
units=$HOME/.config/systemd/user
start() {
  cmd=$(sed -n 's/^ExecStart=//p' "$units/spacesd.service")
  eval "nohup $cmd >>\"$FAKE_SYSTEMD/daemon.log\" 2>&1 </dev/null &"
  echo $! >"$FAKE_SYSTEMD/pid"
  i=0
  until "$HOME/.local/bin/spacesd" status >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -lt 150 ] || exit 1; sleep 0.1
  done
}
stop() {
  [ -f "$FAKE_SYSTEMD/pid" ] || return 0
  pid=$(cat "$FAKE_SYSTEMD/pid"); kill "$pid" 2>/dev/null
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  rm -f "$FAKE_SYSTEMD/pid"
}
running() { [ -f "$FAKE_SYSTEMD/pid" ] && kill -0 "$(cat "$FAKE_SYSTEMD/pid")" 2>/dev/null; }
case "$*" in
  "--user is-system-running") echo running ;;
  "--user daemon-reload"|"--user reset-failed spacesd.service") ;;
  "--user enable --now spacesd.socket spacesd.service") running || start ;;
  "--user restart spacesd.service") stop; start ;;
  "--user disable --now spacesd.socket spacesd.service") stop ;;
  *) echo "fake systemctl: unexpected: $*" >&2; exit 1 ;;
esac
"""


def test_with_systemd_user_units_are_installed_and_verified(installed: Install) -> None:
    """The systemd branch, against a fake `systemctl` (and the real systemd-analyze)."""
    fake, env = fake_systemd(installed)
    background = installed.daemon_pid()
    with_units = Install(installed.base, installed.home, env, installed.before,
                         installed.first)
    first = with_units.run()
    assert first.returncode == 0, first.stdout + first.stderr
    assert "systemd user units enabled" in first.stdout
    assert installed.daemon_pid() is None  # the background daemon made way for the unit
    if background is not None:
        with pytest.raises(OSError):
            os.kill(background, 0)
    units = installed.home / ".config" / "systemd" / "user"
    service = (units / "spacesd.service").read_text()
    assert f'ExecStart="{installed.bin / "spacesd"}" run' in service
    assert (units / "spacesd.socket").read_text() == (ROOT / "systemd" /
                                                      "spacesd.socket").read_text()
    calls = (fake / "calls").read_text().splitlines()
    assert "--user enable --now spacesd.socket spacesd.service" in calls
    analyze = shutil.which("systemd-analyze")
    if analyze:
        runtime = installed.base / "run"
        verify = subprocess.run([analyze, "--user", "verify", str(units / "spacesd.service"),
                                 str(units / "spacesd.socket")],
                                env={**env, "XDG_RUNTIME_DIR": str(runtime)},
                                capture_output=True, text=True, timeout=60)
        assert verify.returncode == 0, verify.stdout + verify.stderr
    # Idempotent here too: no reload, no restart, same files.
    before = installed.manifest()
    (fake / "calls").write_text("")
    again = with_units.run()
    assert again.returncode == 0, again.stdout + again.stderr
    assert installed.manifest() == before
    assert (fake / "calls").read_text().splitlines() == [
        "--user is-system-running", "--user enable --now spacesd.socket spacesd.service"]


def fake_systemd(installed: Install) -> tuple[Path, dict[str, str]]:
    """The fake `systemctl` (first on PATH) and an environment that lets install.sh use it."""
    fake = installed.base / "fake-systemd"
    if not fake.exists():
        (fake / "bin").mkdir(parents=True)
        (fake / "bin" / "systemctl").write_text(FAKE_SYSTEMCTL)
        (fake / "bin" / "systemctl").chmod(0o755)
    env = {k: v for k, v in installed.env.items() if k != "SPACES_INSTALL_NO_SYSTEMD"}
    env.update({"FAKE_SYSTEMD": str(fake),
                "PATH": f"{fake / 'bin'}{os.pathsep}{installed.env['PATH']}"})
    return fake, env


def test_uninstall_leaves_home_as_it_was_but_the_data(installed: Install) -> None:
    """After the systemd test the units are installed: --uninstall disables and removes them
    (through the fake systemctl, never a real manager) and whatever else it added."""
    fake, env = fake_systemd(installed)
    pid = installed.daemon_pid()
    if (fake / "pid").exists():
        pid = int((fake / "pid").read_text())
    (fake / "calls").write_text("")
    units = installed.home / ".config" / "systemd" / "user"
    had_units = (units / "spacesd.service").exists()
    gone = Install(installed.base, installed.home, env, installed.before,
                   installed.first).run("--uninstall")
    assert gone.returncode == 0, gone.stdout + gone.stderr
    if had_units:
        assert "--user disable --now spacesd.socket spacesd.service" in (
            fake / "calls").read_text().splitlines()
    assert not units.exists()
    if pid is not None and not wait_gone(pid):
        pytest.fail("the daemon is still running after --uninstall")
    after = installed.manifest()
    kept = {"data": installed.data, "state": installed.state}
    for rel in after:
        path = installed.home / rel
        if rel not in installed.before:
            assert any(path == d or d in path.parents or path in d.parents
                       for d in kept.values()), f"left behind: {rel}"
    for rel, entry in installed.before.items():
        assert after.get(rel) == entry, f"changed or removed: {rel}"
    assert (installed.data / "spaces.sqlite").exists()  # data kept
    assert not (installed.data / "venv").exists()
    runtime = installed.base / "run"  # XDG_RUNTIME_DIR: neither the lock nor its folder stay
    assert not (runtime / "spacesd" / "spacesd.lock").exists()
    assert not (runtime / "spacesd").exists()
    purge = installed.run("--uninstall", "--purge")
    assert purge.returncode == 0, purge.stdout + purge.stderr
    assert manifest(installed.home, ()) == installed.before


# ------------------------------------------------------------------- refusals, fast

def fake_bin(tmp_path: Path, python: str | None, uname: str = "Linux") -> dict[str, str]:
    """A PATH with just what install.sh needs before it looks for Python."""
    fake = tmp_path / "bin"
    fake.mkdir()
    for tool in ("dirname", "cat", "sed"):
        real = shutil.which(tool)
        assert real
        (fake / tool).symlink_to(real)
    (fake / "uname").write_text(f"#!/bin/sh\necho {uname}\n")
    (fake / "uname").chmod(0o755)
    if python is not None:
        (fake / "python3").write_text(python)
        (fake / "python3").chmod(0o755)
    return {"PATH": str(fake), "HOME": str(tmp_path / "home")}


def test_missing_python_is_a_clear_message(tmp_path: Path) -> None:
    env = fake_bin(tmp_path, "#!/bin/sh\nexit 1\n")  # a python3 older than 3.10
    result = subprocess.run(["/bin/sh", str(INSTALL)], env=env, capture_output=True, text=True)
    assert result.returncode == 1
    assert "Python 3.10 or newer is needed" in result.stderr
    assert not (tmp_path / "home").exists()


def test_unsupported_platform_is_a_clear_message(tmp_path: Path) -> None:
    env = fake_bin(tmp_path, None, uname="SunOS")
    result = subprocess.run(["/bin/sh", str(INSTALL)], env=env, capture_output=True, text=True)
    assert result.returncode == 1
    assert "unsupported platform: SunOS" in result.stderr
