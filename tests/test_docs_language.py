"""docs/language.md is true: every `rule` block validates, every `rule-error` block is refused, shown runs match."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from rulecheck.dsl import validate
from rulecheck.ruletests import run_rule_tests

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "language.md"
PARAMS = ROOT / "rules" / "params"
FIXTURES = ROOT / "fixtures"

FENCE = re.compile(r"^(?P<indent> *)```(?P<kind>rule-error|rule|console)[ \t]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
                   re.MULTILINE | re.DOTALL)

# an expression block is checked inside this rule, where these variables are bound
WRAPPER = """rule LAY-999
  title zh "示例" en "example"
  severity info
  basis "docs/language.md"
  for each right in unit_plan.rights
  for each parcel in detailed_plan.parcels
  for each line in detailed_plan.control_lines
  for each proposal in unit_plan.indicator_proposals
  for each package in unit_plan.packages
  for each duty in package.duties
  for each contract in contracts
  for each item in contract.items
  for each contract_duty in contract.duties
  let value = (
{expr}
  )
  require present(value)
  message zh "{{value}}" en "{{value}}"
"""


@dataclass
class Block:
    kind: str
    text: str
    line: int  # line of the opening fence in the doc

    @property
    def id(self) -> str:
        return f"{self.kind}@{self.line}"

    def header(self, key: str) -> str | None:
        """`# key: value` among the leading comment lines."""
        for raw in self.text.splitlines():
            line = raw.strip()
            if not line:
                continue
            if not line.startswith("#"):
                return None
            m = re.match(rf"#\s*{re.escape(key)}:\s*(.+)$", line)
            if m:
                return m.group(1).strip()
        return None

    @property
    def is_override(self) -> bool:
        return any(line.strip() == "# --params" for line in self.text.splitlines())

    @property
    def is_expression(self) -> bool:
        for raw in self.text.splitlines():
            line = raw.strip()
            if line and not line.startswith("#"):
                return line.split()[0] not in ("rule", "param", "test", "predicate", "family", "field")
        return False

    def pack_text(self) -> str:
        return WRAPPER.format(expr=self.text) if self.is_expression else self.text


def _blocks() -> list[Block]:
    doc = DOC.read_text(encoding="utf-8")
    out = []
    for m in FENCE.finditer(doc):
        body = textwrap.dedent(m.group("indent") + m.group("body"))  # blocks inside list items are indented
        out.append(Block(m.group("kind"), body, doc.count("\n", 0, m.start()) + 1))
    return out


BLOCKS = _blocks()
RULE_BLOCKS = [b for b in BLOCKS if b.kind == "rule"]
ERROR_BLOCKS = [b for b in BLOCKS if b.kind == "rule-error"]
CONSOLE_BLOCKS = [b for b in BLOCKS if b.kind == "console"]


def _workspace(tmp_path: Path) -> Path:
    """tmp/rules/ for the block, tmp/fixtures -> the real fixtures (tests say "../fixtures/...")."""
    (tmp_path / "rules").mkdir()
    (tmp_path / "fixtures").symlink_to(FIXTURES, target_is_directory=True)
    return tmp_path / "rules"


def _write(tmp_path: Path, block: Block) -> Path:
    path = _workspace(tmp_path) / (block.header("file") or "block.rule")
    path.write_text(block.pack_text(), encoding="utf-8")
    return path


def _diagnostics(block: Block, path: Path):
    if block.is_override:
        return validate([PARAMS], params=[path])
    if block.header("with") == "builtin":  # added to the shipped packs, as `--add-rules` / `--with-builtin` load it
        return validate(None, add=[path])
    found = validate([path, PARAMS])
    if block.is_expression:  # the wrapper binds every variable an example might use; the example uses some
        found = [d for d in found if not (d.severity == "warning" and d.message.endswith("is bound but never used"))]
    return found


def test_the_doc_has_every_kind_of_block():
    assert len(RULE_BLOCKS) >= 60
    assert any(b.is_expression for b in RULE_BLOCKS) and any(not b.is_expression for b in RULE_BLOCKS)
    assert any(b.is_override for b in RULE_BLOCKS)
    assert any("\ntest " in "\n" + b.text for b in RULE_BLOCKS)
    assert len(ERROR_BLOCKS) >= 5
    assert any("rules validate" in b.text for b in CONSOLE_BLOCKS)


@pytest.mark.parametrize("block", RULE_BLOCKS, ids=lambda b: b.id)
def test_rule_block_validates_cleanly(tmp_path, block):
    path = _write(tmp_path, block)
    diagnostics = _diagnostics(block, path)
    assert diagnostics == [], f"docs/language.md:{block.line}\n" + "\n".join(d.render() for d in diagnostics)


@pytest.mark.parametrize("block", [b for b in RULE_BLOCKS if not b.is_expression and "\nrule " in "\n" + b.text],
                         ids=lambda b: b.id)
def test_rule_block_runs_on_the_fixtures(tmp_path, block):
    """A whole rule from the doc runs to one of the four outcomes on real submissions."""
    import rulecheck

    path = _write(tmp_path, block)
    rules = rulecheck.load_rules([path, PARAMS])
    ids = {r.id for r in rules.rules if not r.id.startswith("LAY-999")}
    wanted = [r.id for r in rules.rules if r.path.endswith(path.name) or str(path) in r.path]
    assert wanted, "the block declares no rule"
    for fixture in ("eco-recreation-defects", "mine-land", "land-sea"):
        record = rulecheck.check(rulecheck.load_submission(FIXTURES / fixture / "submission.yaml"), rules,
                                 select=wanted, lang="en")
        statuses = {o["rule"]: o["status"] for o in record["outcomes"]}
        assert set(wanted) <= set(statuses), (fixture, statuses)
        assert set(statuses.values()) <= {"pass", "fail", "not_applicable", "indeterminate"}
    assert ids


def test_the_first_rule_catches_the_planted_far_defect(tmp_path):
    import rulecheck

    block = next(b for b in RULE_BLOCKS if b.header("file") == "far-cap.rule")
    path = _write(tmp_path, block)
    record = rulecheck.check(rulecheck.load_submission(FIXTURES / "eco-recreation-defects" / "submission.yaml"),
                             rulecheck.load_rules([path]), lang="en")
    assert [[s["id"] for s in c["subjects"]] for c in record["conflicts"]] == [["C-A/R06", "P07"]]


@pytest.mark.parametrize("block", [b for b in RULE_BLOCKS if "\ntest " in "\n" + b.text], ids=lambda b: b.id)
def test_rule_tests_in_the_doc_pass(tmp_path, block):
    path = _write(tmp_path, block)
    results = run_rule_tests([path, PARAMS])
    assert results, "no test ran"
    failed = [r.render() for r in results if not r.passed]
    assert not failed, "\n".join(failed)


@pytest.mark.parametrize("block", ERROR_BLOCKS, ids=lambda b: b.id)
def test_error_block_is_refused_with_its_message(tmp_path, block):
    path = _write(tmp_path, block)
    errors = [d for d in _diagnostics(block, path) if d.severity == "error"]
    assert errors, f"docs/language.md:{block.line}: this block is meant to fail but validates"
    expected = block.header("error")
    assert expected, f"docs/language.md:{block.line}: a rule-error block says which error in a '# error:' line"
    assert any(expected in d.message for d in errors), [d.render() for d in errors]


@pytest.mark.parametrize("block", CONSOLE_BLOCKS, ids=lambda b: b.id)
def test_console_output_is_what_rulecheck_prints(tmp_path, block):
    """A `$ rulecheck ...` session shown in the doc is reproduced exactly, with the doc's named files."""
    command, *shown = block.text.rstrip("\n").split("\n")
    assert command.startswith("$ rulecheck "), command
    for named in BLOCKS:
        name = named.header("file")
        if name:
            (tmp_path / name).write_text(named.pack_text(), encoding="utf-8")
    (tmp_path / "fixtures").symlink_to(FIXTURES, target_is_directory=True)
    (tmp_path / "rules").symlink_to(ROOT / "rules", target_is_directory=True)
    args = command[len("$ rulecheck "):].split()
    run = subprocess.run([sys.executable, "-c", "import sys; from rulecheck.cli import main; main(sys.argv[1:])", *args],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode in (0, 1, 2), run.stderr
    assert (run.stderr + run.stdout).rstrip("\n") == "\n".join(shown)


# ---- the reference lists what the code has ------------------------------------------------------------


def _section(title_start: str) -> str:
    doc = DOC.read_text(encoding="utf-8")
    start = doc.index("\n## " + title_start)
    end = doc.find("\n## ", start + 1)
    return doc[start : end if end > 0 else len(doc)]


def test_every_unit_and_factor_is_in_the_units_table():
    from rulecheck.dsl.units import UNITS

    table = _section("5. Quantities")
    for unit, (dim, factor) in UNITS.items():
        assert f"`{unit}`" in table, f"unit {unit} is not in the table of units"
    for shown in ("10,000 m²", "2000/3 m²", "1,000,000 m²", "1,000 m", "1/100"):
        assert shown in table
    assert UNITS["ha"][1] == 10_000 and UNITS["mu"][1] * 15 == 10_000 and UNITS["km2"][1] == 1_000_000
    assert UNITS["km"][1] == 1_000 and UNITS["%"][1] * 100 == 1


def test_every_built_in_function_is_listed_with_an_example():
    from rulecheck.dsl.builtins import AGGREGATES, BUILTINS, SPECIAL

    table = _section("9. Built-in")
    examples = "\n".join(b.text for b in RULE_BLOCKS)
    for name in sorted(set(BUILTINS) | {"present", "default"}):
        assert f"`{name}(" in table, f"{name} is not in the table of functions"
        assert re.search(rf"\b{name}\(", examples), f"no example uses {name}(...)"
    for name in sorted((SPECIAL | AGGREGATES) - {"any"}):
        assert f"`{name}" in table or f"`{name}(" in _section("8. Aggregates"), name


def test_every_land_use_group_is_listed_with_its_codes():
    from rulecheck.model.landuse import load_classification

    table = _section("4. Expressions")
    for name, group in load_classification().groups.items():
        row = next((line for line in table.splitlines() if line.startswith(f"| `{name}` |")), None)
        assert row is not None, f"group {name} is not in the table"
        assert row.split("|")[3].strip() == ", ".join(group.codes), row


def test_every_collection_field_and_enum_value_is_listed():
    from rulecheck.dsl.schema import ENUMS, ROOTS, fields_of
    from rulecheck.model import documents as d

    text = _section("4. Expressions")
    for root in ROOTS:
        assert f"| `{root}` |" in text, root
    for cls in (d.SubmissionInfo, d.UnitPlan, d.Right, d.IndicatorProposal, d.Package, d.Duty, d.Finance,
                d.RevenueShare, d.Supply, d.DetailedPlan, d.Parcel, d.ControlLine, d.Contract, d.ContractItem,
                d.ContractDuty, d.UnitFinance, d.Inventories, d.Resource, d.Asset, d.Fund, d.Condition, d.Demand,
                d.Policy, d.Program, d.Survey, d.Design, d.Assembly, d.Approval):
        for name in fields_of(cls):
            if name == "id" and cls is d.IndicatorProposal:
                continue  # documented as "parcel (also its id)"
            assert f"`{name}`" in text, f"{cls.__name__}.{name} is not in the table of fields"
    for enum in ENUMS:
        row = next((line for line in text.splitlines() if re.match(rf"\| `[^`]+`(, `[^`]+`)* \({enum.__name__}\) \|", line)), None)
        assert row is not None, enum.__name__
        assert row.split("|")[2].strip() == ", ".join(m.value for m in enum), row
