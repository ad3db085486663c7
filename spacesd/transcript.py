"""Summarise an agent's transcript (JSONL) without any model call. Standard library only.

Three formats, told apart by their first lines (`detect`), not by the file name: Claude Code's
transcript (`Summarizer`), Codex CLI's rollout file and Gemini CLI's chat file (one JSON
document, read whole up to a size cap) (`spacesd.agent_transcripts`, imported only for those
files; its docstrings describe the formats). `summarize(path)` streams the JSONL ones line by
line and returns a plain dict (`format` says which it was):

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
"""

from __future__ import annotations

import json
import os
import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any, BinaryIO

__all__ = ["MAX_LINE", "Limits", "Summarizer", "cut", "detect", "iter_lines", "summarize"]

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


FILE_TOOLS = {"Edit": "file_path", "Write": "file_path", "MultiEdit": "file_path",
              "NotebookEdit": "notebook_path"}
SHELL_TOOLS = frozenset({"Bash", "BashOutput"})

# Prompts that are not the user's task: slash-command scaffolding, hook/IDE injections.
_NOT_A_PROMPT = (
    "<command-name>", "<command-message>", "<command-args>", "<local-command-stdout>",
    "<local-command-stderr>", "<system-reminder>", "<user-prompt-submit-hook>", "<ide_",
    "<bash-input>", "<bash-stdout>", "<bash-stderr>", "Caveat: The messages below",
    "[Request interrupted", "This session is being continued from a previous conversation",
)

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
_EXIT_CODE = re.compile(r"\A\s*(?:Exit code|exit code:?|exited with code|Error: exit status)\s*"
                        r"(?P<code>-?\d+)")
_GIT_COMMIT_CMD = re.compile(r"\bgit\b(?:[ \t]+-[Cc][ \t]+[^-\s]\S*|[ \t]+--?\S+)*[ \t]+commit\b")


def _cap(s: str, n: int) -> str:
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


def _text_of(content: Any) -> str:
    """The text of a message or tool_result content (a string or a list of blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [b.get("text", "") for b in content
                 if isinstance(b, dict) and b.get("type") == "text"]
        return "\n".join(p for p in parts if isinstance(p, str))
    return ""


_REMINDER = re.compile(r"<system-reminder>.*?(?:</system-reminder>|\Z)", re.DOTALL)


def _prompt_text(content: Any) -> str:
    """What the user typed: text blocks (or the string) minus injected reminders; "" when the
    line is scaffolding (a slash command, command output, an interruption notice)."""
    blocks: list[Any]
    if isinstance(content, str):
        blocks = [content]
    elif isinstance(content, list):
        blocks = [b.get("text") for b in content if isinstance(b, dict) and b.get("type") == "text"]
    else:
        return ""
    parts = []
    for b in blocks:
        if not isinstance(b, str):
            continue
        if "<system-reminder>" in b:
            b = _REMINDER.sub("", b)
        b = b.strip()
        if b and not b.startswith(_NOT_A_PROMPT):
            parts.append(b)
    return "\n".join(parts)


def _count(usage: dict[str, Any], key: str) -> int:
    """A token count from a usage record: a positive int, else 0 (bools, negatives, junk)."""
    v = usage.get(key)
    return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else 0


def _bounded_put(d: dict[str, str], key: str, value: str, limit: int) -> None:
    """`d[key] = value`; then, if `d` holds more than `limit`, its oldest entry is dropped."""
    d[key] = value
    if len(d) > limit:
        del d[next(iter(d))]


def _scan_window(text: str, n: int) -> str:
    if len(text) <= n:
        return text
    half = n // 2
    return text[:half] + "\n" + text[-half:]


class Summarizer:
    """Feed it Claude Code transcript lines (bytes or str), then call `result()`."""

    FORMAT = "claude-code"

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
        self._timestamp(obj.get("timestamp"))
        branch = obj.get("gitBranch")
        if isinstance(branch, str) and branch and branch != "HEAD":
            self.git_branch = branch
        if self.transcript_cwd is None:
            cwd = obj.get("cwd")
            if isinstance(cwd, str) and cwd:
                self.transcript_cwd = cwd
        kind = obj.get("type")
        msg = obj.get("message")
        if not isinstance(msg, dict):
            return
        sidechain = obj.get("isSidechain") is True
        if kind == "assistant":
            self._assistant(msg, sidechain)
        elif kind == "user":
            self._user(obj, msg, sidechain)

    def _timestamp(self, ts: Any) -> None:
        """Widen [first_ts, last_ts] to take in `ts` (an ISO 8601 string; others ignored)."""
        if isinstance(ts, str) and ts:
            if self.first_ts is None or ts < self.first_ts:
                self.first_ts = ts
            if self.last_ts is None or ts > self.last_ts:
                self.last_ts = ts

    def _assistant(self, msg: dict[str, Any], sidechain: bool) -> None:
        model = msg.get("model")
        if isinstance(model, str) and model and not model.startswith("<"):
            self.model = model
        usage = msg.get("usage")
        mid = msg.get("id")
        if isinstance(usage, dict):
            self._count_usage(mid if isinstance(mid, str) else None, usage)
        content = msg.get("content")
        if not isinstance(content, list):
            return
        for block in content:
            if not isinstance(block, dict):
                continue
            btype = block.get("type")
            if btype == "tool_use":
                self._tool_use(block)
            elif btype == "text" and not sidechain:
                text = block.get("text")
                if isinstance(text, str) and text.strip():
                    self.last_text = _cap(text, self.limits.text_chars)

    def _count_usage(self, mid: str | None, usage: dict[str, Any]) -> None:
        values = [_count(usage, "input_tokens"), _count(usage, "output_tokens"),
                  _count(usage, "cache_read_input_tokens"),
                  _count(usage, "cache_creation_input_tokens")]
        if mid is None:
            self._add_usage(values)
            return
        seen = self._usage.get(mid)
        if seen is not None:
            for i, v in enumerate(values):
                if v > seen[i]:
                    seen[i] = v
            return
        self._usage[mid] = values
        if len(self._usage) > self.limits.recent_message_ids:
            oldest = next(iter(self._usage))
            self._add_usage(self._usage.pop(oldest))

    def _add_usage(self, values: list[int]) -> None:
        t = self.tokens
        t["input"] += values[0]
        t["output"] += values[1]
        t["cache_read"] += values[2]
        t["cache_creation"] += values[3]

    def _tool_use(self, block: dict[str, Any]) -> None:
        name = block.get("name")
        inp = block.get("input")
        if not isinstance(name, str) or not isinstance(inp, dict):
            return
        cmd = self._tool_call(name, inp, FILE_TOOLS, "Bash")
        tid = block.get("id")
        if cmd is not None and isinstance(tid, str):
            self._open(tid, cmd)

    # -- tool calls, shared with spacesd.agent_transcripts' formats

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
        cmd = _cap(cmd, self.limits.command_chars)
        self.commands_total += 1
        if cmd not in self._commands_seen and len(self.commands) < self.limits.commands:
            self._commands_seen.add(cmd)
            self.commands.append(cmd)
        return cmd

    def _open(self, call_id: str, cmd: str) -> None:
        """Remember `cmd` under its tool call id until the result comes (the oldest forgotten
        past `limits.open_tools`)."""
        _bounded_put(self._open_tools, call_id, cmd, self.limits.open_tools)

    def _command_result(self, cmd: str, text: str, failed: bool) -> None:
        """A shell command's result `text` (scan-windowed): a failure, test lines, commits."""
        if failed:
            self._fail(cmd)
        self._tests_in(cmd, text, failed)
        if "commit" in cmd and _GIT_COMMIT_CMD.search(cmd):
            self._commits_in(text)

    def _fail(self, cmd: str) -> None:
        if cmd not in self.failed and len(self.failed) < self.limits.failed:
            self.failed.append(cmd)

    def _add_file(self, path: str) -> None:
        base = self.cwd or self.transcript_cwd
        if base and path.startswith(base.rstrip("/") + "/"):
            path = path[len(base.rstrip("/")) + 1 :]
        path = _cap(path, self.limits.path_chars)
        if path not in self._files_seen and len(self.files) < self.limits.files:
            self._files_seen.add(path)
            self.files.append(path)

    def _user(self, obj: dict[str, Any], msg: dict[str, Any], sidechain: bool) -> None:
        content = msg.get("content")
        if isinstance(content, list):
            has_result = False
            for block in content:
                if isinstance(block, dict) and block.get("type") == "tool_result":
                    has_result = True
                    self._tool_result(block)
            if has_result:
                return
        if sidechain or obj.get("isMeta") or obj.get("isCompactSummary"):
            return
        if obj.get("isVisibleInTranscriptOnly"):
            return
        text = _prompt_text(content)
        if not text:
            return
        self.prompts += 1
        if self.task is None:
            self.task = _cap(text, self.limits.task_chars)

    def _tool_result(self, block: dict[str, Any]) -> None:
        tid = block.get("tool_use_id")
        cmd = self._open_tools.pop(tid, None) if isinstance(tid, str) else None
        if cmd is None:
            return  # not a Bash call we saw (a Read, or its tool_use is outside our window)
        text = _scan_window(_text_of(block.get("content")), self.limits.result_scan_chars)
        failed = block.get("is_error") is True
        if not failed:
            m = _EXIT_CODE.match(text)
            failed = m is not None and m.group("code") != "0"
        self._command_result(cmd, text, failed)

    def _commits_in(self, text: str) -> None:
        for m in _COMMIT_LINE.finditer(text):
            h = m.group("hash")
            if h in self._commit_hashes or len(self.commits) >= self.limits.commits:
                continue
            self._commit_hashes.add(h)
            self.commits.append({
                "hash": h,
                "branch": m.group("branch"),
                "message": _cap(m.group("message"), 200),
            })

    def _tests_in(self, cmd: str, text: str, failed: bool) -> None:
        found = [" ".join(m.group("line").split()) for m in _TEST_LINE.finditer(text)]
        if not found:
            return
        result = _cap("; ".join(dict.fromkeys(found)), 200)
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
            "duration_s": _duration(self.first_ts, self.last_ts),
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

# -- Telling the formats apart --------------------------------------------------------------

# RolloutItem's tags (codex-rs/protocol/src/protocol.rs: #[serde(tag = "type", content =
# "payload", rename_all = "snake_case")]); a RolloutLine is {"timestamp", "type", "payload"}.
CODEX_LINE_TYPES = frozenset({"session_meta", "response_item", "event_msg", "turn_context",
                              "compacted"})
# ResponseItem's tags (codex-rs/protocol/src/models.rs), for rollouts written before
# RolloutLine existed: then each line was a bare ResponseItem after a bare SessionMeta.
CODEX_ITEM_TYPES = frozenset({"message", "reasoning", "function_call", "function_call_output",
                              "local_shell_call", "custom_tool_call", "custom_tool_call_output",
                              "web_search_call"})
CLAUDE_LINE_TYPES = frozenset({"user", "assistant", "system", "summary", "attachment",
                               "file-history-snapshot", "queue-operation"})


def detect(obj: dict[str, Any]) -> str | None:
    """"codex" or "claude-code" when one parsed line tells which transcript it belongs to,
    else None (ask the next line)."""
    kind = obj.get("type")
    if kind in CODEX_LINE_TYPES and "payload" in obj:
        return "codex"
    if kind in CLAUDE_LINE_TYPES and ("message" in obj or "sessionId" in obj or "uuid" in obj
                                      or kind in ("summary", "file-history-snapshot")):
        return "claude-code"
    if kind in CODEX_ITEM_TYPES or ("cli_version" in obj and "id" in obj):
        return "codex"  # a rollout from before RolloutLine: bare items, bare SessionMeta
    return None


def _epoch(ts: str) -> float | None:
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


def _duration(first: str | None, last: str | None) -> float | None:
    if not first or not last:
        return None
    a, b = _epoch(first), _epoch(last)
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


_GEMINI_FIRST_KEYS = (b'"sessionId"', b'"projectHash"', b'"startTime"', b'"lastUpdated"',
                      b'"messages"')
SNIFF_LINES = 16
"""The format is decided by the first of this many lines that tells (see `detect`)."""


def _choose(lines: Iterator[bytes], cwd: str | None) -> tuple[Summarizer, list[bytes]]:
    """The summarizer for the transcript `lines` come from, and the lines read to tell."""
    seen: list[bytes] = []
    fmt: str | None = None
    for line in lines:
        seen.append(line)
        if line.strip() == b"{":  # a pretty-printed JSON document: Gemini CLI's chat file?
            nxt = next(lines, b"")
            seen.append(nxt)
            if nxt.lstrip().startswith(_GEMINI_FIRST_KEYS):
                from spacesd.agent_transcripts import GeminiSummarizer

                return GeminiSummarizer(cwd=cwd), seen
        elif line.strip():
            try:
                obj = json.loads(line)
            except (ValueError, RecursionError):
                obj = None
            if isinstance(obj, dict):
                fmt = detect(obj)
        if fmt is not None or len(seen) >= SNIFF_LINES:
            break
    if fmt == "codex":
        from spacesd.agent_transcripts import CodexSummarizer

        return CodexSummarizer(cwd=cwd), seen
    return Summarizer(cwd=cwd), seen


def summarize(
    path: str | os.PathLike[str],
    *,
    cwd: str | None = None,
    full_limit: int = 24 * 1024 * 1024,
    head_bytes: int = 2 * 1024 * 1024,
    tail_bytes: int = 8 * 1024 * 1024,
    max_line: int = MAX_LINE,
) -> dict[str, Any]:
    """Summarise the transcript at `path` (see the module docstring). Raises OSError if the
    file cannot be opened; never for its content."""
    skipped = [0]
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        head = iter_lines(f, max_line, stop_at=None if size <= full_limit else head_bytes,
                          skipped=skipped)
        s, seen = _choose(head, cwd)
        if s.FORMAT == "gemini-cli":
            from spacesd.agent_transcripts import read_gemini

            return read_gemini(s, f, size)
        for line in seen:
            s.feed_line(line)
        for line in head:
            s.feed_line(line)
        if size > full_limit:
            head_end = f.tell()
            tail_start = max(head_end, size - tail_bytes)
            if tail_start > head_end:
                f.seek(tail_start - 1)
                if f.read(1) != b"\n":
                    f.readline()  # land on a line start; a partial line is no JSON
                s.partial = True
                s.skipped_bytes = f.tell() - head_end
            for line in iter_lines(f, max_line, skipped=skipped):
                s.feed_line(line)
    s.skipped_lines = skipped[0]
    out = s.result()
    out["skipped_lines"] = skipped[0]
    return out
