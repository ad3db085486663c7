"""Live sessions through the real socket (embedded backend): participants per session,
the inbox rules seen from the daemon, claim -> ack exactly once, markers, spooled acks,
wait, receipts."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from conftest import SpacesEnv, ThreadDaemon

from spacesd import outbox
from spacesd.ipc import Client, Err, Ok

A = "aaaaaaaa-1111-4111-8111-aaaaaaaaaaaa"
B = "bbbbbbbb-2222-4222-8222-bbbbbbbbbbbb"


def start(d: ThreadDaemon, session: str, agent: str = "claude", cwd: str = "/tmp",
          event: str = "SessionStart") -> dict[str, Any]:
    res = d.ok("session_event", session=session, agent=agent, event=event, cwd=cwd)
    assert isinstance(res, dict)
    return res


def wait_op(d: ThreadDaemon, session: str, seconds: int) -> Any:
    """The `wait` op (its `timeout` argument is not the client's)."""
    with Client(d.socket, timeout=seconds + 10) as c:
        res = c.request("wait", {"session": session, "timeout": seconds})
    assert isinstance(res, Ok), res
    return res.result


def marker(env: SpacesEnv, session: str) -> Path:
    return env.runtime_dir / "live" / f"{session}.inbox"


def test_two_sessions_are_two_participants_kept_across_resume(daemon: ThreadDaemon,
                                                              spaces_env: SpacesEnv) -> None:
    a = start(daemon, A)["participant"]
    b = start(daemon, B)["participant"]
    assert a["identity"] != b["identity"] and a["handle"] != b["handle"]
    assert a["handle"].startswith("@tmp-claude-") and len(a["handle"]) == len("@tmp-claude-") + 4
    again = start(daemon, A, event="SessionStart")["participant"]
    assert again["identity"] == a["identity"] and again["handle"] == a["handle"]
    files = list((spaces_env.data_dir / "participants" / "claude").glob("*.json"))
    assert len(files) == 2
    assert all(f.stat().st_mode & 0o777 == 0o600 for f in files)
    who = {w["handle"]: w for w in daemon.ok("who")}
    assert who[a["handle"]]["agent"] == "claude" and who[a["handle"]]["session"] == A
    # presence follows the hook events
    assert daemon.ok("session_event", session=A, event="UserPromptSubmit")["state"] == "Working"
    assert daemon.ok("session_event", session=A, event="Notification",
                     notification_type="permission_prompt")["state"] == "WaitingForInput"
    assert daemon.ok("session_event", session=A, event="Stop")["state"] == "Idle"
    assert daemon.ok("session_event", session=A, event="SessionEnd")["state"] == "Ended"
    assert a["handle"] not in {w["handle"] for w in daemon.ok("who")}
    assert daemon.ok("who", all=True)[0]["state"] in ("Ended", "Idle")
    # resume: the same participant, live again
    assert start(daemon, A)["participant"]["state"] == "Idle"


def test_bad_session_arguments(daemon: ThreadDaemon) -> None:
    res = daemon.request("session_event", session="../etc", agent="claude")
    assert isinstance(res, Err) and res.code == "bad_args"
    res = daemon.request("session_event", session=A, agent="vim")
    assert isinstance(res, Err) and res.code == "bad_args"
    res = daemon.request("inbox", session=A)
    assert isinstance(res, Err) and res.code == "not_found"
    # an unknown session has nothing pending: the fast answer
    assert daemon.ok("inbox_claim", session=A)["claim"] is None


def test_mention_claim_ack_exactly_once_with_receipts(daemon: ThreadDaemon,
                                                      spaces_env: SpacesEnv) -> None:
    start(daemon, A)
    b = start(daemon, B)["participant"]
    assert not marker(spaces_env, B).exists()
    sent = daemon.ok("post", session=A, to="#general", text=f"hi {b['handle']} ready?")
    assert [r["state"] for r in sent["receipts"]] == ["Queued"]
    assert marker(spaces_env, B).exists()
    claim = daemon.ok("inbox_claim", session=B, point="post")
    assert claim["claim"] and claim["ids"] and "ready?" in claim["text"]
    assert f"--- {claim['nonce']} mention #{sent['id']} in #general" in claim["text"]
    # a concurrent hook of the same session gets nothing while the claim holds
    assert daemon.ok("inbox_claim", session=B, point="batch")["claim"] is None
    assert daemon.ok("inbox_ack", claim=claim["claim"], session=B)["acked"] == 1
    assert not marker(spaces_env, B).exists()
    assert daemon.ok("inbox_claim", session=B)["claim"] is None
    # a second ack of the same claim changes nothing
    assert daemon.ok("inbox_ack", claim=claim["claim"], session=B, ids=claim["ids"])["acked"] == 0
    deadline = time.monotonic() + 5
    while daemon.ok("receipts", session=A, message_id=sent["id"])[0]["state"] != "Delivered":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    # B replies: read
    daemon.ok("post", session=B, to=f"reply:{sent['id']}", text="ready")
    rec = daemon.ok("receipts", session=A, message_id=sent["id"])[0]
    assert rec["state"] == "Read" and rec["read_at"] and rec["handle"] == b["handle"]
    # A got the reply in its inbox
    items = daemon.ok("inbox", session=A)["items"]
    assert [i["kind"] for i in items] == ["Reply"] and items[0]["text"] == "ready"


def test_lapsed_claim_comes_again_and_dm_first(daemon: ThreadDaemon, spaces_env: SpacesEnv,
                                              monkeypatch: Any) -> None:
    import spacesd.daemon.live as live

    monkeypatch.setattr(live, "CLAIM_S", 0.2)
    start(daemon, A)
    b = start(daemon, B)["participant"]
    daemon.ok("follow", session=B, channel="general")
    daemon.ok("post", session=A, to="#general", text="channel chatter")
    daemon.ok("post", session=A, to=b["handle"], text="a direct word")
    claim = daemon.ok("inbox_claim", session=B)
    assert claim["text"].index("a direct word") < claim["text"].index("channel chatter")
    assert len(claim["ids"]) == 2
    time.sleep(0.3)  # the hook died before its ack: the claim lapses
    again = daemon.ok("inbox_claim", session=B)
    assert sorted(again["ids"]) == sorted(claim["ids"]) and again["claim"] != claim["claim"]
    assert marker(spaces_env, B).exists()
    daemon.ok("inbox_ack", claim=again["claim"], session=B)
    assert not marker(spaces_env, B).exists()


def test_concurrent_claims_have_one_winner(daemon: ThreadDaemon) -> None:
    start(daemon, A)
    b = start(daemon, B)["participant"]
    for i in range(5):
        daemon.ok("post", session=A, to="#general", text=f"{b['handle']} item {i}")
    results: list[Any] = []

    def claim() -> None:
        with Client(daemon.socket, timeout=10) as c:
            res = c.request("inbox_claim", {"session": B})
            assert isinstance(res, Ok)
            results.append(res.result)

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [r for r in results if r["claim"]]
    assert len(winners) == 1 and len(winners[0]["ids"]) == 5


def test_budget_digest_keeps_the_rest_queued(daemon: ThreadDaemon) -> None:
    start(daemon, A)
    b = start(daemon, B)["participant"]
    for i in range(30):
        daemon.ok("post", session=A, to="#general", text=f"{b['handle']} {'x' * 150} {i}")
    claim = daemon.ok("inbox_claim", session=B, budget=2000)
    assert len(claim["text"]) <= 2000
    assert 0 < len(claim["ids"]) < 30
    assert claim["text"].rstrip().endswith("(read: spacesd inbox)")
    daemon.ok("inbox_ack", claim=claim["claim"], session=B)
    left = daemon.ok("inbox", session=B)["items"]
    assert len(left) == 30 - len(claim["ids"])


def test_ack_spooled_while_the_daemon_was_down(spaces_env: SpacesEnv) -> None:
    d = ThreadDaemon(spaces_env).start()
    try:
        start(d, A)
        b = start(d, B)["participant"]
        d.ok("post", session=A, to=b["handle"], text="while you were out")
        claim = d.ok("inbox_claim", session=B)
    finally:
        d.stop()
    entry = outbox.spool_ack(claim["claim"], B, claim["ids"])  # what a hook does
    assert entry.parent == spaces_env.state_dir / "acks"
    assert marker(spaces_env, B).exists()
    d = ThreadDaemon(spaces_env).start()
    try:
        assert not entry.exists()
        assert not marker(spaces_env, B).exists()  # rebuilt at start: nothing pending
        assert d.ok("inbox_claim", session=B)["claim"] is None
    finally:
        d.stop()


def test_restart_forgets_claims_not_deliveries(spaces_env: SpacesEnv) -> None:
    d = ThreadDaemon(spaces_env).start()
    try:
        start(d, A)
        b = start(d, B)["participant"]
        d.ok("post", session=A, to=b["handle"], text="one")
        d.ok("post", session=A, to=b["handle"], text="two")
        first = d.ok("inbox_claim", session=B)
        d.ok("inbox_ack", claim=first["claim"], session=B)
        d.ok("post", session=A, to=b["handle"], text="three")
        d.ok("inbox_claim", session=B)  # claimed, never acked: the hook was killed
    finally:
        d.stop()
    (spaces_env.runtime_dir / "live" / "stale.inbox").touch()
    d = ThreadDaemon(spaces_env).start()
    try:
        assert not (spaces_env.runtime_dir / "live" / "stale.inbox").exists()
        assert marker(spaces_env, B).exists()
        again = d.ok("inbox_claim", session=B)
        assert "three" in again["text"] and "one" not in again["text"]
    finally:
        d.stop()


def test_wait_is_pushed_and_cancelled_by_a_new_turn(daemon: ThreadDaemon) -> None:
    start(daemon, A)
    b = start(daemon, B)["participant"]
    out: list[Any] = []

    def wait() -> None:
        with Client(daemon.socket, timeout=10) as c:
            out.append(c.request("wait", {"session": B, "timeout": 5}))

    t = threading.Thread(target=wait)
    t.start()
    time.sleep(0.2)
    t0 = time.monotonic()
    daemon.ok("post", session=A, to=b["handle"], text="wake up")
    t.join()
    assert isinstance(out[0], Ok) and out[0].result == {"pending": 1}
    assert time.monotonic() - t0 < 1.0
    assert wait_op(daemon, B, 0) == {"pending": 1}
    daemon.ok("inbox", session=B, read=[daemon.ok("inbox", session=B)["items"][0]["id"]])
    out.clear()
    t = threading.Thread(target=wait)
    t.start()
    time.sleep(0.2)
    daemon.ok("session_event", session=B, event="UserPromptSubmit")
    t.join()
    assert isinstance(out[0], Ok) and out[0].result == {"cancel": True}
    assert wait_op(daemon, B, 0) == {"timeout": True}


def test_a_person_addresses_a_project_with_priority(daemon: ThreadDaemon) -> None:
    from spacesd import owner

    start(daemon, A)
    start(daemon, B)
    res = daemon.request("address", to="project:tmp", text="stop", priority=True)
    assert isinstance(res, Err) and res.code == "forbidden"  # an agent has no passphrase
    owner.store_hash(daemon.daemon_obj.settings.owner_passphrase_file, "owner words")
    sent = daemon.ok("address", to="project:tmp", text="stop and rebase", priority=True,
                     owner_passphrase="owner words")
    assert sent["recipients"] == 2
    claim = daemon.ok("inbox_claim", session=B)
    assert claim["priority"] is True and "PRIORITY from a person" in claim["text"]
    res = daemon.request("address", to="nowhere", text="x", owner_passphrase="owner words")
    assert isinstance(res, Err) and res.code == "bad_args"


def test_summaries_and_context_name_the_participant(daemon: ThreadDaemon) -> None:
    a = start(daemon, A)["participant"]
    start(daemon, B)
    summary = {"session_id": A, "project": "/tmp", "cwd": "/tmp", "agent": "claude-code",
               "task": "fix the parser", "final": "done"}
    posted = daemon.ok("post_summary", summary=summary)
    assert posted["sender"] == a["identity"] and posted["sender_name"] == a["handle"][1:]
    context = daemon.ok("context", session_id=B, cwd="/tmp")
    assert f"agent {a['handle']} (claude-code" in context["text"]
    # a session the daemon does not know posts as the daemon, as before
    other = daemon.ok("post_summary", summary=dict(summary, session_id="unknown-1"))
    assert other["sender"] == daemon.ok("status")["identity"]


def test_a_session_whose_client_died_is_ended_by_its_machine(spaces_env: SpacesEnv,
                                                            monkeypatch: Any) -> None:
    import subprocess

    import spacesd.daemon.live as live

    monkeypatch.setattr(live, "PID_WATCH_S", 0.1)
    client = subprocess.Popen(["sleep", "30"])
    d = ThreadDaemon(spaces_env).start()
    try:
        d.ok("session_event", session=A, agent="claude", event="UserPromptSubmit", cwd="/tmp",
             pid=client.pid)
        time.sleep(0.3)
        assert d.ok("who")[0]["state"] == "Working"
        client.kill()
        client.wait()
        deadline = time.monotonic() + 5
        while d.ok("who"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert d.ok("who", all=True)[0]["state"] == "Ended"
    finally:
        d.stop()
        client.kill()


def test_no_item_lost_or_doubled_with_hooks_killed_at_random(daemon: ThreadDaemon,
                                                             monkeypatch: Any) -> None:
    import random

    import spacesd.daemon.live as live

    monkeypatch.setattr(live, "CLAIM_S", 0.05)
    start(daemon, A)
    b = start(daemon, B)["participant"]
    sent = set()
    for i in range(120):
        to = b["handle"] if i % 3 == 0 else "#general"
        text = f"{b['handle']} n{i}" if to == "#general" else f"n{i}"
        sent.add(daemon.ok("post", session=A, to=to, text=text)["id"])
    rng = random.Random(7)
    delivered: list[int] = []
    deadline = time.monotonic() + 60
    while len(delivered) < 120:
        assert time.monotonic() < deadline
        claim = daemon.ok("inbox_claim", session=B, budget=600)
        if not claim["claim"]:
            time.sleep(0.06)  # a killed hook's claim lapses
            continue
        if rng.random() < 0.3:
            continue  # the hook was killed before its ack: nothing counts
        acked = daemon.ok("inbox_ack", claim=claim["claim"], session=B)["acked"]
        assert acked == len(claim["ids"])
        delivered.extend(claim["ids"])
    assert len(delivered) == len(set(delivered)) == 120  # none doubled, none lost
    assert daemon.ok("inbox_claim", session=B)["claim"] is None


def test_mark_delivered_is_retried_while_the_backend_is_away(spaces_env: SpacesEnv,
                                                            monkeypatch: Any) -> None:
    import spacesd.daemon.live as live
    from spacesd.daemon.backend import BackendUnavailable, JsonArgs
    from spacesd.daemon.embedded import EmbeddedBackend
    from spacesd.model import Identity
    from spacesd.store import Changes

    monkeypatch.setattr(live, "RETRY_S", 0.05)

    class Away(EmbeddedBackend):
        refuse = 0

        async def _call(self, reducer: str, args: JsonArgs, *, caller: Identity | None = None
                        ) -> Changes:
            if reducer == "mark_delivered" and Away.refuse > 0:
                Away.refuse -= 1
                raise BackendUnavailable("the server is away")
            return await super()._call(reducer, args, caller=caller)

    d = ThreadDaemon(spaces_env, backend_class=Away).start()
    try:
        start(d, A)
        b = start(d, B)["participant"]
        sent = d.ok("post", session=A, to=b["handle"], text="are you there")
        claim = d.ok("inbox_claim", session=B)
        Away.refuse = 5
        assert d.ok("inbox_ack", claim=claim["claim"], session=B)["acked"] == 1
        assert d.ok("inbox_claim", session=B)["claim"] is None  # delivered here already
        deadline = time.monotonic() + 5
        while d.ok("receipts", session=A)[0]["state"] != "Delivered":
            assert time.monotonic() < deadline, sent
            time.sleep(0.05)
        assert Away.refuse == 0
    finally:
        d.stop()


def test_a_post_with_a_repeated_key_is_written_once(daemon: ThreadDaemon) -> None:
    start(daemon, A)
    first = daemon.ok("post", session=A, to="#general", text="once", key="post-1")
    again = daemon.ok("post", session=A, to="#general", text="once", key="post-1")
    assert first["content"] == "once"
    assert [m["content"] for m in daemon.ok("messages", channel="general", limit=500)
            ].count("once") == 1
    assert again.get("id") in (None, first["id"])  # no second message
    res = daemon.request("post", session=A, to="#general", text="x", key="has space")
    assert isinstance(res, Err) and res.code == "bad_args"


def test_a_dm_with_a_repeated_key_is_written_once(daemon: ThreadDaemon) -> None:
    """send_dm_keyed (docs/idempotency.md): a DM retried with its key (the CLI asks again
    after a lost answer) makes one DM and one inbox item; the retry is answered with it."""
    start(daemon, A)
    b = start(daemon, B)["participant"]
    first = daemon.ok("post", session=A, to=b["handle"], text="one DM only", key="dm-1")
    again = daemon.ok("post", session=A, to=b["handle"], text="one DM only", key="dm-1")
    assert first["dm"] is True and first["receipts"][0]["state"] == "Queued"
    assert again == {"dm": True, "duplicate": True, "id": first["id"],
                     "conversation_id": first["conversation_id"],
                     "receipts": first["receipts"]}
    items = daemon.ok("inbox", session=B)["items"]
    assert [(i["kind"], i["text"]) for i in items] == [("Dm", "one DM only")]
    other = daemon.ok("post", session=A, to=b["handle"], text="one DM only", key="dm-2")
    assert other["id"] != first["id"]  # another key: another DM
    res = daemon.request("post", session=A, to=b["handle"], text="x", key="has space")
    assert isinstance(res, Err) and res.code == "bad_args"


def test_a_lapsed_gemini_claim_whose_text_is_in_the_transcript_is_delivered(
        daemon: ThreadDaemon, spaces_env: SpacesEnv, tmp_path: Path, monkeypatch: Any) -> None:
    """Gemini uses a hook's output even when the hook died of a signal (its session file then
    holds the text): a claim that lapses unacked is Delivered if its item headers are in the
    transcript the hook named, and offered again (the same item, a new fence) if not."""
    import json

    import spacesd.daemon.live as live

    monkeypatch.setattr(live, "CLAIM_S", 0.2)
    start(daemon, A)
    b = start(daemon, B, agent="gemini")["participant"]
    transcript = tmp_path / "session-2026-b2.json"
    transcript.write_text('{"messages": []}')
    first = daemon.ok("post", session=A, to="#general", text=f"{b['handle']} taken")
    claim = daemon.ok("inbox_claim", session=B, point="post", transcript=str(transcript))
    assert "taken" in claim["text"]
    # the killed hook's output reached Gemini: its session file holds the text (JSON-escaped)
    transcript.write_text(json.dumps({"messages": [{"content": claim["text"]}]}))
    time.sleep(0.3)
    assert daemon.ok("inbox_claim", session=B, point="post")["claim"] is None
    assert not marker(spaces_env, B).exists()
    deadline = time.monotonic() + 5
    while daemon.ok("receipts", session=A, message_id=first["id"])[0]["state"] != "Delivered":
        assert time.monotonic() < deadline
        time.sleep(0.02)

    second = daemon.ok("post", session=A, to="#general", text=f"{b['handle']} lost")
    claim = daemon.ok("inbox_claim", session=B, point="post", transcript=str(transcript))
    time.sleep(0.3)  # lapsed, and not in the transcript (the hook died before printing)
    again = daemon.ok("inbox_claim", session=B, point="post", transcript=str(transcript))
    assert again["ids"] == claim["ids"] and "lost" in again["text"]
    assert again["nonce"] != claim["nonce"] or again["claim"] != claim["claim"]
    assert daemon.ok("receipts", session=A, message_id=second["id"])[0]["state"] == "Queued"
    res = daemon.request("inbox_claim", session=B, transcript=7)
    assert isinstance(res, Err) and res.code == "bad_args"
