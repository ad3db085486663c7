"""Read-side views of tasks, leases and votes over a `Store` (docs/protocol.md's shapes).

`now` is the embedded database's clock (the expiry rule at every read: a claim or lease past
its end is none); on SpacetimeDB it is None and the rows are shown as the server holds them
(its scheduled reducer releases what has expired).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from spacesd.daemon.views import sender_name
from spacesd.engine import errors, patterns
from spacesd.model import Identity, PathLease, Task, TaskState, Vote, VoteTarget, timestamp_to_iso
from spacesd.store import Store, identity_from_db


def _iso(ts: int | None) -> str | None:
    return timestamp_to_iso(ts) if ts is not None else None


class Names:
    """`@username` of identities and names of channels, looked up once per answer."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._people: dict[Identity, str] = {}
        self._channels: dict[int, str | None] = {}

    def person(self, identity: Identity | None) -> str | None:
        if identity is None:
            return None
        found = self._people.get(identity)
        if found is None:
            found = self._people[identity] = "@" + sender_name(self.store, identity)
        return found

    def channel(self, channel_id: int) -> str | None:
        if channel_id not in self._channels:
            row = self.store.channel(channel_id)
            self._channels[channel_id] = row.name if row is not None else None
        return self._channels[channel_id]


def _name(store: Store, identity: Identity | None) -> str | None:
    return Names(store).person(identity)


def effective(task: Task, now: int | None) -> Task:
    """The task as the expiry rule reads it at `now` (None: as stored)."""
    if (now is not None and task.state == TaskState.Claimed and task.lease_expires is not None
            and task.lease_expires <= now):
        return Task(task.id, task.channel_id, task.message_id, task.parent_id, task.title,
                    task.body, TaskState.Open, task.creator, None, task.created_at, None, None,
                    task.result, task.updated_at)
    return task


def task_object(store: Store, task: Task, now: int | None, names: Names | None = None
                ) -> dict[str, Any]:
    task = effective(task, now)
    names = names or Names(store)
    return {
        "id": task.id, "channel_id": task.channel_id, "channel": names.channel(task.channel_id),
        "parent_id": task.parent_id, "message_id": task.message_id,
        "title": task.title, "body": task.body, "state": task.state.name,
        "creator": task.creator.hex, "creator_name": names.person(task.creator),
        "assignee": task.assignee.hex if task.assignee is not None else None,
        "assignee_name": names.person(task.assignee),
        "created_at": _iso(task.created_at), "claimed_at": _iso(task.claimed_at),
        "lease_expires": _iso(task.lease_expires), "result": task.result,
        "updated_at": _iso(task.updated_at),
    }


_ISO_SECONDS: dict[int, str] = {}
LIST_RESULT_CHARS = 500
"""A listing carries at most this much of each result (`task_show` has it whole), so that
thousands of tasks fit one answer frame."""


def fast_iso(ts: int | None) -> str | None:
    """timestamp_to_iso, with the seconds part formatted once per distinct second."""
    if ts is None:
        return None
    seconds, micros = divmod(ts, 1_000_000)
    head = _ISO_SECONDS.get(seconds)
    if head is None:
        if len(_ISO_SECONDS) > 4096:
            _ISO_SECONDS.clear()
        head = _ISO_SECONDS[seconds] = timestamp_to_iso(seconds * 1_000_000)[:-8]
    return f"{head}.{micros:06d}Z"


def list_tasks(store: Store, now: int | None, *, channel_id: int | None = None,
               state: str | None = None, parent_id: int | None = None,
               limit: int = 200, channels: set[int] | None = None) -> list[dict[str, Any]]:
    """Task list items (of `channels` only, when given), oldest first (the expiry rule
    applied at `now`), built straight from the store's raw rows: a listing of 1,000 tasks is
    one query. An item is the task object
    without body, identities' hex, created_at and claimed_at, its result cut to
    LIST_RESULT_CHARS (`result_truncated`: true when cut)."""
    states = ({TaskState.Open, TaskState.Claimed} if state == "active"
              else {TaskState[state]} if state is not None else None)
    names = Names(store)
    people: dict[bytes, str] = {}
    state_names = {int(s): s.name for s in TaskState}

    def who(raw: bytes | None) -> str | None:
        if raw is None:
            return None
        found = people.get(raw)
        if found is None:
            found = people[raw] = names.person(identity_from_db(raw)) or ""
        return found

    out: list[dict[str, Any]] = []
    for (tid, chan, message_id, parent, title, _body, st, creator, assignee, _created,
         _claimed, expires, result, updated) in store.task_listing(
            now, states=states, channel_id=channel_id, parent_id=parent_id, limit=limit,
            channel_ids=channels):
        creator_name, assignee_name = who(creator), who(assignee)
        item = {
            "id": tid, "channel_id": chan, "channel": names.channel(chan),
            "parent_id": parent, "message_id": message_id, "title": title,
            "state": state_names[st], "creator_name": creator_name,
            "assignee_name": assignee_name, "lease_expires": fast_iso(expires),
            "result": result, "updated_at": fast_iso(updated)}
        if result is not None and len(result) > LIST_RESULT_CHARS:
            item["result"] = result[:LIST_RESULT_CHARS]
            item["result_truncated"] = True
        out.append(item)
    return out


COMPACT_COLUMNS = ("id", "channel", "parent_id", "message_id", "title", "state", "creator",
                   "assignee", "lease_expires", "result", "updated_at")


def list_compact(store: Store, now: int | None, *, channel_id: int | None = None,
                 state: str | None = None, parent_id: int | None = None, limit: int = 200,
                 channels: set[int] | None = None) -> dict[str, Any]:
    """The listing of `list_tasks` as `{"columns": COMPACT_COLUMNS, "rows": [[...], ...]}`:
    one array per task (channel by name, creator and assignee as @username, results cut to
    LIST_RESULT_CHARS), no key repeated per task: less than half the bytes to encode, send
    and decode (bench/bench_tasks.py)."""
    states = ({TaskState.Open, TaskState.Claimed} if state == "active"
              else {TaskState[state]} if state is not None else None)
    names = Names(store)
    people: dict[bytes | None, str | None] = {None: None}
    state_names = {int(s): s.name for s in TaskState}
    rows: list[list[Any]] = []
    for (tid, chan, message_id, parent, title, _body, st, creator, assignee, _created,
         _claimed, expires, result, updated) in store.task_listing(
            now, states=states, channel_id=channel_id, parent_id=parent_id, limit=limit,
            channel_ids=channels):
        for raw in (creator, assignee):
            if raw not in people:
                people[raw] = names.person(identity_from_db(raw)) or ""
        if result is not None and len(result) > LIST_RESULT_CHARS:
            result = result[:LIST_RESULT_CHARS]
        rows.append([tid, names.channel(chan), parent, message_id, title, state_names[st],
                     people[creator], people[assignee], fast_iso(expires), result,
                     fast_iso(updated)])
    return {"columns": list(COMPACT_COLUMNS), "rows": rows}


def live_leases(store: Store, now: int | None, project: str | None = None) -> list[PathLease]:
    rows: list[PathLease] = (store.select("path_lease", project=project) if project is not None
                             else store.rows("path_lease"))
    return [r for r in rows if now is None or r.expires_at > now]


def lease_object(store: Store, lease: PathLease) -> dict[str, Any]:
    return {"id": lease.id, "project": lease.project, "pattern": lease.pattern,
            "holder": lease.holder.hex, "holder_name": _name(store, lease.holder),
            "acquired_at": _iso(lease.acquired_at), "expires_at": _iso(lease.expires_at),
            "reason": lease.reason}


def conflicts(store: Store, now: int | None, project: str, paths: list[str],
              asker: Identity) -> list[dict[str, Any]]:
    """The leases of others covering each path (docs/protocol.md, lease_check)."""
    leases = [r for r in live_leases(store, now, project) if r.holder != asker]
    out: list[dict[str, Any]] = []
    for path in paths:
        for lease in leases:
            if patterns.covers(lease.pattern, path):
                holder = _name(store, lease.holder) or lease.holder.hex
                message = errors.fill(errors.LEASE_CONFLICT, pattern=path, holder=holder,
                                      until=patterns.until_text(lease.expires_at))
                if lease.reason:
                    message += f" ({lease.reason})"
                out.append({"path": path, "lease_id": lease.id, "pattern": lease.pattern,
                            "holder": lease.holder.hex, "holder_name": holder,
                            "expires_at": _iso(lease.expires_at), "reason": lease.reason,
                            "message": message})
                break
    return out


def tally(store: Store, target: VoteTarget, target_id: int) -> dict[str, Any]:
    votes: list[Vote] = [v for v in store.select("vote", target_id=target_id)
                         if v.target_kind == target]
    counts = Counter(v.choice for v in votes)
    voters: dict[str, list[str]] = {}
    for v in votes:
        voters.setdefault(v.choice, []).append(_name(store, v.voter) or v.voter.hex)
    return {"target": target.name.lower(), "id": target_id,
            "counts": dict(counts.most_common()), "voters": voters}
