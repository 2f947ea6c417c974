"""`as_of` within the law (issue 19, item 5): a date before the earliest day a text of the register (or an edition
of a dated parameter or group) took effect is an input error naming that day, exit 2; and on any later date no
conflict cites a text that had not yet taken effect."""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import rulecheck
from rulecheck.citations import commencement
from rulecheck.cli import cli
from rulecheck.model.landuse import load_classification

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
REGISTER = ROOT / "rulecheck" / "data" / "sources.yaml"
DEFECTS = ["eco-recreation-defects", "land-sea-defects"]


def _day(value) -> dt.date | None:
    """A date of the register read independently of rulecheck: a YAML date, or text YYYY-MM[-DD]."""
    if isinstance(value, dt.date):
        return value
    m = re.fullmatch(r"(\d{4})-(\d{2})(?:-(\d{2}))?", str(value or "").strip())
    return dt.date(int(m[1]), int(m[2]), int(m[3] or 1)) if m else None


def _register() -> dict:
    return yaml.safe_load(REGISTER.read_text(encoding="utf-8"))["documents"]


@functools.lru_cache(maxsize=1)
def _earliest() -> dt.date:
    """The earliest effective (else adopted) day of a registered text, or first edition of a dated parameter or
    group of the built-in packs: what the error must name."""
    laws = [e for e in _register().values() if e.get("kind") != "standard"]  # a standard is not law
    days = [_day(e.get("effective")) or _day(e.get("adopted")) for e in laws]
    days += [_day(v) for e in laws for v in (e.get("versions") or {}).values()]
    rules = rulecheck.load_rules()
    days += [e.valid_from for p in rules.params.values() for e in p.editions]
    days += [e.valid_from for g in load_classification(None).groups.values() for e in (getattr(g, "editions", None) or ())]
    return min(d for d in days if d is not None)


def _check(manifest: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["check", str(manifest), "--lang", "en", "--no-color", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


@pytest.mark.parametrize("fixture", ["eco-recreation-defects", "eco-recreation"])
def test_as_of_1900_is_an_input_error_naming_the_earliest_commencement(fixture):
    code, out = _check(FIXTURES / fixture / "submission.yaml", "--as-of", "1900-01-01")
    assert code == 2, out
    earliest = _earliest()
    assert f"before {earliest.isoformat()}" in out and "--as-of" in out
    assert "Traceback" not in out and "basis:" not in out  # nothing was checked, nothing cited


def test_the_bound_is_the_earliest_day_itself():
    manifest = FIXTURES / "eco-recreation" / "submission.yaml"
    earliest = _earliest()
    code, out = _check(manifest, "--as-of", (earliest - dt.timedelta(days=1)).isoformat())
    assert code == 2, out
    code, out = _check(manifest, "--as-of", earliest.isoformat())
    assert code != 2, out


def test_an_as_of_in_the_manifest_is_located_at_the_manifest(tmp_path):
    source = FIXTURES / "eco-recreation" / "submission.yaml"
    text = source.read_text(encoding="utf-8")
    assert "as_of: 2026-03-01" in text
    manifest = tmp_path / "submission.yaml"
    manifest.write_text(text.replace("as_of: 2026-03-01", "as_of: 1900-01-01"), encoding="utf-8")
    shutil.copytree(source.parent / "layers", tmp_path / "layers")
    shutil.copy(source.parent / "scheme.yaml", tmp_path / "scheme.yaml")  # the county scheme the unit names
    code, out = _check(manifest)
    assert code == 2, out
    assert re.search(r"submission\.yaml:\d+: error: submission\.as_of: as_of 1900-01-01 is before", out), out
    # the JSON gate sees the same refusal, not an INCOMPLETE run
    code, out = _check(manifest, "--format", "json")
    assert code == 2 and '"verdict"' not in out


def _as_of_dates() -> list[dt.date]:
    """Around every day a registered text or an edition took effect (the day before, the day itself), and a few
    round years: the dates where citing a text too early would show."""
    days = {_earliest(), dt.date(1995, 6, 1), dt.date(2005, 6, 1), dt.date(2010, 1, 1), dt.date(2026, 3, 1)}
    for entry in _register().values():
        if entry.get("kind") == "standard":
            continue
        day = _day(entry.get("effective")) or _day(entry.get("adopted"))
        if day is not None:
            days |= {day, day - dt.timedelta(days=1)}
    earliest = _earliest()
    return sorted(d for d in days if d >= earliest)


def _cited(basis: str) -> list[tuple[str, list[str]]]:
    """(title, the marks in （） right after it) for each 《title》 of a printed basis."""
    citation = basis.split("：", 1)[0]
    return [(m[1], re.findall(r"（([^（）]*)）", m[2])) for m in re.finditer(r"《([^》]+)》((?:（[^（）]*）)*)", citation)]


def _lower_bound(entry: dict, marks: list[str]) -> dt.date:
    """The earliest day the cited version can have taken effect, read plainly from the register: the version's
    date where `versions` lists the mark; else the text's effective (else adopted) date, and for a year mark
    (（2019年修正）) not before that year."""
    versions = {str(k): v for k, v in (entry.get("versions") or {}).items()}
    for mark in marks:
        if mark in versions:
            return _day(versions[mark])
    start = _day(entry.get("effective")) or _day(entry.get("adopted"))
    years = [int(m[1]) for m in (re.match(r"(\d{4})年", mark) for mark in marks) if m]
    return max([start] + [dt.date(y, 1, 1) for y in years])


@pytest.mark.parametrize("fixture", DEFECTS)
def test_no_conflict_cites_a_text_not_yet_in_force(fixture):
    register = _register()
    submission = rulecheck.load_submission(FIXTURES / fixture / "submission.yaml")
    rules = rulecheck.load_rules()
    seen_conflicts, late_rules = 0, set()
    for as_of in _as_of_dates():
        report = rulecheck.check(submission, rules, as_of=as_of, lang="en")
        for conflict in report["conflicts"]:
            seen_conflicts += 1
            for title, marks in _cited(conflict["basis"]):
                entry = register.get(title)
                if entry is None or entry.get("kind") == "standard":  # a standard is not law
                    continue
                bound = _lower_bound(entry, marks)
                assert bound <= as_of, (as_of, conflict["rule"], title, marks, bound)
            # and by when the register says the cited version took effect (its notes, where it has no `versions`)
            for cited in commencement(conflict["basis"].split("：", 1)[0]):
                assert cited.date is None or cited.date <= as_of, (as_of, conflict["rule"], cited)
        for outcome in report["outcomes"]:
            if outcome.get("not_in_force"):
                assert outcome["status"] == "not_applicable" and outcome["failed"] == 0
                assert outcome["not_in_force"]["commenced"] > as_of.isoformat()
                late_rules.add((as_of, outcome["rule"]))
        if any(o.get("not_in_force") for o in report["outcomes"]):
            assert any("not yet in force" in note for note in report["submission"]["notes"])
    # the dates did check something, and did stop some rules as not yet law
    assert seen_conflicts > 0 and late_rules


def test_a_rule_whose_text_is_not_yet_in_force_says_why_in_the_text_report():
    code, out = _check(FIXTURES / "eco-recreation-defects" / "submission.yaml", "--as-of", "2007-12-31",
                       "--select", "IND")
    assert code != 2, out
    # 《城乡规划法》 took effect on 2008-01-01: IND-001 rests on it and cannot be law the day before
    assert "《城乡规划法》 in force from 2008-01-01" in out
    assert "《城乡规划法》第三十八条" not in out
    code, out = _check(FIXTURES / "eco-recreation-defects" / "submission.yaml", "--as-of", "2008-01-01",
                       "--select", "IND", "--format", "json")
    record = json.loads(out)
    assert any(c["basis"].startswith("《城乡规划法》第三十八条") for c in record["conflicts"])


def test_a_rule_test_on_a_date_before_any_law_fails_with_the_reason_and_the_others_run(tmp_path):
    pack = tmp_path / "early.rule"
    pack.write_text('''rule FIN-950
  title zh "单项资金上限（示例）" en "A fund above a cap (example)"
  severity warning
  basis "示例：审查惯例（非正式文件）"
  for each fund in unit_plan.inventories.funds
  require fund.amount_wan_yuan <= 30 wan_yuan
  message zh "资金 {fund}" en "Fund {fund}"

test FIN-950 "a date before any law"
  given fixture "minimal"
  with submission.as_of = 1900-01-01
  expect FIN-950 on F1

test FIN-950 "the sample's own date"
  given fixture "minimal"
  expect FIN-950 on F1
''', encoding="utf-8")
    result = CliRunner().invoke(cli, ["rules", "test", str(pack)])
    assert result.exit_code == 1, result.output
    assert "FAIL FIN-950 a date before any law" in result.output
    assert f"as_of 1900-01-01 is before {_earliest().isoformat()}" in result.output
    assert "PASS FIN-950 the sample's own date" in result.output and "1 passed, 1 failed" in result.output
