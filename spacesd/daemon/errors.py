"""The error an op answers with, importable by the ops, their registry, the per-client
connection and the server alike (none of them imports another for it)."""

from __future__ import annotations


class OpError(Exception):
    """An error answer: `code` per docs/protocol.md and a message naming the problem."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
