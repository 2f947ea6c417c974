"""The rule catalog (`rulecheck rules list` / `rules show`) as text, Markdown or JSON."""

from __future__ import annotations

import json

from ..vocabulary import SEVERITIES, family_key, family_of, norm_lang
from .common import catalog_basis, catalog_title, family_name, t

CATALOG_FORMATS = ("text", "markdown", "json")


def _sorted(catalog: list[dict]) -> list[dict]:
    return sorted(catalog, key=lambda e: (family_key(e.get("family") or family_of(e.get("id", ""))), e.get("id", "")))


def _cell(value) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def render_catalog(catalog: list[dict], fmt: str = "text", *, lang: str = "zh", params: list[dict] | None = None) -> str:
    """One line (text), one table row (markdown) or one object (json) per rule, in family order.
    With `params` (RuleSet.param_catalog()), markdown and json also list every parameter's dated editions."""
    lang = norm_lang(lang)
    entries = _sorted(catalog)
    if fmt == "json":
        data = entries if params is None else {"rules": entries, "params": params}
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    if fmt == "markdown":
        return "\n".join(_markdown_rules(entries, lang) + (_markdown_params(params, lang) if params else [])) + "\n"
    if fmt != "text":
        raise ValueError(f"unknown catalog format {fmt!r}; known: {', '.join(CATALOG_FORMATS)}")
    return "\n".join(_text_lines(entries, lang)) + "\n"


def _markdown_rules(entries: list[dict], lang: str) -> list[str]:
    head = [t("rule", lang), t("severity", lang), t("title", lang), t("basis", lang), "参数" if lang == "zh" else "parameters"]
    out = ["| " + " | ".join(head) + " |", "|---|---|---|---|---|"]
    for entry in entries:
        severity = entry.get("severity")
        cells = [entry.get("id", ""), t(severity, lang) if severity in SEVERITIES else str(entry.get("severity", "")),
                 catalog_title(entry, lang), catalog_basis(entry), ", ".join(entry.get("params") or [])]
        out.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return out


def _markdown_params(params: list[dict], lang: str) -> list[str]:
    """Every parameter's dated editions, one table row each."""
    zh = lang == "zh"
    out = ["", "## " + ("参数（法定数值，按施行日期分版本）" if zh else "Parameters (legal figures, by date in force)"), ""]
    out.append("| " + " | ".join(["参数", "名称", "施行日期", "数值", "来源", "来源可靠性"] if zh
                                  else ["parameter", "title", "from", "values", "source", "provenance"]) + " |")
    out.append("|---|---|---|---|---|---|")
    for param in params:
        title = param["title"]["zh" if zh else "en"]
        for edition in param["editions"]:
            values = edition["values"]
            shown = "; ".join(f"{k}: {v}" for k, v in values.items()) if isinstance(values, dict) else values
            provenance = edition.get("provenance", "")
            if edition.get("provenance_note"):
                provenance += f"（{edition['provenance_note']}）" if zh else f" ({edition['provenance_note']})"
            out.append("| " + " | ".join(_cell(c) for c in (param["name"], title, edition["from"], shown,
                                                           edition["source"], provenance)) + " |")
    return out


def _text_lines(entries: list[dict], lang: str) -> list[str]:
    """Each family's name, then one line per rule: id, severity, title."""
    width = max((len(e.get("id", "")) for e in entries), default=0)
    out, family = [], None
    for entry in entries:
        this_family = entry.get("family") or family_of(entry.get("id", ""))
        if this_family != family:
            if family is not None:
                out.append("")
            out.append(f"{this_family} {family_name(this_family, lang)}")
            family = this_family
        out.append(f"  {entry.get('id', ''):<{width}}  {entry.get('severity', ''):<7}  {catalog_title(entry, lang)}")
    return out


def render_rule(entry: dict, *, lang: str = "zh") -> str:
    """Everything the catalog knows of one rule, in both languages where it has them."""
    lang = norm_lang(lang)
    title = entry.get("title")
    lines = [f"{entry.get('id', '')}  [{entry.get('severity', '')}]  {catalog_title(entry, lang)}"]
    if isinstance(title, dict):
        for code in ("zh", "en"):
            if title.get(code):
                lines.append(f"  title.{code}: {title[code]}")
    family = entry.get("family") or family_of(entry.get("id", ""))
    lines.append(f"  family: {family} {family_name(family, lang)}")
    if catalog_basis(entry):
        lines.append(f"  {t('basis', lang)}: {catalog_basis(entry)}")
    if entry.get("tags"):
        lines.append(f"  tags: {', '.join(entry['tags'])}")
    if entry.get("params"):
        lines.append(f"  {'参数' if lang == 'zh' else 'parameters'}: {', '.join(entry['params'])}")
    if "waivable" in entry:
        lines.append(f"  waivable: {'yes' if entry['waivable'] else 'no'}")
    source = entry.get("source") or {}
    if source.get("path"):
        lines.append(f"  source: {source['path']}:{source.get('line', '')}".rstrip(":"))
    return "\n".join(lines) + "\n"
