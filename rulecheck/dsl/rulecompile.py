"""One rule or parameter compiled: its clauses checked, its loops planned and its expressions compiled against
the names in scope (the parameters, the declared fields and families); every mistake a located diagnostic."""

from __future__ import annotations

import dataclasses

from rulecheck.diagnostics import Diagnostic
from rulecheck.dsl import ast
from rulecheck.dsl.catalog import FAMILY_ORDER
from rulecheck.dsl.compiled import CompiledRule
from rulecheck.dsl.compiler import (
    CheckError, CompiledEdition, CompiledParam, ExprCompiler, Names, _comparable, _suggest, free_names,
)
from rulecheck.dsl.planner import attach_verdict
from rulecheck.dsl.schema import ENUM_VALUES, T, has_id
from rulecheck.dsl.values import EvalError


def located(path: str, text: str, span: ast.Span, message: str, hint=None, severity="error") -> Diagnostic:
    """A diagnostic at `span` of a pack, with its line as the excerpt."""
    from rulecheck.dsl.parser import _line_text  # one cached split per text: many diagnostics stay linear

    excerpt = _line_text(text, span.line) or None
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
        elif not _comparable(ptype, t):
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
                                           _suggest(entry.key, list(ENUM_VALUES))))
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
    # only this rule's diagnostics are looked at (diags only grows here): counting every earlier one again made
    # validating a pack quadratic in its rules
    first = len(diags)
    seen = {}
    for kind, span in rule.clauses:
        if kind in seen and kind != "message":
            diags.append(located(path, text, span, f"rule {rule.id} has two '{kind}' clauses"))
        if kind == "message" and kind in seen:
            diags.append(located(path, text, span, f"rule {rule.id} has two 'message' clauses"))
        seen[kind] = span
    for required in ("title", "severity", "basis", "message"):
        if required not in seen:
            diags.append(located(path, text, rule.span, f"rule {rule.id} has no '{required}' clause"))
    if rule.family not in FAMILY_ORDER and rule.family not in getattr(names, "families", {}):
        diags.append(located(path, text, rule.span, f"unknown family '{rule.family}' in rule id {rule.id}",
                           f"families are {', '.join(FAMILY_ORDER)}; declare one of your own with "
                           f"'family {rule.family} \"名称\"'", severity="warning"))
    dated_groups = [g.name for g in getattr(getattr(names, "classification", None), "groups", {}).values() if g.editions]
    if rule.basis_param is not None and rule.basis_param not in names.params and rule.basis_param not in dated_groups:
        span = dict(rule.clauses).get("basis", rule.span)
        diags.append(located(path, text, span,
                           f"the basis of rule {rule.id} names {rule.basis_param}, which is not a parameter or a dated group",
                           _suggest(rule.basis_param, list(names.params) + dated_groups)))
    comp = ExprCompiler(names, text)
    scope: dict[str, T] = {}
    steps = []
    declared: list[tuple[str, ast.Span]] = []
    subject_vars = []
    # a `where` right after a `for each` joins that loop's filter, so spatial predicates can use the index
    merged: list = []
    for step in rule.steps:
        if isinstance(step, ast.WhereStep) and merged and isinstance(merged[-1], ast.ForStep):
            prev = merged[-1]
            cond = step.cond if prev.cond is None else ast.Logic(step.span, "and", prev.cond, step.cond)
            merged[-1] = dataclasses.replace(prev, cond=cond)
        else:
            merged.append(step)
    ok = True
    for step in merged:
        try:
            if isinstance(step, ast.ForStep):
                if step.var in scope:
                    raise CheckError(step.span, f"'{step.var}' is already bound in rule {rule.id}")
                iterate, elem_t = comp._source(step.source, step.var, step.cond, scope, also=rule.require)
                if not (free_names(step.source) & set(scope)):  # the loop's collection is fixed for the run
                    # what the loop can bind: the records passing its own filter (a join against it queries only those)
                    plan = getattr(iterate, "plan", None)
                    comp.universes[step.var] = plan.kept if plan is not None else comp.compile(step.source, scope)[1]
                scope = dict(scope)
                scope[step.var] = elem_t
                steps.append(("for", step.var, iterate, elem_t))
                declared.append((step.var, step.span))
                if elem_t.kind == "record" and has_id(elem_t.arg):
                    subject_vars.append(step.var)
            elif isinstance(step, ast.LetStep):
                if step.var in scope:
                    raise CheckError(step.span, f"'{step.var}' is already bound in rule {rule.id}")
                t, fn = comp.compile(step.value, scope)
                scope = dict(scope)
                scope[step.var] = t
                steps.append(("let", step.var, fn, t))
                declared.append((step.var, step.span))
                if (t.kind == "record" and has_id(t.arg)) or (
                    t.kind == "list" and t.arg.kind == "record" and has_id(t.arg.arg)
                ):
                    subject_vars.append(step.var)
            else:
                t, fn = comp.compile(step.cond, scope)
                if t.kind not in ("bool", "any"):
                    raise CheckError(step.cond.span, f"a 'where' condition must be true or false, not {t}")
                steps.append(("where", None, fn, t))
        except CheckError as err:
            diags.append(located(path, text, err.span, err.args[0], err.hint))
            ok = False
            break
    require = at = severity_fn = None
    messages: dict[str, list] = {}
    expected = actual = None
    if ok and rule.subjects is not None:  # `subjects a, b`: only these name a conflict's subjects
        span = rule.subjects_span or rule.span
        chosen = []
        for var in rule.subjects:
            t = scope.get(var)
            if t is None:
                diags.append(located(path, text, span, f"'subjects' names '{var}', which the rule does not bind",
                                   _suggest(var, list(scope))))
            elif not ((t.kind == "record" and has_id(t.arg)) or (t.kind == "list" and t.arg.kind == "record" and has_id(t.arg.arg))):
                diags.append(located(path, text, span, f"'subjects' names '{var}', which is {t}, not records with ids"))
            else:
                chosen.append(var)
                comp.used_vars.add(var)
        subject_vars = chosen
    if ok:
        # each hole of the templates keyed by its expression (AST nodes compare by structure, not position): the
        # holes of one expression share a value in a conflict (_render's `seen`), and no two expressions do
        hole_keys: dict = {}

        def compile_template(template: ast.Template | None):
            if template is None:
                return None
            parts = []
            plans, comp.plans = comp.plans, []  # the plan shown is the rule's loops and require, not its messages
            try:
                for part in template.parts:
                    if isinstance(part, str):
                        parts.append(part)
                    else:
                        t, fn = comp.compile(part, scope)
                        parts.append((hole_keys.setdefault(part, len(hole_keys)), fn, t.kind))
            finally:
                comp.plans = plans
            return parts

        universes = comp.universes
        for what in ("require", "at", "message_zh", "message_en", "expected", "actual", "severity_when"):
            node = getattr(rule, what)
            if node is None:
                continue
            # what is evaluated only for a conflict (its place, its message) joins per record, never in bulk for
            # every record the loops can bind: a rule with few conflicts would pay for all of them
            comp.universes = universes if what == "require" else {}
            try:
                if what == "severity_when":
                    plans, comp.plans = comp.plans, []
                    try:
                        t, severity_fn = comp.compile(node, scope)
                    finally:
                        comp.plans = plans
                    if t.kind not in ("bool", "any"):
                        raise CheckError(node.span, f"'severity … when' needs a condition (true or false), not {t}")
                    if rule.severity_else == rule.severity:
                        raise CheckError(node.span, f"'severity {rule.severity} when … else {rule.severity_else}' chooses between the same severity")
                elif what == "require":
                    t, require = comp.compile(node, scope)
                    if t.kind not in ("bool", "any"):
                        raise CheckError(node.span, f"'require' must be true or false, not {t}")
                elif what == "at":
                    t, at = comp.compile(node, scope)
                    if t.kind not in ("geom", "record", "any"):
                        raise CheckError(node.span, f"'at' must give a geometry, not {t}")
                elif what.startswith("message"):
                    messages[what[-2:]] = compile_template(node)
                else:  # expected / actual: one text for both languages, or zh and en
                    texts = [compile_template(t) for t in node]
                    both = {"zh": texts[0], "en": texts[-1]}
                    if what == "expected":
                        expected = both
                    else:
                        actual = both
            except CheckError as err:
                diags.append(located(path, text, err.span, err.args[0], err.hint))
        comp.universes = universes
        for var, span in declared:
            if var not in comp.used_vars:
                diags.append(located(path, text, span, f"'{var}' is bound but never used", severity="warning"))
    if any(d.severity == "error" for d in diags[first:]):
        return None
    messages.setdefault("zh", [rule.title_zh])
    messages.setdefault("en", [rule.title_en])
    if steps and steps[-1][0] == "for" and rule.require is not None:
        last = getattr(steps[-1][2], "plan", None)
        if attach_verdict(last, rule.require, comp, scope):  # shown with the last loop's plan (--plan)
            shown = next((p for p in reversed(comp.plans) if p.get("var") == last.var and p.get("source") == last.texts["source"]), None)
            if shown is not None:
                shown["requirement"] = last.verdict.text
    return CompiledRule(rule, path, text, steps, require, at, messages, expected, actual, subject_vars, names,
                        tuple(sorted(comp.used_params | ({rule.basis_param} if rule.basis_param in names.params else set()))),
                        plans=comp.plans, severity_fn=severity_fn)
