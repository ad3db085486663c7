"""The daemon's limits under abuse: file descriptors, connections, time (docs/protocol.md,
"Limits").

- At start the soft limit on open files is raised to the hard limit (`raise_fd_limit`): the
  usual soft 1,024 would otherwise stop `accept` (EMFILE) at about 1,000 clients.
- The connection cap (`connection_cap`) stays below that limit with room for the database,
  the outbox and one more accept: a client past the cap is accepted, told `busy` in one
  error frame and closed, instead of left hanging in the listen backlog.
- A connection that sends nothing for `idle_timeout` seconds, or leaves a frame half-sent
  for `request_timeout` seconds, is closed (tail streams excepted: they only listen).
- Per connection, at most PAUSE_AT requests wait for their turn (reading pauses beyond), and
  one turn answers at most TURN_REQUESTS requests or TURN_SECONDS of work before the event
  loop serves the other connections: a client pipelining thousands of requests is answered
  in order, without holding anyone else; one read takes at most READ_CHUNK bytes.
"""

from __future__ import annotations

import logging
import resource
from dataclasses import dataclass

log = logging.getLogger("spacesd")

FD_RESERVE = 128
"""Descriptors kept for everything but clients: SQLite files (WAL, shm), the outbox, the
handouts database, logs, the listening socket, a refused client's accept."""
MAX_CLIENTS = 16384
"""The default connection cap, when the fd limit allows it."""
PAUSE_AT = 64
"""Stop reading a connection with this many requests waiting for their turn."""
TURN_REQUESTS = 16
TURN_SECONDS = 0.001
READ_CHUNK = 16384
"""Bytes one read of a connection takes at most (decoded before the next connection's turn)."""
IDLE_TIMEOUT = 300.0
REQUEST_TIMEOUT = 10.0
SWEEP_SECONDS = 1.0


@dataclass(frozen=True)
class Limits:
    max_clients: int | None = None
    """None: MAX_CLIENTS, lowered to what the fd limit allows."""
    idle_timeout: float = IDLE_TIMEOUT
    request_timeout: float = REQUEST_TIMEOUT


def raise_fd_limit() -> int:
    """Raise RLIMIT_NOFILE's soft limit to its hard limit; returns the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            log.info("open files limit raised from %d to %d", soft, hard)
            soft = hard
        except (ValueError, OSError) as e:
            log.warning("cannot raise the open files limit from %d: %s", soft, e)
    return int(soft if soft != resource.RLIM_INFINITY else hard)


def connection_cap(fd_limit: int, wanted: int | None = None) -> int:
    """How many clients to serve at once: `wanted` (default MAX_CLIENTS), at most the fd
    limit less FD_RESERVE, at least 16."""
    return max(16, min(wanted if wanted is not None else MAX_CLIENTS, fd_limit - FD_RESERVE))
