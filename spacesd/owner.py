"""The owner's authority needs a person: an owner passphrase (docs/roles.md).

On one machine the agents run as the same Unix user as the person who owns the hub, so they
can use the daemon's socket and read every file Spaces keeps. What an agent's shell does not
have is the person at the keyboard: the owner passphrase is set by a person at a terminal
(`spacesd owner passphrase`), typed at a terminal for each owner call (`spacesd call
--as-owner`: read from /dev/tty, never from argv, the environment or a pipe), and kept on
disk only as a salted scrypt hash, 0600, in Spaces' config directory. The daemon is the one
place that checks it (`OwnerGate`), with a growing lock-out after wrong guesses.

Standard library only (hashlib.scrypt); the daemon and the CLI import it, the hooks never do.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from spacesd import paths

FILE_NAME: Final = "owner-passphrase"
MIN_LENGTH: Final = 10
MAX_LENGTH: Final = 1024
# scrypt cost: 2**15 x 8 x 1 is 32 MiB and ~0.1 s a guess here, for the daemon and for
# anyone who copies the file and guesses offline.
SCRYPT_N: Final = 1 << 15
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
_MAXMEM: Final = 64 * 1024 * 1024
_SCHEME: Final = "scrypt"

# The daemon's lock-out: after the k-th wrong passphrase in a row, owner calls are refused
# for min(2**(k-1), LOCK_MAX) seconds, right or wrong; a right one resets the count.
LOCK_MAX: Final = 300.0

NOT_SET: Final = ("no owner passphrase is set: the person who owns this machine's hub sets "
                  "one at a terminal with `spacesd owner passphrase`")
MISSING: Final = ("owner calls need the owner passphrase, typed by a person at a terminal "
                  "(`spacesd call --as-owner ...` asks for it)")
WRONG: Final = "wrong owner passphrase"
UNREADABLE: Final = ("the owner passphrase file is unreadable: set it again with "
                     "`spacesd owner passphrase`")


def passphrase_file() -> Path:
    return paths.config_dir() / FILE_NAME


def too_weak(passphrase: str) -> str | None:
    """Why a new passphrase is refused, or None."""
    if len(passphrase) < MIN_LENGTH:
        return f"an owner passphrase has at least {MIN_LENGTH} characters"
    if len(passphrase) > MAX_LENGTH:
        return f"an owner passphrase has at most {MAX_LENGTH} characters"
    return None


def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(passphrase.encode("utf-8", "surrogatepass"), salt=salt, n=n, r=r,
                          p=p, maxmem=_MAXMEM, dklen=32)


def hash_passphrase(passphrase: str) -> str:
    """`scrypt$n$r$p$salt$hash` (base64), with a fresh 16-byte salt."""
    salt = secrets.token_bytes(16)
    digest = _derive(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return "$".join([_SCHEME, str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P),
                     base64.b64encode(salt).decode(), base64.b64encode(digest).decode()])


def verify(passphrase: str, stored: str) -> bool:
    """Whether `passphrase` matches a `hash_passphrase` text. ValueError if it is not one."""
    parts = stored.strip().split("$")
    if len(parts) != 6 or parts[0] != _SCHEME:
        raise ValueError("not an owner passphrase hash")
    n, r, p = (int(x) for x in parts[1:4])
    if not (2 <= n <= 1 << 20 and 1 <= r <= 32 and 1 <= p <= 4):
        raise ValueError("scrypt parameters out of range")
    salt, digest = base64.b64decode(parts[4]), base64.b64decode(parts[5])
    return hmac.compare_digest(_derive(passphrase, salt, n, r, p), digest)


def store_hash(path: Path, passphrase: str) -> None:
    """Write the passphrase's hash to `path`, 0600 from the start, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, (hash_passphrase(passphrase) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def load_hash(path: Path) -> str | None:
    """The stored hash, or None if no passphrase is set."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    try:
        return os.read(fd, 4096).decode("ascii", "replace").strip() or None
    finally:
        os.close(fd)


class OwnerRefused(Exception):
    """An owner call without the right passphrase; `message` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class OwnerGate:
    """The daemon's one check of the owner passphrase, with its lock-out."""

    path: Path
    failures: int = 0
    locked_until: float = 0.0

    def check(self, passphrase: str | None, now: float | None = None) -> None:
        """Return if `passphrase` is the owner's, else raise OwnerRefused. Slow (scrypt):
        run it off the event loop."""
        now = time.monotonic() if now is None else now
        stored = load_hash(self.path)
        if stored is None:
            raise OwnerRefused(NOT_SET)
        if not passphrase:
            raise OwnerRefused(MISSING)
        if now < self.locked_until:
            raise OwnerRefused(f"too many wrong owner passphrases: try again in "
                               f"{self.locked_until - now:.0f} s")
        try:
            right = verify(passphrase, stored)
        except (ValueError, TypeError):
            raise OwnerRefused(UNREADABLE) from None
        if right:
            self.failures, self.locked_until = 0, 0.0
            return
        self.failures += 1
        self.locked_until = now + min(2.0 ** (self.failures - 1), LOCK_MAX)
        raise OwnerRefused(WRONG)
