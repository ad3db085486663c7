"""Record the real clients' transcripts and hook inputs as test fixtures (tests/fixtures/).

    .venv/bin/python tests/agents/record.py

Runs one session of each client (Claude Code, then Codex, then Gemini CLI, so the later ones
are handed the earlier ones' summaries as context) in one project with Spaces installed
(tests/agents/harness.py), and copies each transcript to tests/fixtures/<agent kind>/
real-session.jsonl, with the summary Spaces posted for it (real-summary.json). The project
path inside them is the throwaway one: tests pass `cwd` from the summary.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.fakemodel import Script, final, shell, write
from agents.harness import KINDS, SUMMARY_KINDS, World

OUT = Path(__file__).resolve().parents[1] / "fixtures"


def main() -> None:
    world = World.create(Path(tempfile.mkdtemp(prefix="sr-", dir="/tmp")))
    try:
        project = world.project("acme")
        for kind in KINDS:
            script = Script([
                write(str(project / f"calc_{kind}.py"), "def add(a, b):\n    return a + b\n"),
                shell("echo ok"),
                shell("ls /nonexistent-dir"),
                shell("python3 -m unittest -v"),
                shell(f"git add -A && git commit -q -m 'add calc for {kind}' && "
                      "git log --oneline -1"),
                final(f"Added calc_{kind}.py; the tests pass."),
            ])
            s = world.run(kind, project, script, f"Add an add() helper for {kind}")
            dest = OUT / SUMMARY_KINDS[kind]
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy(s.transcript, dest / "real-session.jsonl")
            summaries = world.summaries(s.session_id)
            (dest / "real-summary.json").write_text(json.dumps(summaries[-1], indent=2) + "\n")
            print(kind, s.transcript.name, "->", dest)
    finally:
        world.close()


if __name__ == "__main__":
    main()
