"""Fuzzing the rule language: mutated rule packs and parameter files are validated into located diagnostics,
never an internal error; what validates runs over a fixture without one."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from fuzz_support import assert_located, budget
from rulecheck.diagnostics import InputError
from rulecheck.dsl import validate
from rulecheck.dsl.parser import parse_expr

ROOT = Path(__file__).resolve().parents[1]
PACK = (ROOT / "rules" / "ind.rule").read_text(encoding="utf-8")
PARAMS = (ROOT / "rules" / "params" / "terms.rule").read_text(encoding="utf-8")
TOKENS = re.findall(r'"[^"\n]*"|\S+|\n', PACK)

# tokens of the language and the probes that once crashed it
EXTRA = ["not", "-", "and", "or", "(", ")", "[", "]", "{", "}", ",", ".", ":", "=", "==", "<=", "%", "years",
         "1e999", "-1e999", "9" * 400, "1" * 5000, "2031-02-30", "0000-01-01", "for", "each", "in", "where", "let",
         "require", "test", "given", "with", "expect", "__class__", "__globals__", "len", "sum", "rule", "param",
         '"{', '"}"', '"{x"', '"{1e999}"', '"\\', "\t", "\x00", "\x1b[31m", "IND-999", "FOO-1", "#", '"""']


@st.composite
def mutated_pack(draw) -> str:
    tokens = list(TOKENS[: draw(st.integers(50, len(TOKENS)))])
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["replace", "delete", "insert", "repeat"]))
        i = draw(st.integers(0, len(tokens) - 1))
        if kind == "replace":
            tokens[i] = draw(st.sampled_from(EXTRA + TOKENS))
        elif kind == "delete":
            del tokens[i]
        elif kind == "insert":
            tokens.insert(i, draw(st.sampled_from(EXTRA)))
        else:
            tokens[i:i] = [draw(st.sampled_from(["not", "-", "(", "["]))] * draw(st.integers(1, 400))
        if not tokens:
            tokens = ["rule"]
    return " ".join(tokens).replace(" \n ", "\n")


def _validate(text: str, name: str = "pack.rule", params: str | None = None):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        extra = None
        if params is not None:
            extra = [Path(folder) / "params.rule"]
            extra[0].write_text(params, encoding="utf-8", errors="surrogatepass")
        diagnostics = validate([path], extra)
        for diagnostic in diagnostics:
            assert diagnostic.path and diagnostic.message
            diagnostic.render()
        return diagnostics


@budget(200)
@given(mutated_pack())
def test_mutated_rule_packs_validate_into_diagnostics(text):
    _validate(text)


@budget(200)
@given(st.lists(st.sampled_from(EXTRA + ["p", "x", "1", "2 %", "true", "unit_plan", "rights", "area(x)"]),
                min_size=1, max_size=40).map(" ".join))
def test_random_expressions_parse_or_are_located(text):
    try:
        parse_expr(text)
    except InputError as error:
        assert_located(error)


@st.composite
def mutated_params(draw) -> str:
    lines = PARAMS.splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        value = draw(st.sampled_from(EXTRA + ["1e999 %", "-40 years", "1e20 years", "0 years", "50 ha"]))
        lines[i] = re.sub(r"\d+(\.\d+)? (years|%)", lambda _: value, lines[i]) if draw(st.booleans()) else value + "\n"
    return "".join(lines)


@budget(100)
@given(mutated_params())
def test_mutated_parameter_files_validate_into_diagnostics(text):
    _validate((ROOT / "rules" / "fin.rule").read_text(encoding="utf-8"), "fin.rule", params=text)


@budget(50)
@given(mutated_pack())
def test_what_validates_runs_over_a_fixture(text):
    from rulecheck import check, load_rules, load_submission

    if any(d.severity == "error" for d in _validate(text)):
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "pack.rule"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            rules = load_rules([path, ROOT / "rules" / "params"])
            record = check(load_submission(ROOT / "fixtures" / "eco-recreation" / "submission.yaml"), rules, lang="en")
        except InputError as error:
            assert_located(error)
            return
        assert isinstance(record["conflicts"], list)
