"""Rule authors and reviewers, second round (issue 24): a fork of the shipped packs loads, declared fields in
rule tests, severity and exact-subject expectations, reviewer output, plan-author conveniences."""

from __future__ import annotations

import json
import shutil

from test_dsl_support import FIXTURES, ROOT, invoke, rule_text, write_pack

MINIMAL = FIXTURES / "minimal" / "submission.yaml"
ECO = FIXTURES / "eco-recreation" / "submission.yaml"


# ---- the fork (deliverable 4) ----------------------------------------------------------------------------

def test_a_copied_rules_folder_loads_as_the_whole_rule_set(tmp_path):
    """`cp -r rules myrules` then `--rules myrules`, `rules validate myrules`, `rules test myrules`: the fork's
    parameters replace the shipped ones (it is the whole rule set); before, every parameter was refused."""
    shutil.copytree(ROOT / "rules", tmp_path / "myrules")
    fork = tmp_path / "myrules" / "params" / "tolerances.rule"
    text = fork.read_text(encoding="utf-8")
    assert "param overlap_max" in text
    result = invoke("check", str(ECO), "--rules", "myrules", "--format", "json", "--lang", "en", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["summary"]["verdict"] == "passed"
    replaced = {o["name"]: o for o in record["rules"]["overrides"] if o["kind"] == "param"}
    assert replaced["overlap_max"]["how"] == "rules"
    assert replaced["overlap_max"]["by"].startswith("myrules/params/tolerances.rule:")
    (used,) = [p for p in record["rules"]["params"] if p["name"] == "overlap_max"]
    assert used["file"] == "myrules/params/tolerances.rule"  # the fork's figure is the one applied
    result = invoke("rules", "validate", "myrules", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("rule pack(s) OK")
    result = invoke("rules", "test", "myrules", cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1].endswith(" 0 failed")
    # added to the shipped rules instead, the same names clash, located
    result = invoke("rules", "validate", "myrules", "--with-builtin", cwd=tmp_path)
    assert result.returncode == 2 and "already a built-in" in result.stderr


def test_an_edited_fork_parameter_is_the_one_in_force(tmp_path):
    shutil.copytree(ROOT / "rules", tmp_path / "myrules")
    fork = tmp_path / "myrules" / "params" / "tolerances.rule"
    result = invoke("check", str(MINIMAL), "--rules", "myrules", "--format", "json", "--lang", "en", cwd=tmp_path)
    before = {p["name"]: p["value"] for p in json.loads(result.stdout)["rules"]["params"]}
    assert before["overlap_max"] != "12,345 m²"
    text = fork.read_text(encoding="utf-8")
    start = text.index("param overlap_max")
    value_at = text.index("value ", start)
    end = text.index("\n", value_at)
    fork.write_text(text[:value_at] + "value 12345 m2" + text[end:], encoding="utf-8")
    result = invoke("check", str(MINIMAL), "--rules", "myrules", "--format", "json", "--lang", "en", cwd=tmp_path)
    assert result.returncode in (0, 1), result.stderr
    after = {p["name"]: p["value"] for p in json.loads(result.stdout)["rules"]["params"]}
    assert after["overlap_max"] == "12,345 m²"
