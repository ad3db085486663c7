"""The reducers, grouped by domain. Importing this package registers them all."""

from spacesd.engine.reducers import (
    channels,
    dms,
    lifecycle,
    messages,
    notifications,
    servers,
    sessions,
    threads,
    users,
)

__all__ = ["channels", "dms", "lifecycle", "messages", "notifications", "servers", "sessions",
           "threads", "users"]
