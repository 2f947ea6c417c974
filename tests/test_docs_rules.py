"""docs/rules.md is what `rulecheck rules list --format markdown` prints for the built-in packs today."""

import importlib.util
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_rules_md_is_current():
    spec = importlib.util.spec_from_file_location("make_rules_md", DOCS / "make_rules_md.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    expected = module.render()
    assert (DOCS / "rules.md").read_text(encoding="utf-8") == expected, "run: python docs/make_rules_md.py"
    # every rule of the packs is listed, with its parameters column
    assert "| LAY-007 |" in expected and "max_term_transfer" in expected
