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
        if not part:
            continue
        if part.startswith(DATA_QUALITY):  # a data-quality check: says what it checks, cites nothing here
            if not part[len(DATA_QUALITY):].strip() or _TITLE.search(part):
                problems.append(f"'{part}': a data-quality part names what it checks, and a standard in a part of its own")
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
            named = re.findall(r"§\d+(?:\.\d+)*", tail)
            if sections and (not named or any(m not in sections for m in named)):
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


# a cited text: its title and the marks in （） right after it, e.g. 《土地管理法》（2019年修正） or
# 《工业项目建设用地控制指标》（自然资发〔2023〕72号）
_CITED = re.compile(r"《([^》]+)》((?:（[^（）]*）)*)")


def _as_date(value) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        m = re.fullmatch(r"(\d{4})-(\d{2})(?:-(\d{2}))?", value.strip())
        if m:
            return dt.date(int(m[1]), int(m[2]), int(m[3] or 1))
    return None


@dataclass(frozen=True)
class Commenced:
    """When a cited text (in the version the citation names) commenced, from the register."""
    title: str
    version: str  # the version mark the citation gives ("2019年修正"), or "" for the text as registered
    date: dt.date | None  # None: the register does not know


def commencement(citation: str) -> list[Commenced]:
    """Each text a citation names with the date it commenced: the date of the version named in （） after the title
    (the register's `versions`), else the text's `effective` date, else the date it was adopted. A standard a
    data-quality check follows (`kind: standard`, e.g. OGC Simple Features) is not law and is left out.

    >>> [(c.title, c.version, str(c.date)) for c in commencement("《土地管理法》（2019年修正）第六十三条；《民法典》第三百四十八条")]
    [('土地管理法', '2019年修正', '2020-01-01'), ('民法典', '', '2021-01-01')]
    """
    sources = load_sources()
    out: list[Commenced] = []
    for title, marks in _CITED.findall(citation):
        entry = sources.get(title) or {}
        if entry.get("kind") == "standard":  # a data-quality check follows it; it is not law with a commencement
            continue
        versions = {str(k): v for k, v in (entry.get("versions") or {}).items()}
        version = next((m for m in re.findall(r"（([^（）]*)）", marks) if m in versions), "")
        date = _as_date(versions[version]) if version else _as_date(entry.get("effective") or entry.get("adopted"))
        out.append(Commenced(title, version, date))
    return out


def not_yet_in_force(citation: str, on: dt.date) -> list[Commenced]:
    """The texts a citation names that had not commenced on `on` (or whose commencement the register lacks)."""
    return [c for c in commencement(citation) if c.date is None or c.date > on]
