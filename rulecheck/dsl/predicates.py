"""`predicate name(a, b) = COND`: conditions written once and used by name. A use is replaced by the condition,
its parameters by the arguments, before the rule is checked and compiled: it is type-checked where it is used,
and the planner sees the condition itself (a spatial test in it goes through the index as if written inline)."""

from __future__ import annotations

import dataclasses

from rulecheck.dsl import ast


class PredicateError(Exception):
    def __init__(self, message: str, span: ast.Span, hint: str | None = None):
        super().__init__(message)
        self.message, self.span, self.hint = message, span, hint


MAX_DEPTH = 32  # predicates using predicates: deeper than this is a cycle or a mistake


def check_declaration(decl: ast.PredicateDecl, builtins: set[str]) -> PredicateError | None:
    """What is wrong with a declaration on its own: a builtin's name, a parameter twice, a parameter that a
    quantifier or an aggregate inside it binds again (the condition would not read what it says)."""
    if decl.name in builtins:
        return PredicateError(f"predicate {decl.name}: '{decl.name}' is a built-in function",
                              decl.name_span or decl.span, "choose another name")
    if len(set(decl.params)) != len(decl.params):
        return PredicateError(f"predicate {decl.name}: a parameter is named twice", decl.span)
    for node in walk_nodes(decl.body):
        if isinstance(node, (ast.Comprehension, ast.Quantifier)) and node.var in decl.params:
            return PredicateError(f"predicate {decl.name}: '{node.var}' is a parameter and is bound again inside it",
                                  node.span, "name the inner variable otherwise")
    return None


def walk_nodes(node):
    """Every AST node under `node` (itself first), depth first; spans left out."""
    if isinstance(node, ast.Span):
        return
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        yield node
        for f in dataclasses.fields(node):
            yield from walk_nodes(getattr(node, f.name))
    elif isinstance(node, (tuple, list)):
        for item in node:
            yield from walk_nodes(item)


def uses(node, names: set[str]) -> bool:
    return any(isinstance(n, ast.Call) and n.func in names for n in walk_nodes(node))


def expand(node, predicates: dict[str, ast.PredicateDecl], stack: tuple[str, ...] = ()):
    """`node` with every use of a predicate replaced by its condition (raises PredicateError at a wrong use)."""
    if isinstance(node, ast.Span) or node is None or isinstance(node, (str, int, float, bool)):
        return node
    if isinstance(node, ast.Call) and node.func in predicates:
        decl = predicates[node.func]
        if len(node.args) != len(decl.params):
            raise PredicateError(f"predicate {decl.name} takes {len(decl.params)} argument(s) "
                                 f"({', '.join(decl.params)}), not {len(node.args)}", node.span)
        if decl.name in stack or len(stack) >= MAX_DEPTH:
            raise PredicateError(f"predicate {decl.name} uses itself ({' -> '.join(stack + (decl.name,))})", node.span)
        args = {p: expand(a, predicates, stack) for p, a in zip(decl.params, node.args)}
        return expand(_substitute(decl.body, args), predicates, stack + (decl.name,))
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        changes = {}
        for f in dataclasses.fields(node):
            value = getattr(node, f.name)
            new = expand(value, predicates, stack)
            if new is not value:
                changes[f.name] = new
        return dataclasses.replace(node, **changes) if changes else node
    if isinstance(node, tuple):
        items = tuple(expand(item, predicates, stack) for item in node)
        return items if any(a is not b for a, b in zip(items, node)) else node
    if isinstance(node, list):
        return [expand(item, predicates, stack) for item in node]
    return node


def _substitute(node, args: dict):
    if isinstance(node, ast.Name) and node.name in args:
        return args[node.name]
    if isinstance(node, ast.Span) or node is None or isinstance(node, (str, int, float, bool)):
        return node
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        changes = {f.name: _substitute(getattr(node, f.name), args) for f in dataclasses.fields(node)}
        return dataclasses.replace(node, **changes)
    if isinstance(node, tuple):
        return tuple(_substitute(item, args) for item in node)
    if isinstance(node, list):
        return [_substitute(item, args) for item in node]
    return node
