"""Summary content (bounded, valid JSON, tagged) and its rendering as facts."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from spacesd.daemon.identity import sanitize_username
from spacesd.daemon.summary import (
    MAX_CONTENT,
    parse_summary,
    render_summary,
    summary_content,
)

HOOK_SUMMARY: dict[str, Any] = {
    "kind": "session_summary", "version": 1,
    "session_id": "5f0c2a8e-1b7d-4c1e-9a57-3f2d8c6b9e10", "agent_kind": "claude-code",
    "host": "laptop", "project": "/home/dev/src/acme-api", "cwd": "/home/dev/src/acme-api",
    "git_branch": "fix/rate-limit", "task": "The /v1/orders endpoint returns 500 under load.",
    "files": ["app/ratelimit.py", "tests/test_ratelimit.py"],
    "commands": ["pytest tests/test_orders.py -x -q", "pytest -q"], "commands_total": 3,
    "failed_commands": ["pytest tests/test_orders.py -x -q"],
    "tests": [{"command": "pytest tests/test_orders.py -x -q",
               "result": "1 failed, 1 passed in 0.84s", "ok": False},
              {"command": "pytest -q", "result": "8 passed in 1.92s", "ok": True}],
    "commits": [{"hash": "3e1f2a9", "branch": "fix/rate-limit",
                 "message": "Make TokenBucket.take atomic"}],
    "tokens": {"input": 10768, "output": 1370, "cache_read": 112842, "cache_creation": 0},
    "duration_s": 112.1, "final_message": "Fixed: TokenBucket.take is atomic.\nAll 8 pass.",
}


def test_render_hook_summary_as_facts() -> None:
    content = summary_content(HOOK_SUMMARY, host="other", agent="claude-code")
    parsed = parse_summary(content)
    assert parsed is not None and parsed["host"] == "laptop" and "agent" not in parsed
    ts = 1_763_629_200_000_000  # 2025-11-20 09:00 UTC
    text = render_summary(parsed, sender_name="dev-laptop", created_at=ts + 14 * 60_000_000,
                          now=ts)
    assert text.startswith("At 09:14 UTC, agent dev-laptop (claude-code, session 5f0c2a8e) in "
                           "/home/dev/src/acme-api on branch fix/rate-limit: task ")
    assert "edited app/ratelimit.py, tests/test_ratelimit.py" in text
    assert "ran 3 commands (1 failed: pytest tests/test_orders.py -x -q)" in text
    assert "then 8 passed in 1.92s (pytest -q)" in text
    assert "committed 3e1f2a9 'Make TokenBucket.take atomic'" in text
    assert text.endswith("Final: 'Fixed: TokenBucket.take is atomic. All 8 pass.'")
    assert "\n" not in text


def test_parse_summary_rejects_others() -> None:
    assert parse_summary("hello") is None
    assert parse_summary('{"kind": "other"}') is None
    assert parse_summary("{not json") is None


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3000),
    lambda children: st.lists(children, max_size=30)
    | st.dictionaries(st.text(max_size=20), children, max_size=10),
    max_leaves=200)


@settings(max_examples=25, deadline=None)
@given(extra=st.dictionaries(st.text(min_size=1, max_size=30), _json, max_size=12),
       session=st.text(min_size=1, max_size=300))
def test_content_is_bounded_valid_json(extra: dict[str, Any], session: str) -> None:
    content = summary_content({**extra, "session_id": session})
    assert len(content) <= MAX_CONTENT
    obj = json.loads(content)
    assert isinstance(obj, dict) and obj["kind"] == "session_summary"
    render_summary(obj, sender_name="x", created_at=0, now=0)


def test_sanitize_username() -> None:
    assert sanitize_username("Dev@Laptop.local") == "dev-laptop.local"
    assert sanitize_username("a") == "a-spaces"
    assert sanitize_username("") == "spaces"
    long = sanitize_username("x" * 80)
    assert len(long) == 32
