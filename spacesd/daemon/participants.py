"""Participants: one per agent session (issue 12, docs/live-coordination.md section 3).

A participant is keyed by the client's session id; the daemon mints it an identity the first
time (embedded: a random u256; SpacetimeDB: a minted identity and its token), kept in
`<data dir>/participants/<agent>/<sha256(session)[:32]>.json` (0600, folders 0700), and a
handle `<project>-<agent>-<tag>` (tag: the first 4 hex of sha256(agent:session), grown to 6
and 8 when taken) that never changes for the session.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import socket
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Final

from spacesd.daemon.identity import sanitize_username
from spacesd.model import AgentKind, Identity, now_micros

SESSION_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
AGENTS: Final[dict[str, AgentKind]] = {
    "claude": AgentKind.Claude, "codex": AgentKind.Codex, "gemini": AgentKind.Gemini,
    "other": AgentKind.Other}
AGENT_NAMES: Final[dict[str, str]] = {
    "claude": "Claude Code", "codex": "Codex", "gemini": "Gemini CLI", "other": "agent"}


@dataclass
class Participant:
    session: str
    agent: str
    identity: Identity
    handle: str
    token: str | None
    project: str
    project_label: str
    branch: str | None
    created_at: int
    pid: int | None = None

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["identity"] = self.identity.hex
        return out

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Participant:
        branch, pid, token = raw.get("branch"), raw.get("pid"), raw.get("token")
        return cls(str(raw["session"]), str(raw["agent"]), Identity.from_hex(str(raw["identity"])),
                   str(raw["handle"]), str(token) if token else None, str(raw["project"]),
                   str(raw["project_label"]), str(branch) if branch else None,
                   int(raw["created_at"]), int(pid) if isinstance(pid, int) else None)

    @property
    def display_name(self) -> str:
        branch = f", {self.branch}" if self.branch else ""
        return f"{AGENT_NAMES.get(self.agent, self.agent)} in {self.project_label}{branch}"[:64]

    @property
    def about(self) -> str:
        """'Codex, web, main' — how rendered items name a session."""
        parts = [AGENT_NAMES.get(self.agent, self.agent), self.project_label]
        if self.branch:
            parts.append(self.branch)
        return ", ".join(parts)


def handle_candidates(label: str, agent: str, session: str) -> list[str]:
    """`api-claude-3f2a`, then the 6- and 8-hex tags."""
    tag = hashlib.sha256(f"{agent}:{session}".encode()).hexdigest()
    project = sanitize_username(label, fallback="project")[:14].rstrip("-.")
    return [f"{project}-{agent}-{tag[:n]}" for n in (4, 6, 8)]


class Participants:
    """The participant files of this machine, loaded at start and indexed by session id."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.by_session: dict[str, Participant] = {}
        self.by_identity: dict[Identity, Participant] = {}

    def load(self) -> None:
        if not self.directory.is_dir():
            return
        for path in sorted(self.directory.glob("*/*.json")):
            try:
                self._index(Participant.from_json(json.loads(path.read_text("utf-8"))))
            except (OSError, ValueError, TypeError, KeyError):
                continue

    def _index(self, p: Participant) -> None:
        self.by_session[p.session] = p
        self.by_identity[p.identity] = p

    def get(self, session: str) -> Participant | None:
        return self.by_session.get(session)

    def path(self, p: Participant) -> Path:
        digest = hashlib.sha256(p.session.encode()).hexdigest()[:32]
        return self.directory / p.agent / f"{digest}.json"

    def save(self, p: Participant) -> None:
        path = self.path(p)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.directory, 0o700)
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(p.to_json(), f, indent=2)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        self._index(p)


_PROJECTS: dict[str, tuple[str, str, str | None]] = {}


async def _git(cwd: str, *args: str) -> str | None:
    try:
        proc = await asyncio.create_subprocess_exec(
            "git", "-C", cwd, *args, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL, stdin=asyncio.subprocess.DEVNULL)
        out, _ = await asyncio.wait_for(proc.communicate(), 5.0)
    except (OSError, asyncio.TimeoutError):
        return None
    text = out.decode("utf-8", "replace").strip()
    return text if proc.returncode == 0 and text else None


async def project_of(cwd: str) -> tuple[str, str, str | None]:
    """(project, label, branch) of a working directory: `git:<root commit>` of its
    repository (two clones agree), else `dir:<host>:<realpath>`; the label is the top-level
    directory's name; the branch as git reports it. Cached per directory (not the branch)."""
    real = os.path.realpath(cwd or ".")
    branch = await _git(real, "branch", "--show-current")
    if real in _PROJECTS:
        project, label, _ = _PROJECTS[real]
        return project, label, branch
    roots = await _git(real, "rev-list", "--max-parents=0", "--reverse", "HEAD")
    top = await _git(real, "rev-parse", "--show-toplevel")
    if roots:  # the oldest root, as spacesd.projects keys leases (the lease markers match them)
        project = "git:" + roots.split()[0]
    else:
        project = f"dir:{socket.gethostname().split('.')[0]}:{real}"
    label = os.path.basename(top or real) or "root"
    _PROJECTS[real] = (project[:256], label[:64], None)
    return project[:256], label[:64], branch[:256] if branch else None


def new_participant(session: str, agent: str, identity: Identity, token: str | None,
                    project: tuple[str, str, str | None]) -> Participant:
    return Participant(session, agent, identity, handle_candidates(project[1], agent,
                       session)[0], token, project[0], project[1], project[2], now_micros())
