"""Province fields (issue 11, deliverable 2): a pack declares a column the contract lacks; the loader keeps a GIS
layer's extra attributes aside, the rule reads the declared one with the same static checks, a typo is located."""

from __future__ import annotations

import json
import shutil

import pytest

from test_dsl_support import FIXTURES, invoke

FIELD = 'field detailed_plan.parcels.appraised_value: number wan_yuan "评估价" "Appraised value"\n'
RULE = """
rule FIN-951
  title zh "地块评估价上限（示例）" en "Appraised value cap (example)"
  severity warning
  basis "示例"
  for each p in detailed_plan.parcels where present(p.appraised_value)
  require p.appraised_value <= 100 wan_yuan
  message zh "地块 {p} 评估价 {p.appraised_value}" en "Parcel {p} appraised at {p.appraised_value}"
"""


@pytest.fixture
def bundle(tmp_path):
    folder = tmp_path / "bundle"
    shutil.copytree(FIXTURES / "eco-recreation", folder)
    path = folder / "layers" / "parcels.geojson"
    layer = json.loads(path.read_text(encoding="utf-8"))
    values = {"P01": 118, "P02": 80, "P03": "n/a"}
    for feature in layer["features"]:
        if feature["properties"]["id"] in values:
            feature["properties"]["appraised_value"] = values[feature["properties"]["id"]]
    path.write_text(json.dumps(layer, ensure_ascii=False), encoding="utf-8")
    return folder / "submission.yaml"


def test_a_declared_field_is_read_from_a_geojson_property(tmp_path, bundle):
    (tmp_path / "prov.rule").write_text(FIELD + RULE, encoding="utf-8")
    assert invoke("rules", "validate", "prov.rule", cwd=tmp_path).returncode == 0
    result = invoke("check", str(bundle), "--add-rules", "prov.rule", "--select", "FIN-951", "--format", "json",
                    "--lang", "en", cwd=tmp_path)
    assert result.returncode == 0, result.stderr  # a warning does not fail the gate
    record = json.loads(result.stdout)
    (conflict,) = record["conflicts"]
    assert [s["id"] for s in conflict["subjects"]] == ["P01"]
    assert conflict["actual"] == "p.appraised_value = 118 wan yuan"
    assert conflict["messages"]["zh"] == "地块 P01 评估价 118 万元"
    # a value that is not a number is not silently passed: that parcel is undecided, and says why
    (stuck,) = record["indeterminate"]
    assert stuck["rule"] == "FIN-951" and "appraised_value of P03" in stuck["missing"] and "'n/a'" in stuck["missing"]


def test_the_clean_fixture_without_the_column_stays_clean(tmp_path):
    (tmp_path / "prov.rule").write_text(FIELD + RULE, encoding="utf-8")
    result = invoke("check", str(FIXTURES / "eco-recreation" / "submission.yaml"), "--add-rules", "prov.rule",
                    "--format", "json", "--lang", "en", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["conflicts"] == [] and record["indeterminate"] == []
    assert {o["rule"]: o["status"] for o in record["outcomes"]}["FIN-951"] == "not_applicable"


@pytest.mark.parametrize("text, where, message, hint", [
    (FIELD + RULE.replace("p.appraised_value <=", "p.appraised_valu <="), (8, 13),
     "Parcel records have no field 'appraised_valu'", "did you mean 'appraised_value'?"),
    (FIELD.replace("parcels.", "parcel.") + RULE, (1, 7),
     "field detailed_plan.parcel.appraised_value: a DetailedPlan record has no field 'parcel'", "did you mean 'parcels'?"),
    (FIELD.replace("detailed_plan", "detailed_plans") + RULE, (1, 7),
     "field detailed_plans.parcels.appraised_value: 'detailed_plans' is not a collection", "did you mean 'detailed_plan'?"),
    (FIELD.replace("number wan_yuan", "numbr wan_yuan") + RULE, (1, 46),
     "field detailed_plan.parcels.appraised_value: 'numbr' is not a type of field", "the types are number, text"),
    (FIELD.replace("appraised_value:", "far_max:") + RULE, (1, 7),
     "field detailed_plan.parcels.far_max: Parcel records already have the field 'far_max'", None),
    (FIELD + RULE.replace("<= 100 wan_yuan", "<= 100 m2"), (8, 11), "cannot compare", None),
])
def test_a_typo_in_a_declared_field_is_a_located_validate_error(tmp_path, text, where, message, hint):
    (tmp_path / "prov.rule").write_text(text, encoding="utf-8")
    result = invoke("rules", "validate", "prov.rule", cwd=tmp_path)
    assert result.returncode == 2
    line, column = where
    assert f"prov.rule:{line}:{column}: error: {message}" in result.stderr, result.stderr
    if hint:
        assert hint in result.stderr
    assert "Traceback" not in result.stderr
