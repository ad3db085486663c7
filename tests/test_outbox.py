"""spacesd.outbox: the durable on-disk queue the Stop hook writes and the daemon drains."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest

from spacesd import outbox, paths


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SPACES_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


def req(n: int) -> dict[str, object]:
    return {"id": 1, "op": "post_summary", "args": {"summary": {"n": n, "t": "é✓"}}}


def test_write_format_and_location(state: Path) -> None:
    p = outbox.write(req(1))
    assert p.parent == paths.outbox_dir() == state / "outbox"
    stem, _, pid = p.name.removesuffix(".json").partition("-")
    assert stem.isdigit() and int(pid) == os.getpid()
    assert abs(int(stem) - time.time_ns()) < 60 * 10**9
    assert json.loads(p.read_text("utf-8")) == req(1)
    assert stat.S_IMODE(p.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(p.stat().st_mode) == 0o600
    # nothing else left behind (no temporaries)
    assert os.listdir(p.parent) == [p.name]


def test_list_read_remove_oldest_first(state: Path) -> None:
    written = [outbox.write(req(i)) for i in range(5)]
    assert outbox.list_pending() == written
    assert outbox.depth() == 5
    assert [outbox.read(e)["args"]["summary"]["n"] for e in outbox.list_pending()] == list(range(5))
    outbox.remove(written[0])
    outbox.remove(written[0])  # already gone: fine
    assert outbox.list_pending() == written[1:]


def test_order_is_numeric_not_lexical(state: Path) -> None:
    d = outbox.ensure_dir()
    for name in ("999-1.json", "1000-2.json", "1000-10.json"):
        (d / name).write_text(json.dumps(req(0)))
    assert [p.name for p in outbox.list_pending()] == ["999-1.json", "1000-2.json", "1000-10.json"]


def test_ignores_temporaries_and_strangers(state: Path) -> None:
    d = outbox.ensure_dir()
    (d / ".tmp-1-2-3").write_text("{partial")
    (d / "notes.txt").write_text("x")
    (d / "abc-1.json").write_text("{}")
    (d / "5-1.json.bad").write_text("{}")
    assert outbox.list_pending() == []
    old = time.time() - 7200
    os.utime(d / ".tmp-1-2-3", (old, old))
    assert outbox.cleanup_tmp() == 1
    assert not (d / ".tmp-1-2-3").exists()


def test_corrupt_entry_and_quarantine(state: Path) -> None:
    d = outbox.ensure_dir()
    bad = d / "1-1.json"
    bad.write_text("{trunc")
    other = d / "2-1.json"
    other.write_text("[1]")
    for e in (bad, other):
        with pytest.raises(outbox.OutboxError):
            outbox.read(e)
    q = outbox.quarantine(bad)
    assert q is not None and q.name == "1-1.json.bad" and q.exists()
    assert outbox.list_pending() == [other]
    assert outbox.quarantine(bad) is None
    with pytest.raises(FileNotFoundError):
        outbox.read(bad)


def test_missing_dir_is_empty(tmp_path: Path) -> None:
    assert outbox.list_pending(tmp_path / "nope") == []
    assert outbox.depth(tmp_path / "nope") == 0


def test_write_refuses_oversized(state: Path) -> None:
    with pytest.raises(outbox.OutboxError):
        outbox.write({"op": "post_summary", "args": {"x": "a" * outbox.MAX_ENTRY}})
    assert outbox.list_pending() == []


def test_many_writes_never_collide(state: Path) -> None:
    ps = [outbox.write(req(i)) for i in range(200)]
    assert len(set(ps)) == 200
    assert outbox.list_pending() == ps
