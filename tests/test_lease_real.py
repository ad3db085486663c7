"""The PreToolUse lease check with the real clients (tests/agents: Claude Code 2.1.328,
Codex 0.169.0 and Gemini CLI 0.61.0 (BeforeTool) against the scripted fake model; Spaces
installed by install.sh and `spacesd hooks install`, the hooks running through the C fast path
built there), embedded backend.

A path of the project is leased by another participant (the machine's own identity, as a
person's `spacesd lease acquire` takes it) before the session starts. The scripted model asks
to write a file under the leased folder, then one outside it: the first is refused — the file
is not written, and the client's very next model request carries the reason, naming the holder
and when the lease ends — and the second is written.
"""

from __future__ import annotations

from typing import Any

import pytest
from agents.fakemodel import Script, final, write
from agents.harness import LIVE_CLIENT_MARKS, World

from spacesd.ipc import Client, Ok

pytestmark = LIVE_CLIENT_MARKS


def op(world: World, name: str, **args: Any) -> Any:
    with Client(world.base / "run" / "spacesd" / "spacesd.sock", timeout=20) as c:
        res = c.request(name, args)
    assert isinstance(res, Ok), f"{name} {args}: {res}"
    return res.result


@pytest.mark.parametrize("kind", ["claude", "codex", "gemini"])
def test_edit_of_a_leased_path_is_denied_naming_holder_and_expiry(agent_world: World,
                                                                   kind: str) -> None:
    world = agent_world
    project = world.project(f"lease-{kind}")
    (project / "src").mkdir()
    held = op(world, "lease_acquire", cwd=str(project), path="src/", ttl=3600,
              reason="refactoring auth")
    # Claude Code's and Gemini's write tools take absolute paths; Codex's patch relative ones
    base = f"{project}/" if kind != "codex" else ""
    leased, free = project / "src" / "auth.py", project / "notes.md"
    steps = [write(f"{base}src/auth.py", "hijacked\n"), write(f"{base}notes.md", "free\n"),
             final("Done.")]
    session = world.start(kind, project, Script(steps), prompt="Write the two files.")
    assert session.wait() == 0, session.stderr[-3000:]
    requests = session.requests
    assert len(requests) >= 3, [r.text[-500:] for r in requests]
    refused = requests[1].text  # the request right after the refused call
    until = held["expires_at"][:19]
    assert f"src/auth.py is leased by {held['holder_name']} until {until}" in refused, (
        refused[-3000:])
    assert "refactoring auth" in refused
    assert "is leased by" not in requests[0].text
    assert not leased.exists(), "the leased path was written"
    assert free.read_text() == "free\n", "the unleased path was not written"
