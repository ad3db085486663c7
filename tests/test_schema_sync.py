"""The Rust module (`module/`) against the Python data model and the engine.

Reads the module's source, not a build: the tables (struct fields in order, their types, the
primary key, auto_inc, unique and btree attributes, public access), the enums (variants in
order), the reducers (names, lifecycle kinds, parameters in order) and the row-level security
filters from `module/src/`, and fails on any difference from `spacesd.model`. Then compares
the refusal messages, validation bounds and texts of the `spaces-logic` crate with the
engine's (`spacesd/engine/errors.py`, `validation.py`, ...), so the two implementations
answer the same call with the same words; runs the crate's rules (its `oracle` example,
through cargo) and the engine's `validation` over the same inputs, which must be judged alike;
and runs every conformance scenario against the module's own reducers, compiled natively with
an in-memory host (`module/crates/spaces-sim`).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import random
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from spacesd import model

ROOT = Path(__file__).resolve().parent.parent
MODULE_DIR = ROOT / "module"
MODULE_SRC = MODULE_DIR / "src"
LOGIC_SRC = MODULE_DIR / "crates" / "spaces-logic" / "src"

pytestmark = pytest.mark.skipif(not MODULE_SRC.is_dir(), reason="module/src is not there")


# --------------------------------------------------------------------------------------------
# A small reader of Rust source: enough for attributes, structs, enums, functions and consts.


_CHAR_LITERAL = re.compile(r"'(?:\\u\{[0-9a-fA-F]{1,6}\}|\\x[0-9a-fA-F]{2}|\\.|[^\\'\n])'")
_RAW_STRING = re.compile(r'b?r(#*)"')
_IDENT_CHAR = re.compile(r"\w")


def strip_comments(text: str) -> str:
    """The source without comments (replaced by a space); string and char literals intact."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
            out.append(" ")
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
            out.append(" ")
        elif c in "rb" and (i == 0 or not _IDENT_CHAR.match(text[i - 1])) and (
                raw := _RAW_STRING.match(text, i)):
            close = '"' + raw.group(1)
            end = text.find(close, raw.end())
            end = n if end < 0 else end + len(close)
            out.append(text[i:end])
            i = end
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif c == "'" and (char := _CHAR_LITERAL.match(text, i)):
            out.append(char.group(0))
            i = char.end()
        else:
            out.append(c)
            i += 1
    return "".join(out)


_PAIRS = {"(": ")", "[": "]", "{": "}", "<": ">"}


def _skip_literal(text: str, i: int) -> int:
    """If a string or char literal starts at i, the index after it; else i."""
    if text[i] == '"':
        j = i + 1
        while j < len(text) and text[j] != '"':
            j += 2 if text[j] == "\\" else 1
        return j + 1
    if text[i] == "'" and (char := _CHAR_LITERAL.match(text, i)):
        return char.end()
    return i


def matching(text: str, open_at: int, angle: bool = False) -> int:
    """The index of the bracket closing the one at `open_at` (literals skipped)."""
    opens = "([{<" if angle else "([{"
    closes = ")]}>" if angle else ")]}"
    stack: list[str] = []
    i = open_at
    while i < len(text):
        nxt = _skip_literal(text, i)
        if nxt != i:
            i = nxt
            continue
        c = text[i]
        if c in opens:
            stack.append(_PAIRS[c])
        elif c in closes:
            if not stack or stack.pop() != c:
                raise ValueError(f"unbalanced {c!r} at {i}")
            if not stack:
                return i
        elif angle and c == "-" and text.startswith("->", i):
            i += 2
            continue
        i += 1
    raise ValueError(f"no bracket closes the one at {open_at}")


def split_top(text: str, sep: str = ",") -> list[str]:
    """`text` split at `sep` outside brackets (angle brackets included) and literals."""
    parts: list[str] = []
    depth, start, i = 0, 0, 0
    while i < len(text):
        nxt = _skip_literal(text, i)
        if nxt != i:
            i = nxt
            continue
        c = text[i]
        if c == "-" and text.startswith("->", i):
            i += 2
            continue
        if c in "([{<":
            depth += 1
        elif c in ")]}>":
            depth -= 1
        elif c == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def take_attributes(text: str) -> tuple[list[str], str]:
    """Leading `#[...]` attributes (their insides, whitespace-normalized) and the rest."""
    attrs: list[str] = []
    rest = text.lstrip()
    while rest.startswith("#["):
        end = matching(rest, 1)
        attrs.append(" ".join(rest[2:end].split()))
        rest = rest[end + 1:].lstrip()
    return attrs, rest


@dataclass
class Item:
    """An item of a source file: its kind (struct, enum, fn, const), name, attributes, and the
    text from its name on (for structs and enums, the braces' inside; for fns, the signature;
    for consts, everything up to the `;`)."""

    kind: str
    name: str
    attrs: list[str]
    body: str
    file: str


_ITEM = re.compile(r"(?:pub(?:\s*\([^)]*\))?\s+)?(?:const\s+fn|struct|enum|fn|const)\s+(\w+)")


def items(path: Path) -> Iterator[Item]:
    text = strip_comments(path.read_text(encoding="utf-8"))
    i = 0
    pending: list[str] = []
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        if text.startswith("#![", i):
            i = matching(text, i + 2) + 1
            continue
        if text.startswith("#[", i):
            end = matching(text, i + 1)
            pending.append(" ".join(text[i + 2:end].split()))
            i = end + 1
            continue
        m = _ITEM.match(text, i)
        if m is None:
            pending = []
            i = _next_statement(text, i)
            continue
        head = m.group(0).split()
        kind = head[-2] if head[-2] != "fn" or head[-3:-2] != ["const"] else "fn"
        name = m.group(1)
        if kind in ("struct", "enum"):
            brace = text.index("{", m.end())
            semi = text.find(";", m.end())
            if 0 <= semi < brace:  # a unit or tuple struct
                body, i = text[m.end():semi], semi + 1
            else:
                close = matching(text, brace)
                body, i = text[brace + 1:close], close + 1
        elif kind == "fn":
            brace = _fn_body_start(text, m.end())
            close = matching(text, brace)
            body, i = text[m.end():brace], close + 1
        else:
            semi = _statement_end(text, m.end())
            body, i = text[m.end():semi], semi + 1
        yield Item(kind, name, pending, body, path.name)
        pending = []


def _statement_end(text: str, i: int) -> int:
    """The index of the `;` ending the statement from i (brackets and literals skipped)."""
    while i < len(text):
        nxt = _skip_literal(text, i)
        if nxt != i:
            i = nxt
            continue
        if text[i] in "([{":
            i = matching(text, i) + 1
            continue
        if text[i] == ";":
            return i
        i += 1
    return len(text)


def _fn_body_start(text: str, i: int) -> int:
    """The `{` opening a function's body, after its parameter list and return type."""
    paren = text.index("(", i)
    i = matching(text, paren) + 1
    while i < len(text):
        nxt = _skip_literal(text, i)
        if nxt != i:
            i = nxt
            continue
        if text[i] == "{":
            return i
        if text[i] in "([":
            i = matching(text, i) + 1
            continue
        i += 1
    raise ValueError("function without a body")


def _next_statement(text: str, i: int) -> int:
    """Skip a statement or block that is not an item we read (use, mod, impl, ...)."""
    while i < len(text):
        nxt = _skip_literal(text, i)
        if nxt != i:
            i = nxt
            continue
        if text[i] == ";":
            return i + 1
        if text[i] == "{":
            return matching(text, i) + 1
        i += 1
    return i


def rust_string(literal: str) -> str:
    """The value of a Rust string literal (normal or raw)."""
    literal = literal.strip()
    raw = _RAW_STRING.match(literal)
    if raw:
        return literal[raw.end():len(literal) - 1 - len(raw.group(1))]
    if not (literal.startswith('"') and literal.endswith('"')):
        raise ValueError(f"not a string literal: {literal!r}")
    body = literal[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        esc = body[i + 1]
        if esc == "\n":  # line continuation: the newline and the next line's indent go
            i += 2
            while i < len(body) and body[i] in " \t\n\r":
                i += 1
            continue
        if esc == "u":
            close = body.index("}", i)
            out.append(chr(int(body[i + 3:close], 16)))
            i = close + 1
            continue
        if esc == "x":
            out.append(chr(int(body[i + 2:i + 4], 16)))
            i += 4
            continue
        simple = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "'": "'"}
        out.append(simple[esc])
        i += 2
    return "".join(out)


def normalize_type(text: str) -> str:
    """A Rust type without whitespace or path prefixes: `spacetimedb::Identity` -> `Identity`."""
    return re.sub(r"\b(?:\w+::)+", "", "".join(text.split()))


def attr_name(attr: str) -> str:
    """`spacetimedb::table(accessor = x)` -> `table`."""
    head = re.match(r"[\w:]+", attr)
    return head.group(0).rsplit("::", 1)[-1] if head else ""


def attr_args(attr: str) -> str:
    """The inside of an attribute's parentheses (`""` without them)."""
    paren = attr.find("(")
    return attr[paren + 1:matching(attr, paren)] if paren >= 0 else ""


def source_items(directory: Path) -> list[Item]:
    return [item for path in sorted(directory.rglob("*.rs")) for item in items(path)]


# --------------------------------------------------------------------------------------------
# The module, as read from its source


@dataclass
class RustColumn:
    name: str
    type_name: str
    attrs: list[str]


@dataclass
class RustTable:
    name: str
    struct: str
    public: bool
    columns: list[RustColumn]
    file: str
    btree: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def with_attr(self, wanted: str) -> list[str]:
        return [c.name for c in self.columns
                if any(" ".join(a.split()) == wanted for a in c.attrs)]


@dataclass
class RustReducer:
    name: str
    kind: str | None
    params: list[tuple[str, str]]
    context: str
    returns: str
    file: str


def _parse_table(item: Item, attr: str) -> RustTable:
    accessor: str | None = None
    explicit: str | None = None
    public = False
    btree: list[str] = []
    problems: list[str] = []
    for arg in split_top(attr_args(attr)):
        key, _, value = (s.strip() for s in arg.partition("="))
        if key == "accessor":
            accessor = value
        elif key == "name" and value:
            explicit = rust_string(value)
        elif arg == "public":
            public = True
        elif arg == "private":
            public = False
        elif attr_name(arg) == "index":
            cols = re.search(r"btree\s*\(\s*columns\s*=\s*\[([^\]]*)\]", arg)
            names = [c.strip() for c in cols.group(1).split(",")] if cols else []
            if len(names) == 1:
                btree.append(names[0])
            else:
                problems.append(f"unexpected table-level index {arg!r}")
        else:
            problems.append(f"unexpected table argument {arg!r}")
    columns: list[RustColumn] = []
    for part in split_top(item.body):
        attrs, rest = take_attributes(part)
        m = re.fullmatch(r"(?:pub(?:\s*\([^)]*\))?\s+)?(\w+)\s*:\s*(.+)", rest, re.S)
        if m is None:
            problems.append(f"unreadable field {part!r}")
            continue
        columns.append(RustColumn(m.group(1), normalize_type(m.group(2)), attrs))
    name = explicit or accessor or ""
    table = RustTable(name, item.name, public, columns, item.file, btree, problems)
    table.btree.extend(table.with_attr("index(btree)"))
    return table


@cache
def module_items() -> tuple[Item, ...]:
    return tuple(source_items(MODULE_SRC))


@cache
def rust_tables() -> dict[str, RustTable]:
    tables: dict[str, RustTable] = {}
    for item in module_items():
        for attr in item.attrs:
            if item.kind == "struct" and attr_name(attr) == "table":
                table = _parse_table(item, attr)
                assert table.name not in tables, f"table {table.name} declared twice"
                tables[table.name] = table
    return tables


@cache
def rust_enums() -> dict[str, list[str]]:
    enums: dict[str, list[str]] = {}
    for item in module_items():
        if item.kind != "enum" or not any(
                attr_name(a) == "derive" and "SpacetimeType" in a for a in item.attrs):
            continue
        variants: list[str] = []
        for part in split_top(item.body):
            _, rest = take_attributes(part)
            variants.append(rest if re.fullmatch(r"\w+", rest) else f"<not a unit: {rest}>")
        enums[item.name] = variants
    return enums


@cache
def rust_reducers() -> dict[str, RustReducer]:
    reducers: dict[str, RustReducer] = {}
    for item in module_items():
        for attr in item.attrs:
            if item.kind != "fn" or attr_name(attr) != "reducer":
                continue
            kind: str | None = None
            for arg in split_top(attr_args(attr)):
                if re.fullmatch(r"\w+", arg):
                    kind = arg
            paren = item.body.index("(")
            close = matching(item.body, paren)
            params = split_top(item.body[paren + 1:close])
            context = normalize_type(params[0].partition(":")[2]) if params else ""
            rest = []
            for param in params[1:]:
                pname, _, ptype = param.partition(":")
                rest.append((pname.strip(), normalize_type(ptype)))
            returns = normalize_type(item.body[close + 1:].strip().removeprefix("->"))
            assert item.name not in reducers, f"reducer {item.name} declared twice"
            reducers[item.name] = RustReducer(item.name, kind, rest, context, returns, item.file)
    return reducers


@cache
def rust_filters() -> list[tuple[str, str]]:
    """The row-level security filters: (const name, SQL)."""
    filters: list[tuple[str, str]] = []
    for item in module_items():
        if item.kind == "const" and any(
                attr_name(a) == "client_visibility_filter" for a in item.attrs):
            literal = re.search(r'Filter::Sql\s*\(\s*(r#*"|")', item.body)
            assert literal is not None, f"{item.name}: not a Filter::Sql"
            start = literal.start(1)
            end = item.body.rindex('"') + 1
            end += len(literal.group(1)) - 2 if literal.group(1).startswith("r") else 0
            filters.append((item.name, " ".join(rust_string(item.body[start:end]).split())))
    return filters


def logic_consts(filename: str) -> dict[str, str]:
    """`pub const NAME: <type> = <value>;` of a logic-crate file, value as written."""
    consts: dict[str, str] = {}
    for item in items(LOGIC_SRC / filename):
        if item.kind == "const":
            m = re.fullmatch(r":\s*(.+?)\s*=\s*(.+)", item.body.strip(), re.S)
            assert m is not None, f"unreadable const {item.name}{item.body!r}"
            consts[item.name] = m.group(2).strip()
    return consts


def logic_fn_template(filename: str, name: str) -> str:
    """The `format!` string of a one-line text function of the logic crate."""
    text = strip_comments((LOGIC_SRC / filename).read_text(encoding="utf-8"))
    m = re.search(r"fn\s+" + re.escape(name) + r"\s*\([^)]*\)[^{]*\{\s*"
                  r"format!\(\s*(\"(?:[^\"\\]|\\.)*\")\s*\)\s*\}", text)
    assert m is not None, f"{filename}: no format! function {name}"
    return rust_string(m.group(1))


# --------------------------------------------------------------------------------------------
# The reader itself


def test_reader_handles_comments_literals_and_nesting() -> None:
    src = (
        '// a remark with "quotes\n'
        "/* block /* nested */ still */\n"
        "#[derive(Clone)]\n"
        "pub struct S { #[index(btree)] pub a: Option<Vec<u8>>, pub b: String }\n"
        "const C: &str = \"a // not a comment, \\\"q\\\" \\u{e9}\";\n"
        "const R: &str = r#\"raw \"x\" /* y */\"#;\n"
        "fn f<'a>(x: &'a str, c: char) -> Result<(), String> { let q = '\"'; Ok(()) }\n"
    )
    stripped = strip_comments(src)
    assert "remark" not in stripped and "nested" not in stripped
    assert "a // not a comment" in stripped and "/* y */" in stripped
    assert split_top("a: Option<Vec<u8>>, b: (u8, u16), c: [u8; 2]") == [
        "a: Option<Vec<u8>>", "b: (u8, u16)", "c: [u8; 2]"]
    assert rust_string('"a\\"b\\\\c\\u{e9}\\n"') == 'a"b\\cé\n'
    assert rust_string('"one \\\n     two"') == "one two"
    assert rust_string('r#"x "y""#') == 'x "y"'
    assert normalize_type("spacetimedb :: Identity") == "Identity"
    assert normalize_type("Option< String >") == "Option<String>"


def test_reader_reads_items(tmp_path: Path) -> None:
    path = tmp_path / "x.rs"
    path.write_text(
        "use a::b;\n"
        "#[spacetimedb::table(accessor = t, public)]\n#[derive(Clone)]\n"
        "pub struct T {\n    #[primary_key]\n    #[auto_inc]\n    pub id: u64,\n"
        "    pub s: Option<String>,\n}\n"
        "impl T { fn g(&self) -> u8 { 1 } }\n"
        "#[spacetimedb::reducer(init)]\npub fn init(ctx: &ReducerContext) -> Result<(), String> "
        "{ if true { Ok(()) } else { Err(\"}\".into()) } }\n"
        "pub const N: usize = 3;\n",
        encoding="utf-8")
    found = list(items(path))
    assert [(i.kind, i.name) for i in found] == [("struct", "T"), ("fn", "init"), ("const", "N")]
    table = _parse_table(found[0], found[0].attrs[0])
    assert (table.name, table.public) == ("t", True)
    assert [(c.name, c.type_name) for c in table.columns] == [("id", "u64"),
                                                             ("s", "Option<String>")]
    assert table.with_attr("auto_inc") == ["id"]


# --------------------------------------------------------------------------------------------
# Tables


# The module's own machinery, not part of the data model clients see: the scheduled table whose
# rows the host turns into calls of `expire` (claims and leases ending without a daemon).
MODULE_ONLY_TABLES = {"expiry_schedule"}
MODULE_ONLY_REDUCERS = {"expire"}


def model_tables() -> dict[str, RustTable]:
    return {n: t for n, t in rust_tables().items() if n not in MODULE_ONLY_TABLES}


def test_the_model_tables_and_nothing_else() -> None:
    assert sorted(model_tables()) == sorted(t.name for t in model.TABLES)


def test_the_expiry_schedule_is_a_private_scheduled_table() -> None:
    table = rust_tables()["expiry_schedule"]
    assert not table.public
    assert table.with_attr("primary_key") == ["scheduled_id"] == table.with_attr("auto_inc")
    text = strip_comments((MODULE_SRC / "tables.rs").read_text(encoding="utf-8"))
    assert "scheduled(crate::reducers::tasks::expire)" in text
    assert rust_reducers()["expire"].params == [("row", "ExpirySchedule")]


@pytest.mark.parametrize("table", model.TABLES, ids=lambda t: t.name)
def test_table_columns_in_order(table: model.TableDef) -> None:
    rust = rust_tables()[table.name]
    assert rust.problems == []
    assert rust.struct == table.row_type.__name__
    assert [(c.name, c.type_name) for c in rust.columns] == [
        (c.name, normalize_type(c.type_name)) for c in table.columns]


@pytest.mark.parametrize("table", model.TABLES, ids=lambda t: t.name)
def test_table_keys_and_indexes(table: model.TableDef) -> None:
    rust = rust_tables()[table.name]
    assert rust.with_attr("primary_key") == [table.primary_key]
    assert rust.with_attr("auto_inc") == ([table.primary_key] if table.auto_inc else [])
    assert sorted(rust.with_attr("unique")) == sorted(table.unique)
    assert sorted(rust.btree) == sorted(table.btree)
    known = {"primary_key", "auto_inc", "unique", "index(btree)"}
    types = {c.name: c.type_name for c in table.columns}
    for column in rust.columns:
        defaults = [a for a in column.attrs if a.startswith("default(")]
        # A column appended to a published table carries a default (SpacetimeDB migrates
        # with it); the engine's store adds it with the same one (false).
        assert defaults in ([], ["default(false)"]), f"{table.name}.{column.name}: {defaults}"
        assert not defaults or types[column.name] == "bool"
        assert set(column.attrs) - set(defaults) <= known, \
            f"{table.name}.{column.name}: {column.attrs}"


def test_tables_live_in_one_file() -> None:
    assert {t.file for t in rust_tables().values()} == {"tables.rs"}


# --------------------------------------------------------------------------------------------
# Visibility: every table is public; the private ones are narrowed by row-level security.


def filters_by_table() -> dict[str, list[str]]:
    by_table: dict[str, list[str]] = {}
    for name, sql in rust_filters():
        m = re.match(r"SELECT\s+(?:\*|(\w+)\.\*)\s+FROM\s+(\w+)(?:\s+JOIN\s+(\w+))?", sql,
                     re.I)
        assert m is not None, f"{name}: unreadable filter {sql!r}"
        selected = m.group(1) or m.group(2)
        assert selected in (m.group(2), m.group(3)), f"{name}: selects a table it does not read"
        by_table.setdefault(selected, []).append(sql)
    return by_table


def test_every_table_is_public() -> None:
    # Clients subscribe to every table by its own name; rows that concern only some
    # identities are narrowed by the filters below, never by making the table private.
    assert [t.name for t in model_tables().values() if not t.public] == []


@pytest.mark.parametrize("table", model.TABLES, ids=lambda t: t.name)
def test_row_level_security_matches_visible_to(table: model.TableDef) -> None:
    filters = filters_by_table().get(table.name, [])
    if table.public:
        assert filters == [], f"{table.name} is public in the model but filtered"
        return
    assert filters, f"{table.name} concerns only {table.visible_to} but has no filter"
    for sql in filters:
        assert ":sender" in sql, sql
    for column in table.visible_to:
        assert any(re.search(rf"\b{column}\b", sql) for sql in filters), (
            f"no filter of {table.name} uses {column}")


def test_direct_messages_follow_their_conversation() -> None:
    sqls = filters_by_table()["direct_message"]
    joined = {p for sql in sqls for p in ("participant_a", "participant_b") if p in sql}
    assert joined == {"participant_a", "participant_b"}
    for sql in sqls:
        # From the narrowed table to the returned one: SpacetimeDB 2.8 refuses a subscription
        # joined the other way ("Subscriptions require indexes on join columns").
        assert re.search(r"FROM\s+direct_conversation\s+JOIN\s+direct_message\s+ON\s+"
                         r"direct_conversation\.id\s*=\s*direct_message\.conversation_id", sql), sql


def test_filter_joins_reach_the_returned_table_through_an_index() -> None:
    # The real server plans a filter's join as a lookup into the returned table: the join
    # column of that table must carry an index (or be its primary key).
    tables = rust_tables()
    for table, sqls in filters_by_table().items():
        for sql in sqls:
            if m := _FILTER_JOIN.fullmatch(sql):
                on = {m.group(4): m.group(5), m.group(6): m.group(7)}
                assert m.group(1) == m.group(3) == table, f"returns the JOINed table: {sql}"
                column = on[table]
                indexed = tables[table].btree + tables[table].with_attr("primary_key")
                assert column in indexed, f"{table}.{column} has no index: {sql}"


def test_names_are_not_case_converted() -> None:
    # SpacetimeDB 2.x's default policy would rename enum variants to camelCase (`agentLog`)
    # in the schema and in JSON; the module keeps the model's spelling.
    text = strip_comments((MODULE_SRC / "lib.rs").read_text(encoding="utf-8"))
    assert re.search(r"#\[\s*spacetimedb::settings\s*\]\s*const\s+CASE_CONVERSION_POLICY\s*:"
                     r"\s*CaseConversionPolicy\s*=\s*CaseConversionPolicy::None\s*;", text)


# --------------------------------------------------------------------------------------------
# Enums


def test_enums_and_variant_order() -> None:
    # ExpiryKind is a column of the module-only expiry_schedule.
    enums = rust_enums()
    assert enums.pop("ExpiryKind") == ["TaskClaim", "PathLease"]
    assert enums == {name: [m.name for m in enum] for name, enum in model.ENUMS.items()}


def test_role_levels_in_the_logic_crate() -> None:
    text = strip_comments((LOGIC_SRC / "roles.rs").read_text(encoding="utf-8"))
    body = text[text.index("fn level"):]
    body = body[:matching(body, body.index("{"))]
    levels: dict[str, int] = {}
    for arm in re.finditer(r"((?:Role::\w+\s*\|?\s*)+)=>\s*(\d+)", body):
        for role in re.findall(r"Role::(\w+)", arm.group(1)):
            levels[role] = int(arm.group(2))
    assert levels == {role.name: level for role, level in model.ROLE_LEVEL.items()}


# --------------------------------------------------------------------------------------------
# Reducers


def test_the_reducers_and_nothing_else() -> None:
    assert sorted(set(rust_reducers()) - MODULE_ONLY_REDUCERS) == sorted(
        r.name for r in model.REDUCERS)


@pytest.mark.parametrize("reducer", model.REDUCERS, ids=lambda r: r.name)
def test_reducer_signature(reducer: model.ReducerDef) -> None:
    rust = rust_reducers()[reducer.name]
    assert rust.params == [(p, normalize_type(t)) for p, t in reducer.params]
    assert rust.context == "&ReducerContext"
    assert rust.returns == "Result<(),String>"
    assert rust.kind == (reducer.name if reducer.lifecycle else None)


def test_no_reducer_takes_the_caller_as_an_argument() -> None:
    # Authorization is about ctx.sender(); an Identity parameter names someone else
    # (register_session's `machine`: the daemon that runs the session, never the caller).
    for reducer in rust_reducers().values():
        for pname, ptype in reducer.params:
            if ptype == "Identity":
                assert pname in {"identity", "other", "machine"}, f"{reducer.name}({pname})"


def test_reducers_are_grouped_by_domain() -> None:
    files = {r.name: r.file for r in rust_reducers().values()}
    assert files["init"] == files["client_connected"] == "lifecycle.rs"
    assert files["register_user"] == "users.rs"
    assert files["create_server"] == files["set_member_role"] == "servers.rs"
    assert files["create_channel"] == "channels.rs"
    assert files["send_message"] == files["add_reaction"] == "messages.rs"
    assert files["create_thread"] == "threads.rs"
    assert files["start_dm"] == files["send_dm"] == "dms.rs"
    assert files["dismiss_notification"] == "notifications.rs"
    assert files["create_task"] == files["claim_task"] == files["expire"] == "tasks.rs"
    assert files["acquire_lease"] == files["release_lease"] == "leases.rs"
    assert files["cast_vote"] == "votes.rs"


# --------------------------------------------------------------------------------------------
# The engine's words: refusal messages, bounds and texts


def engine_module(name: str) -> ModuleType:
    """`spacesd.engine.<name>`; the test is skipped only if the engine has no such module."""
    full = f"spacesd.engine.{name}"
    try:
        spec = importlib.util.find_spec(full)
    except ModuleNotFoundError:
        spec = None
    if spec is None:
        pytest.skip(f"{full} is not there yet")
    return importlib.import_module(full)


def test_every_engine_refusal_is_in_the_module() -> None:
    errors = engine_module("errors")
    python = {name: value for name, value in vars(errors).items()
              if name.isupper() and isinstance(value, str)}
    assert python, "errors.py defines no messages"
    rust = {name: rust_string(value) for name, value in logic_consts("errors.rs").items()}
    missing = {n: v for n, v in python.items() if n not in rust}
    assert missing == {}, "messages the module lacks"
    differ = {n: (v, rust[n]) for n, v in python.items() if rust[n] != v}
    assert differ == {}, "messages worded differently (python, rust)"
    extra = sorted(set(rust) - set(python))
    assert extra == [], "module messages the engine does not have"


def test_every_refusal_the_module_returns_is_a_named_message() -> None:
    # Reducers refuse with `errors::NAME` (or a validation result): never ad-hoc text.
    for path in sorted(MODULE_SRC.rglob("*.rs")):
        text = strip_comments(path.read_text(encoding="utf-8"))
        for m in re.finditer(r"\b(?:refuse|Err)\s*\(\s*\"", text):
            line = text.count("\n", 0, m.start()) + 1
            pytest.fail(f"{path.name}:{line}: a refusal with literal text")
        used = set(re.findall(r"errors::([A-Z_]+)", text))
        assert used <= set(logic_consts("errors.rs")), f"{path.name}: unknown {used}"


def _rust_ranges(name: str) -> list[tuple[int, int]]:
    text = strip_comments((LOGIC_SRC / "validation.rs").read_text(encoding="utf-8"))
    start = text.index(f"pub const {name}")
    body = text[text.index("= &[", start) + 3:]
    body = body[:matching(body, 0)]
    return [(int(a, 16), int(b, 16)) for a, b in
            re.findall(r"\(\s*0x([0-9A-Fa-f]+)\s*,\s*0x([0-9A-Fa-f]+)\s*\)", body)]


def test_name_character_sets_match_the_engine() -> None:
    validation = engine_module("validation")
    assert _rust_ranges("FORBIDDEN_RANGES") == list(validation.FORBIDDEN_RANGES)
    assert _rust_ranges("INVISIBLE_RANGES") == list(validation.INVISIBLE_RANGES)


def test_validation_bounds_match_the_engine() -> None:
    validation = engine_module("validation")
    python = {name: value for name, value in vars(validation).items()
              if name.isupper() and isinstance(value, int) and not isinstance(value, bool)}
    rust = {name: int(value) for name, value in logic_consts("validation.rs").items()
            if value.isdigit()}
    assert rust == python


def test_texts_match_the_engine() -> None:
    effects = engine_module("effects")
    servers = importlib.import_module("spacesd.engine.reducers.servers")
    messages = importlib.import_module("spacesd.engine.reducers.messages")
    names = {name: rust_string(value) for name, value in logic_consts("names.rs").items()
             if value.startswith('"')}
    assert names["HUB_NAME"] == model.HUB_NAME
    assert names["DEFAULT_CHANNEL"] == servers.DEFAULT_CHANNEL
    assert names["JOIN_CONTENT"] == effects.JOIN_CONTENT
    assert names["LEAVE_CONTENT"] == effects.LEAVE_CONTENT
    assert names["ROLE_CHANGED_TITLE"] == servers.ROLE_CHANGED_TITLE
    assert names["INVITE_TITLE"] == servers.INVITE_TITLE
    rendered = logic_fn_template("names.rs", "invite_body").format(
        inviter="ada", server_name="Research Lab")
    assert rendered == servers.invite_body("ada", "Research Lab")
    for role in model.MemberRole:
        rendered = logic_fn_template("names.rs", "role_changed_body").format(
            server_name="Research Lab", role=role.name)
        assert rendered == servers.role_changed_body("Research Lab", role)
    channel = model.Channel(7, 1, "agent-logs", None, model.ChannelType.AgentLog, 1, 0)
    rendered = logic_fn_template("names.rs", "mention_title").format(
        sender="ada", channel=channel.name)
    assert rendered == messages.mention_title("ada", channel)


def test_hub_channels_match_the_model() -> None:
    text = strip_comments((MODULE_SRC / "reducers" / "lifecycle.rs").read_text(encoding="utf-8"))
    start = text.index("HUB_CHANNELS")
    body = text[text.index("= [", start) + 2:]
    body = body[:matching(body, 0)]
    rust = [(rust_string(m.group(1)), m.group(2), int(m.group(3))) for m in re.finditer(
        r'\(\s*("[^"]*")\s*,\s*ChannelType::(\w+)\s*,\s*(\d+)\s*,?\s*\)', body)]
    assert rust == [(name, kind.name, pos) for name, kind, pos in model.HUB_CHANNELS]


# --------------------------------------------------------------------------------------------
# Differential: the logic crate's rules against the engine's, on the same inputs


def _oracle(cases: list[tuple[str, str]]) -> list[str]:
    """Runs the logic crate's `oracle` example over (check, text) cases."""
    cargo = shutil.which("cargo")
    if cargo is None:
        pytest.skip("cargo is not installed")
    lines = "".join(f"{check} {text.encode().hex()}\n" for check, text in cases)
    done = subprocess.run(
        [cargo, "run", "--quiet", "--manifest-path", str(MODULE_DIR / "Cargo.toml"),
         "-p", "spaces-logic", "--example", "oracle"],
        input=lines, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.splitlines()


_PIECES = [
    "a", "z", "0", "9", "_", ".", "-", "@", " ", "A", "Z", "é", "😀", "\t", "\n", "\x1c",
    "\x1f", "\u00a0", "\u2003", "\u200b", "\u3000", "#", ":", "/", "{", "}", "[", "]", '"',
    ",", "\\", "e", "E", "+", "true", "null", "http://", "https://", "HTTPS://", "mail@",
    "@al.", "@Bob", "@bob", "x@y", "\x00", "\x1b", "\x7f", "\x85", "\u061c", "\u200e",
    "\u202e", "\u2066", "\u2069", "\u2028", "\u00ad", "\u200d", "\u2060", "\u2800",
    "\u3164", "\ufe0f", "\ufeff", "\U000e0067", "\U000e007f", "\U0001d173", "👍",
]
_JSON_SCALARS = [
    "1", "-0", "0.5", "1e400", "01", "1.", ".5", "2E-3", "-", "true", "false", "null", "nul",
    '"a"', '"\\u12g4"', '"\\ud800"', '"\x01"', '"\x1f"', '"\x7f"', "NaN", "-Infinity",
    '"x\\/"', '"\\q"',
]


def _json_like(rng: random.Random, depth: int = 0) -> str:
    roll = rng.random()
    if depth > 3 or roll < 0.3:
        return rng.choice(_JSON_SCALARS)
    if roll < 0.6:
        items = ", ".join(_json_like(rng, depth + 1) for _ in range(rng.randint(0, 3)))
        return "[" + items + rng.choice(["]", ",]", " ]"])
    members = ",".join(rng.choice(['"k"', "k", '""', "'k'"]) + rng.choice([":", " : ", ""])
                       + _json_like(rng, depth + 1) for _ in range(rng.randint(0, 3)))
    return "{" + members + rng.choice(["}", ",}", "} "])


def _differential_cases() -> list[tuple[str, str]]:
    rng = random.Random(20261125)

    def text(n: int | None = None) -> str:
        count = rng.randint(0, 14) if n is None else n
        return "".join(rng.choice(_PIECES) for _ in range(count))

    cases: list[tuple[str, str]] = []
    checks = ["username", "channel_name", "server_name", "thread_name", "emoji", "mentions",
              "display_name", "status_text", "avatar_url", "icon_url", "dm_content",
              "text_content"]
    for _ in range(600):
        for check in checks:
            cases.append((check, text()))
        cases.append(("agent_event_content",
                      rng.choice(["", " ", "\n", "\ufeff"]) + _json_like(rng)
                      + rng.choice(["", " ", "x", "\r\n"])))
    # Every bound, just inside and just outside, in 1- to 4-byte characters.
    bounds = {"username": 32, "channel_name": 64, "server_name": 100, "thread_name": 100,
              "emoji": 32, "display_name": 64, "bio": 512, "status_text": 128,
              "description": 1024, "topic": 1024, "text_content": 4000, "dm_content": 4000}
    for check, limit in bounds.items():
        for char in ("a", "é", "€", "😀", " "):
            for n in (0, 1, 2, 3, limit - 1, limit, limit + 1):
                cases.append((check, char * n))
    for n in (0, 1, 7, 8, 9, 504, 505, 512):
        for scheme in ("http://", "https://", "Https://", "ftp://"):
            cases.append(("avatar_url", scheme + "é" * n))
    for scalar in _JSON_SCALARS:
        cases += [("agent_event_content", '{"k": ' + scalar + "}"),
                  ("agent_event_content", '{"k": [' + scalar + ", 1]}"),
                  ("agent_event_content", "{" + scalar + ": 1}")]
    body = '{"k":"' + "x" * 16376 + '"}'
    cases += [("agent_event_content", body), ("agent_event_content", body[:-2] + 'x"}'),
              ("agent_event_content", '{"a":' * 200 + "1" + "}" * 200)]
    return cases


def _engine_outcome(validation: ModuleType, reducer_error: type[Exception],
                    check: str, text: str) -> str:
    if check == "mentions":
        mentioned: list[str] = validation.mentions(text)
        return ",".join(mentioned)
    fn: Callable[[str], object] = getattr(validation, check)
    try:
        fn(text)
    except reducer_error as refusal:
        return str(getattr(refusal, "message", refusal))
    return "ok"


@pytest.mark.timeout(900)  # builds the oracle on a cold target
def test_rules_agree_with_the_engine_on_the_same_inputs() -> None:
    validation = engine_module("validation")
    reducer_error: type[Exception] = engine_module("errors").ReducerError
    cases = _differential_cases()
    rust = _oracle(cases)
    assert len(rust) == len(cases)
    differ = [(check, text[:80], expected, got)
              for (check, text), got in zip(cases, rust, strict=True)
              if (expected := _engine_outcome(validation, reducer_error, check, text)) != got]
    assert differ[:10] == [], f"{len(differ)} of {len(cases)} inputs judged differently"
    accepted_events = sum(1 for (check, _), got in zip(cases, rust, strict=True)
                          if check == "agent_event_content" and got == "ok")
    assert accepted_events >= 20, "the JSON cases should include valid objects"


# --------------------------------------------------------------------------------------------
# The module's own reducers against the conformance scenarios.
#
# No SpacetimeDB server runs here, so `module/crates/spaces-sim` builds the module's source
# natively and links it with an in-memory stand-in for the host ABI (rows in BSATN, btree
# point scans, unique constraints, sequences, a rolled-back transaction per refused call). The
# scenarios' interpreter is tests/test_conformance.py's, with this backend instead of the
# engine: the same steps, the same expected rows and refusal messages, run by the Rust code.


def _conformance_runner() -> ModuleType:
    path = ROOT / "tests" / "test_conformance.py"
    if not path.exists():
        pytest.skip("tests/test_conformance.py is not there")
    name = "_spaces_conformance_runner"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    runner = importlib.util.module_from_spec(spec)
    sys.modules[name] = runner  # dataclasses resolve their module while the file executes
    spec.loader.exec_module(runner)
    return runner


@cache
def _sim_binary() -> Path:
    cargo = shutil.which("cargo")
    if cargo is None:
        pytest.skip("cargo is not installed")
    done = subprocess.run(
        [cargo, "build", "--quiet", "--manifest-path", str(MODULE_DIR / "Cargo.toml"),
         "-p", "spaces-sim", "--message-format", "json"],
        capture_output=True, text=True, timeout=1800, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    for line in done.stdout.splitlines():
        message = json.loads(line)
        if (message.get("reason") == "compiler-artifact"
                and message.get("target", {}).get("name") == "spaces-sim"
                and message.get("executable")):
            return Path(message["executable"])
    raise AssertionError("cargo built no spaces-sim executable")


class SimBackend:
    """The scenario's identities calling the module's reducers in `spaces-sim`."""

    def __init__(self, runner: ModuleType, identities: list[str]) -> None:
        from spacesd.stdb import bsatn

        self._runner = runner
        self._bsatn = bsatn
        self._ids: dict[str, model.Identity] = {
            name: runner._identity_for(name) for name in identities}
        self._clock = model.now_micros()
        self._proc = subprocess.Popen([str(_sim_binary())], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True)
        outcome = self._call_raw("init", self.identity(runner.OWNER), b"")
        assert not isinstance(outcome, str), f"init refused: {outcome}"

    def identity(self, name: str) -> model.Identity:
        try:
            return self._ids[name]
        except KeyError:
            raise self._runner.ScenarioError(f"unknown identity {name!r}") from None

    def _exchange(self, line: str) -> list[str]:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(line + "\n")
        self._proc.stdin.flush()
        answer: list[str] = []
        while (got := self._proc.stdout.readline()) != "end\n":
            if not got:
                raise AssertionError(f"spaces-sim stopped on {line[:80]!r}")
            answer.append(got.rstrip("\n"))
        return answer

    def _call_raw(self, reducer: str, caller: model.Identity, args: bytes) -> object:
        from spacesd.store import Changes, TableChanges

        self._clock += 1000
        answer = self._exchange(f"call {reducer} {caller.hex} {self._clock} {args.hex()}")
        if answer[0].startswith("err "):
            return bytes.fromhex(answer[0][4:]).decode()
        assert answer[0] == "ok", answer[0]
        changes = Changes()
        for line in answer[1:]:
            kind, table, row = line.split(" ")
            if table in MODULE_ONLY_TABLES:
                continue  # what clients never see
            part = changes.tables.setdefault(table, TableChanges())
            decoded = self._bsatn.decode_row(table, bytes.fromhex(row))
            (part.inserts if kind == "ins" else part.deletes).append(decoded)
        return changes

    def call(self, caller: str, reducer: str, json_args: list[object]) -> object:
        from spacesd.engine import ReducerError, coerce_args

        try:
            args = coerce_args(reducer, list(json_args))
        except ReducerError as refusal:
            return refusal.message
        return self._call_raw(reducer, self.identity(caller),
                              self._bsatn.encode_args(reducer, args))

    def call_directly(self, caller: str, reducer: str) -> object:
        # A client's call of a lifecycle reducer: the host refuses it before the module runs
        # (SpacetimeDB's ReducerCallError::LifecycleReducer), so the module never sees it.
        from spacesd.engine import errors

        self.identity(caller)
        return errors.lifecycle_reducer(reducer)

    def _all_rows(self, table: str) -> list[Any]:
        return [self._bsatn.decode_row(table, bytes.fromhex(line[4:]))
                for line in self._exchange(f"rows {table}")]

    def rows(self, table: str, viewer: str | None) -> list[Any]:
        # What the module's row-level security filters (module/src/visibility.rs) let
        # `viewer` see: the host evaluates their SQL; here `visible_rows` does, for the two
        # shapes they have.
        found = self._all_rows(table)
        filters = filters_by_table().get(table)
        if not filters:
            return found
        if viewer is None:
            raise self._runner.ScenarioError(f"{table} is private: a check of it needs \"as\"")
        return visible_rows(filters, found, self._all_rows, self.identity(viewer))

    def counts(self, viewer: str) -> dict[str, int]:
        return {t.name: len(self.rows(t.name, viewer)) for t in model.TABLES}

    def wait(self, millis: int) -> None:
        self._clock += millis * 1000  # the next call's timestamp (the sim has no scheduler)

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        self._proc.wait(timeout=30)


_FILTER_WHERE = re.compile(r"SELECT \* FROM (\w+) WHERE (\w+) = :sender", re.I)
_FILTER_JOIN = re.compile(
    r"SELECT (\w+)\.\* FROM (\w+) JOIN (\w+) ON (\w+)\.(\w+) = (\w+)\.(\w+) "
    r"WHERE (\w+)\.(\w+) = :sender", re.I)


def visible_rows(filters: list[str], rows: list[Any], table_rows: Callable[[str], list[Any]],
                 sender: model.Identity) -> list[Any]:
    """The rows that at least one of a table's filters admits for `sender` (filters are
    OR-ed). Evaluates the two shapes the module uses; any other fails the test."""
    admitted: set[int] = set()
    for sql in filters:
        if m := _FILTER_WHERE.fullmatch(sql):
            column = m.group(2)
            admitted |= {i for i, r in enumerate(rows) if getattr(r, column) == sender}
        elif m := _FILTER_JOIN.fullmatch(sql):
            selected, narrowed = m.group(1), m.group(2)
            on = {m.group(4): m.group(5), m.group(6): m.group(7)}
            assert selected == m.group(3) and set(on) == {narrowed, selected}, sql
            assert m.group(8) == narrowed, f"the WHERE must test the FROM table: {sql}"
            keys = {getattr(r, on[narrowed]) for r in table_rows(narrowed)
                    if getattr(r, m.group(9)) == sender}
            admitted |= {i for i, r in enumerate(rows) if getattr(r, on[selected]) in keys}
        else:
            pytest.fail(f"a filter of a shape the test cannot evaluate: {sql}")
    return [r for i, r in enumerate(rows) if i in admitted]


def test_visibility_filters_admit_what_the_model_says() -> None:
    a, b, c = (model.Identity(n) for n in (1, 2, 3))
    conversations = [model.DirectConversation(1, a, b, 0, 0),
                     model.DirectConversation(2, b, c, 0, 0)]
    messages = [model.DirectMessage(10, 1, a, "x", 0, None, False),
                model.DirectMessage(11, 2, c, "y", 0, None, False)]
    notes = [model.SystemNotification(5, a, "t", "b", 0),
             model.SystemNotification(6, c, "t", "b", 0)]
    tables: dict[str, list[Any]] = {"direct_conversation": conversations,
                                    "direct_message": messages, "system_notification": notes}
    filters = filters_by_table()
    for who, conv_ids, msg_ids, note_ids in ((a, {1}, {10}, {5}), (b, {1, 2}, {10, 11}, set()),
                                             (c, {2}, {11}, {6})):
        def seen(table: str, viewer: model.Identity = who) -> set[int]:
            return {r.id for r in visible_rows(filters[table], tables[table], tables.__getitem__,
                                               viewer)}
        assert seen("direct_conversation") == conv_ids
        assert seen("direct_message") == msg_ids
        assert seen("system_notification") == note_ids


def _scenario_ids() -> list[str]:
    path = ROOT / "tests" / "conformance"
    ids: list[str] = []
    for file in sorted(path.glob("*.json")):
        data = json.loads(file.read_text(encoding="utf-8"))
        ids += [f"{file.stem}::{s['name']}" for s in data["scenarios"]]
    return ids


# The first case builds spaces-sim (the spacetimedb crate with codegen): beyond the suite's
# default per-test timeout on a cold target.
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("scenario_id", _scenario_ids(), ids=_scenario_ids())
def test_module_reducers_pass_the_scenario(scenario_id: str) -> None:
    runner = _conformance_runner()
    scenario = next(s for s in runner.load_scenarios() if s.id == scenario_id)
    backend = SimBackend(runner, scenario.identities)
    try:
        runner.Run(backend, scenario).run()
    finally:
        backend.close()


def test_the_simulator_registers_every_table_and_reducer() -> None:
    # spaces-sim runs the module's registrations by their symbol names; a table or reducer
    # added to the module must be added there too (a misspelt one fails to link).
    text = (MODULE_DIR / "crates" / "spaces-sim" / "src" / "main.rs").read_text(encoding="utf-8")
    registered = set(re.findall(r'"__preinit__20_register_describer_(\w+)"', text))
    assert registered == set(rust_tables()) | set(rust_reducers())


def test_the_module_prunes_expired_write_keys_as_the_engine_does() -> None:
    # The same timeline on the module (spaces-sim, its btree range scan of created_at) and on
    # the engine: 20 keys, then a keyed write 8 days later deletes the 16 oldest, and a key
    # still inside the 7 days keeps its write from happening twice.
    from spacesd.engine import Engine, ReducerError, coerce_args
    from spacesd.store import Store

    runner = _conformance_runner()
    sim = SimBackend(runner, [runner.OWNER, "alice"])
    engine = Engine(Store(), sim.identity(runner.OWNER))
    engine.ensure_initialized()
    alice = sim.identity("alice")
    hub_general = 1  # the hub's first channel, on a fresh database of either

    def both(reducer: str, args: list[object], ts: int) -> tuple[object, object]:
        sim._clock = ts - 1000  # _call_raw advances it by 1 ms first
        on_module = sim.call("alice", reducer, args)
        try:
            on_engine: object = engine.call(alice, reducer, coerce_args(reducer, args),
                                            timestamp=ts, host=reducer == "client_connected")
        except ReducerError as e:
            on_engine = e.message
        return on_module, on_engine

    def keys() -> tuple[list[str], list[str]]:
        return (sorted(k.key for k in sim._all_rows("write_key")),
                sorted(k.key for k in engine.store.rows("write_key")))

    try:
        t0 = model.now_micros()
        both("client_connected", [], t0)
        for i in range(model.WRITE_KEY_PRUNE + 4):
            both("send_message_keyed", [f"old-{i}", hub_general, f"m{i}", None, None, "Text"],
                 t0 + 1000 * (i + 1))
        on_module, on_engine = keys()
        assert len(on_module) == len(on_engine) == 20 and on_module == on_engine
        later = t0 + (model.WRITE_KEY_TTL_S + 86_400) * 1_000_000
        both("send_message_keyed", ["new", hub_general, "new", None, None, "Text"], later)
        on_module, on_engine = keys()
        assert on_module == on_engine and len(on_module) == 5
        again = both("send_message_keyed", ["new", hub_general, "new", None, None, "Text"],
                     later + 1000)
        assert all(not getattr(c, "tables", None) for c in again), again  # nothing written
    finally:
        sim.close()
