"""The real SpacetimeDB server as a test tier.

`RealServer` runs `spacetimedb-standalone` (SpacetimeDB 2.8.3, see ../shared/spacetimedb/) on a
free 127.0.0.1 port with a temporary data dir, mints an owner identity (POST /v1/identity)
and publishes the module's .wasm (PUT /v1/database/NAME?clear=true). It can be killed with
SIGKILL and started again on the same data dir and port.

`locate()` finds what the tier needs or says, in one line, what is missing:
- the server binary: SPACES_SPACETIMEDB_BIN, else ../shared/spacetimedb/spacetimedb-standalone
  beside the checkout, else `spacetimedb-standalone` or `spacetime` on PATH;
- the module's .wasm: SPACES_WASM, else `scripts/build-wasm.sh` (Debian's rustc-web, cached by
  a hash of module/'s sources; this never apt-installs: `scripts/test` does, as root).

conftest.py's session fixture `real_stdb` starts one server for the whole run; tests publish
a fresh database where state matters (`publish()` takes well under a second). Databases are
not deleted: on 2.8.3 a `DELETE /v1/database/NAME` right after its clients left panics a
server thread ("local durability: actor vanished") and the next publish is cut off. Without the
binary or the wasm the tier skips with that line; with CI=true it fails instead.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from testutil import free_port

REPO = Path(__file__).resolve().parents[1]
SHARED_BIN = REPO.parent / "shared" / "spacetimedb" / "spacetimedb-standalone"
BUILD_WASM = REPO / "scripts" / "build-wasm.sh"


class Missing(Exception):
    """What the tier needs and this machine lacks (one line)."""


@dataclass(frozen=True)
class Tools:
    binary: Path
    """`spacetimedb-standalone`, or the `spacetime` CLI (whose `start` passes the same
    arguments on to the standalone server it bundles)."""
    wasm: Path


def find_binary() -> Path:
    override = os.environ.get("SPACES_SPACETIMEDB_BIN", "").strip()
    if override:
        path = Path(override)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise Missing(f"SPACES_SPACETIMEDB_BIN={override} is not an executable file")
        return path
    if SHARED_BIN.is_file() and os.access(SHARED_BIN, os.X_OK):
        return SHARED_BIN
    for name in ("spacetimedb-standalone", "spacetime"):
        found = shutil.which(name)
        if found:
            return Path(found)
    raise Missing(f"no SpacetimeDB server: set SPACES_SPACETIMEDB_BIN, or put {SHARED_BIN} "
                  "or spacetimedb-standalone/spacetime on PATH")


def find_wasm() -> Path:
    override = os.environ.get("SPACES_WASM", "").strip()
    if override:
        if not Path(override).is_file():
            raise Missing(f"SPACES_WASM={override} is not a file")
        return Path(override)
    env = dict(os.environ, SPACES_WASM_NO_INSTALL="1")
    proc = subprocess.run(["bash", str(BUILD_WASM)], env=env, capture_output=True, text=True,
                          timeout=900, check=False)
    if proc.returncode == 3:
        raise Missing(proc.stderr.strip().splitlines()[-1])
    if proc.returncode != 0:
        raise RuntimeError(f"scripts/build-wasm.sh failed ({proc.returncode}):\n"
                           f"{proc.stderr[-4000:]}")
    return Path(proc.stdout.strip().splitlines()[-1])


def locate() -> Tools:
    return Tools(find_binary(), find_wasm())


def token_identity(token: str) -> str:
    """The identity (hex) a SpacetimeDB token names (its `hex_identity` claim)."""
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["hex_identity"])


class RealServer:
    """One `spacetimedb-standalone` process over a data dir it keeps across restarts."""

    _names = itertools.count(1)

    def __init__(self, tools: Tools, root: Path | None = None) -> None:
        self.tools = tools
        self.root = root or Path(tempfile.mkdtemp(prefix="spc-stdb-", dir="/tmp"))
        self.data_dir = self.root / "data"
        self.log_path = self.root / "server.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.owner_token = ""
        self.owner_identity = ""

    # -------------------------------------------------------------- process

    def start(self, timeout: float = 30.0) -> RealServer:
        keys = self.data_dir / "keys"
        keys.mkdir(parents=True, exist_ok=True)
        args = [str(self.tools.binary), "start", "--listen-addr", f"127.0.0.1:{self.port}",
                "--data-dir", str(self.data_dir),
                "--jwt-pub-key-path", str(keys / "id_ecdsa.pub"),
                "--jwt-priv-key-path", str(keys / "id_ecdsa"), "--non-interactive"]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self.proc.poll() is not None:
                raise RuntimeError(f"spacetimedb-standalone exited with {self.proc.returncode}:"
                                   f"\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"spacetimedb-standalone did not answer on {self.url}:"
                                   f"\n{self.log_tail()}")
            time.sleep(0.05)
        if not self.owner_token:
            self.owner_token, self.owner_identity = self.new_identity()
        return self

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/v1/ping", timeout=1):
                return True
        except (OSError, urllib.error.URLError):
            return False

    def kill(self) -> None:
        """SIGKILL: no shutdown of any kind (the data dir keeps what was committed)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def restart(self) -> None:
        """kill -9, then start again on the same data dir and port."""
        self.kill()
        self.start()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    # -------------------------------------------------------------- HTTP

    def _request(self, method: str, path: str, body: bytes | None = None,
                 token: str | None = None, timeout: float = 60.0) -> bytes:
        req = urllib.request.Request(f"{self.url}{path}", data=body, method=method)
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return bytes(resp.read())
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace")[:2000]
            raise RuntimeError(f"{method} {path}: HTTP {e.code}: {detail}") from None
        except OSError as e:
            died = self.proc is not None and self.proc.poll() is not None
            state = f"the server exited ({self.proc.returncode if self.proc else '?'})" \
                if died else "the server is running"
            raise RuntimeError(f"{method} {path}: {type(e).__name__}: {e}; {state}; its log:\n"
                               f"{self.log_tail()}") from None

    def new_identity(self) -> tuple[str, str]:
        """(token, identity hex) of a fresh identity (POST /v1/identity)."""
        found = json.loads(self._request("POST", "/v1/identity"))
        return str(found["token"]), str(found["identity"])

    def publish(self, name: str | None = None, wasm: Path | None = None) -> str:
        """Publish the module as database `name` (default: a fresh one), wiping it first if it
        exists (`?clear=true`, what `spacetime publish --delete-data` does). Returns the name."""
        name = name or f"spaces-{os.getpid()}-{next(self._names)}"
        body = (wasm or self.tools.wasm).read_bytes()
        self._request("PUT", f"/v1/database/{name}?clear=true", body, self.owner_token,
                      timeout=120)
        return name
