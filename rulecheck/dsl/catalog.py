"""The rule set and its catalog: the rules by id, selection by id or family, the parameters with their editions;
the families of the contract and the hint for an unknown rule id."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from rulecheck.diagnostics import Diagnostic, InputError
from rulecheck.dsl import ast
from rulecheck.dsl.compiled import CompiledRule
from rulecheck.dsl.compiler import CompiledParam
from rulecheck.dsl.values import format_value
from rulecheck.vocabulary import FAMILY_ORDER


@dataclass
class RuleSet:
    rules: list[CompiledRule]
    params: dict[str, CompiledParam]
    packs: list[str]
    sha256: str
    tests: list[tuple[ast.RuleTest, str, Path]]  # test, display path, file path
    warnings: list[Diagnostic]
    # what one's own packs replaced on purpose: {kind: param|rule, name, by, replaces, how: override|params file}
    overrides: list[dict] = field(default_factory=list)
    # the fields packs declare beyond the contract: {record class: {name: (T, unit, declaration, where)}}
    declared_fields: dict = field(default_factory=dict)
    # the families packs declare: {code: (title zh, title en or None)}
    families: dict = field(default_factory=dict)

    def by_id(self) -> dict[str, CompiledRule]:
        return {r.id: r for r in self.rules}

    def select(self, select: list[str] | None = None, ignore: list[str] | None = None, *,
               origin: str = "<arguments>", labels: tuple[str, str] = ("select", "ignore")) -> list[CompiledRule]:
        """The rules named by `select` (every rule when empty), less those named by `ignore`, in pack order.

        A pattern is a rule id (``IND-002``) or a family prefix (``IND``, ``IND-``), in any letter case
        (``ind`` is ``IND``). A pattern naming no loaded rule is an InputError (located at `origin`, the
        field being the option in `labels`) with the nearest ids or families as a hint: a typo must not
        check fewer rules than asked, or none, and pass."""
        diagnostics: list[Diagnostic] = []

        def named(patterns: list[str] | None, label: str) -> set[str]:
            ids: set[str] = set()
            for pattern in patterns or []:
                hit = self.matching(pattern)
                if not hit:
                    message, hint = self.unknown_pattern(pattern)
                    diagnostics.append(Diagnostic(origin, message, field=label, hint=hint))
                ids |= hit
            return ids

        chosen, dropped = named(select, labels[0]), named(ignore, labels[1])
        if diagnostics:
            raise InputError(diagnostics)
        return [r for r in self.rules if (not select or r.id in chosen) and r.id not in dropped]

    def matching(self, pattern: str) -> set[str]:
        """The ids of the loaded rules a select/ignore pattern names (empty when it names none)."""
        key = str(pattern).strip().upper()
        family = key[:-1] if key.endswith("-") else key
        return {r.id for r in self.rules if r.id.upper() == key or r.family.upper() == family}

    def unknown_pattern(self, pattern: str) -> tuple[str, str]:
        """The message and hint for a pattern naming no loaded rule (a rule id such as in a waiver, or a family)."""
        key = str(pattern).strip().upper()
        families = sorted({r.family for r in self.rules}, key=lambda f: rule_sort_key(f + "-"))
        family = key.rstrip("-")
        if family in CONTRACT_FAMILIES:
            return (f"no rule of family {family} in the loaded rule packs",
                    f"the loaded packs have the families {', '.join(families)}")
        return f"no rule or family {pattern!r}", suggest_rules(pattern, [r.id for r in self.rules])

    def catalog(self) -> list[dict]:
        return [r.catalog() for r in self.rules]

    def param_catalog(self) -> list[dict]:
        """Every parameter with each dated edition, its source and values (for `rules list`)."""
        out = []
        for name in sorted(self.params):
            param = self.params[name]
            editions = []
            for e in param.editions:
                if param.is_table:
                    values = {k: format_value(v, "en", full=True) for k, v in e.table.items()}
                    if e.has_otherwise:
                        values["otherwise"] = format_value(e.otherwise, "en", full=True)
                else:
                    values = format_value(e.value, "en", full=True)
                editions.append({"from": e.valid_from.isoformat(), "source": e.source, "text": e.text,
                                 "paraphrase": e.paraphrase, "provenance": e.provenance or "unstated",
                                 "provenance_note": e.provenance_note, "values": values})
            out.append({"name": name, "title": {"zh": param.title_zh, "en": param.title_en}, "editions": editions,
                        "source": {"path": param.path, "line": param.line}})
        return out


# the family prefixes bundle-format.md names; a pack may add more
CONTRACT_FAMILIES = ("GEO", "REF", "LAY", "IND", "DUT", "SUP", "FIN", "DOC", "CTY")


_DIGIT_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})  # the key is upper-cased: l is L


def suggest_rules(word: str, rule_ids: list[str]) -> str:
    """A hint for an unknown rule id or family: the nearest ids and families, else where to look them up."""
    key = str(word).strip().upper()
    families = sorted({i.split("-", 1)[0] for i in rule_ids}, key=lambda f: rule_sort_key(f + "-"))
    listing = "`rulecheck rules list` lists every rule"
    if "-" in key.strip("-"):
        family = key.split("-", 1)[0]
        same = sorted((i for i in rule_ids if i.startswith(family + "-")), key=rule_sort_key)
        close = difflib.get_close_matches(key, same or sorted(rule_ids, key=rule_sort_key), n=3, cutoff=0.6)
        # a letter typed for a digit (IND-01O, IND-0l0): the id it stands for comes first
        number = key.split("-", 1)[1]
        read = f"{family}-{number.translate(_DIGIT_LOOKALIKES)}"
        if read != key and read in rule_ids:
            close = [read] + [c for c in close if c != read][:2]
        if same:
            listing = f"family {family} has {len(same)} rules, {same[0]} to {same[-1]}; " + listing
    else:
        close = difflib.get_close_matches(key.rstrip("-"), families, n=3, cutoff=0.5)
    if close:
        return f"did you mean {' or '.join(close)}? ({listing})"
    return f"give a rule id such as IND-002 or a family: {', '.join(families)} ({listing})"


def rule_sort_key(rule_id: str) -> tuple:
    family = rule_id.split("-", 1)[0]
    return (FAMILY_ORDER.index(family) if family in FAMILY_ORDER else len(FAMILY_ORDER), rule_id)
