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
        if not part:
            continue
        titles = _TITLE.findall(part)
        if not titles:
            problems.append(f"'{part}' names no document in 《》")
            continue
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
            if sections and not any(sec == m for m in re.findall(r"§\d+(?:\.\d+)*", tail) for sec in sections):
                problems.append(f"'{part}' names no section of 《{title}》 ({', '.join(sections)})")
    if text and not paraphrase and cited:
        words = [q.text for title in cited for q in quotations(title)]
        for fragment in re.split(r"……|…", text):
            fragment = fragment.strip().rstrip("。；")
            if fragment and not any(fragment in w for w in words):
                names = "、".join(f"《{t}》" for t in dict.fromkeys(cited))
                problems.append(f"the quotation '{fragment}' is not the words of {names} in rulecheck/data/sources.yaml"
                                " (mark it paraphrase?)")
    return problems


# ---- when a cited text commenced (施行日期) -------------------------------------------------------------

_PARTIAL_DATE = re.compile(r"^\s*(\d{4})-(\d{1,2})(?:-(\d{1,2}))?\s*$")
# "2019年修正自2020-01-01起施行", "1998年修订，1999-01-01施行": an amendment and the day it took effect, as the
# register's notes and article labels state them
_AMENDMENT_IN_FORCE = re.compile(r"(\d{4})年(?:修正|修订)[，,、\s]*自?\s*(\d{4}-\d{1,2}-\d{1,2})\s*起?施行")
# the edition a citation names right after the title: 《土地管理法》（2019年修正）, 《农村土地承包法》（2002年）
_EDITION_YEAR = re.compile(r"^（(\d{4})年(?:修正|修订|版)?[^）]*）")


def _as_date(value) -> dt.date | None:
    """A register date: a YAML date, or text `YYYY-MM-DD` / `YYYY-MM` (the first of the month)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int) and 1000 <= value <= 9999:
        return dt.date(value, 1, 1)
    if isinstance(value, str):
        m = _PARTIAL_DATE.match(value)
        if m:
            try:
                return dt.date(int(m[1]), int(m[2]), int(m[3] or 1))
            except ValueError:
                return None
    return None


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


def commenced(title: str, edition_year: int | None = None) -> dt.date | None:
    """The day the registered text `title` took effect: its `effective` date, or where the register gives none its
    `adopted` date (it cannot have been in force earlier). With `edition_year` (a citation naming 《…》（2019年修正）),
    the day that amendment took effect where the register states it ("2019年修正自2020-01-01起施行"), else the
    amendment's own date from `amended`. None for a text the register does not have."""
    entry = load_sources().get(title)
    if not isinstance(entry, dict):
        return None
    start = _as_date(entry.get("effective")) or _as_date(entry.get("adopted"))
    if edition_year is None:
        return start
    for text in _texts(entry):
        for m in _AMENDMENT_IN_FORCE.finditer(text):
            if int(m[1]) == edition_year:
                found = _as_date(m[2])
                if found is not None:
                    return found
    amended = [d for d in map(_as_date, entry.get("amended") or []) if d is not None and d.year == edition_year]
    if amended:
        return max(amended)
    return start  # the text as first enacted (《农村土地承包法》（2002年）), or an amendment the register does not list


def cited_texts(citation: str) -> list[tuple[str, dt.date]]:
    """The registered texts a basis cites, each with the day the cited edition took effect (texts the register
    does not have are left out: nothing is known of them)."""
    out = []
    for part in re.split(r"[；;]", citation or ""):
        pieces = part.split("《")
        for piece in pieces[1:]:
            if "》" not in piece:
                continue
            title, tail = piece.split("》", 1)
            m = _EDITION_YEAR.match(tail.strip())
            day = commenced(title, int(m[1]) if m else None)
            if day is not None:
                label = f"《{title}》" + (m[0] if m else "")
                out.append((label, day))
    return out


def not_yet_in_force(citation: str, as_of: dt.date) -> tuple[str, dt.date] | None:
    """The text (as cited) that a basis names and that had not taken effect on `as_of`, the latest such, or None."""
    late = [(label, day) for label, day in cited_texts(citation) if day > as_of]
    return max(late, key=lambda item: item[1]) if late else None


def earliest_commencement(params=(), groups=()) -> tuple[dt.date, str] | None:
    """The earliest day any law the rules can rest on took effect: the earliest text of the register
    (sources.yaml), the earliest edition of a dated parameter or land-use group. An `as_of` before it has no
    law to check against. `params`: CompiledParam-like (`name`, `editions` with `valid_from`); `groups` likewise."""
    found: list[tuple[dt.date, str]] = []
    for title in load_sources():
        day = commenced(title)
        if day is not None:
            found.append((day, f"《{title}》"))
    for kind, items in (("parameter", params), ("land-use group", groups)):
        for item in items:
            for edition in getattr(item, "editions", None) or ():
                day = getattr(edition, "valid_from", None)
                if isinstance(day, dt.date):
                    found.append((day, f"the first edition of {kind} {item.name}"))
    return min(found, key=lambda item: item[0]) if found else None
