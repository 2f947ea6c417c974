"""The HTML report: one self-contained, printable page with the conflicts and an inline SVG map of the unit."""

from __future__ import annotations

from html import escape

import shapely
from shapely.geometry import shape

from .common import (
    baseline_line,
    LAND_USE_CLASSES,
    cap,
    catalog_basis,
    family_name,
    group_by_family,
    is_waived,
    localized,
    norm_lang,
    status_marker,
    rule_counts,
    subject_label,
    subject_location,
    summary_line,
    t,
    verdict_of,
    waiver_line,
)

# Fill colours of land-use level-1 classes, after the usual planning-map palette.
LAND_USE_COLOURS = {
    "01": "#f5f0b4", "02": "#d4e8a4", "03": "#6fae5a", "04": "#b9d98b", "05": "#86cbc6", "06": "#e3d6a6",
    "07": "#ffd966", "08": "#f3a6c8", "09": "#ef8a80", "10": "#b89a7c", "11": "#c9a3dc", "12": "#c4c4c4",
    "13": "#6fa8dc", "14": "#93d493", "15": "#a3a3c2", "16": "#f7f7f7", "17": "#9fd4f0", "18": "#b4dcf5",
    "19": "#a9c7e0", "20": "#a9c7e0", "21": "#b4e0f0", "22": "#a9c7e0", "23": "#e6e6e6", "24": "#cfe8f7",
}
UNKNOWN_COLOUR = "#eeeeee"
CONFLICT_COLOUR = "#d7191c"
MAP_WIDTH_PX = 760

CSS = """
:root { --error: #c0392b; --warning: #b9770e; --info: #2471a3; --muted: #666; }
* { box-sizing: border-box; }
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", sans-serif;
       margin: 2em auto; max-width: 60em; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.5em; margin-bottom: .2em; } h2 { font-size: 1.25em; border-bottom: 2px solid #444; }
table { border-collapse: collapse; margin: .5em 0; } th, td { border: 1px solid #bbb; padding: .25em .6em;
  text-align: left; vertical-align: top; } th { background: #f2f2f2; }
.verdict { font-size: 1.15em; font-weight: bold; padding: .4em .8em; display: inline-block; border-radius: 4px; }
.verdict.passed { background: #e3f4e3; color: #1e7b1e; } .verdict.failed { background: #fbe3e1; color: var(--error); }
.verdict.undecided, .verdict.incomplete { background: #fdf3d8; color: #7a5a00; }
.conflict { border: 1px solid #ccc; border-left: 6px solid var(--error); padding: .5em .8em; margin: .7em 0;
  break-inside: avoid; page-break-inside: avoid; }
.conflict.warning { border-left-color: var(--warning); } .conflict.info { border-left-color: var(--info); }
.conflict.waived { border-left-color: #999; background: #f7f7f7; }
.conflict h3 { font-size: 1em; margin: 0 0 .3em 0; }
.num { display: inline-block; min-width: 1.7em; text-align: center; background: #d7191c; color: #fff;
  border-radius: 1em; padding: 0 .35em; margin-right: .3em; }
.sev { font-weight: bold; } .sev.error { color: var(--error); } .sev.warning { color: var(--warning); }
.sev.info { color: var(--info); } .rule { font-family: monospace; font-weight: bold; }
.basis, .loc, .muted { color: var(--muted); font-size: .92em; } .waiver { color: #1f4e79; }
.explanation { font-family: monospace; font-size: .9em; margin: .2em 0 .2em 1em; padding: 0; list-style: none; }
.map svg { width: 100%; max-width: MAPWIDTHpx; height: auto; border: 1px solid #999; background: #fff; }
.legend { font-size: .85em; } .legend span.swatch { display: inline-block; width: 1.1em; height: .8em;
  border: 1px solid #777; margin: 0 .3em 0 .8em; vertical-align: middle; }
.signature { margin-top: 3em; font-size: 1.05em; display: flex; gap: 4em; break-inside: avoid; }
@page { size: A4; margin: 16mm 14mm; }
@media print {
  body { margin: 0; max-width: none; font-size: 10.5pt; }
  section.family { break-before: page; page-break-before: always; }
  .map { break-inside: avoid; page-break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
""".replace("MAPWIDTH", str(MAP_WIDTH_PX))


def render(record: dict, *, lang: str) -> str:
    lang = norm_lang(lang)
    submission = record.get("submission") or {}
    summary = record.get("summary") or {}
    rules_info = record.get("rules") or {}
    tool = record.get("tool") or {}
    conflicts = record.get("conflicts") or []
    e = escape
    title = t("report_title", lang)
    subtitle = submission.get("title") or submission.get("id") or ""

    out = [
        "<!DOCTYPE html>",
        f'<html lang="{"zh-CN" if lang == "zh" else "en"}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(title)} - {e(str(subtitle))}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{e(title)}</h1>",
        f'<p class="muted">{e(str(subtitle))}</p>',
        "<table class=\"meta\">",
    ]
    for label, value in (
        (t("submission", lang), submission.get("id", "")),
        (t("as_of", lang), submission.get("as_of", "")),
        (t("crs", lang), submission.get("crs", "")),
        (t("rule_packs", lang), ", ".join(rules_info.get("packs") or [])),
        ("sha256", rules_info.get("sha256", "")),
        (t("tool", lang), f"{tool.get('name', 'rulecheck')} {tool.get('version', '')}".strip()),
    ):
        out.append(f"<tr><th>{e(label)}</th><td>{e(str(value))}</td></tr>")
    out.append("</table>")

    out.append(f"<h2>{e(t('summary', lang))}</h2>")
    out.append(f'<p><span class="verdict {verdict_of(record)}">{e(summary_line(record, lang))}</span></p>')
    out.append("<table class=\"summary\"><tr>")
    values = {k: summary.get(k, 0) for k in ("error", "warning", "info", "waived", "indeterminate", "rules_run")}
    values.update(rule_counts(record) or {})
    out.append("".join(f"<th>{e(cap(t('indeterminate_results' if k == 'indeterminate' else k, lang)))}</th>"
                       for k in values))
    out.append("</tr><tr>")
    out.append("".join(f"<td>{e(str(v))}</td>" for v in values.values()))
    out.append("</tr></table>")
    for note in submission.get("notes") or []:
        out.append(f'<p class="muted">{e(t("note", lang))}: {e(str(note))}</p>')

    svg = map_svg(record, lang)
    if svg:
        out.append(f'<section class="map"><h2>{e(t("map", lang))}</h2>{svg}{_legend(record, lang)}</section>')

    catalog = {entry.get("id"): entry for entry in rules_info.get("catalog") or []}
    for family, numbered in group_by_family(conflicts):
        out.append(f'<section class="family" id="family-{e(family)}">')
        out.append(f"<h2>{e(family)} {e(family_name(family, lang))}</h2>")
        for number, conflict in numbered:
            out.append(_conflict_html(number, conflict, catalog.get(conflict.get("rule")), lang))
        out.append("</section>")

    indeterminate = record.get("indeterminate") or []
    if indeterminate:
        out.append(f"<section><h2>{e(t('indeterminate', lang))}</h2><ul>")
        for entry in indeterminate:
            subjects = ", ".join(subject_label(s) for s in entry.get("subjects") or [])
            out.append(f"<li><span class=\"rule\">{e(str(entry.get('rule', '')))}</span> {e(subjects)}: "
                       f"{e(t('missing', lang))} {e(str(entry.get('missing', '')))}</li>")
        out.append("</ul></section>")

    against = baseline_line(record, lang)
    if against:
        out.append(f"<section><h2>{e(t('resolved', lang))}</h2><p>{e(against)}</p><ul>")
        for entry in record.get("resolved") or []:
            subjects = ", ".join(subject_label(s) for s in entry.get("subjects") or [])
            out.append(f"<li><span class=\"rule\">{e(str(entry.get('rule', '')))}</span> {e(subjects)}: "
                       f"{e(localized(entry, 'message', lang))}</li>")
        out.append("</ul></section>")

    waivers = record.get("waivers") or {}
    notes = [(key, w) for key in ("expired", "refused", "unmatched") for w in waivers.get(key) or []]
    if notes:
        out.append(f"<section><h2>{e(t('waivers', lang))}</h2><ul>")
        label = {"expired": "waiver_expired", "refused": "waiver_refused", "unmatched": "waiver_unmatched"}
        for key, waiver in notes:
            subjects = ", ".join(str(s) for s in waiver.get("subjects") or [])
            out.append(f"<li>{e(str(waiver.get('file', '')))}:{e(str(waiver.get('line', '')))}: {e(t(label[key], lang))}: "
                       f"<span class=\"rule\">{e(str(waiver.get('rule', '')))}</span> {e(subjects)}</li>")
        out.append("</ul></section>")

    out.append('<div class="signature">'
               f'<div>{e(t("reviewer", lang))} ____________________</div>'
               f'<div>{e(t("date", lang))} ____________________</div></div>')
    out.append("</body>\n</html>")
    return "\n".join(out) + "\n"


def _conflict_html(number: int, conflict: dict, entry: dict | None, lang: str) -> str:
    e = escape
    severity = str(conflict.get("severity", "error"))
    waived = is_waived(conflict)
    classes = "conflict " + severity + (" waived" if waived else "")
    sev_text = t(severity, lang) if severity in ("error", "warning", "info") else severity
    parts = [f'<div class="{e(classes)}" id="conflict-{number}">',
             f'<h3><span class="num">{number}</span><span class="sev {e(severity)}">{e(sev_text)}</span> '
             f'<span class="rule">{e(str(conflict.get("rule", "")))}</span> {e(localized(conflict, "title", lang))}'
             + (f' <em>[{e(t("waived", lang))}]</em>' if waived else "")
             + (f' <em class="status">{e(status_marker(conflict, lang).strip())}</em>' if conflict.get("status") else "")
             + "</h3>",
             f"<p>{e(localized(conflict, 'message', lang))}</p>"]
    subjects = conflict.get("subjects") or []
    if subjects:
        items = []
        for subject in subjects:
            where = subject_location(subject)
            items.append(e(subject_label(subject)) + (f' <span class="loc">({e(where)})</span>' if where else ""))
        parts.append(f"<p>{e(cap(t('subjects', lang)))}: {', '.join(items)}</p>")
    if conflict.get("expected") not in (None, "") or conflict.get("actual") not in (None, ""):
        parts.append(f"<table><tr><th>{e(cap(t('expected', lang)))}</th><td>{e(str(conflict.get('expected') or ''))}</td>"
                     f"<th>{e(cap(t('actual', lang)))}</th><td>{e(str(conflict.get('actual') or ''))}</td></tr></table>")
    basis = conflict.get("basis") or (catalog_basis(entry) if entry else "")
    if basis:
        parts.append(f'<p class="basis">{e(cap(t("basis", lang)))}: {e(str(basis))}</p>')
    explanation = conflict.get("explanation") or []
    if explanation:
        parts.append(f'<p class="muted">{e(cap(t("explanation", lang)))}:</p><ul class="explanation">')
        parts += [f"<li>{e(str(step.get('expr', '')))} = {e(str(step.get('value', '')))}</li>" for step in explanation]
        parts.append("</ul>")
    if waived:
        parts.append(f'<p class="waiver">{e(waiver_line(conflict["waiver"], lang))}</p>')
    parts.append("</div>")
    return "\n".join(parts)


# ---- the map ------------------------------------------------------------------------------------


def _geom(value):
    """A shapely geometry from a GeoJSON dict (None when absent or unreadable)."""
    if not value:
        return None
    try:
        geometry = shape(value)
    except Exception:  # a broken geometry in a report must not stop the report; it is simply not drawn
        return None
    return None if geometry.is_empty else geometry


def map_svg(record: dict, lang: str) -> str:
    """An inline SVG of unit, parcels, rights and conflict geometries; "" when there is nothing to draw."""
    layers = record.get("layers") or {}
    unit = _geom(layers.get("unit"))
    parcels = [(p, _geom(p.get("geometry"))) for p in layers.get("parcels") or []]
    rights = [(r, _geom(r.get("geometry"))) for r in layers.get("rights") or []]
    conflicts = [(n, c, _geom(c.get("geometry"))) for n, c in enumerate(record.get("conflicts") or [], start=1)]
    everything = [g for g in [unit, *(g for _, g in parcels), *(g for _, g in rights), *(g for _, _, g in conflicts)] if g]
    if not everything:
        return ""
    minx, miny, maxx, maxy = shapely.GeometryCollection(everything).bounds
    extent = max(maxx - minx, maxy - miny, 1.0)
    pad = extent * 0.03
    width, height = (maxx - minx) + 2 * pad, (maxy - miny) + 2 * pad
    font = extent / 45

    def xy(x: float, y: float) -> str:
        # SVG's y axis points down: flip, and translate so the numbers stay small (GK eastings are ~10^7 m)
        return f"{x - minx + pad:.2f} {maxy - y + pad:.2f}"

    e = escape
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.2f} {height:.2f}" '
           f'width="{MAP_WIDTH_PX}" height="{MAP_WIDTH_PX * height / width:.0f}" role="img" '
           f'aria-label="{e(t("map", lang))}">',
           f'<rect x="0" y="0" width="{width:.2f}" height="{height:.2f}" fill="#ffffff"/>']
    out.append('<g class="parcels">')
    for parcel, geometry in parcels:
        if geometry is None:
            continue
        land_use = str(parcel.get("land_use") or "")
        colour = LAND_USE_COLOURS.get(land_use[:2], UNKNOWN_COLOUR)
        out.append(f'<path d="{_path(geometry, xy)}" fill="{colour}" fill-opacity="0.6" fill-rule="evenodd" stroke="#888" '
                   f'stroke-width="0.6" vector-effect="non-scaling-stroke">'
                   f"<title>{e(str(parcel.get('id', '')))} {e(land_use)}</title></path>")
    out.append("</g>")
    out.append('<g class="rights">')
    for right, geometry in rights:
        if geometry is None:
            continue
        out.append(f'<path d="{_path(geometry, xy)}" fill="none" stroke="#1f4e79" stroke-width="1.4" '
                   f'stroke-dasharray="6 3" vector-effect="non-scaling-stroke">'
                   f"<title>{e(str(right.get('id', '')))} {e(str(right.get('kind', '')))}</title></path>")
    out.append("</g>")
    if unit is not None:
        out.append(f'<path class="unit" d="{_path(unit, xy)}" fill="none" stroke="#000" stroke-width="2.5" '
                   f'vector-effect="non-scaling-stroke"/>')
    out.append('<g class="conflicts">')
    labels = []
    for number, conflict, geometry in conflicts:
        if geometry is None:
            continue
        opacity = "0.25" if is_waived(conflict) else "0.45"
        dash = ' stroke-dasharray="4 3"' if is_waived(conflict) else ""
        rule = str(conflict.get("rule", ""))
        if geometry.geom_type in ("Point", "MultiPoint"):
            for point in getattr(geometry, "geoms", [geometry]):
                x, y = xy(point.x, point.y).split()
                out.append(f'<circle cx="{x}" cy="{y}" r="{font * 0.6:.2f}" fill="{CONFLICT_COLOUR}" '
                           f'fill-opacity="{opacity}" stroke="{CONFLICT_COLOUR}" stroke-width="2.5" '
                           f'vector-effect="non-scaling-stroke"{dash}><title>{number}. {e(rule)}</title></circle>')
        else:
            fill = CONFLICT_COLOUR if geometry.geom_type in ("Polygon", "MultiPolygon", "GeometryCollection") else "none"
            # a white halo under the red outline keeps a conflict visible on any land-use colour
            out.append(f'<path d="{_path(geometry, xy)}" fill="none" stroke="#fff" stroke-width="5" '
                       f'vector-effect="non-scaling-stroke"/>')
            out.append(f'<path d="{_path(geometry, xy)}" fill="{fill}" fill-opacity="{opacity}" fill-rule="evenodd" '
                       f'stroke="{CONFLICT_COLOUR}" stroke-width="2.5" vector-effect="non-scaling-stroke"{dash}>'
                       f"<title>{number}. {e(rule)}</title></path>")
        anchor = _label_point(geometry)
        x, y = xy(anchor.x, anchor.y).split()
        # offset up and right of the anchor so the label does not hide a small conflict
        x, y = f"{float(x) + font * 0.7:.2f}", f"{float(y) - font * 0.7:.2f}"
        labels.append(f'<text x="{x}" y="{y}" font-size="{font:.2f}" text-anchor="start" '
                      f'fill="{CONFLICT_COLOUR}" stroke="#fff" stroke-width="{font / 5:.2f}" paint-order="stroke" '
                      f'font-weight="bold" font-family="sans-serif">{number} {e(rule)}</text>')
    out.append("</g>")
    out.append('<g class="labels">' + "".join(labels) + "</g>")
    out.append("</svg>")
    return "\n".join(out)


def _label_point(geometry):
    if geometry.geom_type in ("LineString", "MultiLineString", "LinearRing"):
        return geometry.interpolate(0.5, normalized=True)
    return geometry.point_on_surface()


def _path(geometry, xy) -> str:
    """SVG path data of a geometry: rings closed with Z, lines open; points are drawn elsewhere."""
    kind = geometry.geom_type
    if kind == "Polygon":
        rings = [geometry.exterior, *geometry.interiors]
        return " ".join("M " + " L ".join(xy(x, y) for x, y in ring.coords[:-1]) + " Z" for ring in rings)
    if kind in ("LineString", "LinearRing"):
        return "M " + " L ".join(xy(x, y) for x, y in geometry.coords)
    if kind in ("MultiPolygon", "MultiLineString", "GeometryCollection"):
        return " ".join(p for p in (_path(part, xy) for part in geometry.geoms) if p)
    return ""


def _legend(record: dict, lang: str) -> str:
    layers = record.get("layers") or {}
    classes = sorted({str(p.get("land_use") or "")[:2] for p in layers.get("parcels") or []} - {""})
    e = escape
    items = [f'<strong>{e(t("legend", lang))}</strong>']
    for code in classes:
        name = LAND_USE_CLASSES.get(code, {}).get(lang, code)
        items.append(f'<span class="swatch" style="background:{LAND_USE_COLOURS.get(code, UNKNOWN_COLOUR)};opacity:.6"></span>'
                     f"{e(code)} {e(name)}")
    items.append(f'<span class="swatch" style="background:#fff;border:2px solid #000"></span>{e(t("unit_boundary", lang))}')
    items.append(f'<span class="swatch" style="background:#fff;border:2px dashed #1f4e79"></span>{e(t("rights_layer", lang))}')
    items.append(f'<span class="swatch" style="background:{CONFLICT_COLOUR};opacity:.6"></span>{e(t("conflict_layer", lang))}')
    return '<p class="legend">' + " ".join(items) + "</p>"
