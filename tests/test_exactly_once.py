"""Exactly once under load and failures: the short CI form of bench/bench_exactly_once.py
(real daemon processes, the real Stop hook, CLI-style keyed sends; counted in the database)."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import bench_exactly_once as bench


@pytest.fixture
def root() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="spx-", dir="/tmp"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_concurrent_hooks_and_cli_clients(root: Path) -> None:
    r = bench.case_load(root, hooks=12, clients=6, seconds=4)
    assert r["hook_runs"] > 0 and r["sends"] > 0 and r["hook_exit_nonzero"] == 0
    assert (r["doubled"], r["lost"], r["queued_while_up"]) == (0, 0, 0), r


def test_kill_9_during_outbox_delivery(root: Path) -> None:
    r = bench.case_kills(root, kills=6, entries=40)
    assert r["kills_mid_delivery"] >= 1 and r["set_aside"] == 0, r
    assert (r["doubled"], r["lost"]) == (0, 0), r


def test_a_stopped_daemon_while_hooks_run(root: Path) -> None:
    r = bench.case_sigstop(root, hooks=16, stop_s=2.0)
    assert r["queued_by_hooks"] > 0 and r["hook_exit_nonzero"] == 0, r  # the hooks gave up
    assert (r["doubled"], r["lost"]) == (0, 0), r
