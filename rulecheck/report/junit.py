"""The JUnit XML report, for CI systems: one testsuite per family, one testcase per rule run."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from .escape import for_xml
from .common import (
    from_working_folder,
    catalog_title,
    family_key,
    family_name,
    family_of,
    is_waived,
    localized,
    reprojection_line,
    status_marker,
    subject_label,
    subject_location,
    summary_line,
    t,
    verdict_of,
    waiver_line,
)


def render(record: dict, *, lang: str) -> str:
    """Deterministic: `timestamp` is the submission's as_of date at T00:00:00, `hostname` is "localhost", times 0."""
    record = from_working_folder(record)  # locations from where rulecheck ran
    record = for_xml(record)  # a control character in an id must not make the document ill-formed
    submission = record.get("submission") or {}
    rules_info = record.get("rules") or {}
    conflicts = record.get("conflicts") or []
    titles = {entry.get("id"): catalog_title(entry, lang) for entry in rules_info.get("catalog") or []}
    as_of = str(submission.get("as_of") or "1970-01-01")[:10]
    timestamp = f"{as_of}T00:00:00"

    by_rule: dict[str, list[tuple[int, dict]]] = {}
    for number, conflict in enumerate(conflicts, start=1):
        by_rule.setdefault(conflict.get("rule", ""), []).append((number, conflict))

    outcomes = {o["rule"]: o for o in record.get("outcomes") or [] if o.get("rule")}
    for rule_id, items in by_rule.items():  # a conflict without an outcome still becomes a testcase
        outcomes.setdefault(rule_id, {"rule": rule_id, "status": "fail", "failed": len(items)})

    families: dict[str, list[dict]] = {}
    for rule_id in sorted(outcomes):
        families.setdefault(outcomes[rule_id].get("family") or family_of(rule_id), []).append(outcomes[rule_id])

    fails_on_indeterminate = (record.get("summary") or {}).get("fail_on") == "indeterminate"
    moved = reprojection_line(record, lang)
    root = ET.Element("testsuites")
    for suite_id, family in enumerate(sorted(families, key=family_key)):
        suite = ET.SubElement(root, "testsuite")
        properties = ET.SubElement(suite, "properties")
        for name, value in (("family", family_name(family, lang, record)),
                            ("submission", submission.get("id", "")),
                            ("as_of", as_of),
                            ("rules_sha256", rules_info.get("sha256", "")),
                            ("lang", lang)):
            ET.SubElement(properties, "property", name=name, value=str(value))
        if moved:  # the check ran in another CRS than the one declared
            ET.SubElement(properties, "property", name="reprojected", value=moved)
        failures = skipped = 0
        for outcome in families[family]:
            rule_id = outcome["rule"]
            title = titles.get(rule_id) or next(
                (localized(c, "title", lang) for _, c in by_rule.get(rule_id, [])), "")
            case = ET.SubElement(suite, "testcase", name=f"{rule_id} {title}".strip(),
                                 classname=f"rulecheck.{family}", time="0")
            failing = [(n, c) for n, c in by_rule.get(rule_id, []) if not is_waived(c)]
            waived = [(n, c) for n, c in by_rule.get(rule_id, []) if is_waived(c)]
            status = outcome.get("status", "pass")
            if failing:
                failures += 1
                severities = sorted({c.get("severity", "error") for _, c in failing},
                                    key=("error", "warning", "info").index)
                failure = ET.SubElement(case, "failure", type=severities[0],
                                        message=t("n_conflict", lang, n=len(failing)) + ": "
                                        + localized(failing[0][1], "message", lang))
                failure.text = "\n".join(_conflict_text(n, c, lang) for n, c in failing + waived) + "\n"
            elif status == "indeterminate" and fails_on_indeterminate:
                failures += 1  # --fail-on indeterminate: a result not decided fails the gate
                ET.SubElement(case, "failure", type="indeterminate",
                              message=f"indeterminate: {_missing(record, rule_id)}".rstrip(": "))
            elif status in ("not_applicable", "indeterminate"):
                skipped += 1
                message = status
                if status == "indeterminate":
                    message = f"indeterminate: {_missing(record, rule_id)}".rstrip(": ")
                ET.SubElement(case, "skipped", message=message)
        suite.set("name", f"{family} {family_name(family, lang, record)}")
        suite.set("package", f"rulecheck.{family}")
        suite.set("id", str(suite_id))
        suite.set("timestamp", timestamp)
        suite.set("hostname", "localhost")
        suite.set("tests", str(len(families[family])))
        suite.set("failures", str(failures))
        suite.set("errors", "0")
        suite.set("skipped", str(skipped))
        suite.set("time", "0")
        ET.SubElement(suite, "system-out").text = ""
        ET.SubElement(suite, "system-err").text = ""
    if verdict_of(record) == "undecided":  # every case skipped would read as green: the run itself fails
        suite = ET.SubElement(root, "testsuite", name="rulecheck", package="rulecheck", id=str(len(families)),
                              timestamp=timestamp, hostname="localhost", tests="1", failures="1", errors="0",
                              skipped="0", time="0")
        properties = ET.SubElement(suite, "properties")
        for name, value in (("submission", submission.get("id", "")), ("as_of", as_of),
                            ("rules_sha256", rules_info.get("sha256", "")), ("lang", lang)):
            ET.SubElement(properties, "property", name=name, value=str(value))
        if moved:
            ET.SubElement(properties, "property", name="reprojected", value=moved)
        case = ET.SubElement(suite, "testcase", name=f"rulecheck {t('undecided', lang)}", classname="rulecheck",
                             time="0")
        ET.SubElement(case, "failure", type="undecided", message=summary_line(record, lang))
        ET.SubElement(suite, "system-out").text = ""
        ET.SubElement(suite, "system-err").text = ""
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _missing(record: dict, rule_id: str) -> str:
    missing = [e.get("missing", "") for e in record.get("indeterminate") or [] if e.get("rule") == rule_id]
    return "; ".join(m for m in missing if m)


def _conflict_text(number: int, conflict: dict, lang: str) -> str:
    lines = [f"{number}. {status_marker(conflict, lang)}{conflict.get('rule', '')} [{conflict.get('severity', '')}] "
             f"{localized(conflict, 'message', lang)}"]
    for subject in conflict.get("subjects") or []:
        where = subject_location(subject)
        lines.append(f"   {subject_label(subject)}" + (f" ({where})" if where else ""))
    if conflict.get("expected") or conflict.get("actual"):
        lines.append(f"   {t('expected', lang)}: {conflict.get('expected', '')}; {t('actual', lang)}: {conflict.get('actual', '')}")
    if conflict.get("basis"):
        lines.append(f"   {t('basis', lang)}: {conflict['basis']}")
    if is_waived(conflict):
        lines.append("   " + waiver_line(conflict["waiver"], lang))
    return "\n".join(lines)

