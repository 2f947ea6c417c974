"""The impact of a rule change: every listed submission checked with the rules in force and with the new rules
or parameters, and, per submission, the conflicts the change adds and removes (baseline.compare)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from .baseline import compare
from .batch import run_batch
from .checking import CheckOptions

_KEPT = ("rule", "severity", "subjects", "message", "expected", "actual")


def history_path(target: str | Path) -> Path | str | None:
    """The history database `target` names (a database URL, a ``*.sqlite`` file, or a service's data folder),
    else None."""
    if "://" in str(target):
        return str(target)
    target = Path(target)
    if target.is_file() and target.suffix in (".sqlite", ".sqlite3", ".db"):
        return target
    if target.is_dir() and (target / "history.sqlite").is_file() and not any(target.glob("*/submission.yaml")):
        return target / "history.sqlite"
    return None


def from_history(database: Path | str, scratch: Path) -> tuple[list[Path], list[str]]:
    """Each stored submission's latest bundle unpacked under `scratch`: (manifests, labels ``history:ID@CHECK``)."""
    from .bundle import BundleLimits, BundleRefused, unpack
    from .diagnostics import Diagnostic, InputError
    from .history import History

    store = History(database)
    try:
        stored = store.latest_bundles()
    finally:
        store.close()
    if not stored:
        raise InputError([Diagnostic(str(database), "the history holds no stored bundle to check again")])
    manifests, labels = [], []
    for n, item in enumerate(stored):
        folder = scratch / f"{n:05d}"
        folder.mkdir(mode=0o700)
        try:  # the service took the bundle under its own limits
            manifests.append(unpack(item["data"], folder, BundleLimits(max_upload_mb=1e7, max_files=10**9,
                                                                           max_expanded_mb=1e7, max_ratio=1e9),
                                    item["manifest"]))
        except BundleRefused as refused:  # stored by the service, so readable: a damaged database
            raise InputError([Diagnostic(str(database), f"submission {item['submission']}: {refused.message}")]) from None
        labels.append(f"history:{item['submission']}@{item['check']}")
    return manifests, labels


def impact(manifests: list[Path], current: CheckOptions, proposed: CheckOptions, *, jobs: int = 1,
           scheduler: str | None = None, labels: list[str] | None = None) -> dict:
    """``{"submissions": [...], "affected": N, "unreadable": N}``: per submission (in manifest order) the
    conflicts `proposed` adds and removes against `current`; a submission either cannot read is listed with its
    problems and counted as unreadable, never as unaffected."""
    before = run_batch(manifests, current, jobs=jobs, scheduler=scheduler)
    after = run_batch(manifests, proposed, jobs=jobs, scheduler=scheduler)
    rows = []
    for n, (old, new) in enumerate(zip(before, after)):
        row = {"manifest": labels[n] if labels else old["manifest"]}
        if old.get("record") is None or new.get("record") is None:
            row.update(submission=None, status="unreadable",
                       diagnostics=(old.get("diagnostics") or []) + (new.get("diagnostics") or []))
            rows.append(row)
            continue
        compared = compare(old["record"], new["record"])
        added = [{k: c.get(k) for k in _KEPT if k in c} for c in compared["conflicts"] if c["status"] == "new"]
        removed = [{k: c.get(k) for k in _KEPT if k in c} for c in compared["resolved"]]
        row.update(submission=old["record"]["submission"]["id"],
                   status="affected" if added or removed else "unaffected",
                   verdict_before=old["record"]["summary"]["verdict"], verdict_after=new["record"]["summary"]["verdict"],
                   added=added, removed=removed, not_rechecked=len(compared["baseline"]["not_rechecked"]))
        rows.append(row)
    return {"rules": {"before": before[0]["record"]["rules"]["sha256"] if before and before[0].get("record") else None,
                      "after": after[0]["record"]["rules"]["sha256"] if after and after[0].get("record") else None,
                      "params_after": list(proposed.params), "rules_after": list(proposed.rules)},
            "affected": sum(r["status"] == "affected" for r in rows),
            "unreadable": sum(r["status"] == "unreadable" for r in rows),
            "submissions": rows}


def render_impact(result: dict, fmt: str = "text", lang: str = "zh") -> str:
    if fmt == "json":
        return json.dumps(result, ensure_ascii=False, indent=2) + "\n"
    lines = []
    for row in result["submissions"]:
        if row["status"] == "unreadable":
            first = (row.get("diagnostics") or [{}])[0]
            lines.append(f"{row['manifest']}: unreadable: {first.get('path', '')}: {first.get('message', '')}")
            continue
        if row["status"] == "unaffected":
            lines.append(f"{row['submission']}: unaffected ({row['verdict_before']})")
            continue
        lines.append(f"{row['submission']}: +{len(row['added'])} -{len(row['removed'])} "
                     f"({row['verdict_before']} -> {row['verdict_after']})")
        for sign, conflicts in (("+", row["added"]), ("-", row["removed"])):
            for conflict in conflicts:
                subjects = ", ".join(str(s.get("id")) for s in conflict.get("subjects") or [])
                message = conflict.get("message")
                lines.append(f"  {sign} {conflict['rule']} [{subjects}] {message}")
    lines.append(f"{result['affected']} of {len(result['submissions'])} submission(s) affected"
                 + (f", {result['unreadable']} unreadable" if result["unreadable"] else ""))
    del lang
    return "\n".join(lines) + "\n"


def proposed_options(current: CheckOptions, rules: tuple[str, ...], params: tuple[str, ...]) -> CheckOptions:
    """The current options with the new packs (when given) and the new parameter files."""
    return replace(current, rules=tuple(rules) or current.rules, params=tuple(params) or current.params)
