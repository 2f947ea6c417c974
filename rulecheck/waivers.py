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
    text, data, root = _read(path)
    if data is None:
        return []
    data, root, field_prefix = _waiver_list(name, data, root)
    lines = text.splitlines()
    diagnostics: list[Diagnostic] = []
    waivers: list[Waiver] = []
    for index, (entry, node) in enumerate(zip(data, root.value)):
        reader = _EntryReader(name, lines, f"{field_prefix}[{index}]", node, diagnostics)
        waiver = reader.waiver(entry, known_rules)
        if waiver is not None:
            waivers.append(waiver)
    if diagnostics:
        raise InputError(diagnostics)
    return waivers


def _read(path: str | Path) -> tuple[str, object, yaml.Node]:
    """The file's text, its data and its YAML node (one pass: compose, check depth and alias expansion,
    construct); InputError when it is missing, unreadable or not YAML."""
    name = str(path)
    if not Path(path).exists():
        raise InputError([Diagnostic(name, "waiver file not found")])
    try:
        text = read_text_limited(path, "max_rule_file_mb")
    except SourceError as error:
        raise InputError([Diagnostic(name, f"waiver file cannot be read: {error.message}", line=error.line,
                                     column=error.column, hint=error.hint)]) from None
    try:
        data, root = load_yaml_with(_Loader, text)  # the nodes are the data's, merges included
    except yaml.YAMLError as error:
        line, column = yaml_error_location(error, text)
        problem = getattr(error, "problem", None) or reader_problem(error)
        raise InputError([Diagnostic(name, f"not valid YAML: {problem}", line=line, column=column)]) from None
    return text, data, root


def _waiver_list(name: str, data, root: yaml.Node) -> tuple[list, yaml.Node, str]:
    """The list of waivers (the file itself, or its ``waivers:`` key), its node and its field name."""
    field_prefix = ""
    if isinstance(data, dict) and "waivers" in data:
        # the last `waivers:` key, as in the data (YAML mappings keep the last of duplicate keys)
        root = [v for k, v in root.value if getattr(k, "value", None) == "waivers"][-1]
        data = data["waivers"]
        field_prefix = "waivers"
    if not isinstance(data, list):
        raise InputError([Diagnostic(name, "expected a list of waivers (rule, subjects, reason, approver, basis, expires)",
                                     line=root.start_mark.line + 1, field=field_prefix or None)])
    return data, root, field_prefix


class _EntryReader:
    """One entry of a waiver file read into a Waiver, every problem with it a located Diagnostic."""

    def __init__(self, name: str, lines: list[str], where: str, node: yaml.Node, diagnostics: list[Diagnostic]):
        self.name, self.lines, self.where, self.node, self.diagnostics = name, lines, where, node, diagnostics
        self.value_nodes: dict = {}

    def problem(self, message: str, key: str | None = None, hint: str | None = None, node_key=None) -> None:
        """A located problem of the entry, at the node of its field `key` (looked up as `node_key`, when that is
        not the field's text: a YAML key that is not a string), else at the entry."""
        at = self.value_nodes.get(key if node_key is None else node_key, self.node) if key else self.node
        at_line = at.start_mark.line + 1
        self.diagnostics.append(Diagnostic(
            self.name, message, line=at_line, column=at.start_mark.column + 1,
            field=f"{self.where}.{key}" if key else self.where,
            excerpt=self.lines[at_line - 1] if at_line <= len(self.lines) else None, hint=hint))

    def waiver(self, entry, known_rules: list[str] | None) -> Waiver | None:
        if not isinstance(entry, dict):
            self.problem("expected a mapping with rule, subjects, reason, approver, basis, expires")
            return None
        self.value_nodes = {k.value: v for k, v in self.node.value if isinstance(k, yaml.ScalarNode)}
        if not self.complete(entry):
            return None
        ok = self.rule_ok(entry["rule"], known_rules)
        subjects = self.subjects(entry["subjects"])
        expires = self.expires(entry["expires"])
        texts_ok = self.texts_ok(entry)
        if not (ok and subjects is not None and expires is not None and texts_ok):
            return None
        return Waiver(rule=entry["rule"], subjects=subjects, reason=str(entry["reason"]),
                      approver=str(entry["approver"]), basis=str(entry["basis"]), expires=expires,
                      file=self.name, line=self.node.start_mark.line + 1)

    def complete(self, entry: dict) -> bool:
        """No unknown field, and every required one given."""
        for key in entry:
            if key not in REQUIRED:
                self.problem(f"unknown field {key!r}", str(key), hint="a waiver has the fields " + ", ".join(REQUIRED),
                             node_key=key)
        missing = [key for key in REQUIRED if entry.get(key) in (None, "", [])]
        for key in missing:
            self.problem(f"missing field {key!r}", key)
        return not missing

    def rule_ok(self, rule, known_rules: list[str] | None) -> bool:
        if not isinstance(rule, str) or "-" not in rule:
            self.problem(f"expected a rule id such as IND-002, got {_clip(repr(rule))}", "rule",
                         hint=_rule_hint(_clip(str(rule)), known_rules) if known_rules is not None else None)
            return False
        if known_rules is not None and rule not in known_rules:
            self.problem(f"no rule {_clip(repr(rule))} in the loaded rule packs", "rule", hint=_rule_hint(rule, known_rules))
            return False
        return True

    def subjects(self, subjects) -> tuple[str, ...] | None:
        if isinstance(subjects, (str, int)):
            subjects = [subjects]
        if not isinstance(subjects, list) or not all(isinstance(s, (str, int)) for s in subjects):
            self.problem("expected a list of subject ids (e.g. [C01/R07, P-0412])", "subjects")
            return None
        return tuple(str(s) for s in subjects)

    def expires(self, expires) -> dt.date | None:
        if isinstance(expires, dt.datetime):
            return expires.date()
        if isinstance(expires, dt.date):
            return expires
        try:
            return dt.date.fromisoformat(str(expires))
        except ValueError:
            self.problem(f"expected a date YYYY-MM-DD, got {_clip(repr(str(expires)))}", "expires")
            return None

    def texts_ok(self, entry: dict) -> bool:
        ok = True
        for key in ("reason", "approver", "basis"):
            if not isinstance(entry[key], (str, int, float)):
                self.problem("expected text", key)
                ok = False
        return ok


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
