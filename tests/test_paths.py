"""spacesd.paths (stdlib, used by the hooks) must agree with platformdirs (used elsewhere)."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import platformdirs
import pytest

from spacesd import paths

OVERRIDES = ("SPACES_SOCKET", "SPACES_DATA_DIR", "SPACES_STATE_DIR", "SPACES_RUNTIME_DIR",
             "SPACES_CONFIG_DIR")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for var in OVERRIDES:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


@pytest.mark.skipif(sys.platform != "linux", reason="XDG layout")
@pytest.mark.parametrize("xdg_set", [True, False])
def test_directories_match_platformdirs(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, xdg_set: bool
) -> None:
    for var, sub in (("XDG_DATA_HOME", "d"), ("XDG_STATE_HOME", "s"),
                     ("XDG_CONFIG_HOME", "c"), ("XDG_RUNTIME_DIR", "r")):
        if xdg_set:
            monkeypatch.setenv(var, str(clean_env / sub))
        else:
            monkeypatch.delenv(var, raising=False)
    assert paths.data_dir() == Path(platformdirs.user_data_dir("spacesd"))
    assert paths.state_dir() == Path(platformdirs.user_state_dir("spacesd"))
    assert paths.config_dir() == Path(platformdirs.user_config_dir("spacesd"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected_runtime = Path(platformdirs.user_runtime_dir("spacesd"))
    assert paths.runtime_dir() == expected_runtime


def test_overrides_win(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPACES_STATE_DIR", str(clean_env / "state"))
    monkeypatch.setenv("SPACES_RUNTIME_DIR", str(clean_env / "run"))
    assert paths.outbox_dir() == clean_env / "state" / "outbox"
    assert paths.socket_path() == clean_env / "run" / "spacesd.sock"
    monkeypatch.setenv("SPACES_SOCKET", str(clean_env / "x.sock"))
    assert paths.socket_path() == clean_env / "x.sock"


@pytest.mark.skipif(sys.platform != "linux", reason="XDG layout")
def test_config_file_reads_a_given_environment(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """config.load_config(env=...) finds Spaces' config.toml through the mapping it is given."""
    home = clean_env / "other-home"
    assert paths.config_file({"HOME": str(home)}) == home / ".config/spacesd/config.toml"
    assert paths.config_file({"HOME": str(home), "XDG_CONFIG_HOME": "/x"}) == Path(
        "/x/spacesd/config.toml")
    assert paths.config_file({"SPACES_CONFIG_DIR": "/c"}) == Path("/c/config.toml")
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    assert paths.config_file() == clean_env / ".config/spacesd/config.toml"
