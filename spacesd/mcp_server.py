"""`spacesd mcp`: an MCP stdio server (the official `mcp` SDK's low-level `Server`) with the
few operations an agent needs to take part, each a thin call of the same daemon op as the CLI,
acting as the calling session's participant.

The session comes from `--session`, else `CLAUDE_CODE_SESSION_ID` (given to stdio MCP servers
since Claude Code 2.1.154) or `GEMINI_SESSION_ID`; without one the tools that need a session
answer that they cannot act. MCP notifications wake no client: delivery stays with the hooks.
The tool definitions are kept short on purpose (`tests/test_mcp_server.py` measures them).
"""

from __future__ import annotations

import json
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
]


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
        raise RuntimeError(f"unknown tool: {name}")


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
