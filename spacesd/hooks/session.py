"""The Stop hook (`spaces-session-hook`): post a summary of the session to #agent-logs.

Claude Code runs it at the end of every turn with a JSON object on stdin (session_id,
transcript_path, cwd, stop_hook_active, last_assistant_message, ...). Codex CLI's Stop adds
turn_id and model (last_assistant_message and transcript_path may be null; the path, when
given, is Codex's rollout JSONL, which spacesd.transcripts summarizes too); Gemini CLI's
AfterAgent carries prompt, prompt_response and stop_hook_active instead, and its transcript is
its chat JSONL. The final message is last_assistant_message
or prompt_response; the task is the transcript's first prompt, else the first `prompt` seen on
stdin. The agent kind is SPACES_AGENT_KIND, else "gemini-cli" for AfterAgent, "codex" for
an input with turn_id, else what an earlier turn of the session said, else "claude-code". It

1. checks the session's cooldown first (the cheap path: no transcript read, no socket):
   at most one post per session per `SPACES_COOLDOWN` seconds (else config.toml's
   `cooldown`, else 300);
2. summarises the transcript (spacesd.transcripts, no model call), redacts secrets from every
   string (spacesd.redact), and skips the post if the summary is the same as the last one;
3. sends `post_summary {summary, channel?}` to spacesd (channel: SPACES_CHANNEL_ID from the
   agent's environment; without it the daemon uses its configured channel, SPACES_CHANNEL_ID
   or config.toml's `channel`, else #agent-logs); if the daemon cannot be reached it writes
   the request to the on-disk outbox (spacesd.outbox), which the daemon delivers when it next
   starts, to that same configured channel.

It always exits 0, prints nothing, and logs failures to `paths.log_file()`.

Run as `spaces-hook summary AGENT` (what `spacesd hooks install` wires with the live hooks,
`main_detached`), all of this happens detached from the client: the hook returns at once and
the work goes on in a process of its own (forked off by the C helper, else by itself), so the
client never waits for it, and it may wait longer (`DETACHED_LAG_WAIT`) for the transcript to
settle and for another run of the same session to finish (the lock is then waited for, so a
SessionEnd right after a Stop still runs, after it, and finds the post made).

Registered for SessionEnd as well (Claude Code, Codex CLI, Gemini CLI), it posts the session's last
state regardless of the cooldown (unless nothing changed since the last post, or the
session had no turn to report), so the turns a cooldown held back are not lost when the
session closes. SessionEnd's stdin has no final
message, prompt or model, and a transcript may be missing or unreadable: so every turn, the
cooldown ones included, keeps what stdin said (`facts`: agent kind, first prompt, last final
message, model, prompt count) in the session's state file, and the summary falls back on them.

The issue asks for filelock for the cooldown; the hooks are standard library only, so the
per-session state file under `paths.state_dir()/cooldown/` is locked with `fcntl.flock`,
which is exactly what filelock's UnixFileLock does on POSIX. The lock is taken
non-blocking: a second hook for the same session while one runs simply does nothing.

Summary fields (the `summary` object of `post_summary`; see `SUMMARY_FIELDS`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import sys
import time
import zlib
from pathlib import Path

from spacesd import idem, ipc, outbox, paths, safeio
from spacesd.agentkinds import SUMMARY_KINDS
from spacesd.hooks import CONNECT_TIMEOUT, HOOK_TIMEOUT, channel_from_env, env_float, log, run

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: run without the lock
    fcntl = None  # type: ignore[assignment]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

HOOK = "spaces-session-hook"
DEFAULT_COOLDOWN = 300.0
SUMMARY_KIND = "session_summary"
SUMMARY_VERSION = 1
MAX_SUMMARY_CHARS = 12000
"""The summary's compact JSON is kept under this (an AgentEvent message holds 16,384)."""
FINAL_MESSAGE_CHARS = 2000

SUMMARY_FIELDS = (
    "kind",               # "session_summary"
    "version",            # 1
    "session_id",
    "agent_kind",         # "claude-code", "codex", "gemini-cli" or SPACES_AGENT_KIND
    "host",               # socket.gethostname()
    "project",            # the git work tree holding cwd, else cwd
    "cwd",
    "git_branch",         # from the transcript, else .git/HEAD
    "task",               # first real user prompt (transcript, else stdin's `prompt`)
    "files",              # edited/written, relative to project when inside it
    "commands",           # Bash commands, first-run order, deduplicated
    "commands_total",
    "failed_commands",
    "tests",              # [{"command", "result", "ok"}]
    "commits",            # [{"hash", "branch", "message"}]
    "tokens",             # {"input", "output", "cache_read", "cache_creation"}
    "started_at",         # ISO 8601 (transcript timestamps)
    "ended_at",
    "duration_s",
    "model",
    "prompts",
    "final_message",      # stdin's last_assistant_message / prompt_response, else the
                          # transcript's last text, else an earlier turn's
    "stop_hook_active",
    "transcript_partial",  # True when a huge transcript was read in head/tail windows only
)


# --------------------------------------------------------------------------------------------
# Cooldown state


_TOML_COOLDOWN = re.compile(
    r"""[ \t]*cooldown[ \t]*=[ \t]*(?:"([0-9]+(?:\.[0-9]*)?)"|([0-9]+(?:\.[0-9]*)?))"""
    r"[ \t]*(?:#.*)?")


def _config_cooldown() -> float | None:
    """`cooldown` of Spaces' config.toml (a top-level `cooldown = <seconds>` line), read
    without a TOML parser (the hook stays cheap); None when the file or the key is not there
    or the value is not a number. `spacesd config` reports a broken file."""
    try:
        text = safeio.read_text(paths.config_file(), 65536)
    except (OSError, UnicodeDecodeError):
        return None
    for line in text.splitlines():
        if line.lstrip().startswith("["):
            break  # a table: the key is top-level or not Spaces'
        m = _TOML_COOLDOWN.fullmatch(line)
        if m:
            return float(m.group(1) or m.group(2))
    return None


def _cooldown_seconds() -> float:
    """SPACES_COOLDOWN, else config.toml's `cooldown`, else 300 s."""
    if os.environ.get("SPACES_COOLDOWN", "").strip():
        return env_float("SPACES_COOLDOWN", DEFAULT_COOLDOWN)
    configured = _config_cooldown()
    return DEFAULT_COOLDOWN if configured is None else configured


def _state_name(session_id: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in session_id)[:100]
    if safe != session_id:
        safe += f"-{zlib.crc32(session_id.encode('utf-8', 'replace')):08x}"
    return safe.lstrip(".") + ".json"


class Cooldown:
    """The per-session state file, locked (flock, exclusive, non-blocking) while the hook runs.

    State: {"last_post": epoch seconds, "digest": str, "core": str (the digest without
    `_LAG_FIELDS`), "tsize": the transcript's size when posted, "via": "daemon" | "outbox",
    "facts": see `remember`}.
    """

    def __init__(self, session_id: str) -> None:
        self.dir = paths.state_dir() / "cooldown"
        self.path = self.dir / _state_name(session_id)
        self.fd: int | None = None
        self.state: dict[str, Any] = {}

    def acquire(self, wait: float = 0.0) -> bool:
        """Open and lock the state file; False if another hook of this session holds it
        (for more than `wait` seconds)."""
        try:
            fd = safeio.open_fd(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except FileNotFoundError:
            self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = safeio.open_fd(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + wait
        while fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                os.close(fd)
                return False
            except OSError:
                pass  # no locks on this filesystem (some NFS setups): go on without one
            break
        self.fd = fd
        try:
            raw = os.read(fd, 65536)
            state = json.loads(raw) if raw.strip() else {}
            self.state = state if isinstance(state, dict) else {}
        except (OSError, ValueError):
            self.state = {}
        return True

    def in_cooldown(self, now: float, cooldown: float) -> bool:
        last = self.state.get("last_post")
        if not isinstance(last, (int, float)) or cooldown <= 0:
            return False
        return 0 <= now - last < cooldown

    def save(self, **state: Any) -> None:
        if self.fd is None:
            return
        data = json.dumps(state).encode()
        os.lseek(self.fd, 0, os.SEEK_SET)
        os.ftruncate(self.fd, 0)
        os.write(self.fd, data)

    def release(self) -> None:
        fd, self.fd = self.fd, None
        if fd is not None:
            os.close(fd)  # closing drops the flock


def prune_cooldowns(max_age: float = 7 * 86400.0) -> None:
    """Delete state files of sessions idle for a week (called now and then, not every turn)."""
    d = paths.state_dir() / "cooldown"
    cutoff = time.time() - max_age
    try:
        with os.scandir(d) as it:
            for entry in it:
                try:
                    if entry.name.endswith(".json") and entry.stat().st_mtime < cutoff:
                        os.unlink(entry.path)
                except OSError:
                    continue
    except OSError:
        pass


# --------------------------------------------------------------------------------------------
# Building the summary


def resolve_transcript(transcript_path: object, cwd: str | None) -> Path | None:
    """The transcript file: absolute as given, or relative to the session's cwd (then to the
    hook's own working directory). None if there is no such file."""
    if not isinstance(transcript_path, str) or not transcript_path:
        return None
    p = Path(os.path.expanduser(transcript_path))
    if p.is_absolute():
        return p if p.is_file() else None
    candidates = [Path(cwd) / p] if cwd else []
    with contextlib.suppress(OSError):  # the hook's own working directory may be gone
        candidates.append(Path.cwd() / p)
    for c in candidates:
        try:
            if c.is_file():
                return c
        except OSError:
            continue
    return None


def git_root_and_branch(cwd: str | None) -> tuple[str | None, str | None]:
    """The work tree holding `cwd` and its checked-out branch, from the files alone."""
    if not cwd:
        return None, None
    try:
        d = os.path.abspath(cwd)
    except OSError:  # a relative cwd, and our own working directory is gone
        return None, None
    for _ in range(64):
        dotgit = os.path.join(d, ".git")
        if os.path.isdir(dotgit):
            return d, _branch_from_head(dotgit)
        if os.path.isfile(dotgit):  # a worktree or submodule: "gitdir: <path>"
            try:
                line = safeio.read_text(dotgit, 4096).strip()
            except (OSError, UnicodeDecodeError):
                return d, None
            gitdir = line[len("gitdir:"):].strip() if line.startswith("gitdir:") else ""
            if gitdir and not os.path.isabs(gitdir):
                gitdir = os.path.join(d, gitdir)
            return d, _branch_from_head(gitdir) if gitdir else None
        parent = os.path.dirname(d)
        if parent == d:
            break
        d = parent
    return None, None


def _branch_from_head(gitdir: str) -> str | None:
    try:
        head = safeio.read_text(os.path.join(gitdir, "HEAD"), 1024).strip()
    except (OSError, UnicodeDecodeError):
        return None
    if head.startswith("ref: refs/heads/"):
        return head[len("ref: refs/heads/"):]
    return None  # detached


def _detected_kind(data: dict[str, Any]) -> str | None:
    """The agent this input comes from, when the input itself tells."""
    env = os.environ.get("SPACES_AGENT_KIND", "").strip()
    if env:
        return env[:64]
    given = data.get("agent_kind") or data.get("agent")
    if isinstance(given, str) and given.strip():
        return given.strip()[:64]
    if data.get("hook_event_name") == "AfterAgent" or "prompt_response" in data:
        return SUMMARY_KINDS["gemini"]
    if "turn_id" in data:  # Codex's Stop (and its other events); Claude Code has no turn_id
        return SUMMARY_KINDS["codex"]
    return None


def agent_kind(data: dict[str, Any], facts: dict[str, Any] | None = None) -> str:
    kind = _detected_kind(data)
    if kind is None and facts and isinstance(facts.get("agent_kind"), str):
        kind = facts["agent_kind"]
    return kind or SUMMARY_KINDS["claude"]


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def stdin_final(data: dict[str, Any]) -> str | None:
    """The turn's last assistant text as stdin gives it: Claude Code's and Codex's
    last_assistant_message (Codex's may be null), Gemini CLI's prompt_response."""
    return _text(data.get("last_assistant_message")) or _text(data.get("prompt_response"))


def stdin_prompt(data: dict[str, Any]) -> str | None:
    """The prompt on stdin (Gemini CLI's AfterAgent), without the context Spaces' own
    SessionStart hook put in front of it (<hook_context>): never Spaces' text as a task."""
    prompt = _text(data.get("prompt"))
    if prompt is not None and ("<hook_context>" in prompt or "Recent activity" in prompt):
        from spacesd.transcripts.base import strip_spaces_context

        prompt = strip_spaces_context(prompt) or None
    return prompt


def remember(data: dict[str, Any], old: object) -> dict[str, Any]:
    """The session's stdin facts, updated with this input's: {"agent_kind", "task" (the first
    prompt), "final" (the latest final message), "model", "prompts" (inputs with a prompt)}.
    Cheap: runs on the cooldown path too."""
    facts: dict[str, Any] = dict(old) if isinstance(old, dict) else {}
    kind = _detected_kind(data)
    if kind is not None:
        facts["agent_kind"] = kind
    prompt = stdin_prompt(data)
    if prompt is not None:
        if not isinstance(facts.get("task"), str):
            facts["task"] = prompt[:FINAL_MESSAGE_CHARS * 2]
        count = facts.get("prompts")
        facts["prompts"] = (count if isinstance(count, int) else 0) + 1
    final = stdin_final(data)
    if final is not None:
        facts["final"] = final[:FINAL_MESSAGE_CHARS * 2]
    model = _text(data.get("model"))
    if model is not None:
        facts["model"] = model[:200]
    return facts


LAG_WAIT = 2.0
"""Seconds a Stop waits at most for the transcript to hold the turn's final message (Claude
Code writes its transcript behind the hooks; on a loaded machine 0.5 s was not always enough,
and a summary read too early lacked even the session's task)."""
DETACHED_LAG_WAIT = 8.0
"""The same, detached from the client (`main_detached`): nobody waits for it."""
DETACHED_LOCK_WAIT = DETACHED_LAG_WAIT + 3.0
"""Seconds a detached run waits for another run of the same session to finish."""
_detached = False


def _lag_wait() -> float:
    return DETACHED_LAG_WAIT if _detached else LAG_WAIT


def _has_final(t: dict[str, Any], final: str) -> bool:
    last = t.get("last_text")
    if not isinstance(last, str) or not last.strip():
        return False
    a, b = " ".join(last.split())[:120], " ".join(final.split())[:120]
    return a in b or b in a


def _read_settled(tpath: Path, cwd: str | None, final: str | None) -> dict[str, Any]:
    """The transcript's summary, once it holds the turn's final message: Claude Code's Stop
    may run before the last assistant line (its text, its usage) is written, and a summary of
    it then misses that message's tokens. Waits up to `LAG_WAIT` s (re-reading every 40 ms)
    only when stdin's final message is not in the transcript yet."""
    from spacesd import transcripts

    t = transcripts.summarize(tpath, cwd=cwd)
    if not final or t.get("format") != "claude-code":
        return t
    deadline = time.monotonic() + _lag_wait()
    while not _has_final(t, final) and time.monotonic() < deadline:
        time.sleep(0.04)
        t = transcripts.summarize(tpath, cwd=cwd)
    return t


def build_summary(data: dict[str, Any], facts: dict[str, Any] | None = None) -> dict[str, Any]:
    """The summary dict for a Stop / AfterAgent / SessionEnd input (before redaction);
    `facts` (see `remember`) fills in what neither this input nor the transcript says."""
    from spacesd import transcripts  # here, not at the top: the cooldown path never needs it

    session_id = str(data.get("session_id") or "")
    cwd = data.get("cwd") if isinstance(data.get("cwd"), str) and data.get("cwd") else None
    root, head_branch = git_root_and_branch(cwd)
    project = root or cwd
    tpath = resolve_transcript(data.get("transcript_path"), cwd)
    if tpath is None and stdin_final(data) and data.get("transcript_path"):
        # Claude Code may not have written a short session's transcript at all yet
        deadline = time.monotonic() + _lag_wait()
        while tpath is None and time.monotonic() < deadline:
            time.sleep(0.04)
            tpath = resolve_transcript(data.get("transcript_path"), cwd)
    t: dict[str, Any] = {}
    if tpath is not None:
        t = _read_settled(tpath, project or cwd, stdin_final(data))
    if cwd is None:
        cwd = t.get("cwd")
        project = project or cwd
    facts = facts or {}
    final = stdin_final(data) or _text(t.get("last_text")) or _text(facts.get("final"))
    if isinstance(final, str):
        final = final.strip()
        final = transcripts.cut(final, FINAL_MESSAGE_CHARS)
    tokens = t.get("tokens") or {"input": 0, "output": 0, "cache_read": 0, "cache_creation": 0}
    branch = t.get("git_branch") or head_branch
    # a quiet commit's branch is the session's (a transcript without branches: .git/HEAD)
    commits = [{**c, "branch": c.get("branch") or branch or ""} for c in t.get("commits", [])]
    return {
        "kind": SUMMARY_KIND,
        "version": SUMMARY_VERSION,
        "session_id": session_id,
        "agent_kind": agent_kind(data, facts),
        "host": os.environ.get("SPACES_HOST", "").strip() or socket.gethostname(),
        "project": project,
        "cwd": cwd,
        "git_branch": branch,
        "task": (t.get("task") or _text(facts.get("task")) or stdin_prompt(data)),
        "files": t.get("files", []),
        "commands": t.get("commands", []),
        "commands_total": t.get("commands_total", 0),
        "failed_commands": t.get("failed_commands", []),
        "tests": t.get("tests", []),
        "commits": commits,
        "tokens": tokens,
        "started_at": t.get("started_at"),
        "ended_at": t.get("ended_at"),
        "duration_s": t.get("duration_s"),
        "model": t.get("model") or _text(data.get("model")) or _text(facts.get("model")),
        "prompts": t.get("prompts") or facts.get("prompts") or 0,
        "final_message": final if isinstance(final, str) and final else None,
        "stop_hook_active": data.get("stop_hook_active") is True,
        "transcript_partial": bool(t.get("partial", False)),
    }


def _size(obj: Any) -> int:
    return len(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))


def fit(summary: dict[str, Any], limit: int = MAX_SUMMARY_CHARS) -> dict[str, Any]:
    """Shrink the summary until its JSON is under `limit` chars: the longest list loses its
    tail half, else the longest string is halved. Field names and numbers always stay."""
    from spacesd.transcripts import cut

    for _ in range(200):
        if _size(summary) <= limit:
            return summary
        lists = [(_size(v), k) for k, v in summary.items() if isinstance(v, list) and len(v) > 1]
        strings = [(len(v), k) for k, v in summary.items() if isinstance(v, str) and len(v) > 80]
        best_list = max(lists, default=None)
        best_str = max(strings, default=None)
        if best_list and (not best_str or best_list[0] >= best_str[0]):
            k = best_list[1]
            summary[k] = summary[k][: len(summary[k]) // 2]
        elif best_str:
            k = best_str[1]
            summary[k] = cut(summary[k], len(summary[k]) // 2)
        else:
            for k, v in summary.items():  # single huge list items: drop them
                if isinstance(v, list) and v:
                    summary[k] = []
                    break
            else:
                return summary
    return summary


_NOT_NEWS = frozenset({"stop_hook_active", "started_at", "ended_at", "duration_s"})
_LAG_FIELDS = frozenset({"final_message", "tokens", "model", "transcript_partial"})
"""What a transcript read a moment too early (Claude Code's Stop) says differently of a turn."""
_NEWS = ("task", "files", "commands", "failed_commands", "tests", "commits", "final_message",
         "prompts")


def reports_nothing(summary: dict[str, Any]) -> bool:
    """True when a summary says no more than which session it is and where: no prompt, no
    final message, no work, no tokens. The SessionEnd of a session opened and closed without
    a turn is such a summary: not worth a post in #agent-logs and in peers' context. (A Stop
    is always posted: a turn did end, even when neither stdin nor transcript tells more.)"""
    if any(summary.get(k) for k in _NEWS):
        return False
    tokens = summary.get("tokens")
    return not (isinstance(tokens, dict) and any(tokens.values()))


def digest(summary: dict[str, Any], *, without: frozenset[str] = frozenset()) -> str:
    """A fingerprint of what a post would say. Times are left out (a line Claude Code appends
    after the turn moves `ended_at` without anything new to report), as is stop_hook_active."""
    body = {k: v for k, v in summary.items() if k not in _NOT_NEWS and k not in without}
    data = json.dumps(body, sort_keys=True, ensure_ascii=False).encode("utf-8", "replace")
    return f"{zlib.crc32(data):08x}{zlib.adler32(data):08x}-{len(data)}"


def _transcript_size(data: dict[str, Any]) -> int | None:
    """The transcript's size in bytes now (None without one): taken before it is read, so a
    SessionEnd that finds the same size knows nothing was written since the last post."""
    cwd = data.get("cwd") if isinstance(data.get("cwd"), str) else None
    tpath = resolve_transcript(data.get("transcript_path"), cwd)
    try:
        return tpath.stat().st_size if tpath is not None else None
    except OSError:
        return None


def _keep_facts(cool: Cooldown, facts: dict[str, Any]) -> None:
    """Store this turn's stdin facts without touching the rest of the state."""
    if facts != cool.state.get("facts"):
        cool.save(**{**cool.state, "facts": facts})


# --------------------------------------------------------------------------------------------
# The hook


def handle(data: dict[str, Any]) -> str:
    """Run the hook on one input. Returns what happened (for tests and the log):
    "no-session", "busy", "cooldown", "empty", "unchanged", "posted", "queued" or
    "refused"."""
    session_id = data.get("session_id")
    if not isinstance(session_id, str) or not session_id.strip():
        return "no-session"
    cool = Cooldown(session_id)
    if not cool.acquire(DETACHED_LOCK_WAIT if _detached else 0.0):
        return "busy"
    try:
        now = time.time()
        facts = remember(data, cool.state.get("facts"))
        # SessionEnd (the session is over) posts the last state whatever the cooldown: the
        # turns a cooldown swallowed would otherwise never be reported.
        ending = data.get("hook_event_name") == "SessionEnd"
        if not ending and cool.in_cooldown(now, _cooldown_seconds()):
            _keep_facts(cool, facts)
            return "cooldown"
        size = _transcript_size(data)
        if ending and size is not None and size == cool.state.get("tsize"):
            _keep_facts(cool, facts)
            return "unchanged"  # nothing written since the last post: no need to read it
        from spacesd.redact import redact_obj

        summary = fit(redact_obj(build_summary(data, facts)))
        if ending and reports_nothing(summary):
            _keep_facts(cool, facts)
            return "empty"
        fp = digest(summary)
        # SessionEnd has no last_assistant_message: its final text comes from the transcript
        # and may be worded apart from the Stop's; and the Stop may have read the transcript
        # before the turn's last message was written (its tokens, its model). Compared
        # without those, the same turn is not posted twice.
        core = digest(summary, without=_LAG_FIELDS)
        if fp == cool.state.get("digest") or (ending and core == cool.state.get("core")):
            _keep_facts(cool, facts)
            return "unchanged"
        # The idempotency key (docs/idempotency.md): this session and turn (the session's
        # post number and what the post says), in the request and in its outbox entry alike.
        seq = cool.state.get("posts")
        seq = (seq if isinstance(seq, int) and seq >= 0 else 0) + 1
        args: dict[str, Any] = {"summary": summary,
                                "key": idem.summary_key(session_id, f"{seq}.{fp}")}
        channel = channel_from_env()
        if channel is not None:
            args["channel"] = channel
        res = ipc.request(
            "post_summary", args, timeout=HOOK_TIMEOUT, connect_timeout=CONNECT_TIMEOUT
        )
        if isinstance(res, ipc.Ok):
            outcome = "posted"
        elif res.client_side or res.code == "unavailable":
            # Not delivered (or not known to be): keep it for the daemon. A timeout after the
            # request went out is no duplicate: the replay carries the same key.
            outbox.write({"id": 1, "op": "post_summary", "args": args})
            outcome = "queued"
            if res.code != "unreachable":
                log(HOOK, f"queued to the outbox after {res.code}: {res.message}",
                    session_id=session_id)
        else:
            log(HOOK, f"daemon refused post_summary: {res.code}: {res.message}",
                session_id=session_id)
            _keep_facts(cool, facts)
            return "refused"
        cool.save(last_post=now, digest=fp, core=core, tsize=size, posts=seq,
                  via="daemon" if outcome == "posted" else "outbox", facts=facts)
        if time.time_ns() % 50 == 0:
            prune_cooldowns()
        return outcome
    finally:
        cool.release()


def main() -> int:
    """Console script entry point: always returns 0."""
    return run(HOOK, handle)


def _detach() -> bool:
    """Fork: the parent returns False (it exits, and the client goes on); the child, in a
    session of its own with stdout and stderr on /dev/null, True. No fork: True (inline)."""
    try:
        pid = os.fork()
    except OSError:
        return True
    if pid > 0:
        return False
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)
    return True


def main_detached() -> int:
    """`spaces-hook summary AGENT`: the hook, detached from the client (the C helper forked
    it off already: SPACES_DETACHED=1; else it forks here). Always returns 0."""
    global _detached
    if os.environ.get("SPACES_DETACHED") != "1" and not _detach():
        return 0
    _detached = True
    ticket = os.environ.get("SPACES_SUMMARY_TICKET", "")

    def body(data: dict[str, Any]) -> None:
        try:
            if ticket:
                _wait_for_earlier(ticket)
            handle(data)
        finally:
            if ticket:
                with contextlib.suppress(OSError):
                    os.unlink(ticket)

    return run(HOOK, body)


TICKET_STALE = 60.0
"""Seconds after which an earlier run's ticket is taken as left behind (a killed run)."""


def _wait_for_earlier(ticket: str) -> None:
    """Wait (up to DETACHED_LOCK_WAIT) while a run of this session that the client started
    earlier has not finished: the C helper leaves `<live>/<session>.sum-<ns>` before the
    client goes on, so a SessionEnd fired right after a Stop runs after it, not before."""
    folder, name = os.path.split(ticket)
    prefix, _, mine = name.rpartition("-")
    if not mine.isdigit():
        return
    deadline = time.monotonic() + DETACHED_LOCK_WAIT
    while time.monotonic() < deadline:
        now = time.time()
        earlier = False
        with contextlib.suppress(OSError), os.scandir(folder) as it:
            for entry in it:
                base, _, at = entry.name.rpartition("-")
                if (base == prefix and at.isdigit() and int(at) < int(mine)
                        and now - entry.stat().st_mtime < TICKET_STALE):
                    earlier = True
                    break
        if not earlier:
            return
        time.sleep(0.05)


if __name__ == "__main__":
    sys.exit(main())
