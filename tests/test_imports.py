"""The import graph of rulecheck: no circle among its modules, no private name imported across modules, and
nothing imported up from the language layer (dsl/) or the documents (model/).

The graph is read from the source with `ast`, not by importing: every `import` and `from ... import` counts,
at module level or inside a function (a deferred import still ties the two modules together). Importing a
submodule does not count as importing its parent package's `__init__`; importing the package itself
(`import rulecheck`, `from rulecheck import __version__`) does.
"""

from __future__ import annotations

import ast
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Known offenders, none since issue 25: a circle would be named by its modules, sorted, a private import as
# "importer -> module.name". Nothing is to be added here: an offender is fixed, not listed.
KNOWN: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Import:
    """One imported module (and, for `from m import n`, the name n when n is not itself a module)."""

    importer: str
    module: str
    name: str | None
    line: int


def modules_of(root: Path, package: str) -> dict[str, Path]:
    """Every module of the package under root: {dotted name: file}."""
    out = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _base_of(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    parts = importer.split(".")
    if not is_package:
        parts.pop()
    parts = parts[: len(parts) - (node.level - 1)]
    return ".".join(parts + ([node.module] if node.module else []))


def imports_of(root: Path, package: str) -> list[Import]:
    """Every import of a package module by a package module, at any depth of the file."""
    modules = modules_of(root, package)
    out = []
    for importer, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                out += [Import(importer, alias.name, None, node.lineno)
                        for alias in node.names if alias.name in modules]
            elif isinstance(node, ast.ImportFrom):
                base = _base_of(importer, is_package, node)
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    if sub in modules:
                        out.append(Import(importer, sub, None, node.lineno))
                    elif base in modules:
                        out.append(Import(importer, base, alias.name, node.lineno))
    return out


def graph_of(imports: list[Import]) -> dict[str, set[str]]:
    """{module: the modules it imports}, a module's imports of itself left out."""
    graph: dict[str, set[str]] = {}
    for imp in imports:
        graph.setdefault(imp.importer, set())
        if imp.module != imp.importer:
            graph[imp.importer].add(imp.module)
    return graph


def circles(graph: dict[str, set[str]]) -> list[tuple[str, ...]]:
    """The strongly connected components of more than one module (Tarjan), each sorted; sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(start: str) -> None:
        # iterative, so that a deep graph does not meet the recursion limit
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for succ in successors:
                if succ not in index:
                    index[succ] = low[succ] = len(index)
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(graph.get(succ, ())))))
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            else:
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
                    if len(component) > 1:
                        found.append(tuple(sorted(component)))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(found)


def private_imports(imports: list[Import]) -> list[Import]:
    """`from m import _name` where m is another module and _name is private (one leading underscore)."""
    return [imp for imp in imports
            if imp.name and imp.name.startswith("_") and not imp.name.startswith("__")
            and imp.module != imp.importer]


def circle_name(circle: tuple[str, ...]) -> str:
    return " <-> ".join(circle)


def private_name(imp: Import) -> str:
    return f"{imp.importer} -> {imp.module}.{imp.name}"


# --- the project -------------------------------------------------------------------------------------------

def _project_imports() -> list[Import]:
    return imports_of(ROOT, "rulecheck")


def test_no_import_circles():
    graph = graph_of(_project_imports())
    new = [c for c in circles(graph) if circle_name(c) not in KNOWN]
    assert not new, "import circles among rulecheck modules:\n" + "\n".join(
        f"  {circle_name(c)}\n    " + "\n    ".join(
            f"{m} imports {', '.join(sorted(graph[m] & set(c)))}" for m in c) for c in new)


def test_no_private_name_imported_across_modules():
    new = [imp for imp in private_imports(_project_imports()) if private_name(imp) not in KNOWN]
    assert not new, "private names imported across modules:\n" + "\n".join(
        f"  {private_name(imp)}  (line {imp.line} of {imp.importer})" for imp in new)


# the language layer and the documents below it: what each may import besides itself (one-way arrows)
BELOW = {
    "rulecheck.dsl": ("rulecheck.dsl", "rulecheck.model", "rulecheck.citations", "rulecheck.diagnostics",
                      "rulecheck.limits", "rulecheck.version", "rulecheck.vocabulary"),
    "rulecheck.model": ("rulecheck.model", "rulecheck.diagnostics", "rulecheck.limits"),
}


def upward(imports: list[Import], below: dict[str, tuple[str, ...]]) -> list[Import]:
    """Imports by a module of a lower layer of a module outside what that layer may import."""
    def within(module: str, prefixes: tuple[str, ...]) -> bool:
        return any(module == p or module.startswith(p + ".") for p in prefixes)

    return [imp for imp in imports for layer, allowed in below.items()
            if within(imp.importer, (layer,)) and not within(imp.module, allowed)]


def test_the_language_layer_imports_nothing_above_it():
    """dsl/ (and model/ beneath it) never import the engine, the rule tests' runner, the report or the shells."""
    found = upward(_project_imports(), BELOW)
    assert not found, "imports up from a lower layer:\n" + "\n".join(
        f"  {imp.importer} imports {imp.module} (line {imp.line})" for imp in found)


def test_known_offenders_are_still_offending():
    """An entry of KNOWN that no longer offends is stale: take it out, so that it cannot come back unseen."""
    imports = _project_imports()
    now = {circle_name(c) for c in circles(graph_of(imports))} | {private_name(i) for i in private_imports(imports)}
    assert not KNOWN - now, f"stale KNOWN entries: {sorted(KNOWN - now)}"


# --- the graph functions on a made-up package --------------------------------------------------------------

def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


def test_a_straight_package_has_no_circle(tmp_path):
    root = _package(tmp_path, {
        "__init__.py": "",
        "low.py": "import os\n",
        "mid.py": "from pkg.low import thing\n",
        "sub/__init__.py": "",
        "sub/top.py": "from ..mid import other\nfrom pkg import low\n",
    })
    imports = imports_of(root, "pkg")
    assert graph_of(imports) == {"pkg.mid": {"pkg.low"}, "pkg.sub.top": {"pkg.mid", "pkg.low"}}
    assert circles(graph_of(imports)) == []
    assert private_imports(imports) == []


def test_a_circle_through_a_function_level_import_is_found(tmp_path):
    root = _package(tmp_path, {
        "__init__.py": "",
        "a.py": "from pkg.b import f\n",
        "b.py": "def f():\n    from .c import g\n    return g()\n",
        "c.py": "def g():\n    import pkg.a\n",
        "d.py": "from pkg import a\n",
    })
    assert circles(graph_of(imports_of(root, "pkg"))) == [("pkg.a", "pkg.b", "pkg.c")]


def test_importing_the_package_facade_counts(tmp_path):
    root = _package(tmp_path, {
        "__init__.py": "def run():\n    from pkg.engine import run\n",
        "engine.py": "from pkg import __version__\n",
    })
    assert circles(graph_of(imports_of(root, "pkg"))) == [("pkg", "pkg.engine")]


def test_an_upward_import_is_found(tmp_path):
    root = _package(tmp_path, {
        "__init__.py": "",
        "engine.py": "from pkg.dsl import rules\n",
        "dsl/__init__.py": "",
        "dsl/rules.py": "def run():\n    from pkg.dsl.parser import parse\n    from ..engine import check\n",
        "dsl/parser.py": "",
    })
    found = upward(imports_of(root, "pkg"), {"pkg.dsl": ("pkg.dsl",)})
    assert [(i.importer, i.module) for i in found] == [("pkg.dsl.rules", "pkg.engine")]


def test_a_private_name_across_modules_is_found_and_a_dunder_is_not(tmp_path):
    root = _package(tmp_path, {
        "__init__.py": "__version__ = '1'\n",
        "a.py": "_x = 1\n",
        "b.py": "from pkg.a import _x\nfrom pkg import __version__\n",
        "sub/__init__.py": "",
        "sub/c.py": "def f():\n    from ..a import _x as y\n",
    })
    assert sorted(private_name(i) for i in private_imports(imports_of(root, "pkg"))) == [
        "pkg.b -> pkg.a._x", "pkg.sub.c -> pkg.a._x"]


def test_a_circle_added_to_the_project_is_caught(tmp_path):
    """The project's own graph, with one deferred import added low down that reaches back up: a new circle."""
    shutil.copytree(ROOT / "rulecheck", tmp_path / "rulecheck", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    values = tmp_path / "rulecheck" / "dsl" / "values.py"
    values.write_text(values.read_text(encoding="utf-8") + "\n\ndef _late():\n    from rulecheck.engine import check\n",
                      encoding="utf-8")
    new = [c for c in circles(graph_of(imports_of(tmp_path, "rulecheck"))) if circle_name(c) not in KNOWN]
    assert any("rulecheck.dsl.values" in c and "rulecheck.engine" in c for c in new), new


def test_the_architecture_picture_names_every_module():
    """docs/architecture.md keeps its picture true: every module of rulecheck/ is named there (a new module is
    placed in its layer when it is added), and it names no module that is gone."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    modules = {p.relative_to(ROOT / "rulecheck").with_suffix("").as_posix()
               for p in (ROOT / "rulecheck").rglob("*.py") if p.name not in ("__init__.py", "__main__.py")}
    missing = sorted(m for m in modules if not re.search(rf"(?<!\w){re.escape(m.split('/')[-1])}(\.py)?\b", text))
    assert not missing, f"modules docs/architecture.md does not place in a layer: {missing}"
    named = set(re.findall(r"`(?:dsl|model|report|service)/(\w+)\.py`|\b(\w+)\.py\b", text))
    gone = sorted(n for pair in named for n in pair
                  if n and not any(list((ROOT / top).rglob(f"{n}.py")) for top in ("rulecheck", "tests", "docs")))
    assert not gone, f"docs/architecture.md names modules that do not exist: {gone}"
