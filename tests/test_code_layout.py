"""The source tree keeps the shape docs/architecture.md describes, checked by reading it (the `ast`
module, nothing third-party, nothing imported or run):

- no function or method over 80 lines (``def`` to its last line), anywhere but migrations/ and the
  generated stubs in service/api/gen/;
- no import cycle among the ``veriframe.*`` modules;
- the layers: the verifier's transparency material knows neither SQLAlchemy nor the service, the SDK
  knows nothing of the server's insides, safety/ and provenance/ are libraries that know nothing of
  the service, and nothing below the server calls up into it or the CLIs;
- every ``docs/<name>.md`` that the code points a reader to exists.

What counts as an import edge: every ``import`` and ``from ... import`` statement in a module, at any
depth (inside functions too: a lazy import still runs, later), except those under
``if TYPE_CHECKING:``, which never run. Those are left out of the cycle check only; the layering check
counts them too (a layer should not even name what it must not depend on). ``from P import name`` is an
edge to the module ``P.name`` when there is one, else to ``P``; ``import a.b.c`` is an edge to
``a.b.c``. The parents' ``__init__`` run first on any submodule import, but Python imports a submodule
of a partly initialised package fine, so that implicit step is not an edge: a package ``__init__``
that re-exports its submodules is a cycle only if a submodule imports a name from the package itself.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# setup.py's package-dir: the import name of each top-level folder.
PACKAGE_DIRS = {
    "veriframe": "veriframe",
    "veriframe.service": "service",
    "veriframe.safety": "safety",
    "veriframe.provenance": "provenance",
    "veriframe.migrations": "migrations",
}
MAX_FUNCTION_LINES = 80
# Where long functions are allowed: Alembic migrations (one schema step each) and protoc's output.
LONG_FUNCTIONS_ALLOWED = ("migrations/", "service/api/gen/")
NOT_SOURCE = {".git", ".venv", "build", "dist", "__pycache__", "node_modules", "veriframe-demo"}


@dataclass(frozen=True)
class Import:
    target: str  # the module it names, e.g. "sqlalchemy.orm" or "veriframe.service.db"
    line: int
    type_checking: bool  # under `if TYPE_CHECKING:` (never runs)


def _python_files() -> list[Path]:
    """Every .py file of the repository (tests, tools and bench included), not the venv or builds."""
    files = []
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        if any(p in NOT_SOURCE or p.startswith(".") or p.endswith(".egg-info") for p in parts[:-1]):
            continue
        files.append(path)
    return files


def _modules() -> dict[str, Path]:
    """`veriframe.*` module name -> file, through the package-dir mapping."""
    modules: dict[str, Path] = {}
    for package, folder in PACKAGE_DIRS.items():
        base = ROOT / folder
        for path in sorted(base.rglob("*.py")):
            rel = path.relative_to(base).with_suffix("").parts
            if any(part in NOT_SOURCE for part in rel):
                continue
            if rel[-1] == "__init__":
                rel = rel[:-1]
            if package == "veriframe" and rel:  # veriframe/ holds only the root __init__
                continue
            modules[".".join((package, *rel))] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(module: str, path: Path, known: set[str]) -> list[Import]:
    """Every import in the file, resolved to module names (relative imports against `module`)."""
    is_package = path.name == "__init__.py"
    found: list[Import] = []

    def resolve_from(node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        parts = module.split(".")
        base = parts if is_package else parts[:-1]
        base = base[: len(base) - (node.level - 1)]
        return ".".join([*base, *([node.module] if node.module else [])])

    def visit(node: ast.AST, type_checking: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, True)
            for child in node.orelse:
                visit(child, type_checking)
            return
        if isinstance(node, ast.Import):
            found.extend(Import(alias.name, node.lineno, type_checking) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = resolve_from(node)
            for alias in node.names:
                candidate = f"{source}.{alias.name}"
                target = candidate if candidate in known else source
                found.append(Import(target, node.lineno, type_checking))
        for child in ast.iter_child_nodes(node):
            visit(child, type_checking)

    visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)), False)
    return found


@pytest.fixture(scope="module")
def imports() -> dict[str, list[Import]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _where(module: str) -> str:
    for package, folder in sorted(PACKAGE_DIRS.items(), key=lambda kv: -len(kv[0])):
        if _in(module, package):
            return folder + module[len(package) :].replace(".", "/")
    return module


# ------------------------------------------------------------------------------- pointers to the docs

def test_every_docs_reference_in_the_code_exists():
    """Module docstrings and comments that send a reader to docs/<name>.md point to a file that exists."""
    missing = []
    for path in _python_files():
        text = path.read_text(encoding="utf-8")
        for number, line in enumerate(text.splitlines(), 1):
            for ref in re.findall(r"\bdocs/[\w./-]*?\.md\b", line):
                if not (ROOT / ref).is_file():
                    missing.append(f"{path.relative_to(ROOT).as_posix()}:{number} {ref}")
    assert not missing, "references to docs that do not exist: " + "; ".join(missing)


# ------------------------------------------------------------------------------------ function length

def _long_functions(files: list[Path], root: Path = ROOT) -> list[str]:
    found = []
    for path in files:
        rel = path.relative_to(root).as_posix()
        if rel.startswith(LONG_FUNCTIONS_ALLOWED):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=rel)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1  # type: ignore[operator]
                if length > MAX_FUNCTION_LINES:
                    found.append(f"{rel}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_no_function_is_longer_than_80_lines():
    files = _python_files()
    assert len(files) > 100, f"found only {len(files)} Python files under {ROOT}: is the walk wrong?"
    long = _long_functions(files)
    assert not long, (
        f"functions over {MAX_FUNCTION_LINES} lines (split them along their steps): " + "; ".join(long)
    )


def test_the_length_check_finds_a_long_function(tmp_path):
    """The check itself: an 81-line function is reported, an 80-line one is not."""
    body = "\n".join(f"    x{i} = {i}" for i in range(79))
    (tmp_path / "long.py").write_text(f"def long():\n{body}\n    return 0\n")
    (tmp_path / "ok.py").write_text(f"def ok():\n{body}\n")
    found = _long_functions([tmp_path / "long.py", tmp_path / "ok.py"], root=tmp_path)
    assert found == ["long.py:1 long (81 lines)"]


# ---------------------------------------------------------------------------------------- import cycles

def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (or a module importing itself),
    Tarjan's algorithm, iterative (the graph has hundreds of modules)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph.get(node, ()):
                    components.append(sorted(component))
    return components


def _a_cycle(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """The shortest closed path through the component's first module, to name in the message:
    a -> b -> ... -> a (breadth-first inside the component)."""
    members, start = set(component), component[0]
    previous: dict[str, str | None] = {start: None}
    queue = [start]
    for node in queue:
        for child in sorted(graph[node] & members):
            if child == start:
                path = [node]
                while (before := previous[path[-1]]) is not None:
                    path.append(before)
                return [*reversed(path), start]
            if child not in previous:
                previous[child] = node
                queue.append(child)
    return [start, start]


def _runtime_graph(imports: dict[str, list[Import]]) -> dict[str, set[str]]:
    """veriframe module -> the veriframe modules it imports when it runs (TYPE_CHECKING left out)."""
    graph: dict[str, set[str]] = {}
    for module, found in imports.items():
        graph[module] = {i.target for i in found if i.target in imports and not i.type_checking}
        graph[module].discard(module)
    return graph


# Cycles that must wait, each listed exactly with why, so a new cycle, or a new module joining one of
# these, still fails, and an entry that no longer holds must be removed. Fix: move the shared piece down.
KNOWN_CYCLES: set[frozenset[str]] = set()  # none left; a cycle that must wait is listed here, with why


def test_there_is_no_import_cycle(imports):
    assert len(imports) > 100, f"found only {len(imports)} veriframe modules: is the package-dir map right?"
    graph = _runtime_graph(imports)
    found = _cycles(graph)
    new = [" -> ".join(_a_cycle(graph, c)) for c in found if frozenset(c) not in KNOWN_CYCLES]
    assert not new, "import cycles (move the shared piece down a layer, or pass it in): " + "; ".join(new)
    gone = [sorted(c) for c in KNOWN_CYCLES if list(sorted(c)) not in found]
    assert not gone, f"no longer cycles, remove them from KNOWN_CYCLES: {gone}"


def test_the_cycle_check_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c", "a2"}, "c": {"a"}, "a2": {"b"}, "d": {"a"}, "e": set()}
    assert _cycles(graph) == [["a", "a2", "b", "c"]]
    assert _a_cycle(graph, ["a", "a2", "b", "c"]) == ["a", "b", "c", "a"]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_imports_resolve_relative_and_submodule_forms(tmp_path):
    source = tmp_path / "m.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "from . import sibling\n"
        "from ..other import thing\n"
        "import veriframe.service.db\n"
        "if TYPE_CHECKING:\n"
        "    from veriframe.service.server import app\n"
        "def f():\n"
        "    import sqlalchemy.orm\n"
    )
    known = {"pkg.sub.sibling", "pkg.other", "veriframe.service.db", "veriframe.service.server.app"}
    found = {(i.target, i.type_checking) for i in _imports("pkg.sub.m", source, known)}
    assert found == {
        ("typing", False),
        ("pkg.sub.sibling", False),
        ("pkg.other", False),
        ("veriframe.service.db", False),
        ("veriframe.service.server.app", True),
        ("sqlalchemy.orm", False),
    }


# ------------------------------------------------------------------------------------------- layering

# (the importing package, the packages it must not import, why)
LAYERS = [
    ("veriframe.provenance.transparency", ("sqlalchemy", "veriframe.service"),
     "a verifier's Merkle proofs and checkpoints need neither a database nor the server"),
    ("veriframe.service.client",
     (*(f"veriframe.service.{inner}" for inner in ("server", "db", "store", "flow")), "sqlalchemy"),
     "the SDK talks to the service only through its public API"),
    ("veriframe.safety", ("veriframe.service", "grpc"), "screening is a library: the service calls it"),
    ("veriframe.provenance", ("veriframe.service", "grpc"), "marking and verifying are a library"),
] + [
    (lower, ("veriframe.service.server", "veriframe.service.cli"),
     "nothing below the server calls up into it or into the command line")
    for lower in ("veriframe.service.store", "veriframe.service.db", "veriframe.service.flow",
                  "veriframe.service.engine", "veriframe.service.ledger", "veriframe.service.admin",
                  "veriframe.service.worker")
]


def _layer_violations(imports: dict[str, list[Import]]) -> list[str]:
    found = []
    for package, forbidden, why in LAYERS:
        for module, module_imports in sorted(imports.items()):
            if not _in(module, package):
                continue
            for i in module_imports:
                if any(_in(i.target, f) for f in forbidden):
                    found.append(f"{_where(module)}.py:{i.line} imports {i.target} ({package}: {why})")
    return found


def test_layers_only_import_downwards(imports):
    for package, _, _ in LAYERS:
        assert any(_in(m, package) for m in imports), f"{package} is not in the tree: update LAYERS"
    violations = _layer_violations(imports)
    assert not violations, "layering broken: " + "; ".join(violations)


def test_the_layer_check_names_the_offender():
    imports = {
        "veriframe.service.flow.submit": [Import("veriframe.service.server.context", 7, False)],
        "veriframe.provenance.transparency.merkle": [Import("sqlalchemy", 3, True)],
        "veriframe.service.server.app": [Import("veriframe.service.flow.workflow", 9, False)],
    }
    violations = _layer_violations(imports)
    assert len(violations) == 2
    assert violations[0].startswith("provenance/transparency/merkle.py:3 imports sqlalchemy")
    assert violations[1].startswith("service/flow/submit.py:7 imports veriframe.service.server.context")
