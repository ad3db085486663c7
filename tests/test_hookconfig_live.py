"""`spacesd hooks install` for live delivery: the entries per agent and client version, and the
MCP server entries (spacesd/mcpconfig.py) — exactly ours, idempotent, removed exactly."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from spacesd import hookconfig, mcpconfig
from spacesd.hookconfig import Live

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

COMMANDS = {"spaces-session-hook": "/opt/spaces/bin/spaces-session-hook",
            "spaces-context-hook": "/opt/spaces/bin/spaces-context-hook"}
HELPER = "/home/u/.local/share/spacesd/bin/spaces-hook"
USER_HOOK = {"matcher": "Bash", "hooks": [{"type": "command", "command": "~/bin/guard.sh"}]}


def events(agent: str, live: Live) -> list[str]:
    return [s.event for s in hookconfig.live_specs(agent, live)]


def handlers(path: Path, event: str) -> list[dict[str, Any]]:
    data = json.loads(path.read_text())
    return [h for g in data["hooks"].get(event, []) for h in g["hooks"]]


def test_parse_version() -> None:
    assert hookconfig.parse_version("2.1.328 (Claude Code)") == (2, 1, 328)
    assert hookconfig.parse_version("codex-cli 0.169.0") == (0, 169, 0)
    assert hookconfig.parse_version("0.61.0\n") == (0, 61, 0)
    assert hookconfig.parse_version("no version") is None


def test_claude_gates_by_version() -> None:
    new = events("claude", Live((HELPER,), (2, 1, 328)))
    assert new == ["PostToolUse", "PostToolBatch", "PreToolUse", "UserPromptSubmit", "Stop",
                   "Stop", "Notification", "SessionStart", "SessionEnd"]
    # PostToolBatch unknown below 2.1.145 (older versions reject the whole file over it),
    # no waiter below 2.1.218, and an unknown version gets neither.
    for version in ((2, 1, 144), None):
        old = events("claude", Live((HELPER,), version))
        assert "PostToolBatch" not in old and old.count("Stop") == 1
    mid = events("claude", Live((HELPER,), (2, 1, 200)))
    assert "PostToolBatch" in mid and mid.count("Stop") == 1


def test_claude_exec_form_and_waiter() -> None:
    specs = hookconfig.live_specs("claude", Live((HELPER,), (2, 1, 328)))
    post = specs[0].handler
    assert post == {"type": "command", "command": HELPER, "args": ["post", "claude"],
                    "timeout": 5}
    wake = [s.handler for s in specs if s.handler.get("asyncRewake")]
    assert wake == [{"type": "command", "command": HELPER, "args": ["wake", "claude"],
                     "timeout": 86400, "asyncRewake": True}]
    old = hookconfig.live_specs("claude", Live(("/a b/spaces-hook",), (2, 1, 100)))
    assert old[0].handler == {"type": "command", "command": "'/a b/spaces-hook' post claude",
                              "timeout": 5}


def test_codex_and_gemini_entries() -> None:
    codex = hookconfig.live_specs("codex", Live((HELPER,)))
    assert [(s.event, s.handler["command"].split()[-2], s.handler["timeout"]) for s in codex] == [
        ("PostToolUse", "post", 5), ("PreToolUse", "pre", 5), ("UserPromptSubmit", "prompt", 5),
        ("Stop", "stop", 5), ("SessionStart", "start", 5), ("SessionEnd", "end", 3),
        ("PermissionRequest", "notify", 5)]
    gemini = hookconfig.live_specs("gemini", Live((HELPER,)))
    assert [(s.event, s.matcher) for s in gemini] == [
        ("AfterTool", ".*"), ("BeforeTool", "^(write_file|replace)$"), ("BeforeAgent", "*"),
        ("AfterAgent", "*"), ("SessionStart", "*"), ("SessionEnd", "*"), ("Notification", "*")]
    assert gemini[0].handler == {"name": "spaces-live-post", "type": "command",
                                 "command": f"{HELPER} post gemini", "timeout": 5000}


@pytest.mark.parametrize("agent", ["claude", "codex", "gemini"])
def test_install_twice_then_uninstall_restores(tmp_path: Path, agent: str) -> None:
    path = tmp_path / "settings.json"
    before = {"theme": "dark", "hooks": {"PreToolUse": [USER_HOOK]}}
    path.write_text(json.dumps(before, indent=2) + "\n")
    live = Live((HELPER,), (2, 1, 328))
    assert hookconfig.install(path, agent, COMMANDS, live=live).changed
    text = path.read_text()
    assert not hookconfig.install(path, agent, COMMANDS, live=live).changed
    assert path.read_text() == text
    assert json.loads(text)["hooks"]["PreToolUse"][0] == USER_HOOK
    # a reinstall from elsewhere (no compiler now: the script) replaces, never duplicates
    moved = Live(("/other/venv/bin/spaces-live-hook",), (2, 1, 328))
    assert hookconfig.install(path, agent, COMMANDS, live=moved).changed
    assert HELPER not in path.read_text()
    first = "PostToolUse" if agent != "gemini" else "AfterTool"
    assert len(handlers(path, first)) == 1
    assert hookconfig.uninstall(path).changed
    assert json.loads(path.read_text()) == before


def test_claude_stop_carries_summary_continuation_and_waiter(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    hookconfig.install(path, "claude", COMMANDS, live=Live((HELPER,), (2, 1, 328)))
    stop = handlers(path, "Stop")
    assert [h.get("args", [None])[0] for h in stop] == ["summary", "stop", "wake"]
    # with the live hooks the summary runs detached, through the helper (session.py)
    assert stop[0] == {"type": "command", "timeout": 10, "command": HELPER,
                       "args": ["summary", "claude"]}
    assert handlers(path, "SessionEnd")[0]["args"] == ["summary", "claude"]
    assert handlers(path, "SessionStart")[0] == {"type": "command", "timeout": 5,
                                                 "command": HELPER, "args": ["context", "claude"]}
    assert COMMANDS["spaces-session-hook"] not in path.read_text()
    assert COMMANDS["spaces-context-hook"] not in path.read_text()
    # without them (no live wiring) the console script runs as before
    hookconfig.install(path, "claude", COMMANDS)
    assert handlers(path, "Stop")[0]["command"] == COMMANDS["spaces-session-hook"]


def test_gemini_and_codex_summary_keep_their_fields(tmp_path: Path) -> None:
    for agent, event in (("gemini", "AfterAgent"), ("codex", "Stop")):
        path = tmp_path / f"{agent}.json"
        hookconfig.install(path, agent, COMMANDS, live=Live((HELPER,), (0, 169, 0)))
        first = handlers(path, event)[0]
        assert first["command"] == f"{HELPER} summary {agent}"
        if agent == "gemini":
            assert (first["name"], first["timeout"]) == ("spaces-session", 10000)


def test_mcp_json_agents(tmp_path: Path) -> None:
    for agent in ("claude", "gemini"):
        path = tmp_path / agent / "f.json"
        path.parent.mkdir()
        path.write_text(json.dumps({"mcpServers": {"other": {"command": "x"}}, "k": 1}))
        assert mcpconfig.install(path, agent, "/v/bin/spacesd").changed
        assert not mcpconfig.install(path, agent, "/v/bin/spacesd").changed
        data = json.loads(path.read_text())
        assert data["mcpServers"]["spaces"]["args"] == ["mcp"]
        assert data["mcpServers"]["other"] == {"command": "x"}
        assert mcpconfig.installed(path, agent)
        assert mcpconfig.uninstall(path, agent).changed
        assert json.loads(path.read_text()) == {"mcpServers": {"other": {"command": "x"}},
                                                "k": 1}
    theirs = tmp_path / "theirs.json"
    theirs.write_text(json.dumps({"mcpServers": {"spaces": {"command": "/x/other-server"}}}))
    with pytest.raises(hookconfig.HookConfigError, match="not Spaces' own"):
        mcpconfig.install(theirs, "claude", "/v/bin/spacesd")
    assert not mcpconfig.uninstall(theirs, "claude").changed


def test_mcp_codex_toml(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    original = 'model = "o3"\n\n[mcp_servers.other]\ncommand = "x"\n'
    path.write_text(original)
    assert mcpconfig.install(path, "codex", '/v/bin/"spacesd').changed
    assert not mcpconfig.install(path, "codex", '/v/bin/"spacesd').changed
    parsed = tomllib.loads(path.read_text())
    assert parsed["mcp_servers"]["spaces"] == {"command": '/v/bin/"spacesd', "args": ["mcp"],
                                               "tool_timeout_sec": 700}
    assert parsed["mcp_servers"]["other"] == {"command": "x"}
    assert mcpconfig.uninstall(path, "codex").changed
    assert path.read_text() == original
    fresh = tmp_path / "new" / "config.toml"
    assert mcpconfig.install(fresh, "codex", "/v/bin/spacesd").changed
    assert mcpconfig.uninstall(fresh, "codex").removed_file
    own = tmp_path / "own.toml"
    own.write_text('[mcp_servers.spaces]\ncommand = "mine"\n')
    with pytest.raises(hookconfig.HookConfigError):
        mcpconfig.install(own, "codex", "/v/bin/spacesd")
