"""Rule packs found and loaded: the built-in packs underneath one's own and the --params files, predicates
expanded, declared families and fields read, parameters and rules declared once (or overridden on purpose),
each compiled, the packs' tests checked to name known rules and fields."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from rulecheck.diagnostics import Diagnostic, InputError
from rulecheck.dsl import ast
from rulecheck.dsl.cache import parse_file_cached
from rulecheck.dsl.catalog import FAMILY_ORDER, RuleSet, rule_sort_key
from rulecheck.dsl.compiled import CompiledRule
from rulecheck.dsl.compiler import Names, suggest
from rulecheck.dsl.patches import patch_problem  # a misspelt patch field is found at load, not at `rules test`
from rulecheck.dsl.rulecompile import compile_param, compile_rule, located
from rulecheck.dsl.schema import T

def default_rule_paths() -> list[Path]:
    """The built-in packs: `rules/` beside the package (source checkout or editable install)."""
    here = Path(__file__).resolve().parents[2] / "rules"
    if not here.is_dir():
        here = Path(__file__).resolve().parents[1] / "packs"
    return [here]


def rule_files(paths: list[str | Path], builtin: bool = False) -> tuple[list[tuple[Path, str]], list[Diagnostic]]:
    files, diags = [], []
    display = _builtin_name if builtin else _display
    for p in paths:
        path = Path(p)
        if path.is_dir():
            found = sorted(path.rglob("*.rule"))
            # province override examples are passed with --params, never loaded by default
            found = [f for f in found if "provinces" not in f.relative_to(path).parts]
            files.extend((f, display(f)) for f in found)
        elif path.exists():
            files.append((path, display(path)))
        else:
            diags.append(Diagnostic(str(p), "no such rule file or folder"))
    return files, diags


def _builtin_name(path: Path) -> str:
    """A shipped pack is named by the package, never by where it is installed: `rulecheck:sup.rule`."""
    return "rulecheck:" + path.resolve().relative_to(default_rule_paths()[0].resolve()).as_posix()


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


FIELD_TYPES = ("number", "text", "code", "date", "bool")


def _expand_predicates(packs, diags: list[Diagnostic]):
    """The packs with every use of a `predicate` replaced by its condition (rulecheck.dsl.predicates); a wrong
    declaration or use is an error where it is written, and that rule is left out."""
    import dataclasses

    from rulecheck.dsl.builtins import BUILTINS
    from rulecheck.dsl.predicates import PredicateError, check_declaration, expand, uses

    declared: dict[str, ast.PredicateDecl] = {}
    for pack, _, _ in packs:
        for decl in getattr(pack, "predicates", ()):
            problem = check_declaration(decl, set(BUILTINS))
            if problem is None and decl.name in declared:
                problem = PredicateError(f"predicate {decl.name} is declared twice (also at line "
                                         f"{declared[decl.name].span.line} of {declared[decl.name].span.path})", decl.span)
            if problem is not None:
                diags.append(located(pack.path, pack.text, problem.span, problem.message, problem.hint))
                continue
            declared[decl.name] = decl
    if not declared:
        return packs
    out = []
    for pack, file, kind in packs:
        rules = []
        # a predicate is used in the pack that declares it (its text is that pack's, for messages and plans)
        own = {name: decl for name, decl in declared.items() if decl.span.path == pack.path}
        for rule in pack.rules:
            if not uses(rule, set(declared)):
                rules.append(rule)
                continue
            try:
                elsewhere = next((n for n in _calls(rule) if n.func in declared and n.func not in own), None)
                if elsewhere is not None:
                    raise PredicateError(f"predicate {elsewhere.func} is declared in {declared[elsewhere.func].span.path}, "
                                         "not in this pack", elsewhere.span, "a predicate is used in the pack that declares it")
                rules.append(expand(rule, own))
            except PredicateError as err:
                diags.append(located(pack.path, pack.text, err.span, err.message, err.hint))
        out.append((dataclasses.replace(pack, rules=tuple(rules)), file, kind))
    return out


def _calls(node):
    from rulecheck.dsl.predicates import walk_nodes

    return [n for n in walk_nodes(node) if isinstance(n, ast.Call)]


def _declared_families(packs, diags: list[Diagnostic]) -> dict[str, tuple[str, str | None]]:
    """`family ZJ "浙江省补充规则"`: the families packs add, {code: (title zh, title en)}; a contract family or one
    declared twice is an error at its line."""
    out: dict[str, tuple[str, str | None]] = {}
    for pack, _, _ in packs:
        for decl in getattr(pack, "families", ()):
            if not re.fullmatch(r"[A-Z]{2,5}", decl.code):
                diags.append(located(pack.path, pack.text, decl.span, f"family {decl.code}: a family is 2 to 5 capital letters"))
            elif decl.code in FAMILY_ORDER:
                diags.append(located(pack.path, pack.text, decl.span, f"family {decl.code} is a family of the contract",
                                   "a pack's own family has a code of its own"))
            elif decl.code in out:
                diags.append(located(pack.path, pack.text, decl.span, f"family {decl.code} is declared twice"))
            else:
                out[decl.code] = (decl.title_zh, decl.title_en)
    return out


def _declared_fields(packs, diags: list[Diagnostic]) -> dict[type, dict[str, tuple]]:
    """The fields packs add to the contract's records: {record class: {name: (T, unit, declaration, path)}}.

    Each is checked where it is declared: the collection must exist (with the nearest name), the name must not
    be a field the contract already has, the type must be one the language knows, a unit only on a number."""
    from rulecheck.dsl.schema import ROOTS, fields_of
    from rulecheck.dsl.units import UNITS, dimension

    out: dict[type, dict[str, tuple]] = {}
    for pack, _, _ in packs:
        for decl in getattr(pack, "fields", ()):
            def refuse(message, hint=None, span=decl.span):
                diags.append(located(pack.path, pack.text, span, message, hint))

            current = ROOTS.get(decl.path[0])
            if current is None:
                refuse(f"field {decl.text()}: '{decl.path[0]}' is not a collection", suggest(decl.path[0], list(ROOTS)))
                continue
            ok = True
            for step in decl.path[1:]:
                while current.kind == "list":
                    current = current.arg
                if current.kind != "record" or step not in fields_of(current.arg):
                    known = list(fields_of(current.arg)) if current.kind == "record" else []
                    refuse(f"field {decl.text()}: {current} has no field '{step}'", suggest(step, known))
                    ok = False
                    break
                current = fields_of(current.arg)[step]
            while ok and current.kind == "list":
                current = current.arg
            if not ok:
                continue
            if current.kind != "record":
                refuse(f"field {decl.text()}: {'.'.join(decl.path)} is {current}, not a collection of records")
                continue
            cls = current.arg
            if decl.name in fields_of(cls):
                refuse(f"field {decl.text()}: {cls.__name__} records already have the field '{decl.name}'",
                       "a declared field adds a column the contract lacks; this one is read as the contract says")
                continue
            if decl.type not in FIELD_TYPES:
                refuse(f"field {decl.text()}: '{decl.type}' is not a type of field", f"the types are {', '.join(FIELD_TYPES)}",
                       span=decl.type_span or decl.span)
                continue
            if decl.unit is not None and decl.type != "number":
                refuse(f"field {decl.text()}: only a number has a unit, not a {decl.type}")
                continue
            unit = None if decl.unit is None else next((u for u in UNITS if u == decl.unit), decl.unit)
            t = {"number": T("num", dimension(unit), "%" if unit == "%" else None), "text": T("str"), "code": T("code"),
                 "date": T("date"), "bool": T("bool")}[decl.type]
            seen = out.setdefault(cls, {}).get(decl.name)
            if seen is not None and (seen[0], seen[1]) != (t, unit):
                refuse(f"field {decl.text()} is declared again with another type or unit (also in {seen[3]})")
                continue
            out[cls][decl.name] = (t, unit, decl, f"{pack.path}:{decl.span.line}")
    return out


def load_rules(paths: list[str | Path] | None = None, params: list[str | Path] | None = None,
               classification=None, add: list[str | Path] | None = None) -> RuleSet:
    """Parse, check and compile rule packs and parameter override files.

    `paths` replace the built-in rules (default: the built-in packs); `add` are one's own packs added to them.
    The built-in parameters are always there underneath: a pack's own `param` adds to them, and replacing one
    is written `override param NAME` (or given in a `params` file). Raises InputError with every error found."""
    rule_set, diags = _load(paths, params, classification, add)
    errors = [d for d in diags if d.severity == "error"]
    if errors:
        raise InputError(diags)
    return rule_set


def validate(paths: list[str | Path] | None = None, params: list[str | Path] | None = None,
             add: list[str | Path] | None = None) -> list[Diagnostic]:
    """Every diagnostic (errors and warnings) of the given packs, for `rulecheck rules validate`."""
    return _load(paths, params, None, add)[1]


def validated(paths: list[str | Path] | None = None, params: list[str | Path] | None = None,
              add: list[str | Path] | None = None, stand_in: Path | None = None) -> tuple[RuleSet, list[Diagnostic]]:
    """The compiled rules (those without errors) and every diagnostic, for `rulecheck rules validate --plan` (and
    the language server, whose unsaved copy of a file is a `stand_in` for it)."""
    return _load(paths, params, None, add, stand_in)


def all_pairs_warnings(rule_set) -> list[Diagnostic]:
    """A warning for every loop of one's own rules that `--plan` marks "!" (all pairs), at its `for each`, with the
    rewrite that removes it (the shipped packs have none: tests/test_complexity.py)."""
    from rulecheck.dsl.planner import all_pairs_advice

    out = []
    for rule in rule_set.rules:
        if rule.path.startswith("rulecheck:"):
            continue
        for plan in rule.plans or []:
            advice = all_pairs_advice(plan)
            if advice is None:
                continue
            text, start = rule.text, rule.rule.span.start
            at = text.find(f"for each {plan['var']} in", start)
            at = at if at >= 0 else start
            line = text.count("\n", 0, at) + 1
            column = at - (text.rfind("\n", 0, at) + 1) + 1
            excerpt = text.split("\n")[line - 1]
            out.append(Diagnostic(rule.path, f"rule {rule.id}: {advice[0]}", line=line, column=column,
                                  severity="warning", excerpt=excerpt, hint=advice[1]))
    return out



def _load(paths, params, classification, add=None, stand_in: Path | None = None) -> tuple[RuleSet, list[Diagnostic]]:
    """`stand_in`: a file that one of `paths` stands in for (the editor's unsaved copy of it): not loaded again
    from the built-in packs underneath.

    The cyclic collector is paused meanwhile: parsing and compiling make many small objects and few cycles, and
    each full collection walks everything made so far, which made a big pack's validation superlinear (a 1.5 MB
    pack spent a third of its time in the collector)."""
    from rulecheck.model.sources import no_gc

    with no_gc():
        return _load_packs(paths, params, classification, add, stand_in)


_ORDER = {"base": 0, "own": 1, "params": 2}

# how a refusal reads for a parameter and for a rule: {case: (message, hint)} with {name} and {where} filled in
_REFUSALS = {
    "param": {
        "replaces nothing": "'override param {name}' replaces no built-in parameter",
        "built in": ("parameter {name} is already a built-in parameter ({where})",
                     "write 'override param {name}' to replace it on purpose, or choose another name"),
        "twice": "parameter {name} is declared twice (also in {where})",
    },
    "rule": {
        "replaces nothing": "'override rule {name}' replaces no built-in rule",
        "built in": ("rule {name} is already a built-in rule ({where})",
                     "write 'override rule {name}' to replace it on purpose, or choose another id"),
        "twice": "rule {name} is declared twice (also in {where})",
    },
}


class _Layering:
    """Which declaration of a parameter or rule stands: the built-in packs underneath, one's own packs above them
    (replacing a built-in one only with `override`, or when they replace the built-in rules as a whole), the
    --params files on top (replacing parameters by name). Records each replacement in `overrides`."""

    def __init__(self, shipped_dir: Path, replacing: set[Path], diags: list[Diagnostic]):
        self.shipped_dir, self.replacing, self.diags = shipped_dir, replacing, diags
        self.builtin_names: set[str] = set()  # parameters and rule ids the built-in packs declare
        self.where: dict[str, dict[str, str]] = {"param": {}, "rule": {}}  # noun -> name -> pack:line
        self.overrides: list[dict] = []
        self._is_shipped: dict[Path, bool] = {}  # asked once per parameter and rule; resolving a path is system calls

    def shipped(self, file: Path) -> bool:
        """A built-in pack, also when named by its path (`--rules rules/`)."""
        if file not in self._is_shipped:
            self._is_shipped[file] = Path(file).resolve().is_relative_to(self.shipped_dir)
        return self._is_shipped[file]

    def in_order(self, packs):
        return sorted(packs, key=lambda p: (_ORDER[p[2]], not self.shipped(p[1])))

    def admit(self, noun: str, decl, pack, file: Path, kind: str) -> bool:
        """Whether this declaration stands (a refusal is a diagnostic at it; a replacement is recorded)."""
        name = decl.name if noun == "param" else decl.id
        seen = self.where[noun]
        refusal, how = self._verdict(noun, decl, name, file, kind)
        if refusal is not None:
            self.diags.append(located(pack.path, pack.text, decl.span, *refusal))
            return False
        here = f"{pack.path}:{decl.span.line}"
        if how is not None:
            self.overrides.append({"kind": noun, "name": name, "by": here, "replaces": seen[name], "how": how})
        seen[name] = here
        if self.shipped(file) and not (noun == "param" and kind == "params"):
            self.builtin_names.add(name)
        return True

    def _verdict(self, noun: str, decl, name: str, file: Path, kind: str) -> tuple[tuple | None, str | None]:
        """(why the declaration is refused: message and hint, or None; how it replaces another, or None)."""
        seen = self.where[noun]
        known = name in seen
        from_base = known and name in self.builtin_names and kind == "own" and not self.shipped(file)
        if noun == "param" and kind == "params":
            return (None if known else (f"{name} overrides no known parameter", suggest(name, list(seen))),
                    "params file")
        if decl.override and not from_base:
            return ((_REFUSALS[noun]["replaces nothing"].format(name=name) + self._not_built_in(noun, name, known),
                     None if known or noun == "rule" else suggest(name, list(seen))), None)
        if from_base and not decl.override and noun == "param" and Path(file).resolve() in self.replacing:
            return None, "rules"
        if from_base and not decl.override:
            message, hint = _REFUSALS[noun]["built in"]
            return (message.format(name=name, where=seen[name]), hint.format(name=name)), None
        if known and not decl.override:
            return (_REFUSALS[noun]["twice"].format(name=name, where=seen[name]), None), None
        return None, ("override" if decl.override else None)

    def _not_built_in(self, noun: str, name: str, known: bool) -> str:
        if known:
            return f" (it is declared in {self.where[noun][name]}, not built in)"
        if noun == "rule":
            return " (the built-in rules are loaded with `check --add-rules` or `--with-builtin`)"
        return ""


def _pack_files(paths, params, add, stand_in):
    """(own files, built-in files underneath them, --params files, the files replacing the built-in rules, diags)."""
    own, diags = rule_files(list(paths or []) + list(add or []))
    # the packs that replace the built-in rules (`--rules`, `rules validate/test DIR`) are the whole rule set:
    # a parameter they declare again replaces the built-in one (a fork of `rules/` loads as it is)
    replacing = {f.resolve() for f, _ in rule_files(list(paths or []))[0]}
    # underneath one's own packs: the built-in parameters (always), and the built-in rules unless `paths`
    # replaces them; a built-in file also named among one's own is loaded once, under the name given
    builtin_dir = default_rule_paths()[0]
    base_files, _ = rule_files([builtin_dir] if not paths else [builtin_dir / "params"], builtin=True)
    named = {f.resolve() for f, _ in own} | ({Path(stand_in).resolve()} if stand_in else set())
    base = [(f, d) for f, d in base_files if f.resolve() not in named]
    param_files, pdiags = rule_files(list(params or []))
    return own, base, param_files, replacing, diags + pdiags


def _parsed_packs(files, base, param_files, diags: list[Diagnostic]):
    """Every pack parsed: ([(pack, file, layer: base|own|params)], the digest of their names and texts)."""
    parsed = [(parse_file_cached(file, display), file, display) for file, display in files]
    parsed += [(parse_file_cached(file, display), file, display) for file, display in param_files]
    base_set = set(base)
    layer = {}
    for _, file, display in parsed:
        layer[(file, display)] = "base" if (file, display) in base_set else "own"
    for file, display in param_files:
        layer[(file, display)] = "params"
    packs = []
    digest = hashlib.sha256()
    for (pack, pd), file, display in parsed:
        diags += pd
        packs.append((pack, file, layer[(file, display)]))
        digest.update(display.encode() + b"\0" + pack.text.encode() + b"\0")
    return packs, digest


def _check_tests(tests, packs, names: Names, diags: list[Diagnostic]) -> None:
    """A pack's test must name rules some pack declares, and patch fields the contract (or a pack) has."""
    all_rule_ids = {r.id for pack, _, _ in packs for r in pack.rules}
    unreadable = {rule_id for pack, _, _ in packs for rule_id in getattr(pack, "broken", ())}
    for test, path, file in tests:
        pack_text = next(p.text for p, f, _ in packs if f == file)
        for rule_id in {test.rule} | {e.rule for e in test.expectations}:
            if rule_id not in all_rule_ids and rule_id not in unreadable:
                diags.append(located(path, pack_text, test.span, f"test '{test.name}' names rule {rule_id}, which no pack declares",
                                     suggest(rule_id, sorted(all_rule_ids))))
        for patch in test.patches:
            problem = patch_problem(patch, names.extra_fields)
            if problem:
                diags.append(located(path, pack_text, problem[1], problem[0]))


def _load_packs(paths, params, classification, add=None, stand_in: Path | None = None) -> tuple[RuleSet, list[Diagnostic]]:
    from rulecheck.model.landuse import load_classification

    classification = classification or load_classification()
    own, base, param_files, replacing, diags = _pack_files(paths, params, add, stand_in)
    files = own + base
    packs, digest = _parsed_packs(files, base, param_files, diags)
    packs = _expand_predicates(packs, diags)
    families = _declared_families(packs, diags)
    names = Names({}, set(classification.groups))
    names.classification = classification  # type: ignore[attr-defined]
    names.extra_fields = _declared_fields(packs, diags)  # type: ignore[attr-defined]
    names.families = families  # type: ignore[attr-defined]
    layering = _Layering(default_rule_paths()[0].resolve(), replacing, diags)
    # parameters first (rules refer to them): the built-in ones, then one's own (adding; `override param`
    # replaces a built-in one), then the --params files (replacing by name)
    declared: dict[str, tuple[ast.Param, str, str]] = {}
    for pack, file, kind in layering.in_order(packs):
        for param in pack.params:
            if layering.admit("param", param, pack, file, kind):
                declared[param.name] = (param, pack.path, pack.text)
    for name, (param, path, text) in declared.items():
        compiled = compile_param(param, path, text, names, diags)
        if compiled is not None:
            names.params[name] = compiled
    rules: dict[str, CompiledRule] = {}
    tests = []
    for pack, file, kind in layering.in_order(packs):
        for rule in pack.rules:
            if not layering.admit("rule", rule, pack, file, kind):
                continue
            rules.pop(rule.id, None)  # the built-in rule an `override rule` replaces
            compiled = compile_rule(rule, pack.path, pack.text, names, diags)
            if compiled is not None:
                rules[rule.id] = compiled
        if kind != "base" or not own:  # `rules test` runs one's own tests, not the built-in packs' underneath
            tests.extend((t, pack.path, file) for t in pack.tests)
    _check_tests(tests, packs, names, diags)
    ordered = [rules[k] for k in sorted(rules, key=rule_sort_key)]
    rule_set = RuleSet(ordered, names.params, [display for _, display in files + param_files], digest.hexdigest(), tests,
                       [d for d in diags if d.severity == "warning"], layering.overrides, names.extra_fields, families)
    return rule_set, diags
