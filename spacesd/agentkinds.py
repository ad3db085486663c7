"""The agent kinds Spaces knows: one table for the hook installer and the summaries. Stdlib only
(the hooks import it).

Each kind has the name a person gives `spacesd hooks install --agent NAME`, the `agent_kind` its
session summaries carry (and peers read in their context), and what it is called in messages.
Codex session ids are UUIDv7: time-ordered, their first characters repeat for sessions started
close together, so `short_session_id` shows their random tail instead.
"""

from __future__ import annotations

__all__ = ["AGENT_KINDS", "INSTALL_NAMES", "SUMMARY_KINDS", "AgentKind", "by_name",
           "short_session_id"]


class AgentKind:
    """One agent: `name` (the installer's), `summary_kind` (the summaries'), `label`."""

    __slots__ = ("label", "name", "summary_kind")

    def __init__(self, name: str, summary_kind: str, label: str) -> None:
        self.name = name
        self.summary_kind = summary_kind
        self.label = label

    def __repr__(self) -> str:
        return f"AgentKind({self.name!r}, {self.summary_kind!r}, {self.label!r})"


AGENT_KINDS = (
    AgentKind("claude", "claude-code", "Claude Code"),
    AgentKind("codex", "codex", "Codex CLI"),
    AgentKind("gemini", "gemini-cli", "Gemini CLI"),
)
INSTALL_NAMES = tuple(k.name for k in AGENT_KINDS)
"""("claude", "codex", "gemini"): what `--agent` takes."""
SUMMARY_KINDS = {k.name: k.summary_kind for k in AGENT_KINDS}
"""{"claude": "claude-code", ...}: the `agent_kind` of a summary, by install name."""


def by_name(name: str) -> AgentKind | None:
    """The kind installed as `name`, or summarised as `name`; None for another."""
    for k in AGENT_KINDS:
        if name in (k.name, k.summary_kind):
            return k
    return None


def short_session_id(session_id: str, n: int = 8) -> str:
    """`n` characters that tell a session apart: the first ones, except for a UUIDv7 (its
    first 48 bits are a millisecond timestamp), where the last ones (random) do."""
    s = session_id.strip()
    hexdigits = s.replace("-", "")
    is_v7 = (len(s) == 36 and s[8] == s[13] == s[18] == s[23] == "-" and s[14] == "7"
             and len(hexdigits) == 32 and all(c in "0123456789abcdefABCDEF" for c in hexdigits))
    return hexdigits[-n:].lower() if is_v7 else s[:n]
