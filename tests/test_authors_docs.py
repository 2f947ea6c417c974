"""docs/language.md lists the shipped parameters (issue 11, deliverable 8), generated and kept current."""

from __future__ import annotations

from pathlib import Path

from rulecheck.dsl import load_rules
from rulecheck.dsl.paramdoc import END, START, refresh

DOC = Path(__file__).resolve().parent.parent / "docs" / "language.md"


def test_the_shipped_parameter_table_is_current():
    text = DOC.read_text(encoding="utf-8")
    assert refresh(text) == text, "docs/language.md is stale: run `python -m rulecheck.dsl.paramdoc docs/language.md`"


def test_the_table_lists_every_shipped_parameter_with_its_type():
    text = DOC.read_text(encoding="utf-8")
    table = text.split(START, 1)[1].split(END, 1)[0]
    params = load_rules().params
    assert len(params) >= 20
    for name, param in params.items():
        row = next(line for line in table.splitlines() if line.startswith(f"| `{name}` |"))
        assert f"| {param.type}" in row and param.title_en in row
