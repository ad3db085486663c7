"""The web view's tasks side (issue 13): the tasks and path leases the person watches, read
through the socket's own ops (`task_list`, `lease_list`: one rule for what is live and
expired), and the change event that makes the page ask again."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from spacesd.daemon.registry import lookup
from spacesd.store import Changes

if TYPE_CHECKING:
    from spacesd.daemon.server import Daemon

LIMIT = 500
TABLES = ("task", "path_lease", "vote")


def board(daemon: Daemon) -> dict[str, Any]:
    """The newest LIMIT tasks (all states) and the live leases of every project."""
    tasks, leases = lookup("task_list"), lookup("lease_list")
    return {"tasks": tasks.func(daemon, tasks.request({"limit": LIMIT})),
            "leases": leases.func(daemon, leases.request({}))}


def events(changes: Changes) -> list[dict[str, Any]]:
    """`tasks` when a task, a lease or a vote changed (the page reads the board again)."""
    if any(not changes.table(t).is_empty() for t in TABLES):
        return [{"event": "tasks", "data": {}}]
    return []
