"""What every report format shares: family names, fixed strings in zh and en, and readers of the record."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from ..vocabulary import BASELINE_STATUSES, FAMILY_NAMES, family_key, norm_lang
from .record import AppliedWaiver, CatalogEntry, Conflict, Report

# Every fixed string a report prints, in both languages. Counted nouns are (singular, plural) in English.
STRINGS: dict[str, dict[str, Any]] = {
    "error": {"zh": "错误", "en": "error"},
    "warning": {"zh": "警告", "en": "warning"},
    "info": {"zh": "提示", "en": "info"},
    "n_error": {"zh": "{n} 个错误", "en": ("{n} error", "{n} errors")},
    "n_warning": {"zh": "{n} 个警告", "en": ("{n} warning", "{n} warnings")},
    "n_unverified": {"zh": "{n} 个数值待核", "en": ("{n} on an unverified figure", "{n} on unverified figures")},
    "n_info": {"zh": "{n} 个提示", "en": ("{n} info", "{n} infos")},
    "n_waived": {"zh": "{n} 个已豁免", "en": ("{n} waived", "{n} waived")},
    "n_indeterminate": {"zh": "{n} 项无法判定", "en": ("{n} indeterminate result", "{n} indeterminate results")},
    "n_conflict": {"zh": "{n} 个冲突", "en": ("{n} conflict", "{n} conflicts")},
    "passed": {"zh": "通过", "en": "PASSED"},
    "failed": {"zh": "未通过", "en": "FAILED"},
    "undecided": {"zh": "未判定", "en": "UNDECIDED"},
    "incomplete": {"zh": "判定不完整", "en": "INCOMPLETE"},
    "clean": {"zh": "未发现冲突（{n} 条规则）- 通过", "en": "No conflicts ({n} rules checked) - PASSED"},
    "no_conflicts": {"zh": "未发现冲突", "en": "No conflicts"},
    "nothing_decided": {"zh": "没有作出任何判定", "en": "Nothing decided"},
    "rule_counts": {"zh": "已运行 {n} 条规则：通过 {passed}，有冲突 {failed}，不适用 {not_applicable}，无法判定 {indeterminate}",
                    "en": ("{n} rule run: {passed} passed, {failed} failed, {not_applicable} not applicable, "
                           "{indeterminate} indeterminate",
                           "{n} rules run: {passed} passed, {failed} failed, {not_applicable} not applicable, "
                           "{indeterminate} indeterminate")},
    "indeterminate_results": {"zh": "无法判定的结果", "en": "Indeterminate results"},
    "status_new": {"zh": "新增", "en": "new"},
    "status_persisting": {"zh": "持续", "en": "persisting"},
    "resolved": {"zh": "相对基线已解决", "en": "Resolved since the baseline"},
    "baseline_line": {"zh": "与基线 {report} 相比：新增 {new}，持续 {persisting}，已解决 {resolved}",
                      "en": "Against the baseline {report}: {new} new, {persisting} persisting, {resolved} resolved"},
    "not_rechecked": {"zh": "，另有 {n} 个基线冲突的规则本轮未运行、未重新检查",
                      "en": ("; {n} conflict of the baseline not checked again (its rule was not run)",
                             "; {n} conflicts of the baseline not checked again (their rules were not run)")},
    "gate_new_only": {"zh": "（仅新增冲突计入结论）", "en": " (only new conflicts count toward the verdict)"},
    "rules_passed": {"zh": "通过的规则", "en": "Rules passed"},
    "rules_failed": {"zh": "有冲突的规则", "en": "Rules failed"},
    "rules_not_applicable": {"zh": "不适用的规则", "en": "Rules not applicable"},
    "rules_indeterminate": {"zh": "无法判定的规则", "en": "Rules indeterminate"},
    "settings_line": {"zh": "设置文件：{path}（采用：{applied}）", "en": "Settings file: {path} (applied: {applied})"},
    "settings_none": {"zh": "无", "en": "none"},
    "list_sep": {"zh": "，", "en": ", "},
    # --fail-on-new: what the verdict was decided on, said beside it (the counts before it are all conflicts)
    "gated_on_new": {"zh": "（仅按新增冲突判定：新增 {new} 个，既有 {persisting} 个不计入）",
                     "en": " (--fail-on-new: decided on the {new} new conflict(s); {persisting} persisting not counted)"},
    "subjects": {"zh": "对象", "en": "subjects"},
    "expected": {"zh": "应为", "en": "expected"},
    "actual": {"zh": "实际", "en": "actual"},
    "basis": {"zh": "依据", "en": "basis"},
    "explanation": {"zh": "计算过程", "en": "explanation"},
    "waived": {"zh": "已豁免", "en": "waived"},
    "waived_by": {
        "zh": "已豁免：{reason}（批准人 {approver}，依据 {basis}，有效期至 {expires}；{file}:{line}）",
        "en": "waived: {reason} (approved by {approver}, basis {basis}, expires {expires}; {file}:{line})",
    },
    "no_location": {"zh": "（无文件位置）", "en": "(no file location)"},
    "units": {"zh": "配置单元", "en": "unit"},
    "county_summary": {"zh": "县域汇总（总体配置方案 {scheme}）", "en": "County summary (scheme {scheme})"},
    "county_unit_row": {"zh": "{unit}（{manifest}）：{verdict}，错误 {error}，警告 {warning}，无法判定 {indeterminate}",
                        "en": "{unit} ({manifest}): {verdict}, {error} errors, {warning} warnings, {indeterminate} indeterminate"},
    "county_account": {"zh": "全县总账：各单元收入 {revenues} {money}、支出 {costs} {money}；方案自身收入 {scheme_revenues} {money}、支出 {scheme_costs} {money}；结余 {balance} {money}",
                       "en": "County account: units take in {revenues} {money} and spend {costs}; the scheme's own revenues {scheme_revenues}, costs {scheme_costs}; balance {balance} {money}"},
    "indeterminate": {"zh": "无法判定", "en": "Indeterminate"},
    "missing": {"zh": "缺少", "en": "missing"},
    "note": {"zh": "说明", "en": "note"},
    "reprojected": {"zh": "坐标已重投影：{moves}", "en": "Coordinates reprojected: {moves}"},
    "every_geometry": {"zh": "全部几何", "en": "every geometry"},
    "load_warnings": {"zh": "数据警告", "en": "Data warnings"},
    "waiver_unmatched": {"zh": "豁免未匹配任何冲突", "en": "waiver matched no conflict"},
    "waiver_expired": {"zh": "豁免已过期，未生效", "en": "waiver expired, not applied"},
    "waiver_refused": {"zh": "该规则不可豁免，豁免未生效", "en": "rule is not waivable, waiver not applied"},
    "summary": {"zh": "审查结论", "en": "Summary"},
    "conflicts": {"zh": "冲突", "en": "Conflicts"},
    "submission": {"zh": "提交材料", "en": "Submission"},
    "as_of": {"zh": "适用日期", "en": "Law as of"},
    "stage": {"zh": "审查阶段", "en": "Stage checked"},
    "stage_joint_review": {"zh": "同编同审前", "en": "before the joint approval (joint_review)"},
    "stage_supply": {"zh": "供应前", "en": "before supply (supply)"},
    "crs": {"zh": "坐标系", "en": "CRS"},
    "rules_run": {"zh": "已运行规则", "en": "Rules run"},
    "rule_packs": {"zh": "规则包", "en": "Rule packs"},
    "fail_on": {"zh": "失败阈值", "en": "Fail on"},
    "result": {"zh": "结论", "en": "Result"},
    "count": {"zh": "数量", "en": "Count"},
    "severity": {"zh": "级别", "en": "Severity"},
    "rule": {"zh": "规则", "en": "Rule"},
    "message": {"zh": "说明", "en": "Message"},
    "title": {"zh": "标题", "en": "Title"},
    "no": {"zh": "序号", "en": "No."},
    "tool": {"zh": "工具", "en": "Tool"},
    "map": {"zh": "冲突位置图", "en": "Map of conflicts"},
    "legend": {"zh": "图例", "en": "Legend"},
    "unit_boundary": {"zh": "配置单元边界", "en": "Unit boundary"},
    "rights_layer": {"zh": "权益布局", "en": "Rights"},
    "conflict_layer": {"zh": "冲突位置", "en": "Conflict location"},
    "report_title": {"zh": "自然资源资产配置单元规划审查报告", "en": "Allocation unit plan review report"},
    "reviewer": {"zh": "审查人 / Reviewer", "en": "审查人 / Reviewer"},
    "date": {"zh": "日期 / Date", "en": "日期 / Date"},
    "not_waivable": {"zh": "不可豁免", "en": "not waivable"},
    "waivers": {"zh": "豁免", "en": "Waivers"},
}


def unit_name(unit: str, lang: str) -> str:
    """How a unit of the rule language is written in a report (``wan_yuan`` -> ``万元`` / ``wan yuan``): the
    language's own table, not a copy."""
    from ..dsl.units import DISPLAY  # on first use: the rule language's package loads all of it

    zh, en = DISPLAY[unit]
    return en if norm_lang(lang) == "en" else zh


def t(key: str, lang: str, **values: Any) -> str:
    """A fixed string in `lang`, formatted; English counted nouns take `n` to choose the plural."""
    text = STRINGS[key][norm_lang(lang)]
    if isinstance(text, tuple):
        text = text[0] if values.get("n") == 1 else text[1]
    return text.format(**values) if values else text


def cap(text: str) -> str:
    """First letter upper-case (for English headings; Chinese is unchanged)."""
    return text[:1].upper() + text[1:]


def _head(record: Report | dict) -> Report:
    """The typed record; a dict is read without its lists of conflicts and results (what the one-line readers
    below need of a county's record is its summary, not its hundred thousand conflicts)."""
    return Report.of(record, detail=False)


def family_name(family: str, lang: str, report: Report | dict | None = None) -> str:
    """The family's name: the contract's, or the one a pack declared (`family ZJ "浙江省补充规则"`, in the record)."""
    names = FAMILY_NAMES.get(family) or (_head(report).family_names(family) if report is not None else None)
    return names[norm_lang(lang)] if names else family


def group_by_family(conflicts: Iterable[Conflict]) -> list[tuple[str, list[tuple[int, Conflict]]]]:
    """Conflicts numbered 1.. in record order (the numbers every format shows), grouped by family in report order."""
    groups: dict[str, list[tuple[int, Conflict]]] = {}
    for number, conflict in enumerate(conflicts, start=1):
        groups.setdefault(conflict.family, []).append((number, conflict))
    return [(family, groups[family]) for family in sorted(groups, key=family_key)]


def catalog_title(entry: dict, lang: str) -> str:
    return CatalogEntry.of(entry).title_in(lang)


def catalog_basis(entry: dict) -> str:
    """A catalog entry's basis as one line: ``citation：text`` (a paraphrase marked ``〔大意〕``)."""
    return CatalogEntry.of(entry).basis_line


def from_working_folder(record: dict) -> dict:
    """The record with its subjects' source paths shown from the working folder (`working_path`), for the formats a
    person reads (text, Markdown, JUnit, HTML); the JSON report keeps them relative to the manifest (the contract)."""
    from ..diagnostics import working_path

    manifest = (record.get("submission") or {}).get("manifest")
    if not manifest or manifest == os.path.basename(manifest):
        return record  # a manifest in the working folder: the paths are already from there

    def moved(subject: dict) -> dict:
        source = subject.get("source") or {}
        if not source.get("path"):
            return subject
        return {**subject, "source": {**source, "path": working_path(manifest, source["path"])}}

    def rebased(items):
        return [{**item, "subjects": [moved(s) for s in item.get("subjects") or []]} if item.get("subjects") else item
                for item in items or []]

    out = {**record, "conflicts": rebased(record.get("conflicts")), "indeterminate": rebased(record.get("indeterminate"))}
    if record.get("diagnostics"):  # the load's warnings
        out["diagnostics"] = [{**d, "path": working_path(manifest, d["path"])} if d.get("path") else d
                              for d in record["diagnostics"]]
    return out


def is_waived(conflict: dict) -> bool:
    return bool(conflict.get("waiver"))


def counted(key: str, n: int, lang: str) -> str:
    return t(key, lang, n=n)


def _found(report: Report, lang: str) -> list[str]:
    """What was found, each part counted: ``2 errors``, ``1 warning``, ``1 waived``, ``1 indeterminate result``."""
    summary = report.summary
    if report.verdict == "undecided" and not report.conflict_count:
        parts = [t("nothing_decided", lang)]
    elif not report.conflict_count:
        parts = [t("no_conflicts", lang)]
    else:
        parts = [counted("n_error", summary.error, lang), counted("n_warning", summary.warning, lang)]
        # conflicts resting on a figure of provenance `unverified`, then the waived ones
        parts += [counted(key, n, lang) for key, n in (("n_info", summary.info), ("n_unverified", summary.unverified),
                                                        ("n_waived", summary.waived)) if n]
    if summary.indeterminate:
        parts.append(counted("n_indeterminate", summary.indeterminate, lang))
    return parts


def summary_line(record: Report | dict, lang: str) -> str:
    """The verdict line: what was found, how many rules passed, failed, were not applicable or indeterminate,
    and the verdict: ``2 errors, 1 warning, 1 waived (5 rules run: 1 passed, 4 failed, 0 not applicable,
    0 indeterminate) - FAILED``; ``No conflicts (…) - PASSED``; ``Nothing decided (…) - UNDECIDED``."""
    report = _head(record)
    summary = report.summary
    counts = report.rule_counts()
    if counts is None and not report.conflict_count and not summary.indeterminate and report.verdict == "passed":
        return t("clean", lang, n=summary.rules_run if "rules_run" in summary.raw else 0)
    line = t("list_sep", lang).join(_found(report, lang))
    if counts is not None:
        n = summary.rules_run if "rules_run" in summary.raw else sum(counts.values())
        detail = t("rule_counts", lang, n=n, passed=counts["rules_passed"], failed=counts["rules_failed"],
                   not_applicable=counts["rules_not_applicable"], indeterminate=counts["rules_indeterminate"])
        line += f"（{detail}）" if norm_lang(lang) == "zh" else f" ({detail})"
    gate = t("gated_on_new", lang, new=summary.new, persisting=summary.persisting) if summary.fail_on_new else ""
    return line + " - " + t(report.verdict, lang) + gate


def status_marker(conflict: Conflict | dict, lang: str) -> str:
    """``[new] `` / ``[persisting] `` for a conflict compared with a baseline report; empty otherwise."""
    status = conflict.baseline_status if isinstance(conflict, Conflict) else conflict.get("status")
    return f"[{t('status_' + status, lang)}] " if status in BASELINE_STATUSES else ""


def baseline_line(record: Report | dict, lang: str) -> str | None:
    """``Against the baseline old.json: 1 new, 22 persisting, 1 resolved``, or None without a baseline."""
    report = _head(record)
    baseline = report.baseline
    if baseline is None:
        return None
    line = t("baseline_line", lang, report=baseline.report, new=baseline.new, persisting=baseline.persisting,
             resolved=baseline.resolved)
    if baseline.not_rechecked:
        line += t("not_rechecked", lang, n=baseline.not_rechecked)
    if report.summary.fail_on_new:
        line += t("gate_new_only", lang)
    return line


def settings_line(record: Report | dict, lang: str) -> str | None:
    """``Settings file: rulecheck.toml (applied: fail-on, select)`` when a settings file shaped the run (the CLI
    records it as `config`), else None: a gate's settings never change a verdict unseen."""
    settings = _head(record).settings
    if settings is None or not settings.path:
        return None
    applied = t("list_sep", lang).join(str(key) for key in settings.applied) or t("settings_none", lang)
    return t("settings_line", lang, path=settings.path, applied=applied)


def reprojection_line(record: Report | dict, lang: str) -> str | None:
    """``Coordinates reprojected: EPSG:4490 -> EPSG:4526 (every geometry)``: every reprojection the load made
    (`summary.reprojected`), or None. A check in a CRS other than the one declared is said in every summary."""
    moves = _head(record).summary.reprojected
    if not moves:
        return None
    zh = norm_lang(lang) == "zh"
    parts = [f"{m.get('from', '')} → {m.get('to', '')}" + (f"（{m.get('layer') or t('every_geometry', lang)}）" if zh
                                                            else f" ({m.get('layer') or t('every_geometry', lang)})")
             for m in moves]
    return t("reprojected", lang, moves=("；" if zh else "; ").join(parts))


def warning_lines(record: Report | dict) -> list[str]:
    """The load's warnings (`diagnostics`) as ``path:line: warning: field: message``."""
    return [warning.line_text for warning in _head(record).diagnostics]


def waiver_line(waiver: AppliedWaiver | dict, lang: str) -> str:
    if not isinstance(waiver, AppliedWaiver):
        waiver = AppliedWaiver.of(waiver) or AppliedWaiver()
    return t("waived_by", lang, reason=waiver.reason, approver=waiver.approver, basis=waiver.basis,
             expires=waiver.expires, file=waiver.file, line=waiver.line)


def county_lines(record: Report | dict, lang: str) -> list[str]:
    """A county report's summary: the scheme, a verdict per unit, the county's account (empty for a unit's report)."""
    county = _head(record).county
    if county is None:
        return []
    lines = [t("county_summary", lang, scheme=county.scheme_id)]
    for row in county.units:
        lines.append("  " + t("county_unit_row", lang, unit=row.unit, manifest=row.manifest,
                              verdict=t(row.verdict, lang) if row.verdict in STRINGS else row.verdict, error=row.error,
                              warning=row.warning, indeterminate=row.indeterminate))
    account = county.account
    if account is not None:
        lines.append("  " + t("county_account", lang, revenues=f"{account.unit_revenues:,.2f}",
                              costs=f"{account.unit_costs:,.2f}", scheme_revenues=f"{account.scheme_revenues:,.2f}",
                              scheme_costs=f"{account.scheme_costs:,.2f}", balance=f"{account.balance:,.2f}",
                              money=unit_name("wan_yuan", lang)))
    return lines


def epsg_urn(crs: str | None) -> str | None:
    """``EPSG:4526`` -> ``urn:ogc:def:crs:EPSG::4526`` (what GDAL reads from a GeoJSON ``crs`` member)."""
    if not crs:
        return None
    crs = str(crs)
    if crs.lower().startswith("urn:"):
        return crs
    authority, sep, code = crs.partition(":")
    if sep and code:
        return f"urn:ogc:def:crs:{authority.upper()}::{code}"
    return None
