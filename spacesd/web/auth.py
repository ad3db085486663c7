"""Who may use the web view: the person who runs the daemon, and only from its own page.

- A login token: 256 bits from `secrets`, minted per `spacesd web` (the `web` op), valid
  once and for LOGIN_TTL_S; the daemon keeps only its SHA-256. It travels in the URL's
  fragment (`#t=...`), which a browser never sends to a server, puts in a Referer or in a log:
  the page posts it to `/login` itself and drops it from the address bar.
- A session: `/login` answers with a cookie `spaces_session` (256 random bits, `HttpOnly;
  SameSite=Strict; Path=/`), kept in memory only (a daemon restart logs everyone out),
  expiring after SESSION_IDLE_S without a request. Per session, the channel its page opened
  last (in memory too): the page's next load starts there (`spacesd.web.first`).
- Every request: `Host` must be this server's own (127.0.0.1:PORT or localhost:PORT: a DNS
  rebinding attack arrives with the attacker's host name); a browser's `Sec-Fetch-Site` must
  be same-origin or none (typed address); a write (POST) must carry an `Origin` equal to the
  page's own (the scheme and the Host it was sent to). Anything else is 403 before any handler runs.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import Final

LOGIN_TTL_S: Final = 600.0
SESSION_IDLE_S: Final = 12 * 3600.0
COOKIE: Final = "spaces_session"
MAX_SESSIONS: Final = 64


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


@dataclass
class Gatekeeper:
    """Login tokens and sessions of one web server (in memory, never on disk)."""

    port: int
    _logins: dict[bytes, float] = field(default_factory=dict)
    _sessions: dict[bytes, float] = field(default_factory=dict)
    _last: dict[bytes, int] = field(default_factory=dict)

    # -- the addresses this server answers as ----------------------------------------------

    @property
    def hosts(self) -> frozenset[str]:
        return frozenset({f"127.0.0.1:{self.port}", f"localhost:{self.port}"})

    def refusal(self, method: str, host: str | None, origin: str | None,
                fetch_site: str | None) -> str | None:
        """Why a request must be refused (403), or None: see the module docstring."""
        if host not in self.hosts:
            return "unknown Host (this server answers only as 127.0.0.1 or localhost)"
        if origin is not None and origin != f"http://{host}":
            return "cross-origin request refused"
        if fetch_site is not None and fetch_site not in ("same-origin", "none"):
            return "cross-site request refused"
        if method not in ("GET", "HEAD") and origin is None:
            return "a write needs the page's Origin"
        return None

    # -- login tokens ------------------------------------------------------------------------

    def mint_login(self, now: float | None = None) -> str:
        """A new one-time login token (the URL fragment `#t=` it goes in is the caller's)."""
        now = time.monotonic() if now is None else now
        self._logins = {d: t for d, t in self._logins.items() if t > now}
        token = secrets.token_urlsafe(32)
        self._logins[_digest(token)] = now + LOGIN_TTL_S
        return token

    def login_ok(self, token: str, now: float | None = None) -> bool:
        """Whether `token` is a live login token (not used up: see `use_login`)."""
        now = time.monotonic() if now is None else now
        expires = self._logins.get(_digest(token))
        return expires is not None and expires > now

    def use_login(self, token: str, now: float | None = None) -> bool:
        """Whether `token` is a live login token; it is used up either way."""
        now = time.monotonic() if now is None else now
        expires = self._logins.pop(_digest(token), None)
        return expires is not None and expires > now

    # -- sessions ----------------------------------------------------------------------------

    def open_session(self, now: float | None = None) -> str:
        now = time.monotonic() if now is None else now
        self._sessions = {d: t for d, t in self._sessions.items() if t > now}
        while len(self._sessions) >= MAX_SESSIONS:
            self._sessions.pop(min(self._sessions, key=self._sessions.__getitem__))
        cookie = secrets.token_urlsafe(32)
        self._sessions[_digest(cookie)] = now + SESSION_IDLE_S
        return cookie

    def session_ok(self, cookie: str | None, now: float | None = None) -> bool:
        """Whether `cookie` names a live session (its idle timer restarts)."""
        if not cookie:
            return False
        now = time.monotonic() if now is None else now
        digest = _digest(cookie)
        for known, expires in list(self._sessions.items()):
            if hmac.compare_digest(known, digest):
                if expires <= now:
                    del self._sessions[known]
                    return False
                self._sessions[known] = now + SESSION_IDLE_S
                return True
        return False

    def close_session(self, cookie: str | None) -> None:
        if cookie:
            self._sessions.pop(_digest(cookie), None)
            self._last.pop(_digest(cookie), None)

    def remember(self, cookie: str | None, channel: int) -> None:
        """The channel a session's page opened last (its next load starts there)."""
        if cookie and _digest(cookie) in self._sessions:
            self._last = {d: c for d, c in self._last.items() if d in self._sessions}
            self._last[_digest(cookie)] = channel

    def last_channel(self, cookie: str | None) -> int | None:
        return self._last.get(_digest(cookie)) if cookie else None
