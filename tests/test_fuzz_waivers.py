"""Fuzzing waiver files: mutated YAML is read into waivers, or refused with located diagnostics."""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from hypothesis import given
from hypothesis import strategies as st

from fuzz_support import assert_located, budget
from rulecheck.diagnostics import InputError
from rulecheck.waivers import load_waivers

WAIVERS = """\
waivers:
  - rule: IND-002
    subjects: [C01/R07, P-0412]
    reason: 经规划委员会同意的过渡安排
    approver: 某县自然资源局
    basis: 县规委会2026年第3次会议纪要
    expires: 2027-06-30
  - rule: LAY-004
    subjects: P-0413
    reason: r
    approver: a
    basis: b
    expires: 2026-12-31
"""
VALUES = ["", "~", "[]", "{}", "1" * 5000, "9e999", ".inf", "2031-02-30", "2031-02-28T10:00:00", "&a x", "*a",
          "*undefined", "<<: {expires: 2031-02-30}", "<<: *a", "!!binary AAAA", "!!python/name:os.system", "[" * 80,
          "{a: " * 80, "\"\\ud800\"", "\"\\e[8m\"", "\x07", "- - -", "? [a]", "IND", "-", "[IND-002]", "{x: 1}"]
JSON = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10)),
                    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                    max_leaves=15)


@st.composite
def mutated(draw) -> str:
    lines = WAIVERS.splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.sampled_from(["value", "value", "line", "delete", "duplicate", "indent"]))
        if kind == "value" and ":" in lines[i]:
            key = lines[i].partition(":")[0]
            lines[i] = f"{key}: {draw(st.sampled_from(VALUES))}\n"
        elif kind == "line":
            lines.insert(i, draw(st.sampled_from(VALUES)) + "\n")
        elif kind == "delete" and len(lines) > 1:
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, lines[i])
        elif kind == "indent":
            lines[i] = draw(st.sampled_from(["", " ", "\t", "    "])) + lines[i].lstrip()
    return "".join(lines)


def _load(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "waivers.yaml"
        path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
        try:
            waivers = load_waivers(path)
        except InputError as error:
            assert_located(error)
            return
        for waiver in waivers:
            assert waiver.rule and waiver.subjects and waiver.expires


@budget(400)
@given(mutated())
def test_mutated_waiver_files_load_or_are_located(text):
    _load(text)


@budget(300)
@given(JSON)
def test_any_yaml_document_loads_or_is_located(document):
    _load(yaml.safe_dump(document, allow_unicode=True))
