"""Waivers: approved exceptions that take a known conflict out of the gate, with who approved it, why and until when."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import yaml

from .diagnostics import Diagnostic, InputError
from .gate import recount
from .model.sources import (
    DepthLimitedComposer,
    SourceError,
    construct_bounded_int,
    construct_checked_str,
    load_yaml_with,
    read_text_limited,
    reader_problem,
    yaml_error_location,
)

REQUIRED = ("rule", "subjects", "reason", "approver", "basis", "expires")


class _Loader(DepthLimitedComposer, yaml.SafeLoader):
    """Safe YAML with dates kept as text, so a bad date becomes a located diagnostic rather than a ValueError."""


_Loader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_scalar)
_Loader.add_constructor("tag:yaml.org,2002:int", construct_bounded_int)
_Loader.add_constructor("tag:yaml.org,2002:str", construct_checked_str)


@dataclass(frozen=True)
class Waiver:
    """One entry of a waiver file: the conflicts of `rule` naming every id in `subjects` are waived until `expires`."""

    rule: str
    subjects: tuple[str, ...]
    reason: str
    approver: str
    basis: str
    expires: dt.date
    file: str
    line: int

    def matches(self, conflict: dict) -> bool:
        """Same rule, and each waiver subject names one of the conflict's subjects (``P-0412`` or ``parcels:P-0412``)."""
        if conflict.get("rule") != self.rule:
            return False
        names: set[str] = set()
        for subject in conflict.get("subjects") or []:
            names.add(str(subject.get("id")))
            names.add(f"{subject.get('collection')}:{subject.get('id')}")
        return all(s in names for s in self.subjects)

    def as_record(self) -> dict:
        """The waiver as it appears on a waived conflict in the report."""
        return {"reason": self.reason, "approver": self.approver, "basis": self.basis,
                "expires": self.expires.isoformat(), "file": self.file, "line": self.line}

    def reference(self) -> dict:
        """The waiver as listed under ``waivers.unmatched|expired|refused``."""
        return {"file": self.file, "line": self.line, "rule": self.rule, "subjects": list(self.subjects),
                "expires": self.expires.isoformat(), "reason": self.reason}


def _clip(text: str, size: int = 60) -> str:
    return text if len(text) <= size else text[: size - 3] + "..."


def load_waivers(path: str | Path, known_rules: list[str] | None = None) -> list[Waiver]:
    """Read a waiver file: a YAML list (or a mapping with a ``waivers:`` list) of waivers.

    With `known_rules` (the ids of the loaded rules), a waiver naming any other rule is an error with the
    nearest ids as a hint: a mistyped id would otherwise waive nothing and only be noted. Ids are matched
    exactly (``IND-002``, as the report writes them). Every problem is collected and raised together as
    one InputError of located Diagnostics.
    """
    name = str(path)
    if not Path(path).exists():
        raise InputError([Diagnostic(name, "waiver file not found")])
    try:
        text = read_text_limited(path, "max_rule_file_mb")
    except SourceError as error:
        raise InputError([Diagnostic(name, f"waiver file cannot be read: {error.message}", line=error.line,
                                     column=error.column, hint=error.hint)]) from None
    try:
        # one pass (compose, check depth and alias expansion, construct): the nodes are the data's, merges included
        data, root = load_yaml_with(_Loader, text)
    except yaml.YAMLError as error:
        line, column = yaml_error_location(error, text)
        problem = getattr(error, "problem", None) or reader_problem(error)
        raise InputError([Diagnostic(name, f"not valid YAML: {problem}", line=line, column=column)]) from None
    if data is None:
        return []
    lines = text.splitlines()
    field_prefix = ""
    if isinstance(data, dict) and "waivers" in data:
        # the last `waivers:` key, as in the data (YAML mappings keep the last of duplicate keys)
        root = [v for k, v in root.value if getattr(k, "value", None) == "waivers"][-1]
        data = data["waivers"]
        field_prefix = "waivers"
    if not isinstance(data, list):
        raise InputError([Diagnostic(name, "expected a list of waivers (rule, subjects, reason, approver, basis, expires)",
                                     line=root.start_mark.line + 1, field=field_prefix or None)])

    diagnostics: list[Diagnostic] = []
    waivers: list[Waiver] = []
    for index, (entry, node) in enumerate(zip(data, root.value)):
        where = f"{field_prefix}[{index}]"
        line = node.start_mark.line + 1

        def problem(message: str, key: str | None = None, at=node, hint: str | None = None) -> None:
            at_line = at.start_mark.line + 1
            diagnostics.append(Diagnostic(name, message, line=at_line, column=at.start_mark.column + 1,
                                          field=f"{where}.{key}" if key else where,
                                          excerpt=lines[at_line - 1] if at_line <= len(lines) else None, hint=hint))

        if not isinstance(entry, dict):
            problem("expected a mapping with rule, subjects, reason, approver, basis, expires")
            continue
        value_nodes = {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}
        for key in entry:
            if key not in REQUIRED:
                problem(f"unknown field {key!r}", str(key), value_nodes.get(key, node),
                        hint="a waiver has the fields " + ", ".join(REQUIRED))
        missing = [key for key in REQUIRED if entry.get(key) in (None, "", [])]
        for key in missing:
            problem(f"missing field {key!r}", key, value_nodes.get(key, node))
        if missing:
            continue
        rule, subjects, expires = entry["rule"], entry["subjects"], entry["expires"]
        ok = True
        if not isinstance(rule, str) or "-" not in rule:
            problem(f"expected a rule id such as IND-002, got {_clip(repr(rule))}", "rule", value_nodes.get("rule", node),
                    hint=_rule_hint(_clip(str(rule)), known_rules) if known_rules is not None else None)
            ok = False
        elif known_rules is not None and rule not in known_rules:
            problem(f"no rule {_clip(repr(rule))} in the loaded rule packs", "rule", value_nodes.get("rule", node),
                    hint=_rule_hint(rule, known_rules))
            ok = False
        if isinstance(subjects, (str, int)):
            subjects = [subjects]
        if not isinstance(subjects, list) or not all(isinstance(s, (str, int)) for s in subjects):
            problem("expected a list of subject ids (e.g. [C01/R07, P-0412])", "subjects", value_nodes.get("subjects", node))
            ok = False
        if isinstance(expires, dt.datetime):
            expires = expires.date()
        elif not isinstance(expires, dt.date):
            try:
                expires = dt.date.fromisoformat(str(expires))
            except ValueError:
                problem(f"expected a date YYYY-MM-DD, got {_clip(repr(str(expires)))}", "expires", value_nodes.get("expires", node))
                ok = False
        for key in ("reason", "approver", "basis"):
            if not isinstance(entry[key], (str, int, float)):
                problem("expected text", key, value_nodes.get(key, node))
                ok = False
        if ok:
            waivers.append(Waiver(rule=rule, subjects=tuple(str(s) for s in subjects), reason=str(entry["reason"]),
                                  approver=str(entry["approver"]), basis=str(entry["basis"]), expires=expires,
                                  file=name, line=line))
    if diagnostics:
        raise InputError(diagnostics)
    return waivers


def _rule_hint(rule: str, known_rules: list[str]) -> str:
    from rulecheck.dsl.rules import suggest_rules

    exact = [i for i in known_rules if i.upper() == rule.strip().upper()]
    return f"did you mean {exact[0]}? (rule ids are written as the report writes them)" if exact else suggest_rules(rule, known_rules)


def waivable_from_catalog(catalog: list[dict]) -> dict[str, bool]:
    """``{rule id: waivable}`` from the record's ``rules.catalog`` (a rule is waivable unless it says otherwise)."""
    return {entry["id"]: bool(entry.get("waivable", True)) for entry in catalog if entry.get("id")}


def apply_waivers(record: dict, waivers: list[Waiver], as_of: dt.date | str,
                  waivable: dict[str, bool]) -> dict:
    """A copy of `record` with matched conflicts marked ``waiver: {...}`` and the summary recounted.

    A waiver past its `expires` date (before `as_of`) waives nothing and is listed under ``waivers.expired``;
    one for a rule declared not waivable waives nothing and is listed under ``waivers.refused``; one matching
    no conflict is listed under ``waivers.unmatched``.
    """
    if isinstance(as_of, str):
        as_of = dt.date.fromisoformat(as_of)
    result = dict(record)
    conflicts = [dict(conflict) for conflict in record.get("conflicts") or []]
    result["conflicts"] = conflicts
    applied, unmatched, expired, refused = [], [], [], []
    for waiver in waivers:
        if waiver.expires < as_of:
            expired.append(waiver.reference())
            continue
        if not waivable.get(waiver.rule, True):
            refused.append({**waiver.reference(), "why": "not_waivable"})
            continue
        matched = [conflict for conflict in conflicts if waiver.matches(conflict)]
        if not matched:
            unmatched.append(waiver.reference())
            continue
        for conflict in matched:
            if not conflict.get("waiver"):
                conflict["waiver"] = waiver.as_record()
        applied.append({**waiver.as_record(), "rule": waiver.rule, "subjects": list(waiver.subjects),
                        "conflicts": len(matched)})
    result["waivers"] = {"applied": applied, "unmatched": unmatched, "expired": expired, "refused": refused}
    fail_on = (record.get("summary") or {}).get("fail_on", "error")
    return recount(result, fail_on)
