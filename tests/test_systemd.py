"""sd_notify and socket activation without libsystemd; the user units pass systemd-analyze."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from spacesd import systemd

ROOT = Path(__file__).resolve().parent.parent
UNITS = ROOT / "systemd"


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """AF_UNIX paths are limited to ~107 bytes: pytest's tmp_path can be too long."""
    import tempfile

    d = Path(tempfile.mkdtemp(prefix="sd-", dir="/tmp"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def datagram_listener(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(10)
    return sock


# ------------------------------------------------------------------------------- sd_notify

def test_notify_ready_status_stopping(short_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = str(short_tmp / "notify")
    with datagram_listener(path) as listener:
        monkeypatch.setenv("NOTIFY_SOCKET", path)
        assert systemd.ready("subscribed to spaces-team")
        assert listener.recv(4096) == b"READY=1\nSTATUS=subscribed to spaces-team"
        assert systemd.status("offline:\nretrying")
        assert listener.recv(4096) == b"STATUS=offline: retrying"
        assert systemd.stopping()
        assert listener.recv(4096) == b"STOPPING=1"


def test_notify_abstract_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"spacesd-test-{os.getpid()}-{time.monotonic_ns()}"
    with datagram_listener("\0" + name) as listener:
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert systemd.ready()
        assert listener.recv(4096) == b"READY=1"


def test_notify_without_systemd_does_nothing(short_tmp: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert systemd.ready() is False
    monkeypatch.setenv("NOTIFY_SOCKET", str(short_tmp / "nobody-listens"))
    assert systemd.ready() is False  # never raises
    monkeypatch.setenv("NOTIFY_SOCKET", "vsock:2:1234")
    assert systemd.notify("READY=1") is False


# ------------------------------------------------------------------------ socket activation

CHILD = textwrap.dedent("""
    import os, sys
    from spacesd import systemd
    pairs = systemd.listen_fds_with_names()
    left = [v for v in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES") if v in os.environ]
    sock = systemd.inherited_unix_listener()  # variables already consumed: finds nothing
    assert sock is None, sock
    import socket
    listener = socket.socket(fileno=pairs[0][0])
    conn, _ = listener.accept()
    conn.sendall(repr((pairs, left, os.get_inheritable(pairs[0][0]))).encode())
    conn.close()
""")


def spawn_activated(script: str, listener: socket.socket, env: dict[str, str],
                    **kw: object) -> subprocess.Popen[bytes]:
    """Start `script` the way systemd does: the socket at fd 3, LISTEN_PID = the child's pid."""
    fd = listener.fileno()
    boot = ("import os, sys\n"
            f"if {fd} != 3:\n    os.dup2({fd}, 3)\n    os.close({fd})\n"
            "os.environ['LISTEN_PID'] = str(os.getpid())\n"
            "os.execv(sys.executable, [sys.executable, '-c', sys.argv[1]])\n")
    proc: subprocess.Popen[bytes] = subprocess.Popen(
        [sys.executable, "-c", boot, script], pass_fds=(fd,),
        env={**env, "LISTEN_FDS": "1", "LISTEN_FDNAMES": "spacesd.socket"},
        **kw)  # type: ignore[call-overload]
    return proc


def test_listen_fds_picks_up_an_inherited_socket(short_tmp: Path) -> None:
    path = str(short_tmp / "activated.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(path)
        listener.listen()
        child = spawn_activated(CHILD, listener, dict(os.environ))
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(20)
        client.connect(path)
        data = b""
        while chunk := client.recv(4096):
            data += chunk
    assert child.wait(timeout=20) == 0
    assert data == b"([(3, 'spacesd.socket')], [], False)"


def test_listen_fds_ignores_another_process_fds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LISTEN_PID", str(os.getpid() + 1))
    monkeypatch.setenv("LISTEN_FDS", "2")
    assert systemd.listen_fds() == []
    assert "LISTEN_FDS" not in os.environ and "LISTEN_PID" not in os.environ
    monkeypatch.setenv("LISTEN_PID", "garbage")
    monkeypatch.setenv("LISTEN_FDS", "1")
    assert systemd.listen_fds(unset_environment=False) == []
    assert os.environ["LISTEN_FDS"] == "1"


# ------------------------------------------------------------------------ systemd-analyze

SYSTEMD_ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"


def spacesd_executable() -> str:
    candidate = Path(sys.executable).parent / "spacesd"
    return str(candidate if candidate.exists() else Path(sys.executable).resolve())


@pytest.mark.skipif(not Path(SYSTEMD_ANALYZE).exists(),
                    reason="systemd-analyze not installed (Debian: apt-get install systemd)")
@pytest.mark.parametrize("sandbox", [False, True], ids=["unit", "unit+sandbox-dropin"])
def test_units_pass_systemd_analyze_verify(short_tmp: Path, sandbox: bool) -> None:
    """`systemd-analyze --user verify` needs no running manager, only XDG_RUNTIME_DIR.

    ExecStart is pointed at a real executable (verify checks it). The sandbox variant appends
    the drop-in install.sh writes where user namespaces work.
    """
    unit_dir = short_tmp / "units"
    unit_dir.mkdir()
    service = (UNITS / "spacesd.service").read_text()
    assert "ExecStart=%h/.local/bin/spacesd run" in service
    service = service.replace("%h/.local/bin/spacesd", spacesd_executable())
    if sandbox:
        dropin = subprocess.run(["sh", str(ROOT / "install.sh"), "--print-sandbox-dropin"],
                                capture_output=True, text=True, check=True).stdout
        assert "ProtectSystem=strict" in dropin
        service += "\n" + dropin
    (unit_dir / "spacesd.service").write_text(service)
    shutil.copy(UNITS / "spacesd.socket", unit_dir / "spacesd.socket")
    runtime = short_tmp / "runtime"
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "HOME": str(short_tmp)}
    result = subprocess.run(
        [SYSTEMD_ANALYZE, "--user", "verify", str(unit_dir / "spacesd.service"),
         str(unit_dir / "spacesd.socket")],
        capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout + result.stderr == ""


def test_service_unit_contract() -> None:
    service = (UNITS / "spacesd.service").read_text()
    socket_unit = (UNITS / "spacesd.socket").read_text()
    for line in ("Type=notify", "Restart=on-failure", "KillSignal=SIGTERM", "TimeoutStopSec=",
                 "NoNewPrivileges=yes", "WantedBy=default.target"):
        assert line in service
    for line in ("ListenStream=%t/spacesd/spacesd.sock", "SocketMode=0600", "DirectoryMode=0700",
                 "WantedBy=sockets.target"):
        assert line in socket_unit


# --------------------------------------------------------- the daemon: READY and inherited socket

DAEMON_READY = importlib.util.find_spec("spacesd.daemon.server") is not None
needs_daemon = pytest.mark.skipif(
    not DAEMON_READY, reason="spacesd.daemon.server (the daemon) does not exist yet")


def daemon_env(d: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SPACETIMEDB_", "SPACES_", "XDG_", "NOTIFY_", "LISTEN_"))}
    env.update({"HOME": str(d / "home"), "SPACES_DATA_DIR": str(d / "data"),
                "SPACES_STATE_DIR": str(d / "state"), "SPACES_CONFIG_DIR": str(d / "config"),
                "SPACES_RUNTIME_DIR": str(d / "run"), "SPACES_BACKEND": "embedded",
                "SPACES_PROJECT_DIR": str(d)})
    return env


def spacesd_run_argv() -> list[str]:
    return [sys.executable, "-c", "import sys; from spacesd.cli import main; "
            "sys.argv[0] = 'spacesd'; sys.exit(main())", "run"]


def request(path: str, op: str, timeout: float = 10) -> dict[str, object]:
    body = json.dumps({"id": 1, "op": op}).encode()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(timeout)
        client.connect(path)
        client.sendall(struct.pack(">I", len(body)) + body)
        head = b""
        while len(head) < 4:
            head += client.recv(4 - len(head))
        (size,) = struct.unpack(">I", head)
        data = b""
        while len(data) < size:
            data += client.recv(size - len(data))
    reply: dict[str, object] = json.loads(data)
    return reply


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@needs_daemon
def test_spacesd_run_sends_ready_to_notify_socket(short_tmp: Path) -> None:
    notify_path = str(short_tmp / "notify")
    with datagram_listener(notify_path) as listener:
        listener.settimeout(30)
        env = {**daemon_env(short_tmp), "NOTIFY_SOCKET": notify_path}
        proc = subprocess.Popen(spacesd_run_argv(), env=env, cwd=short_tmp,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            messages: list[bytes] = []
            deadline = time.monotonic() + 30
            while not any(b"READY=1" in m.split(b"\n") for m in messages):
                assert time.monotonic() < deadline, messages
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
                messages.append(listener.recv(4096))
            # READY means usable: the socket answers now.
            assert request(str(short_tmp / "run" / "spacesd.sock"), "ping")["ok"] is True
            proc.terminate()
            assert proc.wait(timeout=30) == 0
            while not any(b"STOPPING=1" in m.split(b"\n") for m in messages):
                messages.append(listener.recv(4096))
        finally:
            stop(proc)


@needs_daemon
def test_spacesd_run_serves_on_an_inherited_socket(short_tmp: Path) -> None:
    """As under spacesd.socket: the daemon must use fd 3, not bind its own socket."""
    path = str(short_tmp / "activated.sock")
    env = daemon_env(short_tmp)
    env["SPACES_SOCKET"] = str(short_tmp / "not-this-one.sock")
    script = ("import sys; from spacesd.cli import main; sys.argv = ['spacesd', 'run']; "
              "sys.exit(main())")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(path)
        listener.listen()
        proc = spawn_activated(script, listener, env, cwd=short_tmp,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        reply = request(path, "ping", timeout=30)  # queued in the backlog until it accepts
        assert reply["ok"] is True, reply
        assert request(path, "status")["ok"] is True
        assert not Path(env["SPACES_SOCKET"]).exists()
        proc.terminate()
        assert proc.wait(timeout=30) == 0
        assert Path(path).exists(), "the socket file belongs to spacesd.socket: keep it"
    finally:
        stop(proc)
