"""The PreToolUse lease check (spacesd/hooks/lease.py) and the markers that keep it off the
fast path (spacesd/daemon/lease_markers.py), against the real daemon (embedded backend) and
the C fast path as `spacesd hooks install` builds it.

- A session's `<session>.lease` marker exists from its registration (its SessionStart hook)
  while another participant holds a lease in its project, and goes when the lease is released
  or expires, and when the session ends.
- An edit of a leased path is denied (or asked about, by configuration) naming the holder
  and the expiry; an unleased path, a tool that edits nothing, and the holder itself pass.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import SpacesEnv, ThreadDaemon
from testutil import git_repo

from spacesd import config, fasthook
from spacesd.hooks import lease

pytestmark = pytest.mark.skipif(fasthook._compiler() is None, reason="no C compiler")

S = "cccccccc-3333-4333-8333-cccccccccccc"
PATCH = ("*** Begin Patch\n*** Update File: src/auth.py\n@@\n-x\n+y\n"
         "*** Add File: docs/new.md\n+hi\n*** Update File: a.py\n*** Move to: b/a.py\n"
         "*** Delete File: old.txt\n*** End Patch\n")


# ------------------------------------------------------------------------------ the decision


def test_edit_paths_per_client() -> None:
    assert lease.edit_paths("Write", {"file_path": "/r/a.py", "content": "x"}) == ["/r/a.py"]
    assert lease.edit_paths("Edit", {"file_path": "a.py", "old_string": "", "new_string": ""}
                            ) == ["a.py"]
    assert lease.edit_paths("MultiEdit", {"file_path": "a.py", "edits": []}) == ["a.py"]
    assert lease.edit_paths("NotebookEdit", {"notebook_path": "n.ipynb"}) == ["n.ipynb"]
    assert lease.edit_paths("write_file", {"file_path": "g.py", "content": ""}) == ["g.py"]
    assert lease.edit_paths("replace", {"file_path": "g.py", "old_string": "a"}) == ["g.py"]
    want = ["src/auth.py", "docs/new.md", "a.py", "b/a.py", "old.txt"]
    assert lease.edit_paths("apply_patch", {"command": PATCH}) == want  # Codex's own tool
    assert lease.edit_paths("apply_patch", {"input": PATCH}) == want
    assert lease.edit_paths("Bash", {"command": f"apply_patch <<'EOF'\n{PATCH}EOF"}) == want
    for name, args in (("Bash", {"command": "echo '*** Update File: x'"}), ("Read",
                       {"file_path": "a.py"}), ("Write", {"file_path": ""}), ("Write", "x"),
                       (None, None), ("Grep", {"pattern": "*** Begin"})):
        assert lease.edit_paths(name, args) == [], (name, args)


CONFLICT = {"path": "src/auth.py", "holder_name": "@mel",
            "message": "src/auth.py is leased by @mel until 2026-11-30T09:45:00Z (auth)"}


def test_decision_shapes() -> None:
    claude = lease.decision("claude", [CONFLICT], "deny")["hookSpecificOutput"]
    assert claude["hookEventName"] == "PreToolUse" and claude["permissionDecision"] == "deny"
    assert claude["permissionDecisionReason"].startswith(CONFLICT["message"] + "\n")
    assert "spacesd post @mel" in claude["permissionDecisionReason"]
    assert lease.decision("claude", [CONFLICT], "ask")["hookSpecificOutput"][
        "permissionDecision"] == "ask"
    # Codex 0.169.0 refuses ask ("unsupported permissionDecision:ask"): always deny
    assert lease.decision("codex", [CONFLICT], "ask")["hookSpecificOutput"][
        "permissionDecision"] == "deny"
    gemini = lease.decision("gemini", [CONFLICT], "ask")
    assert gemini["decision"] == "ask" and gemini["reason"].startswith(CONFLICT["message"])
    many = lease.reason([CONFLICT] * 7)
    assert many.count("is leased by") == 5 and "(and 2 more leased paths)" in many


def test_mode_from_environment_then_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    monkeypatch.setenv("SPACES_CONFIG_DIR", str(tmp_path))
    monkeypatch.delenv("SPACES_LEASE_ON_CONFLICT", raising=False)
    assert lease.mode() == "deny"
    (tmp_path / "config.toml").write_text('lease_on_conflict = "ask"\n')
    assert lease.mode() == "ask"
    assert config.load_config().backend  # the key is a known one
    monkeypatch.setenv("SPACES_LEASE_ON_CONFLICT", "deny")
    assert lease.mode() == "deny"
    (tmp_path / "config.toml").write_text('lease_on_conflict = "maybe"\n')
    with pytest.raises(config.ConfigError, match="lease_on_conflict"):
        config.load_config()


# ------------------------------------------------------------------ through the real daemon


@pytest.fixture(scope="module")
def helper(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, ...]:
    built = fasthook.build(tmp_path_factory.mktemp("bin"))
    assert built.fast
    return built.argv


@pytest.fixture
def repo(spaces_env: SpacesEnv) -> Path:
    return git_repo(spaces_env.root / "api")


def hook(helper: tuple[str, ...], env: SpacesEnv, event: str, agent: str, name: str,
         cwd: Path, **extra: Any) -> tuple[int, Any, bytes]:
    body = json.dumps({"session_id": S, "transcript_path": "/t.jsonl", "cwd": str(cwd),
                       "hook_event_name": name, **extra}).encode()
    e = {k: v for k, v in env.env.items()
         if k not in ("CLAUDE_CODE_SESSION_ID", "GEMINI_SESSION_ID", "CLAUDE_PID")}
    p = subprocess.run([*helper, event, agent], input=body, capture_output=True, env=e,
                       timeout=30, check=False)
    return p.returncode, json.loads(p.stdout) if p.stdout.strip() else None, p.stderr


def wait_until(cond: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def write(path: str) -> dict[str, Any]:
    return {"tool_name": "Write", "tool_input": {"file_path": path, "content": "y\n"}}


def test_leased_path_denied_unleased_passes(daemon: ThreadDaemon, spaces_env: SpacesEnv,
                                            helper: tuple[str, ...], repo: Path) -> None:
    marker = spaces_env.runtime_dir / "live" / f"{S}.lease"
    assert hook(helper, spaces_env, "start", "claude", "SessionStart", repo,
                source="startup")[0] == 0
    # with nothing to deliver, SessionStart's presence runs detached: registered a moment later
    assert wait_until(lambda: S in {w["session"] for w in daemon.ok("who")})
    me = {w["session"]: w for w in daemon.ok("who")}[S]
    assert not marker.exists()
    # the daemon's own identity (a person's `spacesd lease acquire`) is another participant
    held = daemon.ok("lease_acquire", cwd=str(repo), path="src/", ttl=600, reason="auth")
    assert held["holder"] != me["identity"]
    assert wait_until(marker.exists)
    unknown = daemon.request("lease_check", session="no-such-session", cwd=str(repo),
                             paths=["src/auth.py"])
    assert getattr(unknown, "code", None) == "not_found"

    rc, out, err = hook(helper, spaces_env, "pre", "claude", "PreToolUse", repo,
                        **write(str(repo / "src" / "auth.py")))
    assert (rc, err) == (0, b"")
    got = out["hookSpecificOutput"]
    assert got["permissionDecision"] == "deny"
    assert got["permissionDecisionReason"].startswith(
        f"src/auth.py is leased by {held['holder_name']} until {held['expires_at'][:19]}")
    assert "(auth)" in got["permissionDecisionReason"]
    # Codex's apply_patch (given to its shell) and Gemini's write_file: the same refusal
    rc, out, _ = hook(helper, spaces_env, "pre", "codex", "PreToolUse", repo, tool_name="Bash",
                      tool_input={"command": f"apply_patch <<'EOF'\n{PATCH}EOF"})
    assert out["hookSpecificOutput"]["permissionDecision"] == "deny"
    rc, out, _ = hook(helper, spaces_env, "pre", "gemini", "BeforeTool", repo,
                      tool_name="write_file", tool_input={"file_path": "src/x.py"})
    assert out["decision"] == "deny" and "src/x.py is leased by" in out["reason"]

    # everything else passes: an unleased path, a tool that writes nothing, another project
    for extra in (write(str(repo / "README.md")), {"tool_name": "Bash", "tool_input": {
            "command": "cat src/auth.py"}}, write("/etc/hosts")):
        assert hook(helper, spaces_env, "pre", "claude", "PreToolUse", repo, **extra)[:2] == (
            0, None), extra

    # ask, by configuration
    (spaces_env.config_dir / "config.toml").parent.mkdir(parents=True, exist_ok=True)
    (spaces_env.config_dir / "config.toml").write_text('lease_on_conflict = "ask"\n')
    out = hook(helper, spaces_env, "pre", "claude", "PreToolUse", repo,
               **write("src/auth.py"))[1]
    assert out["hookSpecificOutput"]["permissionDecision"] == "ask"

    daemon.ok("lease_release", lease=held["id"])
    assert wait_until(lambda: not marker.exists())
    assert hook(helper, spaces_env, "pre", "claude", "PreToolUse", repo,
                **write("src/auth.py"))[:2] == (0, None)


def test_marker_follows_the_session(daemon: ThreadDaemon, spaces_env: SpacesEnv,
                                    helper: tuple[str, ...], repo: Path) -> None:
    marker = spaces_env.runtime_dir / "live" / f"{S}.lease"
    held = daemon.ok("lease_acquire", cwd=str(repo), path="src/auth.py", ttl=2)
    assert not marker.exists()  # no session yet
    hook(helper, spaces_env, "start", "codex", "SessionStart", repo, source="startup")
    assert wait_until(marker.exists)
    assert wait_until(lambda: not marker.exists(), 6.0)  # expired: the daemon's timer
    assert daemon.ok("lease_list", cwd=str(repo)) == []
    daemon.ok("lease_acquire", cwd=str(repo), path="src/auth.py", ttl=600)
    assert wait_until(marker.exists)
    # a restart rebuilds the markers (all removed, then the live sessions' made again)
    daemon.stop()
    marker.unlink()
    again = ThreadDaemon(spaces_env).start()
    try:
        assert marker.exists()
        hook(helper, spaces_env, "end", "codex", "SessionEnd", repo, reason="other")
        assert wait_until(lambda: not marker.exists())
    finally:
        again.stop()
    assert held["id"]


def test_a_sessions_project_is_the_key_leases_use(tmp_path: Path) -> None:
    """The marker compares the session's project with the leases' (spacesd.projects): both
    name a repository with two roots by its oldest one."""
    import asyncio

    from spacesd import projects
    from spacesd.daemon.participants import project_of

    path = tmp_path / "two-roots"
    path.mkdir()

    def git(*args: str, when: str = "2020-01-01T00:00:00") -> None:
        env = {"GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when, "PATH": "/usr/bin:/bin"}
        subprocess.run(["git", "-C", str(path), "-c", "user.name=t", "-c", "user.email=t@e",
                        *args], check=True, capture_output=True, env=env)

    git("init", "-q", "-b", "main")
    git("commit", "-q", "--allow-empty", "-m", "old root", when="2020-01-01T00:00:00")
    git("checkout", "-q", "--orphan", "other")
    git("commit", "-q", "--allow-empty", "-m", "new root", when="2024-01-01T00:00:00")
    git("merge", "-q", "--allow-unrelated-histories", "-m", "join", "main",
        when="2024-02-01T00:00:00")
    oldest = subprocess.run(["git", "-C", str(path), "rev-parse", "main"], capture_output=True,
                            text=True, check=True).stdout.strip()
    assert projects.project_of(str(path)).key == f"git:{oldest}"
    assert asyncio.run(project_of(str(path)))[0] == f"git:{oldest}"
