"""Configuration detection: environment > config.toml > spacetime.json > cli.toml > embedded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spacesd.config import (
    DEFAULT_CHANNEL,
    DEFAULT_COOLDOWN,
    ConfigError,
    Sources,
    backend_setting,
    cli_toml_path,
    database_setting,
    load_config,
    project_file,
    read_spaces_config,
    server_setting,
    spaces_settings,
    token_setting,
)

TOKEN = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"

CLI_TOML = f"""\
default_server = "maincloud"
spacetimedb_token = "{TOKEN}"

[[server_configs]]
nickname = "maincloud"
host = "maincloud.spacetimedb.com"
protocol = "https"

[[server_configs]]
nickname = "team"
host = "stdb.example.org:3000"
protocol = "http"
"""


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    return h


@pytest.fixture
def env(home: Path, tmp_path: Path) -> dict[str, str]:
    return {"HOME": str(home), "SPACES_RUNTIME_DIR": str(tmp_path / "run")}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def cli_toml(home: Path, text: str = CLI_TOML) -> Path:
    return write(home / ".config" / "spacetime" / "cli.toml", text)


def project(tmp_path: Path) -> tuple[Path, Path]:
    """A project folder with spacetime.json and a nested working directory."""
    root = tmp_path / "proj"
    cwd = root / "src" / "deep"
    cwd.mkdir(parents=True)
    return root, cwd


def test_nothing_configured_is_embedded(env: dict[str, str], tmp_path: Path) -> None:
    cfg = load_config(cwd=tmp_path, env=env)
    assert cfg.backend == "embedded"
    assert (cfg.host, cfg.database, cfg.token) == (None, None, None)
    assert cfg.channel == "agent-logs" and cfg.cooldown == 300 and cfg.identity_name is None
    assert cfg.source("channel") == "default" and cfg.source("cooldown") == "default"
    assert cfg.source("backend").startswith("default")
    assert cfg.files == ()


def test_spacetime_json_in_parent_plus_cli_toml(env: dict[str, str], home: Path,
                                                 tmp_path: Path) -> None:
    """The issue's case: SPACETIMEDB_* unset, spacetime.json above cwd, cli.toml in HOME."""
    root, cwd = project(tmp_path)
    sj = write(root / "spacetime.json", """{
        // JSON5: comments, unquoted keys, trailing commas
        database: "spaces-team",
        server: "team",
        "module-path": "./module",
    }""")
    ct = cli_toml(home)
    cfg = load_config(cwd=cwd, env=env)
    assert cfg.backend == "spacetimedb"
    assert cfg.host == "http://stdb.example.org:3000"
    assert cfg.database == "spaces-team"
    assert cfg.token == TOKEN
    assert cfg.server == "team"
    assert cfg.spacetime_json == sj
    assert cfg.source("database") == str(sj)
    assert cfg.source("server") == str(sj)
    assert cfg.source("host") == f"{sj} via {ct}"
    assert cfg.source("token") == str(ct)
    assert cfg.source("backend").startswith("derived")
    assert cfg.files == (sj, ct)


def test_environment_wins(env: dict[str, str], home: Path, tmp_path: Path) -> None:
    root, cwd = project(tmp_path)
    write(root / "spacetime.json", '{"database": "from-file", "server": "team"}')
    cli_toml(home)
    env.update({"SPACETIMEDB_HOST": "https://other.example.com/", "SPACETIMEDB_DATABASE": "envdb",
                "SPACETIMEDB_TOKEN": "tok-from-env", "SPACES_CHANNEL_ID": "#builds",
                "SPACES_COOLDOWN": "60", "SPACES_IDENTITY_NAME": "ci-bot"})
    cfg = load_config(cwd=cwd, env=env)
    assert (cfg.host, cfg.database, cfg.token) == ("https://other.example.com", "envdb",
                                                   "tok-from-env")
    assert (cfg.channel, cfg.cooldown, cfg.identity_name) == ("#builds", 60, "ci-bot")
    for key, var in [("host", "SPACETIMEDB_HOST"), ("database", "SPACETIMEDB_DATABASE"),
                     ("token", "SPACETIMEDB_TOKEN"), ("channel", "SPACES_CHANNEL_ID"),
                     ("cooldown", "SPACES_COOLDOWN"), ("identity_name", "SPACES_IDENTITY_NAME")]:
        assert cfg.source(key) == f"env:{var}"


def test_env_host_nickname_and_bare_host(env: dict[str, str], home: Path, tmp_path: Path) -> None:
    cli_toml(home)
    env.update({"SPACETIMEDB_DB_NAME": "db1", "SPACETIMEDB_HOST": "team"})
    cfg = load_config(cwd=tmp_path, env=env)
    assert cfg.host == "http://stdb.example.org:3000" and cfg.database == "db1"
    assert cfg.source("database") == "env:SPACETIMEDB_DB_NAME"
    env["SPACETIMEDB_HOST"] = "localhost:3000"
    assert load_config(cwd=tmp_path, env=env).host == "http://localhost:3000"
    env["SPACETIMEDB_HOST"] = "stdb.corp.example:443"
    assert load_config(cwd=tmp_path, env=env).host == "https://stdb.corp.example:443"


def test_database_without_server_uses_cli_default(env: dict[str, str], home: Path,
                                                   tmp_path: Path) -> None:
    ct = cli_toml(home)
    env["SPACETIMEDB_DATABASE"] = "mydb"
    cfg = load_config(cwd=tmp_path, env=env)
    assert cfg.host == "https://maincloud.spacetimedb.com" and cfg.server == "maincloud"
    assert cfg.source("host") == f"{ct} default_server"


def test_without_cli_toml_the_cli_builtin_servers_apply(env: dict[str, str],
                                                        tmp_path: Path) -> None:
    root, cwd = project(tmp_path)
    write(root / "spacetime.json", '{"database": "d", "server": "local"}')
    cfg = load_config(cwd=cwd, env=env)
    assert cfg.host == "http://127.0.0.1:3000" and cfg.token is None
    assert "absent" in cfg.source("host")
    write(root / "spacetime.json", '{"database": "d"}')
    assert load_config(cwd=cwd, env=env).host == "https://maincloud.spacetimedb.com"


def test_overlays_local_then_env(env: dict[str, str], tmp_path: Path) -> None:
    root, cwd = project(tmp_path)
    write(root / "spacetime.json", '{"database": "base", "server": "http://a:1"}')
    local = write(root / "spacetime.local.json", '{"server": "http://b:2"}')
    cfg = load_config(cwd=cwd, env=env)
    assert (cfg.database, cfg.host) == ("base", "http://b:2")
    assert cfg.source("server") == str(local)
    staging = write(root / "spacetime.staging.json", '{"database": "stage"}')
    write(root / "spacetime.staging.local.json", '{"server": "https://c"}')
    cfg = load_config(cwd=cwd, env={**env, "SPACES_SPACETIME_ENV": "staging"})
    assert (cfg.database, cfg.host) == ("stage", "https://c")
    assert cfg.source("database") == str(staging)
    assert cfg.spacetime_env == "staging"
    # Without the env, the env files are ignored.
    assert load_config(cwd=cwd, env=env).database == "base"


def test_children_inherit_and_merge_by_index(env: dict[str, str], tmp_path: Path) -> None:
    root, cwd = project(tmp_path)
    write(root / "spacetime.json", """{
        server: "http://parent:3000",
        children: [{database: "region-1"}, {database: "region-2"}],
    }""")
    cfg = load_config(cwd=cwd, env=env)
    assert (cfg.database, cfg.host) == ("region-1", "http://parent:3000")
    assert any("2 databases" in w for w in cfg.warnings)
    write(root / "spacetime.local.json", '{children: [{database: "mine"}]}')
    assert load_config(cwd=cwd, env=env).database == "mine"


def test_cli_toml_follows_xdg_and_override(env: dict[str, str], home: Path,
                                            tmp_path: Path) -> None:
    assert cli_toml_path(env) == home / ".config" / "spacetime" / "cli.toml"
    assert cli_toml_path({**env, "XDG_CONFIG_HOME": str(tmp_path / "x")}) == (
        tmp_path / "x" / "spacetime" / "cli.toml")
    # A relative XDG_CONFIG_HOME is ignored, as the XDG spec (and the `xdg` crate) say.
    assert cli_toml_path({**env, "XDG_CONFIG_HOME": "rel"}) == cli_toml_path(env)
    other = write(tmp_path / "elsewhere.toml", CLI_TOML.replace("stdb.example.org", "x.org"))
    env.update({"SPACES_SPACETIME_CONFIG": str(other), "SPACETIMEDB_DATABASE": "d",
                "SPACETIMEDB_HOST": "team"})
    assert load_config(cwd=tmp_path, env=env).host == "http://x.org:3000"


def test_own_config_file(env: dict[str, str], home: Path, tmp_path: Path) -> None:
    own = write(home / ".config" / "spacesd" / "config.toml",
                'cooldown = 30\nchannel = "team-logs"\nidentity_name = "box"\n'
                'backend = "embedded"\n')
    cfg = load_config(cwd=tmp_path, env=env)
    assert (cfg.cooldown, cfg.channel, cfg.identity_name, cfg.backend) == (30, "team-logs", "box",
                                                                           "embedded")
    assert cfg.source("cooldown") == str(own) and cfg.source("backend") == str(own)
    env["SPACES_COOLDOWN"] = "5"
    assert load_config(cwd=tmp_path, env=env).cooldown == 5


def test_token_file(env: dict[str, str], tmp_path: Path) -> None:
    tf = write(tmp_path / "token", TOKEN + "\n")
    env.update({"SPACETIMEDB_HOST": "http://h:1", "SPACETIMEDB_DATABASE": "d",
                "SPACES_TOKEN_FILE": str(tf)})
    cfg = load_config(cwd=tmp_path, env=env)
    assert cfg.token == TOKEN and str(tf) in cfg.source("token")


def test_backend_forced(env: dict[str, str], home: Path, tmp_path: Path) -> None:
    root, cwd = project(tmp_path)
    write(root / "spacetime.json", '{"database": "d", "server": "http://h:1"}')
    cfg = load_config(cwd=cwd, env={**env, "SPACES_BACKEND": "embedded"})
    assert cfg.backend == "embedded" and cfg.source("backend") == "env:SPACES_BACKEND"
    with pytest.raises(ConfigError, match="SPACES_BACKEND: backend is spacetimedb but no database"):
        load_config(cwd=tmp_path, env={**env, "SPACES_BACKEND": "spacetimedb"})
    with pytest.raises(ConfigError, match="SPACES_BACKEND: backend must be"):
        load_config(cwd=tmp_path, env={**env, "SPACES_BACKEND": "postgres"})


def test_token_never_shown(env: dict[str, str], home: Path, tmp_path: Path) -> None:
    root, cwd = project(tmp_path)
    write(root / "spacetime.json", '{"database": "d", "server": "team"}')
    cli_toml(home)
    cfg = load_config(cwd=cwd, env=env)
    assert cfg.token == TOKEN
    assert TOKEN not in repr(cfg)
    assert TOKEN not in json.dumps(cfg.redacted())
    assert TOKEN not in "\n".join(cfg.describe())
    assert TOKEN not in repr(cfg.settings())
    assert cfg.redacted()["token"] == {"value": "<redacted>", "source": str(home / ".config" /
                                                                              "spacetime" /
                                                                              "cli.toml")}


def test_broken_cli_toml_does_not_matter_for_the_embedded_default(
        env: dict[str, str], home: Path, tmp_path: Path) -> None:
    cli_toml(home, "this is [not toml")
    assert load_config(cwd=tmp_path, env=env).backend == "embedded"


# ---------------------------------------------------------------- broken files: one clear line

def one_line_error(env: dict[str, str], cwd: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(cwd=cwd, env=env)
    text = str(info.value)
    assert "\n" not in text
    return text


def test_bad_json5(env: dict[str, str], tmp_path: Path) -> None:
    root, cwd = project(tmp_path)
    sj = write(root / "spacetime.json", '{"database": "d",, }')
    assert one_line_error(env, cwd).startswith(f"{sj}: not valid JSON5")
    write(root / "spacetime.json", "[1, 2]")
    assert "expected a JSON object" in one_line_error(env, cwd)
    write(root / "spacetime.json", '{"database": 5}')
    assert one_line_error(env, cwd) == f"{sj}: `database` must be a non-empty string"


def test_bad_toml(env: dict[str, str], home: Path, tmp_path: Path) -> None:
    ct = cli_toml(home, "default_server = [unclosed\n")
    env["SPACETIMEDB_DATABASE"] = "d"
    assert one_line_error(env, tmp_path).startswith(f"{ct}: not valid TOML")
    own = write(home / ".config" / "spacesd" / "config.toml", "cooldown = \n")
    assert one_line_error(env, tmp_path).startswith(f"{own}: not valid TOML")
    write(own, "cooldwn = 3\n")
    assert one_line_error(env, tmp_path).startswith(f"{own}: unknown key `cooldwn`")
    write(own, 'cooldown = "soon"\n')
    assert one_line_error(env, tmp_path).startswith(f"{own}: `cooldown` must be whole seconds")


def test_unknown_server_nickname(env: dict[str, str], home: Path, tmp_path: Path) -> None:
    root, cwd = project(tmp_path)
    sj = write(root / "spacetime.json", '{"database": "d", "server": "nope"}')
    ct = cli_toml(home)
    assert one_line_error(env, cwd) == (
        f"{sj}: unknown server `nope`: not a URL, and {ct} has no server with that nickname "
        "or host")
    cli_toml(home, 'default_server = "gone"\n')
    write(root / "spacetime.json", '{"database": "d"}')
    assert "default_server `gone` does not name" in one_line_error(env, cwd)
    write(root / "spacetime.json", '{"database": "d", "server": "ftp://x"}')
    assert "invalid protocol `ftp`" in one_line_error(env, cwd)


def test_unreadable_token(env: dict[str, str], home: Path, tmp_path: Path) -> None:
    env.update({"SPACETIMEDB_HOST": "http://h:1", "SPACETIMEDB_DATABASE": "d"})
    missing = tmp_path / "no-such-token"
    assert one_line_error({**env, "SPACES_TOKEN_FILE": str(missing)}, tmp_path).startswith(
        f"{missing}: cannot read it")
    assert one_line_error({**env, "SPACES_TOKEN_FILE": str(tmp_path)}, tmp_path).startswith(
        f"{tmp_path}: cannot read it")
    empty = write(tmp_path / "empty", "\n")
    assert one_line_error({**env, "SPACES_TOKEN_FILE": str(empty)}, tmp_path) == (
        f"{empty}: the token is empty")
    ct = cli_toml(home, "spacetimedb_token = 42\n")
    assert one_line_error(env, tmp_path) == f"{ct}: `spacetimedb_token` must be a string, found int"
    cli_toml(home, 'spacetimedb_token = "two words"\n')
    assert "the token is unreadable" in one_line_error(env, tmp_path)
    assert TOKEN not in one_line_error(env, tmp_path)


def test_bad_cooldown_env(env: dict[str, str], tmp_path: Path) -> None:
    assert one_line_error({**env, "SPACES_COOLDOWN": "-1"}, tmp_path) == (
        "SPACES_COOLDOWN: `cooldown` must not be negative")


def test_env_database_takes_its_target_server_or_the_default(env: dict[str, str], home: Path,
                                                              tmp_path: Path) -> None:
    root, cwd = project(tmp_path)
    sj = write(root / "spacetime.json", """{
        server: "http://parent:3000",
        children: [{database: "one"}, {database: "two", server: "team"}],
    }""")
    ct = cli_toml(home)
    cfg = load_config(cwd=cwd, env={**env, "SPACETIMEDB_DATABASE": "two"})
    assert cfg.host == "http://stdb.example.org:3000"
    assert cfg.source("host") == f"{sj} via {ct}"
    # A database the file does not name: the CLI's default server, as `spacetime` does.
    cfg = load_config(cwd=cwd, env={**env, "SPACETIMEDB_DATABASE": "elsewhere"})
    assert cfg.host == "https://maincloud.spacetimedb.com"
    assert cfg.source("host") == f"{ct} default_server"


# Each precedence step alone.


def test_step_spaces_config_toml(env: dict[str, str], home: Path) -> None:
    src = Sources(env)
    read_spaces_config(src)
    assert src.own == {} and src.files == []
    own = write(home / ".config" / "spacesd" / "config.toml", 'channel = "dev"\ncooldown = 5\n')
    src = Sources(env)
    read_spaces_config(src)
    assert src.own == {"channel": "dev", "cooldown": 5} and src.files == [own]
    write(own, "colour = 'blue'\n")
    with pytest.raises(ConfigError, match="unknown key `colour`"):
        read_spaces_config(Sources(env))


def test_step_spaces_settings_environment_over_config_toml(env: dict[str, str],
                                                          tmp_path: Path) -> None:
    src = Sources({**env, "SPACES_CHANNEL_ID": " 12 ", "SPACES_STDB_COMPRESSION": "GZIP"},
                  own={"channel": "dev", "identity_name": "bot", "cooldown": 7},
                  own_path=tmp_path / "config.toml")
    got = spaces_settings(src, tmp_path)
    assert (got.channel, got.identity_name, got.cooldown) == ("12", "bot", 7)
    assert got.stdb_compression == "gzip" and got.forced_backend is None
    assert got.project_dir == tmp_path
    assert src.sources["channel"] == "env:SPACES_CHANNEL_ID"
    assert src.sources["identity_name"] == str(tmp_path / "config.toml")
    default = spaces_settings(Sources({**env, "SPACES_STDB_COMPRESSION": "brotli"}), None)
    assert default.channel == DEFAULT_CHANNEL and default.cooldown == DEFAULT_COOLDOWN
    assert default.stdb_compression is None and default.identity_name is None
    with pytest.raises(ConfigError, match="SPACES_BACKEND"):
        spaces_settings(Sources({**env, "SPACES_BACKEND": "sqlite"}), None)


def test_step_spacetime_json_and_database(env: dict[str, str], tmp_path: Path) -> None:
    root, cwd = project(tmp_path)
    write(root / "spacetime.json", json.dumps({"database": "one", "server": "local",
                                               "children": [{"database": "two"}]}))
    src = Sources(env)
    found = project_file(src, cwd, None)
    assert found is not None and found.path == root / "spacetime.json"
    assert "names 2 databases" in src.warnings[0]
    assert database_setting(src, found) == "one"
    assert database_setting(Sources({**env, "SPACETIMEDB_DB_NAME": "x"}), found) == "x"
    assert database_setting(Sources(env), None) is None
    assert project_file(Sources(env), tmp_path / "elsewhere", None) is None


def test_step_server_from_env_project_or_cli_toml(env: dict[str, str], home: Path,
                                                  tmp_path: Path) -> None:
    cli_toml(home)
    assert server_setting(Sources({**env, "SPACETIMEDB_HOST": "team"}), None, None) == (
        "http://stdb.example.org:3000", "team")
    assert server_setting(Sources(env), None, None) == (None, None)  # no database, no server
    src = Sources(env)
    assert server_setting(src, "db", None) == ("https://maincloud.spacetimedb.com", "maincloud")
    assert src.sources["host"].endswith("default_server")
    root, cwd = project(tmp_path)
    write(root / "spacetime.json", json.dumps({"database": "db", "server": "nope"}))
    found = project_file(Sources(env), cwd, None)
    with pytest.raises(ConfigError, match="unknown server `nope`"):
        server_setting(Sources(env), "db", found)


def test_step_backend_and_token(env: dict[str, str], home: Path) -> None:
    src = Sources(env, sources={"database": "env:SPACETIMEDB_DATABASE"})
    assert backend_setting(src, None, "http://h", "db") == "spacetimedb"
    assert backend_setting(Sources(env), None, None, "db") == "embedded"
    with pytest.raises(ConfigError, match="no server is configured"):
        backend_setting(Sources(env, sources={"backend": "env:SPACES_BACKEND"}),
                        "spacetimedb", None, "db")
    cli_toml(home)
    assert token_setting(Sources(env), "embedded") is None  # cli.toml only for spacetimedb
    assert token_setting(Sources(env), "spacetimedb") == TOKEN
    assert token_setting(Sources({**env, "SPACETIMEDB_TOKEN": "a.b.c"}), "embedded") == "a.b.c"
