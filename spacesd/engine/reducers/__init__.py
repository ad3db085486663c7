"""The reducers, grouped by domain. Importing this package registers them all."""

from spacesd.engine.reducers import (
    channels,
    dms,
    leases,
    lifecycle,
    messages,
    notifications,
    servers,
    tasks,
    threads,
    users,
    votes,
)

__all__ = ["channels", "dms", "leases", "lifecycle", "messages", "notifications", "servers",
           "tasks", "threads", "users", "votes"]
