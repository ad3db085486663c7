"""Build the live hooks' fast path (`spacesd/hooks/spaces-hook.c`) on this machine.

The helper runs after every tool call of every agent session, so it must not start Python
when nothing is pending (docs/live-coordination.md, 7). It is compiled here, with the system
C compiler (`cc -O2`; `SPACES_CC` names another), into `paths.bin_dir()/spaces-hook`, with the
interpreter and the folder holding the `spacesd` package built in (it execs
`python -I -S -c ...` when a marker says something is pending). A build is cached by the
sha256 of the source, the compiler and those two paths (`spaces-hook.key` beside it), so
installing again rebuilds only when one of them changed.

Without a compiler the hooks run the Python pending path directly (`python -I -S -c ...`:
it looks at the marker itself and exits when nothing is pending) — slower, never wrong;
`status()` says which is in use.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from spacesd import paths

__all__ = ["BOOT", "FastHook", "build", "fallback_argv", "pkg_dir", "source", "status"]

NAME = "spaces-hook"
BOOT = ("import sys;sys.path.insert(0,sys.argv[1]);"
        "from spacesd.hooks.live import main;main()")
"""The same bootstrap the C helper execs (spaces-hook.c's BOOT): keep them identical."""


@dataclass(frozen=True)
class FastHook:
    """What the live hooks run: `argv` + [event, agent]; `fast` when it is the C helper."""

    argv: tuple[str, ...]
    fast: bool
    note: str


def source() -> Path:
    return Path(__file__).parent / "hooks" / "spaces-hook.c"


def pkg_dir() -> Path:
    """The folder that holds the `spacesd` package (put on sys.path by the pending path)."""
    return Path(__file__).resolve().parent.parent


def _python() -> str:
    return os.path.realpath(sys.executable)


def fallback_argv() -> tuple[str, ...]:
    """The Python pending path itself, for machines without a C compiler."""
    return (_python(), "-I", "-S", "-c", BOOT, str(pkg_dir()))


def _compiler() -> str | None:
    wanted = os.environ.get("SPACES_CC", "").strip()
    if wanted:
        return shutil.which(wanted)
    for name in ("cc", "gcc", "clang"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _key(cc: str) -> str:
    h = hashlib.sha256(source().read_bytes())
    for part in (cc, _python(), str(pkg_dir())):
        h.update(b"\0" + part.encode())
    return h.hexdigest()


def _c_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def build(dest_dir: Path | None = None) -> FastHook:
    """The C helper, compiled if its cached build is missing or stale; the Python pending
    path (with a note saying why) when it cannot be built."""
    out_dir = paths.bin_dir() if dest_dir is None else dest_dir
    target, key_file = out_dir / NAME, out_dir / f"{NAME}.key"
    cc = _compiler()
    if cc is None:
        return FastHook(fallback_argv(), False, "no C compiler (cc): the Python pending path "
                        "runs on every hook (~30 ms instead of ~0.3 ms)")
    key = _key(cc)
    with contextlib.suppress(OSError):
        if key_file.read_text().strip() == key and os.access(target, os.X_OK):
            return FastHook((str(target),), True, f"C fast path {target} (cached)")
    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{NAME}.", dir=out_dir)
    os.close(fd)
    cmd = [cc, "-O2", "-o", tmp, f"-DSPACES_PYTHON={_c_string(_python())}",
           f"-DSPACES_PKGDIR={_c_string(str(pkg_dir()))}", str(source())]
    err = ""
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        done = None
        err = str(e)
    if done is None or done.returncode != 0:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        why = err if done is None else (done.stderr.strip().splitlines() or ["failed"])[-1]
        return FastHook(fallback_argv(), False, f"{cc} could not build {NAME} ({why}): the "
                        "Python pending path runs on every hook")
    os.chmod(tmp, 0o755)
    os.replace(tmp, target)
    key_file.write_text(key + "\n")
    return FastHook((str(target),), True, f"C fast path {target} (built with {cc})")


def status(dest_dir: Path | None = None) -> FastHook:
    """What an install would use now, without building anything."""
    out_dir = paths.bin_dir() if dest_dir is None else dest_dir
    target, key_file = out_dir / NAME, out_dir / f"{NAME}.key"
    cc = _compiler()
    try:
        current = cc is not None and key_file.read_text().strip() == _key(cc)
    except OSError:
        current = False
    if current and os.access(target, os.X_OK):
        return FastHook((str(target),), True, f"C fast path {target}")
    if cc is None:
        return FastHook(fallback_argv(), False, "no C compiler: the Python pending path runs "
                        "on every hook")
    return FastHook(fallback_argv(), False, f"{NAME} not built yet (spacesd hooks install "
                    "builds it)")
