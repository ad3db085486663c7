"""`spacesd mcp`: the official `mcp` SDK's own client does initialize / tools/list /
tools/call against the real command, acting as a session's participant; the tool definitions
stay within the issue's budget of 1,500 tokens."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path
from typing import Any

import anyio
from conftest import SpacesEnv, ThreadDaemon, console_script

from spacesd.mcp_server import TOOLS

SESSION = "cccccccc-3333-4333-8333-cccccccccccc"
PEER = "dddddddd-4444-4444-8444-dddddddddddd"
TOKEN_BUDGET = 1500
CHARS_PER_TOKEN_FLOOR = 3.0
"""A conservative estimate: Claude's tokenizer measured 764 tokens on 3,268 characters of
such definitions (docs/live-coordination.md section 9), about 4.3 characters a token; counting
one token per 3 characters overestimates, so passing here leaves margin for any tokenizer."""


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN_FLOOR)


def test_tool_definitions_fit_the_token_budget() -> None:
    text = json.dumps(TOOLS, separators=(",", ":"))
    assert len(TOOLS) <= 8
    assert estimate_tokens(text) <= TOKEN_BUDGET, (len(text), estimate_tokens(text))


def _json(result: Any) -> Any:
    assert not result.is_error, result.content[0].text
    return json.loads(result.content[0].text)


async def _session_round_trip(env: dict[str, str], cwd: Path) -> dict[str, Any]:
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    params = StdioServerParameters(command=console_script("spacesd"),
                                   args=["mcp", "--session", SESSION], env=env, cwd=cwd)
    out: dict[str, Any] = {}
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        init = await session.initialize()
        out["server"] = init.server_info.name
        listed = await session.list_tools()
        out["tools"] = [t.model_dump(by_alias=True, exclude_none=True) for t in listed.tools]
        posted = await session.call_tool("post", {"to": "#general", "text": "hello from mcp"})
        out["post"] = posted
        out["inbox"] = await session.call_tool("inbox", {})
        out["bad"] = await session.call_tool("post", {"to": "#nope", "text": "x"})
        made = _json(await session.call_tool("task", {
            "action": "create", "channel": "#general", "title": "survey",
            "subtasks": ["part 1", "part 2"]}))
        sub = made["subtasks"][0]["id"]
        out["task_made"] = made
        out["claimed"] = _json(await session.call_tool("task", {"action": "claim", "id": sub}))
        out["done"] = _json(await session.call_tool("task", {
            "action": "complete", "id": sub, "result": "two endpoints"}))
        out["listed"] = _json(await session.call_tool("task", {"action": "list",
                                                               "state": "active"}))
        out["task_bad"] = await session.call_tool("task", {"action": "claim", "id": 999999})
        out["lease"] = _json(await session.call_tool("lease", {
            "action": "acquire", "path": "src/", "reason": "refactor"}))
        out["check"] = _json(await session.call_tool("lease", {"action": "check",
                                                               "paths": ["src/a.py"]}))
        out["leases"] = _json(await session.call_tool("lease", {"action": "list"}))
        out["dropped"] = _json(await session.call_tool("lease", {
            "action": "release", "id": out["lease"]["id"]}))
    return out


def test_mcp_sdk_client_round_trip(daemon: ThreadDaemon, spaces_env: SpacesEnv,
                                   tmp_path: Path) -> None:
    daemon.ok("session_event", session=PEER, agent="codex", event="SessionStart", cwd="/tmp")
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@e"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "root"], check=True)
    env = dict(spaces_env.env)
    out = anyio.run(_session_round_trip, env, repo)
    assert out["server"] == "spaces"
    names = [t["name"] for t in out["tools"]]
    assert names == ["post", "inbox", "wait", "who", "join", "task", "lease"]
    listed = json.dumps(out["tools"], separators=(",", ":"))
    assert estimate_tokens(listed) <= TOKEN_BUDGET
    posted = json.loads(out["post"].content[0].text)
    assert not out["post"].is_error and posted["content"] == "hello from mcp"
    # it acted as the session's own participant, not as the daemon
    who = {w["session"]: w for w in daemon.ok("who")}
    assert posted["sender"] == who[SESSION]["identity"]
    assert posted["sender"] != daemon.ok("status")["identity"]
    assert json.loads(out["inbox"].content[0].text)["items"] == []
    assert out["bad"].is_error and "no such channel" in out["bad"].content[0].text
    # tasks and leases, as the session's participant too
    me = who[SESSION]
    made = out["task_made"]
    assert made["task"]["creator"] == me["identity"]
    assert [t["title"] for t in made["subtasks"]] == ["part 1", "part 2"]
    assert out["claimed"]["assignee"] == me["identity"]
    assert (out["done"]["state"], out["done"]["result"]) == ("Done", "two endpoints")
    listed_tasks = out["listed"]  # compact: columns once, a row per task
    title = listed_tasks["columns"].index("title")
    assert [row[title] for row in listed_tasks["rows"]] == ["survey", "part 2"]
    assert out["task_bad"].is_error and "no such task" in out["task_bad"].content[0].text
    assert (out["lease"]["holder"], out["lease"]["pattern"]) == (me["identity"], "src/")
    assert out["check"]["conflicts"] == []  # its own lease is no conflict for it
    assert [lease["id"] for lease in out["leases"]] == [out["lease"]["id"]]
    assert out["dropped"] == {"released": out["lease"]["id"]}
    # the peer (another session) would have been refused the path meanwhile: checked by
    # tests/test_tasks_daemon.py; here the lease is gone
    assert daemon.ok("lease_list") == []
