"""Summarise an agent's transcript (JSONL) without any model call. Standard library only.

Three formats, told apart by their first lines (`detect`), not by the file name: Claude Code's
transcript (`Summarizer`), Codex CLI's rollout file (`CodexSummarizer`) and Gemini CLI's chat
file (`GeminiSummarizer`, one JSON document, read whole up to `GEMINI_MAX_BYTES`); their
docstrings describe the formats. `summarize(path)` streams the JSONL ones line by line and
returns a plain dict (`format` says which it was):

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

__all__ = ["MAX_LINE", "CodexSummarizer", "GeminiSummarizer", "Limits", "Summarizer", "cut",
           "detect", "iter_lines", "summarize"]

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
        ts = obj.get("timestamp")
        if isinstance(ts, str) and ts:
            if self.first_ts is None or ts < self.first_ts:
                self.first_ts = ts
            if self.last_ts is None or ts > self.last_ts:
                self.last_ts = ts
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
        def n(key: str) -> int:
            v = usage.get(key)
            return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else 0

        values = [n("input_tokens"), n("output_tokens"), n("cache_read_input_tokens"),
                  n("cache_creation_input_tokens")]
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
        key = FILE_TOOLS.get(name)
        if key is not None:
            path = inp.get(key)
            if isinstance(path, str) and path:
                self._add_file(path)
            return
        if name == "Bash":
            cmd = inp.get("command")
            if not isinstance(cmd, str) or not cmd.strip():
                return
            cmd = _cap(cmd, self.limits.command_chars)
            self.commands_total += 1
            if cmd not in self._commands_seen and len(self.commands) < self.limits.commands:
                self._commands_seen.add(cmd)
                self.commands.append(cmd)
            tid = block.get("id")
            if isinstance(tid, str):
                self._open_tools[tid] = cmd
                if len(self._open_tools) > self.limits.open_tools:
                    del self._open_tools[next(iter(self._open_tools))]

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
        if failed and cmd not in self.failed and len(self.failed) < self.limits.failed:
            self.failed.append(cmd)
        self._tests_in(cmd, text, failed)
        if "commit" in cmd and _GIT_COMMIT_CMD.search(cmd):
            self._commits_in(text)

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


# -- Codex CLI ---------------------------------------------------------------------------------

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

# User messages Codex injects, not typed by the user (codex-rs/core/src/event_mapping.rs
# is_contextual_user_message: environment context, AGENTS.md / user instructions, skills,
# `!cmd` shell commands; plus the turn-aborted notice).
_CODEX_NOT_A_PROMPT = (
    "<environment_context>", "<user_instructions>", "# AGENTS.md instructions for",
    "<INSTRUCTIONS>", "<skill>", "<user_shell_command>", "<turn_aborted>",
)
_CODEX_USER_MESSAGE_BEGIN = "## My request for Codex:"
# Function tools that run a shell command, and the argument holding it: `shell` and
# `container.exec` take an argv list, `shell_command` a string, unified exec's `exec_command`
# a string `cmd` (codex-rs/core/src/tools/handlers/{shell,unified_exec}.rs).
_CODEX_SHELL_TOOLS = {"shell": "command", "container.exec": "command",
                      "shell_command": "command", "exec_command": "cmd"}
# A tool output's header: `Exit code: N` (shell_command, freeform) or `Process exited with code
# N` (exec_command, write_stdin); `Process running with session ID N` while it still runs.
# Compiled on first use (`_codex_patterns`): a Claude Code session never pays for them.
_CODEX_EXIT = r"^(?:Exit code:|Process exited with code)[ \t]*(-?\d+)[ \t]*\r?$"
_CODEX_RUNNING = r"^Process running with session ID[ \t]*(\d+)"
_PATCH_FILE = r"^[ \t]*\*\*\* (?:(?:Add|Update|Delete) File|Move to): (.+?)[ \t\r]*$"
_codex_re: list[re.Pattern[str]] = []


def _codex_patterns() -> list[re.Pattern[str]]:
    """[exit code, still running, patch file] patterns, compiled once."""
    if not _codex_re:
        _codex_re.extend(re.compile(p, re.MULTILINE)
                         for p in (_CODEX_EXIT, _CODEX_RUNNING, _PATCH_FILE))
    return _codex_re


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


def _argv_text(argv: list[Any]) -> str:
    """The command line of an argv: the script of `bash -lc SCRIPT`, else the words joined."""
    words = [w for w in argv if isinstance(w, str)]
    if len(words) >= 3 and words[-2] in ("-lc", "-c", "-Command", "/c"):
        return words[-1]
    return " ".join(words)


def _codex_output_text(output: Any) -> str:
    """A function_call_output's `output` as text: FunctionCallOutputBody is a string or a
    list of content items ({"type": "input_text", "text"}, images)."""
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        return "\n".join(b["text"] for b in output
                         if isinstance(b, dict) and isinstance(b.get("text"), str))
    if isinstance(output, dict):  # tolerate {"content": ...} / {"output": ...}
        return _codex_output_text(output.get("content", output.get("output")))
    return ""


class CodexSummarizer(Summarizer):
    """Feed it a Codex CLI rollout (~/.codex/sessions/YYYY/MM/DD/rollout-*.jsonl).

    Each line is a RolloutLine (codex-rs/protocol/src/protocol.rs): {"timestamp", "type",
    "payload"} with type one of
      session_meta   SessionMetaLine: id, timestamp, cwd, cli_version, originator, ...,
                     git {commit_hash, branch, repository_url} -> cwd, git_branch
      turn_context   TurnContextItem: cwd, model, approval/sandbox policy -> model
      response_item  ResponseItem (models.rs), tagged by payload.type:
                     message {role, content: [{type: input_text|output_text, text}]} -> the
                       task (user, minus Codex's injected context) and last_text (assistant);
                     function_call {name, arguments (a JSON string), call_id}: shell tools
                       -> commands, apply_patch {"input"} -> files;
                     local_shell_call {call_id, action: {type: exec, command: [argv]}};
                     custom_tool_call {name: apply_patch, input: the patch, call_id};
                     function_call_output / custom_tool_call_output {call_id, output}: the
                       exit code from the output ("Exit code: N", "Process exited with code
                       N", or the JSON {"output", "metadata": {"exit_code"}}), tests, commits
      event_msg      EventMsg, tagged by payload.type: user_message {message} (what the user
                     typed: preferred for the task and the prompt count), agent_message
                     {message}, token_count {info: {total_token_usage, last_token_usage}},
                     and only in the extended persistence mode exec_command_end {call_id,
                     exit_code} and patch_apply_end {changes}
      compacted      skipped
    Rollouts from before RolloutLine (bare ResponseItems after a bare SessionMeta line) are
    read too. Token counts are session totals: the last total_token_usage seen is the
    session's usage (never summed); input_tokens includes cached_input_tokens, so "input"
    is the uncached part and "cache_read" the cached one. The exec events are not persisted
    by default, so exit codes come from the tool outputs.
    """

    FORMAT = "codex"

    def __init__(self, cwd: str | None = None, limits: type[Limits] = Limits) -> None:
        super().__init__(cwd, limits)
        self._exit_re, self._running_re, self._patch_re = _codex_patterns()
        self._event_task: str | None = None
        self._event_prompts = 0
        self._item_task: str | None = None
        self._item_prompts = 0
        self._sessions: dict[str, str] = {}  # unified exec session id -> command
        self._pending_session: dict[str, str] = {}  # exec_command call id -> command

    def feed(self, obj: dict[str, Any]) -> None:
        ts = obj.get("timestamp")
        if isinstance(ts, str) and ts:
            if self.first_ts is None or ts < self.first_ts:
                self.first_ts = ts
            if self.last_ts is None or ts > self.last_ts:
                self.last_ts = ts
        kind = obj.get("type")
        payload = obj.get("payload")
        if not isinstance(payload, dict):
            if kind in CODEX_ITEM_TYPES:
                self._item(obj)  # legacy: a bare ResponseItem
            elif kind is None and "cli_version" in obj:
                self._meta(obj)  # legacy: a bare SessionMeta
            return
        if kind == "response_item":
            self._item(payload)
        elif kind == "event_msg":
            self._event(payload)
        elif kind == "session_meta":
            self._meta(payload)
        elif kind == "turn_context":
            model = payload.get("model")
            if isinstance(model, str) and model:
                self.model = model
            if self.transcript_cwd is None:
                cwd = payload.get("cwd")
                if isinstance(cwd, str) and cwd:
                    self.transcript_cwd = cwd

    def _meta(self, meta: dict[str, Any]) -> None:
        cwd = meta.get("cwd")
        if self.transcript_cwd is None and isinstance(cwd, str) and cwd:
            self.transcript_cwd = cwd
        git = meta.get("git")
        if isinstance(git, dict):
            branch = git.get("branch")
            if isinstance(branch, str) and branch and branch != "HEAD":
                self.git_branch = branch
        ts = meta.get("timestamp")
        if isinstance(ts, str) and ts and (self.first_ts is None or ts < self.first_ts):
            self.first_ts = ts

    # -- response items

    def _item(self, item: dict[str, Any]) -> None:
        itype = item.get("type")
        if itype == "function_call_output" or itype == "custom_tool_call_output":
            self._output(item)
        elif itype == "function_call":
            self._function_call(item)
        elif itype == "message":
            self._message(item)
        elif itype == "custom_tool_call":
            inp = item.get("input")
            if isinstance(inp, str) and "*** Begin Patch" in inp:
                self._patch(inp)
        elif itype == "local_shell_call":
            action = item.get("action")
            call_id = item.get("call_id") or item.get("id")
            if isinstance(action, dict) and isinstance(action.get("command"), list):
                self._command(_argv_text(action["command"]), call_id)

    def _message(self, item: dict[str, Any]) -> None:
        role = item.get("role")
        content = item.get("content")
        if not isinstance(content, list):
            return
        if role == "assistant":
            texts = [b["text"] for b in content if isinstance(b, dict)
                     and b.get("type") == "output_text" and isinstance(b.get("text"), str)]
            text = "\n".join(texts)
            if text.strip():
                self.last_text = _cap(text, self.limits.text_chars)
        elif role == "user":
            parts = []
            for b in content:
                if isinstance(b, dict) and b.get("type") == "input_text":
                    t = _codex_prompt(b.get("text"))
                    if t:
                        parts.append(t)
            if parts:
                self._item_prompts += 1
                if self._item_task is None:
                    self._item_task = _cap("\n".join(parts), self.limits.task_chars)

    def _function_call(self, item: dict[str, Any]) -> None:
        name = item.get("name")
        raw = item.get("arguments")
        if not isinstance(name, str) or not isinstance(raw, str):
            return
        key = _CODEX_SHELL_TOOLS.get(name)
        if key is None and name not in ("apply_patch", "write_stdin"):
            return  # MCP tools, update_plan, view_image, ...
        try:
            args = json.loads(raw)
        except (ValueError, RecursionError):
            return
        if not isinstance(args, dict):
            return
        call_id = item.get("call_id")
        if name == "apply_patch":
            inp = args.get("input")
            if isinstance(inp, str):
                self._patch(inp)
        elif name == "write_stdin":
            # More output of a running exec_command session: its exit code may be in here.
            cmd = self._sessions.get(str(args.get("session_id")))
            if cmd is not None and isinstance(call_id, str):
                self._open(call_id, cmd)
        else:
            value = args.get(key or "")
            if isinstance(value, list):
                self._command(_argv_text(value), call_id, name == "exec_command")
            elif isinstance(value, str):
                self._command(value, call_id, name == "exec_command")

    def _command(self, cmd: str, call_id: Any, unified: bool = False) -> None:
        if "*** Begin Patch" in cmd:  # apply_patch through the shell: an edit, not a command
            self._patch(cmd)
            return
        if not cmd.strip():
            return
        cmd = _cap(cmd, self.limits.command_chars)
        self.commands_total += 1
        if cmd not in self._commands_seen and len(self.commands) < self.limits.commands:
            self._commands_seen.add(cmd)
            self.commands.append(cmd)
        if isinstance(call_id, str):
            self._open(call_id, cmd)
            if unified:
                self._pending_session[call_id] = cmd
                if len(self._pending_session) > self.limits.open_tools:
                    del self._pending_session[next(iter(self._pending_session))]

    def _open(self, call_id: str, cmd: str) -> None:
        self._open_tools[call_id] = cmd
        if len(self._open_tools) > self.limits.open_tools:
            del self._open_tools[next(iter(self._open_tools))]

    def _patch(self, text: str) -> None:
        for m in self._patch_re.finditer(text):
            self._add_file(m.group(1))

    def _output(self, item: dict[str, Any]) -> None:
        call_id = item.get("call_id")
        if not isinstance(call_id, str):
            return
        cmd = self._open_tools.pop(call_id, None)
        pending = self._pending_session.pop(call_id, None)
        if cmd is None:
            return  # not a shell call we saw (apply_patch, an MCP tool, outside our window)
        text = _codex_output_text(item.get("output"))
        code: int | None = None
        if text.startswith("{"):  # the structured form: {"output", "metadata": {"exit_code"}}
            try:
                obj = json.loads(text)
            except (ValueError, RecursionError):
                obj = None
            if isinstance(obj, dict) and isinstance(obj.get("output"), str):
                meta = obj.get("metadata")
                if isinstance(meta, dict) and isinstance(meta.get("exit_code"), int):
                    code = meta["exit_code"]
                text = obj["output"]
        text = _scan_window(text, self.limits.result_scan_chars)
        if code is None:
            head = text[:2048]
            m = self._exit_re.search(head)
            if m is not None:
                code = int(m.group(1))
            elif pending is not None:
                r = self._running_re.search(head)
                if r is not None:  # still running: write_stdin calls will tell the rest
                    self._sessions[r.group(1)] = pending
                    if len(self._sessions) > self.limits.open_tools:
                        del self._sessions[next(iter(self._sessions))]
        failed = code is not None and code != 0
        if failed:
            self._fail(cmd)
        self._tests_in(cmd, text, failed)
        if "commit" in cmd and _GIT_COMMIT_CMD.search(cmd):
            self._commits_in(text)

    def _fail(self, cmd: str) -> None:
        if cmd not in self.failed and len(self.failed) < self.limits.failed:
            self.failed.append(cmd)

    # -- events

    def _event(self, ev: dict[str, Any]) -> None:
        etype = ev.get("type")
        if etype == "token_count":
            info = ev.get("info")
            total = info.get("total_token_usage") if isinstance(info, dict) else None
            if isinstance(total, dict):
                self._totals(total)
        elif etype == "agent_message":
            msg = ev.get("message")
            if isinstance(msg, str) and msg.strip():
                self.last_text = _cap(msg, self.limits.text_chars)
        elif etype == "user_message":
            kind = ev.get("kind")  # older rollouts: plain / user_instructions / environment_context
            if kind not in (None, "plain"):
                return
            text = _codex_prompt(ev.get("message"))
            if text:
                self._event_prompts += 1
                if self._event_task is None:
                    self._event_task = _cap(text, self.limits.task_chars)
        elif etype == "exec_command_end":
            call_id = ev.get("call_id")
            code = ev.get("exit_code")
            cmd = self._open_tools.get(call_id) if isinstance(call_id, str) else None
            if cmd is not None and isinstance(code, int) and code != 0:
                self._fail(cmd)
        elif etype == "patch_apply_end":
            changes = ev.get("changes")
            if isinstance(changes, dict):
                for path in changes:
                    if isinstance(path, str):
                        self._add_file(path)

    def _totals(self, usage: dict[str, Any]) -> None:
        def n(key: str) -> int:
            v = usage.get(key)
            return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else 0

        cached = n("cached_input_tokens")
        self.tokens = {"input": max(0, n("input_tokens") - cached), "output": n("output_tokens"),
                       "cache_read": cached, "cache_creation": 0}

    def result(self) -> dict[str, Any]:
        if self._event_prompts:
            self.task, self.prompts = self._event_task, self._event_prompts
        else:
            self.task, self.prompts = self._item_task, self._item_prompts
        return super().result()


# -- Gemini CLI --------------------------------------------------------------------------------

GEMINI_MAX_BYTES = 4 * 1024 * 1024
"""A Gemini CLI chat file is one JSON document (not JSONL): it is parsed whole, so only up to
this size; a bigger one gives an empty, `partial` summary (the hook falls back on stdin)."""
_GEMINI_FILE_TOOLS = {"write_file": "file_path", "replace": "file_path"}
_GEMINI_SHELL_TOOL = "run_shell_command"


def _gemini_text(content: Any) -> str:
    """The text of a PartListUnion: a string, a part {"text"}, or a list of either."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        t = content.get("text")
        return t if isinstance(t, str) else ""
    if isinstance(content, list):
        return "\n".join(p for p in (_gemini_text(c) for c in content) if p)
    return ""


def _gemini_result(result: Any) -> str:
    """A tool call's result (function response parts) as text."""
    if isinstance(result, list):
        return "\n".join(p for p in (_gemini_result(r) for r in result) if p)
    if isinstance(result, dict):
        fr = result.get("functionResponse")
        if isinstance(fr, dict):
            resp = fr.get("response")
            if isinstance(resp, dict):
                out = resp.get("output", resp.get("error"))
                return out if isinstance(out, str) else ""
        t = result.get("text")
        return t if isinstance(t, str) else ""
    return result if isinstance(result, str) else ""


class GeminiSummarizer(Summarizer):
    """Gemini CLI's chat file (~/.gemini/tmp/<project hash>/chats/session-*.json, written by
    packages/core/src/services/chatRecordingService.ts): one pretty-printed ConversationRecord
    {sessionId, projectHash, startTime, lastUpdated, messages: [MessageRecord]}; a message is
    {id, timestamp, type: user|gemini|info|error|warning, content (PartListUnion)} and a gemini
    one adds model, tokens {input, output, cached, thoughts, tool, total} (that response's
    usage: summed) and toolCalls [{id, name, args, result, status}]. Tools: write_file and
    replace {file_path}, run_shell_command {command} whose output ends with "Exit Code: N"."""

    FORMAT = "gemini-cli"

    def feed_record(self, rec: dict[str, Any]) -> None:
        for key in ("startTime", "lastUpdated"):
            self.feed({"timestamp": rec.get(key)})
        messages = rec.get("messages")
        if not isinstance(messages, list):
            return
        for msg in messages:
            self.lines += 1
            if not isinstance(msg, dict):
                self.bad_lines += 1
                continue
            try:
                self._gemini_message(msg)
            except (AttributeError, TypeError, ValueError, KeyError):
                self.bad_lines += 1

    def feed(self, obj: dict[str, Any]) -> None:  # timestamps only: see feed_record
        ts = obj.get("timestamp")
        if isinstance(ts, str) and ts:
            if self.first_ts is None or ts < self.first_ts:
                self.first_ts = ts
            if self.last_ts is None or ts > self.last_ts:
                self.last_ts = ts

    def _gemini_message(self, msg: dict[str, Any]) -> None:
        self.feed(msg)
        kind = msg.get("type")
        if kind == "user":
            text = _gemini_text(msg.get("content")).strip()
            if text:
                self.prompts += 1
                if self.task is None:
                    self.task = _cap(text, self.limits.task_chars)
            return
        if kind != "gemini":
            return
        model = msg.get("model")
        if isinstance(model, str) and model:
            self.model = model
        text = _gemini_text(msg.get("content"))
        if text.strip():
            self.last_text = _cap(text, self.limits.text_chars)
        tokens = msg.get("tokens")
        if isinstance(tokens, dict):
            def n(key: str) -> int:
                v = tokens.get(key)
                return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else 0
            cached = n("cached")
            self._add_usage([max(0, n("input") - cached), n("output") + n("thoughts"), cached, 0])
        calls = msg.get("toolCalls")
        if isinstance(calls, list):
            for c in calls:
                if isinstance(c, dict):
                    self._gemini_tool(c)

    def _gemini_tool(self, call: dict[str, Any]) -> None:
        name = call.get("name")
        args = call.get("args")
        if not isinstance(name, str) or not isinstance(args, dict):
            return
        key = _GEMINI_FILE_TOOLS.get(name)
        if key is not None:
            path = args.get(key)
            if isinstance(path, str) and path:
                self._add_file(path)
            return
        if name != _GEMINI_SHELL_TOOL:
            return
        cmd = args.get("command")
        if not isinstance(cmd, str) or not cmd.strip():
            return
        cmd = _cap(cmd, self.limits.command_chars)
        self.commands_total += 1
        if cmd not in self._commands_seen and len(self.commands) < self.limits.commands:
            self._commands_seen.add(cmd)
            self.commands.append(cmd)
        text = _scan_window(_gemini_result(call.get("result")), self.limits.result_scan_chars)
        text = text.replace("\nOutput: ", "\n", 1)  # "Command: c\nDirectory: d\nOutput: ..."
        m = re.search(r"^Exit Code: (-?\d+)", text[-4096:], re.MULTILINE)
        failed = call.get("status") == "error" or (m is not None and m.group(1) != "0")
        if failed and cmd not in self.failed and len(self.failed) < self.limits.failed:
            self.failed.append(cmd)
        self._tests_in(cmd, text, failed)
        if "commit" in cmd and _GIT_COMMIT_CMD.search(cmd):
            self._commits_in(text)


def _codex_prompt(text: Any) -> str:
    """What the user typed, from a user message's text; "" for Codex's injected context."""
    if not isinstance(text, str):
        return ""
    typed = text.strip()
    if not typed or typed.startswith(_CODEX_NOT_A_PROMPT):
        return ""
    i = typed.find(_CODEX_USER_MESSAGE_BEGIN)
    if i >= 0:  # older Codex put the prompt after this marker, behind its context
        typed = typed[i + len(_CODEX_USER_MESSAGE_BEGIN):].strip()
    return typed


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
    cls = CodexSummarizer if fmt == "codex" else Summarizer
    return cls(cwd=cwd), seen


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
        if isinstance(s, GeminiSummarizer):
            return _gemini(s, f, size)
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


def _gemini(s: GeminiSummarizer, f: BinaryIO, size: int) -> dict[str, Any]:
    if size > GEMINI_MAX_BYTES:
        s.partial = True
        s.skipped_bytes = size
    else:
        f.seek(0)
        try:
            rec = json.loads(f.read())
        except (ValueError, RecursionError):
            rec = None
        if isinstance(rec, dict):
            s.feed_record(rec)
        else:
            s.bad_lines += 1
    out = s.result()
    out["skipped_lines"] = 0
    return out
