"""The reader that picks one: `summarize(path)` tells an agent's transcript format by its first
lines (not by the file name) and reads it with that agent kind's module. Standard library only.

Claude Code's transcript is read by spacesd.transcripts.claude; Codex CLI's rollout and Gemini
CLI's chat file by .codex and .gemini, imported only when a file turns out to be one of theirs
(a Claude Code session never loads them). The JSONL formats are streamed line by line.

Huge files: a file over `full_limit` bytes (default 24 MiB) is read only in two windows, the
first `head_bytes` (2 MiB: the task, the start time, cwd and branch) and the last `tail_bytes`
(8 MiB: the recent work, the end time, the final text). What is lost then: files, commands,
tests and commits from the middle of the session, and the middle's token usage (the token
counts then cover the two windows only); `partial` is True and `skipped_bytes` says how much.
"""

from __future__ import annotations

import json
import os

from spacesd.transcripts.base import MAX_LINE, Summarizer, iter_lines
from spacesd.transcripts.claude import CLAUDE_LINE_TYPES, ClaudeSummarizer

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

__all__ = ["SNIFF_LINES", "detect", "summarize"]

# RolloutItem's tags and (for rollouts from before RolloutLine) ResponseItem's: the same sets
# as spacesd.transcripts.codex's, kept here so telling a file apart imports no Codex reader.
_CODEX_LINE_TYPES = frozenset({"session_meta", "response_item", "event_msg", "turn_context",
                               "compacted"})
_CODEX_ITEM_TYPES = frozenset({"message", "reasoning", "function_call", "function_call_output",
                               "local_shell_call", "custom_tool_call",
                               "custom_tool_call_output", "web_search_call"})
_GEMINI_DOC_KEYS = (b'"sessionId"', b'"projectHash"', b'"startTime"', b'"lastUpdated"',
                    b'"messages"')
SNIFF_LINES = 16
"""The format is decided by the first of this many lines that tells (see `detect`)."""


def detect(obj: dict[str, Any]) -> str | None:
    """"codex", "gemini-cli" or "claude-code" when one parsed line tells which transcript it
    belongs to, else None (ask the next line)."""
    kind = obj.get("type")
    if kind in _CODEX_LINE_TYPES and "payload" in obj:
        return "codex"
    if "sessionId" in obj and "projectHash" in obj and "type" not in obj:
        return "gemini-cli"  # Gemini CLI's JSONL header
    if kind in CLAUDE_LINE_TYPES and ("message" in obj or "sessionId" in obj or "uuid" in obj
                                      or kind in ("summary", "file-history-snapshot")):
        return "claude-code"
    if kind in _CODEX_ITEM_TYPES or ("cli_version" in obj and "id" in obj):
        return "codex"  # a rollout from before RolloutLine: bare items, bare SessionMeta
    return None


def _reader(fmt: str | None, cwd: str | None) -> Summarizer:
    if fmt == "codex":
        from spacesd.transcripts.codex import CodexSummarizer

        return CodexSummarizer(cwd=cwd)
    if fmt == "gemini-cli":
        from spacesd.transcripts.gemini import GeminiSummarizer

        return GeminiSummarizer(cwd=cwd)
    return ClaudeSummarizer(cwd=cwd)


def _choose(lines: Iterator[bytes], cwd: str | None) -> tuple[Summarizer, list[bytes], bool]:
    """The reader for the transcript `lines` come from, the lines read to tell, and whether
    the file is one JSON document (an old Gemini CLI chat file) rather than JSONL."""
    seen: list[bytes] = []
    fmt: str | None = None
    for line in lines:
        seen.append(line)
        if line.strip() == b"{":  # a pretty-printed JSON document: an old Gemini chat file?
            nxt = next(lines, b"")
            seen.append(nxt)
            if nxt.lstrip().startswith(_GEMINI_DOC_KEYS):
                return _reader("gemini-cli", cwd), seen, True
        elif line.strip():
            try:
                obj = json.loads(line)
            except (ValueError, RecursionError):
                obj = None
            if isinstance(obj, dict):
                fmt = detect(obj)
        if fmt is not None or len(seen) >= SNIFF_LINES:
            break
    return _reader(fmt, cwd), seen, False


def summarize(
    path: str | os.PathLike[str],
    *,
    cwd: str | None = None,
    full_limit: int = 24 * 1024 * 1024,
    head_bytes: int = 2 * 1024 * 1024,
    tail_bytes: int = 8 * 1024 * 1024,
    max_line: int = MAX_LINE,
) -> dict[str, Any]:
    """Summarise the transcript at `path` (fields: spacesd.transcripts.base). Raises OSError
    if the file cannot be opened; never for its content."""
    skipped = [0]
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        head = iter_lines(f, max_line, stop_at=None if size <= full_limit else head_bytes,
                          skipped=skipped)
        s, seen, document = _choose(head, cwd)
        if document:
            from spacesd.transcripts.gemini import GeminiSummarizer, read_document

            assert isinstance(s, GeminiSummarizer)
            return read_document(s, f, size)
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
