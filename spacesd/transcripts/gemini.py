"""Gemini CLI's chat file (~/.gemini/tmp/<project>/chats/session-<ts>-<id8>.jsonl). Stdlib only.

Read by spacesd.transcripts.reader only for a file that turns out to be Gemini's: a Claude
Code session never imports this module.

Gemini CLI 0.61 writes JSONL (packages/core/src/services/chatRecordingService.ts):
    a header line     {"sessionId", "projectHash", "startTime", "lastUpdated", "kind"}
    update lines      {"$set": {"lastUpdated": ...}} or {"$set": {"messages": [...]}} (the
                      whole list, e.g. the <session_context> Gemini puts first)
    message lines     {"id", "timestamp", "type": user|gemini|info|error|warning, "content"
                      (PartListUnion)}; a gemini message adds "model", "tokens" {input, output,
                      cached, thoughts, tool, total} (that response's usage: summed) and, in a
                      later line with the same id, "toolCalls" [{id, name, args, result,
                      status}]. A message line repeated with the same id replaces the earlier
                      one: only a message's last line counts.
Older versions wrote one pretty-printed JSON document {sessionId, ..., messages: [...]} with
the same message records (`read_document`, up to `GEMINI_MAX_BYTES`).

Tools: write_file and replace {file_path}, run_shell_command {command} whose result reads
"Output: ...\nExit Code: N\n..." (0.61 wraps it in <untrusted_context>). User messages that
are Gemini's own (<session_context>) or Spaces' (<hook_context>) are not the task.
"""

from __future__ import annotations

import json
import re

from spacesd.transcripts.base import Summarizer, cap, count, scan_window, strip_spaces_context

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, BinaryIO

__all__ = ["GEMINI_FIRST_KEYS", "GEMINI_MAX_BYTES", "GeminiSummarizer"]

GEMINI_MAX_BYTES = 4 * 1024 * 1024
"""An old-style chat file (one JSON document) is parsed whole, so only up to this size; a
bigger one gives an empty, `partial` summary (the hook falls back on stdin)."""
GEMINI_FIRST_KEYS = ("sessionId", "projectHash", "startTime", "lastUpdated", "messages")
_GEMINI_FILE_TOOLS = {"write_file": "file_path", "replace": "file_path"}
_GEMINI_SHELL_TOOL = "run_shell_command"
_NOT_A_PROMPT = ("<session_context>",)
_EXIT = re.compile(r"^Exit Code: (-?\d+)", re.MULTILINE)
_OUTPUT = re.compile(r"^(?:<untrusted_context>\s*)?Output: ", re.MULTILINE)


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
    """Feed it Gemini CLI chat file lines (JSONL), then call `result()`."""

    FORMAT = "gemini-cli"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending: dict[str, Any] | None = None  # the message whose last line may follow

    def feed(self, obj: dict[str, Any]) -> None:
        update = obj.get("$set")
        if isinstance(update, dict):
            self._timestamp(update.get("lastUpdated"))
            messages = update.get("messages")
            if isinstance(messages, list):
                for msg in messages:
                    if isinstance(msg, dict):
                        self._message_line(msg)
            return
        if "sessionId" in obj and "type" not in obj:  # the header
            for key in ("startTime", "lastUpdated"):
                self._timestamp(obj.get(key))
            return
        if isinstance(obj.get("type"), str):
            self._message_line(obj)

    def _message_line(self, msg: dict[str, Any]) -> None:
        """A message record: held until a line with another id shows it is complete."""
        pending = self._pending
        if pending is not None and pending.get("id") != msg.get("id"):
            self._message(pending)
        self._pending = msg

    def feed_record(self, rec: dict[str, Any]) -> None:
        """An old-style chat file: the whole ConversationRecord."""
        for key in ("startTime", "lastUpdated"):
            self._timestamp(rec.get(key))
        messages = rec.get("messages")
        if not isinstance(messages, list):
            return
        for msg in messages:
            self.lines += 1
            if isinstance(msg, dict):
                self._message_line(msg)
            else:
                self.bad_lines += 1

    def _message(self, msg: dict[str, Any]) -> None:
        try:
            self._gemini_message(msg)
        except (AttributeError, TypeError, ValueError, KeyError):
            self.bad_lines += 1

    def _gemini_message(self, msg: dict[str, Any]) -> None:
        self._timestamp(msg.get("timestamp"))
        kind = msg.get("type")
        if kind == "user":
            text = strip_spaces_context(_gemini_text(msg.get("content")))
            if text and not text.startswith(_NOT_A_PROMPT):
                self.prompts += 1
                if self.task is None:
                    self.task = cap(text, self.limits.task_chars)
            return
        if kind != "gemini":
            return
        model = msg.get("model")
        if isinstance(model, str) and model:
            self.model = model
        text = _gemini_text(msg.get("content"))
        if text.strip():
            self.last_text = cap(text, self.limits.text_chars)
        tokens = msg.get("tokens")
        if isinstance(tokens, dict):
            cached = count(tokens, "cached")
            self._add_usage([max(0, count(tokens, "input") - cached),
                             count(tokens, "output") + count(tokens, "thoughts"), cached, 0])
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
        cmd = self._tool_call(name, args, _GEMINI_FILE_TOOLS, _GEMINI_SHELL_TOOL)
        if cmd is None:
            return
        text = scan_window(_gemini_result(call.get("result")), self.limits.result_scan_chars)
        text = _OUTPUT.sub("", text, count=1)  # "Output: <the command's output>"
        m = _EXIT.search(text[-4096:])
        failed = call.get("status") == "error" or (m is not None and m.group(1) != "0")
        self._command_result(cmd, text, failed)

    def result(self) -> dict[str, Any]:
        pending, self._pending = self._pending, None
        if pending is not None:
            self._message(pending)
        return super().result()


def read_document(s: GeminiSummarizer, f: BinaryIO, size: int) -> dict[str, Any]:
    """The summary of an old-style Gemini CLI chat file `f` (one JSON document, `size`
    bytes) with `s`."""
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
