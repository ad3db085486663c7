"""The web view, measured from inside a real headless Chromium (Debian's, via chromedriver):

    .venv/bin/python bench/bench_web.py [--rows 1000000] [--loads 10] [--messages 200]

1. first paint of a channel holding `rows` stored messages (bulk-loaded into #general, FTS
   index included): navigation start -> the newest page of messages painted (the page's own
   `performance.now()` in the animation frame after the render), over `loads` page loads;
   goal < 300 ms; and switching to that channel from another (click -> painted);
2. commit -> screen: `messages` sent through the daemon's socket one by one (paced 20 ms
   apart), each measured in the browser as the time from its commit timestamp (`created_at`,
   set in the committing transaction) to the animation frame after it entered the DOM; goal
   p50 < 100 ms (p95 printed beside it).

The daemon is `spacesd run` in private temporary directories, serving the view on 127.0.0.1;
the machine's own Spaces is never touched.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "tests"))

import browser  # noqa: E402
from bench_daemon import DaemonProc, bulk_load, verdict  # noqa: E402

from spacesd import owner  # noqa: E402
from spacesd.ipc import Client, Ok  # noqa: E402

PASSPHRASE = "bench web passphrase"


def _ok(sock: Path, op: str, **args: Any) -> Any:
    with Client(sock, timeout=30) as c:
        res = c.request(op, args)
    assert isinstance(res, Ok), res
    return res.result


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def first_paint(page: browser.Browser, port: int, channel: int, loads: int
                ) -> tuple[list[float], list[float]]:
    """Page loads of the channel (ms from navigation start to painted messages), and
    switches to it from #agent-logs (ms from the click to painted)."""
    paints: list[float] = []
    for _ in range(loads):
        page.driver.get("about:blank")  # a new document each time, not a fragment change
        page.driver.get(f"http://127.0.0.1:{port}/#/c/{channel}")
        page.wait_js(f"return window.spaces.lastOpen && window.spaces.lastOpen.channel === "
                     f"{channel} && window.spaces.firstPaint")
        paints.append(float(page.js("return window.spaces.firstPaint")))
    switches: list[float] = []
    for _ in range(loads):
        page.js("location.hash = '#/c/2'")
        page.wait_js("return window.spaces.lastOpen && window.spaces.lastOpen.channel === 2")
        page.js(f"document.querySelector(\"button.chan[data-id='{channel}']\").click()")
        page.wait_js(f"return window.spaces.lastOpen.channel === {channel}")
        switches.append(float(page.js("return window.spaces.lastOpen.ms")))
    return paints, switches


def commit_to_screen(page: browser.Browser, sock: Path, channel: int, n: int) -> list[float]:
    page.js("window.spaces.latency.length = 0")
    with Client(sock, timeout=30) as c:
        for i in range(n):
            res = c.request("send", {"channel": channel, "content": f"live {i}"})
            assert isinstance(res, Ok), res
            time.sleep(0.02)
    page.wait(lambda: page.js("return window.spaces.latency.length") >= n, 30, "all on screen")
    samples: list[dict[str, float]] = page.js("return window.spaces.latency")
    return [s["ms"] for s in samples]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--loads", type=int, default=10)
    ap.add_argument("--messages", type=int, default=200)
    opts = ap.parse_args()
    why = browser.missing()
    if why is not None:
        print(f"bench_web: cannot run: {why}")
        return 1
    root = Path(tempfile.mkdtemp(prefix="spc-bench-web-", dir="/tmp"))
    daemon = DaemonProc(root)
    page: browser.Browser | None = None
    results: list[tuple[str, str, str, str]] = []
    try:
        daemon.start()  # creates the database, the hub and its channels
        daemon.stop()
        channel, secs = bulk_load(root / "data" / "spaces.sqlite", opts.rows)
        print(f"  bulk-loaded {opts.rows:,} messages into #general in {secs:.1f} s "
              f"(full-text index included)")
        daemon.start()
        owner.store_hash(root / "config" / owner.FILE_NAME, PASSPHRASE)
        web = _ok(daemon.socket, "web", port=0)
        page = browser.Browser()
        page.driver.get(web["url"])  # the person logs in: the link, then the passphrase
        page.wait_js("return !document.getElementById('pass-form').hidden")
        page.driver.find_element("id", "pass").send_keys(PASSPHRASE + "\n")
        page.wait_js("return document.body.dataset.ready === '1'")
        paints, switches = first_paint(page, web["port"], channel, opts.loads)
        total = _ok(daemon.socket, "status")["counts"]["message"]
        print(f"  first paints (ms): {', '.join(f'{p:.0f}' for p in paints)}; load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        print(f"  first paint of #general ({total:,} messages), {opts.loads} loads: p50 "
              f"{statistics.median(paints):.0f} ms, max {max(paints):.0f} ms; "
              f"switch to it: p50 {statistics.median(switches):.0f} ms, "
              f"max {max(switches):.0f} ms")
        results.append((f"first paint, channel of {total:,} messages",
                        f"p50 {statistics.median(paints):.0f} ms, max {max(paints):.0f} ms",
                        "< 300 ms", verdict(max(paints) < 300)))
        results.append(("channel switch (click -> painted)",
                        f"p50 {statistics.median(switches):.0f} ms, "
                        f"max {max(switches):.0f} ms", "< 300 ms",
                        verdict(max(switches) < 300)))
        lat = commit_to_screen(page, daemon.socket, channel, opts.messages)
        print(f"  commit -> screen, {len(lat)} messages: p50 {statistics.median(lat):.1f} ms, "
              f"p95 {_pct(lat, 0.95):.1f} ms, max {max(lat):.1f} ms")
        results.append(("commit -> on screen (browser)",
                        f"p50 {statistics.median(lat):.1f} ms, p95 {_pct(lat, 0.95):.1f} ms",
                        "< 100 ms (p50)", verdict(statistics.median(lat) < 100)))
    finally:
        if page is not None:
            page.close()
        daemon.stop()
        shutil.rmtree(root, ignore_errors=True)
    print()
    for name, got, goal, ok in results:
        print(f"  {name:<45} {got:<32} goal {goal:<16} {ok}")
    return 0 if all(r[3] == "MET" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
