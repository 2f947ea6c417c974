"""One's own pack adds up with the shipped ones (issue 11, deliverable 1): its parameters and rules are added,
replacing a shipped one is written `override` and reported, a same name without it is a located error;
`rules show` prints the rule's text and `rules validate` counts pack files."""

from __future__ import annotations

import json

from test_dsl_support import FIXTURES, ROOT, invoke, rule_text, write_pack

MINIMAL = FIXTURES / "minimal" / "submission.yaml"

OWN = """
param province_far_cap
  title zh "省容积率上限" en "Province FAR cap"
  from 2020-01-01 source "某省自然资源厅文件（测试）"
    value 1.0

""" + rule_text("IND-950", """
    for each p in detailed_plan.parcels where present(p.far_max)
    require p.far_max <= province_far_cap and 1 m2 <= overlap_max
""", message='message zh "地块 {p} 容积率 {p.far_max}" en "FAR of {p} is {p.far_max}"') + """
test IND-950 "P2 is above the province cap"
  given fixture "minimal"
  expect IND-950 on P2
"""


def _json(result) -> dict:
    return json.loads(result.stdout)


def test_own_pack_adds_to_the_shipped_rules_and_params(tmp_path):
    pack = write_pack(tmp_path, OWN, "province.rule")
    result = invoke("check", str(MINIMAL), "--add-rules", str(pack), "--format", "json", "--lang", "en", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    record = _json(result)
    ran = {entry["id"] for entry in record["rules"]["catalog"]}
    assert "IND-950" in ran and "IND-002" in ran and "GEO-001" in ran  # the shipped rules are still in force
    assert [(c["rule"], [s["id"] for s in c["subjects"]]) for c in record["conflicts"]] == [("IND-950", ["P2"])]
    used = {p["name"] for p in record["rules"]["params"]}
    assert {"province_far_cap", "overlap_max"} <= used  # its own parameter and a shipped one, no folder named
    assert record["rules"]["overrides"] == []


def test_validate_and_test_need_no_builtin_folder(tmp_path):
    write_pack(tmp_path, OWN, "province.rule")
    result = invoke("rules", "validate", "province.rule", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1 rule pack(s) OK"
    result = invoke("rules", "test", "province.rule", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1] == "1 passed, 0 failed"
    result = invoke("rules", "test", "province.rule", "--with-builtin", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1] == "1 passed, 0 failed"  # only its own tests run


def test_a_shipped_parameter_name_without_override_is_a_located_error(tmp_path):
    pack = write_pack(tmp_path, """
param overlap_max
  title zh "交叠" en "Overlap"
  from 2020-01-01 source "某省文件（测试）"
    value 5 m2
""", "province.rule")
    # alone, the pack is the whole rule set (its parameter replaces the shipped one); added to the shipped rules
    # (`--with-builtin`, `check --add-rules`), the same name without `override` is refused where it is written
    assert invoke("rules", "validate", "province.rule", cwd=tmp_path).returncode == 0
    result = invoke("rules", "validate", "province.rule", "--with-builtin", cwd=tmp_path)
    assert result.returncode == 2
    assert "province.rule:2:7: error: parameter overlap_max is already a built-in parameter (rulecheck:params/tolerances.rule:" in result.stderr
    assert "write 'override param overlap_max'" in result.stderr
    assert "Traceback" not in result.stderr
    pack.write_text(pack.read_text().replace("param overlap_max", "override param overlap_max"), encoding="utf-8")
    assert invoke("rules", "validate", "province.rule", "--with-builtin", cwd=tmp_path).returncode == 0


def test_override_replaces_and_is_reported(tmp_path):
    write_pack(tmp_path, """
override param overlap_max
  title zh "交叠（省）" en "Overlap (province)"
  from 1990-01-01 source "某省文件（测试）"
    value 5 m2

override """ + rule_text("IND-002", """
    for each p in detailed_plan.parcels where present(p.far_max)
    require p.far_max <= 1.0
""", message='message zh "地块 {p} 容积率 {p.far_max}" en "FAR of {p} is {p.far_max}"'), "province.rule")
    result = invoke("check", str(MINIMAL), "--add-rules", "province.rule", "--format", "json", "--lang", "en",
                    cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    record = _json(result)
    overrides = {(o["kind"], o["name"]): o for o in record["rules"]["overrides"]}
    assert set(overrides) == {("param", "overlap_max"), ("rule", "IND-002")}
    assert overrides[("param", "overlap_max")]["by"] == "province.rule:2"
    assert overrides[("param", "overlap_max")]["replaces"].startswith("rulecheck:params/tolerances.rule:")
    assert overrides[("rule", "IND-002")]["replaces"].startswith("rulecheck:ind.rule:")
    (conflict,) = [c for c in record["conflicts"] if c["rule"] == "IND-002"]
    assert conflict["message"] == "FAR of P2 is 1.2"
    (entry,) = [e for e in record["rules"]["catalog"] if e["id"] == "IND-002"]
    assert entry["source"]["path"] == "province.rule"
    (used,) = [p for p in record["rules"]["params"] if p["name"] == "overlap_max"]
    assert used["value"] == "5 m²" and used["file"] == "province.rule"


def test_a_shipped_rule_id_without_override_and_a_needless_override_are_errors(tmp_path):
    body = rule_text("IND-002", "for each p in detailed_plan.parcels\n require present(p.id)")
    write_pack(tmp_path, body, "same.rule")
    result = invoke("rules", "validate", "same.rule", "--with-builtin", cwd=tmp_path)
    assert result.returncode == 2
    assert "same.rule:1:6: error: rule IND-002 is already a built-in rule (rulecheck:ind.rule:" in result.stderr
    result = invoke("check", str(MINIMAL), "--add-rules", "same.rule", cwd=tmp_path)
    assert result.returncode == 2 and "already a built-in rule" in result.stderr
    write_pack(tmp_path, "override " + rule_text("IND-959", "for each p in detailed_plan.parcels\n require present(p.id)")
               + """
override param no_such_param
  title zh "无" en "none"
  from 2020-01-01 source "x"
    value 1
""", "needless.rule")
    result = invoke("rules", "validate", "needless.rule", "--with-builtin", cwd=tmp_path)
    assert result.returncode == 2
    assert "needless.rule:1:15: error: 'override rule IND-959' replaces no built-in rule" in result.stderr
    assert "needless.rule:" in result.stderr and "'override param no_such_param' replaces no built-in parameter" in result.stderr


def test_replacing_rules_keeps_the_shipped_parameters(tmp_path):
    """`--rules` replaces the shipped rules (documented); the shipped parameters stay underneath."""
    write_pack(tmp_path, OWN, "province.rule")
    result = invoke("check", str(MINIMAL), "--rules", "province.rule", "--format", "json", "--lang", "en", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    record = _json(result)
    assert [e["id"] for e in record["rules"]["catalog"]] == ["IND-950"]


def test_rules_show_prints_the_text_and_validate_counts_files(tmp_path):
    result = invoke("rules", "show", "IND-002", "--lang", "en", cwd=ROOT)
    assert result.returncode == 0, result.stderr
    text = (ROOT / "rules" / "ind.rule").read_text(encoding="utf-8")
    start = text.index("rule IND-002")
    shown = result.stdout.split("\n\n", 1)[1]
    assert shown.startswith("rule IND-002\n") and text[start:].startswith(shown.rstrip("\n"))
    assert "\ntest " not in shown and "require" in shown
    packs = sorted((ROOT / "rules").rglob("*.rule"))
    expected = len([p for p in packs if "provinces" not in p.relative_to(ROOT / "rules").parts])
    result = invoke("rules", "validate", str(ROOT / "rules"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(f"{expected} rule pack(s) OK")
    assert expected > 1


def test_override_also_when_the_shipped_folder_is_named_by_its_path(tmp_path):
    """`--rules mine.rule --rules <shipped folder>`: the shipped packs are still the ones overridden, whatever the order."""
    write_pack(tmp_path, """
override param overlap_max
  title zh "交叠（省）" en "Overlap (province)"
  from 1990-01-01 source "某省文件（测试）"
    value 5 m2
""", "province.rule")
    result = invoke("check", str(MINIMAL), "--rules", "province.rule", "--rules", str(ROOT / "rules"), "--format", "json",
                    "--lang", "en", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (override,) = _json(result)["rules"]["overrides"]
    assert (override["name"], override["by"]) == ("overlap_max", "province.rule:2")
    assert override["replaces"].endswith("rules/params/tolerances.rule:18")
