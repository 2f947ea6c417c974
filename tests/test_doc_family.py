"""The DOC family through the command line: a submission written before the method's parts still loads, each
missing inventory and program part is a conflict that names it, and the rules that were there behave as before."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
EXE = Path(sys.executable).with_name("rulecheck")
INVENTORIES = ("resources", "assets", "funds", "conditions", "demands", "policies")
# the checks issue 10 added outside DOC: new checks, so they may fire on an older submission
NEW_OUTSIDE_DOC = {"LAY-020", "SUP-040", "SUP-041", "DUT-020", "FIN-020", "FIN-021", "REF-020", "REF-021",
                   "LAY-040", "LAY-041"}  # LAY-040/041: issue 22's control lines


def check(manifest: Path, *args: str) -> tuple[int, dict]:
    result = subprocess.run([str(EXE), "check", str(manifest), "--format", "json", *args], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def older_eco(tmp_path: Path) -> Path:
    """The clean eco-recreation fixture without anything issue 10 added to the contract."""
    folder = tmp_path / "eco"
    shutil.copytree(FIXTURES / "eco-recreation", folder)
    manifest = yaml.safe_load((folder / "submission.yaml").read_text(encoding="utf-8"))
    unit = manifest["unit_plan"]
    for key in ("zone", "county_scheme", "inventories", "finance"):
        del unit[key]
    for package in unit["packages"]:
        del package["program"]
        package["supply"].pop("reserve_floor_price_yuan_m2", None)
        package["duties"] = [{k: v for k, v in d.items() if k != "facility"} for d in package["duties"] if d["kind"] != "facility"]
        for share in package["revenue_sharing"]:
            del share["role"]
    for contract in manifest["contracts"]:
        contract["duties"] = [d for d in contract["duties"] if d["duty"] not in ("D-A3", "D-B3")]
        for item in contract["items"]:
            item.pop("method", None)
    (folder / "submission.yaml").write_text(yaml.safe_dump(manifest, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return folder / "submission.yaml"


def test_an_older_submission_loads_and_doc_names_each_missing_part(tmp_path):
    manifest = older_eco(tmp_path)
    code, record = check(manifest, "--select", "DOC", "--lang", "en")
    assert code == 1
    by_rule: dict[str, list[dict]] = {}
    for conflict in record["conflicts"]:
        by_rule.setdefault(conflict["rule"], []).append(conflict)
    for number, name in enumerate(INVENTORIES, 1):
        (conflict,) = by_rule[f"DOC-{number:03d}"]
        assert f"inventories.{name}" in conflict["message"] and conflict["subjects"][0]["id"] == "U03"
    for rule, part in (("DOC-007", "survey"), ("DOC-008", "design"), ("DOC-009", "assembly"), ("DOC-010", "approvals")):
        assert sorted(c["subjects"][0]["id"] for c in by_rule[rule]) == ["PKG-A", "PKG-B", "PKG-C"]
        assert all(f"program.{part}" in c["message"] for c in by_rule[rule])
    assert {"DOC-019", "DOC-020", "DOC-026"} <= set(by_rule)
    # what reads a missing inventory is not applicable, never indeterminate: the absence is reported once
    assert record["indeterminate"] == []
    outcomes = {o["rule"]: o["status"] for o in record["outcomes"]}
    assert all(outcomes[r] == "not_applicable" for r in ("DOC-014", "DOC-015", "DOC-016", "DOC-017", "DOC-018"))


def test_an_older_submission_gets_the_same_verdicts_from_the_rules_that_were_there(tmp_path):
    # CTY (the county scheme) is newer than such a submission too
    _, older = check(older_eco(tmp_path), "--ignore", "DOC", "--ignore", "CTY")
    _, complete = check(FIXTURES / "eco-recreation" / "submission.yaml", "--ignore", "DOC", "--ignore", "CTY")
    old_rules = lambda record: {o["rule"]: o["status"] for o in record["outcomes"] if o["rule"] not in NEW_OUTSIDE_DOC}  # noqa: E731
    assert old_rules(older) == old_rules(complete)
    assert [c for c in older["conflicts"] if c["rule"] not in NEW_OUTSIDE_DOC] == []
    # the new checks outside DOC see what an older submission leaves out: leased forest in a transfer contract,
    # the plan's facilities with no facility duty
    fired = {(c["rule"], c["subjects"][0]["id"]) for c in older["conflicts"]}
    # and R07 inside the historic protection line, whose heritage approval the older submission (no program) lacks
    assert fired == {("SUP-041", "C-A/R01"), ("SUP-041", "C-A/R02"), ("SUP-041", "C-B/R03"), ("SUP-041", "C-B/R04"),
                     ("DUT-020", "P07"), ("DUT-020", "P16"), ("LAY-041", "R07")}


def test_the_text_report_groups_the_doc_family_under_its_name(tmp_path):
    result = subprocess.run([str(EXE), "check", str(older_eco(tmp_path)), "--select", "DOC-005", "--no-color"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert result.stdout.startswith("DOC 配置方法要件")
    assert "缺少需求清单（inventories.demands" in result.stdout
