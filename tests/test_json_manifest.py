"""A manifest written as JSON is read by the C JSON parser with its lines found in one vectorised pass
(rulecheck.model.sources.json_with_lines): it must give exactly what the line-tracking YAML loader gives
(values, types, the line of every mapping, key and item), and leave every error, limit and refusal to it."""

from __future__ import annotations

import datetime
import json
import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from fuzz_support import budget
from rulecheck import limits
from rulecheck.cli import cli
from rulecheck.model import sources
from rulecheck.model.submission import load_submission
from rulecheck.model.sources import LocDict, LocList, json_with_lines, load_yaml

ROOT = Path(__file__).resolve().parents[1]
MANIFESTS = sorted((ROOT / "fixtures").glob("*/submission.yaml"))


def yaml_reading(text: str):
    """What the line-tracking YAML loader makes of the text (the reference), or its error as a diagnostic."""
    try:
        with sources.no_gc():
            return sources.load_yaml_with(sources._LineLoader, text)[0], None
    except yaml.YAMLError as exc:
        return None, exc


def assert_same(fast, slow, path="$"):
    assert type(fast) is type(slow), f"{path}: {type(fast).__name__} != {type(slow).__name__} ({fast!r:.60} / {slow!r:.60})"
    if isinstance(slow, LocDict):
        assert (fast.line, list(fast), fast.key_lines) == (slow.line, list(slow), slow.key_lines), path
        for key in slow:
            assert_same(fast[key], slow[key], f"{path}.{key}")
    elif isinstance(slow, LocList):
        assert (fast.line, fast.item_lines, len(fast)) == (slow.line, slow.item_lines, len(slow)), path
        for i, (a, b) in enumerate(zip(fast, slow)):
            assert_same(a, b, f"{path}[{i}]")
    else:
        assert fast == slow or (fast != fast and slow != slow), f"{path}: {fast!r} != {slow!r}"


def as_json(manifest: Path) -> object:
    return yaml.safe_load(manifest.read_text(encoding="utf-8"))


def dumps(value, style: str) -> str:
    default = lambda v: v.isoformat() if isinstance(v, (datetime.date, datetime.datetime)) else str(v)
    if style == "compact":
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=default)
    if style == "one line":
        return json.dumps(value, ensure_ascii=False, default=default)
    if style == "ascii, indent 4, CRLF":
        return json.dumps(value, indent=4, default=default).replace("\n", "\r\n") + "\r\n"
    if style == "tabs":
        return json.dumps(value, indent="\t", ensure_ascii=False, default=default)
    return json.dumps(value, indent=int(style), ensure_ascii=False, default=default) + "\n"


STYLES = ["compact", "one line", "1", "2", "ascii, indent 4, CRLF", "tabs"]


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda p: p.parent.name)
def test_every_fixture_as_json_reads_as_the_yaml_loader_reads_it(manifest, style):
    text = dumps(as_json(manifest), style)
    fast = json_with_lines(text)
    assert fast is not None, "the JSON path was not taken"
    slow, error = yaml_reading(text)
    assert error is None
    assert_same(fast, slow)
    assert load_yaml(text, "m.json") == (fast, [])


def test_numbers_read_as_yaml_1_1_reads_them():
    text = '{"a": 1.5, "b": 1.5e+3, "c": 1.5e3, "d": 1e5, "e": -0, "f": 1E-2, "g": NaN, "h": -Infinity, "i": 1.0e+400, "j": 12}'
    fast = json_with_lines(text)
    assert dict(fast) == {"a": 1.5, "b": 1500.0, "c": "1.5e3", "d": "1e5", "e": 0, "f": "1E-2", "g": "NaN",
                          "h": "-Infinity", "i": float("inf"), "j": 12}
    assert_same(fast, yaml_reading(text)[0])


def test_list_items_after_long_white_space_keep_their_lines():
    # more white space after a comma or a bracket than _json_structure steps over: found by the exact search
    value = {"a": [[1, {"b": [2, 3, []]}], [4], []], "c": [5, 6], "d": {"e": [[[7]]]}}
    for indent in (1, 40, sources._WHITE_STEPS + 1, 3 * sources._WHITE_STEPS):
        text = json.dumps(value, indent=indent)
        fast = json_with_lines(text)
        assert fast is not None, indent
        assert_same(fast, yaml_reading(text)[0])


def test_a_county_shaped_manifest_keeps_every_line():
    items = [{"right": f"R-{i}", "parcel_ids": [f"P-{j}" for j in range(i % 4)], "indicators": {"far_max": 1.25},
              "note": "县域 \"引号\" \\ 反斜杠 \u00e9"[: 5 + i % 16]} for i in range(300)]
    value = {"contracts": [{"id": f"C{c}", "items": items[c::7], "empty": {}, "none": []} for c in range(7)]}
    for style in STYLES:
        text = dumps(value, style)
        fast = json_with_lines(text)
        assert fast is not None, style
        assert_same(fast, yaml_reading(text)[0])


# JSON that YAML refuses or reads otherwise: the fast path steps aside and the YAML loader reports it, as before
NOT_FOR_THE_FAST_PATH = {
    "duplicate key": '{\n "a": 1,\n "a": 2\n}',
    "duplicate key deep": '{"a": [{"x": 1}, {"y": 1, "y": 2}]}',
    "escaped lone surrogate": '{"a": "\\ud800"}',
    "escaped surrogate pair": '{"a": "\\ud83d\\ude00"}',
    "key and colon on two lines": '{"a"\n: 1}',
    "key over 1024 characters": '{"' + "k" * 1100 + '": 1}',
    "tab before the document": '\t{"a": 1}',
    "tab after the document": '{"a": 1}\n\t\n',
    "a control character": '{"a": "x\x7fy"}',
    "NEL": '{"a": "x\x85y"}',
    "line separator": '{"a": "x\u2028y"}',
    "lone CR": '{"a": 1,\r"b": 2}',
    "not JSON": '{"a": 1,}',
    "two documents": '{"a": 1} {"b": 2}',
    "integer too long": '{"a": ' + "9" * 5000 + "}",
    "nested too deep": "[" * 70 + "]" * 70,
    "a scalar": '"just text"',
}


@pytest.mark.parametrize("text", NOT_FOR_THE_FAST_PATH.values(), ids=NOT_FOR_THE_FAST_PATH.keys())
def test_what_yaml_would_read_otherwise_goes_to_the_yaml_loader(text, monkeypatch):
    assert json_with_lines(text) is None
    got = load_yaml(text, "m.json")
    monkeypatch.setattr(sources, "json_with_lines", lambda text: None)
    assert load_yaml(text, "m.json") == got  # nothing changes: the YAML loader reads it (or says where it is wrong)


def test_duplicate_keys_are_refused_where_they_stand():
    data, problems = load_yaml('{\n "submission": {\n  "id": "A",\n  "id": "B"\n }\n}\n', "m.json")
    assert data is None
    assert [(p.line, p.column) for p in problems] == [(4, 3)]
    assert "duplicate key 'id' (first at line 3)" in problems[0].message


def test_the_node_limit_still_holds():
    text = json.dumps({"a": list(range(50)), "b": {str(i): i for i in range(30)}})
    assert json_with_lines(text) is not None
    with limits.override(max_yaml_nodes=100):
        assert json_with_lines(text) is None
        data, problems = load_yaml(text, "m.json")
    assert data is None and "max_yaml_nodes" in problems[0].message


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(10**30), 10**30),
              st.floats(allow_nan=False, allow_infinity=False),
              st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)),
    lambda inner: st.one_of(st.lists(inner, max_size=5),
                            st.dictionaries(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=8), inner, max_size=5)),
    max_leaves=40,
)


@budget(300)
@given(value=JSON_VALUES, style=st.sampled_from(STYLES), ascii=st.booleans())
def test_any_json_reads_as_yaml_reads_it_or_goes_to_yaml(value, style, ascii):
    text = dumps(value, style)
    if ascii:
        text = text.encode("ascii", "backslashreplace").decode("ascii") if style != "compact" else json.dumps(value)
    fast = json_with_lines(text)
    slow, error = yaml_reading(text)
    if fast is None:
        return  # the YAML loader reads it, whatever it makes of it
    assert error is None, f"the JSON path read what YAML refuses: {error}"
    assert_same(fast, slow)


def test_a_json_manifest_loads_the_same_submission_and_report(tmp_path, monkeypatch):
    """Through the CLI: the defects fixture written as JSON gives the same report (every record's source line
    included) whether the JSON path or the YAML loader reads it."""
    bundle = tmp_path / "bundle"
    shutil.copytree(ROOT / "fixtures" / "eco-recreation-defects", bundle)
    (bundle / "submission.json").write_text(dumps(as_json(bundle / "submission.yaml"), "2"), encoding="utf-8")
    from click.testing import CliRunner

    def report() -> str:
        out = tmp_path / "report.json"
        result = CliRunner().invoke(cli, ["check", str(bundle / "submission.json"), "--format", "json", "--output", str(out)])
        assert result.exit_code == 1, result.output
        return out.read_text(encoding="utf-8")

    def sources_of(submission) -> list:
        found = []
        for contract in submission.contracts:
            found += [contract._source, *(item._source for item in contract.items)]
        for package in submission.unit_plan.packages:
            found += [package._source, *(duty._source for duty in package.duties)]
        return found

    fast_report = report()
    fast = load_submission(bundle / "submission.json")
    monkeypatch.setattr(sources, "json_with_lines", lambda text: None)
    assert report() == fast_report
    slow = load_submission(bundle / "submission.json")
    assert sources_of(fast) == sources_of(slow) and len(sources_of(fast)) > 5
    assert fast.model_dump(exclude={"unit_plan", "detailed_plan"}) == slow.model_dump(exclude={"unit_plan", "detailed_plan"})
    assert fast.unit_plan.packages == slow.unit_plan.packages


# ---- the node-graph check of YAML manifests: a tree within the limits is passed in one breadth-first pass ----

GRAPHS = {
    "a tree": "a: [1, {b: c}, [d, e]]\nf: {g: [h]}\n",
    "an aliased scalar": "a: &x 1\nb: [*x, *x]\n",
    "an aliased mapping": "a: &m {k: v}\nb: [*m, *m]\n",
    "a merge key": "base: &b {x: 1}\nitem:\n  <<: *b\n  y: 2\n",
    "a self-reference": "a: &s [1, *s]\n",
    "an alias bomb": "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                     "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n",
    "deep": "a: " + "[" * 80 + "]" * 80 + "\n",
    "deep with an alias": "a: &z " + "[" * 30 + "]" * 30 + "\nb: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[*z]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n",
}


def graph_outcome(text: str):
    loader = sources._LineLoader(text)
    try:
        node = loader.get_single_node()
        sources.check_node_graph(node)
        return None
    except yaml.YAMLError as exc:
        mark = exc.problem_mark
        return str(exc.problem), (mark.line, mark.column) if mark else None
    finally:
        loader.dispose()


@pytest.mark.parametrize("limit", [0, 50, 1000])
@pytest.mark.parametrize("text", GRAPHS.values(), ids=GRAPHS.keys())
def test_the_graph_check_decides_as_its_exact_walk_does(text, limit, monkeypatch):
    with limits.override(max_yaml_nodes=limit, max_depth=64 if limit else 0):
        fast = graph_outcome(text)
        monkeypatch.setattr(sources, "_tree_within_limits", lambda *args: False)
        assert graph_outcome(text) == fast
    if limit == 50 and text in (GRAPHS["an alias bomb"], GRAPHS["a self-reference"]):
        assert fast is not None


def test_the_breadth_first_pass_takes_only_trees_within_the_limits():
    def tree_ok(text: str, depth: int = 64, nodes: int = 5_000_000) -> bool:
        loader = sources._LineLoader(text)
        try:
            return sources._tree_within_limits(loader.get_single_node(), depth, nodes)
        finally:
            loader.dispose()

    assert tree_ok(GRAPHS["a tree"]) and tree_ok(GRAPHS["an aliased scalar"])
    assert tree_ok(GRAPHS["a tree"], nodes=15) and not tree_ok(GRAPHS["a tree"], nodes=14)  # 15 values, keys counted
    assert tree_ok(GRAPHS["a tree"], depth=4) and not tree_ok(GRAPHS["a tree"], depth=3)
    for name in ("an aliased mapping", "a merge key", "a self-reference", "an alias bomb", "deep"):
        assert not tree_ok(GRAPHS[name]), name


# ---- YAML trees are built in one pass (construct_tree), as PyYAML's constructor builds them ------------------

TREES = {
    **{p.parent.name: p.read_text(encoding="utf-8") for p in MANIFESTS},
    "scalars": "a: 0701\nb: 2031-02-30\nc: 2026-03-01\nd: 1e5\ne: 1.5e+3\nf: .inf\ng: ~\nh: yes\ni: '0701'\nj: 0x1F\nk: 1_000\n",
    "tags": "a: !!str 12\nb: !!float 1\nc: !!set {x, y}\nd: !!omap [{k: v}]\ne: !!binary aGk=\nf: [!!int '7']\n",
    "a merge key": "item:\n  <<: {x: 1, z: 2}\n  y: 3\n",
    "nested": "a:\n  - b: [1, [2, [3, {c: [d]}]]]\n    e: {}\n  - []\n  - - x\n    - y\n",
    "aliased scalars": "a: &x 2026-03-01\nb: [*x, *x]\nc: &y text\nd: *y\n",
}
TREE_ERRORS = {
    "duplicate key": "a: 1\nb:\n  c: 1\n  c: 2\n",
    "an aliased key twice": "k: &k x\nm:\n  *k : 1\n  x: 2\n",
    "unhashable key": "? [1, 2]\n: x\n",
    "integer too long": "a: " + "9" * 5000 + "\n",
    "lone surrogate": 'a: "\\ud800"\n',
    "unknown tag": "a: !!python/object:os.system x\n",
    "merge tag as a value": "a: <<\n",
}


def built(text: str, fast: bool):
    loader = sources._LineLoader(text)
    try:
        node = loader.get_single_node()
        assert sources.check_node_graph(node) is True
        return sources.construct_tree(loader, node) if fast else loader.construct_document(node), None
    except yaml.YAMLError as exc:
        mark = exc.problem_mark
        return None, (str(exc.problem), (mark.line, mark.column) if mark else None)
    finally:
        loader.dispose()


@pytest.mark.parametrize("text", [*TREES.values(), *TREE_ERRORS.values()], ids=[*TREES, *TREE_ERRORS])
def test_a_yaml_tree_is_built_as_pyyaml_builds_it(text):
    fast, fast_error = built(text, fast=True)
    slow, slow_error = built(text, fast=False)
    assert fast_error == slow_error
    if slow_error is None:
        assert_same(fast, slow)
    else:
        assert text in TREE_ERRORS.values()


def test_load_yaml_builds_trees_in_one_pass(monkeypatch):
    calls = []
    monkeypatch.setattr(sources, "construct_tree", lambda loader, node: calls.append(node) or {})
    load_yaml(TREES["nested"], "m.yaml")
    load_yaml("a: &x [1]\nb: *x\n", "m.yaml")  # not a tree: PyYAML's constructor
    assert len(calls) == 1
