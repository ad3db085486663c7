"""SpacetimeDB's HTTP routes, over a small asyncio HTTP/1.1 client (stdlib only).

Routes (crates/client-api/src/routes/): `POST /v1/identity` mints an identity and its token,
`GET /v1/ping`, `POST /v1/database/{db}/call/{reducer}` with a JSON array of arguments (a
reducer's refusal is HTTP 530 with the error text as the body), `POST /v1/database/{db}/sql`
with the SQL text as the body. Auth is `Authorization: Bearer <token>`.

Each request opens its own connection (`Connection: close`): these calls are rare (minting a
token, a health check, a one-off SQL statement); the hot path is the WebSocket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from spacesd.model import Identity

DEFAULT_TIMEOUT = 10.0
MAX_BODY = 64 * 1024 * 1024


class HttpError(Exception):
    """Transport failure or an unexpected status; `status` is 0 when no response came."""

    def __init__(self, message: str, status: int = 0, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class ReducerCallError(HttpError):
    """The reducer refused (HTTP 530): `str(err)` is the reducer's own message."""


@dataclass
class HttpResponse:
    status: int
    reason: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Endpoint:
    """Where a server is: `http(s)://host[:port]` (a bare `host:port` means http)."""

    scheme: str
    host: str
    port: int

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        if "://" not in url:
            url = "http://" + url
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme in ("ws", "wss"):
            scheme = "http" if scheme == "ws" else "https"
        if scheme not in ("http", "https"):
            raise ValueError(f"unsupported scheme {parts.scheme!r} in {url!r}")
        if not parts.hostname:
            raise ValueError(f"no host in {url!r}")
        port = parts.port or (443 if scheme == "https" else 80)
        return cls(scheme, parts.hostname, port)

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.netloc}"

    @property
    def ws_base_url(self) -> str:
        return f"{'wss' if self.scheme == 'https' else 'ws'}://{self.netloc}"


async def request(
    endpoint: Endpoint,
    method: str,
    path: str,
    *,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> HttpResponse:
    """One HTTP/1.1 request on a fresh connection; raises HttpError on transport failure."""
    try:
        return await asyncio.wait_for(
            _request(endpoint, method, path, body, headers or {}), timeout)
    except asyncio.TimeoutError:
        raise HttpError(f"{method} {path}: timed out after {timeout:g}s") from None
    except (OSError, ssl.SSLError, asyncio.IncompleteReadError, ValueError) as e:
        raise HttpError(f"{method} {path}: {e}") from e


async def _request(endpoint: Endpoint, method: str, path: str, body: bytes,
                   headers: dict[str, str]) -> HttpResponse:
    ctx = ssl.create_default_context() if endpoint.scheme == "https" else None
    reader, writer = await asyncio.open_connection(
        endpoint.host, endpoint.port, ssl=ctx,
        server_hostname=endpoint.host if ctx is not None else None)
    try:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {endpoint.netloc}",
                 "Connection: close", "User-Agent: spacesd", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()
        return await _read_response(reader, method)
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()


async def _read_response(reader: asyncio.StreamReader, method: str) -> HttpResponse:
    while True:
        status_line = (await reader.readuntil(b"\r\n")).decode("latin-1").rstrip("\r\n")
        version, _, rest = status_line.partition(" ")
        if not version.startswith("HTTP/"):
            raise ValueError(f"bad status line {status_line!r}")
        code_text, _, reason = rest.partition(" ")
        status = int(code_text)
        headers: dict[str, str] = {}
        while True:
            line = (await reader.readuntil(b"\r\n")).decode("latin-1").rstrip("\r\n")
            if not line:
                break
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if 100 <= status < 200:
            continue  # 100 Continue and friends: the real response follows
        break
    if method == "HEAD" or status in (204, 304):
        return HttpResponse(status, reason, headers, b"")
    if "chunked" in headers.get("transfer-encoding", "").lower():
        chunks: list[bytes] = []
        total = 0
        while True:
            size_line = (await reader.readuntil(b"\r\n")).split(b";")[0].strip()
            size = int(size_line, 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass  # trailers
                break
            total += size
            if total > MAX_BODY:
                raise ValueError("response body too large")
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
        body = b"".join(chunks)
    elif "content-length" in headers:
        length = int(headers["content-length"])
        if length > MAX_BODY:
            raise ValueError("response body too large")
        body = await reader.readexactly(length)
    else:
        body = await reader.read(MAX_BODY)
    return HttpResponse(status, reason, headers, body)


class HttpClient:
    """The SpacetimeDB HTTP API of one server, optionally authenticated with a token."""

    def __init__(self, url: str, token: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self.endpoint = Endpoint.parse(url)
        self.token = token
        self.timeout = timeout

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = dict(extra or {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    async def request(self, method: str, path: str, body: bytes = b"",
                      headers: dict[str, str] | None = None) -> HttpResponse:
        return await request(self.endpoint, method, path, body=body,
                             headers=self._headers(headers), timeout=self.timeout)

    async def ping(self) -> bool:
        """True when the server answers `GET /v1/ping` with a 2xx."""
        try:
            resp = await self.request("GET", "/v1/ping")
        except HttpError:
            return False
        return 200 <= resp.status < 300

    async def create_identity(self) -> tuple[Identity, str]:
        """`POST /v1/identity`: a new identity and its token (sent without auth)."""
        resp = await request(self.endpoint, "POST", "/v1/identity", timeout=self.timeout)
        if resp.status != 200:
            raise HttpError(f"POST /v1/identity: HTTP {resp.status} {resp.text.strip()}",
                            resp.status, resp.text)
        try:
            data = resp.json()
            return Identity.from_hex(str(data["identity"])), str(data["token"])
        except (ValueError, KeyError, TypeError) as e:
            raise HttpError(f"POST /v1/identity: bad response {resp.text[:200]!r}") from e

    async def call_reducer(self, database: str, reducer: str, args: list[Any]) -> None:
        """`POST /v1/database/{db}/call/{reducer}` with SATS-JSON positional arguments."""
        path = f"/v1/database/{quote(database, safe='')}/call/{quote(reducer, safe='')}"
        resp = await self.request("POST", path, json.dumps(args).encode(),
                                  {"Content-Type": "application/json"})
        if resp.status == 530:
            raise ReducerCallError(resp.text.strip() or "reducer failed", 530, resp.text)
        if not 200 <= resp.status < 300:
            raise HttpError(f"call {reducer}: HTTP {resp.status} {resp.text.strip()}",
                            resp.status, resp.text)

    async def sql(self, database: str, query: str) -> list[dict[str, Any]]:
        """`POST /v1/database/{db}/sql`: one result object (schema, rows) per statement."""
        path = f"/v1/database/{quote(database, safe='')}/sql"
        resp = await self.request("POST", path, query.encode(),
                                  {"Content-Type": "text/plain; charset=utf-8"})
        if resp.status != 200:
            raise HttpError(f"sql: HTTP {resp.status} {resp.text.strip()}",
                            resp.status, resp.text)
        result = resp.json()
        if not isinstance(result, list):
            raise HttpError(f"sql: unexpected response {resp.text[:200]!r}", resp.status)
        return result


def read_token(path: Path) -> str | None:
    try:
        token = path.read_text().strip()
    except FileNotFoundError:
        return None
    return token or None


def write_token(path: Path, token: str) -> None:
    """Write the token to `path`, mode 0600, atomically (temporary file, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, token.encode() + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def token_file(data_dir: Path, endpoint: Endpoint) -> Path:
    """Where a minted token for this server is kept: one file per host."""
    safe = "".join(c if c.isalnum() or c in "-." else "_" for c in endpoint.netloc)
    return data_dir / "stdb-tokens" / f"{endpoint.scheme}_{safe}.token"


async def ensure_token(client: HttpClient, data_dir: Path) -> str:
    """The configured token, else the one kept for this server, else a freshly minted one
    (kept, 0600). Sets `client.token`."""
    if client.token:
        return client.token
    path = token_file(data_dir, client.endpoint)
    token = read_token(path)
    if token is None:
        _, token = await client.create_identity()
        write_token(path, token)
    client.token = token
    return token
