"""sd_notify and socket activation without libsystemd (the protocol, as gunicorn does it).

- `notify(state)` sends one datagram to ``$NOTIFY_SOCKET`` (a path, or ``@name`` for an
  abstract socket): ``ready()`` = ``READY=1``, ``status(text)`` = ``STATUS=...``,
  ``stopping()`` = ``STOPPING=1``. Without ``NOTIFY_SOCKET`` (not run by systemd) these do
  nothing and return False; they never raise.
- `listen_fds()` returns the file descriptors systemd passed (``LISTEN_PID`` must be this
  process, ``LISTEN_FDS`` counts them from fd 3, ``LISTEN_FDNAMES`` names them), marks them
  close-on-exec and removes the three variables so children do not take them for theirs.
  `inherited_unix_listener()` wraps the first AF_UNIX stream socket for
  ``asyncio.start_unix_server(sock=...)``.
"""

from __future__ import annotations

import os
import socket
from collections.abc import MutableMapping

SD_LISTEN_FDS_START = 3
_LISTEN_VARS = ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES")


def notify(state: str, env: MutableMapping[str, str] | None = None) -> bool:
    """Send `state` (``KEY=value`` lines) to the service manager; True if it was sent."""
    env = os.environ if env is None else env
    address = env.get("NOTIFY_SOCKET", "")
    if not address or address[0] not in "/@":  # unset, or a kind we do not speak (vsock:)
        return False
    target = "\0" + address[1:] if address[0] == "@" else address
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto(state.encode("utf-8"), target)
    except OSError:
        return False
    return True


def _status_line(text: str) -> str:
    return "STATUS=" + " ".join(text.split())  # one line: a newline would start a new key


def ready(status_text: str | None = None) -> bool:
    """``READY=1``: the service is up (send it once the backend is usable)."""
    return notify("READY=1" + (f"\n{_status_line(status_text)}" if status_text else ""))


def status(text: str) -> bool:
    """``STATUS=...``: a one-line state shown by ``systemctl status`` (connecting, ...)."""
    return notify(_status_line(text))


def stopping(status_text: str | None = None) -> bool:
    """``STOPPING=1``: shutdown has begun (e.g. flushing the outbox)."""
    return notify("STOPPING=1" + (f"\n{_status_line(status_text)}" if status_text else ""))


def listen_fds_with_names(unset_environment: bool = True,
                          env: MutableMapping[str, str] | None = None) -> list[tuple[int, str]]:
    """The (fd, name) pairs passed by socket activation; [] when none were passed to us."""
    env = os.environ if env is None else env
    try:
        ours = int(env.get("LISTEN_PID", "")) == os.getpid()
        count = int(env.get("LISTEN_FDS", "")) if ours else 0
    except ValueError:
        count = 0
    names = env.get("LISTEN_FDNAMES", "").split(":") if count else []
    if unset_environment:
        for var in _LISTEN_VARS:
            env.pop(var, None)
    fds = list(range(SD_LISTEN_FDS_START, SD_LISTEN_FDS_START + max(count, 0)))
    for fd in fds:
        try:
            os.set_inheritable(fd, False)
        except OSError:  # not open after all: the variables lied
            return []
    return [(fd, names[i] if i < len(names) else "unknown") for i, fd in enumerate(fds)]


def listen_fds(unset_environment: bool = True) -> list[int]:
    """`sd_listen_fds`: the passed file descriptors, starting at 3."""
    return [fd for fd, _ in listen_fds_with_names(unset_environment)]


def inherited_unix_listener(unset_environment: bool = True) -> socket.socket | None:
    """The first passed AF_UNIX stream socket as a socket object, or None.

    Other passed descriptors are left open and untouched. The socket file belongs to the
    ``.socket`` unit: the daemon must not unlink it when it stops.
    """
    for fd in listen_fds(unset_environment):
        try:
            sock = socket.socket(fileno=fd)
        except OSError:
            continue
        if sock.family == socket.AF_UNIX and sock.type == socket.SOCK_STREAM:
            sock.setblocking(False)
            return sock
        sock.detach()  # not ours to close
    return None
