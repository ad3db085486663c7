"""The reducers and their keyed variants, grouped by domain. Importing this package registers
them all."""

from spacesd.engine.reducers import (
    channels,
    dms,
    keyed,
    leases,
    lifecycle,
    messages,
    notifications,
    servers,
    sessions,
    tasks,
    threads,
    users,
    votes,
)

__all__ = ["channels", "dms", "keyed", "leases", "lifecycle", "messages", "notifications",
           "servers", "sessions", "tasks", "threads", "users", "votes"]
