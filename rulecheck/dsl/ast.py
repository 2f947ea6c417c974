"""The syntax tree of a rule pack: frozen dataclass nodes, each with the span it came from."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Union


@dataclass(frozen=True)
class Span:
    """Where a node is in its file: 1-based line and column, and character offsets for slicing its text."""

    path: str
    line: int
    column: int
    start: int
    end: int


NO_SPAN = Span("<builtin>", 0, 0, 0, 0)


# ---- expressions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expr:
    span: Span = field(compare=False, repr=False)


@dataclass(frozen=True)
class Number(Expr):
    value: float
    unit: str | None


@dataclass(frozen=True)
class String(Expr):
    value: str


@dataclass(frozen=True)
class DateLit(Expr):
    value: dt.date


@dataclass(frozen=True)
class Bool(Expr):
    value: bool


@dataclass(frozen=True)
class Name(Expr):
    name: str


@dataclass(frozen=True)
class ListLit(Expr):
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Field(Expr):
    obj: Expr
    name: str
    name_span: Span = field(compare=False, repr=False, default=None)  # type: ignore[assignment]


@dataclass(frozen=True)
class Lookup(Expr):
    """`collection[id]`: the record of that id, or a parameter's value for a key."""

    obj: Expr
    key: Expr


@dataclass(frozen=True)
class Call(Expr):
    func: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Comprehension(Expr):
    """`sum(p.area_m2 for p in parcels where ...)`: an aggregate over a filtered collection."""

    func: str
    element: Expr
    var: str
    source: Expr
    cond: Expr | None


@dataclass(frozen=True)
class Quantifier(Expr):
    """`every x in C where c satisfies e`, `any x in C where c`, `no x in C where c`."""

    kind: str  # every | any | none
    var: str
    source: Expr
    cond: Expr | None
    body: Expr | None


@dataclass(frozen=True)
class Compare(Expr):
    op: str  # == != < <= > >=
    left: Expr
    right: Expr
    tolerance: Expr | None


@dataclass(frozen=True)
class Member(Expr):
    """`x in C` (a list, a collection of records by id, or a land-use group), `x under "09"`."""

    op: str  # in | not in | under
    left: Expr
    right: Expr


@dataclass(frozen=True)
class BinOp(Expr):
    op: str  # + - * /
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Neg(Expr):
    operand: Expr


@dataclass(frozen=True)
class Convert(Expr):
    """`expr as ha`: the same quantity shown in another unit of its dimension."""

    operand: Expr
    unit: str


@dataclass(frozen=True)
class Logic(Expr):
    op: str  # and | or
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Not(Expr):
    operand: Expr



class CheckError(Exception):
    """A mistake in a rule found while checking it; becomes a located Diagnostic."""

    def __init__(self, span: Span, message: str, hint: str | None = None):
        super().__init__(message)
        self.span = span
        self.hint = hint


# ---- reading expressions ----------------------------------------------------------------------------


def source_text(text: str, node: Expr) -> str:
    """The words of `node` in the pack's `text`, on one line (its class name when it has no span there)."""
    s = node.span
    if s.end > s.start and s.end <= len(text):
        return " ".join(text[s.start : s.end].split())
    return type(node).__name__


def _children(node: Expr):
    for value in vars(node).values():
        if isinstance(value, Expr):
            yield value
        elif isinstance(value, tuple):
            for v in value:
                if isinstance(v, Expr):
                    yield v


def free_names(node: Expr) -> set[str]:
    """Names an expression reads (before scoping: quantifier variables are removed)."""
    out: set[str] = set()

    def visit(n, bound: frozenset):
        if isinstance(n, Name):
            if n.name not in bound:
                out.add(n.name)
            return
        if isinstance(n, (Comprehension, Quantifier)):
            visit(n.source, bound)
            inner = bound | {n.var}
            for part in (getattr(n, "element", None), n.cond, getattr(n, "body", None)):
                if part is not None:
                    visit(part, inner)
            return
        if isinstance(n, Expr):
            for child in _children(n):
                visit(child, bound)

    visit(node, frozenset())
    return out


def walk(node: Expr):
    """Every expression node under `node`, itself included."""
    yield node
    for child in _children(node):
        yield from walk(child)


def conjuncts(node: Expr) -> list[Expr]:
    """`a and b and c` as [a, b, c]."""
    if isinstance(node, Logic) and node.op == "and":
        return conjuncts(node.left) + conjuncts(node.right)
    return [node]


def disjuncts(node: Expr) -> list[Expr]:
    """`a or b or c` as [a, b, c]."""
    if isinstance(node, Logic) and node.op == "or":
        return disjuncts(node.left) + disjuncts(node.right)
    return [node]


def is_var(node: Expr, var: str) -> bool:
    """`var` itself, or its geometry or boundary (`p`, `p.geometry`, `package.boundary`)."""
    return (isinstance(node, Name) and node.name == var) or (
        isinstance(node, Field) and node.name in ("geometry", "boundary") and isinstance(node.obj, Name) and node.obj.name == var
    )


# ---- rules ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ForStep:
    var: str
    source: Expr
    cond: Expr | None
    span: Span = field(compare=False, repr=False)


@dataclass(frozen=True)
class LetStep:
    var: str
    value: Expr
    span: Span = field(compare=False, repr=False)


@dataclass(frozen=True)
class WhereStep:
    cond: Expr
    span: Span = field(compare=False, repr=False)


Step = Union[ForStep, LetStep, WhereStep]


@dataclass(frozen=True)
class Template:
    """A message template: literal text with `{expr}` holes, each hole parsed as an expression."""

    parts: tuple[str | Expr, ...]
    span: Span = field(compare=False, repr=False)


@dataclass(frozen=True)
class Rule:
    id: str
    span: Span
    title_zh: str = ""
    title_en: str = ""
    severity: str = "error"
    basis: str = ""
    basis_text: str = ""
    basis_paraphrase: bool = False  # basis_text is a paraphrase (大意), not the text's own words
    basis_param: str | None = None  # `basis source of PARAM`: the in-force edition of PARAM gives the basis
    tags: tuple[str, ...] = ()
    applies_from: dt.date | None = None
    applies_until: dt.date | None = None
    waivable: bool = True
    steps: tuple[Step, ...] = ()
    require: Expr | None = None
    at: Expr | None = None
    message_zh: Template | None = None
    message_en: Template | None = None
    expected: tuple[Template, ...] | None = None  # one template for both languages, or (zh, en)
    actual: tuple[Template, ...] | None = None
    # which clauses were written, to report missing or repeated ones
    clauses: tuple[tuple[str, Span], ...] = ()
    override: bool = False  # `override rule`: replaces the built-in rule of the same id, on purpose
    severity_when: Expr | None = None  # `severity A when COND else B`: A where COND holds, else B
    severity_else: str | None = None
    subjects: tuple[str, ...] | None = None  # `subjects a, b`: only these variables name a conflict's subjects
    subjects_span: Span | None = field(default=None, compare=False, repr=False)

    @property
    def family(self) -> str:
        return self.id.split("-", 1)[0]


# ---- parameters -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableEntry:
    key: str | None  # None: otherwise
    key_is_code: bool  # a quoted land-use code, matched by prefix ("09" covers "0901")
    value: Expr
    span: Span = field(compare=False, repr=False)


@dataclass(frozen=True)
class Edition:
    """The value of a parameter from a date on, with its legal source."""

    valid_from: dt.date
    source: str
    value: Expr | None
    table_key: str | None
    entries: tuple[TableEntry, ...]
    span: Span = field(compare=False, repr=False)
    text: str = ""  # the source's own words (or a paraphrase, see `paraphrase`)
    paraphrase: bool = False
    provenance: str = ""  # official | secondary | practice; "" when the edition does not say
    provenance_note: str = ""


@dataclass(frozen=True)
class Param:
    name: str
    title_zh: str
    title_en: str
    editions: tuple[Edition, ...]
    span: Span = field(compare=False, repr=False)
    override: bool = False  # `override param`: replaces the built-in parameter of the same name, on purpose


# ---- tests ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PathStep:
    kind: str  # field | id
    name: str
    span: Span = field(default=NO_SPAN, compare=False, repr=False)  # where the step is written (`.name`, `[id]`)


@dataclass(frozen=True)
class Patch:
    kind: str  # set | remove
    root: str
    path: tuple[PathStep, ...]
    value: Expr | None
    span: Span = field(compare=False, repr=False)

    def text(self) -> str:
        out = self.root
        for step in self.path:
            out += f".{step.name}" if step.kind == "field" else f"[{step.name}]"
        return out


@dataclass(frozen=True)
class Expectation:
    kind: str  # conflict | exact | none | indeterminate | pass | not_applicable | count
    rule: str
    subjects: tuple[str, ...]
    span: Span = field(compare=False, repr=False)
    count: int | None = None  # `expect N RULE`
    # `with actual "…"`, `with expected "…"`, `message contains "…"`: ((what, text), …), each a piece of the text
    details: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RuleTest:
    rule: str
    name: str
    given_kind: str  # fixture | submission | inline | county
    given: str
    patches: tuple[Patch, ...]
    expectations: tuple[Expectation, ...]
    span: Span = field(compare=False, repr=False)


@dataclass(frozen=True)
class FieldDecl:
    """`field ROOT.COLLECTION….NAME: TYPE [UNIT] "zh" ["en"]`: a column the contract lacks, read from a GIS record."""

    path: tuple[str, ...]  # the collection: ("detailed_plan", "parcels")
    name: str
    type: str  # number | text | code | date | bool
    unit: str | None
    title_zh: str
    title_en: str
    span: Span = field(compare=False, repr=False)
    type_span: Span = field(compare=False, repr=False, default=None)

    def text(self) -> str:
        return ".".join(self.path + (self.name,))


@dataclass(frozen=True)
class Pack:
    """One parsed rule file."""

    path: str
    text: str
    rules: tuple[Rule, ...]
    params: tuple[Param, ...]
    tests: tuple[RuleTest, ...]
    broken: tuple[str, ...] = ()  # ids of rules that could not be read (their tests are not reported again)
    fields: tuple[FieldDecl, ...] = ()
    predicates: tuple["PredicateDecl", ...] = ()
    families: tuple["FamilyDecl", ...] = ()


@dataclass(frozen=True)
class PredicateDecl:
    """`predicate NAME(A, B) = COND`: a condition used by name in rules, expanded where it is used (so it is
    checked, and planned, as if written there)."""

    name: str
    params: tuple[str, ...]
    body: Expr
    span: Span = field(compare=False, repr=False)
    name_span: Span = field(compare=False, repr=False, default=None)  # type: ignore[assignment]


@dataclass(frozen=True)
class FamilyDecl:
    """`family ZJ "浙江省补充规则" ["Zhejiang supplement"]`: a rule family a pack adds to the contract's."""

    code: str
    title_zh: str
    title_en: str | None
    span: Span = field(compare=False, repr=False)
