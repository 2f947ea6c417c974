"""Every report format, rendered from the sample record: content, validity against the schemas, determinism."""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
import xmlschema

from conftest import clean_record, sample_record
from rulecheck.report import EXTENSIONS, FORMATS, render

SCHEMAS = Path("/work/shared/schemas")
if not SCHEMAS.exists():  # CI lays shared/ beside the clone
    SCHEMAS = Path(__file__).resolve().parents[2] / "shared" / "schemas"


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_format_is_deterministic_and_leaves_the_record_alone(fmt, lang):
    record = sample_record()
    before = copy.deepcopy(record)
    first = render(record, fmt, lang=lang)
    assert first == render(copy.deepcopy(before), fmt, lang=lang)
    assert record == before
    assert first.endswith("\n") and first.encode("utf-8")
    assert fmt in EXTENSIONS


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="unknown report format 'pdf'"):
        render(sample_record(), "pdf")


# ---- text ---------------------------------------------------------------------------------------


def test_text_groups_by_family_then_document():
    lines = render(sample_record(), "text", lang="en").splitlines()
    headings = [line for line in lines if line and not line.startswith(" ")]
    assert headings == ["LAY Land-use layout", "IND Control indicators", "FIN Fiscal balance",
                        "2 errors, 1 warning, 1 waived (5 rules run: 1 passed, 4 failed, 0 not applicable, 0 indeterminate) - FAILED"]
    ind = lines.index("IND Control indicators")
    assert lines[ind + 1] == "  fixtures/eco-recreation/submission.yaml"  # from the working folder, as named
    assert lines[ind + 2] == "    2. error IND-002 Contract item C01/R07 allows FAR 1.6, above 1.2 of parcel P-0412"
    assert lines[ind + 3] == ("       subjects: contracts:C01/R07 (fixtures/eco-recreation/submission.yaml:88), "
                              "parcels:P-0412 (fixtures/eco-recreation/layers/parcels.geojson:1207)")
    assert lines[ind + 4] == "       expected: far_max <= 1.2; actual: far_max = 1.6"
    assert lines[ind + 5] == "       basis: 《城乡规划法》第三十八条：规划条件应作为国有土地使用权出让合同的组成部分"
    assert lines[ind + 6:ind + 9] == ["       explanation:", "         item.far_max = 1.6", "         parcel.far_max = 1.2"]
    assert "  fixtures/eco-recreation/layers/parcels.geojson" in lines[ind + 9:]
    waived = next(line for line in lines if "FIN-002" in line)
    assert waived == "    4. [waived] warning FIN-002 Package PK1 runs a deficit of 350 wan yuan"
    assert ("       waived: 财政专项补助已批复 (approved by 张三, basis 清财〔2026〕12号, expires 2026-12-31; "
            "waivers.yaml:2)") in lines


def test_text_in_chinese_has_no_english_fixed_strings():
    text = render(sample_record(), "text", lang="zh")
    assert "LAY 用地布局" in text and "IND 控制指标" in text and "FIN 资金平衡" in text
    assert "对象: contracts:C01/R07" in text and "应为: far_max <= 1.2; 实际: far_max = 1.6" in text
    assert "计算过程:" in text and "[已豁免] 警告 FIN-002" in text
    assert text.splitlines()[-1] == "2 个错误，1 个警告，1 个已豁免（已运行 5 条规则：通过 1，有冲突 4，不适用 0，无法判定 0） - 未通过"
    for word in ("subjects", "expected", "basis", "waived", "error", "FAILED"):
        assert word not in text


def test_text_clean_run_is_one_line():
    assert render(clean_record(), "text", lang="en") == "No conflicts (5 rules run: 5 passed, 0 failed, 0 not applicable, 0 indeterminate) - PASSED\n"
    assert render(clean_record(), "text", lang="zh") == "未发现冲突（已运行 5 条规则：通过 5，有冲突 0，不适用 0，无法判定 0） - 通过\n"


def test_text_colour_only_when_asked():
    assert "\x1b[" not in render(sample_record(), "text", lang="en")
    coloured = render(sample_record(), "text", lang="en", color=True)
    assert "\x1b[31m" in coloured and "\x1b[33m" in coloured  # red errors, yellow warnings


def test_text_lists_indeterminate_and_waiver_notes():
    record = sample_record()
    record["indeterminate"] = [{"rule": "IND-003", "subjects": [{"collection": "parcels", "id": "P-0007"}],
                                "missing": "parcel.far_max of P-0007"}]
    record["summary"]["indeterminate"] = 1
    record["waivers"]["expired"] = [{"file": "waivers.yaml", "line": 9, "rule": "IND-002", "subjects": ["C01/R07"]}]
    text = render(record, "text", lang="en")
    assert "Indeterminate (1)\n  IND-003 parcels:P-0007: missing parcel.far_max of P-0007" in text
    assert "waivers.yaml:9: note: waiver expired, not applied: IND-002 C01/R07" in text
    assert text.splitlines()[-1] == "2 errors, 1 warning, 1 waived, 1 indeterminate result (5 rules run: 1 passed, 4 failed, 0 not applicable, 0 indeterminate) - FAILED"


# ---- json ---------------------------------------------------------------------------------------


def test_json_is_the_record_without_layers_and_keeps_the_contract():
    record = sample_record()
    data = json.loads(render(record, "json", lang="zh"))
    assert "layers" not in data
    assert data == {k: v for k, v in record.items() if k != "layers"}
    assert list(data) == [k for k in record if k != "layers"]  # the record's own key order
    assert {"name", "version"} <= set(data["tool"])
    assert {"id", "as_of", "inputs"} <= set(data["submission"])
    assert all({"path", "sha256"} <= set(i) for i in data["submission"]["inputs"])
    assert {"packs", "sha256"} <= set(data["rules"])
    assert {"error", "warning", "info", "passed"} <= set(data["summary"])
    for conflict in data["conflicts"]:
        assert {"rule", "severity", "title", "message", "basis", "subjects", "expected", "actual", "geometry"} <= set(conflict)
        assert conflict["rule"].split("-")[0] in {"GEO", "REF", "LAY", "IND", "DUT", "SUP", "FIN", "DOC", "CTY"}
        for subject in conflict["subjects"]:
            assert {"collection", "id", "source"} <= set(subject)
    assert "《城乡规划法》" in render(record, "json", lang="zh")  # UTF-8, not \\u escapes


# ---- sarif --------------------------------------------------------------------------------------


def sarif_of(record, lang="en"):
    return json.loads(render(record, "sarif", lang=lang))


def test_sarif_validates_against_the_2_1_0_schema():
    schema = json.loads((SCHEMAS / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    for record in (sample_record(), clean_record()):
        errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(sarif_of(record)), key=str)
        assert errors == []


def test_sarif_rules_results_locations_and_suppressions():
    sarif = sarif_of(sample_record())
    run = sarif["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == ["FIN-002", "IND-002", "IND-005", "LAY-004", "SUP-001"]
    ind = rules[1]
    assert ind["shortDescription"]["text"] == "Contract floor-area ratio must not exceed the detailed plan"
    assert ind["fullDescription"]["text"].endswith("/ 供应合同容积率上限不得高于详细规划")
    assert "《城乡规划法》第三十八条：规划条件应作为国有土地使用权出让合同的组成部分" in ind["help"]["text"]
    assert ind["properties"]["tags"] == ["IND", "indicators"]
    assert ind["defaultConfiguration"]["level"] == "error"
    assert rules[0]["defaultConfiguration"]["level"] == "warning"

    results = run["results"]
    assert [(r["ruleId"], r["level"]) for r in results] == [
        ("LAY-004", "error"), ("IND-002", "error"), ("IND-005", "warning"), ("FIN-002", "warning")]
    assert all(rules[r["ruleIndex"]]["id"] == r["ruleId"] for r in results)
    locations = results[1]["locations"]
    assert [loc["physicalLocation"]["artifactLocation"] for loc in locations] == [
        {"uri": "submission.yaml", "uriBaseId": "SUBMISSION_ROOT"},
        {"uri": "layers/parcels.geojson", "uriBaseId": "SUBMISSION_ROOT"}]
    assert [loc["physicalLocation"]["region"]["startLine"] for loc in locations] == [88, 1207]
    assert results[1]["message"]["text"] == "Contract item C01/R07 allows FAR 1.6, above 1.2 of parcel P-0412"
    assert "suppressions" not in results[0]
    assert results[3]["suppressions"][0]["kind"] == "external"
    assert results[3]["suppressions"][0]["justification"] == "财政专项补助已批复"
    assert "SUBMISSION_ROOT" in run["originalUriBaseIds"]


def test_sarif_message_follows_lang_and_handles_unlocated_subjects():
    record = sample_record()
    record["conflicts"][1]["subjects"].append({"collection": "packages", "id": "PK9"})
    result = sarif_of(record, "zh")["runs"][0]["results"][1]
    assert result["message"]["text"].startswith("合同 C01/R07 容积率上限 1.6")
    assert result["locations"][-1] == {"logicalLocations": [
        {"name": "PK9", "fullyQualifiedName": "packages:PK9", "kind": "object"}]}


# ---- junit --------------------------------------------------------------------------------------


def test_junit_validates_against_the_xsd():
    schema = xmlschema.XMLSchema(str(SCHEMAS / "junit.xsd"))
    for record in (sample_record(), clean_record()):
        schema.validate(render(record, "junit", lang="zh"))


def test_junit_one_suite_per_family_one_case_per_rule():
    root = ET.fromstring(render(sample_record(), "junit", lang="en"))
    suites = root.findall("testsuite")
    assert [(s.get("package"), s.get("id"), s.get("tests"), s.get("failures")) for s in suites] == [
        ("rulecheck.LAY", "0", "1", "1"), ("rulecheck.IND", "1", "2", "2"),
        ("rulecheck.SUP", "2", "1", "0"), ("rulecheck.FIN", "3", "1", "0")]
    assert {s.get("timestamp") for s in suites} == {"2026-03-01T00:00:00"}
    ind_cases = suites[1].findall("testcase")
    assert [c.get("name") for c in ind_cases] == ["IND-002 Contract floor-area ratio must not exceed the detailed plan",
                                                   "IND-005 Industrial green ratio at most 20 %"]
    failure = ind_cases[0].find("failure")
    assert failure.get("type") == "error"
    assert "contracts:C01/R07 (fixtures/eco-recreation/submission.yaml:88)" in failure.text
    assert ind_cases[1].find("failure").get("type") == "warning"
    # FIN-002's only conflict is waived: the case passes
    assert suites[3].find("testcase").find("failure") is None


def test_junit_skips_not_applicable_and_indeterminate():
    record = clean_record()
    record["outcomes"][1]["status"] = "not_applicable"
    record["outcomes"][2]["status"] = "indeterminate"
    record["indeterminate"] = [{"rule": "IND-005", "subjects": [], "missing": "parcel.green_min of P-0415"}]
    root = ET.fromstring(render(record, "junit", lang="en"))
    skipped = {c.get("name").split()[0]: c.find("skipped").get("message")
               for c in root.iter("testcase") if c.find("skipped") is not None}
    assert skipped == {"IND-002": "not_applicable", "IND-005": "indeterminate: parcel.green_min of P-0415"}
    xmlschema.XMLSchema(str(SCHEMAS / "junit.xsd")).validate(ET.tostring(root, encoding="unicode"))


# ---- geojson ------------------------------------------------------------------------------------


def test_geojson_reads_in_gdal_with_its_crs(tmp_path):
    import pyogrio
    from pyogrio.raw import read

    path = tmp_path / "conflicts.geojson"
    path.write_text(render(sample_record(), "geojson", lang="en"), encoding="utf-8")
    info = pyogrio.read_info(path)
    assert info["crs"] == "EPSG:4526" and info["features"] == 1 and info["geometry_type"] == "Polygon"
    meta, _, geometry, fields = read(path)
    columns = dict(zip(meta["fields"], fields))
    assert list(columns["rule"]) == ["LAY-004"] and list(columns["number"]) == [1]
    assert list(columns["subjects"]) == ["rights:R03, control_lines:L01"]
    assert list(columns["message"]) == ["Right R03 overlaps permanent basic farmland L01 by 1200 m²"]
    assert not columns["waived"][0]
    assert geometry[0] is not None


def test_geojson_skips_conflicts_without_geometry_and_marks_waived():
    record = sample_record()
    record["conflicts"][3]["geometry"] = {"type": "Point", "coordinates": [38402500.0, 2621500.0]}
    data = json.loads(render(record, "geojson", lang="zh"))
    assert [(f["properties"]["number"], f["properties"]["rule"], f["properties"]["waived"]) for f in data["features"]] == [
        (1, "LAY-004", False), (4, "FIN-002", True)]
    assert data["crs"]["properties"]["name"] == "urn:ogc:def:crs:EPSG::4526"


# ---- markdown -----------------------------------------------------------------------------------


def test_markdown_summary_then_tables_by_family():
    text = render(sample_record(), "markdown", lang="zh")
    lines = text.splitlines()
    assert lines[0] == "# 自然资源资产配置单元规划审查报告: 清远某生态游憩配置单元"
    assert "| 结论 | 未通过 |" in lines
    assert [line for line in lines if line.startswith("## ")] == ["## LAY 用地布局", "## IND 控制指标", "## FIN 资金平衡"]
    row = next(line for line in lines if line.startswith("| 2 |"))
    assert row.count(" | ") == 7  # eight cells
    assert ("contracts:C01/R07 (fixtures/eco-recreation/submission.yaml:88)<br>"
            "parcels:P-0412 (fixtures/eco-recreation/layers/parcels.geojson:1207)") in row
    assert "~~警告~~ 已豁免" in text


def test_markdown_escapes_pipes_and_tags():
    row = next(line for line in render(sample_record(), "markdown", lang="en").splitlines() if line.startswith("| 3 |"))
    assert "&lt;cap&gt; & \"quoted\" \\| piped" in row
    assert row.count(" | ") == 7
