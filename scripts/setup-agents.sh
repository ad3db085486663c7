#!/usr/bin/env bash
# Installs the real agent CLIs the test suite drives (Claude Code, Codex CLI, Gemini CLI) into
# tests/agents/node_modules, at the versions pinned in tests/agents/package.json and its
# package-lock.json (the one place they are pinned). `npm ci` runs only when the lock file
# changed since the last install (npm's own cache, ~/.npm, serves the packages again). Every
# package comes from the npm registry: the CLIs' native parts are their platform packages
# (@anthropic-ai/claude-code-linux-x64, @openai/codex-linux-x64, ...), no postinstall download.
set -euo pipefail
cd "$(dirname "$0")/../tests/agents"
stamp=node_modules/.spaces-lock-sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null || true)" = "$want" ] && [ -x node_modules/.bin/claude ] \
   && [ -x node_modules/.bin/codex ] && [ -x node_modules/.bin/gemini ]; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "scripts/setup-agents.sh: npm is needed for the real-client tests (apt install npm)" >&2
  exit 1
fi
npm ci --no-audit --no-fund --loglevel=error
printf '%s\n' "$want" >"$stamp"
