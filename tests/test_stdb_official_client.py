"""The official TypeScript SDK's client (DbConnection, npm `spacetimedb` pinned in
tests/oracle/) against the stand-in server (tests/stdb_server.py) and the real SpacetimeDB
server (tests/real_stdb.py, the module's .wasm freshly published): it connects, subscribes to
`message`, calls `send_message` and receives its own row; a refused reducer reaches it as an
error. tests/oracle/client_test.mjs is the client."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from real_stdb import RealServer
from testutil import free_port

TESTS = Path(__file__).resolve().parent
ORACLE_DIR = TESTS / "oracle"
SCRIPT = ORACLE_DIR / "client_test.mjs"



def node_command() -> list[str]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the official client cannot run")
    sdk = ORACLE_DIR / "node_modules" / "spacetimedb" / "package.json"
    if not sdk.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed: cannot install the official SDK")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                       cwd=ORACLE_DIR, check=True, timeout=300)
    version = subprocess.run([node, "--version"], capture_output=True, text=True,
                             check=True).stdout.strip()
    major = int(version.lstrip("v").split(".")[0])
    # Node 22+ has the WHATWG WebSocket (undici's) by default, 20/21 behind a flag.
    if major >= 22:
        return [node]
    if major >= 20:
        return [node, "--experimental-websocket"]
    pytest.skip(f"node {version} has no WebSocket (20 or newer is needed)")


@dataclass(frozen=True)
class Server:
    url: str
    database: str


def stand_in(tmp_path: Path) -> Iterator[Server]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(TESTS / "stdb_server.py"), "--port", str(port),
         "--data", str(tmp_path / "stdb")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(f"{url}/v1/ping", timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"test server did not start: {proc.stderr}") from None
                time.sleep(0.05)
        yield Server(url, "spaces")
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(params=["stand-in", "real"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    if request.param == "stand-in":
        yield from stand_in(tmp_path)
        return
    real: RealServer = request.getfixturevalue("real_stdb")
    yield Server(real.url, real.publish())


def run_client(server: Server, *extra: str) -> dict[str, object]:
    cmd = [*node_command(), str(SCRIPT), server.url.replace("http://", "ws://"),
           server.database, *extra]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=ORACLE_DIR)
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("{")]
    assert lines, f"no result from the official client: {res.stdout}\n{res.stderr}"
    result: dict[str, object] = json.loads(lines[-1])
    assert res.returncode == 0 and result["ok"], result
    return result


def test_official_client_receives_its_own_row(server: Server) -> None:
    result = run_client(server)
    assert result["steps"] == ["connected", "subscription applied", "own row received",
                               "send_message committed", "refusal received"]
    row = result["row"]
    assert isinstance(row, dict)
    assert row["sender"] == result["identity"]
    assert row["message_type"] == "Text" and row["channel_id"] == "1"
    assert result["event"] == "Reducer"
    assert result["refusal"] == "only Admins and the Owner can create channels"


def test_official_client_with_a_minted_token(server: Server) -> None:
    req = urllib.request.Request(f"{server.url}/v1/identity", method="POST")
    with urllib.request.urlopen(req, timeout=5) as resp:
        minted = json.loads(resp.read())
    result = run_client(server, minted["token"])
    assert result["identity"] == minted["identity"]
    row = result["row"]
    assert isinstance(row, dict) and row["sender"] == minted["identity"]
