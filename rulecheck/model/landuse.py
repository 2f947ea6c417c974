"""The land and sea use classification (用地用海分类) as data: codes, names, groups, province overrides."""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import yaml

from rulecheck.diagnostics import Diagnostic, InputError

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
DEFAULT_FILE = DATA_DIR / "landuse.yaml"
PROVINCE_DIR = DATA_DIR / "provinces"

_CODE_RE = re.compile(r"^(\d{2}|\d{4}|\d{6})$")
_TOP_KEYS = {"source", "codes", "aliases", "groups"}
_GROUP_KEYS = {"zh", "en", "codes", "source", "editions"}
_EDITION_KEYS = {"from", "codes", "source", "provenance", "text", "paraphrase"}
PROVENANCES = ("official", "secondary", "practice", "unverified")


def in_force(editions, as_of: dt.date):
    """The edition in force on `as_of`: the last of `editions` (in date order) whose `valid_from` is not after
    it, or None before the first. Land-use groups and rule parameters are dated the same way."""
    current = None
    for edition in editions:
        if edition.valid_from <= as_of:
            current = edition
    return current


@dataclass(frozen=True)
class Code:
    """One class of the classification: its code, names, and where it was defined (file:line)."""

    code: str
    zh: str
    en: str
    defined_in: str = ""

    @property
    def level(self) -> int:
        return len(self.code) // 2


@dataclass(frozen=True)
class GroupEdition:
    """The members of a dated group from a date on, with the text that made them members."""

    valid_from: dt.date
    codes: tuple[str, ...]
    source: str  # the citation (text and article)
    provenance: str = ""  # official | secondary | practice, as for a parameter edition
    text: str = ""  # the source's words, or a paraphrase when `paraphrase`
    paraphrase: bool = False


@dataclass(frozen=True)
class Group:
    """A named group of codes (e.g. operating land); a code in `codes` covers every code under it.

    A dated group (`editions`) has the members of the edition in force on a date, and none before its first
    edition; `codes` are then the members of the latest edition."""

    name: str
    zh: str
    en: str
    codes: tuple[str, ...]
    source: str
    defined_in: str = ""
    editions: tuple[GroupEdition, ...] = ()

    def edition_at(self, as_of: dt.date) -> GroupEdition | None:
        return in_force(self.editions, as_of)

    def codes_at(self, as_of: dt.date | None) -> tuple[str, ...]:
        """The members on `as_of` (all of `codes` for an undated group, or when no date is given)."""
        if not self.editions or as_of is None:
            return self.codes
        edition = self.edition_at(as_of)
        return edition.codes if edition is not None else ()


@dataclass(frozen=True)
class Classification:
    """The classification in force for one jurisdiction: the national table plus a province's overrides.

    >>> c = load_classification()
    >>> c.name("0901"), c.name("0901", lang="en"), c.level1("090104")
    ('商业用地', 'commerce', '09')
    >>> c.under("0901", "09"), c.in_group("1001", "operating"), c.in_group("0301", "construction")
    (True, True, False)

    A dated group answers for a date: industrial land is operating land (to be put to tender, auction or
    listing) from 2007-11-01 only.

    >>> c.in_group("1001", "operating", dt.date(2005, 6, 1)), c.in_group("1001", "operating", dt.date(2008, 1, 1))
    (False, True)
    """

    codes: Mapping[str, Code]
    groups: Mapping[str, Group]
    aliases: Mapping[str, str] = field(default_factory=dict)
    source: Mapping[str, Any] = field(default_factory=dict)
    files: tuple[str, ...] = ()

    def canonical(self, code: str) -> str:
        """The code itself, or the code an alias stands for (``"1601"`` -> ``"16"``)."""
        code = str(code).strip()
        return self.aliases.get(code, code)

    def is_known(self, code: object) -> bool:
        return isinstance(code, str) and self.canonical(code) in self.codes

    def name(self, code: str, lang: str = "zh") -> str:
        """The class name in Chinese (``lang="zh"``) or English; KeyError for an unknown code."""
        entry = self.codes[self.canonical(code)]
        return entry.en if lang == "en" else entry.zh

    def level1(self, code: str) -> str:
        return self.canonical(code)[:2]

    def under(self, code: str, prefix: str) -> bool:
        """True when `code` is `prefix` or one of its subclasses (0901 under 09; 09 under 09)."""
        code, prefix = self.canonical(code), self.canonical(prefix)
        return len(prefix) % 2 == 0 and len(prefix) > 0 and code.startswith(prefix)

    def in_group(self, code: str, group: str, as_of: dt.date | None = None) -> bool:
        """True when `code` falls under one of the group's codes (on `as_of`, for a dated group); KeyError for
        an unknown group. Kept per (code, group, date): a county's parcels ask about a few dozen codes."""
        cache = self.__dict__.get("_in_group_cache")
        if cache is None:
            cache = {}
            object.__setattr__(self, "_in_group_cache", cache)
        key = (code, group, as_of)
        found = cache.get(key)
        if found is None:
            found = cache[key] = any(self.under(code, g) for g in self.groups[group].codes_at(as_of))
        return found

    def groups_of(self, code: str) -> list[str]:
        """The names of every group `code` falls in, sorted."""
        return sorted(g for g in self.groups if self.in_group(code, g))

    def suggest(self, code: object) -> str | None:
        """A known code close to an unknown one (a typo, a name written instead of a code), or None."""
        text = str(code).strip()
        if self.is_known(text):
            return self.canonical(text)
        by_name = {c.zh: k for k, c in self.codes.items()} | {c.en.lower(): k for k, c in self.codes.items()}
        if text in by_name or text.lower() in by_name:
            return by_name.get(text) or by_name[text.lower()]
        if text.isdigit() and len(text) % 2 == 1:
            padded = "0" + text  # "101" is "0101" read as a number
            if self.is_known(padded):
                return self.canonical(padded)
        candidates = [k for k in self.codes if len(k) == len(text)] or list(self.codes)
        scored = [(_common_prefix(text, k), difflib.SequenceMatcher(None, text, k).ratio(), k) for k in candidates]
        scored = [s for s in scored if s[1] >= 0.6]
        if scored:
            # a typo keeps the leading digits more often than not: prefer the code sharing the longest prefix
            return max(scored, key=lambda s: (s[0], s[1], [-ord(ch) for ch in s[2]]))[2]
        names = difflib.get_close_matches(text, list(by_name), n=1, cutoff=0.6)
        return by_name[names[0]] if names else None


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


# ---- reading the YAML files -------------------------------------------------------------------------


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _construct(node: yaml.Node) -> Any:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


class _Reader:
    """Walks the composed YAML tree of one classification file, collecting located diagnostics."""

    def __init__(self, path: Path, label: str):
        self.path = path
        self.label = label
        self.diagnostics: list[Diagnostic] = []

    def error(self, node: yaml.Node | None, field_path: str, message: str, hint: str | None = None) -> None:
        line = _line(node) if node is not None else None
        self.diagnostics.append(Diagnostic(self.label, message, line=line, field=field_path or None, hint=hint))

    def compose(self) -> yaml.Node | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            self.diagnostics.append(Diagnostic(self.label, "classification file not found"))
            return None
        except (OSError, UnicodeDecodeError) as exc:
            self.diagnostics.append(Diagnostic(self.label, f"cannot read classification file: {exc}"))
            return None
        try:  # libyaml where there is one: the shipped file takes 0.04 s in the pure-Python composer
            return yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.YAMLError:
            pass  # composed again below, for the pure-Python loader's message
        try:
            return yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            problem = getattr(exc, "problem", None) or str(exc)
            self.diagnostics.append(
                Diagnostic(
                    self.label,
                    f"YAML syntax error: {problem}",
                    line=mark.line + 1 if mark else None,
                    column=mark.column + 1 if mark else None,
                    excerpt=text.splitlines()[mark.line] if mark and mark.line < len(text.splitlines()) else None,
                )
            )
            return None

    def code_key(self, node: yaml.Node, field_path: str) -> str | None:
        if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:str":
            value = node.value if isinstance(node, yaml.ScalarNode) else None
            self.error(
                node,
                field_path,
                f"land-use code {value!r} must be a quoted string",
                hint=f'write "{value}" in quotes: unquoted, YAML reads a leading-zero number as octal',
            )
            return None
        value = node.value.strip()
        if not _CODE_RE.match(value):
            self.error(node, field_path, f"{value!r} is not a land-use code (2, 4 or 6 digits)")
            return None
        return value

    def text(self, node: yaml.Node, field_path: str) -> str | None:
        if not isinstance(node, yaml.ScalarNode) or not node.value.strip():
            self.error(node, field_path, "expected a non-empty text")
            return None
        return str(node.value).strip()

    def mapping(self, node: yaml.Node, field_path: str) -> list[tuple[yaml.Node, yaml.Node]] | None:
        if not isinstance(node, yaml.MappingNode):
            self.error(node, field_path, "expected a mapping")
            return None
        return node.value

    def read(self) -> dict[str, Any] | None:
        root = self.compose()
        if root is None:
            if not self.diagnostics:
                self.diagnostics.append(Diagnostic(self.label, "classification file is empty"))
            return None
        pairs = self.mapping(root, "")
        if pairs is None:
            return None
        out: dict[str, Any] = {"source": {}, "codes": {}, "aliases": {}, "groups": {}}
        for key_node, value_node in pairs:
            key = key_node.value
            if key not in _TOP_KEYS:
                self.error(key_node, key, f"unknown key {key!r}", hint=f"expected one of {', '.join(sorted(_TOP_KEYS))}")
            elif key == "source":
                value = _construct(value_node)
                if not isinstance(value, dict):
                    self.error(value_node, "source", "expected a mapping (title, document, applies_from, ...)")
                else:
                    out["source"] = value
            elif key == "codes":
                self._codes(value_node, out["codes"])
            elif key == "aliases":
                self._aliases(value_node, out["aliases"])
            elif key == "groups":
                self._groups(value_node, out["groups"])
        return out

    def _codes(self, node: yaml.Node, out: dict[str, Code]) -> None:
        for key_node, value_node in self.mapping(node, "codes") or []:
            code = self.code_key(key_node, "codes")
            if code is None:
                continue
            where = f"codes.{code}"
            if code in out:
                self.error(key_node, where, f"code {code} is defined twice in this file")
            names: dict[str, str] = {}
            for k, v in self.mapping(value_node, where) or []:
                if k.value not in ("zh", "en"):
                    self.error(k, f"{where}.{k.value}", f"unknown key {k.value!r}", hint="expected zh, en")
                    continue
                text = self.text(v, f"{where}.{k.value}")
                if text is not None:
                    names[k.value] = text
            if isinstance(value_node, yaml.MappingNode) and "zh" not in names:
                self.error(value_node, where, "a code needs its Chinese name (zh)")
                continue
            if "zh" in names:
                out[code] = Code(code, names["zh"], names.get("en", names["zh"]), f"{self.label}:{_line(key_node)}")

    def _aliases(self, node: yaml.Node, out: dict[str, tuple[str, yaml.Node]]) -> None:
        for key_node, value_node in self.mapping(node, "aliases") or []:
            alias = self.code_key(key_node, "aliases")
            if alias is None:
                continue
            target = None
            for k, v in self.mapping(value_node, f"aliases.{alias}") or []:
                if k.value == "code":
                    target = self.code_key(v, f"aliases.{alias}.code")
                elif k.value != "note":
                    self.error(k, f"aliases.{alias}.{k.value}", f"unknown key {k.value!r}", hint="expected code, note")
            if target is not None:
                out[alias] = (target, value_node)

    def _groups(self, node: yaml.Node, out: dict[str, tuple[Group, list[tuple[str, yaml.Node]]]]) -> None:
        for key_node, value_node in self.mapping(node, "groups") or []:
            name = str(key_node.value)
            where = f"groups.{name}"
            fields: dict[str, Any] = {}
            code_nodes: list[tuple[str, yaml.Node]] = []
            editions: list[GroupEdition] = []
            for k, v in self.mapping(value_node, where) or []:
                if k.value not in _GROUP_KEYS:
                    self.error(k, f"{where}.{k.value}", f"unknown key {k.value!r}",
                               hint="expected zh, en, codes, source, editions")
                elif k.value == "editions":
                    editions = self._editions(v, f"{where}.editions", code_nodes)
                elif k.value == "codes":
                    if not isinstance(v, yaml.SequenceNode) or not v.value:
                        self.error(v, f"{where}.codes", "expected a non-empty list of codes")
                        continue
                    for i, item in enumerate(v.value):
                        code = self.code_key(item, f"{where}.codes[{i}]")
                        if code is not None:
                            code_nodes.append((code, item))
                else:
                    text = self.text(v, f"{where}.{k.value}")
                    if text is not None:
                        fields[k.value] = text
            if not isinstance(value_node, yaml.MappingNode):
                continue
            missing = [f for f in ("zh", "codes", "source")
                       if f not in fields and not (f == "codes" and (code_nodes or editions))]
            if missing:
                self.error(value_node, where, f"a group needs {', '.join(missing)}")
                continue
            codes = tuple(dict.fromkeys(c for c, _ in code_nodes)) if not editions else editions[-1].codes
            group = Group(
                name,
                fields["zh"],
                fields.get("en", name),
                codes,
                fields["source"],
                f"{self.label}:{_line(key_node)}",
                tuple(editions),
            )
            out[name] = (group, code_nodes)

    def _editions(self, node: yaml.Node, where: str, code_nodes: list) -> list[GroupEdition]:
        """`editions:` of a dated group: a list of {from: DATE, codes: [...], source: TEXT}, in date order."""
        out: list[GroupEdition] = []
        if not isinstance(node, yaml.SequenceNode) or not node.value:
            self.error(node, where, "expected a non-empty list of editions (from, codes, source)")
            return out
        for i, item in enumerate(node.value):
            at = f"{where}[{i}]"
            fields: dict[str, Any] = {}
            codes: list[str] = []
            for k, v in self.mapping(item, at) or []:
                if k.value not in _EDITION_KEYS:
                    self.error(k, f"{at}.{k.value}", f"unknown key {k.value!r}",
                               hint="expected from, codes, source, text, paraphrase, provenance")
                elif k.value == "from":
                    value = _construct(v)
                    if not isinstance(value, dt.date):
                        self.error(v, f"{at}.from", "expected a date (YYYY-MM-DD)")
                    else:
                        fields["from"] = value
                elif k.value == "codes":
                    if not isinstance(v, yaml.SequenceNode):
                        self.error(v, f"{at}.codes", "expected a list of codes (it may be empty)")
                        continue
                    for j, c in enumerate(v.value):
                        code = self.code_key(c, f"{at}.codes[{j}]")
                        if code is not None:
                            codes.append(code)
                            code_nodes.append((code, c))
                elif k.value == "paraphrase":
                    value = _construct(v)
                    if not isinstance(value, bool):
                        self.error(v, f"{at}.paraphrase", "expected true or false")
                    else:
                        fields["paraphrase"] = value
                else:
                    text = self.text(v, f"{at}.{k.value}")
                    if text is not None and k.value == "provenance" and text not in PROVENANCES:
                        self.error(v, f"{at}.provenance", f"unknown provenance {text!r}",
                                   hint=f"expected one of {', '.join(PROVENANCES)}")
                    elif text is not None:
                        fields[k.value] = text
            if not isinstance(item, yaml.MappingNode):
                continue
            missing = [f for f in ("from", "source") if f not in fields]
            if missing:
                self.error(item, at, f"an edition needs {', '.join(missing)}")
                continue
            if out and fields["from"] <= out[-1].valid_from:
                self.error(item, f"{at}.from", "editions must be in date order")
                continue
            out.append(GroupEdition(fields["from"], tuple(codes), fields["source"], fields.get("provenance", ""),
                                    fields.get("text", ""), fields.get("paraphrase", False)))
        return out


def _read_file(path: Path, label: str) -> dict[str, Any]:
    reader = _Reader(path, label)
    data = reader.read()
    if reader.diagnostics or data is None:
        raise InputError(reader.diagnostics)
    return data


@functools.lru_cache(maxsize=1)
def _default() -> dict[str, Any]:
    return _read_file(DEFAULT_FILE, "rulecheck/data/landuse.yaml")


@functools.lru_cache(maxsize=None)
def _province(path: Path) -> dict[str, Any]:
    return _read_file(path, f"rulecheck/data/provinces/{path.name}")


def province_file(jurisdiction: str | None) -> Path | None:
    """The override file of the jurisdiction's province (first two digits of the administrative code), if shipped."""
    if not jurisdiction:
        return None
    digits = str(jurisdiction).strip()[:2]
    if not (len(digits) == 2 and digits.isdigit()):
        return None
    path = PROVINCE_DIR / f"{digits}.yaml"
    return path if path.is_file() else None


def load_classification(jurisdiction: str | None = None, override: str | Path | None = None) -> Classification:
    """The national classification, overridden by the jurisdiction's province file and then by `override`.

    An override file has the shape of rulecheck/data/landuse.yaml; its codes and groups add to or replace
    the national ones. A file that cannot be read raises InputError located at its file and line.
    """
    layers: list[tuple[dict[str, Any], str]] = [(_default(), "rulecheck/data/landuse.yaml")]
    province = province_file(jurisdiction)
    if province is not None:
        layers.append((_province(province), f"rulecheck/data/provinces/{province.name}"))
    if override is not None:
        # an override is read afresh each time: the user may be editing it between runs
        layers.append((_read_file(Path(override), str(override)), str(override)))

    codes: dict[str, Code] = {}
    aliases: dict[str, str] = {}
    groups: dict[str, Group] = {}
    source: dict[str, Any] = {}
    pending: list[tuple[str, str, yaml.Node | None, str]] = []  # (code, label, node, field) to check at the end
    for data, label in layers:
        codes.update(data["codes"])
        for alias, (target, node) in data["aliases"].items():
            aliases[alias] = target
            pending.append((target, label, node, f"aliases.{alias}.code"))
        for name, (group, code_nodes) in data["groups"].items():
            groups[name] = group
            pending.extend((code, label, node, f"groups.{name}.codes") for code, node in code_nodes)
        if data["source"]:
            source = {**source, **data["source"]} if label.startswith("rulecheck/data/landuse") else {
                **source,
                "overrides": [*source.get("overrides", []), {"file": label, **data["source"]}],
            }

    diagnostics = [
        Diagnostic(label, f"unknown land-use code {code!r}", line=_line(node) if node is not None else None, field=where)
        for code, label, node, where in pending
        if code not in codes
    ]
    if diagnostics:
        raise InputError(diagnostics)
    ordered = dict(sorted(codes.items()))
    return Classification(
        codes=MappingProxyType(ordered),
        groups=MappingProxyType(dict(groups)),
        aliases=MappingProxyType(dict(aliases)),
        source=MappingProxyType(source),
        files=tuple(label for _, label in layers),
    )
