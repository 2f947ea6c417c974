"""The JUnit XML report, for CI systems: one testsuite per family, one testcase per rule run."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from ..vocabulary import SEVERITIES, family_of
from .common import (
    family_key,
    family_name,
    from_working_folder,
    reprojection_line,
    status_marker,
    summary_line,
    t,
    waiver_line,
)
from .escape import for_xml
from .record import Conflict, Outcome, Report

Numbered = list[tuple[int, Conflict]]


@dataclass(frozen=True)
class _Run:
    """What every suite of one report shares: the record, the language, the rules' titles and conflicts by rule."""

    report: Report
    lang: str
    titles: dict[str, str]
    by_rule: dict[str, Numbered]
    timestamp: str
    moved: str | None

    @property
    def as_of(self) -> str:
        return self.timestamp[:10]


def render(record: dict | Report, *, lang: str) -> str:
    """Deterministic: `timestamp` is the submission's as_of date at T00:00:00, `hostname` is "localhost", times 0."""
    if isinstance(record, Report):
        record = dict(record.raw)
    record = from_working_folder(record)  # locations from where rulecheck ran
    report = Report.of(for_xml(record))  # a control character in an id must not make the document ill-formed
    by_rule: dict[str, Numbered] = {}
    for number, conflict in enumerate(report.conflicts, start=1):
        by_rule.setdefault(conflict.rule, []).append((number, conflict))
    as_of = str(report.submission.as_of or "1970-01-01")[:10]
    run = _Run(report, lang, {entry.id: entry.title_in(lang) for entry in report.rules.catalog}, by_rule,
               f"{as_of}T00:00:00", reprojection_line(report, lang))

    outcomes = {o.rule: o for o in report.outcomes or () if o.rule}
    for rule_id, items in by_rule.items():  # a conflict without an outcome still becomes a testcase
        outcomes.setdefault(rule_id, Outcome(rule=rule_id, status="fail", family=family_of(rule_id)))
    families: dict[str, list[Outcome]] = {}
    for rule_id in sorted(outcomes):
        families.setdefault(outcomes[rule_id].family, []).append(outcomes[rule_id])

    root = ET.Element("testsuites")
    for suite_id, family in enumerate(sorted(families, key=family_key)):
        _family_suite(root, run, suite_id, family, families[family])
    if report.verdict == "undecided":  # every case skipped would read as green: the run itself fails
        _undecided_suite(root, run, len(families))
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _properties(suite: ET.Element, run: _Run, named: tuple[tuple[str, str], ...]) -> None:
    properties = ET.SubElement(suite, "properties")
    for name, value in named + (("submission", run.report.submission.id), ("as_of", run.as_of),
                                ("rules_sha256", run.report.rules.sha256), ("lang", run.lang)):
        ET.SubElement(properties, "property", name=name, value=str(value))
    if run.moved:  # the check ran in another CRS than the one declared
        ET.SubElement(properties, "property", name="reprojected", value=run.moved)


def _family_suite(root: ET.Element, run: _Run, suite_id: int, family: str, outcomes: list[Outcome]) -> None:
    suite = ET.SubElement(root, "testsuite")
    name = family_name(family, run.lang, run.report)
    _properties(suite, run, (("family", name),))
    failures = skipped = 0
    for outcome in outcomes:
        result = _testcase(suite, run, family, outcome)
        failures += result == "failure"
        skipped += result == "skipped"
    for key, value in (("name", f"{family} {name}"), ("package", f"rulecheck.{family}"), ("id", str(suite_id)),
                       ("timestamp", run.timestamp), ("hostname", "localhost"), ("tests", str(len(outcomes))),
                       ("failures", str(failures)), ("errors", "0"), ("skipped", str(skipped)), ("time", "0")):
        suite.set(key, value)
    ET.SubElement(suite, "system-out").text = ""
    ET.SubElement(suite, "system-err").text = ""


def _testcase(suite: ET.Element, run: _Run, family: str, outcome: Outcome) -> str | None:
    """One rule's testcase; "failure", "skipped" or None (passed)."""
    rule_id, lang = outcome.rule, run.lang
    found = run.by_rule.get(rule_id, [])
    title = run.titles.get(rule_id) or next((c.localized("title", lang) for _, c in found), "")
    case = ET.SubElement(suite, "testcase", name=f"{rule_id} {title}".strip(), classname=f"rulecheck.{family}",
                         time="0")
    failing = [(n, c) for n, c in found if not c.waived]
    if failing:
        severities = sorted({c.severity for _, c in failing}, key=SEVERITIES.index)
        failure = ET.SubElement(case, "failure", type=severities[0],
                                message=t("n_conflict", lang, n=len(failing)) + ": "
                                + failing[0][1].localized("message", lang))
        waived = [(n, c) for n, c in found if c.waived]
        failure.text = "\n".join(_conflict_text(n, c, lang) for n, c in failing + waived) + "\n"
        return "failure"
    if outcome.status == "indeterminate" and run.report.summary.fail_on == "indeterminate":
        # --fail-on indeterminate: a result not decided fails the gate
        ET.SubElement(case, "failure", type="indeterminate",
                      message=f"indeterminate: {_missing(run.report, rule_id)}".rstrip(": "))
        return "failure"
    if outcome.status == "not_applicable":
        ET.SubElement(case, "skipped", message=outcome.status)
        return "skipped"
    if outcome.status == "indeterminate":
        ET.SubElement(case, "skipped", message=f"indeterminate: {_missing(run.report, rule_id)}".rstrip(": "))
        return "skipped"
    return None


def _undecided_suite(root: ET.Element, run: _Run, suite_id: int) -> None:
    suite = ET.SubElement(root, "testsuite", name="rulecheck", package="rulecheck", id=str(suite_id),
                          timestamp=run.timestamp, hostname="localhost", tests="1", failures="1", errors="0",
                          skipped="0", time="0")
    _properties(suite, run, ())
    case = ET.SubElement(suite, "testcase", name=f"rulecheck {t('undecided', run.lang)}", classname="rulecheck",
                         time="0")
    ET.SubElement(case, "failure", type="undecided", message=summary_line(run.report, run.lang))
    ET.SubElement(suite, "system-out").text = ""
    ET.SubElement(suite, "system-err").text = ""


def _missing(report: Report, rule_id: str) -> str:
    return "; ".join(str(e.missing) for e in report.indeterminate if e.rule == rule_id and e.missing)


def _conflict_text(number: int, conflict: Conflict, lang: str) -> str:
    lines = [f"{number}. {status_marker(conflict, lang)}{conflict.rule} [{conflict.severity}] "
             f"{conflict.localized('message', lang)}"]
    for subject in conflict.subjects:
        lines.append(f"   {subject.label}" + (f" ({subject.location})" if subject.location else ""))
    if conflict.expected or conflict.actual:
        expected = "" if conflict.expected is None else conflict.expected
        actual = "" if conflict.actual is None else conflict.actual
        lines.append(f"   {t('expected', lang)}: {expected}; {t('actual', lang)}: {actual}")
    if conflict.basis:
        lines.append(f"   {t('basis', lang)}: {conflict.basis}")
    if conflict.waiver is not None:
        lines.append("   " + waiver_line(conflict.waiver, lang))
    return "\n".join(lines)
