"""Write docs/rules.md from the built-in packs: `python docs/make_rules_md.py`."""

from pathlib import Path

from click.testing import CliRunner

from rulecheck.cli import cli

HEADER = """# 规则清单 / Rule list

Generated from the packs by `python docs/make_rules_md.py` (`rulecheck rules list --format markdown`);
do not edit by hand: tests/test_docs_rules.py fails when it is out of date.

"""


def render() -> str:
    result = CliRunner().invoke(cli, ["rules", "list", "--format", "markdown"])
    assert result.exit_code == 0, result.output
    return HEADER + result.output


if __name__ == "__main__":
    Path(__file__).with_name("rules.md").write_text(render(), encoding="utf-8")
