"""The register of texts rules may cite (rulecheck/data/sources.yaml), and the check of a basis against it."""

from __future__ import annotations

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
