"""The shape of the code, read from the source with `ast`: the import graph of `spacesd` has no
cycle (imports for annotations only, under `if TYPE_CHECKING:`, are not part of it: they never
run), and `spacesd/stdb/` is a pure SpacetimeDB client (the data model, the standard library,
and websockets in its asyncio shell only; never the daemon, not even for annotations)."""

from __future__ import annotations

import ast
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "spacesd"

KNOWN_CYCLES: list[set[str]] = []

STDB_ALLOWED = {"spacesd.model"}
"""What spacesd/stdb/ may import from the rest of spacesd."""
STDB_THIRD_PARTY = {
    "spacesd.stdb.connection": {"websockets"},  # the asyncio shell
    "spacesd.stdb.messages": {"brotli"},  # optional, for a brotli frame, when installed
}
"""Third-party packages a module of spacesd/stdb/ may import."""


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _type_checking_only(tree: ast.AST) -> set[int]:
    """The ids of the nodes under `if TYPE_CHECKING:` (imports for annotations: never run)."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and (
                (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
                or (isinstance(node.test, ast.Attribute) and node.test.attr == "TYPE_CHECKING")):
            for child in node.body:
                skipped.update(id(n) for n in ast.walk(child))
    return skipped


def imported_names(name: str, path: Path, known: dict[str, Path], *,
                   type_checking: bool = True) -> set[str]:
    """Every module `name` imports, anywhere in the file (top level, in a function, and,
    with `type_checking`, under `if TYPE_CHECKING:`): `from a import b` counts as `a.b` when
    that is a module, else `a`."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = set() if type_checking else _type_checking_only(tree)
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:
                full = f"{module}.{alias.name}"
                out.add(full if full in known else module)
    return out


def import_graph() -> dict[str, set[str]]:
    """Who imports whom when the code runs (at import time or later, in a function); an
    import for annotations only (`if TYPE_CHECKING:`) is not an edge."""
    known = modules()
    return {name: {m for m in imported_names(name, path, known, type_checking=False)
                   if m in known and m != name}
            for name, path in known.items()}


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components with more than one module (Tarjan), and modules
    that import themselves."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component: set[str] = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_cycles_finds_a_circle_and_nothing_else() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [{"a", "b", "c"}]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_import_graph_has_no_cycle() -> None:
    graph = import_graph()
    assert "spacesd.daemon.spacetimedb" in graph["spacesd.daemon.main"]  # the graph is read
    assert "spacesd.daemon.server" not in graph["spacesd.daemon.ops"]  # annotations only
    unexpected = [c for c in cycles(graph) if c not in KNOWN_CYCLES]
    assert unexpected == [], f"import cycles: {unexpected}"


def test_stdb_is_a_pure_client() -> None:
    """spacesd/stdb/ imports the data model, itself, the standard library, and websockets in
    the asyncio shell: never the daemon, the engine or the store."""
    known = modules()
    problems: list[str] = []
    for name, path in known.items():
        if not (name == "spacesd.stdb" or name.startswith("spacesd.stdb.")):
            continue
        third_party = STDB_THIRD_PARTY.get(name, set())
        for imported in sorted(imported_names(name, path, known)):
            top = imported.split(".")[0]
            if imported.startswith("spacesd.stdb") or imported in STDB_ALLOWED:
                continue
            if top == "__future__" or top in sys.stdlib_module_names or top in third_party:
                continue
            problems.append(f"{name} imports {imported}")
    assert problems == []


def test_the_protocol_does_no_io() -> None:
    """The sans-I/O protocol object imports neither sockets nor an event loop."""
    known = modules()
    imported = imported_names("spacesd.stdb.protocol", known["spacesd.stdb.protocol"], known)
    assert not {m.split(".")[0] for m in imported} & {"asyncio", "socket", "websockets", "ssl",
                                                       "selectors"}
    assert "spacesd.stdb.connection" not in imported


def top_level_names(path: Path) -> set[str]:
    """The classes, functions and variables a module defines at its top level."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def test_one_name_one_meaning() -> None:
    """Names that once meant two things in two modules are defined in one module each."""
    where: dict[str, list[str]] = {}
    for name, path in modules().items():
        for defined in top_level_names(path):
            where.setdefault(defined, []).append(name)
    assert where["Connection"] == ["spacesd.stdb.connection"]  # the daemon's: IpcConnection
    assert where["Compression"] == ["spacesd.stdb.messages"]  # the choice: CompressionChoice
    assert where["ReducerInternalError"] == ["spacesd.stdb.messages"]  # raised: ReducerHostError
    assert where["V2_PROTOCOL"] == ["spacesd.stdb.messages"]


MAX_FUNCTION_LINES = 80


def long_functions(source: str, limit: int = MAX_FUNCTION_LINES) -> list[tuple[str, int]]:
    """Every function or method (nested ones too) longer than `limit` lines, from its `def`
    line to its last line, with its length."""
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            assert node.end_lineno is not None
            length = node.end_lineno - node.lineno + 1
            if length > limit:
                found.append((f"{node.name} (line {node.lineno})", length))
    return found


def test_long_functions_are_found() -> None:
    def function(name: str, lines: int) -> str:
        return f"def {name}():\n" + "".join(f"    x = {i}\n" for i in range(lines - 1))

    assert long_functions(function("ok", 80)) == []
    method = "class A:\n" + textwrap.indent(function("m", 81), "    ")
    assert long_functions(method) == [("m (line 2)", 81)]


def test_no_function_over_80_lines() -> None:
    too_long = {f"{path.relative_to(ROOT)}: {name}": n
                for path in sorted(PACKAGE.rglob("*.py"))
                for name, n in long_functions(path.read_text(encoding="utf-8"))}
    assert too_long == {}
