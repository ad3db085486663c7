"""The real-server tier itself: the module's pinned `spacetimedb` bindings publish and run on
the real SpacetimeDB (a bindings version the server cannot run crashes it at publish), the
published schema is the model's, and the tier says in one line what is missing."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import pytest
import real_stdb
from real_stdb import Missing, RealServer
from test_schema_sync import rust_filters

from spacesd import model

MODULE = Path(__file__).resolve().parents[1] / "module"


def bindings_pin() -> str:
    text = (MODULE / "Cargo.toml").read_text(encoding="utf-8")
    m = re.search(r'^spacetimedb\s*=\s*\{\s*version\s*=\s*"=([^"]+)"', text, re.M)
    assert m is not None, "module/Cargo.toml pins no exact spacetimedb version"
    return m.group(1)


def locked_version(crate: str) -> str:
    text = (MODULE / "Cargo.lock").read_text(encoding="utf-8")
    m = re.search(rf'\[\[package\]\]\nname = "{re.escape(crate)}"\nversion = "([^"]+)"', text)
    assert m is not None, f"{crate} is not in module/Cargo.lock"
    return m.group(1)


def test_the_pinned_bindings_publish_and_run(real_stdb: RealServer) -> None:
    # The .wasm is built from Cargo.lock, which must hold the exact pin.
    assert locked_version("spacetimedb") == bindings_pin()
    name = real_stdb.publish()
    assert real_stdb.proc is not None and real_stdb.proc.poll() is None, real_stdb.log_tail()
    with urllib.request.urlopen(f"{real_stdb.url}/v1/database/{name}/schema?version=9",
                                timeout=10) as resp:
        schema = json.loads(resp.read())
    assert sorted(t["name"] for t in schema["tables"]) == sorted(t.name for t in model.TABLES)
    assert sorted(r["name"] for r in schema["reducers"]) == sorted(
        r.name for r in model.REDUCERS)
    published = sorted(" ".join(f["sql"].split()) for f in schema["row_level_security"])
    assert published == sorted(sql for _, sql in rust_filters())
    # and it runs: a second database of the same module, while the first one is live
    assert real_stdb.publish() != name
    assert real_stdb.proc.poll() is None, real_stdb.log_tail()


def test_a_missing_binary_is_one_clear_line(monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    monkeypatch.setenv("SPACES_SPACETIMEDB_BIN", str(tmp_path / "nowhere"))
    with pytest.raises(Missing) as found:
        real_stdb.locate()
    assert str(found.value) == f"SPACES_SPACETIMEDB_BIN={tmp_path / 'nowhere'} is not an " \
        "executable file"


def test_a_missing_wasm_is_one_clear_line(monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    monkeypatch.setenv("SPACES_WASM", str(tmp_path / "none.wasm"))
    with pytest.raises(Missing) as found:
        real_stdb.find_wasm()
    assert "\n" not in str(found.value) and "none.wasm is not a file" in str(found.value)
