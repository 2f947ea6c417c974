"""Waiver files: loading with located errors, and applying them to a report record."""

from __future__ import annotations

import datetime as dt
import textwrap

import pytest

from conftest import sample_record
from rulecheck.diagnostics import InputError
from rulecheck.waivers import apply_waivers, load_waivers, recount, waivable_from_catalog


def write(tmp_path, text: str, name: str = "waivers.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def unwaived_record() -> dict:
    record = sample_record(with_layers=False)
    for conflict in record["conflicts"]:
        conflict["waiver"] = None
    return recount(record, "error")


GOOD = """
    # 审批记录
    - rule: IND-002
      subjects: [C01/R07, P-0412]
      reason: 容积率调整已经规委会审议
      approver: 李四
      basis: 清规委〔2026〕3号
      expires: 2026-06-30
    - rule: FIN-002
      subjects: [packages:PK1]
      reason: 财政专项补助已批复
      approver: 张三
      basis: 清财〔2026〕12号
      expires: 2026-12-31
"""


def test_load_reads_every_field_with_its_line(tmp_path):
    path = write(tmp_path, GOOD)
    waivers = load_waivers(path)
    assert [(w.rule, w.subjects, w.line) for w in waivers] == [
        ("IND-002", ("C01/R07", "P-0412"), 2), ("FIN-002", ("packages:PK1",), 8)]
    assert waivers[0].expires == dt.date(2026, 6, 30)
    assert waivers[0].approver == "李四" and waivers[0].file == str(path)


def test_load_accepts_a_waivers_key(tmp_path):
    path = write(tmp_path, "waivers:\n" + textwrap.indent(textwrap.dedent(GOOD), "  "))
    assert [w.rule for w in load_waivers(path)] == ["IND-002", "FIN-002"]


def test_missing_fields_and_bad_dates_are_all_reported_located(tmp_path):
    path = write(tmp_path, """
        - rule: IND-002
          subjects: [C01/R07]
          reason: x
          basis: y
          expires: 2026-06-30
        - rule: FIN-002
          subjects: [PK1]
          reason: x
          approver: z
          basis: y
          expires: 2026-13-01
        - rule: FIN-002
          subjects: [PK1]
          reasom: typo
          reason: x
          approver: z
          basis: y
          expires: 2026-01-01
    """)
    with pytest.raises(InputError) as caught:
        load_waivers(path)
    rendered = [d.render() for d in caught.value.diagnostics]
    assert len(rendered) == 3
    assert rendered[0].startswith(f"{path}:1:3: error: [0].approver: missing field 'approver'")
    assert rendered[1].startswith(f"{path}:11:12: error: [1].expires: expected a date YYYY-MM-DD, got '2026-13-01'")
    assert "unknown field 'reasom'" in rendered[2] and ":14:" in rendered[2]
    assert "hint: a waiver has the fields rule, subjects" in rendered[2]


def test_not_a_list_and_broken_yaml_and_missing_file(tmp_path):
    with pytest.raises(InputError) as caught:
        load_waivers(write(tmp_path, "rule: IND-002\n"))
    assert "expected a list of waivers" in caught.value.diagnostics[0].message
    with pytest.raises(InputError) as caught:
        load_waivers(write(tmp_path, "- rule: [IND-002\n", "broken.yaml"))
    assert caught.value.diagnostics[0].line == 2
    with pytest.raises(InputError) as caught:
        load_waivers(tmp_path / "nope.yaml")
    assert caught.value.diagnostics[0].message == "waiver file not found"


def test_empty_file_is_no_waivers(tmp_path):
    assert load_waivers(write(tmp_path, "# nothing waived\n")) == []


def test_apply_waives_matched_conflicts_and_recounts(tmp_path):
    record = unwaived_record()
    assert record["summary"]["error"] == 2 and record["summary"]["passed"] is False
    waivers = load_waivers(write(tmp_path, GOOD))
    waivable = waivable_from_catalog(record["rules"]["catalog"])
    result = apply_waivers(record, waivers, dt.date(2026, 3, 1), waivable)
    by_rule = {c["rule"]: c for c in result["conflicts"]}
    assert by_rule["IND-002"]["waiver"] == {"reason": "容积率调整已经规委会审议", "approver": "李四",
                                             "basis": "清规委〔2026〕3号", "expires": "2026-06-30",
                                             "file": str(tmp_path / "waivers.yaml"), "line": 2}
    assert by_rule["FIN-002"]["waiver"]["line"] == 8
    assert by_rule["LAY-004"]["waiver"] is None
    summary = result["summary"]
    assert (summary["error"], summary["warning"], summary["waived"]) == (1, 1, 2)
    assert summary["passed"] is False  # LAY-004 still fails the gate
    assert [a["rule"] for a in result["waivers"]["applied"]] == ["IND-002", "FIN-002"]
    # the input record is left as it was
    assert all(c["waiver"] is None for c in record["conflicts"])


def test_waiving_every_failing_conflict_passes_the_gate(tmp_path):
    record = unwaived_record()
    path = write(tmp_path, GOOD + """
    - rule: LAY-004
      subjects: [R03]
      reason: r
      approver: a
      basis: b
      expires: 2027-01-01
    """)
    waivable = {"LAY-004": True, "IND-002": True, "FIN-002": True}
    result = apply_waivers(record, load_waivers(path), "2026-03-01", waivable)
    assert result["summary"]["error"] == 0 and result["summary"]["passed"] is True
    assert result["summary"]["warning"] == 1  # IND-005 is not waived, but a warning does not fail on error


def test_expired_unmatched_and_not_waivable_waive_nothing(tmp_path):
    record = unwaived_record()
    path = write(tmp_path, """
        - {rule: IND-002, subjects: [C01/R07], reason: r, approver: a, basis: b, expires: 2026-02-28}
        - {rule: IND-002, subjects: [C09/R01], reason: r, approver: a, basis: b, expires: 2026-12-31}
        - {rule: LAY-004, subjects: [R03], reason: r, approver: a, basis: b, expires: 2026-12-31}
        - {rule: IND-005, subjects: [P-0415], reason: r, approver: a, basis: b, expires: 2026-03-01}
    """)
    waivable = waivable_from_catalog(record["rules"]["catalog"])
    assert waivable["LAY-004"] is False
    result = apply_waivers(record, load_waivers(path), dt.date(2026, 3, 1), waivable)
    waived = [c["rule"] for c in result["conflicts"] if c["waiver"]]
    assert waived == ["IND-005"]  # a waiver is good through its expiry date
    assert [(w["rule"], w["line"]) for w in result["waivers"]["expired"]] == [("IND-002", 1)]
    assert [(w["rule"], w["subjects"]) for w in result["waivers"]["unmatched"]] == [("IND-002", ["C09/R01"])]
    assert [(w["rule"], w["why"]) for w in result["waivers"]["refused"]] == [("LAY-004", "not_waivable")]
    assert result["summary"]["error"] == 2 and result["summary"]["passed"] is False


@pytest.mark.parametrize("fail_on, passed", [("error", True), ("warning", False), ("info", False), ("never", True)])
def test_recount_uses_fail_on(fail_on, passed):
    record = unwaived_record()
    record["conflicts"] = [c for c in record["conflicts"] if c["severity"] == "warning"]
    assert recount(record, fail_on)["summary"]["passed"] is passed
    assert record["summary"]["fail_on"] == fail_on
