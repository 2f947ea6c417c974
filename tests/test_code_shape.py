"""The code's shape, measured: no function in rulecheck/ above a cyclomatic complexity of 25 (radon, the measure
issue 25 names), nested functions and methods included. A function that grows past it is split by job, as
dsl/rules.py, the planner and the emitters were; the bound is not raised."""

from __future__ import annotations

from pathlib import Path

from radon.complexity import cc_visit
from radon.visitors import Class

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 25


def _functions(blocks):
    for block in blocks:
        if isinstance(block, Class):
            yield from _functions(block.methods)
            yield from _functions(block.inner_classes)
        else:
            yield block
            yield from _functions(block.closures)


def complexities(package: Path) -> list[tuple[int, str, str]]:
    """(complexity, file, function) of every function, method and nested function under `package`."""
    found = set()  # radon lists a method's nested function under both: once each here
    for path in sorted(package.rglob("*.py")):
        for block in _functions(cc_visit(path.read_text(encoding="utf-8"))):
            found.add((block.complexity, path.relative_to(package.parent).as_posix(), block.fullname))
    return sorted(found)


def test_no_function_is_above_the_complexity_bound():
    over = sorted((entry for entry in complexities(ROOT / "rulecheck") if entry[0] > LIMIT), reverse=True)
    assert not over, f"functions above cyclomatic complexity {LIMIT}:\n" + "\n".join(
        f"  {c:3d}  {path}  {name}" for c, path, name in over)


def test_the_measure_sees_a_complex_function(tmp_path):
    """The bound can fail: a function of 30 branches, nested in a class, is found."""
    package = tmp_path / "pkg"
    package.mkdir()
    branches = "\n".join(f"            if x == {n}:\n                return {n}" for n in range(30))
    (package / "m.py").write_text(f"class C:\n    def f(self, x):\n        def g():\n{branches}\n        return g\n",
                                  encoding="utf-8")
    assert [(c, name) for c, _, name in complexities(package) if c > LIMIT] == [(31, "g")]
