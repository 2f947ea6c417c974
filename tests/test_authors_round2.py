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


# ---- declared fields, severity and exact subjects in rule tests (deliverable 1) -----------------------------

PROVINCE = '''field detailed_plan.parcels.appraised_value: number wan_yuan "评估价" "Appraised value"

rule FIN-096
  title zh "地块评估价不得高于上限（示例）" en "A parcel's appraised value must not exceed a cap (example)"
  severity error when parcel.appraised_value > 200 wan_yuan else warning
  basis "示例：某省自然资源厅文件（非正式文件）"
  for each parcel in detailed_plan.parcels where present(parcel.appraised_value)
  require parcel.appraised_value <= 100 wan_yuan
  message zh "地块 {parcel} 评估价 {parcel.appraised_value}" en "Parcel {parcel} appraised at {parcel.appraised_value}"
'''

INLINE = '''
test FIN-096 "a declared field written in an inline manifest"
  given inline """
    format: rulecheck/v1
    submission: {id: T-1, as_of: 2026-03-01, crs: "EPSG:4526"}
    unit_plan:
      id: U
      direction: eco_recreation
      boundary: POLYGON ((38401000 2622000, 38401100 2622000, 38401100 2622100, 38401000 2622100, 38401000 2622000))
    detailed_plan:
      id: D
      status: draft
      parcels:
        - {id: P1, land_use: "0901", appraised_value: 120, geometry: "POLYGON ((38401000 2622000, 38401100 2622000, 38401100 2622100, 38401000 2622100, 38401000 2622000))"}
  """
  expect FIN-096 only on P1 severity warning
'''


def test_a_declared_field_is_set_in_a_test_and_severity_and_exact_subjects_are_expected(tmp_path):
    write_pack(tmp_path, PROVINCE + '''
test FIN-096 "two appraisals, one of each severity"
  given fixture "minimal"
  with detailed_plan.parcels[P2].appraised_value = 300 wan_yuan
  with detailed_plan.parcels[P1].appraised_value = 150 wan_yuan
  expect FIN-096 on P2 severity error
  expect FIN-096 on P1 with severity "warning"
  expect FIN-096 only on P1, P2
''' + INLINE, "zj.rule")
    result = invoke("rules", "validate", "zj.rule", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    result = invoke("rules", "test", "zj.rule", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1] == "2 passed, 0 failed"


def test_severity_and_exact_subject_expectations_fail_with_the_difference(tmp_path):
    pack = write_pack(tmp_path, PROVINCE + '''
test FIN-096 "wrong severity, and a subject too many"
  given fixture "minimal"
  with detailed_plan.parcels[P2].appraised_value = 300 wan_yuan
  with detailed_plan.parcels[P1].appraised_value = 150 wan_yuan
  expect FIN-096 on P1 severity error
  expect FIN-096 only on P2
''', "zj.rule")
    result = invoke("rules", "test", "zj.rule", cwd=tmp_path)
    assert result.returncode == 1
    lines = pack.read_text(encoding="utf-8").splitlines()
    first = lines.index("  expect FIN-096 on P1 severity error") + 1
    # the details are on stdout, under their FAIL line (before: on stderr only)
    out = result.stdout
    assert "FAIL FIN-096 wrong severity, and a subject too many" in out
    assert f"line {first}: expected FIN-096 on P1 severity error; got P1 (warning):" in out
    assert f"line {first + 1}: expected FIN-096 only on P2; got also on P1" in out
    assert result.stderr == ""


def test_a_declared_field_is_type_checked_and_mistakes_are_located_at_the_typo(tmp_path):
    body = '''
test FIN-096 "mistakes"
  given fixture "minimal"
  with detailed_plan.parcels[P2].appraised_value = 300 m2
  with detailed_plan.parcels[P2].appraised_valu = 300 wan_yuan
  with detailed_plan.parcels[P2].land_use = "1010"
  with detailed_plan.parcels[P2].appraised_value = 300
  expect FIN-096 on P2
'''
    pack = write_pack(tmp_path, PROVINCE + body, "zj.rule")
    lines = pack.read_text(encoding="utf-8").splitlines()

    def at(line_text: str, piece: str) -> str:
        number = lines.index(line_text) + 1
        return f"zj.rule:{number}:{line_text.index(piece) + 1}: error: "

    result = invoke("rules", "validate", "zj.rule", cwd=tmp_path)
    assert result.returncode == 2
    err = result.stderr
    unit = "  with detailed_plan.parcels[P2].appraised_value = 300 m2"
    assert at(unit, "300") + "detailed_plan.parcels[P2].appraised_value: the field is in wan_yuan, not 300 m²" \
        " (declared in zj.rule:1)" in err
    typo = "  with detailed_plan.parcels[P2].appraised_valu = 300 wan_yuan"
    assert at(typo, "appraised_valu") + "Parcel has no field 'appraised_valu'; did you mean 'appraised_value'?" in err
    code = '  with detailed_plan.parcels[P2].land_use = "1010"'
    assert at(code, '"1010"') + "detailed_plan.parcels[P2].land_use: unknown land-use code '1010'" in err
    bare = "  with detailed_plan.parcels[P2].appraised_value = 300"
    assert at(bare, "300") + "detailed_plan.parcels[P2].appraised_value: the field is in wan_yuan: write the unit" in err
    assert "Traceback" not in err


def test_a_missing_fixture_record_is_said_once_with_the_ids_there(tmp_path):
    write_pack(tmp_path, PROVINCE + '''
test FIN-096 "a record the fixture lacks"
  given fixture "minimal"
  with detailed_plan.parcels[P3].appraised_value = 300 wan_yuan
  expect FIN-096 on P3
''', "zj.rule")
    result = invoke("rules", "test", "zj.rule", cwd=tmp_path)
    assert result.returncode == 1
    (line,) = [s for s in result.stdout.splitlines() if "P3" in s and "line" in s]
    assert line.strip().endswith("no record 'P3' in detailed_plan.parcels (its ids: P1, P2)")
    assert line.count("P3") == 1, line  # before: the patch path, then the id again in the same path


# ---- reviewer output: locations from the working folder (deliverable 6) ----------------------------------

import re  # noqa: E402
from pathlib import Path  # noqa: E402

from test_dsl_support import cli  # noqa: E402

DEFECTS = FIXTURES / "eco-recreation-defects"
LOCATION = re.compile(r"\(([^()\s]+\.(?:yaml|geojson)):(\d+)\)")


def test_check_sub_dir_prints_locations_an_editor_opens_from_the_working_folder(tmp_path):
    shutil.copytree(DEFECTS, tmp_path / "sub" / "dir")
    for fmt in ("text", "markdown", "junit", "html"):
        result = cli("check", "sub/dir/submission.yaml", "--lang", "en", "--format", fmt, "--no-color", cwd=tmp_path)
        assert result.returncode == 1, result.stderr
        found = LOCATION.findall(result.stdout)
        assert len(found) > 10, (fmt, result.stdout[:500])
        for path, line in found:
            assert path.startswith("sub/dir/"), (fmt, path)
            lines = (tmp_path / path).read_text(encoding="utf-8").splitlines()
            assert 0 < int(line) <= len(lines)
    # outside the working folder: absolute
    (tmp_path / "elsewhere").mkdir()
    result = cli("check", "../sub/dir/submission.yaml", "--lang", "en", "--no-color", cwd=tmp_path / "elsewhere")
    paths = {p for p, _ in LOCATION.findall(result.stdout)}
    assert paths and all(Path(p).is_absolute() and Path(p).exists() for p in paths), sorted(paths)[:3]
    # the JSON report keeps the contract's paths, relative to the manifest
    record = json.loads(cli("check", "sub/dir/submission.yaml", "--format", "json", cwd=tmp_path).stdout)
    assert {s["source"]["path"] for c in record["conflicts"] for s in c["subjects"] if s.get("source")} >= \
        {"submission.yaml", "layers/parcels.geojson"}


def test_a_load_error_is_located_from_the_working_folder(tmp_path):
    shutil.copytree(FIXTURES / "minimal", tmp_path / "e3")
    manifest = tmp_path / "e3" / "submission.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace('land_use: "0901"', 'land_use: "0999"', 1),
                        encoding="utf-8")
    result = cli("check", "e3/submission.yaml", cwd=tmp_path)
    assert result.returncode == 2
    first = result.stderr.splitlines()[0]
    assert first.startswith("e3/submission.yaml:"), first
    line = int(first.split(":")[1])
    assert '"0999"' in manifest.read_text(encoding="utf-8").splitlines()[line - 1]


def test_the_shipped_fixtures_load_without_warnings():
    import rulecheck

    for manifest in sorted(FIXTURES.glob("*/submission.yaml")):
        submission = rulecheck.load_submission(manifest)
        assert [d.render() for d in submission._warnings] == [], manifest


# ---- every expected/actual in Chinese under --lang zh (deliverable 6) ---------------------------------------

def _codes() -> set[str]:
    """What may stay in ASCII in a zh report: the contract's field names and enum values, the names rules bind
    (`for each`, `let`) and their parameters' names, units."""
    import enum
    import inspect

    import pydantic

    from rulecheck.model import documents

    allowed = {"m", "m²", "ha", "km", "EPSG"}
    for value in vars(documents).values():
        if inspect.isclass(value) and issubclass(value, pydantic.BaseModel):
            allowed |= set(value.model_fields)
        if inspect.isclass(value) and issubclass(value, enum.Enum):
            allowed |= {str(member.value) for member in value}
    for pack in (ROOT / "rules").rglob("*.rule"):
        text = pack.read_text(encoding="utf-8")
        allowed |= set(re.findall(r"\blet (\w+)", text)) | set(re.findall(r"for each (\w+)", text))
        allowed |= set(re.findall(r"^\s*(?:override )?param (\w+)", text, re.M))
    return allowed


WORD = re.compile(r"[A-Za-z][A-Za-z0-9_\-]*(?:\.[A-Za-z_]\w*)*(?:\([^)]*\))?")


def _english_words(record: dict) -> list[tuple[str, str, str]]:
    allowed = _codes()
    ids = {str(s["id"]) for c in record["conflicts"] for s in c.get("subjects") or []}
    found = []
    for conflict in record["conflicts"]:
        for key in ("expected", "actual", "message"):
            text = str(conflict.get(key) or "")
            for match in WORD.finditer(text):
                word = match.group()
                if ("_" in word or "." in word or "(" in word or word in allowed or word in ids
                        or re.search(r"\d", word) or re.fullmatch(r"[A-Z]{1,5}(-[A-Z0-9]+)*", word)):
                    continue  # a field, a call, a name the rule binds, an id or a code
                found.append((conflict["rule"], key, text))
    return found


def test_a_zh_report_of_the_defects_fixtures_has_no_english_words():
    for fixture in ("eco-recreation-defects", "land-sea-defects"):
        result = cli("check", FIXTURES / fixture / "submission.yaml", "--lang", "zh", "--format", "json")
        record = json.loads(result.stdout)
        assert len(record["conflicts"]) > 10
        assert _english_words(record) == [], fixture
    # the en report keeps its English
    record = json.loads(cli("check", DEFECTS / "submission.yaml", "--lang", "en", "--format", "json").stdout)
    assert any(c["expected"] == "valid polygon" for c in record["conflicts"])
    assert any(str(c["actual"]).startswith("Self-intersection[") for c in record["conflicts"])
    zh = json.loads(cli("check", DEFECTS / "submission.yaml", "--lang", "zh", "--format", "json").stdout)
    assert any(c["expected"] == "有效的面" and str(c["actual"]).startswith("自相交[") for c in zh["conflicts"])


def test_the_html_font_stack_names_the_cjk_families_and_the_readme_says_linux_needs_one():
    page = cli("check", DEFECTS / "submission.yaml", "--format", "html").stdout
    stack = re.search(r"body \{ font-family: ([^;]+);", page).group(1)
    for family in ("微软雅黑", "Microsoft YaHei", "PingFang SC", "Noto Sans CJK SC", "WenQuanYi"):
        assert family in stack, family
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "On Linux,\ninstall one" in readme and "fonts-noto-cjk" in readme


# ---- plan authors (deliverable 7) ----------------------------------------------------------------------------

import subprocess  # noqa: E402
import sys  # noqa: E402

import yaml  # noqa: E402


def test_init_example_copies_a_shipped_example(tmp_path):
    result = invoke("init", "--example", "defects", "ex", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "ex" / "submission.yaml").read_text(encoding="utf-8") == \
        (DEFECTS / "submission.yaml").read_text(encoding="utf-8")
    checked = invoke("check", "ex/submission.yaml", "--lang", "en", cwd=tmp_path)
    shipped = invoke("check", str(DEFECTS / "submission.yaml"), "--lang", "en", cwd=tmp_path)
    assert checked.returncode == 1 and checked.stdout.splitlines()[-1] == shipped.stdout.splitlines()[-1]
    again = invoke("init", "--example", "defects", "ex", cwd=tmp_path)
    assert again.returncode == 2 and "never overwrites" in again.stderr
    wrong = invoke("init", "--example", "defect", "ex2", cwd=tmp_path)
    assert wrong.returncode == 2 and "did you mean defects?" in wrong.stderr
    assert not (tmp_path / "ex2").exists()


def _pre_commit(tmp_path, changed: list[str]) -> subprocess.CompletedProcess:
    """What `pre-commit try-repo` does with the hook: no args, the changed files that match `files` appended."""
    (hook,) = [h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
               if h["id"] == "rulecheck"]
    files = [name for name in changed if re.search(hook["files"], name)]
    command = hook["entry"].split() + hook.get("args", []) + (files if hook["pass_filenames"] else [])
    assert command[0] == "rulecheck"
    return subprocess.run([sys.executable, "-m", "rulecheck", *command[1:]], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)


def test_the_pre_commit_hook_takes_the_manifests_from_the_changed_files(tmp_path):
    shutil.copytree(DEFECTS, tmp_path / "units" / "u03")
    shutil.copytree(FIXTURES / "minimal", tmp_path / "units" / "u01")
    hook = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))[0]
    for name in ("units/u03/layers/parcels.geojson", "units/u03/layers/p.shx", "units/u03/layers/p.cpg",
                 "units/u03/xxgh.gdb/a00000009.gdbtable", "rules/zj.rule", "units/u03/submission.yaml"):
        assert re.search(hook["files"], name), name
    assert not re.search(hook["files"], "README.md")
    result = _pre_commit(tmp_path, ["units/u01/submission.yaml", "README.md"])
    assert result.returncode == 0, result.stdout + result.stderr
    result = _pre_commit(tmp_path, ["units/u03/layers/parcels.geojson"])  # a layer: its own submission
    assert result.returncode == 1, result.stdout + result.stderr
    assert "rulecheck check units/u03/submission.yaml" in result.stdout and "u01" not in result.stdout
    assert "Missing argument" not in result.stderr


def test_color_takes_its_value_without_swallowing_the_path():
    result = invoke("check", "--color", "fixtures/minimal/submission.yaml", "--lang", "en")
    assert result.returncode == 0, result.stderr
    assert "\x1b[" in result.stdout  # --color alone: always
    result = invoke("check", "--color", "never", "fixtures/minimal/submission.yaml", "--lang", "en")
    assert result.returncode == 0 and "\x1b[" not in result.stdout


def test_fail_on_new_says_what_it_gated_on(tmp_path):
    base = tmp_path / "base.json"
    invoke("check", str(DEFECTS / "submission.yaml"), "--format", "json", "--output", str(base), "-q")
    result = invoke("check", str(DEFECTS / "submission.yaml"), "--baseline", str(base), "--fail-on-new", "--lang", "en")
    assert result.returncode == 0
    last = result.stdout.splitlines()[-1]
    conflicts = json.loads(base.read_text(encoding="utf-8"))["conflicts"]
    errors = sum(1 for c in conflicts if c["severity"] == "error")
    assert last.startswith(f"{errors} errors") and last.endswith(
        f"- PASSED (--fail-on-new: decided on the 0 new conflict(s); {len(conflicts)} persisting not counted)")


def test_a_waiver_id_typo_gets_the_id_it_stands_for(tmp_path):
    (tmp_path / "waivers.yaml").write_text(
        "waivers:\n  - rule: IND-01O\n    subjects: [C-A/R06]\n    reason: 已批准\n    approver: 张三\n"
        "    basis: 清财〔2026〕12号\n    expires: 2027-01-01\n", encoding="utf-8")
    result = invoke("check", str(DEFECTS / "submission.yaml"), "--waivers", str(tmp_path / "waivers.yaml"))
    assert result.returncode == 2
    assert "did you mean IND-010" in result.stderr, result.stderr


def _label_boxes(svg: str) -> list[tuple[str, tuple[float, float, float, float]]]:
    import xml.etree.ElementTree as ET

    root = ET.fromstring(svg)
    boxes = []
    for group in root.iter("{http://www.w3.org/2000/svg}g"):
        if group.get("class") in ("parcel-labels", "right-labels"):
            size = float(group.get("font-size"))
            for text in group:
                x, y, label = float(text.get("x")), float(text.get("y")), text.text
                boxes.append((label, (x - len(label) * size * 0.3, y - size * 0.45,
                                      x + len(label) * size * 0.3, y + size * 0.45)))
    return boxes


def test_the_html_map_labels_parcels_and_rights_and_outlines_conflicts():
    page = cli("check", DEFECTS / "submission.yaml", "--format", "html", "--lang", "en").stdout
    overview = page[page.index("<svg"):page.index("</svg>") + 6]
    boxes = _label_boxes(overview)
    labels = {label for label, _ in boxes}
    assert {"P01", "P15", "P20", "R01", "R08"} <= labels, sorted(labels)
    for i, (a, (ax0, ay0, ax1, ay1)) in enumerate(boxes):  # no two labels overlap
        for b, (bx0, by0, bx1, by1) in boxes[i + 1:]:
            assert not (ax0 < bx1 and bx0 < ax1 and ay0 < by1 and by0 < ay1), (a, b)
    # a conflict is an outline: the land-use fill beneath stays visible
    outlines = re.findall(r'<path class="conflict-outline"[^>]*>', page)
    assert outlines and all('fill="none"' in p for p in outlines)
    # every inset's scale bar sits on its own panel, inside the inset
    for inset in re.findall(r'<svg class="inset".*?</svg>', page, re.S):
        size = float(re.search(r'viewBox="0 0 ([\d.]+) ', inset).group(1))
        x, y, w, h = (float(v) for v in re.search(
            r'<rect class="panel" x="([-\d.]+)" y="([-\d.]+)" width="([\d.]+)" height="([\d.]+)"', inset).groups())
        assert 0 <= x and x + w <= size and 0 <= y and y + h <= size
        bar = re.search(r'<g class="scale-bar".*?</g>', inset, re.S).group()
        for tx, ty in re.findall(r'<text x="([\d.]+)" y="([\d.]+)"', bar):
            assert x <= float(tx) <= x + w and y <= float(ty) <= y + h


# ---- rules validate warns on all-pairs loops, with the rewrite (deliverable 2) ---------------------------------

QUADRATIC = """
rule LAY-901
  title zh "测试" en "Test"
  severity warning
  basis "示例"
  for each right in unit_plan.rights
  for each parcel in detailed_plan.parcels where intersects(right, parcel) or parcel.id == right.package
  require false
  message zh "{right} {parcel}" en "{right} {parcel}"

rule LAY-902
  title zh "测试" en "Test"
  severity warning
  basis "示例"
  for each a in detailed_plan.parcels
  for each b in detailed_plan.parcels where a.area_m2 == b.area_m2 and a.id != b.id
  require false
  message zh "{a} {b}" en "{a} {b}"

rule LAY-903
  title zh "测试" en "Test"
  severity warning
  basis "示例"
  for each a in detailed_plan.parcels
  for each b in detailed_plan.parcels where intersects(a, b) and a.id < b.id
  require false
  message zh "{a} {b}" en "{a} {b}"
"""


def test_rules_validate_warns_on_every_all_pairs_loop_with_its_rewrite(tmp_path):
    pack = write_pack(tmp_path, QUADRATIC, "quad.rule")
    lines = pack.read_text(encoding="utf-8").splitlines()
    result = invoke("rules", "validate", "quad.rule", cwd=tmp_path)
    assert result.returncode == 0  # a warning, not an error
    assert result.stdout.strip() == "1 rule pack(s) OK, 2 warning(s)"
    spatial_or = lines.index("  for each parcel in detailed_plan.parcels where intersects(right, parcel) "
                             "or parcel.id == right.package") + 1
    numbers = lines.index("  for each b in detailed_plan.parcels where a.area_m2 == b.area_m2 and a.id != b.id") + 1
    err = result.stderr
    assert f"quad.rule:{spatial_or}:3: warning: rule LAY-901: 'for each parcel in detailed_plan.parcels' visits every " \
           "record for every binding of the outer loops (all pairs)" in err
    assert "hint: an 'or' of a spatial test and another condition uses no index: write two rules" in err
    assert f"quad.rule:{numbers}:3: warning: rule LAY-902:" in err
    assert "hint: a comparison of numbers (or with != < >) is tested pair by pair" in err
    assert "LAY-903" not in err  # joined through the spatial index: nothing to say
    # the shipped packs have no such loop
    assert invoke("rules", "validate", str(ROOT / "rules")).stderr == ""


# ---- the language grows (deliverable 3): predicates, compound units, within(parcel, package), families ----

ZJ_PACK = '''family ZJ "浙江省补充规则" "Zhejiang supplement"

predicate in_package(p, pkg) = intersects(p, pkg.boundary) and not p.land_use under "03"

rule ZJ-001
  title zh "资产包内地块容积率（示例）" en "FAR of the parcels of a package (example)"
  severity warning
  basis "示例：浙江省文件（非正式文件）"
  for each package in unit_plan.packages
  for each parcel in detailed_plan.parcels where in_package(parcel, package) and present(parcel.far_max)
  require parcel.far_max <= 1.0
  message zh "资产包 {package} 地块 {parcel} 容积率 {parcel.far_max}" en "Package {package}: parcel {parcel} FAR {parcel.far_max}"

rule ZJ-002
  title zh "资产包内地块（within）" en "Parcels within a package"
  severity info
  basis "示例：浙江省文件（非正式文件）"
  for each package in unit_plan.packages
  for each parcel in detailed_plan.parcels where within(parcel, package) and in_package(parcel, package)
  require false
  message zh "资产包 {package} 含地块 {parcel}" en "Package {package} holds parcel {parcel}"

test ZJ-001 "the parcels of the eco sample's packages above FAR 1"
  given fixture "eco-recreation"
  expect ZJ-001 only on PKG-A, P07, PKG-C, P14

test ZJ-002 "the parcels inside a package"
  given fixture "eco-recreation"
  expect ZJ-002 on PKG-A, P07
  expect ZJ-002 on PKG-C, P14
'''


def test_a_province_pack_declares_a_family_and_a_predicate_planned_through_the_index(tmp_path):
    write_pack(tmp_path, ZJ_PACK, "zj.rule")
    result = invoke("rules", "validate", "zj.rule", cwd=tmp_path)
    assert result.returncode == 0 and result.stderr == "", result.stderr  # no "unknown family" warning
    result = invoke("rules", "test", "zj.rule", cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    plan = invoke("rules", "validate", "zj.rule", "--plan", cwd=tmp_path).stdout
    zj1 = plan.split("ZJ-001", 1)[1].split("ZJ-002", 1)[0]
    assert "spatial index (STRtree): intersects(p, pkg.boundary)" in zj1  # the predicate's test, indexed
    record = json.loads(invoke("check", str(ECO), "--add-rules", "zj.rule", "--format", "json", cwd=tmp_path).stdout)
    assert record["rules"]["families"] == {"ZJ": {"zh": "浙江省补充规则", "en": "Zhejiang supplement"}}
    text = invoke("check", str(ECO), "--add-rules", "zj.rule", "--select", "ZJ", "--lang", "zh", cwd=tmp_path).stdout
    assert text.splitlines()[0] == "ZJ 浙江省补充规则"


def test_predicate_mistakes_are_located(tmp_path):
    pack = write_pack(tmp_path, '''predicate in_pkg(p, pkg) = intersects(p, pkg.boundary)
predicate area(p) = true
predicate loop(p) = loop(p)
family GEO "几何"

rule LAY-906
  title zh "测试" en "Test"
  severity warning
  basis "示例"
  for each package in unit_plan.packages
  for each parcel in detailed_plan.parcels where in_pkg(parcel)
  require false
  message zh "{package}" en "{package}"

rule LAY-907
  title zh "测试" en "Test"
  severity warning
  basis "示例"
  for each parcel in detailed_plan.parcels where loop(parcel)
  require false
  message zh "{parcel}" en "{parcel}"
''', "bad.rule")
    lines = pack.read_text(encoding="utf-8").splitlines()
    result = invoke("rules", "validate", "bad.rule", cwd=tmp_path)
    assert result.returncode == 2
    err = result.stderr
    assert "bad.rule:2:11: error: predicate area: 'area' is a built-in function" in err
    assert "bad.rule:4:1: error: family GEO is a family of the contract" in err
    use = lines.index("  for each parcel in detailed_plan.parcels where in_pkg(parcel)") + 1
    assert f"bad.rule:{use}:50: error: predicate in_pkg takes 2 argument(s) (p, pkg), not 1" in err
    assert "error: predicate loop uses itself (loop -> loop)" in err


def test_compound_units_price_per_area_and_area_per_person(tmp_path):
    write_pack(tmp_path, '''field detailed_plan.parcels.appraised_value: number wan_yuan "评估价" "Appraised value"
field detailed_plan.parcels.residents: number person "人口" "Residents"

rule FIN-097
  title zh "地块单价（示例）" en "Price per area (example)"
  severity warning
  basis "示例"
  for each parcel in detailed_plan.parcels where present(parcel.appraised_value)
  require parcel.appraised_value / parcel.area_m2 >= 3 wan_yuan/ha
  message zh "地块 {parcel} 单价 {parcel.appraised_value / parcel.area_m2}" en "Parcel {parcel} at {parcel.appraised_value / parcel.area_m2}"

rule FIN-098
  title zh "人均面积（示例）" en "Area per person (example)"
  severity warning
  basis "示例"
  for each parcel in detailed_plan.parcels where present(parcel.residents)
  require parcel.area_m2 / parcel.residents >= 30 m2/person and 2 wan_yuan/ha * parcel.area_m2 <= 100 wan_yuan
  message zh "地块 {parcel} 人均 {parcel.area_m2 / parcel.residents}" en "Parcel {parcel}: {parcel.area_m2 / parcel.residents}"

test FIN-097 "1 wan yuan over 1 ha is below 3 wan yuan/ha"
  given fixture "minimal"
  with detailed_plan.parcels[P2].appraised_value = 1 wan_yuan
  expect FIN-097 only on P2 with actual "1 wan yuan/ha"

test FIN-097 "300 wan yuan over 1 ha passes"
  given fixture "minimal"
  with detailed_plan.parcels[P2].appraised_value = 300 wan_yuan
  expect FIN-097 passes

test FIN-098 "400 persons on 1 ha: 25 m2/person"
  given fixture "minimal"
  with detailed_plan.parcels[P2].residents = 400 person
  expect FIN-098 only on P2 message contains "25 平方米/人"
''', "units.rule")
    result = invoke("rules", "validate", "units.rule", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    result = invoke("rules", "test", "units.rule", cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    assert result.stdout.splitlines()[-1] == "3 passed, 0 failed"
    # a product without a meaning is still refused
    write_pack(tmp_path, rule_text("FIN-099", "for each p in detailed_plan.parcels\n require p.area_m2 * 2 wan_yuan <= 1 wan_yuan"),
               "bad.rule")
    result = invoke("rules", "validate", "bad.rule", cwd=tmp_path)
    assert result.returncode == 2 and "cannot multiply an area by an amount of money" in result.stderr


# ---- the language server's analysis (deliverable 5): completion by type, hover on groups, the user's file ----

LSP_TEXT = '''param my_cap
  title zh "上限" en "Cap"
  from 2020-01-01 source "某省文件（测试）"
    value 1.0

rule IND-950
  title zh "示例" en "example"
  severity warning
  basis "示例"
  for each package in unit_plan.packages
  for each p in detailed_plan.parcels where p.land_use in operating and intersects(p, package.boundary)
  require p.far_max <= my_cap and package.supply.method == transfer
  message zh "地块 {p}" en "Parcel {p}"
'''


def test_language_server_completes_by_type_and_hovers_on_groups_and_parameters(tmp_path):
    from rulecheck.dsl.lsp import RuleAnalysis

    path = tmp_path / "province.rule"
    path.write_text(LSP_TEXT, encoding="utf-8")
    analysis = RuleAnalysis(path.as_uri(), LSP_TEXT)
    assert analysis.diagnostics == []
    lines = LSP_TEXT.splitlines()
    row = 11
    after_p = {label for label, kind, _ in analysis.completions(row, lines[row].index("far_max"))}
    assert "far_max" in after_p and "term_years" not in after_p and "price_wan_yuan" not in after_p  # a parcel's
    after_supply = {label for label, _, _ in analysis.completions(row, lines[row].index("method"))}
    assert {"method", "award", "reserve_price_wan_yuan"} <= after_supply and "far_max" not in after_supply
    anywhere = {}
    for label, kind, _ in analysis.completions(row, 10):
        anywhere.setdefault(kind, set()).add(label)
    assert {"package", "p"} <= anywhere["variable"] and "my_cap" in anywhere["parameter"]
    assert "operating" in anywhere["group"] and "transfer" in anywhere["enum"]
    group = analysis.hover(10, lines[10].index("operating") + 2)
    assert group.startswith("land-use group operating:") and "codes:" in group
    param = analysis.hover(row, lines[row].index("my_cap") + 1)
    assert param.endswith(f"declared in {path}:1")  # the user's own file, not the checker's copy
    assert "SupplyMethod" in analysis.hover(row, lines[row].index("transfer") + 1)
    assert analysis.hover(row, lines[row].index("package") + 1) == "package: a Package record"
