"""The register of texts rules may cite (rulecheck/data/sources.yaml), and the check of a basis against it."""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

SOURCES_FILE = Path(__file__).resolve().parent / "data" / "sources.yaml"

_TITLE = re.compile(r"《([^》]+)》")
_NUM = "〇一二三四五六七八九十百零两"
# where in a text: an article, paragraph or item (第十二条, 第四款, 第七项), a section of the method (§3.1.3), a
# numbered part of a policy document (二（四）) or an annex (附件1)
_LOCATOR = re.compile(
    rf"第[{_NUM}\d]+[条款项]|§\d+(?:\.\d+)*|[{_NUM}]+（[{_NUM}]+）|附件\s*\d+"
)
UNKNOWN_DOCUMENT = "配置规划编制指南"  # cited by earlier packs; no such document exists
# a check no law or method text speaks to (geometry validity, an area tolerance, id uniqueness, references): its
# basis says so in a part of its own, "数据质量检查：<what is checked>（…）", and cites a standard, where one is
# followed, in another part (e.g. OGC Simple Features)
DATA_QUALITY = "数据质量检查："


@dataclass(frozen=True)
class Quotation:
    document: str
    article: str
    text: str
    provenance: str


@functools.lru_cache(maxsize=1)
def load_sources(path: str | None = None) -> dict[str, dict]:
    """The register: document title (as written inside 《》) -> its entry (issuer, number, dates, quotations)."""
    data = yaml.safe_load(Path(path or SOURCES_FILE).read_text(encoding="utf-8"))
    return dict(data["documents"])


def quotations(title: str) -> list[Quotation]:
    entry = load_sources().get(title) or {}
    return [Quotation(title, q["article"], q["text"], q.get("provenance", "")) for q in entry.get("quotations") or []]


def check_basis(citation: str, text: str = "", paraphrase: bool = False) -> list[str]:
    """Every problem with a basis: an unknown document, a part of the citation without article or section, a
    quotation that is not the registered words of a cited document. An empty list means the basis is sound.

    >>> check_basis("《城乡规划法》第三十八条", "未确定规划条件的地块，不得出让国有土地使用权")
    []
    >>> check_basis("《城乡规划法》第三十八条", "出让地块的位置、面积等规划条件")
    ["the quotation '出让地块的位置、面积等规划条件' is not the words of 《城乡规划法》 in rulecheck/data/sources.yaml (mark it paraphrase?)"]
    >>> check_basis("《自然资源资产配置规划编制指南》", "…", paraphrase=True)[0]
    '《自然资源资产配置规划编制指南》 is not a known document'
    """
    problems: list[str] = []
    if not citation.strip():
        return ["the basis names no text"]
    sources = load_sources()
    cited: list[str] = []
    for part in re.split(r"[；;]", citation):
        part = part.strip()
        if part:
            _check_part(part, sources, cited, problems)
    if text and not paraphrase and cited:
        problems += _quotation_problems(text, cited)
    return problems


def _check_part(part: str, sources: dict, cited: list[str], problems: list[str]) -> None:
    """One part of a citation (between ；): its documents known (each added to `cited`), its article or section."""
    if part.startswith(DATA_QUALITY):  # a data-quality check: says what it checks, cites nothing here
        if not part[len(DATA_QUALITY):].strip() or _TITLE.search(part):
            problems.append(f"'{part}': a data-quality part names what it checks, and a standard in a part of its own")
        return
    titles = _TITLE.findall(part)
    if not titles:
        problems.append(f"'{part}' names no document in 《》")
        return
    for title in titles:
        if UNKNOWN_DOCUMENT in title or title not in sources:
            problems.append(f"《{title}》 is not a known document")
        else:
            cited.append(title)
    tail = part.split("》")[-1]
    # a text whose article is not yet known may be cited with "（条款待核）" when the register allows it
    pending = "条款待核" in tail and all((sources.get(t) or {}).get("locator_unverified") for t in titles)
    if not _LOCATOR.search(tail) and not pending:
        problems.append(f"'{part}' gives no article or section")
    for title in titles:
        sections = (sources.get(title) or {}).get("sections")
        named = re.findall(r"§\d+(?:\.\d+)*", tail)
        if sections and (not named or any(m not in sections for m in named)):
            problems.append(f"'{part}' names no section of 《{title}》 ({', '.join(sections)})")


def _quotation_problems(text: str, cited: list[str]) -> list[str]:
    """Each fragment of a quotation (between ……) that is not the registered words of a cited document."""
    problems = []
    words = [q.text for title in cited for q in quotations(title)]
    for fragment in re.split(r"……|…", text):
        fragment = fragment.strip().rstrip("。；")
        if fragment and not any(fragment in w for w in words):
            names = "、".join(f"《{t}》" for t in dict.fromkeys(cited))
            problems.append(f"the quotation '{fragment}' is not the words of {names} in rulecheck/data/sources.yaml"
                            " (mark it paraphrase?)")
    return problems


# a cited text: its title and the marks in （） right after it, e.g. 《土地管理法》（2019年修正） or
# 《工业项目建设用地控制指标》（自然资发〔2023〕72号）
_CITED = re.compile(r"《([^》]+)》((?:（[^（）]*）)*)")
# "2019年修正自2020-01-01起施行", "1998年修订，1999-01-01施行": a version and the day it took effect, as a register
# without `versions` states them in its notes and article labels
_VERSION_IN_FORCE = re.compile(r"(\d{4})年(?:修正|修订)[，,、\s]*自?\s*(\d{4}-\d{1,2}-\d{1,2})\s*起?施行")
_YEAR_MARK = re.compile(r"^(\d{4})年")


def _as_date(value) -> dt.date | None:
    """A register date: a YAML date, or text `YYYY-MM-DD` / `YYYY-MM` (the first of the month)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        m = re.fullmatch(r"(\d{4})-(\d{1,2})(?:-(\d{1,2}))?", value.strip())
        if m:
            try:
                return dt.date(int(m[1]), int(m[2]), int(m[3] or 1))
            except ValueError:
                return None
    return None


@dataclass(frozen=True)
class Commenced:
    """When a cited text (in the version the citation names) commenced, from the register."""
    title: str
    version: str  # the version mark the citation gives ("2019年修正"), or "" for the text as registered
    date: dt.date | None  # None: the register does not know


def _texts(node):
    """Every string in a register entry (its note, its quotations' article labels...)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _texts(value)
    elif isinstance(node, list):
        for value in node:
            yield from _texts(value)


def _version_date(entry: dict, marks: list[str], start: dt.date | None) -> tuple[str, dt.date | None] | None:
    """A version named by a year mark (（2019年修正）, （2002年）) that the register's `versions` does not list: the day
    its note or an article label says it took effect, else the amendment's own date (`amended`), else the text's."""
    for mark in marks:
        m = _YEAR_MARK.match(mark)
        if not m:
            continue
        year = int(m[1])
        for text in _texts(entry):
            for found in _VERSION_IN_FORCE.finditer(text):
                if int(found[1]) == year and _as_date(found[2]) is not None:
                    return mark, _as_date(found[2])
        amended = [d for d in map(_as_date, entry.get("amended") or []) if d is not None and d.year == year]
        if amended:
            return mark, max(amended)
        return mark, start  # the text as first enacted (《农村土地承包法》（2002年）)
    return None


def commencement(citation: str) -> list[Commenced]:
    """Each text a citation names with the date it commenced: the date of the version named in （） after the title
    (the register's `versions`; for a year mark it does not list, the date its notes give, else the amendment's),
    else the text's `effective` date, else the date it was adopted. A standard a data-quality check follows
    (`kind: standard`, e.g. OGC Simple Features) is not law and is left out.

    >>> [(c.title, c.version, str(c.date)) for c in commencement("《土地管理法》（2019年修正）第六十三条；《民法典》第三百四十八条")]
    [('土地管理法', '2019年修正', '2020-01-01'), ('民法典', '', '2021-01-01')]
    """
    sources = load_sources()
    out: list[Commenced] = []
    for title, marks in _CITED.findall(citation or ""):
        entry = sources.get(title) or {}
        if entry.get("kind") == "standard":  # a data-quality check follows it; it is not law with a commencement
            continue
        versions = {str(k): v for k, v in (entry.get("versions") or {}).items()}
        named = re.findall(r"（([^（）]*)）", marks)
        version = next((m for m in named if m in versions), "")
        start = _as_date(entry.get("effective") or entry.get("adopted"))
        if version:
            out.append(Commenced(title, version, _as_date(versions[version])))
            continue
        by_year = _version_date(entry, named, start) if entry else None
        out.append(Commenced(title, *by_year) if by_year else Commenced(title, "", start))
    return out


def not_yet_in_force(citation: str, on: dt.date) -> list[Commenced]:
    """The texts a citation names that had not commenced on `on` (or whose commencement the register lacks)."""
    return [c for c in commencement(citation) if c.date is None or c.date > on]


def earliest_commencement(params=(), groups=()) -> tuple[dt.date, str] | None:
    """The earliest day any law the rules can rest on took effect: the earliest text (or version) of the register,
    the earliest edition of a dated parameter or land-use group. An `as_of` before it has no law to check against.
    `params`, `groups`: objects with a `name` and `editions`, each edition with a `valid_from`."""
    found: list[tuple[dt.date, str]] = []
    for title, entry in load_sources().items():
        if not isinstance(entry, dict) or entry.get("kind") == "standard":  # a standard is not law
            continue
        days = [_as_date(entry.get("effective") or entry.get("adopted"))]
        days += [_as_date(v) for v in (entry.get("versions") or {}).values()]
        found += [(day, f"《{title}》") for day in days if day is not None]
    for kind, items in (("parameter", params), ("land-use group", groups)):
        for item in items:
            for edition in getattr(item, "editions", None) or ():
                day = getattr(edition, "valid_from", None)
                if isinstance(day, dt.date):
                    found.append((day, f"the first edition of {kind} {item.name}"))
    return min(found, key=lambda item: item[0]) if found else None
