"""Effective configuration of Spaces, and where each value came from.

`load_config()` finds SpacetimeDB the way the `spacetime` CLI leaves things, highest
precedence first:

1. the environment: ``SPACETIMEDB_HOST`` (URL, cli.toml nickname, or host[:port]),
   ``SPACETIMEDB_DATABASE`` (``SPACETIMEDB_DB_NAME``, which ``spacetime dev`` and
   ``spacetime mcp`` use, is accepted too), ``SPACETIMEDB_TOKEN``, ``SPACES_CHANNEL_ID`` and
   Spaces' own ``SPACES_*`` variables (``SPACES_BACKEND``, ``SPACES_COOLDOWN``,
   ``SPACES_IDENTITY_NAME``, ``SPACES_SOCKET``, ``SPACES_TOKEN_FILE``, ``SPACES_SPACETIME_ENV``,
   ``SPACES_PROJECT_DIR``, ``SPACES_SPACETIME_CONFIG``, ``SPACES_STDB_COMPRESSION``);
2. Spaces' own optional TOML file, ``paths.config_file()`` (``~/.config/spacesd/config.toml``),
   for Spaces' own settings: ``backend``, ``channel``, ``cooldown``, ``identity_name``,
   ``token_file``, ``spacetime_env``, ``project_dir``;
3. ``spacetime.json`` (JSON5), looked for in the project directory and then each parent, as
   ``spacetime`` does (crates/cli/src/spacetime_config.rs, ``find_config_dir``); in the folder
   where it is found, ``spacetime.local.json``, then ``spacetime.<env>.json`` and
   ``spacetime.<env>.local.json`` are laid over it, each replacing top-level keys, except
   ``children``, merged by index. ``<env>`` is the CLI's ``--env`` (``SPACES_SPACETIME_ENV``
   here; none by default, as for ``spacetime publish``/``sql``). The database is the first
   target that names one (the root, then its ``children`` in order, inheriting the parent's
   keys). The server is that target's ``server`` (for a database from the environment: the
   target of that name, else none, so cli.toml's default, as the CLI's "auto-fallthrough"),
   a URL (``http(s)://host[:port]``) or a nickname or host from cli.toml;
4. the spacetime CLI's ``cli.toml``: ``$XDG_CONFIG_HOME/spacetime/cli.toml`` (XDG is used on
   macOS too; ``%LOCALAPPDATA%\\SpacetimeDB\\config\\cli.toml`` on Windows), or the file
   ``SPACES_SPACETIME_CONFIG`` names (the CLI's ``--config-path``): ``default_server``,
   ``spacetimedb_token``, ``[[server_configs]]`` with ``nickname``, ``host``, ``protocol``.
   Without a cli.toml the CLI's built-in servers apply (``maincloud``, the default, and
   ``local``);
5. the embedded engine.

The backend is ``spacetimedb`` when a database and its server are determined, else
``embedded``; ``SPACES_BACKEND`` (or ``backend`` in config.toml) forces it.

A broken file (bad JSON5 or TOML, an unknown server nickname, an unreadable token file, a
value of the wrong type) raises `ConfigError`, whose message is one line naming the file (or
variable) and the problem. Tokens are never part of a repr, `redacted()` or `settings()`.
cli.toml is read only when a value from it is needed, so a broken cli.toml cannot stop the
embedded default.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spacesd import paths, safeio

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

__all__ = [
    "BACKENDS",
    "DEFAULT_CHANNEL",
    "DEFAULT_COOLDOWN",
    "Config",
    "ConfigError",
    "Setting",
    "cli_toml_path",
    "load_config",
    "spaces_config_path",
]

BACKENDS = ("embedded", "spacetimedb")
DEFAULT_CHANNEL = "agent-logs"
DEFAULT_COOLDOWN = 300
DEFAULT = "default"

SPACETIME_JSON = "spacetime.json"
# The CLI's built-in servers when it has no cli.toml (RawConfig::new_with_localhost).
_BUILTIN_SERVERS: tuple[tuple[str, str, str], ...] = (
    ("maincloud", "maincloud.spacetimedb.com", "https"),
    ("local", "127.0.0.1:3000", "http"),
)
_BUILTIN_DEFAULT = "maincloud"
_VALID_PROTOCOLS = ("http", "https")  # crates/cli/src/util.rs VALID_PROTOCOLS
_OWN_KEYS = ("backend", "channel", "cooldown", "identity_name", "token_file", "spacetime_env",
             "project_dir", "web_port", "lease_on_conflict")
LEASE_MODES = ("deny", "ask")
"""`lease_on_conflict`: what the PreToolUse hook answers for an edit of a path another
participant leased (read by spacesd/hooks/lease.py itself; checked here)."""
_INT_KEYS = ("cooldown", "web_port")


class ConfigError(Exception):
    """A configuration file or variable Spaces cannot use. `str()` is one line."""

    def __init__(self, where: str | Path, problem: str) -> None:
        self.where = str(where)
        self.problem = " ".join(problem.split())
        super().__init__(f"{self.where}: {self.problem}")


@dataclass(frozen=True)
class Setting:
    """One effective value and its source: ``env:NAME``, a file path, or ``default``."""

    key: str
    value: str | int | None
    """For a secret, ``"<redacted>"`` when set: a Setting never holds a token."""
    source: str
    secret: bool = False


@dataclass(frozen=True)
class Config:
    """Every effective value of Spaces' configuration, with `sources` naming their origins."""

    backend: str
    host: str | None
    """Base URL of the SpacetimeDB server, ``protocol://host[:port]``."""
    database: str | None
    token: str | None = field(repr=False)
    server: str | None
    """The server as it was written (nickname, host or URL), for display."""
    channel: str
    cooldown: int
    identity_name: str | None
    """None: the daemon's default, ``<user>-<host>``."""
    socket: Path
    spacetime_env: str | None
    project_dir: Path
    spacetime_json: Path | None
    """The spacetime.json that was found, if any."""
    files: tuple[Path, ...]
    """Every file that contributed a value, in the order read."""
    sources: Mapping[str, str] = field(repr=False)
    warnings: tuple[str, ...] = ()
    stdb_compression: str | None = None
    """``SPACES_STDB_COMPRESSION``: ``gzip`` or ``none``; None lets the SpacetimeDB backend
    choose (none on loopback, gzip across a network)."""
    web_port: int | None = None
    """``SPACES_WEB_PORT`` / config.toml `web_port`: the daemon serves the web view on
    127.0.0.1:web_port from its start; None: only when `spacesd web` asks."""

    KEYS = ("backend", "host", "database", "token", "server", "channel", "cooldown",
            "identity_name", "socket", "spacetime_env", "project_dir", "spacetime_json",
            "web_port")

    def source(self, key: str) -> str:
        """Where `key`'s value came from (``env:NAME``, a file path, or ``default``)."""
        return self.sources.get(key, DEFAULT)

    def settings(self) -> list[Setting]:
        """Every setting, in a stable order; the token is marked secret."""
        out: list[Setting] = []
        for key in self.KEYS:
            raw = getattr(self, key)
            value: str | int | None = raw if raw is None or isinstance(raw, int) else str(raw)
            if key == "token" and value is not None:
                value = "<redacted>"
            out.append(Setting(key, value, self.source(key), secret=key == "token"))
        return out

    def redacted(self) -> dict[str, Any]:
        """A JSON-ready view, ``{key: {"value": ..., "source": ...}}``, without the token."""
        view: dict[str, Any] = {
            s.key: {"value": s.value, "source": s.source} for s in self.settings()
        }
        view["files"] = [str(f) for f in self.files]
        view["warnings"] = list(self.warnings)
        return view

    def describe(self) -> list[str]:
        """Human-readable lines, one per setting, for ``spacesd config`` and ``status``."""
        lines = []
        for s in self.settings():
            if s.value is None:
                text = "(default: <user>-<host>)" if s.key == "identity_name" else "-"
            else:
                text = str(s.value)
            lines.append(f"{s.key:<15} {text:<40} {s.source}")
        lines.extend(f"warning: {w}" for w in self.warnings)
        return lines


# --------------------------------------------------------------------------------- locations


def _home(env: Mapping[str, str]) -> Path:
    home = env.get("HOME", "").strip()
    return Path(home) if home else Path.home()


def cli_toml_path(env: Mapping[str, str] | None = None) -> Path:
    """Where the spacetime CLI keeps cli.toml (crates/paths: ``cli_config_dir/cli.toml``)."""
    env = os.environ if env is None else env
    override = env.get("SPACES_SPACETIME_CONFIG", "").strip()
    if override:
        return Path(override).expanduser()
    if sys.platform == "win32":  # pragma: no cover
        local = env.get("LOCALAPPDATA") or str(_home(env) / "AppData" / "Local")
        return Path(local) / "SpacetimeDB" / "config" / "cli.toml"
    xdg = env.get("XDG_CONFIG_HOME", "").strip()
    # The `xdg` crate ignores a relative XDG_CONFIG_HOME, as the XDG spec says to.
    base = Path(xdg) if xdg and os.path.isabs(xdg) else _home(env) / ".config"
    return base / "spacetime" / "cli.toml"


def spaces_config_path(env: Mapping[str, str] | None = None) -> Path:
    """Spaces' own config.toml: `paths.config_file()` over `env`."""
    return paths.config_file(env)


# ------------------------------------------------------------------------------------ reading


CONFIG_MAX_BYTES = 1024 * 1024
"""A configuration file (config.toml, spacetime.json, cli.toml, a token file) is read up to
this; a longer one is refused rather than read without end."""


def _read_text(path: Path) -> str:
    """A regular file's UTF-8 text (never a FIFO or device: spacesd.safeio), at most 1 MiB."""
    try:
        data = safeio.read_bytes(path, CONFIG_MAX_BYTES + 1)
        if len(data) > CONFIG_MAX_BYTES:
            raise ConfigError(path, f"is larger than {CONFIG_MAX_BYTES} bytes")
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(path, "is not UTF-8 text") from None
    except OSError as e:
        raise ConfigError(path, f"cannot read it: {e.strerror or e}") from None


def _read_toml(path: Path) -> dict[str, Any]:
    text = _read_text(path)
    try:
        doc: dict[str, Any] = tomllib.loads(text)
        return doc
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(path, f"not valid TOML: {e}") from None


def _read_json5(path: Path) -> dict[str, Any]:
    import json5  # only when a spacetime.json exists: keeps `import spacesd.config` light

    text = _read_text(path)
    try:
        value = json5.loads(text)
    except ValueError as e:
        raise ConfigError(path, f"not valid JSON5: {e}") from None
    if not isinstance(value, dict):
        raise ConfigError(path, f"expected a JSON object, found {type(value).__name__}")
    return value


# ------------------------------------------------------------------------- spacetime.json tree


@dataclass
class _Target:
    """One database entity of spacetime.json: its fields, the file each came from, children."""

    fields: dict[str, Any]
    src: dict[str, Path]
    children: list[_Target] | None


def _children(value: Any, path: Path) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(c, dict) for c in value):
        raise ConfigError(path, "`children` must be a list of objects")
    return value


def _build(obj: dict[str, Any], path: Path) -> _Target:
    fields = {k: v for k, v in obj.items() if k != "children"}
    kids = None
    if "children" in obj:
        kids = [_build(c, path) for c in _children(obj["children"], path)]
    return _Target(fields, dict.fromkeys(fields, path), kids)


def _overlay(base: _Target, obj: dict[str, Any], path: Path) -> None:
    """spacetime_config.rs `overlay_json`: replace keys; merge `children` by index."""
    for key, value in obj.items():
        if key != "children":
            base.fields[key] = value
            base.src[key] = path
            continue
        kids = _children(value, path)
        if base.children is None:
            base.children = [_build(c, path) for c in kids]
            continue
        for i, child in enumerate(kids[: len(base.children)]):
            _overlay(base.children[i], child, path)


def _flatten(t: _Target, parent: tuple[dict[str, Any], dict[str, Path]] | None,
             out: list[tuple[dict[str, Any], dict[str, Path]]]) -> None:
    """`collect_all_targets_with_inheritance`: children inherit unset keys of their parent."""
    fields, src = dict(t.fields), dict(t.src)
    if parent is not None:
        for k, v in parent[0].items():
            if k not in fields:
                fields[k] = v
                src[k] = parent[1][k]
    out.append((fields, src))
    for child in t.children or ():
        _flatten(child, (fields, src), out)


def find_spacetime_json(start: Path) -> Path | None:
    """The nearest spacetime.json in `start` or a parent folder (`find_config_dir`)."""
    current = start.absolute()
    while True:
        candidate = current / SPACETIME_JSON
        if candidate.exists():
            return candidate
        if current.parent == current:
            return None
        current = current.parent


@dataclass
class _DbTarget:
    database: str
    database_file: Path
    server: tuple[str, Path] | None  # (server as written, the file that set it)


@dataclass
class _ProjectFile:
    path: Path
    files: list[Path]
    targets: list[_DbTarget]
    """Every target naming a database, in the CLI's order (the root, then its children)."""

    def target(self, database: str) -> _DbTarget | None:
        return next((t for t in self.targets if t.database == database), None)


def _load_project(start: Path, spacetime_env: str | None) -> _ProjectFile | None:
    base = find_spacetime_json(start)
    if base is None:
        return None
    folder = base.parent
    root = _build(_read_json5(base), base)
    files = [base]
    layers = ["spacetime.local.json"]
    if spacetime_env:
        layers += [f"spacetime.{spacetime_env}.json", f"spacetime.{spacetime_env}.local.json"]
    for name in layers:
        p = folder / name
        if p.exists():
            _overlay(root, _read_json5(p), p)
            files.append(p)
    flat: list[tuple[dict[str, Any], dict[str, Path]]] = []
    _flatten(root, None, flat)
    targets = []
    for fields, src in flat:
        if "database" not in fields:
            continue
        for key in ("database", "server"):
            if key in fields and not (isinstance(fields[key], str) and fields[key].strip()):
                raise ConfigError(src[key], f"`{key}` must be a non-empty string")
        server = (fields["server"].strip(), src["server"]) if "server" in fields else None
        targets.append(_DbTarget(fields["database"].strip(), src["database"], server))
    return _ProjectFile(base, files, targets)


# ------------------------------------------------------------------------------------ cli.toml


@dataclass
class _CliToml:
    path: Path
    exists: bool
    default_server: str | None
    token: str | None
    servers: list[tuple[str | None, str, str]]  # nickname, host, protocol

    def where(self) -> str:
        return str(self.path) if self.exists else f"{self.path} (absent: the CLI's defaults)"

    def find(self, name: str) -> tuple[str | None, str, str] | None:
        """`RawConfig::find_server`: by nickname or host."""
        for server in self.servers:
            if server[0] == name or server[1] == name:
                return server
        return None


def _opt_str(table: Mapping[str, Any], key: str, path: Path, ctx: str = "") -> str | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(path, f"`{ctx}{key}` must be a string, found {type(value).__name__}")
    return value


def _load_cli_toml(path: Path) -> _CliToml:
    if not path.exists():
        servers: list[tuple[str | None, str, str]] = list(_BUILTIN_SERVERS)
        return _CliToml(path, False, _BUILTIN_DEFAULT, None, servers)
    doc = _read_toml(path)
    raw = doc.get("server_configs", [])
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        raise ConfigError(path, "`server_configs` must be an array of tables ([[server_configs]])")
    servers = []
    for i, table in enumerate(raw):
        ctx = f"server_configs[{i}]."
        host = _opt_str(table, "host", path, ctx)
        protocol = _opt_str(table, "protocol", path, ctx)
        if not host or not protocol:
            raise ConfigError(path, f"`{ctx}host` and `{ctx}protocol` are required")
        servers.append((_opt_str(table, "nickname", path, ctx), host, protocol))
    token = _opt_str(doc, "spacetimedb_token", path)
    return _CliToml(path, True, _opt_str(doc, "default_server", path), token, servers)


# --------------------------------------------------------------------------------- resolving


def _check_token(token: str, where: str | Path) -> str:
    token = token.strip()
    if not token:
        raise ConfigError(where, "the token is empty")
    if any(c.isspace() or not c.isprintable() for c in token):
        raise ConfigError(where, "the token is unreadable (it holds spaces or control characters)")
    return token


def _url(protocol: str, host: str, where: str | Path) -> str:
    if protocol not in _VALID_PROTOCOLS:
        raise ConfigError(where, f"invalid protocol `{protocol}` (expected http or https)")
    return f"{protocol}://{host.rstrip('/')}"


def _parse_url(url: str, where: str | Path) -> str:
    protocol, _, host = url.partition("://")
    protocol = {"ws": "http", "wss": "https"}.get(protocol.lower(), protocol.lower())
    if not host.strip("/"):
        raise ConfigError(where, f"`{url}` has no host")
    return _url(protocol, host, where)


def _is_local(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return name in ("localhost", "[::1]", "::1") or name.startswith("127.")


def _int(value: Any, where: str | Path, key: str) -> int:
    try:
        if isinstance(value, bool):
            raise ValueError
        number = int(value)
        if isinstance(value, float) and value != number:
            raise ValueError
    except (TypeError, ValueError):
        unit = "a whole number" if key == "web_port" else "whole seconds"
        raise ConfigError(where, f"`{key}` must be {unit}, not {value!r}") from None
    if number < 0:
        raise ConfigError(where, f"`{key}` must not be negative")
    return number


# ------------------------------------------------------------------- the precedence steps


@dataclass
class Sources:
    """What the precedence steps share: the environment, Spaces' config.toml (once read),
    cli.toml (read on first need), and the record of where each value came from, which
    files were read and what deserves a warning."""

    env: Mapping[str, str]
    own: dict[str, Any] = field(default_factory=dict)
    own_path: Path | None = None
    sources: dict[str, str] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    _cli: _CliToml | None = None

    def getenv(self, name: str) -> str | None:
        value = self.env.get(name, "").strip()
        return value or None

    def pick(self, key: str, var: str | None, own_key: str | None = None
             ) -> tuple[Any, str] | None:
        """`var` from the environment, else `own_key` (default `key`) of config.toml, with
        its source; None when neither sets it."""
        if var is not None and (value := self.getenv(var)) is not None:
            return value, f"env:{var}"
        own_key = own_key or key
        if own_key in self.own:
            return self.own[own_key], str(self.own_path)
        return None

    def cli_toml(self) -> _CliToml:
        if self._cli is None:
            self._cli = _load_cli_toml(cli_toml_path(self.env))
            if self._cli.exists:
                self.files.append(self._cli.path)
        return self._cli


def read_spaces_config(src: Sources) -> None:
    """Step 2's file: Spaces' own config.toml, if there is one, into `src.own` (checked:
    known keys only, strings but for `cooldown`)."""
    own_path = spaces_config_path(src.env)
    src.own_path = own_path
    if not own_path.exists():
        return
    own = _read_toml(own_path)
    src.files.append(own_path)
    unknown = sorted(set(own) - set(_OWN_KEYS))
    if unknown:
        known = ", ".join(_OWN_KEYS)
        raise ConfigError(own_path, f"unknown key `{unknown[0]}` (known: {known})")
    for key in _OWN_KEYS:
        if key in own and key not in _INT_KEYS and not isinstance(own[key], str):
            raise ConfigError(own_path, f"`{key}` must be a string")
    if own.get("lease_on_conflict", "deny") not in LEASE_MODES:
        raise ConfigError(own_path, "`lease_on_conflict` must be deny or ask")
    src.own = own


@dataclass(frozen=True)
class SpacesSettings:
    """Spaces' own settings: from the environment, else config.toml, else the default."""

    channel: str
    cooldown: int
    identity_name: str | None
    spacetime_env: str | None
    forced_backend: str | None
    socket: Path
    project_dir: Path
    stdb_compression: str | None
    web_port: int | None = None


def _text_setting(src: Sources, key: str, var: str) -> str | None:
    if (got := src.pick(key, var)) is None:
        return None
    src.sources[key] = got[1]
    return str(got[0]).strip()


def spaces_settings(src: Sources, cwd: Path | None) -> SpacesSettings:
    """Steps 1 and 2 for Spaces' own settings (environment, then config.toml, then the
    default); `cwd`, when given, is the project directory."""
    cooldown = DEFAULT_COOLDOWN
    if (got := src.pick("cooldown", "SPACES_COOLDOWN")) is not None:
        where = got[1].removeprefix("env:")
        cooldown, src.sources["cooldown"] = _int(got[0], where, "cooldown"), got[1]
    forced = None
    if (got := src.pick("backend", "SPACES_BACKEND")) is not None:
        forced = str(got[0]).strip().lower()
        if forced not in BACKENDS:
            where = got[1].removeprefix("env:")
            raise ConfigError(where, f"backend must be embedded or spacetimedb, not {got[0]!r}")
        src.sources["backend"] = got[1]
    sock_env = src.getenv("SPACES_SOCKET")
    if sock_env:
        src.sources["socket"] = "env:SPACES_SOCKET"
    if cwd is not None:
        project_dir = Path(cwd)
        src.sources["project_dir"] = "argument"
    elif (got := src.pick("project_dir", "SPACES_PROJECT_DIR")) is not None:
        project_dir, src.sources["project_dir"] = Path(str(got[0])).expanduser(), got[1]
    else:
        project_dir = Path.cwd()
        src.sources["project_dir"] = "current directory"
    compression = (src.getenv("SPACES_STDB_COMPRESSION") or "").lower()
    web_port = None
    if (got := src.pick("web_port", "SPACES_WEB_PORT")) is not None:
        where = got[1].removeprefix("env:")
        web_port, src.sources["web_port"] = _int(got[0], where, "web_port"), got[1]
        if not 0 < web_port < 65536:
            raise ConfigError(where, f"`web_port` must be a TCP port (1-65535), not {web_port}")
    return SpacesSettings(
        channel=_text_setting(src, "channel", "SPACES_CHANNEL_ID") or DEFAULT_CHANNEL,
        cooldown=cooldown,
        identity_name=_text_setting(src, "identity_name", "SPACES_IDENTITY_NAME"),
        spacetime_env=_text_setting(src, "spacetime_env", "SPACES_SPACETIME_ENV"),
        forced_backend=forced,
        socket=Path(sock_env) if sock_env else paths.socket_path(),
        project_dir=project_dir,
        stdb_compression=compression if compression in ("gzip", "none") else None,
        web_port=web_port)


def project_file(src: Sources, project_dir: Path, spacetime_env: str | None
                 ) -> _ProjectFile | None:
    """Step 3: spacetime.json found from `project_dir`, with its overlays laid over it."""
    project = _load_project(project_dir, spacetime_env)
    if project is None:
        return None
    src.sources["spacetime_json"] = f"found from {project_dir}"
    src.files.extend(project.files)
    names = list(dict.fromkeys(t.database for t in project.targets))
    if len(names) > 1:
        src.warnings.append(f"{project.path} names {len(names)} databases ({', '.join(names)}); "
                            f"using the first, {names[0]} (SPACETIMEDB_DATABASE picks another)")
    return project


def database_setting(src: Sources, project: _ProjectFile | None) -> str | None:
    """The database: the environment, else spacetime.json's first target."""
    for var in ("SPACETIMEDB_DATABASE", "SPACETIMEDB_DB_NAME"):
        if (value := src.getenv(var)) is not None:
            src.sources["database"] = f"env:{var}"
            return value
    if project is not None and project.targets:
        first = project.targets[0]
        src.sources["database"] = str(first.database_file)
        return first.database
    return None


def _server_from_project(src: Sources, server: str, server_file: Path) -> str:
    """The URL of a spacetime.json target's `server`: a URL, or a cli.toml nickname or host."""
    if "://" in server:
        src.sources["host"] = str(server_file)
        return _parse_url(server, server_file)
    cfg = src.cli_toml()
    found = cfg.find(server)
    if found is None:
        raise ConfigError(server_file, f"unknown server `{server}`: not a URL, and "
                          f"{cfg.where()} has no server with that nickname or host")
    src.sources["host"] = f"{server_file} via {cfg.where()}"
    return _url(found[2], found[1], cfg.where())


def server_setting(src: Sources, database: str | None, project: _ProjectFile | None
                   ) -> tuple[str | None, str | None]:
    """(host URL, server as written): SPACETIMEDB_HOST, else (only with a database) the
    spacetime.json target's `server`, else cli.toml's default_server (step 4)."""
    if (value := src.getenv("SPACETIMEDB_HOST")) is not None:
        src.sources["server"] = src.sources["host"] = "env:SPACETIMEDB_HOST"
        if "://" in value:
            return _parse_url(value, "SPACETIMEDB_HOST"), value
        if (found := src.cli_toml().find(value)) is not None:
            return _url(found[2], found[1], src.cli_toml().where()), value
        return _url("http" if _is_local(value) else "https", value, "SPACETIMEDB_HOST"), value
    if database is None:
        return None, None
    # The server of the spacetime.json target for this database; a database the file does
    # not name gets the default server (db_arg_resolution.rs "auto-fallthrough").
    target = project.target(database) if project is not None else None
    if target is not None and target.server is not None:
        server, server_file = target.server
        src.sources["server"] = str(server_file)
        return _server_from_project(src, server, server_file), server
    cfg = src.cli_toml()
    if cfg.default_server is None:
        src.warnings.append(f"database `{database}` has no server: set SPACETIMEDB_HOST, "
                            f"`server` in spacetime.json, or default_server in {cfg.path}")
        return None, None
    found = cfg.find(cfg.default_server)
    if found is None:
        raise ConfigError(cfg.path, f"default_server `{cfg.default_server}` does "
                          "not name any [[server_configs]] entry")
    src.sources["server"] = src.sources["host"] = f"{cfg.where()} default_server"
    return _url(found[2], found[1], cfg.where()), cfg.default_server


def backend_setting(src: Sources, forced: str | None, host: str | None,
                    database: str | None) -> str:
    """The forced backend (checked against what is configured), else spacetimedb when a
    database and its server are known, else embedded (step 5)."""
    if forced is not None:
        if forced == "spacetimedb" and (host is None or database is None):
            missing = "database" if database is None else "server"
            raise ConfigError(src.sources["backend"].removeprefix("env:"),
                              f"backend is spacetimedb but no {missing} is configured "
                              "(set SPACETIMEDB_DATABASE and SPACETIMEDB_HOST, or add a "
                              "spacetime.json)")
        return forced
    backend = "spacetimedb" if host is not None and database is not None else "embedded"
    src.sources["backend"] = (f"derived: {src.sources['database']}" if backend == "spacetimedb"
                              else "default (no database configured)")
    return backend


def token_setting(src: Sources, backend: str) -> str | None:
    """SPACETIMEDB_TOKEN, else the token file (environment or config.toml), else cli.toml's
    token (only for the spacetimedb backend)."""
    if (value := src.getenv("SPACETIMEDB_TOKEN")) is not None:
        src.sources["token"] = "env:SPACETIMEDB_TOKEN"
        return _check_token(value, "SPACETIMEDB_TOKEN")
    if (got := src.pick("token_file", "SPACES_TOKEN_FILE")) is not None:
        token_path = Path(str(got[0])).expanduser()
        token = _check_token(_read_text(token_path), token_path)
        src.sources["token"] = f"{token_path} (token_file, {got[1]})"
        src.files.append(token_path)
        return token
    if backend == "spacetimedb":
        cfg = src.cli_toml()
        if cfg.token is not None:
            src.sources["token"] = str(cfg.path)
            return _check_token(cfg.token, cfg.path)
    return None


def load_config(cwd: Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Work out every effective setting, and where each came from (module docstring).

    `cwd` is where the search for spacetime.json starts (default: ``SPACES_PROJECT_DIR``,
    then ``project_dir`` in config.toml, then the current directory); `env` defaults to
    ``os.environ``. Raises `ConfigError` (one line) on a broken file or variable.
    """
    src = Sources(os.environ if env is None else env)
    read_spaces_config(src)
    own = spaces_settings(src, cwd)
    project = project_file(src, own.project_dir, own.spacetime_env)
    database = database_setting(src, project)
    host, server = server_setting(src, database, project)
    backend = backend_setting(src, own.forced_backend, host, database)
    token = token_setting(src, backend)
    return Config(
        backend=backend, host=host, database=database, token=token, server=server,
        channel=own.channel, cooldown=own.cooldown, identity_name=own.identity_name,
        socket=own.socket, spacetime_env=own.spacetime_env, project_dir=own.project_dir,
        spacetime_json=project.path if project is not None else None,
        files=tuple(dict.fromkeys(src.files)), sources=src.sources,
        warnings=tuple(src.warnings), stdb_compression=own.stdb_compression,
        web_port=own.web_port,
    )
