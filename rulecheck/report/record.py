"""The report record, typed: what the engine returns (a dict, whose JSON serialisation is the JSON report of
docs/bundle-format.md) read once into frozen dataclasses that the emitters render.

Each node keeps the mapping it was read from (`raw`): the JSON report writes the record itself, byte for byte,
and SARIF carries a few parts of it verbatim (the summary, the county, the settings). Everything a report prints is
read from the typed fields, whose defaults are those of the contract (a missing list is empty, a missing text is
empty, a missing severity is ``error``).

>>> report = Report.of({"summary": {"error": 1, "verdict": "failed"},
...                     "conflicts": [{"rule": "IND-002", "severity": "error",
...                                    "subjects": [{"collection": "parcels", "id": "P-0412",
...                                                  "source": {"path": "layers/parcels.geojson", "line": 1207}}]}]})
>>> report.verdict, report.conflicts[0].family, report.conflicts[0].subjects[0].location
('failed', 'IND', 'layers/parcels.geojson:1207')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..vocabulary import BASELINE_STATUSES, OUTCOME_STATUSES, VERDICTS, family_of, norm_lang

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else _EMPTY


def _items(value: Any) -> list:
    return list(value) if isinstance(value, (list, tuple)) else []


@dataclass(frozen=True)
class Source:
    """Where a record was read: a file (relative to the manifest's folder, or from the working folder in the
    formats a person reads) and a line."""

    path: str | None = None
    line: int | None = None

    @classmethod
    def of(cls, raw: Any) -> Source:
        raw = _mapping(raw)
        return cls(path=raw.get("path") or None, line=raw.get("line") or None)


@dataclass(frozen=True)
class Subject:
    """A record a conflict names: ``parcels:P-0412``."""

    id: Any
    collection: str | None = None
    source: Source = Source()

    @classmethod
    def of(cls, raw: Any) -> Subject:
        raw = _mapping(raw)
        return cls(id=raw.get("id"), collection=raw.get("collection") or None, source=Source.of(raw.get("source")))

    @property
    def label(self) -> str:
        """``parcels:P-0412``."""
        return f"{self.collection}:{self.id}" if self.collection else str(self.id)

    @property
    def location(self) -> str | None:
        """``layers/parcels.geojson:1207``, or None when the subject has no source."""
        if not self.source.path:
            return None
        return f"{self.source.path}:{self.source.line}" if self.source.line else str(self.source.path)


@dataclass(frozen=True)
class AppliedWaiver:
    """The waiver that took a conflict out of the gate: who approved it, why, until when, and where it is written."""

    reason: Any = ""
    approver: Any = ""
    basis: Any = ""
    expires: Any = ""
    file: Any = ""
    line: Any = ""

    @classmethod
    def of(cls, raw: Any) -> AppliedWaiver | None:
        if not raw:
            return None
        raw = _mapping(raw)
        return cls(**{key: raw.get(key, "") for key in ("reason", "approver", "basis", "expires", "file", "line")})


@dataclass(frozen=True)
class WaiverNote:
    """A waiver that waived nothing (`waivers.unmatched`, `expired`, `refused`)."""

    file: Any = ""
    line: Any = ""
    rule: str = ""
    subjects: tuple[Any, ...] = ()

    @classmethod
    def of(cls, raw: Any) -> WaiverNote:
        raw = _mapping(raw)
        return cls(file=raw.get("file", ""), line=raw.get("line", ""), rule=raw.get("rule", ""),
                   subjects=tuple(_items(raw.get("subjects"))))


@dataclass(frozen=True)
class Step:
    """One value a failing condition was computed from (`--explain`): ``parcel.far_max = 1.2``."""

    expr: Any = ""
    value: Any = ""


@dataclass(frozen=True)
class Conflict:
    """One conflict (or, under `resolved`, one conflict of the baseline report no longer found)."""

    rule: str = ""
    family: str = ""
    severity: str = "error"
    title: Any = ""
    titles: Mapping[str, Any] | None = None
    message: Any = ""
    messages: Mapping[str, Any] | None = None
    basis: Any = ""
    subjects: tuple[Subject, ...] = ()
    expected: Any = None
    actual: Any = None
    geometry: Mapping[str, Any] | None = None  # GeoJSON: where the conflict is, for spatial rules
    explanation: tuple[Step, ...] = ()
    waiver: AppliedWaiver | None = None
    status: str | None = None  # new | persisting, against a baseline report
    units: tuple[Any, ...] = ()  # a county report: the units the conflict belongs to
    unverified: bool = False
    unverified_params: tuple[Any, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, raw: Any) -> Conflict:
        raw = _mapping(raw)
        rule = raw.get("rule", "")
        return cls(
            rule=rule, family=raw.get("family") or family_of(rule or ""), severity=raw.get("severity", "error"),
            title=raw.get("title") or "", titles=raw.get("titles") if isinstance(raw.get("titles"), Mapping) else None,
            message=raw.get("message") or "",
            messages=raw.get("messages") if isinstance(raw.get("messages"), Mapping) else None,
            basis=raw.get("basis", ""), subjects=tuple(Subject.of(s) for s in _items(raw.get("subjects"))),
            expected=raw.get("expected"), actual=raw.get("actual"), geometry=raw.get("geometry") or None,
            explanation=tuple(Step(_mapping(s).get("expr", ""), _mapping(s).get("value", ""))
                              for s in _items(raw.get("explanation"))),
            waiver=AppliedWaiver.of(raw.get("waiver")), status=raw.get("status"),
            units=tuple(_items(raw.get("units"))), unverified=bool(raw.get("unverified")),
            unverified_params=tuple(_items(raw.get("unverified_params"))), raw=raw)

    def localized(self, key: str, lang: str) -> str:
        """`title` or `message` in `lang`: from ``titles``/``messages`` when they have it, else the plain field."""
        many = self.titles if key == "title" else self.messages
        lang = norm_lang(lang)
        if many and many.get(lang):
            return str(many[lang])
        return str((self.title if key == "title" else self.message) or "")

    @property
    def waived(self) -> bool:
        return self.waiver is not None

    @property
    def baseline_status(self) -> str | None:
        """``new`` or ``persisting`` against a baseline report, else None."""
        return self.status if self.status in BASELINE_STATUSES else None

    @property
    def document(self) -> str:
        """The file the conflict is first found in (its first located subject), for grouping by document."""
        return next((str(s.source.path) for s in self.subjects if s.source.path), "")

    @property
    def subjects_line(self) -> str:
        """``contracts:C01/R07, parcels:P-0412``."""
        return ", ".join(s.label for s in self.subjects)


@dataclass(frozen=True)
class Indeterminate:
    """A result that could not be decided: the rule, its subjects, and what was missing."""

    rule: Any = ""
    subjects: tuple[Subject, ...] = ()
    missing: Any = None

    @classmethod
    def of(cls, raw: Any) -> Indeterminate:
        raw = _mapping(raw)
        return cls(rule=raw.get("rule", ""), subjects=tuple(Subject.of(s) for s in _items(raw.get("subjects"))),
                   missing=raw.get("missing"))


@dataclass(frozen=True)
class Outcome:
    """What one rule run came to: pass, fail, not_applicable or indeterminate."""

    rule: str
    status: str = "pass"
    family: str = ""
    not_in_force: bool = False

    @classmethod
    def of(cls, raw: Any) -> Outcome:
        raw = _mapping(raw)
        rule = raw.get("rule") or ""
        return cls(rule=rule, status=raw.get("status", "pass"), family=raw.get("family") or family_of(rule),
                   not_in_force=bool(raw.get("not_in_force")))


@dataclass(frozen=True)
class CatalogEntry:
    """A rule as the report's catalog describes it (`rules.catalog[]`)."""

    id: str
    family: str = ""
    severity: str = "error"
    title: Any = ""  # {"zh": ..., "en": ...} or a text
    basis: Any = ""  # {"citation": ..., "text": ..., "paraphrase": ...} or a text
    tags: tuple[str, ...] = ()
    waivable: bool | None = None  # None: the entry does not say
    source: Source = Source()

    @classmethod
    def of(cls, raw: Any) -> CatalogEntry:
        raw = _mapping(raw)
        rule_id = raw.get("id") or ""
        return cls(id=rule_id, family=raw.get("family") or family_of(rule_id), severity=raw.get("severity", "error"),
                   title=raw.get("title"), basis=raw.get("basis"), tags=tuple(_items(raw.get("tags"))),
                   waivable=bool(raw["waivable"]) if "waivable" in raw else None, source=Source.of(raw.get("source")))

    def title_in(self, lang: str) -> str:
        """The title in `lang` (else the other language's)."""
        if isinstance(self.title, Mapping):
            lang = norm_lang(lang)
            return str(self.title.get(lang) or self.title.get("zh") or self.title.get("en") or "")
        return str(self.title or "")

    @property
    def basis_line(self) -> str:
        """The basis as one line: ``citation：text`` (a paraphrase marked ``〔大意〕``)."""
        basis = self.basis
        if isinstance(basis, Mapping):
            text = ("〔大意〕" if basis.get("paraphrase") else "") + str(basis.get("text") or "")
            parts = [str(basis["citation"])] if basis.get("citation") else []
            return "：".join(parts + ([text] if basis.get("text") else []))
        return str(basis or "")


@dataclass(frozen=True)
class Rules:
    """The rule packs run: their files, their digest, the catalog of rules, the families packs declared."""

    packs: tuple[str, ...] = ()
    sha256: str = ""
    catalog: tuple[CatalogEntry, ...] = ()
    families: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @classmethod
    def of(cls, raw: Any) -> Rules:
        raw = _mapping(raw)
        return cls(packs=tuple(_items(raw.get("packs"))), sha256=raw.get("sha256", ""),
                   catalog=tuple(CatalogEntry.of(e) for e in _items(raw.get("catalog"))),
                   families=_mapping(raw.get("families")))


@dataclass(frozen=True)
class Submission:
    """What was checked: the submission's id and title, the law's date, the stage, the CRS, the manifest."""

    id: Any = ""
    title: Any = ""
    as_of: Any = ""
    stage: str | None = None
    crs: Any = ""
    manifest: str | None = None
    notes: tuple[Any, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, raw: Any) -> Submission:
        raw = _mapping(raw)
        return cls(id=raw.get("id", ""), title=raw.get("title") or "", as_of=raw.get("as_of", ""),
                   stage=raw.get("stage"), crs=raw.get("crs", ""), manifest=raw.get("manifest"),
                   notes=tuple(_items(raw.get("notes"))), raw=raw)


@dataclass(frozen=True)
class Summary:
    """The counts and the verdict (`summary`)."""

    error: int = 0
    warning: int = 0
    info: int = 0
    waived: int = 0
    unverified: int = 0
    indeterminate: int = 0
    rules_run: Any = None  # None: the record does not say
    fail_on: Any = ""
    verdict: str = "passed"
    fail_on_new: bool = False
    new: Any = 0
    persisting: Any = 0
    rule_counts: Mapping[str, int] | None = None  # {rules_passed: n, ...} when the summary has all four
    reprojected: tuple[Mapping[str, Any], ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, raw: Any) -> Summary:
        raw = _mapping(raw)
        verdict = raw.get("verdict")
        if verdict not in VERDICTS:  # a record without one has the verdict `passed` says
            verdict = "passed" if raw.get("passed", True) else "failed"
        counts = ({key: int(raw[key] or 0) for key in OUTCOME_STATUSES.values()}
                  if all(key in raw for key in OUTCOME_STATUSES.values()) else None)
        return cls(error=int(raw.get("error") or 0), warning=int(raw.get("warning") or 0),
                   info=int(raw.get("info") or 0), waived=int(raw.get("waived") or 0),
                   unverified=int(raw.get("unverified") or 0), indeterminate=int(raw.get("indeterminate") or 0),
                   rules_run=raw.get("rules_run"), fail_on=raw.get("fail_on", ""), verdict=verdict,
                   fail_on_new=bool(raw.get("fail_on_new")), new=raw.get("new", 0),
                   persisting=raw.get("persisting", 0), rule_counts=counts,
                   reprojected=tuple(_mapping(m) for m in _items(raw.get("reprojected"))), raw=raw)


@dataclass(frozen=True)
class Baseline:
    """The earlier round's report this one was compared with (`--baseline`)."""

    report: Any = ""
    new: int = 0
    persisting: int = 0
    resolved: int = 0
    not_rechecked: int = 0  # conflicts of the baseline whose rule was not run this time

    @classmethod
    def of(cls, raw: Any) -> Baseline | None:
        if not isinstance(raw, Mapping):
            return None
        return cls(report=raw.get("report") or raw.get("submission") or "", new=int(raw.get("new") or 0),
                   persisting=int(raw.get("persisting") or 0), resolved=int(raw.get("resolved") or 0),
                   not_rechecked=len(raw.get("not_rechecked") or []))


@dataclass(frozen=True)
class Settings:
    """The settings file that shaped the run (`config`), and which of its keys applied."""

    path: Any = None
    applied: tuple[Any, ...] = ()

    @classmethod
    def of(cls, raw: Any) -> Settings | None:
        if not isinstance(raw, Mapping):
            return None
        return cls(path=raw.get("path"), applied=tuple(_items(raw.get("applied"))))


@dataclass(frozen=True)
class LoadWarning:
    """What the load found wrong but not fatal (`diagnostics`), where it is."""

    path: Any = ""
    line: Any = None
    field: Any = None
    severity: Any = "warning"
    message: Any = ""

    @classmethod
    def of(cls, raw: Any) -> LoadWarning:
        raw = _mapping(raw)
        return cls(path=raw.get("path") or "", line=raw.get("line"), field=raw.get("field"),
                   severity=raw.get("severity", "warning"), message=raw.get("message", ""))

    @property
    def line_text(self) -> str:
        """``path:line: warning: field: message``."""
        where = str(self.path) + (f":{self.line}" if self.line is not None else "")
        return f"{where}: {self.severity}: " + (f"{self.field}: " if self.field else "") + str(self.message)


@dataclass(frozen=True)
class CountyUnit:
    """One unit of a county report: its manifest, its verdict and counts."""

    unit: Any = ""
    manifest: Any = ""
    verdict: Any = ""
    error: Any = 0
    warning: Any = 0
    indeterminate: Any = 0

    @classmethod
    def of(cls, raw: Any) -> CountyUnit:
        raw = _mapping(raw)
        return cls(unit=raw.get("unit", ""), manifest=raw.get("manifest", ""), verdict=raw.get("verdict") or "",
                   error=raw.get("error", 0), warning=raw.get("warning", 0), indeterminate=raw.get("indeterminate", 0))


@dataclass(frozen=True)
class CountyAccount:
    """The county's account in 万元: what the units take in and spend, the scheme's own, and the balance."""

    unit_revenues: float = 0
    unit_costs: float = 0
    scheme_revenues: float = 0
    scheme_costs: float = 0
    balance: float = 0

    @classmethod
    def of(cls, raw: Any) -> CountyAccount | None:
        if not raw:
            return None
        raw = _mapping(raw)
        return cls(**{name: raw.get(f"{name}_wan_yuan", 0)
                      for name in ("unit_revenues", "unit_costs", "scheme_revenues", "scheme_costs", "balance")})


@dataclass(frozen=True)
class County:
    """A county report's summary (`county`): the scheme, a verdict per unit, the county's account."""

    scheme_id: Any = ""
    units: tuple[CountyUnit, ...] = ()
    account: CountyAccount | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, raw: Any) -> County | None:
        if not raw:
            return None
        raw = _mapping(raw)
        return cls(scheme_id=_mapping(raw.get("scheme")).get("id", ""),
                   units=tuple(CountyUnit.of(row) for row in _items(raw.get("units"))),
                   account=CountyAccount.of(raw.get("account")), raw=raw)


@dataclass(frozen=True)
class Report:
    """The whole record: what was checked, with which rules, what was found and the verdict."""

    tool_name: str = "rulecheck"
    tool_version: Any = ""
    submission: Submission = Submission()
    rules: Rules = Rules()
    summary: Summary = Summary()
    conflicts: tuple[Conflict, ...] = ()
    outcomes: tuple[Outcome, ...] | None = None  # None: the record has no outcomes
    indeterminate: tuple[Indeterminate, ...] = ()
    resolved: tuple[Conflict, ...] = ()
    waivers_applied: tuple[AppliedWaiver, ...] = ()
    waiver_notes: Mapping[str, tuple[WaiverNote, ...]] = field(default_factory=dict)  # unmatched, expired, refused
    diagnostics: tuple[LoadWarning, ...] = ()
    baseline: Baseline | None = None
    settings: Settings | None = None
    county: County | None = None
    conflict_count: int = 0  # len(conflicts), also in a record read without its lists (Report.of(detail=False))
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, record: Report | Mapping[str, Any], *, detail: bool = True) -> Report:
        """The typed record of the engine's dict (a Report is returned as it is). Without `detail`, the lists of
        conflicts, indeterminate and resolved results are left empty (`conflict_count` still counts the conflicts):
        what a summary line needs of a county's record, without reading its hundred thousand conflicts."""
        if isinstance(record, Report):
            return record
        raw = _mapping(record)
        tool = _mapping(raw.get("tool"))
        waivers = _mapping(raw.get("waivers"))
        conflicts = _items(raw.get("conflicts"))
        return cls(
            tool_name=tool.get("name", "rulecheck"), tool_version=tool.get("version", ""),
            submission=Submission.of(raw.get("submission")), rules=Rules.of(raw.get("rules")),
            summary=Summary.of(raw.get("summary")),
            conflicts=tuple(Conflict.of(c) for c in conflicts) if detail else (), conflict_count=len(conflicts),
            outcomes=tuple(Outcome.of(o) for o in _items(raw.get("outcomes"))) if "outcomes" in raw else None,
            indeterminate=tuple(Indeterminate.of(i) for i in _items(raw.get("indeterminate"))) if detail else (),
            resolved=tuple(Conflict.of(c) for c in _items(raw.get("resolved"))) if detail else (),
            waivers_applied=tuple(w for w in map(AppliedWaiver.of, _items(waivers.get("applied"))) if w),
            waiver_notes={key: tuple(WaiverNote.of(w) for w in _items(waivers.get(key)))
                          for key in ("expired", "refused", "unmatched")},
            diagnostics=tuple(LoadWarning.of(d) for d in _items(raw.get("diagnostics"))),
            baseline=Baseline.of(raw.get("baseline")), settings=Settings.of(raw.get("config")),
            county=County.of(raw.get("county")), raw=raw)

    @property
    def verdict(self) -> str:
        """``passed``, ``incomplete``, ``undecided`` or ``failed``."""
        return self.summary.verdict

    def rule_counts(self) -> dict[str, int] | None:
        """How many rules passed, failed, were not applicable and indeterminate (from the summary, else from the
        outcomes), as ``{rules_passed: n, ...}``; None when the record has neither."""
        if self.summary.rule_counts is not None:
            return dict(self.summary.rule_counts)
        if self.outcomes is None:
            return None
        statuses = [o.status for o in self.outcomes]
        return {key: statuses.count(status) for status, key in OUTCOME_STATUSES.items()}

    def family_names(self, family: str) -> Mapping[str, str] | None:
        """The names a pack declared for a family of its own (`family ZJ "浙江省补充规则"`), or None."""
        names = self.rules.families.get(family)
        return names if isinstance(names, Mapping) else None


__all__ = ["AppliedWaiver", "Baseline", "CatalogEntry", "Conflict", "County", "CountyAccount", "CountyUnit", "Indeterminate", "LoadWarning", "Outcome",
           "Report", "Rules", "Settings", "Source", "Step", "Submission", "Subject", "Summary", "WaiverNote"]
