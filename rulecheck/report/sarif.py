"""The SARIF 2.1.0 report, for code-scanning dashboards and review tools that read static-analysis results."""

from __future__ import annotations

import posixpath
from pathlib import PurePosixPath
from urllib.parse import quote

from ..vocabulary import BASELINE_STATUSES, family_of, norm_lang
from .common import reprojection_line, summary_line, t
from .escape import for_log, sarif_markdown, sarif_text
from .json_report import dumps_indented
from .record import AppliedWaiver, CatalogEntry, Conflict, Report, Subject
from .workspace import fingerprint, manifest_folder

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
ROOT = "SUBMISSION_ROOT"  # the folder of the manifest; subject paths are relative to it
SRCROOT = "%SRCROOT%"  # the folder rulecheck ran in (the repository root in CI): resolved by the consumer
_LEVELS = {"error": "error", "warning": "warning", "info": "note"}


def render(record: dict | Report, *, lang: str) -> str:
    lang = norm_lang(lang)
    if isinstance(record, Report):
        record = dict(record.raw)
    # ids, names and properties too: no control or bidi override reaches a viewer
    report = Report.of(for_log(record))
    catalog = _catalog(report)
    rule_ids = sorted(catalog)
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    driver = {
        "name": report.tool_name,
        "version": str(report.tool_version),
        "rules": [_descriptor(catalog[rule_id], lang) for rule_id in rule_ids],
    }
    run: dict = {
        "tool": {"driver": driver},
        "originalUriBaseIds": _base_ids(report),
        "results": [_result(number, conflict, index, lang) for number, conflict in enumerate(report.conflicts, start=1)],
        "columnKind": "unicodeCodePoints",
        "properties": _run_properties(report),
        "invocations": [_invocation(report, lang)],
    }
    sarif = {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}
    return dumps_indented(sarif) + "\n"


def _catalog(report: Report) -> dict[str, CatalogEntry]:
    """The rules of the catalog by id; a conflict of a rule missing from it still gets one, made from the conflict."""
    catalog = {entry.id: entry for entry in report.rules.catalog if entry.id}
    for conflict in report.conflicts:
        rule_id = conflict.rule
        if rule_id and rule_id not in catalog:
            catalog[rule_id] = CatalogEntry(id=rule_id, family=family_of(rule_id), severity=conflict.severity,
                                            title=conflict.titles or conflict.title or rule_id,
                                            basis={"citation": conflict.basis})
    return catalog


def _run_properties(report: Report) -> dict:
    submission = report.submission
    properties = {
        "submission": submission.id,
        "as_of": str(submission.as_of),
        "crs": submission.crs,
        "manifest": submission.raw.get("manifest", ""),
        "rulePacks": list(report.rules.packs),
        "rulesSha256": report.rules.sha256,
        "summary": dict(report.summary.raw),
        # a county submission: the scheme, a verdict per unit, the county's account
        **({"county": report.county.raw} if report.county is not None else {}),
    }
    if "config" in report.raw:  # the settings file that shaped the gate (path null: none)
        properties["settings"] = report.raw["config"]
    return properties


def _invocation(report: Report, lang: str) -> dict:
    """The run's verdict, and what is to be noted: a run that decided nothing or not everything, a reprojection,
    what the load found wrong but not fatal (where it is)."""
    verdict = report.verdict
    invocation: dict = {"executionSuccessful": True, "properties": {"verdict": verdict}}
    notifications = []
    if verdict in ("undecided", "incomplete"):  # no result is not a clean result: say what was not decided
        notifications.append({
            "level": "error" if verdict == "undecided" else "warning",
            "message": {"text": sarif_text(summary_line(report, lang))},
            "descriptor": {"id": verdict},
        })
    moved = reprojection_line(report, lang)
    if moved:  # the check ran in another CRS than the one declared
        notifications.append({"level": "note", "message": {"text": moved}, "descriptor": {"id": "reprojected"}})
    for warning in report.diagnostics:
        physical: dict = {"artifactLocation": {"uri": _uri(str(warning.path)), "uriBaseId": ROOT}}
        if warning.line:
            physical["region"] = {"startLine": int(warning.line)}
        text = f"{warning.field}: " if warning.field else ""
        notifications.append({"level": _LEVELS.get(warning.severity, "warning"),
                              "message": {"text": text + str(warning.message)},
                              "locations": [{"physicalLocation": physical}], "descriptor": {"id": "load"}})
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    return invocation


def _base_ids(report: Report) -> dict:
    """SUBMISSION_ROOT has a uri: the manifest's folder, relative to %SRCROOT% (or absolute, when it was named so).

    SARIF 2.1.0 §3.14.14: a base id's uri is absolute, or relative with a uriBaseId of its own; %SRCROOT% has
    no uri (the working folder is machine-specific and stays out of the report): the consumer supplies it,
    as code-scanning services do with the repository root."""
    folder = manifest_folder(report)
    description = {"text": f"folder of the submission manifest ({folder or '.'})"}
    srcroot = {"description": {"text": "the folder rulecheck was run in (the repository root in CI)"}}
    if folder and posixpath.isabs(folder):
        return {SRCROOT: srcroot,
                ROOT: {"uri": PurePosixPath(folder).as_uri().rstrip("/") + "/", "description": description}}
    return {SRCROOT: srcroot,
            ROOT: {"uri": _uri(folder) + "/" if folder else "./", "uriBaseId": SRCROOT, "description": description}}


def _descriptor(entry: CatalogEntry, lang: str) -> dict:
    title = entry.title_in(lang) or entry.id
    basis = entry.basis_line
    other_title = entry.title_in("en" if lang == "zh" else "zh")
    full = f"{title} / {other_title}" if other_title and other_title != title else title
    help_text = f"{title}\n{t('basis', lang)}: {basis}" if basis else title
    properties: dict = {"tags": sorted({entry.family, *entry.tags})}
    if basis:
        properties["basis"] = basis
    if entry.waivable is not None:
        properties["waivable"] = entry.waivable
    if entry.source.path:
        properties["source"] = f"{entry.source.path}:{entry.source.line or ''}".rstrip(":")
    return {
        "id": entry.id,
        "name": entry.id.replace("-", ""),
        "shortDescription": {"text": sarif_text(title)},
        "fullDescription": {"text": sarif_text(full)},
        "help": {"text": sarif_text(help_text), "markdown": sarif_markdown(help_text)},
        "defaultConfiguration": {"level": _LEVELS.get(entry.severity, "error")},
        "properties": properties,
    }


def _logical(subject: Subject) -> dict:
    return {"name": str(subject.id), "fullyQualifiedName": subject.label, "kind": "object"}


def _locations(conflict: Conflict) -> list[dict]:
    """Each located subject where it is (file and line), then the others by name only."""
    locations, logical = [], []
    for subject in conflict.subjects:
        if not subject.source.path:
            logical.append(_logical(subject))
            continue
        physical: dict = {"artifactLocation": {"uri": _uri(subject.source.path), "uriBaseId": ROOT}}
        if subject.source.line:
            physical["region"] = {"startLine": int(subject.source.line)}
        locations.append({"physicalLocation": physical, "logicalLocations": [_logical(subject)],
                          "message": {"text": sarif_text(subject.label)}})
    if logical:
        locations.append({"logicalLocations": logical})
    return locations


def _result(number: int, conflict: Conflict, index: dict[str, int], lang: str) -> dict:
    rule_id = conflict.rule
    message = conflict.localized("message", lang) or conflict.localized("title", lang) or rule_id
    result: dict = {"ruleId": rule_id}
    if rule_id in index:
        result["ruleIndex"] = index[rule_id]
    result.update({
        "level": _LEVELS.get(conflict.severity, "error"),
        "message": {"text": sarif_text(message)},
        "locations": _locations(conflict),
        "partialFingerprints": {"rulecheck/v1": _fingerprint(conflict)},
        "properties": {"number": number, "expected": conflict.expected, "actual": conflict.actual,
                       "basis": conflict.basis, "subjects": [s.label for s in conflict.subjects]},
    })
    properties = result["properties"]
    if conflict.units:  # a county report: the unit (or units) the conflict belongs to
        properties["units"] = list(conflict.units)
    if conflict.status in BASELINE_STATUSES:  # compared with a baseline report (--baseline)
        result["baselineState"] = "new" if conflict.status == "new" else "unchanged"
    if conflict.explanation:
        properties["explanation"] = conflict.raw["explanation"]  # every step as the record has it
    if conflict.unverified:  # rests on a figure of provenance `unverified` (docs/reports.md)
        properties["unverified"] = True
        properties["unverifiedParams"] = list(conflict.unverified_params)
    if conflict.waiver is not None:
        result["suppressions"] = [_suppression(conflict.waiver)]
    return result


def _suppression(waiver: AppliedWaiver) -> dict:
    return {
        "kind": "external",
        "status": "accepted",
        "justification": str(waiver.reason),
        "location": {"physicalLocation": {"artifactLocation": _waiver_file(str(waiver.file)),
                                          "region": {"startLine": int(waiver.line or 1)}}},
        "properties": {"approver": str(waiver.approver), "basis": str(waiver.basis), "expires": str(waiver.expires)},
    }


def _waiver_file(path: str) -> dict:
    """The waiver file as the command line named it: from the working folder, or absolute."""
    path = path.replace("\\", "/")
    if posixpath.isabs(path):
        return {"uri": PurePosixPath(path).as_uri()}
    return {"uri": _uri(path), "uriBaseId": SRCROOT}


def _uri(path: str) -> str:
    return quote(path.replace("\\", "/"), safe="/:@-._~!$&'()*+,;=")


def _fingerprint(conflict: Conflict) -> str:
    """Stable across runs and line moves: the rule and its subjects, not their lines."""
    return fingerprint(conflict.rule, conflict.subjects)[:32]
