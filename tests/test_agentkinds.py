"""spacesd.agentkinds: one table of agent kinds for the hook installer and the summaries."""

from __future__ import annotations

from spacesd import agentkinds, hookconfig
from spacesd.daemon.summary import render_summary
from spacesd.hooks import session


def test_one_table_for_installs_and_summaries() -> None:
    assert hookconfig.AGENTS == agentkinds.INSTALL_NAMES == ("claude", "codex", "gemini")
    assert agentkinds.SUMMARY_KINDS == {"claude": "claude-code", "codex": "codex",
                                        "gemini": "gemini-cli"}
    # what the session hook calls each agent is the table's
    assert session.agent_kind({}) == agentkinds.SUMMARY_KINDS["claude"]
    assert session.agent_kind({"turn_id": "t"}) == agentkinds.SUMMARY_KINDS["codex"]
    assert session.agent_kind({"hook_event_name": "AfterAgent"}) == (
        agentkinds.SUMMARY_KINDS["gemini"])
    for k in agentkinds.AGENT_KINDS:
        assert agentkinds.by_name(k.name) is k and agentkinds.by_name(k.summary_kind) is k
    assert agentkinds.by_name("cursor") is None


def test_uuid7_session_ids_are_shown_by_their_random_tail() -> None:
    a = "01a22df5-c5f2-7332-8b32-979533b76c6c"  # two Codex sessions a second apart
    b = "01a22df5-d80e-7f91-b0e8-578fbfd8f120"
    assert agentkinds.short_session_id(a) == "33b76c6c"
    assert agentkinds.short_session_id(b) == "fbfd8f120"[-8:]
    assert agentkinds.short_session_id(a) != agentkinds.short_session_id(b)
    v4 = "5d0b6350-c55f-4de2-b7f2-aae14f076336"  # random from the start: its head, as before
    assert agentkinds.short_session_id(v4) == "5d0b6350"
    assert agentkinds.short_session_id("abc") == "abc"
    line = render_summary({"session_id": a, "agent_kind": "codex"}, sender_name="dev",
                          created_at=0, now=0)
    assert "(codex, session 33b76c6c)" in line
