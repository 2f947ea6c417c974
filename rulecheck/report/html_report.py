"""The HTML report: one self-contained, printable page with the conflicts and an inline SVG map of the unit."""

from __future__ import annotations

import functools
from html import escape

import jinja2
import shapely
from markupsafe import Markup
from shapely.geometry import shape

from ..vocabulary import SEVERITIES, STAGES, VERDICTS, land_use_classes
from .common import (
    baseline_line,
    cap,
    counted,
    is_waived,
    county_lines,
    family_name,
    from_working_folder,
    group_by_family,
    norm_lang,
    reprojection_line,
    settings_line,
    status_marker,
    summary_line,
    t,
    waiver_line,
    warning_lines,
)
from .record import CatalogEntry, Conflict, Report

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
body { font-family: FONTS;
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
.map svg text, svg.inset text { font-family: FONTS; }
.inset-map svg { border: 1px solid #999; background: #fff; max-width: 100%; height: auto; }
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
# CJK fonts as Linux (Noto/Source Han, WenQuanYi), Windows (YaHei, SimHei) and macOS (PingFang, Hiragino) name them
FONTS = ('"Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN", "WenQuanYi Micro Hei", '
         '"WenQuanYi Zen Hei", "微软雅黑", "Microsoft YaHei", "SimHei", "PingFang SC", "Hiragino Sans GB", "Heiti SC", sans-serif')
CSS = CSS.replace("FONTS", FONTS)


@functools.lru_cache(maxsize=1)
def _template() -> jinja2.Template:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("rulecheck.report", "templates"),
        autoescape=True,  # every value from the record is escaped; the SVG and CSS come in as Markup
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return environment.get_template("report.html.j2")


_LABELS = ("summary", "note", "map", "waived", "subjects", "expected", "actual", "basis", "explanation",
           "indeterminate", "missing", "resolved", "waivers", "reviewer", "date")
_CAPITALISED = {"subjects", "expected", "actual", "basis", "explanation"}


_WAIVER_NOTES = {"expired": "waiver_expired", "refused": "waiver_refused", "unmatched": "waiver_unmatched"}
_COUNTED = ("error", "warning", "info", "waived", "indeterminate", "rules_run")


def render(record: dict | Report, *, lang: str) -> str:
    lang = norm_lang(lang)
    if isinstance(record, Report):
        record = dict(record.raw)
    record = from_working_folder(record)  # locations from where rulecheck ran
    report = Report.of(record)
    layers = MapLayers(record)  # the map is drawn from the record's layers and the conflicts' geometries
    svg = map_svg(record, lang, layers)
    context = {
        "html_lang": "zh-CN" if lang == "zh" else "en",
        "title": t("report_title", lang),
        "subtitle": str(report.submission.title or report.submission.id or ""),
        "css": Markup(CSS),
        "s": {key: cap(t(key, lang)) if key in _CAPITALISED else t(key, lang) for key in _LABELS},
        "meta": _meta(report, lang),
        "verdict": report.verdict,
        "summary_line": summary_line(report, lang),
        "settings_line": settings_line(report, lang),
        "reprojected": reprojection_line(report, lang),
        "warnings": warning_lines(report),
        "counts": _counts(report, lang),
        "notes": [str(note) for note in report.submission.notes],
        "map": Markup(svg),  # built from escaped parts in map_svg
        "legend": Markup(_legend(record, lang)),
        "map_note": layers.note,
        "families": _families(report, layers, bool(svg), lang),
        "indeterminate": [{"rule": str(entry.rule), "subjects": ", ".join(s.label for s in entry.subjects),
                           "missing": "" if entry.missing is None else str(entry.missing)}
                          for entry in report.indeterminate],
        "baseline": baseline_line(report, lang),
        "resolved": [{"rule": str(entry.rule), "subjects": entry.subjects_line,
                      "message": entry.localized("message", lang)} for entry in report.resolved],
        "waiver_notes": [{"file": str(w.file), "line": str(w.line), "text": t(label, lang), "rule": str(w.rule),
                          "subjects": ", ".join(str(s) for s in w.subjects)}
                         for key, label in _WAIVER_NOTES.items() for w in report.waiver_notes.get(key, ())],
        "county": _county_view(report, lang),
    }
    return _template().render(**context)


def _meta(report: Report, lang: str) -> list[tuple[str, object]]:
    submission = report.submission
    stage = t(f"stage_{submission.stage}", lang) if submission.stage in STAGES else ""
    return [
        (t("submission", lang), submission.id),
        (t("as_of", lang), submission.as_of),
        (t("stage", lang), stage),
        (t("crs", lang), submission.crs),
        (t("rule_packs", lang), ", ".join(report.rules.packs)),
        ("sha256", report.rules.sha256),
        (t("tool", lang), f"{report.tool_name} {report.tool_version}".strip()),
    ]


def _counts(report: Report, lang: str) -> list[tuple[str, object]]:
    summary = report.summary.raw
    counts = {key: summary.get(key, 0) for key in _COUNTED}
    counts.update(report.rule_counts() or {})
    return [(cap(t("indeterminate_results" if key == "indeterminate" else key, lang)), value)
            for key, value in counts.items()]


def _families(report: Report, layers: MapLayers, with_map: bool, lang: str) -> list[dict]:
    """The conflicts by family, each as the template shows it (with its inset map when the report has a map)."""
    catalog = {entry.id: entry for entry in report.rules.catalog}
    return [{"id": family, "name": family_name(family, lang, report),
             "conflicts": [_conflict_view(number, conflict, catalog.get(conflict.rule), lang,
                                          inset_svg(layers, number, conflict.raw, lang) if with_map else "")
                           for number, conflict in numbered]}
            for family, numbered in group_by_family(report.conflicts)]


def _county_view(report: Report, lang: str) -> dict | None:
    """A county report's summary for the template: a verdict per unit and the county's account."""
    lines = county_lines(report, lang)
    if not lines:
        return None
    rows = [{"unit": str(row.unit), "manifest": str(row.manifest), "verdict": str(row.verdict),
             "verdict_text": t(row.verdict, lang) if row.verdict in VERDICTS else str(row.verdict),
             "counts": f"{counted('n_error', row.error, lang)}, {counted('n_warning', row.warning, lang)}, "
                       f"{counted('n_indeterminate', row.indeterminate, lang)}"}
            for row in report.county.units]
    return {"title": lines[0], "rows": rows, "account": lines[-1].strip() if report.county.account is not None else ""}


def _conflict_view(number: int, conflict: Conflict, entry: CatalogEntry | None, lang: str, inset: str = "") -> dict:
    """What the template shows of one conflict (plain values; the inset map as Markup)."""
    severity = str(conflict.severity)
    expected, actual = conflict.expected, conflict.actual
    return {
        "number": number,
        "classes": "conflict " + severity + (" waived" if conflict.waived else ""),
        "severity": severity,
        "severity_text": t(severity, lang) if severity in SEVERITIES else severity,
        "rule": str(conflict.rule),
        "title": conflict.localized("title", lang),
        "waived": conflict.waived,
        "status": status_marker(conflict, lang).strip(),
        "message": conflict.localized("message", lang),
        "subjects": [{"label": s.label, "where": s.location} for s in conflict.subjects],
        "show_values": expected not in (None, "") or actual not in (None, ""),
        "expected": str(expected or ""),
        "actual": str(actual or ""),
        "basis": str(conflict.basis or (entry.basis_line if entry else "")),
        "explanation": [(str(step.expr), str(step.value)) for step in conflict.explanation],
        "waiver": waiver_line(conflict.waiver, lang) if conflict.waiver is not None else "",
        "inset": Markup(inset),  # built from escaped parts in inset_svg
    }


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


class MapLayers:
    """The record's layers as shapely geometries, read once per report, with an index for what lies near a place."""

    def __init__(self, record: dict):
        layers = record.get("layers") or {}
        self.unit = _geom(layers.get("unit"))
        self.parcels = [(p, g) for p in layers.get("parcels") or [] if (g := _geom(p.get("geometry"))) is not None]
        self.rights = [(r, g) for r in layers.get("rights") or [] if (g := _geom(r.get("geometry"))) is not None]
        # a county report: every unit with its verdict
        self.units = [(u, g) for u in layers.get("units") or [] if (g := _geom(u.get("geometry"))) is not None]
        self._trees: dict[str, shapely.STRtree] = {}
        self.note = ""  # set by the overview when it draws only the conflicts' neighbourhoods

    def near(self, kind: str, areas) -> list[tuple[dict, object]]:
        """The parcels or rights (`kind`) that touch any of `areas`, in layer order (an STRtree, never all pairs)."""
        items = getattr(self, kind)
        if not items or not areas:
            return []
        tree = self._trees.get(kind)
        if tree is None:
            tree = self._trees[kind] = shapely.STRtree([g for _, g in items])
        hits = tree.query(list(areas), predicate="intersects")[1]
        return [items[i] for i in sorted(set(hits.tolist()))]


class _LabelLayout:
    """Text labels that never overlap: a label goes where it is asked, or is left out when that box is taken
    (boxes kept in a grid of cells, so a county's labels look at their neighbours only)."""

    def __init__(self, cell: float):
        self.cell = max(cell, 1e-6)
        self.grid: dict[tuple[int, int], list[tuple[float, float, float, float]]] = {}

    def take(self, box: tuple[float, float, float, float]) -> bool:
        x0, y0, x1, y1 = box
        cells = [(i, j) for i in range(int(x0 // self.cell), int(x1 // self.cell) + 1)
                 for j in range(int(y0 // self.cell), int(y1 // self.cell) + 1)]
        for key in cells:
            for a0, b0, a1, b1 in self.grid.get(key, ()):
                if x0 < a1 and a0 < x1 and y0 < b1 and b0 < y1:
                    return False
        for key in cells:
            self.grid.setdefault(key, []).append(box)
        return True


def _labels(out: list[str], kind: str, records, xy, size: float, layout: _LabelLayout, shift: float, colour: str) -> None:
    """Each record's id at a point inside it (`shift` font sizes below, so a right's id sits under its parcel's),
    with a white halo; a label that would overlap one already drawn is left out (its record keeps its tooltip)."""
    e = escape
    out.append(f'<g class="{kind}-labels" font-size="{size:.2f}" fill="{colour}" text-anchor="middle" '
               f'stroke="#fff" stroke-width="3" paint-order="stroke" stroke-linejoin="round">')
    for record, geometry in records:
        label = str(record.get("id", ""))
        if not label or geometry is None or geometry.is_empty:
            continue
        point = _label_point(geometry)
        x, y = (float(v) for v in xy(point.x, point.y).split())
        y += shift * size
        half = len(label) * size * 0.32
        box = (x - half, y - size * 0.5, x + half, y + size * 0.5)
        if layout.take(box):
            out.append(f'<text data-id="{e(label)}" x="{x:.2f}" y="{y:.2f}" dominant-baseline="central" '
                       f'vector-effect="non-scaling-stroke">{e(label)}</text>')
    out.append("</g>")


def _base_layers(out: list[str], parcels, rights, unit, xy, label_size: float | None = None) -> None:
    """Parcels filled by land-use class, rights dashed, the unit boundary, and (given `label_size`) the parcels'
    and rights' ids where they do not overlap: what every map of the report shows."""
    e = escape
    out.append('<g class="parcels">')
    for parcel, geometry in parcels:
        land_use = str(parcel.get("land_use") or "")
        colour = LAND_USE_COLOURS.get(land_use[:2], UNKNOWN_COLOUR)
        out.append(f'<path d="{_path(geometry, xy)}" fill="{colour}" fill-opacity="0.6" fill-rule="evenodd" stroke="#888" '
                   f'stroke-width="0.6" vector-effect="non-scaling-stroke">'
                   f"<title>{e(str(parcel.get('id', '')))} {e(land_use)}</title></path>")
    out.append("</g>")
    out.append('<g class="rights">')
    for right, geometry in rights:
        out.append(f'<path d="{_path(geometry, xy)}" fill="none" stroke="#1f4e79" stroke-width="1.4" '
                   f'stroke-dasharray="6 3" vector-effect="non-scaling-stroke">'
                   f"<title>{e(str(right.get('id', '')))} {e(str(right.get('kind', '')))}</title></path>")
    out.append("</g>")
    if unit is not None:
        out.append(f'<path class="unit" d="{_path(unit, xy)}" fill="none" stroke="#000" stroke-width="2.5" '
                   f'vector-effect="non-scaling-stroke"/>')
    if label_size:
        layout = _LabelLayout(label_size * 4)
        _labels(out, "parcel", parcels, xy, label_size, layout, -0.55, "#333")
        _labels(out, "right", rights, xy, label_size, layout, 0.6, "#1f4e79")


# a county map: each unit filled by its verdict
UNIT_VERDICT_COLOURS = {"passed": "#2e8b2e", "incomplete": "#d9a400", "undecided": "#d9a400", "failed": "#c0392b"}

# above this many parcels the overview draws in detail only the conflicts' neighbourhoods (a county is a solid
# mass otherwise, and a heavy page); each conflict's inset map shows its own surroundings
DETAIL_LIMIT = 2000
DETAIL_NOTE = {"zh": "地块较多：总图仅绘出冲突周边的 {shown} / {total} 个地块，各冲突另附局部图",
               "en": "Many parcels: the overview draws {shown} of {total} parcels, those near a conflict; "
                     "each conflict has its own inset map"}


def map_svg(record: dict, lang: str, layers: MapLayers | None = None) -> str:
    """An inline SVG of unit, parcels, rights and conflict geometries; "" when there is nothing to draw."""
    layers = layers or MapLayers(record)
    unit = layers.unit
    parcels, rights = layers.parcels, layers.rights
    conflicts = [(n, c, _geom(c.get("geometry"))) for n, c in enumerate(record.get("conflicts") or [], start=1)]
    everything = [g for g in [unit, *(g for _, g in parcels), *(g for _, g in rights), *(g for _, _, g in conflicts),
                              *(g for _, g in layers.units)] if g]
    if not everything:
        return ""
    minx, miny, maxx, maxy = shapely.GeometryCollection(everything).bounds
    extent = max(maxx - minx, maxy - miny, 1.0)
    pad = extent * 0.03
    width, height = (maxx - minx) + 2 * pad, (maxy - miny) + 2 * pad
    font = extent / 45
    if len(parcels) > DETAIL_LIMIT:
        around = [g.buffer(extent / 60) for _, _, g in conflicts if g is not None]
        total = len(parcels)
        parcels, rights = layers.near("parcels", around), layers.near("rights", around)
        layers.note = DETAIL_NOTE[lang].format(shown=len(parcels), total=total)

    def xy(x: float, y: float) -> str:
        # SVG's y axis points down: flip, and translate so the numbers stay small (GK eastings are ~10^7 m)
        return f"{x - minx + pad:.2f} {maxy - y + pad:.2f}"

    e = escape
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.2f} {height:.2f}" '
           f'width="{MAP_WIDTH_PX}" height="{MAP_WIDTH_PX * height / width:.0f}" role="img" '
           f'aria-label="{e(t("map", lang))}">',
           f'<rect x="0" y="0" width="{width:.2f}" height="{height:.2f}" fill="#ffffff"/>']
    _base_layers(out, parcels, rights, unit, xy, font * 0.55)
    if layers.units:
        out.append('<g class="units">')
        for item, geometry in layers.units:
            verdict = str(item.get("verdict") or "")
            colour = UNIT_VERDICT_COLOURS.get(verdict, UNKNOWN_COLOUR)
            out.append(f'<path class="county-unit {e(verdict)}" d="{_path(geometry, xy)}" fill="{colour}" fill-opacity="0.35" '
                       f'stroke="{colour}" stroke-width="2" vector-effect="non-scaling-stroke">'
                       f"<title>{e(str(item.get('id', '')))} {e(t(verdict, lang) if verdict in ('passed', 'failed', 'incomplete', 'undecided') else verdict)}</title></path>")
        out.append("</g>")
    out.append('<g class="conflicts">')
    radius = font * 0.75
    scale_box, scale_svg = _scale_bar(width, height, pad, font, lang)
    north_box, north_svg = _north_arrow(width, pad, font, lang)
    markers = _MarkerLayout(radius, (0.0, 0.0, width, height), reserved=[scale_box, north_box])
    labels, leaders = [], []
    for number, conflict, geometry in conflicts:
        if geometry is None:
            continue
        rule = str(conflict.get("rule", ""))
        _conflict_shape(out, geometry, xy, font, is_waived(conflict), f"{number}. {rule}")
        anchor = _label_point(geometry)
        ax, ay = (float(v) for v in xy(anchor.x, anchor.y).split())
        # a numbered marker (the list below the map says which rule), moved off its neighbours, never over one
        mx, my = markers.place(ax, ay)
        if (mx - ax) ** 2 + (my - ay) ** 2 > (radius * 1.2) ** 2:  # drawn under every marker, never across one
            leaders.append(f'<line data-number="{number}" x1="{ax:.2f}" y1="{ay:.2f}" x2="{mx:.2f}" y2="{my:.2f}" '
                           f'stroke="{CONFLICT_COLOUR}" stroke-width="1" vector-effect="non-scaling-stroke"/>')
        labels.append(f'<g class="marker" data-number="{number}">'
                      f'<circle cx="{mx:.2f}" cy="{my:.2f}" r="{radius:.2f}" fill="#fff" stroke="{CONFLICT_COLOUR}" '
                      f'stroke-width="2" vector-effect="non-scaling-stroke"/>'
                      f'<text x="{mx:.2f}" y="{my:.2f}" font-size="{font * (0.9 if number < 100 else 0.7):.2f}" '
                      f'text-anchor="middle" dominant-baseline="central" fill="{CONFLICT_COLOUR}" font-weight="bold" '
                      f'font-family="sans-serif">{number}</text><title>{number}. {e(rule)}</title></g>')
    out.append("</g>")
    out.append('<g class="leaders">' + "".join(leaders) + "</g>")
    out.append('<g class="labels">' + "".join(labels) + "</g>")
    out.append(scale_svg)
    out.append(north_svg)
    out.append("</svg>")
    grown = markers.bounds[3]
    if grown > height:  # markers of a crowded map spilled below it: the picture grows to hold them
        out[0] = out[0].replace(f'viewBox="0 0 {width:.2f} {height:.2f}"', f'viewBox="0 0 {width:.2f} {grown:.2f}"') \
                       .replace(f'height="{MAP_WIDTH_PX * height / width:.0f}"', f'height="{MAP_WIDTH_PX * grown / width:.0f}"')
    return "\n".join(out)


def _conflict_shape(out: list[str], geometry, xy, font: float, waived: bool, title: str) -> None:
    """A conflict's geometry in red (dashed when waived), over a white halo so it shows on any land-use colour."""
    e = escape
    opacity = "0.25" if waived else "0.45"
    dash = ' stroke-dasharray="4 3"' if waived else ""
    if geometry.geom_type in ("Point", "MultiPoint"):
        for point in getattr(geometry, "geoms", [geometry]):
            x, y = xy(point.x, point.y).split()
            out.append(f'<circle cx="{x}" cy="{y}" r="{font * 0.6:.2f}" fill="{CONFLICT_COLOUR}" '
                       f'fill-opacity="{opacity}" stroke="{CONFLICT_COLOUR}" stroke-width="2.5" '
                       f'vector-effect="non-scaling-stroke"{dash}><title>{e(title)}</title></circle>')
        return
    # outlined, not filled: the land use beneath stays readable (a white halo keeps the outline visible on any colour)
    out.append(f'<path d="{_path(geometry, xy)}" fill="none" stroke="#fff" stroke-width="5" '
               f'vector-effect="non-scaling-stroke"/>')
    out.append(f'<path class="conflict-outline" d="{_path(geometry, xy)}" fill="none" '
               f'stroke="{CONFLICT_COLOUR}" stroke-width="2.5" vector-effect="non-scaling-stroke"{dash}>'
               f"<title>{e(title)}</title></path>")


INSET_PX = 300


def inset_svg(layers: MapLayers, number: int, conflict: dict, lang: str) -> str:
    """A small map of one conflict and what lies around it (parcels, rights, the unit), with a scale bar."""
    geometry = _geom(conflict.get("geometry"))
    if geometry is None:
        return ""
    minx, miny, maxx, maxy = geometry.bounds
    side = max(maxx - minx, maxy - miny)
    margin = max(side * 0.4, 40.0)
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    half = side / 2 + margin
    box = shapely.box(cx - half, cy - half, cx + half, cy + half)
    x0, y1 = cx - half, cy + half
    size = 2 * half
    font = size / 16

    def xy(x: float, y: float) -> str:
        return f"{x - x0:.2f} {y1 - y:.2f}"

    e = escape
    out = [f'<svg class="inset" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size:.2f} {size:.2f}" '
           f'width="{INSET_PX}" height="{INSET_PX}" role="img" aria-label="{number}. {e(str(conflict.get("rule", "")))}">',
           f'<rect x="0" y="0" width="{size:.2f}" height="{size:.2f}" fill="#ffffff"/>']
    _base_layers(out, layers.near("parcels", [box]), layers.near("rights", [box]), layers.unit, xy, font * 0.5)
    out.append('<g class="conflicts">')
    _conflict_shape(out, geometry, xy, font, is_waived(conflict), f"{number}. {conflict.get('rule', '')}")
    out.append("</g>")
    out.append(_scale_bar(size, size, size * 0.04, font, lang)[1])
    out.append("</svg>")
    return "".join(out)


class _MarkerLayout:
    """Places round markers of one radius so that none overlaps another or a reserved box (scale bar, north arrow).

    Each marker goes to the free spot nearest its anchor among rings of candidates around it; placed markers are
    kept in a grid of cells one marker wide, so a placement looks at its neighbours only (county maps have many)."""

    def __init__(self, radius: float, bounds: tuple[float, float, float, float], reserved=()):
        self.r = radius
        self.gap = radius * 0.15
        self.cell = 2 * radius + self.gap
        self.bounds = bounds
        self.reserved = [box for box in reserved if box]
        self.grid: dict[tuple[int, int], list[tuple[float, float]]] = {}

    def _free(self, x: float, y: float) -> bool:
        minx, miny, maxx, maxy = self.bounds
        if not (minx + self.r <= x <= maxx - self.r and miny + self.r <= y <= maxy - self.r):
            return False
        for bx0, by0, bx1, by1 in self.reserved:
            if bx0 - self.r < x < bx1 + self.r and by0 - self.r < y < by1 + self.r:
                return False
        i, j = int(x // self.cell), int(y // self.cell)
        limit = (2 * self.r + self.gap) ** 2
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                for px, py in self.grid.get((i + di, j + dj), ()):
                    if (px - x) ** 2 + (py - y) ** 2 < limit:
                        return False
        return True

    def place(self, x: float, y: float) -> tuple[float, float]:
        import math

        minx, miny, maxx, maxy = self.bounds
        step = self.cell
        ring = 0
        while True:
            count = 1 if ring == 0 else 8 * ring
            for k in range(count):
                angle = -math.pi / 4 + 2 * math.pi * k / count  # up and right first: the anchor stays visible
                cx = x + ring * step * math.cos(angle)
                cy = y + ring * step * math.sin(angle)
                cx = min(max(cx, minx + self.r), maxx - self.r)
                cy = min(max(cy, miny + self.r), maxy - self.r)
                if self._free(cx, cy):
                    self.grid.setdefault((int(cx // self.cell), int(cy // self.cell)), []).append((cx, cy))
                    return cx, cy
            ring += 1
            if ring * step > 2 * max(maxx - minx, maxy - miny):  # the map is full: grow it downwards
                self.bounds = (minx, miny, maxx, maxy + self.cell)
                minx, miny, maxx, maxy = self.bounds


def _nice_length(target: float) -> float:
    """The largest 1, 2 or 5 × 10^n not above `target` (metres)."""
    import math

    power = 10 ** math.floor(math.log10(max(target, 1e-9)))
    return max(f * power for f in (1, 2, 5) if f * power <= target)


def _scale_bar(width: float, height: float, pad: float, font: float, lang: str) -> tuple[tuple, str]:
    """A scale bar bottom left, a round length about a fifth of the map: (its box, its SVG)."""
    length = _nice_length(width / 5)
    x0, y0 = pad, height - pad * 0.4 - font * 1.6
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    half = length / 2
    panel = (x0 - font * 0.5, y0 - font * 0.3, x0 + length + font * 1.5, y0 + font * 1.6)
    svg = (f'<g class="scale-bar" data-length-m="{length:g}">'
           f'<rect class="panel" x="{panel[0]:.2f}" y="{panel[1]:.2f}" width="{panel[2] - panel[0]:.2f}" '
           f'height="{panel[3] - panel[1]:.2f}" fill="#fff" fill-opacity="0.85"/>'
           f'<rect x="{x0:.2f}" y="{y0:.2f}" width="{half:.2f}" height="{font * 0.35:.2f}" fill="#000"/>'
           f'<rect x="{x0 + half:.2f}" y="{y0:.2f}" width="{half:.2f}" height="{font * 0.35:.2f}" fill="#fff" '
           f'stroke="#000" stroke-width="1" vector-effect="non-scaling-stroke"/>'
           f'<text x="{x0:.2f}" y="{y0 + font * 1.4:.2f}" font-size="{font * 0.8:.2f}" font-family="sans-serif">0</text>'
           f'<text x="{x0 + length:.2f}" y="{y0 + font * 1.4:.2f}" font-size="{font * 0.8:.2f}" text-anchor="middle" '
           f'font-family="sans-serif">{label}</text></g>')
    return panel, svg


NORTH = {"zh": "北", "en": "N"}


def _north_arrow(width: float, pad: float, font: float, lang: str) -> tuple[tuple, str]:
    """A north arrow top right (grid north: the map is drawn in the submission's projected CRS)."""
    cx, top = width - pad - font * 1.5, pad + font * 1.6
    h = font * 2.2
    svg = (f'<g class="north-arrow"><path d="M {cx:.2f} {top:.2f} L {cx + font * 0.6:.2f} {top + h:.2f} '
           f'L {cx:.2f} {top + h * 0.75:.2f} L {cx - font * 0.6:.2f} {top + h:.2f} Z" fill="#000"/>'
           f'<text x="{cx:.2f}" y="{top - font * 0.2:.2f}" font-size="{font:.2f}" text-anchor="middle" '
           f'font-weight="bold" font-family="sans-serif">{NORTH[lang]}</text></g>')
    return (cx - font, top - font * 1.2, cx + font, top + h), svg


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
        name = land_use_classes().get(code, {}).get(lang, code)
        items.append(f'<span class="swatch" style="background:{LAND_USE_COLOURS.get(code, UNKNOWN_COLOUR)};opacity:.6"></span>'
                     f"{e(code)} {e(name)}")
    items.append(f'<span class="swatch" style="background:#fff;border:2px solid #000"></span>{e(t("unit_boundary", lang))}')
    items.append(f'<span class="swatch" style="background:#fff;border:2px dashed #1f4e79"></span>{e(t("rights_layer", lang))}')
    items.append(f'<span class="swatch" style="background:#fff;border:2px solid {CONFLICT_COLOUR}"></span>'
                 f'{e(t("conflict_layer", lang))}')
    return '<p class="legend">' + " ".join(items) + "</p>"
