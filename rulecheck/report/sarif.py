"""The SARIF 2.1.0 report, for code-scanning dashboards and review tools that read static-analysis results."""

from __future__ import annotations

import posixpath
from pathlib import PurePosixPath
from urllib.parse import quote

from .escape import for_log, sarif_markdown, sarif_text
from .common import (
    catalog_basis,
    catalog_title,
    family_of,
    localized,
    norm_lang,
    reprojection_line,
    subject_label,
    summary_line,
    t,
    verdict_of,
)
from .workspace import fingerprint, manifest_folder
from .json_report import dumps_indented

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
ROOT = "SUBMISSION_ROOT"  # the folder of the manifest; subject paths are relative to it
SRCROOT = "%SRCROOT%"  # the folder rulecheck ran in (the repository root in CI): resolved by the consumer
_LEVELS = {"error": "error", "warning": "warning", "info": "note"}


def render(record: dict, *, lang: str) -> str:
    lang = norm_lang(lang)
    record = for_log(record)  # ids, names and properties too: no control or bidi override reaches a viewer
    tool = record.get("tool") or {}
    submission = record.get("submission") or {}
    rules_info = record.get("rules") or {}
    conflicts = record.get("conflicts") or []

    catalog = {entry["id"]: entry for entry in rules_info.get("catalog") or [] if entry.get("id")}
    # A conflict of a rule missing from the catalog still gets a descriptor, built from the conflict.
    for conflict in conflicts:
        rule_id = conflict.get("rule", "")
        if rule_id and rule_id not in catalog:
            catalog[rule_id] = {"id": rule_id, "family": family_of(rule_id),
                                "severity": conflict.get("severity", "error"),
                                "title": conflict.get("titles") or conflict.get("title") or rule_id,
                                "basis": {"citation": conflict.get("basis", "")}}
    rule_ids = sorted(catalog)
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}

    driver = {
        "name": tool.get("name", "rulecheck"),
        "version": str(tool.get("version", "")),
        "rules": [_descriptor(catalog[rule_id], lang) for rule_id in rule_ids],
    }

    run: dict = {
        "tool": {"driver": driver},
        "originalUriBaseIds": _base_ids(record),
        "results": [_result(number, conflict, index, lang) for number, conflict in enumerate(conflicts, start=1)],
        "columnKind": "unicodeCodePoints",
        "properties": {
            "submission": submission.get("id", ""),
            "as_of": str(submission.get("as_of", "")),
            "crs": submission.get("crs", ""),
            "manifest": submission.get("manifest", ""),
            "rulePacks": list(rules_info.get("packs") or []),
            "rulesSha256": rules_info.get("sha256", ""),
            "summary": record.get("summary") or {},
        },
    }
    if "config" in record:  # the settings file that shaped the gate (path null: none)
        run["properties"]["settings"] = record["config"]
    verdict = verdict_of(record)
    invocation: dict = {"executionSuccessful": True, "properties": {"verdict": verdict}}
    if verdict in ("undecided", "incomplete"):  # no result is not a clean result: say what was not decided
        invocation["toolExecutionNotifications"] = [{
            "level": "error" if verdict == "undecided" else "warning",
            "message": {"text": sarif_text(summary_line(record, lang))},
            "descriptor": {"id": verdict},
        }]
    notifications = invocation.setdefault("toolExecutionNotifications", [])
    moved = reprojection_line(record, lang)
    if moved:  # the check ran in another CRS than the one declared
        notifications.append({"level": "note", "message": {"text": moved}, "descriptor": {"id": "reprojected"}})
    for diagnostic in record.get("diagnostics") or []:  # what the load found wrong but not fatal, where it is
        physical: dict = {"artifactLocation": {"uri": _uri(str(diagnostic.get("path") or "")), "uriBaseId": ROOT}}
        if diagnostic.get("line"):
            physical["region"] = {"startLine": int(diagnostic["line"])}
        text = f"{diagnostic['field']}: " if diagnostic.get("field") else ""
        notifications.append({"level": _LEVELS.get(diagnostic.get("severity", "warning"), "warning"),
                              "message": {"text": text + str(diagnostic.get("message", ""))},
                              "locations": [{"physicalLocation": physical}], "descriptor": {"id": "load"}})
    if not notifications:
        del invocation["toolExecutionNotifications"]
    run["invocations"] = [invocation]
    sarif = {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}
    return dumps_indented(sarif) + "\n"


def _base_ids(record: dict) -> dict:
    """SUBMISSION_ROOT has a uri: the manifest's folder, relative to %SRCROOT% (or absolute, when it was named so).

    SARIF 2.1.0 §3.14.14: a base id's uri is absolute, or relative with a uriBaseId of its own; %SRCROOT% has
    no uri (the working folder is machine-specific and stays out of the report): the consumer supplies it,
    as code-scanning services do with the repository root."""
    folder = manifest_folder(record)
    description = {"text": f"folder of the submission manifest ({folder or '.'})"}
    srcroot = {"description": {"text": "the folder rulecheck was run in (the repository root in CI)"}}
    if folder and posixpath.isabs(folder):
        return {SRCROOT: srcroot,
                ROOT: {"uri": PurePosixPath(folder).as_uri().rstrip("/") + "/", "description": description}}
    return {SRCROOT: srcroot,
            ROOT: {"uri": _uri(folder) + "/" if folder else "./", "uriBaseId": SRCROOT, "description": description}}


def _descriptor(entry: dict, lang: str) -> dict:
    title = catalog_title(entry, lang) or entry["id"]
    basis = catalog_basis(entry)
    other = "en" if lang == "zh" else "zh"
    full = title
    other_title = catalog_title(entry, other)
    if other_title and other_title != title:
        full = f"{title} / {other_title}"
    help_text = f"{title}\n{t('basis', lang)}: {basis}" if basis else title
    properties: dict = {"tags": sorted({entry.get("family") or family_of(entry["id"]), *(entry.get("tags") or [])})}
    if basis:
        properties["basis"] = basis
    if "waivable" in entry:
        properties["waivable"] = bool(entry["waivable"])
    source = entry.get("source") or {}
    if source.get("path"):
        properties["source"] = f"{source['path']}:{source.get('line', '')}".rstrip(":")
    return {
        "id": entry["id"],
        "name": entry["id"].replace("-", ""),
        "shortDescription": {"text": sarif_text(title)},
        "fullDescription": {"text": sarif_text(full)},
        "help": {"text": sarif_text(help_text), "markdown": sarif_markdown(help_text)},
        "defaultConfiguration": {"level": _LEVELS.get(entry.get("severity", "error"), "error")},
        "properties": properties,
    }


def _result(number: int, conflict: dict, index: dict[str, int], lang: str) -> dict:
    rule_id = conflict.get("rule", "")
    message = localized(conflict, "message", lang) or localized(conflict, "title", lang) or rule_id
    locations, logical = [], []
    for subject in conflict.get("subjects") or []:
        source = subject.get("source") or {}
        if source.get("path"):
            physical: dict = {"artifactLocation": {"uri": _uri(source["path"]), "uriBaseId": ROOT}}
            if source.get("line"):
                physical["region"] = {"startLine": int(source["line"])}
            locations.append({
                "physicalLocation": physical,
                "logicalLocations": [{"name": str(subject.get("id")),
                                      "fullyQualifiedName": subject_label(subject), "kind": "object"}],
                "message": {"text": sarif_text(subject_label(subject))},
            })
        else:
            logical.append({"name": str(subject.get("id")), "fullyQualifiedName": subject_label(subject),
                            "kind": "object"})
    if logical:
        locations.append({"logicalLocations": logical})
    result: dict = {
        "ruleId": rule_id,
        "level": _LEVELS.get(conflict.get("severity", "error"), "error"),
        "message": {"text": sarif_text(message)},
        "locations": locations,
        "partialFingerprints": {"rulecheck/v1": _fingerprint(conflict)},
        "properties": {"number": number, "expected": conflict.get("expected"), "actual": conflict.get("actual"),
                       "basis": conflict.get("basis", ""), "subjects": [subject_label(s) for s in conflict.get("subjects") or []]},
    }
    if rule_id in index:
        result = {"ruleId": rule_id, "ruleIndex": index[rule_id], **{k: v for k, v in result.items() if k != "ruleId"}}
    if conflict.get("status") in ("new", "persisting"):  # compared with a baseline report (--baseline)
        result["baselineState"] = "new" if conflict["status"] == "new" else "unchanged"
    if conflict.get("explanation"):
        result["properties"]["explanation"] = conflict["explanation"]
    if conflict.get("unverified"):  # rests on a figure of provenance `unverified` (docs/reports.md)
        result["properties"]["unverified"] = True
        result["properties"]["unverifiedParams"] = list(conflict.get("unverified_params") or [])
    waiver = conflict.get("waiver")
    if waiver:
        result["suppressions"] = [{
            "kind": "external",
            "status": "accepted",
            "justification": str(waiver.get("reason", "")),
            "location": {"physicalLocation": {"artifactLocation": _waiver_file(str(waiver.get("file", ""))),
                                              "region": {"startLine": int(waiver.get("line") or 1)}}},
            "properties": {k: str(waiver.get(k, "")) for k in ("approver", "basis", "expires")},
        }]
    return result


def _waiver_file(path: str) -> dict:
    """The waiver file as the command line named it: from the working folder, or absolute."""
    path = path.replace("\\", "/")
    if posixpath.isabs(path):
        return {"uri": PurePosixPath(path).as_uri()}
    return {"uri": _uri(path), "uriBaseId": SRCROOT}


def _uri(path: str) -> str:
    return quote(path.replace("\\", "/"), safe="/:@-._~!$&'()*+,;=")


def _fingerprint(conflict: dict) -> str:
    """Stable across runs and line moves: the rule and its subjects, not their lines."""
    return fingerprint(conflict)[:32]
