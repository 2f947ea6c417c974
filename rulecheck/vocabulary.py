"""The report's vocabulary, defined once: severities, fail-on levels, verdicts, rule outcomes, families and their order,
report formats, land-use class names; what the gate, the engine, the rule language, the CLI, the service and every
emitter read them from. It imports nothing of the project above the model (the rule language imports it); how a
unit is written in a report is the rule language's own table (rulecheck.dsl.units.DISPLAY, via report.common)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

# ---- severities and the gate --------------------------------------------------------------------

SEVERITIES = ("error", "warning", "info")
SEVERITY_RANK = {"info": 1, "warning": 2, "error": 3}
# `--fail-on` thresholds, each stricter than the one before: `indeterminate` fails on any unwaived conflict
# and on any result that could not be decided; `never` fails on nothing
FAIL_ON = ("error", "warning", "info", "indeterminate", "never")
FAIL_ON_THRESHOLD = {"error": 3, "warning": 2, "info": 1, "indeterminate": 0}
# the run's verdict (`summary.verdict`): passed; incomplete (the gate passes, but some results could not be
# decided); undecided (no rule decided anything); failed. `summary.passed` (exit 0) is true for the first two
VERDICTS = ("passed", "incomplete", "undecided", "failed")
PASSING_VERDICTS = ("passed", "incomplete")
# a rule's outcome (`outcomes[].status`), counted in the summary as rules_<status>
OUTCOME_STATUSES = {"pass": "rules_passed", "fail": "rules_failed", "not_applicable": "rules_not_applicable",
                    "indeterminate": "rules_indeterminate"}
# the moment of the gate (`submission.stage`): before the joint approval (同编同审), before supply
STAGES = ("joint_review", "supply")
# a conflict's status against a baseline report (`conflicts[].status`)
BASELINE_STATUSES = ("new", "persisting")

# ---- languages ----------------------------------------------------------------------------------

LANGS = ("zh", "en")


def norm_lang(lang: str | None) -> str:
    """`zh` or `en`; anything starting with "en" is English, everything else Chinese."""
    return "en" if (lang or "").lower().startswith("en") else "zh"


# ---- families -----------------------------------------------------------------------------------

# The order families are reported in (the engine sorts conflicts the same way, the catalog lists rules so).
FAMILY_ORDER = ("GEO", "REF", "LAY", "IND", "DUT", "SUP", "FIN", "DOC", "CTY")

FAMILY_NAMES = {
    "GEO": {"zh": "几何数据", "en": "Geometry data"},
    "REF": {"zh": "引用完整性", "en": "Referential integrity"},
    "LAY": {"zh": "用地布局", "en": "Land-use layout"},
    "IND": {"zh": "控制指标", "en": "Control indicators"},
    "DUT": {"zh": "附带责任", "en": "Bundled duties"},
    "SUP": {"zh": "供应合同", "en": "Supply contracts"},
    "FIN": {"zh": "资金平衡", "en": "Fiscal balance"},
    "DOC": {"zh": "配置方法要件", "en": "Allocation method requirements"},
    "CTY": {"zh": "县域配置体系", "en": "County system: scheme and units"},
}


def family_rank(family: str) -> int:
    """A family's place in FAMILY_ORDER; a family a pack declares comes after every known one."""
    return FAMILY_ORDER.index(family) if family in FAMILY_ORDER else len(FAMILY_ORDER)


def family_key(family: str) -> tuple[int, str]:
    """Sort key: known families in report order, new families after them by name."""
    return (family_rank(family), "") if family in FAMILY_ORDER else (len(FAMILY_ORDER), family)


def family_of(rule_id: str) -> str:
    """The family prefix of a rule id: ``IND-002`` -> ``IND``."""
    return rule_id.split("-", 1)[0] if rule_id else ""


# ---- report formats -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportFormat:
    """One output format: its name (`--format`), the module of `rulecheck.report` that writes it, the extension of
    its file under `--output-dir` (report.<ext>) and the media type the service serves it as."""

    name: str
    module: str
    extension: str
    content_type: str


# in the order the emitters are listed (`rulecheck.report.FORMATS`)
FORMAT_TABLE: dict[str, ReportFormat] = {f.name: f for f in (
    ReportFormat("text", "text", "txt", "text/plain; charset=utf-8"),
    ReportFormat("json", "json_report", "json", "application/json"),
    ReportFormat("sarif", "sarif", "sarif", "application/sarif+json"),
    ReportFormat("junit", "junit", "xml", "application/xml"),
    ReportFormat("geojson", "geojson", "geojson", "application/geo+json"),
    ReportFormat("markdown", "markdown", "md", "text/markdown; charset=utf-8"),
    ReportFormat("html", "html_report", "html", "text/html; charset=utf-8"),
    ReportFormat("github", "github", "github.txt", "text/plain; charset=utf-8"),
    ReportFormat("gitlab", "gitlab", "gitlab.json", "application/json"),
)}
FORMAT_NAMES = tuple(FORMAT_TABLE)

# ---- land use -----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def land_use_classes() -> dict[str, dict[str, str]]:
    """The level-1 land-use classes (用地用海分类, ``01`` .. ``24``) with their names, ``{"zh": 耕地, "en": Cropland}``,
    from rulecheck/data/landuse.yaml (the national table the loader reads), for map legends."""
    from .model.landuse import load_classification

    classification = load_classification()
    return {code.code: {"zh": code.zh, "en": code.en[:1].upper() + code.en[1:]}
            for code in classification.codes.values() if code.level == 1}
