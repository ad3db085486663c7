"""The shared base of the transcript readers (spacesd.transcripts). Standard library only.

A reader turns one agent session's transcript into a plain dict with these fields (the same
for every agent kind; `format` says which reader it was):

    task            first real user prompt (not a tool result, meta line, slash command,
                    compaction summary or sidechain line), capped
    files           files edited or written (Edit, Write, MultiEdit, NotebookEdit), in order of
                    first touch; relative to the session's cwd when under it
    commands        Bash commands, in order of first run, deduplicated; `commands_total` counts
                    every run
    failed_commands commands whose tool_result had is_error, or began with "Exit code N" (N>0)
    tests           test-run summary lines seen in Bash results (pytest, cargo, jest/vitest,
                    go test, unittest, mocha): [{"command", "result", "ok"}]
    commits         [{"hash", "branch", "message"}] from `git commit` results ("[b 3e1f2a9] m")
    tokens          {"input", "output", "cache_read", "cache_creation"}, each message.id counted
                    once (Claude Code repeats a message's usage on each of its content lines;
                    the largest value seen for the id is taken)
    started_at, ended_at, duration_s   first and last line timestamps
    git_branch      the last gitBranch seen; cwd the first cwd seen
    last_text       the last assistant text block of the main thread (the Stop hook prefers
                    stdin's last_assistant_message: the transcript may lag)
    model           the last assistant model seen
    prompts         how many real user prompts
    partial         True when the middle of a huge file was not read (see below)

Memory is bounded whatever the file: lists and strings are capped, lines over `MAX_LINE`
(images, huge tool outputs) are skipped without being held, and the bookkeeping maps (open tool
calls, recent message ids) are bounded. Unknown line types, bad JSON and unexpected shapes are
skipped.

Huge files: a file over `full_limit` bytes (default 24 MiB) is read only in two windows, the
first `head_bytes` (2 MiB: the task, the start time, cwd and branch) and the last `tail_bytes`
(8 MiB: the recent work, the end time, the final text). What is lost then: files, commands,
tests and commits from the middle of the session, and the middle's token usage (the token
counts then cover the two windows only); `partial` is True and `skipped_bytes` says how much.

Memory is bounded whatever the file: lists and strings are capped, lines over `MAX_LINE`
(images, huge tool outputs) are skipped without being held, and the bookkeeping maps (open tool
calls, recent message ids) are bounded. Unknown line types, bad JSON and unexpected shapes are
skipped.

Spaces' own text never comes back as a task: the context the SessionStart hook hands a session
(`SPACES_CONTEXT_MARK` starts it; Gemini CLI wraps it in <hook_context>) is cut out of prompts
by `strip_spaces_context`, for every reader.
"""

from __future__ import annotations

import json
import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any, BinaryIO

__all__ = ["MAX_LINE", "SPACES_CONTEXT_MARK", "Limits", "Summarizer", "bounded_put", "cap",
           "count", "cut", "duration", "iter_lines", "scan_window", "strip_spaces_context"]

MAX_LINE = 1024 * 1024
"""Lines longer than this are skipped (base64 images, enormous tool outputs)."""


class Limits:
    """Caps on what a summary holds (counts of list items, characters of strings)."""

    task_chars = 1000
    text_chars = 2000
    command_chars = 300
    path_chars = 240
    files = 40
    commands = 25
    failed = 10
    tests = 10
    commits = 10
    result_scan_chars = 64 * 1024
    """Only the first and last 32 KiB of a tool result are searched for test lines."""
    open_tools = 512
    recent_message_ids = 2048


_TEST_LINE = re.compile(
    r"""
    ^[ \t=_*>-]*(?P<line>
        # pytest / pytest-xdist: "8 passed in 1.92s", "1 failed, 1 passed, 2 warnings in 0.84s"
        (?:\d+\ (?:passed|failed|errors?|skipped|xfailed|xpassed|warnings?|deselected|rerun)
           (?:,\ \d+\ (?:passed|failed|errors?|skipped|xfailed|xpassed|warnings?|deselected|rerun))*
           \ in\ [\d.]+[ \t]*s(?:econds)?\b[^\n]*?)
      | no\ tests\ ran\ in\ [\d.]+s
        # cargo: "test result: ok. 8 passed; 0 failed; 0 ignored; ..."
      | test\ result:\ (?:ok|FAILED)\.\ \d+\ passed;\ \d+\ failed.*
        # jest / vitest: "Tests:       1 failed, 7 passed, 8 total", " Tests  8 passed (8)"
      | Tests:?[ \t]+(?:\d+\ \w+,[ \t]*)*\d+\ (?:passed|failed|total|skipped|todo)
        (?:,[ \t]*\d+\ \w+)*(?:[ \t]*\(\d+\))?
        # go test: "ok  	example.com/pkg	0.012s", "FAIL	example.com/pkg	0.1s"
      | (?:ok|FAIL)[ \t]+\S+[ \t]+(?:[\d.]+s|\(cached\))
        # unittest: "Ran 8 tests in 0.010s" is followed by OK / FAILED (failures=1)
      | Ran\ \d+\ tests?\ in\ [\d.]+s(?:[ \t]*\r?\n[ \t\r]*\n?[ \t]*(?:OK|FAILED)\b[^\n]*)?
      | FAILED\ \((?:failures|errors)=\d+[^\n]*\)
        # mocha: "  8 passing (12ms)", "  1 failing"
      | \d+\ (?:passing|failing|pending)(?:\ \(\d+\w*\))?
    )[ \t]*=*[ \t\r]*$
    """,
    re.VERBOSE | re.MULTILINE,
)
_TEST_BAD = re.compile(r"\b(?:[1-9]\d*\ (?:failed|errors?|failing)|FAIL|FAILED)\b", re.VERBOSE)
_TEST_GOOD = re.compile(r"\b(?:[1-9]\d* (?:passed|passing)|ok|OK)\b")
_COMMIT_LINE = re.compile(
    r"^\[(?P<branch>[^\s\]]+)(?: \([^)]*\))? (?P<hash>[0-9a-f]{7,40})\] (?P<message>.*)$",
    re.MULTILINE,
)
_GIT_COMMIT_CMD = re.compile(r"\bgit\b(?:[ \t]+-[Cc][ \t]+[^-\s]\S*|[ \t]+--?\S+)*[ \t]+commit\b")


# A commit's one-line log (`git log --oneline -1`, `--decorate`): "3e1f2a9 (HEAD -> main) m".
_ONELINE = re.compile(r"^(?P<hash>[0-9a-f]{7,40}) (?:\((?P<refs>[^)]*)\) )?(?P<message>\S.*)$",
                      re.MULTILINE)
_GIT_LOG_ONELINE = re.compile(r"\bgit\b[^|;&]*\blog\b[^|;&]*--oneline")


def cap(s: str, n: int) -> str:
    """`s` stripped and cut to `n` chars with an ellipsis. The cut drops a partial trailing
    word, so half a secret (too short for redaction to recognise) is never kept."""
    s = s.strip()
    return s if len(s) <= n else cut(s, n)


def cut(s: str, n: int) -> str:
    """The first `n` chars of `s`, ending on a word boundary, with "…"."""
    if len(s) <= n:
        return s
    head = s[: n - 1]
    if not s[n - 1].isspace():
        word_start = max(head.rfind(" "), head.rfind("\n"), head.rfind("\t"))
        head = head[:word_start] if word_start > 0 else ""
    return head.rstrip() + "…"


def count(usage: dict[str, Any], key: str) -> int:
    """A token count from a usage record: a positive int, else 0 (bools, negatives, junk)."""
    v = usage.get(key)
    return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else 0


def bounded_put(d: dict[str, str], key: str, value: str, limit: int) -> None:
    """`d[key] = value`; then, if `d` holds more than `limit`, its oldest entry is dropped."""
    d[key] = value
    if len(d) > limit:
        del d[next(iter(d))]


def scan_window(text: str, n: int) -> str:
    if len(text) <= n:
        return text
    half = n // 2
    return text[:half] + "\n" + text[-half:]


SPACES_CONTEXT_MARK = "Recent activity of peer agent sessions"
"""How the peer context Spaces' SessionStart hook injects begins (spacesd.daemon.server)."""
_HOOK_CONTEXT = re.compile(r"<hook_context>.*?(?:</hook_context>|\Z)", re.DOTALL)


def strip_spaces_context(text: str) -> str:
    """`text` without the context hooks injected in front of the prompt: Gemini CLI's
    <hook_context>...</hook_context> blocks, and a text that is Spaces' own peer context."""
    if "<hook_context>" in text:
        text = _HOOK_CONTEXT.sub("", text)
    text = text.strip()
    if text.startswith(SPACES_CONTEXT_MARK):
        return ""
    return text


class Summarizer:
    """The shared machinery of the transcript readers: what a summary holds, and the
    bookkeeping of files, commands, tests, commits and tokens. A reader for one agent
    kind subclasses it and implements `feed(obj)` for one parsed line."""

    FORMAT = "?"

    def __init__(self, cwd: str | None = None, limits: type[Limits] = Limits) -> None:
        self.limits = limits
        self.cwd: str | None = cwd
        self.transcript_cwd: str | None = None
        self.task: str | None = None
        self.prompts = 0
        self.files: list[str] = []
        self._files_seen: set[str] = set()
        self.commands: list[str] = []
        self._commands_seen: set[str] = set()
        self.commands_total = 0
        self.failed: list[str] = []
        self.tests: list[dict[str, Any]] = []
        self.commits: list[dict[str, str]] = []
        self._commit_hashes: set[str] = set()
        self.tokens = {"input": 0, "output": 0, "cache_read": 0, "cache_creation": 0}
        self._usage: dict[str, list[int]] = {}  # recent message ids -> usage, summed on eviction
        self._open_tools: dict[str, str] = {}  # tool_use id -> command (Bash only)
        self.first_ts: str | None = None
        self.last_ts: str | None = None
        self.git_branch: str | None = None
        self.last_text: str | None = None
        self.model: str | None = None
        self.lines = 0
        self.bad_lines = 0
        self.skipped_lines = 0
        self.partial = False
        self.skipped_bytes = 0

    # -- feeding

    def feed_line(self, line: bytes | str) -> None:
        self.lines += 1
        if not line.strip():
            return
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):  # not JSON; nested too deep for the parser
            self.bad_lines += 1
            return
        if not isinstance(obj, dict):
            self.bad_lines += 1
            return
        try:
            self.feed(obj)
        except (AttributeError, TypeError, ValueError, KeyError):
            self.bad_lines += 1  # an unexpected shape inside a known type

    def feed(self, obj: dict[str, Any]) -> None:
        """One parsed line of the transcript (each reader its own)."""
        raise NotImplementedError

    def _timestamp(self, ts: Any) -> None:
        """Widen [first_ts, last_ts] to take in `ts` (an ISO 8601 string; others ignored)."""
        if isinstance(ts, str) and ts:
            if self.first_ts is None or ts < self.first_ts:
                self.first_ts = ts
            if self.last_ts is None or ts > self.last_ts:
                self.last_ts = ts

    def _add_usage(self, values: list[int]) -> None:
        t = self.tokens
        t["input"] += values[0]
        t["output"] += values[1]
        t["cache_read"] += values[2]
        t["cache_creation"] += values[3]

    # -- tool calls, shared by the readers

    def _tool_call(self, name: str, args: dict[str, Any], file_tools: dict[str, str],
                   shell_tool: str) -> str | None:
        """One tool call: a file tool (`file_tools`: its name -> the argument holding the
        path) adds its file; `shell_tool` (its `command` argument) counts its command, which
        is returned (capped) for the caller to match with the call's result. Others: None."""
        key = file_tools.get(name)
        if key is not None:
            path = args.get(key)
            if isinstance(path, str) and path:
                self._add_file(path)
            return None
        if name != shell_tool:
            return None
        cmd = args.get("command")
        return self._add_command(cmd) if isinstance(cmd, str) else None

    def _add_command(self, cmd: str) -> str | None:
        """Count a shell command run (capped; listed once, up to the cap); returns it capped,
        or None for a blank one (not counted)."""
        if not cmd.strip():
            return None
        cmd = cap(cmd, self.limits.command_chars)
        self.commands_total += 1
        if cmd not in self._commands_seen and len(self.commands) < self.limits.commands:
            self._commands_seen.add(cmd)
            self.commands.append(cmd)
        return cmd

    def _open(self, call_id: str, cmd: str) -> None:
        """Remember `cmd` under its tool call id until the result comes (the oldest forgotten
        past `limits.open_tools`)."""
        bounded_put(self._open_tools, call_id, cmd, self.limits.open_tools)

    def _command_result(self, cmd: str, text: str, failed: bool) -> None:
        """A shell command's result `text` (scan-windowed): a failure, test lines, commits."""
        if failed:
            self._fail(cmd)
        self._tests_in(cmd, text, failed)
        if "commit" in cmd and _GIT_COMMIT_CMD.search(cmd):
            found = self._commits_in(text)
            if not found and not failed and _GIT_LOG_ONELINE.search(cmd):
                self._quiet_commit(text)

    def _fail(self, cmd: str) -> None:
        if cmd not in self.failed and len(self.failed) < self.limits.failed:
            self.failed.append(cmd)

    def _add_file(self, path: str) -> None:
        base = self.cwd or self.transcript_cwd
        if base and path.startswith(base.rstrip("/") + "/"):
            path = path[len(base.rstrip("/")) + 1 :]
        path = cap(path, self.limits.path_chars)
        if path not in self._files_seen and len(self.files) < self.limits.files:
            self._files_seen.add(path)
            self.files.append(path)

    def _commits_in(self, text: str) -> int:
        """The commits `git commit` reported ("[branch 3e1f2a9] message"); how many."""
        n = 0
        for m in _COMMIT_LINE.finditer(text):
            n += 1
            self._add_commit(m.group("hash"), m.group("branch"), m.group("message"))
        return n

    def _quiet_commit(self, text: str) -> None:
        """A `git commit -q ... && git log --oneline -1` that succeeded: the commit is the
        log's last one-line entry (its branch: the decoration's, else the session's)."""
        found = list(_ONELINE.finditer(text))
        if not found:
            return
        m = found[-1]
        branch = self.git_branch or ""
        refs = m.group("refs") or ""
        if "HEAD -> " in refs:
            branch = refs.split("HEAD -> ", 1)[1].split(",", 1)[0].strip()
        self._add_commit(m.group("hash"), branch, m.group("message"))

    def _add_commit(self, h: str, branch: str, message: str) -> None:
        if h in self._commit_hashes or len(self.commits) >= self.limits.commits:
            return
        self._commit_hashes.add(h)
        self.commits.append({"hash": h, "branch": branch, "message": cap(message, 200)})

    def _tests_in(self, cmd: str, text: str, failed: bool) -> None:
        found = [" ".join(m.group("line").split()) for m in _TEST_LINE.finditer(text)]
        if not found:
            return
        result = cap("; ".join(dict.fromkeys(found)), 200)
        ok = not failed and not _TEST_BAD.search(result) and bool(_TEST_GOOD.search(result))
        entry = {"command": cmd, "result": result, "ok": ok}
        if len(self.tests) >= self.limits.tests:
            self.tests.pop(0)  # keep the latest runs: they say where the session ended
        self.tests.append(entry)

    # -- result

    def result(self) -> dict[str, Any]:
        for values in self._usage.values():
            self._add_usage(values)
        self._usage.clear()
        return {
            "format": self.FORMAT,
            "task": self.task,
            "files": list(self.files),
            "commands": list(self.commands),
            "commands_total": self.commands_total,
            "failed_commands": list(self.failed),
            "tests": list(self.tests),
            "commits": list(self.commits),
            "tokens": dict(self.tokens),
            "started_at": self.first_ts,
            "ended_at": self.last_ts,
            "duration_s": duration(self.first_ts, self.last_ts),
            "git_branch": self.git_branch,
            "cwd": self.transcript_cwd,
            "last_text": self.last_text,
            "model": self.model,
            "prompts": self.prompts,
            "lines": self.lines,
            "bad_lines": self.bad_lines,
            "partial": self.partial,
            "skipped_bytes": self.skipped_bytes,
        }


def epoch(ts: str) -> float | None:
    """Seconds since the epoch of an ISO 8601 UTC timestamp ("2026-11-20T09:00:07.259Z")."""
    from datetime import datetime  # only two calls per summary; keeps the import off startup

    t = ts.strip()
    if t.endswith(("Z", "z")):
        t = t[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(t)
    except ValueError:
        # 3.10's fromisoformat wants 3 or 6 fractional digits
        m = re.match(r"^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(.*)$", t)
        if not m:
            return None
        frac = (m.group(2) or "0")[:6].ljust(6, "0")
        try:
            dt = datetime.fromisoformat(f"{m.group(1)}.{frac}{m.group(3)}")
        except ValueError:
            return None
    if dt.tzinfo is None:
        from datetime import timezone

        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def duration(first: str | None, last: str | None) -> float | None:
    if not first or not last:
        return None
    a, b = epoch(first), epoch(last)
    if a is None or b is None or b < a:
        return None
    return round(b - a, 3)


def iter_lines(f: BinaryIO, max_line: int = MAX_LINE, stop_at: int | None = None,
               skipped: list[int] | None = None) -> Iterator[bytes]:
    """Complete lines of a binary file, skipping (without holding) lines over `max_line`.

    Stops after the line that crosses byte offset `stop_at`, if given. `skipped[0]` is
    incremented per overlong line.
    """
    readline = f.readline
    pos = f.tell()
    while True:
        if stop_at is not None and pos >= stop_at:
            return
        line = readline(max_line)
        if not line:
            return
        pos += len(line)
        if len(line) >= max_line and not line.endswith(b"\n"):
            while True:  # drain the rest of the overlong line
                rest = readline(max_line)
                pos += len(rest)
                if not rest or rest.endswith(b"\n"):
                    break
            if skipped is not None:
                skipped[0] += 1
            continue
        yield line
