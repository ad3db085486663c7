"""Decode rate of the pure-Python BSATN codec (spacesd.stdb) on the hot path.

A TransactionUpdate carrying 10,000 `message` rows (varied content, options set and unset)
is decoded from its server frame into model.Message dataclasses; the goal is 200,000 rows/s.
Also shown: rows alone (decode_rows), a gzip frame, and encoding (make_row_list).

    .venv/bin/python bench/bench_codec.py [--rows N] [--repeat R]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from spacesd import model
from spacesd.model import Identity, MessageType
from spacesd.stdb import messages as m

GOAL_ROWS_PER_S = 200_000


def make_rows(n: int) -> list[model.Message]:
    senders = [Identity((0xC200 + i) << 240 | i * 0x9E3779B97F4A7C15) for i in range(16)]
    base = 1_764_000_000_000_000
    rows = []
    for i in range(n):
        rows.append(model.Message(
            id=i + 1,
            channel_id=1 + i % 4,
            thread_id=(i // 10) if i % 7 == 0 else None,
            sender=senders[i % len(senders)],
            content=f"status update {i}: ran the tests, {i % 97} passed" + " é" * (i % 5),
            message_type=MessageType.AgentEvent if i % 5 == 0 else MessageType.Text,
            created_at=base + i * 1000,
            edited_at=base + i * 2000 if i % 11 == 0 else None,
            reply_to_id=i if i % 3 == 0 else None,
        ))
    return rows


def best_of(repeat: int, fn: Callable[[], Any]) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    n = args.rows

    rows = make_rows(n)
    row_list = m.make_row_list("message", rows)
    tx = m.TransactionUpdate([m.QuerySetUpdate(1, [m.TableUpdate(
        "message", [m.PersistentTableRows(row_list, m.make_row_list("message", []))])])])
    frame = m.encode_server_frame(tx)
    gz_frame = m.encode_server_frame(tx, m.Compression.GZIP)

    def decode_frame_and_rows(f: bytes = frame) -> list[Any]:
        [msg] = m.decode_server_frame(f)
        assert isinstance(msg, m.TransactionUpdate)
        upd = msg.query_sets[0].tables[0].rows[0]
        assert isinstance(upd, m.PersistentTableRows)
        return m.decode_rows("message", upd.inserts)

    assert decode_frame_and_rows() == rows  # correctness before speed
    t_frame = best_of(args.repeat, decode_frame_and_rows)
    t_gz = best_of(args.repeat, lambda: decode_frame_and_rows(gz_frame))
    t_rows = best_of(args.repeat, lambda: m.decode_rows("message", row_list))
    t_envelope = best_of(args.repeat, lambda: m.decode_server_frame(frame))
    t_encode = best_of(args.repeat, lambda: m.make_row_list("message", rows))

    print(f"bench_codec: Python {platform.python_version()} ({platform.machine()}), "
          f"{n:,} message rows, {len(frame):,} byte frame ({len(gz_frame):,} gzip), "
          f"best of {args.repeat}")
    rate = n / t_frame
    verdict = "meets" if rate >= GOAL_ROWS_PER_S else "MISSES"
    print(f"  TransactionUpdate frame -> rows  {t_frame * 1e3:8.2f} ms  {rate:>12,.0f} rows/s  "
          f"({rate / GOAL_ROWS_PER_S:.1f}x the {GOAL_ROWS_PER_S:,} rows/s goal: {verdict})")
    print(f"  same, gzip frame                 {t_gz * 1e3:8.2f} ms  {n / t_gz:>12,.0f} rows/s")
    print(f"  decode_rows only                 {t_rows * 1e3:8.2f} ms  {n / t_rows:>12,.0f} rows/s")
    print(f"  message envelope only            {t_envelope * 1e3:8.2f} ms")
    print(f"  make_row_list (encode)           {t_encode * 1e3:8.2f} ms  "
          f"{n / t_encode:>12,.0f} rows/s")


if __name__ == "__main__":
    main()
