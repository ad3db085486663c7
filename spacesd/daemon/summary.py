"""Session summaries: the AgentEvent content the daemon posts, and the facts it hands back.

`summary_content` turns the Stop hook's summary dict into a JSON object of at most 16,384
characters (long fields are shortened, the result is always valid JSON) tagged
`"kind": "session_summary"`. `render_summary` turns such a posted summary into one line of
plain facts for a peer's SessionStart context: what happened, never what to do.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from spacesd.agentkinds import short_session_id
from spacesd.model import Timestamp

MAX_CONTENT = 16_384
KIND = "session_summary"

# Keys kept whole, whatever else gets shortened.
_IDENTITY_KEYS = ("kind", "version", "session_id", "project", "cwd", "host", "git_branch",
                  "branch", "agent_kind", "agent")


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _shorten(value: Any, max_str: int, max_list: int) -> Any:
    if isinstance(value, str):
        return value if len(value) <= max_str else value[: max(max_str - 1, 0)] + "…"
    if isinstance(value, list):
        items = [_shorten(v, max_str, max_list) for v in value[:max_list]]
        if len(value) > max_list:
            items.append(f"… {len(value) - max_list} more")
        return items
    if isinstance(value, dict):
        return {str(k): _shorten(v, max_str, max_list) for k, v in value.items()}
    return value


def summary_content(summary: Mapping[str, Any], *, host: str | None = None,
                    agent: str | None = None, max_chars: int = MAX_CONTENT) -> str:
    """The message content for a session summary: a JSON object of at most `max_chars`."""
    obj: dict[str, Any] = {"kind": KIND}
    for key, value in summary.items():
        if key != "kind":
            obj[str(key)] = value
    if "project" not in obj and isinstance(obj.get("cwd"), str):
        obj["project"] = obj["cwd"]
    if host and not obj.get("host"):
        obj["host"] = host
    if agent and not obj.get("agent_kind") and not obj.get("agent"):
        obj["agent_kind"] = agent
    text = _dumps(obj)
    if len(text) <= max_chars:
        return text
    for max_str, max_list in ((4000, 100), (2000, 50), (1000, 30), (500, 20), (200, 10),
                              (100, 5), (60, 3)):
        short = {k: (v if k in _IDENTITY_KEYS else _shorten(v, max_str, max_list))
                 for k, v in obj.items()}
        text = _dumps(short)
        if len(text) <= max_chars:
            return text
    # Last resort: only the identifying fields, each bounded.
    bare = {k: _shorten(obj[k], 200, 1) for k in _IDENTITY_KEYS if k in obj}
    bare["truncated"] = True
    return _dumps(bare)[:max_chars] if len(_dumps(bare)) > max_chars else _dumps(bare)


def parse_summary(content: str) -> dict[str, Any] | None:
    """The summary object of a message's content, or None if it is not one."""
    if not content.startswith("{"):
        return None
    try:
        obj = json.loads(content)
    except ValueError:
        return None
    if not isinstance(obj, dict) or obj.get("kind") != KIND:
        return None
    return obj


# --------------------------------------------------------------------------------------------
# Rendering as facts

_WS = re.compile(r"\s+")


def _clean(text: Any, limit: int) -> str:
    """One line, bounded, with quotes neutralized so it reads as a quotation."""
    s = _WS.sub(" ", str(text)).strip().replace('"', "'")
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _first(d: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        value = d.get(key)
        if value not in (None, "", [], {}):
            return value
    return None


def _names(items: Any, *keys: str) -> list[str]:
    out: list[str] = []
    if isinstance(items, (str, int, float)):
        return [str(items)]
    if isinstance(items, Mapping):
        items = [items]
    if not isinstance(items, Iterable):
        return out
    for item in items:
        if isinstance(item, Mapping):
            value = _first(item, *keys)
            if value is not None:
                out.append(str(value))
        elif item is not None:
            out.append(str(item))
    return out


def _names_text(items: Any, limit: int, *keys: str) -> tuple[int, str]:
    """How many items, and the first `limit` of them as text (only those are looked at)."""
    if isinstance(items, list):
        names = _names(items[: limit + 1], *keys)
        total = len(items) - min(len(items), limit + 1) + len(names)
    else:
        names = _names(items, *keys)
        total = len(names)
    if not names:
        return 0, ""
    shown = [_clean(n, 80) for n in names[:limit]]
    more = total - len(shown)
    return total, ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _tests_text(tests: Any) -> str | None:
    """Test results: counts ({"passed": 8, ...}), a summary string, or the runs seen
    ([{"command", "result", "ok"}, ...]: the last three, in order)."""
    if tests in (None, "", [], {}):
        return None
    if isinstance(tests, Mapping):
        counts = [f"{tests[k]} {k}" for k in ("passed", "failed", "errors", "error", "skipped")
                  if isinstance(tests.get(k), int) and not isinstance(tests.get(k), bool)]
        if counts:
            return ", ".join(counts)
        result = _first(tests, "result", "summary", "output")
        if result is not None:
            text = _clean(result, 120)
            command = _first(tests, "command", "cmd")
            return f"{text} ({_clean(command, 60)})" if command else text
        runs = tests.get("runs")
        if runs is not None:
            return _tests_text(runs)
        return _clean(", ".join(f"{k}: {v}" for k, v in tests.items()), 160)
    if isinstance(tests, list):
        parts = [p for p in (_tests_text(t) for t in tests[-3:]) if p]
        more = len(tests) - 3
        text = ", then ".join(parts)
        return (f"{more} earlier run{'s' if more > 1 else ''}, then " + text
                if more > 0 and text else text) or None
    return _clean(tests, 160)


def _commits_text(commits: Any) -> str | None:
    if commits in (None, "", [], {}):
        return None
    items = commits if isinstance(commits, list) else [commits]
    parts: list[str] = []
    for c in items[:5]:
        if isinstance(c, Mapping):
            sha = _first(c, "sha", "hash", "commit", "id")
            msg = _first(c, "message", "subject", "title")
            text = " ".join(x for x in (
                _clean(sha, 12) if sha else "", f"'{_clean(msg, 80)}'" if msg else "") if x)
            if text:
                parts.append(text)
        else:
            parts.append(_clean(c, 80))
    more = len(items) - 5
    return ", ".join(parts) + (f" and {more} more" if more > 0 else "")


def _commands_text(summary: Mapping[str, Any]) -> str | None:
    commands = summary.get("commands")
    failed = summary.get("failed_commands") or summary.get("failed")
    total = summary.get("commands_total")
    if isinstance(total, int) and not isinstance(total, bool) and total > 0:
        n = total
    else:
        n = len(commands) if isinstance(commands, list) else (
            commands if isinstance(commands, int) else 0)
    n_failed, failed_text = _names_text(failed, 3, "command", "cmd")
    if not n and not n_failed:
        return None
    text = f"ran {n} command{'s' if n != 1 else ''}" if n else "ran commands"
    if n_failed:
        text += f" ({n_failed} failed: {failed_text})"
    return text


def _tokens_text(tokens: Any) -> str | None:
    if isinstance(tokens, bool):
        return None
    if isinstance(tokens, int):
        return f"{tokens} tokens"
    if isinstance(tokens, Mapping):
        total = tokens.get("total")
        if not isinstance(total, int):
            total = sum(v for v in tokens.values()
                        if isinstance(v, int) and not isinstance(v, bool))
        return f"{total} tokens" if total else None
    return None


def _duration_text(summary: Mapping[str, Any]) -> str | None:
    value = _first(summary, "duration_s", "duration_seconds", "duration")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        secs = int(value)
        if secs >= 3600:
            return f"{secs // 3600} h {secs % 3600 // 60} min"
        if secs >= 60:
            return f"{secs // 60} min"
        return f"{secs} s"
    if isinstance(value, str):
        return _clean(value, 20)
    return None


def when_text(created_at: Timestamp, now: Timestamp) -> str:
    dt = datetime.fromtimestamp(created_at / 1_000_000, tz=timezone.utc)
    today = datetime.fromtimestamp(now / 1_000_000, tz=timezone.utc).date()
    if dt.date() == today:
        return dt.strftime("%H:%M UTC")
    return dt.strftime("%Y-%m-%d %H:%M UTC")


def render_summary(summary: Mapping[str, Any], *, sender_name: str, created_at: Timestamp,
                   now: Timestamp) -> str:
    """One line of facts about a peer session, e.g.

    At 09:14 UTC, agent dev-laptop (claude-code) in /home/dev/src/acme-api on branch
    fix/rate-limit: task '...'; edited a.py, b.py; ran 5 commands (1 failed: ...);
    tests: 8 passed; committed 3e1f2a9 '...'. Final: '...'
    """
    head = f"At {when_text(created_at, now)}, agent {_clean(sender_name, 40)}"
    agent = _first(summary, "agent_kind", "agent")
    session = summary.get("session_id")
    tags = [_clean(agent, 30)] if agent else []
    if isinstance(session, str) and session:
        tags.append(f"session {_clean(short_session_id(session), 8)}")
    if tags:
        head += f" ({', '.join(tags)})"
    host = summary.get("host")
    if host and isinstance(host, str) and host.lower() not in sender_name.lower():
        head += f" on host {_clean(host, 40)}"
    project = _first(summary, "project", "cwd")
    if project:
        head += f" in {_clean(project, 120)}"
    branch = _first(summary, "git_branch", "branch")
    if branch:
        head += f" on branch {_clean(branch, 60)}"
    facts: list[str] = []
    task = _first(summary, "task", "first_prompt", "prompt")
    if task:
        facts.append(f"task '{_clean(task, 300)}'")
    n_files, files = _names_text(_first(summary, "files", "files_edited", "edited"), 8,
                                 "path", "file")
    if n_files:
        facts.append(f"edited {files}")
    commands = _commands_text(summary)
    if commands:
        facts.append(commands)
    tests = _tests_text(summary.get("tests"))
    if tests:
        facts.append(f"tests: {tests}")
    commits = _commits_text(summary.get("commits"))
    if commits:
        facts.append(f"committed {commits}")
    extra = [t for t in (_duration_text(summary), _tokens_text(summary.get("tokens"))) if t]
    if extra:
        facts.append("took " + ", ".join(extra))
    text = head + (": " + "; ".join(facts) if facts else "") + "."
    final = _first(summary, "final", "final_message", "last_assistant_message")
    if final:
        text += f" Final: '{_clean(final, 500)}'"
    return text
