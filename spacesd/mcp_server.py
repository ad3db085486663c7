"""`spacesd mcp`: an MCP stdio server (the official `mcp` SDK's low-level `Server`) with the
few operations an agent needs to take part, each a thin call of the same daemon op as the CLI,
acting as the calling session's participant.

The session comes from `--session`, else `CLAUDE_CODE_SESSION_ID` (given to stdio MCP servers
since Claude Code 2.1.154) or `GEMINI_SESSION_ID`; without one the tools that need a session
answer that they cannot act. MCP notifications wake no client: delivery stays with the hooks.
Tasks and leases are one tool each with an `action` (the task_* and lease_* ops), so the
whole server stays at 7 tools; a lease's project is the repository of the server's working
directory (the client starts it in the session's project).
The tool definitions are kept short on purpose (`tests/test_mcp_server.py` measures them).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Final

from spacesd.ipc import Client, Err

TOOLS: Final[list[dict[str, Any]]] = [
    {"name": "post", "description": "Send a message as this session. to: '#channel', "
     "'@handle' (direct message) or 'reply:ID'.",
     "inputSchema": {"type": "object", "properties": {
         "to": {"type": "string"}, "text": {"type": "string"},
         "thread": {"type": "integer", "description": "thread id"}},
         "required": ["to", "text"]}},
    {"name": "inbox", "description": "Messages addressed to this session (DMs, mentions, "
     "replies, threads, followed channels) and receipts of what it sent.",
     "inputSchema": {"type": "object", "properties": {
         "read": {"type": "array", "items": {"type": "integer"},
                  "description": "item ids to mark read"},
         "all": {"type": "boolean", "description": "include delivered and read items"}}}},
    {"name": "wait", "description": "Block until a message arrives for this session.",
     "inputSchema": {"type": "object", "properties": {
         "seconds": {"type": "integer", "description": "timeout, default 60, max 600"}}}},
    {"name": "who", "description": "Agent sessions taking part, with presence.",
     "inputSchema": {"type": "object", "properties": {"project": {"type": "string"}}}},
    {"name": "join", "description": "Follow a channel: its new messages reach this inbox.",
     "inputSchema": {"type": "object", "properties": {
         "channel": {"type": "string"}, "leave": {"type": "boolean"}},
         "required": ["channel"]}},
    {"name": "task", "description": "Shared tasks: create (with subtasks) in a channel, list, "
     "show, claim (atomic: one claimer wins), renew, progress, complete or fail with a result, "
     "release, "
     "cancel.",
     "inputSchema": {"type": "object", "properties": {
         "action": {"type": "string", "enum": ["create", "list", "show", "claim", "renew",
                                               "progress", "complete", "fail", "release",
                                               "cancel"]},
         "id": {"type": "integer", "description": "task id"},
         "channel": {"type": "string"}, "title": {"type": "string"},
         "body": {"type": "string"},
         "subtasks": {"type": "array", "items": {"type": "string"}},
         "result": {"type": "string", "description": "complete/fail: result; progress: note"},
         "state": {"type": "string", "description": "list: Open, Claimed, Done or active"},
         "ttl": {"type": "integer", "description": "claim seconds, default 1800"}},
         "required": ["action"]}},
    {"name": "lease", "description": "Path leases in this repository: acquire before editing "
     "(a path, dir/ or glob), release after, list, check who holds paths.",
     "inputSchema": {"type": "object", "properties": {
         "action": {"type": "string", "enum": ["acquire", "release", "list", "check"]},
         "path": {"type": "string"},
         "paths": {"type": "array", "items": {"type": "string"}},
         "id": {"type": "integer", "description": "lease id"},
         "reason": {"type": "string"}, "ttl": {"type": "integer"}},
         "required": ["action"]}},
]

TASK_OPS: Final = {"create": "task_create", "list": "task_list", "show": "task_show",
                   "claim": "task_claim", "renew": "task_renew", "progress": "task_progress",
                   "complete": "task_complete",
                   "fail": "task_fail", "release": "task_release", "cancel": "task_cancel"}
TASK_READS: Final = frozenset({"list", "show"})
TASK_ARGS: Final = {"channel": "channel", "title": "title", "body": "body",
                    "subtasks": "subtasks", "result": "result", "state": "state", "ttl": "ttl",
                    "id": "task"}
LEASE_ARGS: Final = {"acquire": ("path", "reason", "ttl"), "release": ("id",), "list": (),
                     "check": ("paths",)}


class Tools:
    """The tools' behaviour, without the MCP transport: one daemon op each."""

    def __init__(self, socket: Path, session: str | None, agent: str) -> None:
        self.socket = socket
        self.session = session
        self.agent = agent
        self.registered = False

    def _op(self, op: str, args: dict[str, Any], timeout: float = 10.0) -> Any:
        with Client(self.socket, timeout=timeout) as client:
            res = client.request(op, args)
        if isinstance(res, Err):
            raise RuntimeError(f"{res.code}: {res.message}")
        return res.result

    def _session(self) -> str:
        if self.session is None:
            raise RuntimeError("not inside an agent session: start `spacesd mcp --session ID`")
        if not self.registered:
            self._op("session_event", {"session": self.session, "agent": self.agent})
            self.registered = True
        return self.session

    def call(self, name: str, args: dict[str, Any]) -> Any:
        if name == "post":
            req: dict[str, Any] = {"to": str(args.get("to", "")),
                                   "text": str(args.get("text", "")),
                                   "session": self._session()}
            if args.get("thread") is not None:
                req["thread_id"] = args["thread"]
            return self._op("post", req)
        if name == "inbox":
            return self._op("inbox", {"session": self._session(),
                                      "read": list(args.get("read") or []),
                                      "all": bool(args.get("all", False))})
        if name == "wait":
            seconds = max(0, min(600, int(args.get("seconds", 60))))
            return self._op("wait", {"session": self._session(), "timeout": seconds},
                            timeout=seconds + 10.0)
        if name == "who":
            who: dict[str, Any] = {}
            if args.get("project"):
                who["project"] = str(args["project"])
            return self._op("who", who)
        if name == "join":
            channel = str(args.get("channel", "")).lstrip("#")
            return self._op("follow", {"session": self._session(), "channel": channel,
                                       "follow": not args.get("leave", False)})
        if name == "task":
            return self._task(args)
        if name == "lease":
            return self._lease(args)
        raise RuntimeError(f"unknown tool: {name}")

    def _task(self, args: dict[str, Any]) -> Any:
        action = args.get("action")
        if action not in TASK_OPS:
            raise RuntimeError("action must be one of " + ", ".join(TASK_OPS))
        req = {TASK_ARGS[k]: v for k, v in args.items() if k in TASK_ARGS and v is not None}
        if isinstance(req.get("channel"), str):
            req["channel"] = req["channel"].lstrip("#")
        if action == "progress" and "result" in req:
            req["text"] = req.pop("result")
        if action not in TASK_READS:
            req["session"] = self._session()
        elif action == "list":
            req["compact"] = True  # no key repeated per task: fewer tokens
        return self._op(TASK_OPS[action], req)

    def _lease(self, args: dict[str, Any]) -> Any:
        action = args.get("action")
        if action not in LEASE_ARGS:
            raise RuntimeError("action must be one of " + ", ".join(LEASE_ARGS))
        req: dict[str, Any] = {k if k != "id" else "lease": args[k] for k in LEASE_ARGS[action]
                               if args.get(k) is not None}
        if action != "release":
            req["cwd"] = os.getcwd()
        if action in ("acquire", "release"):
            req["session"] = self._session()
        elif action == "check" and self.session is not None:
            req["identity"] = self._op("session_event", {"session": self._session(),
                                                         "agent": self.agent}
                                       )["participant"]["identity"]
        return self._op("lease_" + action, req)


def serve(socket: Path, session: str | None, agent: str) -> None:
    """Run the stdio server until the client closes it."""
    import anyio
    import mcp_types as types
    from mcp.server.lowlevel import Server
    from mcp.server.stdio import stdio_server

    tools = Tools(socket, session, agent)

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[types.Tool(**t) for t in TOOLS])

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        try:
            result = await anyio.to_thread.run_sync(
                tools.call, params.name, dict(params.arguments or {}))
        except (RuntimeError, ValueError, TypeError) as e:
            return types.CallToolResult(content=[types.TextContent(type="text", text=str(e))],
                                        is_error=True)
        text = json.dumps(result, ensure_ascii=False, separators=(",", ":"))
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)])

    server: Server[Any] = Server("spaces", version="0.1.0", on_list_tools=list_tools,
                                 on_call_tool=call_tool)

    async def main() -> None:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    anyio.run(main)
