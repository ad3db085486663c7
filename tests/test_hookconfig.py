"""`spacesd hooks install|uninstall`: exactly our entries, idempotent, atomic, refuses junk."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from spacesd import hookconfig
from spacesd.cli_admin import config, hooks

COMMANDS = {"spaces-session-hook": "/opt/spaces/bin/spaces-session-hook",
            "spaces-context-hook": "/opt/spaces/bin/spaces-context-hook"}

EXISTING: dict[str, Any] = {
    "model": "opus",
    "permissions": {"allow": ["Bash(npm test:*)"]},
    "hooks": {
        "Stop": [{"hooks": [{"type": "command", "command": "notify-send done", "timeout": 3}]}],
        "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command",
                                                      "command": "~/bin/guard.sh"}]}],
    },
    "statusLine": {"type": "command", "command": "echo hi"},
}


def write_json(path: Path, data: Any, indent: int = 2) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=indent) + "\n", encoding="utf-8")


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def test_claude_install_adds_exactly_ours(tmp_path: Path) -> None:
    path = tmp_path / ".claude" / "settings.json"
    write_json(path, EXISTING)
    assert hookconfig.install(path, "claude", COMMANDS).changed
    data = load(path)
    assert {k: v for k, v in data.items() if k != "hooks"} == {
        k: v for k, v in EXISTING.items() if k != "hooks"}
    assert data["hooks"]["PreToolUse"] == EXISTING["hooks"]["PreToolUse"]
    assert data["hooks"]["Stop"] == [
        EXISTING["hooks"]["Stop"][0],
        {"hooks": [{"type": "command", "command": COMMANDS["spaces-session-hook"],
                    "timeout": 10}]}]
    assert data["hooks"]["SessionStart"] == [
        {"matcher": "startup|resume|clear|compact",
         "hooks": [{"type": "command", "command": COMMANDS["spaces-context-hook"],
                    "timeout": 5}]}]
    assert data["hooks"]["SessionEnd"] == [
        {"hooks": [{"type": "command", "command": COMMANDS["spaces-session-hook"],
                    "timeout": 10}]}]
    assert list(data) == list(EXISTING)  # key order kept


def test_session_end_registered_where_the_agent_has_it(tmp_path: Path) -> None:
    """Claude Code, Codex (0.169) and Gemini CLI have a SessionEnd (the session hook posts
    what the Stop cooldown held back); Codex clamps its timeout to 3 s."""
    events = {agent: [s.event for s in hookconfig.specs(agent, COMMANDS)]
              for agent in hookconfig.AGENTS}
    assert events == {"claude": ["Stop", "SessionStart", "SessionEnd"],
                      "codex": ["Stop", "SessionStart", "SessionEnd"],
                      "gemini": ["AfterAgent", "SessionStart", "SessionEnd"]}
    (codex_end,) = [s for s in hookconfig.specs("codex", COMMANDS) if s.event == "SessionEnd"]
    assert codex_end.matcher is None and codex_end.handler["timeout"] == 3
    path = tmp_path / ".gemini" / "settings.json"
    hookconfig.install(path, "gemini", COMMANDS)
    (end,) = load(path)["hooks"]["SessionEnd"]
    assert end["matcher"] == "*"
    assert end["hooks"] == [{"name": "spaces-session-end", "type": "command",
                             "command": COMMANDS["spaces-session-hook"], "timeout": 10000,
                             "description": end["hooks"][0]["description"]}]
    assert set(hookconfig.installed(path)) == {"AfterAgent", "SessionStart", "SessionEnd"}
    before = path.read_bytes()
    assert not hookconfig.install(path, "gemini", COMMANDS).changed
    assert path.read_bytes() == before
    # A settings file from before SessionEnd was registered gets it on the next install.
    claude = tmp_path / ".claude" / "settings.json"
    hookconfig.install(claude, "claude", COMMANDS)
    data = load(claude)
    del data["hooks"]["SessionEnd"]
    write_json(claude, data)
    assert hookconfig.install(claude, "claude", COMMANDS).changed
    assert set(hookconfig.installed(claude)) == {"Stop", "SessionStart", "SessionEnd"}
    assert hookconfig.uninstall(claude).removed_file


def test_install_twice_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    write_json(path, EXISTING)
    hookconfig.install(path, "claude", COMMANDS)
    before = path.read_bytes()
    stat = path.stat()
    result = hookconfig.install(path, "claude", COMMANDS)
    assert not result.changed
    assert path.read_bytes() == before
    assert path.stat().st_ino == stat.st_ino  # not even rewritten


def test_reinstall_from_another_place_replaces(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    hookconfig.install(path, "claude", {k: f"/old/venv/bin/{k}" for k in COMMANDS})
    hookconfig.install(path, "claude", COMMANDS)
    text = path.read_text()
    assert "/old/venv" not in text
    # once per event: Stop and SessionEnd run the session hook, SessionStart the context hook
    assert text.count("spaces-session-hook") == 2 and text.count("spaces-context-hook") == 1


def test_uninstall_removes_only_ours(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    write_json(path, EXISTING)
    original = path.read_text()
    hookconfig.install(path, "claude", COMMANDS)
    result = hookconfig.uninstall(path)
    assert result.changed and not result.removed_file
    assert load(path) == EXISTING
    assert path.read_text() == original
    assert not hookconfig.uninstall(path).changed


def test_uninstall_of_a_file_we_created_removes_it(tmp_path: Path) -> None:
    path = tmp_path / ".claude" / "settings.json"
    hookconfig.install(path, "claude", COMMANDS)
    assert path.exists() and (path.stat().st_mode & 0o777) == 0o600
    assert hookconfig.uninstall(path).removed_file
    assert not path.exists() and not path.parent.exists()


def test_hand_written_shared_entry_is_kept_apart_from_ours(tmp_path: Path) -> None:
    """A group holding our handler and someone else's keeps theirs."""
    path = tmp_path / "settings.json"
    write_json(path, {"hooks": {"Stop": [{"hooks": [
        {"type": "command", "command": "spaces-session-hook", "timeout": 10},
        {"type": "command", "command": "say done"}]}]}})
    hookconfig.install(path, "claude", COMMANDS)
    stop = load(path)["hooks"]["Stop"]
    assert stop[0] == {"hooks": [{"type": "command", "command": "say done"}]}
    assert stop[1]["hooks"][0]["command"] == COMMANDS["spaces-session-hook"]
    hookconfig.uninstall(path)
    assert load(path) == {"hooks": {"Stop": [{"hooks": [{"type": "command",
                                                         "command": "say done"}]}]}}


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"hooks": []}',
                                  '{"hooks": {"Stop": ["x"]}}', "// comment\n{}"])
def test_malformed_settings_refused_untouched(tmp_path: Path, text: str) -> None:
    path = tmp_path / "settings.json"
    path.write_text(text)
    with pytest.raises(hookconfig.HookConfigError) as info:
        hookconfig.install(path, "claude", COMMANDS)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    assert path.read_text() == text
    with contextlib.suppress(hookconfig.HookConfigError):  # refused, or nothing of ours
        assert not hookconfig.uninstall(path).changed
    assert path.read_text() == text
    assert [p.name for p in tmp_path.iterdir()] == ["settings.json"]  # no temp files left


def test_indent_kept_and_symlink_written_through(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "claude-settings.json"
    write_json(real, {"model": "opus"}, indent=4)
    link = tmp_path / ".claude" / "settings.json"
    link.parent.mkdir()
    link.symlink_to(real)
    hookconfig.install(link, "claude", COMMANDS)
    assert link.is_symlink()
    assert '\n    "model": "opus"' in real.read_text()
    assert load(real)["hooks"]["Stop"]


def test_uninstall_keeps_a_symlinked_file_it_empties(tmp_path: Path) -> None:
    # ~/.claude/settings.json -> ~/dotfiles/claude/settings.json holding `{}`: uninstalling
    # must not delete the dotfile (nor its folder) and leave a dangling link.
    real = tmp_path / "dotfiles" / "claude" / "settings.json"
    write_json(real, {})
    link = tmp_path / ".claude" / "settings.json"
    link.parent.mkdir()
    link.symlink_to(real)
    assert hookconfig.install(link, "claude", COMMANDS).changed
    result = hookconfig.uninstall(link)
    assert result.changed and not result.removed_file
    assert link.is_symlink() and real.is_file() and load(link) == {}


def test_codex_format(tmp_path: Path) -> None:
    path = hookconfig.settings_path("codex", "user", env={"HOME": str(tmp_path)})
    assert path == tmp_path / ".codex" / "hooks.json"
    hookconfig.install(path, "codex", COMMANDS)
    data = load(path)
    assert list(data) == ["hooks"]  # codex's HooksFile rejects unknown top-level keys
    assert data["hooks"]["Stop"] == [{"hooks": [{"type": "command", "timeout": 10,
                                                 "command": COMMANDS["spaces-session-hook"]}]}]
    assert data["hooks"]["SessionStart"][0]["matcher"] == "startup|resume|clear"
    assert hookconfig.settings_path("codex", "user", env={"HOME": "/h", "CODEX_HOME": "/c"}) == (
        Path("/c/hooks.json"))


def test_gemini_format(tmp_path: Path) -> None:
    path = hookconfig.settings_path("gemini", "project", project_dir=tmp_path)
    assert path == tmp_path / ".gemini" / "settings.json"
    write_json(path, {"theme": "dark", "hooks": {"disabled": ["other"], "enabled": True}})
    hookconfig.install(path, "gemini", COMMANDS)
    data = load(path)
    assert data["theme"] == "dark"
    assert data["hooks"]["disabled"] == ["other"] and data["hooks"]["enabled"] is True
    after = data["hooks"]["AfterAgent"][0]
    assert after["matcher"] == "*"
    assert after["hooks"][0]["timeout"] == 10000  # milliseconds in Gemini CLI
    assert after["hooks"][0]["name"] == "spaces-session"
    assert data["hooks"]["SessionStart"][0]["hooks"][0]["timeout"] == 5000
    hookconfig.uninstall(path)
    assert load(path) == {"theme": "dark", "hooks": {"disabled": ["other"], "enabled": True}}


def test_settings_paths(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path)}
    assert hookconfig.settings_path("claude", env=env) == tmp_path / ".claude" / "settings.json"
    assert hookconfig.settings_path("claude", env={**env, "CLAUDE_CONFIG_DIR": "/cc"}) == Path(
        "/cc/settings.json")
    assert hookconfig.settings_path("claude", "project", project_dir=tmp_path / "p") == (
        tmp_path / "p" / ".claude" / "settings.json")
    assert hookconfig.settings_path("gemini", env=env) == tmp_path / ".gemini" / "settings.json"


def test_hook_commands_are_absolute_installed_scripts() -> None:
    commands = hookconfig.hook_commands()
    for name, command in commands.items():
        assert os.path.isabs(command) and command.endswith(name)
        assert Path(command).parent == Path(sys.executable).parent


# --------------------------------------------------------------------------------- the CLI

@pytest.fixture
def runner_env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    fake_bin = tmp_path / "fakebin"  # `claude --version` as the pinned client answers it
    fake_bin.mkdir()
    (fake_bin / "claude").write_text("#!/bin/sh\necho '2.1.328 (Claude Code)'\n")
    (fake_bin / "claude").chmod(0o755)
    return {"HOME": str(home), "CLAUDE_CONFIG_DIR": "", "CODEX_HOME": "",
            "SPACES_CONFIG_DIR": str(tmp_path / "cfg"), "XDG_CONFIG_HOME": "",
            "SPACES_DATA_DIR": str(tmp_path / "data"),
            "PATH": f"{fake_bin}:{os.environ['PATH']}"}


def test_cli_install_uninstall(runner_env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                               tmp_path: Path) -> None:
    for k, v in runner_env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: Path(runner_env["HOME"])))
    runner = CliRunner()
    result = runner.invoke(hooks, ["install"])
    assert result.exit_code == 0, result.output
    assert "installed in ~/.claude/settings.json" in result.output
    settings = Path(runner_env["HOME"]) / ".claude" / "settings.json"
    assert load(settings)["hooks"]["Stop"][0]["hooks"][0]["timeout"] == 10
    again = runner.invoke(hooks, ["install"])
    assert again.exit_code == 0 and "nothing changed" in again.output
    status = runner.invoke(hooks, ["status", "--json"])
    report = json.loads(status.output)
    assert report["claude/user"]["events"] == [
        "Notification", "PostToolBatch", "PostToolUse", "PreToolUse", "SessionEnd",
        "SessionStart", "Stop", "UserPromptSubmit"]
    assert report["live"]["agents"]["claude"] == {"version": "2.1.328", "can_wake": True,
                                                  "fast": report["live"]["fast"]}
    project = tmp_path / "proj"
    project.mkdir()
    result = runner.invoke(hooks, ["install", "--scope", "project", "--agent", "gemini",
                                   "--project-dir", str(project)])
    assert result.exit_code == 0 and "enable" not in result.output.lower()  # on by default
    assert (project / ".gemini" / "settings.json").exists()
    codex = runner.invoke(hooks, ["install", "--agent", "codex"])
    assert codex.exit_code == 0 and "SessionEnd" in codex.output
    assert "/hooks" in codex.output and "--dangerously-bypass-hook-trust" in codex.output
    status = runner.invoke(hooks, ["status"])
    assert "codex: " in status.output and "--dangerously-bypass-hook-trust" in status.output
    assert "trust" in json.loads(runner.invoke(hooks, ["status", "--json"]).output)[
        "codex/user"]["note"]
    assert runner.invoke(hooks, ["uninstall"]).exit_code == 0
    assert not settings.exists()
    settings.parent.mkdir()
    settings.write_text("{broken")
    bad = runner.invoke(hooks, ["install"])
    assert bad.exit_code == 1 and "not valid JSON" in bad.output
    assert settings.read_text() == "{broken"


def test_cli_config(runner_env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                    tmp_path: Path) -> None:
    for k, v in runner_env.items():
        monkeypatch.setenv(k, v)
    for var in [v for v in os.environ if v.startswith(("SPACETIMEDB_", "SPACES_BACKEND"))]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("SPACETIMEDB_HOST", "http://127.0.0.1:3000")
    monkeypatch.setenv("SPACETIMEDB_DATABASE", "spaces")
    monkeypatch.setenv("SPACETIMEDB_TOKEN", "secret-token-value")
    runner = CliRunner()
    result = runner.invoke(config, ["--json", "--project-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    view = json.loads(result.output)
    assert view["backend"]["value"] == "spacetimedb"
    assert view["database"] == {"value": "spaces", "source": "env:SPACETIMEDB_DATABASE"}
    assert view["token"] == {"value": "<redacted>", "source": "env:SPACETIMEDB_TOKEN"}
    human = runner.invoke(config, ["--project-dir", str(tmp_path)])
    assert "env:SPACETIMEDB_HOST" in human.output
    assert "secret-token-value" not in result.output + human.output
    monkeypatch.setenv("SPACES_BACKEND", "nonsense")
    broken = runner.invoke(config, [])
    assert broken.exit_code == 2
    assert broken.output.strip().count("\n") == 0 and "SPACES_BACKEND" in broken.output


# ----------------------------------------------------------------- the Claude Code plugin

ROOT = Path(__file__).resolve().parent.parent


def test_plugin_layout_matches_the_settings_entries() -> None:
    manifest = load(ROOT / ".claude-plugin" / "plugin.json")
    assert manifest["name"] == "spaces" and manifest["version"]
    market = load(ROOT / ".claude-plugin" / "marketplace.json")
    assert [p["name"] for p in market["plugins"]] == ["spaces"]
    plugin_hooks = load(ROOT / "hooks" / "hooks.json")["hooks"]
    for spec in hookconfig.specs("claude", COMMANDS):
        group = plugin_hooks[spec.event][0]
        assert group.get("matcher") == spec.matcher
        (handler,) = group["hooks"]
        assert handler["timeout"] == spec.handler["timeout"]  # explicit and short
        program = Path(spec.handler["command"]).name
        assert handler["command"] == f'"${{CLAUDE_PLUGIN_ROOT}}/hooks/{program}"'
        script = ROOT / "hooks" / program
        assert script.is_file() and os.access(script, os.X_OK)
    # The live entries: those of a Claude Code without the version-gated ones (the plugin
    # cannot know the version), through hooks/spaces-live-hook.
    live = hookconfig.live_specs("claude", hookconfig.Live(("L",), None))
    found = [(event, group.get("matcher"), h["command"], h["timeout"])
             for event, groups in plugin_hooks.items() for group in groups
             for h in group["hooks"] if "spaces-live-hook" in h["command"]]
    assert sorted(found) == sorted(
        (s.event, s.matcher, '"${CLAUDE_PLUGIN_ROOT}/hooks/spaces-live-hook" '
         + s.handler["command"].split(" ", 1)[1], s.handler["timeout"]) for s in live)
    assert os.access(ROOT / "hooks" / "spaces-live-hook", os.X_OK)
    assert set(plugin_hooks) == {"Stop", "SessionStart", "SessionEnd", "PostToolUse",
                                 "PreToolUse", "UserPromptSubmit", "Notification"}
