"""Codex CLI's rollout file (~/.codex/sessions/YYYY/MM/DD/rollout-<ts>-<id>.jsonl). Stdlib only.

Read by spacesd.transcripts.reader only for a file that turns out to be a rollout: a Claude
Code session never imports this module. See `CodexSummarizer` for the format.
"""

from __future__ import annotations

import json
import re

from spacesd.transcripts.base import (
    Limits,
    Summarizer,
    bounded_put,
    cap,
    count,
    scan_window,
    strip_spaces_context,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["CODEX_ITEM_TYPES", "CODEX_LINE_TYPES", "CodexSummarizer"]

# RolloutItem's tags (codex-rs/protocol/src/protocol.rs: #[serde(tag = "type", content =
# "payload", rename_all = "snake_case")]); a RolloutLine is {"timestamp", "type", "payload"}.
CODEX_LINE_TYPES = frozenset({"session_meta", "response_item", "event_msg", "turn_context",
                              "compacted"})
# ResponseItem's tags (codex-rs/protocol/src/models.rs), for rollouts written before
# RolloutLine existed: then each line was a bare ResponseItem after a bare SessionMeta.
CODEX_ITEM_TYPES = frozenset({"message", "reasoning", "function_call", "function_call_output",
                              "local_shell_call", "custom_tool_call", "custom_tool_call_output",
                              "web_search_call"})
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
        self._timestamp(obj.get("timestamp"))
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
                self.last_text = cap(text, self.limits.text_chars)
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
                    self._item_task = cap("\n".join(parts), self.limits.task_chars)

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
        capped = self._add_command(cmd)
        if capped is not None and isinstance(call_id, str):
            self._open(call_id, capped)
            if unified:
                bounded_put(self._pending_session, call_id, capped, self.limits.open_tools)

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
        text = scan_window(text, self.limits.result_scan_chars)
        if code is None:
            head = text[:2048]
            m = self._exit_re.search(head)
            if m is not None:
                code = int(m.group(1))
            elif pending is not None:
                r = self._running_re.search(head)
                if r is not None:  # still running: write_stdin calls will tell the rest
                    bounded_put(self._sessions, r.group(1), pending, self.limits.open_tools)
        self._command_result(cmd, text, code is not None and code != 0)

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
                self.last_text = cap(msg, self.limits.text_chars)
        elif etype == "user_message":
            kind = ev.get("kind")  # older rollouts: plain / user_instructions / environment_context
            if kind not in (None, "plain"):
                return
            text = _codex_prompt(ev.get("message"))
            if text:
                self._event_prompts += 1
                if self._event_task is None:
                    self._event_task = cap(text, self.limits.task_chars)
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
        cached = count(usage, "cached_input_tokens")
        self.tokens = {"input": max(0, count(usage, "input_tokens") - cached),
                       "output": count(usage, "output_tokens"),
                       "cache_read": cached, "cache_creation": 0}

    def result(self) -> dict[str, Any]:
        if self._event_prompts:
            self.task, self.prompts = self._event_task, self._event_prompts
        else:
            self.task, self.prompts = self._item_task, self._item_prompts
        return super().result()


def _codex_prompt(text: Any) -> str:
    """What the user typed, from a user message's text; "" for Codex's injected context."""
    if not isinstance(text, str):
        return ""
    typed = strip_spaces_context(text)
    if not typed or typed.startswith(_CODEX_NOT_A_PROMPT):
        return ""
    i = typed.find(_CODEX_USER_MESSAGE_BEGIN)
    if i >= 0:  # older Codex put the prompt after this marker, behind its context
        typed = typed[i + len(_CODEX_USER_MESSAGE_BEGIN):].strip()
    return typed
