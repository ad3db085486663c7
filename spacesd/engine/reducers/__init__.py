"""The 28 reducers and their keyed variants, grouped by domain. Importing this package
registers them all."""

from spacesd.engine.reducers import (
    channels,
    dms,
    keyed,
    lifecycle,
    messages,
    notifications,
    servers,
    sessions,
    threads,
    users,
)

__all__ = ["channels", "dms", "keyed", "lifecycle", "messages", "notifications", "servers",
           "sessions", "threads", "users"]
