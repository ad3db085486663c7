"""Claude Code's transcript (~/.claude/projects/<project>/<session id>.jsonl). Stdlib only.

One JSON object a line: `type` user | assistant | system | summary | attachment | ...;
assistant lines carry `message.content` blocks (text, thinking, tool_use {name, input}) and
`message.usage` (one content block per line: the usage of a message.id is counted once, the
largest value seen taken); user lines carry the prompt or tool_result blocks (`is_error`, or
a result starting "Exit code N"); lines have cwd, gitBranch, timestamp, sessionId. Tools:
Edit / Write / MultiEdit {file_path}, NotebookEdit {notebook_path}, Bash {command}.
"""

from __future__ import annotations

import re

from spacesd.transcripts.base import (
    Summarizer,
    cap,
    count,
    scan_window,
    strip_spaces_context,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["CLAUDE_LINE_TYPES", "FILE_TOOLS", "ClaudeSummarizer"]

CLAUDE_LINE_TYPES = frozenset({"user", "assistant", "system", "summary", "attachment",
                               "file-history-snapshot", "queue-operation"})
FILE_TOOLS = {"Edit": "file_path", "Write": "file_path", "MultiEdit": "file_path",
              "NotebookEdit": "notebook_path"}
EXIT_CODE = re.compile(r"\A\s*(?:Exit code|exit code:?|exited with code|Error: exit status)\s*"
                        r"(?P<code>-?\d+)")
SHELL_TOOLS = frozenset({"Bash", "BashOutput"})

# Prompts that are not the user's task: slash-command scaffolding, hook/IDE injections.
_NOT_A_PROMPT = (
    "<command-name>", "<command-message>", "<command-args>", "<local-command-stdout>",
    "<local-command-stderr>", "<system-reminder>", "<user-prompt-submit-hook>", "<ide_",
    "<bash-input>", "<bash-stdout>", "<bash-stderr>", "Caveat: The messages below",
    "[Request interrupted", "This session is being continued from a previous conversation",
)

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
        b = strip_spaces_context(b)
        if b and not b.startswith(_NOT_A_PROMPT):
            parts.append(b)
    return "\n".join(parts)




class ClaudeSummarizer(Summarizer):
    """Feed it Claude Code transcript lines (bytes or str), then call `result()`."""

    FORMAT = "claude-code"

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
                    self.last_text = cap(text, self.limits.text_chars)

    def _count_usage(self, mid: str | None, usage: dict[str, Any]) -> None:
        values = [count(usage, "input_tokens"), count(usage, "output_tokens"),
                  count(usage, "cache_read_input_tokens"),
                  count(usage, "cache_creation_input_tokens")]
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

    def _tool_use(self, block: dict[str, Any]) -> None:
        name = block.get("name")
        inp = block.get("input")
        if not isinstance(name, str) or not isinstance(inp, dict):
            return
        cmd = self._tool_call(name, inp, FILE_TOOLS, "Bash")
        tid = block.get("id")
        if cmd is not None and isinstance(tid, str):
            self._open(tid, cmd)

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
            self.task = cap(text, self.limits.task_chars)

    def _tool_result(self, block: dict[str, Any]) -> None:
        tid = block.get("tool_use_id")
        cmd = self._open_tools.pop(tid, None) if isinstance(tid, str) else None
        if cmd is None:
            return  # not a Bash call we saw (a Read, or its tool_use is outside our window)
        text = scan_window(_text_of(block.get("content")), self.limits.result_scan_chars)
        failed = block.get("is_error") is True
        if not failed:
            m = EXIT_CODE.match(text)
            failed = m is not None and m.group("code") != "0"
        self._command_result(cmd, text, failed)
