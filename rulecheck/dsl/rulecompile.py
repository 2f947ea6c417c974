"""One rule or parameter compiled: its clauses checked, its loops planned and its expressions compiled against
the names in scope (the parameters, the declared fields and families); every mistake a located diagnostic."""

from __future__ import annotations

import dataclasses

from rulecheck.diagnostics import Diagnostic
from rulecheck.dsl import ast
from rulecheck.vocabulary import FAMILY_ORDER
from rulecheck.dsl.compiled import CompiledRule
from rulecheck.dsl.ast import CheckError, free_names
from rulecheck.dsl.compiler import CompiledEdition, CompiledParam, ExprCompiler, Names, attach_verdict, comparable, suggest
from rulecheck.dsl.schema import ENUM_VALUES, T, has_id
from rulecheck.dsl.values import EvalError


def located(path: str, text: str, span: ast.Span, message: str, hint=None, severity="error") -> Diagnostic:
    """A diagnostic at `span` of a pack, with its line as the excerpt."""
    from rulecheck.dsl.parser import line_text  # one cached split per text: many diagnostics stay linear

    excerpt = line_text(text, span.line) or None
    return Diagnostic(path, message, line=span.line or None, column=span.column or None, excerpt=excerpt, hint=hint,
                      severity=severity)


def compile_param(param: ast.Param, path: str, text: str, names: Names, diags: list[Diagnostic]) -> CompiledParam | None:
    comp = ExprCompiler(names, text)
    ptype: T | None = None
    editions = []
    is_table = None
    env = {}

    def value_of(expr):
        nonlocal ptype
        t, fn = comp.compile(expr, {})
        if ptype is None:
            ptype = t
        elif not comparable(ptype, t):
            raise CheckError(expr.span, f"parameter {param.name} mixes {ptype} and {t}")
        return fn(env)

    previous = None
    for edition in param.editions:
        if previous is not None and edition.valid_from <= previous:
            diags.append(located(path, text, edition.span, f"editions of {param.name} must be in date order"))
        previous = edition.valid_from
        table = edition.value is None
        if is_table is None:
            is_table = table
        elif is_table != table:
            diags.append(located(path, text, edition.span, f"parameter {param.name} is a table in one edition and a single value in another"))
            continue
        try:
            cited = dict(text=edition.text, paraphrase=edition.paraphrase, provenance=edition.provenance,
                         provenance_note=edition.provenance_note)
            if not table:
                editions.append(CompiledEdition(edition.valid_from, edition.source, value=value_of(edition.value), **cited))
                continue
            compiled = CompiledEdition(edition.valid_from, edition.source, codes=any(e.key_is_code for e in edition.entries),
                                       **cited)
            for entry in edition.entries:
                value = value_of(entry.value)
                if entry.key is None:
                    compiled.otherwise, compiled.has_otherwise = value, True
                elif entry.key in compiled.table:
                    diags.append(located(path, text, entry.span, f"key {entry.key} appears twice in {param.name}"))
                else:
                    if not entry.key_is_code and entry.key not in ENUM_VALUES:
                        diags.append(located(path, text, entry.span, f"'{entry.key}' is not a value of any enumeration",
                                           suggest(entry.key, list(ENUM_VALUES))))
                    if entry.key_is_code and names.classification is not None and not names.classification.is_known(entry.key):
                        diags.append(located(path, text, entry.span, f"'{entry.key}' is not a land-use code",
                                           _suggest_code(names.classification, entry.key)))
                    compiled.table[entry.key] = value
            editions.append(compiled)
        except CheckError as err:
            diags.append(located(path, text, err.span, err.args[0], err.hint))
        except EvalError as err:
            diags.append(located(path, text, edition.span, str(err)))
    if ptype is None:
        return None
    return CompiledParam(param.name, param.title_zh, param.title_en, ptype, editions, path, param.span.line, bool(is_table))


def _suggest_code(classification, code):
    s = classification.suggest(code)
    return f"did you mean '{s}'?" if s else None


def compile_rule(rule: ast.Rule, path: str, text: str, names: Names, diags: list[Diagnostic]) -> CompiledRule | None:
    """The rule compiled, or None when it has an error (each one a diagnostic)."""
    return _RuleCompiler(rule, path, text, names, diags).compile()


def _names_records(t: T) -> bool:
    """Whether a value of type t names a conflict's subjects: records with ids, or a list of them."""
    return (t.kind == "record" and has_id(t.arg)) or (t.kind == "list" and t.arg.kind == "record" and has_id(t.arg.arg))


def _merged_steps(rule: ast.Rule) -> list:
    """The rule's steps, a `where` right after a `for each` joined to that loop's filter (so that spatial
    predicates can use the index)."""
    merged: list = []
    for step in rule.steps:
        if isinstance(step, ast.WhereStep) and merged and isinstance(merged[-1], ast.ForStep):
            prev = merged[-1]
            cond = step.cond if prev.cond is None else ast.Logic(step.span, "and", prev.cond, step.cond)
            merged[-1] = dataclasses.replace(prev, cond=cond)
        else:
            merged.append(step)
    return merged


class _RuleCompiler:
    """One rule on its way to a CompiledRule: its clauses checked, its steps bound in order, then its requirement,
    place, messages and severity condition compiled in the scope the steps made."""

    def __init__(self, rule: ast.Rule, path: str, text: str, names: Names, diags: list[Diagnostic]):
        self.rule, self.path, self.text, self.names, self.diags = rule, path, text, names, diags
        self.comp = ExprCompiler(names, text)
        self.merged = _merged_steps(rule)
        self.scope: dict[str, T] = {}
        self.steps: list = []
        self.declared: list[tuple[str, ast.Span]] = []
        self.subject_vars: list[str] = []
        self.require = self.at = self.severity_fn = None
        self.messages: dict[str, list] = {}
        self.expected = self.actual = None
        # each hole of the templates keyed by its expression (AST nodes compare by structure, not position): the
        # holes of one expression share a value in a conflict (_render's `seen`), and no two expressions do
        self.hole_keys: dict = {}

    def error(self, span: ast.Span, message: str, hint=None, severity: str = "error") -> None:
        self.diags.append(located(self.path, self.text, span, message, hint, severity=severity))

    def compile(self) -> CompiledRule | None:
        # only this rule's diagnostics are looked at (diags only grows here): counting every earlier one again made
        # validating a pack quadratic in its rules
        first = len(self.diags)
        self.check_clauses()
        if self.bind_steps():
            self.choose_subjects()
            self.compile_clauses()
        if any(d.severity == "error" for d in self.diags[first:]):
            return None
        return self.finish()

    def check_clauses(self) -> None:
        """Each clause once (but `message`), the required ones there, a known family, a basis parameter that is."""
        rule, names = self.rule, self.names
        seen = {}
        for kind, span in rule.clauses:
            if kind in seen and kind != "message":
                self.error(span, f"rule {rule.id} has two '{kind}' clauses")
            if kind == "message" and kind in seen:
                self.error(span, f"rule {rule.id} has two 'message' clauses")
            seen[kind] = span
        for required in ("title", "severity", "basis", "message"):
            if required not in seen:
                self.error(rule.span, f"rule {rule.id} has no '{required}' clause")
        if rule.family not in FAMILY_ORDER and rule.family not in getattr(names, "families", {}):
            self.error(rule.span, f"unknown family '{rule.family}' in rule id {rule.id}",
                       f"families are {', '.join(FAMILY_ORDER)}; declare one of your own with "
                       f"'family {rule.family} \"名称\"'", severity="warning")
        dated_groups = [g.name for g in getattr(getattr(names, "classification", None), "groups", {}).values() if g.editions]
        if rule.basis_param is not None and rule.basis_param not in names.params and rule.basis_param not in dated_groups:
            self.error(dict(rule.clauses).get("basis", rule.span),
                       f"the basis of rule {rule.id} names {rule.basis_param}, which is not a parameter or a dated group",
                       suggest(rule.basis_param, list(names.params) + dated_groups))

    def bind_steps(self) -> bool:
        """The steps in order; False at the first that does not check (its error said)."""
        for step in self.merged:
            try:
                if isinstance(step, ast.ForStep):
                    self.bind_for(step)
                elif isinstance(step, ast.LetStep):
                    self.bind_let(step)
                else:
                    t, fn = self.comp.compile(step.cond, self.scope)
                    if t.kind not in ("bool", "any"):
                        raise CheckError(step.cond.span, f"a 'where' condition must be true or false, not {t}")
                    self.steps.append(("where", None, fn, t))
            except CheckError as err:
                self.error(err.span, err.args[0], err.hint)
                return False
        return True

    def bind(self, step, t: T) -> None:
        self.scope = dict(self.scope)
        self.scope[step.var] = t
        self.declared.append((step.var, step.span))

    def bind_for(self, step: ast.ForStep) -> None:
        comp, scope = self.comp, self.scope
        if step.var in scope:
            raise CheckError(step.span, f"'{step.var}' is already bound in rule {self.rule.id}")
        iterate, elem_t = comp._source(step.source, step.var, step.cond, scope, also=self.rule.require)
        if not (free_names(step.source) & set(scope)):  # the loop's collection is fixed for the run
            # what the loop can bind: the records passing its own filter (a join against it queries only those)
            plan = getattr(iterate, "plan", None)
            comp.universes[step.var] = plan.kept if plan is not None else comp.compile(step.source, scope)[1]
        self.bind(step, elem_t)
        self.steps.append(("for", step.var, iterate, elem_t))
        if elem_t.kind == "record" and has_id(elem_t.arg):
            self.subject_vars.append(step.var)

    def bind_let(self, step: ast.LetStep) -> None:
        if step.var in self.scope:
            raise CheckError(step.span, f"'{step.var}' is already bound in rule {self.rule.id}")
        t, fn = self.comp.compile(step.value, self.scope)
        self.bind(step, t)
        self.steps.append(("let", step.var, fn, t))
        if _names_records(t):
            self.subject_vars.append(step.var)

    def choose_subjects(self) -> None:
        """`subjects a, b`: only these name a conflict's subjects."""
        rule = self.rule
        if rule.subjects is None:
            return
        span = rule.subjects_span or rule.span
        chosen = []
        for var in rule.subjects:
            t = self.scope.get(var)
            if t is None:
                self.error(span, f"'subjects' names '{var}', which the rule does not bind", suggest(var, list(self.scope)))
            elif not _names_records(t):
                self.error(span, f"'subjects' names '{var}', which is {t}, not records with ids")
            else:
                chosen.append(var)
                self.comp.used_vars.add(var)
        self.subject_vars = chosen

    def compile_template(self, template: ast.Template | None):
        if template is None:
            return None
        comp = self.comp
        parts = []
        plans, comp.plans = comp.plans, []  # the plan shown is the rule's loops and require, not its messages
        try:
            for part in template.parts:
                if isinstance(part, str):
                    parts.append(part)
                else:
                    t, fn = comp.compile(part, self.scope)
                    parts.append((self.hole_keys.setdefault(part, len(self.hole_keys)), fn, t.kind))
        finally:
            comp.plans = plans
        return parts

    def compile_clauses(self) -> None:
        comp = self.comp
        universes = comp.universes
        for what in ("require", "at", "message_zh", "message_en", "expected", "actual", "severity_when"):
            node = getattr(self.rule, what)
            if node is None:
                continue
            # what is evaluated only for a conflict (its place, its message) joins per record, never in bulk for
            # every record the loops can bind: a rule with few conflicts would pay for all of them
            comp.universes = universes if what == "require" else {}
            try:
                self.compile_clause(what, node)
            except CheckError as err:
                self.error(err.span, err.args[0], err.hint)
        comp.universes = universes
        for var, span in self.declared:
            if var not in comp.used_vars:
                self.error(span, f"'{var}' is bound but never used", severity="warning")

    def compile_clause(self, what: str, node) -> None:
        comp, rule = self.comp, self.rule
        if what == "severity_when":
            plans, comp.plans = comp.plans, []
            try:
                t, self.severity_fn = comp.compile(node, self.scope)
            finally:
                comp.plans = plans
            if t.kind not in ("bool", "any"):
                raise CheckError(node.span, f"'severity … when' needs a condition (true or false), not {t}")
            if rule.severity_else == rule.severity:
                raise CheckError(node.span, f"'severity {rule.severity} when … else {rule.severity_else}' chooses between the same severity")
        elif what == "require":
            t, self.require = comp.compile(node, self.scope)
            if t.kind not in ("bool", "any"):
                raise CheckError(node.span, f"'require' must be true or false, not {t}")
        elif what == "at":
            t, self.at = comp.compile(node, self.scope)
            if t.kind not in ("geom", "record", "any"):
                raise CheckError(node.span, f"'at' must give a geometry, not {t}")
        elif what.startswith("message"):
            self.messages[what[-2:]] = self.compile_template(node)
        else:  # expected / actual: one text for both languages, or zh and en
            texts = [self.compile_template(t) for t in node]
            both = {"zh": texts[0], "en": texts[-1]}
            if what == "expected":
                self.expected = both
            else:
                self.actual = both

    def finish(self) -> CompiledRule:
        rule, comp, steps, names = self.rule, self.comp, self.steps, self.names
        self.messages.setdefault("zh", [rule.title_zh])
        self.messages.setdefault("en", [rule.title_en])
        if steps and steps[-1][0] == "for" and rule.require is not None:
            last = getattr(steps[-1][2], "plan", None)
            attach_verdict(last, rule.require, comp, self.scope)  # the plan records the requirement (--plan shows it)
        used = comp.used_params | ({rule.basis_param} if rule.basis_param in names.params else set())
        return CompiledRule(rule, self.path, self.text, steps, self.require, self.at, self.messages, self.expected,
                            self.actual, self.subject_vars, names, tuple(sorted(used)), plans=comp.plans,
                            severity_fn=self.severity_fn, merged_steps=tuple(self.merged))
