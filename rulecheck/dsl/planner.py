"""The join planner: how `var in source where cond` is enumerated without testing every pair.

A `where` condition is split into its conjuncts (`a and b and c`), and each is put where it costs least:

- a conjunct on the loop variable alone (`not r.overlay`) filters the source once per run (per source list);
- a spatial predicate against the outer scope (`intersects(p, right)`) queries an STRtree of what is left;
- an equality or membership against the outer scope (`p.id == parcel.id`, `r.id in package.rights`,
  `parcel.id in item.parcel_ids`, `package.id in r.packages`), or an `or` of such, is answered by a hash
  index of the source built once per run and shared by every rule that joins the same collection on the
  same key: a lookup per outer record instead of a test per candidate;
- a comparison between the loop variable and the outer record of a spatial join (`a.id < b.id`,
  `right.land_use under p.land_use`) is decided for every candidate pair of the bulk query at once, where
  both values are plain texts;
- the rest is tested per candidate the indexes let through ("per pair").

The planner reads the checked loop (its syntax, and the types the checker gives through `Typer`) and returns a
`LoopPlan` (plan.py), a value: it compiles nothing and runs nothing. The compiler compiles the expressions the
plan names and the executor (joins.py) runs them; `describe()` says which conjuncts are indexed and which run
per pair, for `rulecheck rules validate --plan` and for the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

from rulecheck.dsl import ast
from rulecheck.dsl.ast import conjuncts, disjuncts, free_names, is_var, source_text, walk
from rulecheck.dsl.plan import (
    PAIR_FUNCS, SPATIAL_INDEXABLE, AreaCondition, HashJoin, KeyLookup, LocalFilter, LocalKey, Loop, LoopPlan, PlanOptions,
    Requirement, SpatialJoin, TextCondition, Typer,
)
from rulecheck.dsl.schema import DYNAMIC_UNIT_FIELDS, PARENT_FIELDS, VIRTUAL_FIELDS, fields_of

TEXTY = {"str", "code", "enum", "enumlit", "any"}  # values a hash index can match exactly (checked again at run time)
COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")
# `in` and `under` as lookups: the kind with the loop variable on the left, on the right, and whether the right
# side is a list of texts (membership in an untyped value is never decided, so it is not indexed)
MEMBER_LOOKUPS = {"in": ("in", "has", True), "under": ("code_under", "under_code", False)}


def plan_loop(loop: Loop, typer: Typer, text: str, options: PlanOptions) -> LoopPlan:
    """The plan of a checked loop (its conjuncts checked true/false); `text` is the pack's, for the plan's words."""
    fixed = not (free_names(loop.source) & set(loop.outer))
    # enumerated again for every binding of the rule's variables (not when computed once per run)
    nested = bool(loop.outer) and (loop.whole is None or loop.traced or bool(free_names(loop.whole) & set(loop.outer)))
    source = source_text(text, loop.source)
    if loop.cond is None:
        return LoopPlan(loop.var, source, fixed, nested, planned=False)
    return _Planner(loop.var, loop.inner, loop.outer, typer, text, options).plan(loop, source, fixed, nested)


def plan_requirement(plan: LoopPlan, require: ast.Expr, scope: Mapping, typer: Typer, text: str,
                     options: PlanOptions) -> Requirement | None:
    """A rule's requirement for its last loop (`plan`) to decide in bulk, when nothing else is left to test per
    pair and it is `overlap_area(var, other) OP limit` with the limit free of the rule's variables, or a
    comparison of texts of the pair (`right.land_use under parcel.land_use`, as a pair condition); else None."""
    other = plan.spatial.other_var if plan.spatial is not None else None
    decided = {c.at for c in plan.pair_conditions}
    if other is None or any(at not in decided for at in plan.residue) or not options.pair_conditions:
        return None
    text_cond = _Planner(plan.var, scope, scope, typer, text, options).text_condition(require, -1, other)
    if text_cond is not None:
        return Requirement(text_cond.op, None, source_text(text, require), text_cond)
    if not (isinstance(require, ast.Compare) and require.tolerance is None and require.op in COMPARISONS):
        return None
    call, limit = require.left, require.right
    if not (isinstance(call, ast.Call) and call.func == "overlap_area" and len(call.args) == 2):
        return None
    if not _pair_of(call.args[0], call.args[1], plan.var, other) or free_names(limit) & set(scope):
        return None
    return Requirement(require.op, limit, source_text(text, require))


def _pair_of(a: ast.Expr, b: ast.Expr, var: str, other: str) -> bool:
    """`a` and `b` are the loop variable and the outer record, either way round."""
    return (is_var(a, var) and is_var(b, other)) or (is_var(a, other) and is_var(b, var))


@dataclass
class _Planner:
    var: str
    inner: Mapping  # the scope with the loop variable
    outer: Mapping  # the scope of the loop
    typer: Typer
    text: str
    options: PlanOptions

    def words(self, node: ast.Expr) -> str:
        return source_text(self.text, node)

    def plan(self, loop: Loop, source: str, fixed: bool, nested: bool) -> LoopPlan:
        var, parts = self.var, conjuncts(loop.cond)
        filters, residue, joins, spatial = [], [], [], None
        for at, part in enumerate(parts):
            found = self.spatial_join(part, loop.universes) if spatial is None else None
            if found is not None:
                spatial = found
                if part.func != "intersects":  # intersects itself is exactly what the index query answers
                    residue.append(at)
            elif free_names(part) & (set(self.outer) | {var}) <= {var}:
                key = None if loop.traced or not self.options.local_keys else local_key(part, var, self.inner[var])
                filters.append(LocalFilter(at, self.words(part), key))
            else:
                residue.append(at)
                branches = [self.key_lookup(d) for d in disjuncts(part)]
                if all(branches):
                    joins.append(HashJoin(at, tuple(branches), self.words(part)))
        other_var = spatial.other_var if spatial is not None else None
        pair_conds = self.pair_conditions(parts, residue, other_var)
        join = joins[0] if spatial is None and joins and self.options.hash_joins else None
        decided = {c.text for c in pair_conds}
        per_pair = tuple(self.words(parts[at]) for at in residue
                         if (join is None or parts[at] is not parts[join.at]) and self.words(parts[at]) not in decided)
        common = dict(cond=loop.cond, conjuncts=tuple(parts), residue=tuple(residue), per_pair=per_pair)
        if spatial is None and not filters and join is None:
            return LoopPlan(var, source, fixed, nested, planned=False, **common)
        columns = self.column_conditions(parts, residue, decided) if spatial is not None else ()
        return LoopPlan(var, source, fixed, nested, filters=tuple(filters), spatial=spatial, hash_join=join,
                        pair_conditions=pair_conds, column_conditions=columns,
                        prefill=self.prefill(parts, loop.also) if spatial is not None else None, **common)

    def spatial_join(self, part: ast.Expr, universes: tuple[str, ...]) -> SpatialJoin | None:
        """`part` as a spatial predicate between the loop variable and the outer scope an STRtree can answer."""
        if not (isinstance(part, ast.Call) and part.func in SPATIAL_INDEXABLE and len(part.args) >= 2):
            return None
        # within/covers with a tolerance can hold without any contact, so only the exact forms use the index
        if part.func not in ("intersects", "overlaps") and len(part.args) != 2:
            return None
        a, b = part.args[0], part.args[1]
        for mine, other in ((a, b), (b, a)):
            if is_var(mine, self.var) and self.var not in free_names(other):
                other_var = next((name for name in universes if is_var(other, name)), None)
                # overlaps/intersects imply intersection; within/covers with a tolerance only a bbox hit
                predicate = "intersects" if part.func in ("intersects", "overlaps") else None
                return SpatialJoin(other, predicate, other_var, self.words(part))
        return None

    def pair_conditions(self, parts, residue, other_var) -> tuple:
        """The conjuncts decided for every pair of the bulk query (texts first, then shared areas)."""
        if other_var is None or not self.options.pair_conditions:
            return ()
        texts, areas = [], []
        for at in residue:
            text_cond = self.text_condition(parts[at], at, other_var)
            area_cond = self.area_condition(parts[at], at, other_var) if text_cond is None else None
            if text_cond is not None:
                texts.append(text_cond)
            elif area_cond is not None:
                areas.append(area_cond)
        return tuple(texts + areas)

    def column_conditions(self, parts, residue, decided: set[str]) -> tuple:
        """The conjuncts with the outer scope decided for the candidates of each binding at once."""
        if not self.options.pair_conditions:
            return ()
        found = (self.text_condition(parts[at], at, None) if self.words(parts[at]) not in decided else None
                 for at in residue)
        return tuple(c for c in found if c is not None)

    def prefill(self, parts, also: ast.Expr | None) -> str | None:
        """Who needs the shared areas of the pairs: "filter" the condition, "after" what follows, else None."""
        var = self.var

        def pair_call(node) -> bool:
            return isinstance(node, ast.Call) and node.func in PAIR_FUNCS and len(node.args) >= 2 and any(
                is_var(arg, var) for arg in node.args[:2])

        if any(pair_call(part) for part in parts):
            return "filter"
        if also is not None and any(pair_call(n) for n in walk(also)):
            return "after"
        return None

    def text_condition(self, node: ast.Expr, at: int, other: str | None) -> TextCondition | None:
        """`node` as a TextCondition between the loop variable and the outer record `other` (a pair condition of
        a spatial join), or, with `other` None, any value of the outer scope; else None."""
        if isinstance(node, ast.Compare) and node.tolerance is None and node.op in COMPARISONS:
            op = node.op
        elif isinstance(node, ast.Member) and node.op == "under":
            op = "under"
        else:
            return None
        var = self.var
        locals_ = set(self.outer) | {var}
        for mine, theirs, var_left in ((node.left, node.right, True), (node.right, node.left, False)):
            outer_names = free_names(theirs) & locals_
            fits = outer_names == {other} if other is not None else (bool(outer_names) and var not in free_names(theirs))
            if (free_names(mine) & locals_) == {var} and fits:
                mine_t = self.typer.type_of(mine, self.inner)
                theirs_t = self.typer.type_of(theirs, self.outer)
                if mine_t.kind in ("str", "code") and theirs_t.kind in ("str", "code"):
                    return TextCondition(at, op, mine, theirs, var_left, self.words(node))
        return None

    def area_condition(self, node: ast.Expr, at: int, other: str) -> AreaCondition | None:
        """`overlaps(var, other[, tol])` (either way round) with a tolerance free of the rule's variables, else None."""
        if not (isinstance(node, ast.Call) and node.func == "overlaps" and len(node.args) in (2, 3)):
            return None
        if not _pair_of(node.args[0], node.args[1], self.var, other):
            return None
        tolerance = None
        if len(node.args) == 3:
            if free_names(node.args[2]) & (set(self.outer) | {self.var}):
                return None
            tolerance = node.args[2]
        return AreaCondition(at, tolerance, self.words(node))

    def key_lookup(self, node: ast.Expr) -> KeyLookup | None:
        """`node` as an indexable comparison of the loop variable with the outer scope, else None."""
        found = self.lookup_sides(node)
        if found is None:
            return None
        kind, mine, outer = found
        names = free_names(outer) & set(self.outer)
        outer_var, outer_text = (next(iter(names)), self.words(outer)) if len(names) == 1 else (None, "")
        return KeyLookup(kind, mine, outer, self.words(mine), self.words(node), outer_var, outer_text)

    def lookup_sides(self, node: ast.Expr) -> tuple[str, ast.Expr, ast.Expr] | None:
        """(kind, the loop variable's side, the outer side) of an indexable comparison, else None."""
        if isinstance(node, ast.Compare) and node.op == "==" and node.tolerance is None:
            for mine, other in ((node.left, node.right), (node.right, node.left)):
                if self.var_only(mine) and self.outer_only(other) and self.texty(mine, self.inner) \
                        and self.texty(other, self.outer):
                    return "eq", mine, other
            return None
        if not (isinstance(node, ast.Member) and node.op in MEMBER_LOOKUPS):
            return None
        forward, backward, listed = MEMBER_LOOKUPS[node.op]
        left, right = node.left, node.right
        if self.var_only(left) and self.outer_only(right) and self.texty(left, self.inner) \
                and self.texty(right, self.outer, listed):
            return forward, left, right
        if self.outer_only(left) and self.var_only(right) and self.texty(left, self.outer) \
                and self.texty(right, self.inner, listed):
            return backward, right, left
        return None

    def var_only(self, side: ast.Expr) -> bool:
        names = free_names(side) & (set(self.outer) | {self.var})
        return self.var in names and names <= {self.var}

    def outer_only(self, side: ast.Expr) -> bool:
        return self.var not in free_names(side)

    def texty(self, side: ast.Expr, scope: Mapping, listed: bool = False) -> bool:
        t = self.typer.type_of(side, scope)
        if listed:  # a list of texts (membership in an untyped value is never decided, so it is not indexed)
            return t.kind == "list" and t.arg.kind in TEXTY
        return t.kind in TEXTY


# ---- conditions on the loop variable alone, decided once per distinct value they read ----------------------


def local_key(node: ast.Expr, var: str, var_t) -> LocalKey | None:
    """For a condition on the loop variable alone (`present(p.far_max)`, `r.kind in construction_kinds and not
    r.overlay`), what the condition reads of the record, such that records of equal keys get the same verdict.
    None when it reads the record otherwise than through fields (the record itself, a field the pack declares,
    a quantity whose unit is another field), so it is tested on every record.

    The condition reads the record only through paths of fields (`item.contract.method`), and is otherwise a
    function of the run's constants (the bundle, the parameters, the date): so its verdict for one record holds
    for every record whose paths have the same values. A path read only by present() is keyed by whether it is
    absent, one read only by len() by its length; other values by value (texts, numbers, dates, enum members)
    or, where the record holds the object itself, by identity."""
    paths = _field_paths(node, var)
    if not paths:
        return None
    out = []
    for names, uses in sorted(paths.items()):
        steps, t = [], var_t
        for name in names:
            if t.kind != "record" or name not in fields_of(t.arg) or (t.arg, name) in DYNAMIC_UNIT_FIELDS:
                return None  # a declared field, a list's fields, a quantity whose unit is another field
            kind = "parent" if (t.arg, name) in PARENT_FIELDS else \
                "virtual" if name in VIRTUAL_FIELDS.get(t.arg, {}) else "field"
            steps.append((kind, name))
            t = fields_of(t.arg)[name]
        out.append((tuple(steps), next(iter(uses)) if len(uses) == 1 else "value"))
    return LocalKey(tuple(out))


def local_keyer(node: ast.Expr, var: str, var_t) -> Callable | None:
    """The function giving a record's key for `node` (local_key), or None when it has none."""
    key = local_key(node, var, var_t)
    return None if key is None else key.function()


def _field_paths(node: ast.Expr, var: str) -> dict[tuple, set] | None:
    """{path of field names from `var`: how it is read ("value", "present", "len")}; None when the record is read
    otherwise than through its fields."""
    paths: dict[tuple, set] = {}
    readable = True

    def visit(n, bound: frozenset, parent):
        nonlocal readable
        if isinstance(n, ast.Name):
            if n.name == var and var not in bound:
                readable = False  # the record itself (`area(p)`): not a function of its fields
            return
        if isinstance(n, ast.Field):
            chain, root = [], n
            while isinstance(root, ast.Field):
                chain.append(root.name)
                root = root.obj
            if isinstance(root, ast.Name) and root.name == var and var not in bound:
                use = "value"
                if isinstance(parent, ast.Call) and parent.func in ("present", "len") and len(parent.args) == 1:
                    use = parent.func
                paths.setdefault(tuple(reversed(chain)), set()).add(use)
                return
            visit(n.obj, bound, n)
            return
        if isinstance(n, (ast.Comprehension, ast.Quantifier)):
            visit(n.source, bound, n)
            inner = bound | {n.var}
            for part in (getattr(n, "element", None), n.cond, getattr(n, "body", None)):
                if part is not None:
                    visit(part, inner, n)
            return
        if isinstance(n, ast.Expr):
            for value in vars(n).values():
                if isinstance(value, ast.Expr):
                    visit(value, bound, n)
                elif isinstance(value, tuple):
                    for v in value:
                        if isinstance(v, ast.Expr):
                            visit(v, bound, n)

    visit(node, frozenset(), None)
    return paths if readable else None


# ---- what --plan says of a loop that visits every pair ---------------------------------------------------


def all_pairs_advice(plan: dict) -> tuple[str, str] | None:
    """For a loop `rules validate --plan` marks "!" (every record of a whole collection for every binding): what
    is wrong and the rewrite that removes it (docs/language.md, "When --plan marks a loop"); None otherwise."""
    if not (plan.get("nested") and plan.get("source_fixed")) or plan.get("spatial") or plan.get("hash"):
        return None
    var, source = plan["var"], plan["source"]
    pairs = plan.get("per_pair") or []
    what = f"'for each {var} in {source}' visits every record for every binding of the outer loops (all pairs)"
    if pairs:
        what += "; tested per pair: " + "; ".join(pairs)
    text = " ".join(pairs)
    spatial = any(f"{name}(" in text for name in ("intersects", "overlaps", "within", "covers", "overlap_area",
                                                  "touches", "disjoint"))
    if " or " in text and spatial:
        hint = ("an 'or' of a spatial test and another condition uses no index: write two rules, or two "
                "'for each' loops, one joined by the spatial test and one by the id (== / in), each answered by its index")
    elif spatial and (" not " in f" {text}" or "disjoint(" in text):
        hint = ("a negated spatial test uses no index: test the pairs that do meet ('where intersects(...)') and "
                "require what must hold of them, or 'not exists x in C where intersects(...)' on the outer record")
    elif any(op in text for op in (" == ", " != ", " < ", " <= ", " > ", " >= ")):
        hint = ("a comparison of numbers (or with != < >) is tested pair by pair: join by an id or a code "
                f"('{var}.id == outer.ref', '{var}.id in outer.list', 'under') or by place ('intersects({var}, outer)'), "
                "and test the numbers of the pairs it keeps")
    else:
        hint = (f"join through an index: 'intersects({var}, outer)' for places, '{var}.id == outer.ref' or "
                f"'{var}.id in outer.list' for references (docs/language.md, Joins)")
    return what, hint
