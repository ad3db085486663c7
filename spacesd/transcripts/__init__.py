"""Summaries of agent transcripts, without any model call. Standard library only.

- `base`: what a summary holds (its fields), the bookkeeping every reader shares, and the
  helpers (`cut`, `iter_lines`, ...);
- one module per agent kind: `claude` (Claude Code's transcript JSONL), `codex` (Codex CLI's
  rollout JSONL), `gemini` (Gemini CLI's chat JSONL, and its older one-document files);
- `reader`: `summarize(path)` picks the module by the file's first lines.

Modules import `base` (and `reader` imports the kinds), never the other way round. Importing
this package loads `base`, `claude` and `reader` only.
"""

from __future__ import annotations

from spacesd.transcripts.base import MAX_LINE, Limits, Summarizer, cut, iter_lines
from spacesd.transcripts.reader import detect, summarize

__all__ = ["MAX_LINE", "Limits", "Summarizer", "cut", "detect", "iter_lines", "summarize"]
