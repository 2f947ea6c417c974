"""The HTML report: self-contained, escaped, printable, with an SVG map; rendered by a real headless chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import X0, Y0, clean_record, sample_record
from rulecheck.report import render

SVG = "{http://www.w3.org/2000/svg}"


class Resources(HTMLParser):
    """Every URL the page would load, and whether the markup nests properly."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "srcset", "data", "poster") and value:
                self.urls.append(value)


def html_of(record=None, lang="zh") -> str:
    return render(record or sample_record(), "html", lang=lang)


def svg_of(page: str) -> ET.Element:
    return ET.fromstring(re.search(r"<svg .*?</svg>", page, re.S).group(0))


def test_self_contained_no_network_loads():
    page = html_of()
    parser = Resources()
    parser.feed(page)
    assert parser.urls == []
    assert "link" not in parser.tags and "script" not in parser.tags and "img" not in parser.tags
    assert "@import" not in page and "url(" not in page
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", page)


def test_all_text_is_escaped():
    page = html_of(lang="en")
    assert "&lt;cap&gt; &amp; &#34;quoted&#34; | piped" in page
    assert "<cap>" not in page
    record = sample_record()
    record["submission"]["title"] = "<script>alert(1)</script>"
    record["conflicts"][0]["subjects"][0]["id"] = 'R03"><b>'
    page = html_of(record)
    assert "<script>" not in page and '"><b>' not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # every field the template shows is escaped, not only those the old f-strings remembered
    record = sample_record()
    record["submission"]["notes"] = ["<i>reprojected</i>"]
    record["indeterminate"] = [{"rule": "IND-003", "subjects": [{"collection": "parcels", "id": "<P7>"}],
                                "missing": "far_max <b>"}]
    record["waivers"]["expired"] = [{"file": "<w>.yaml", "line": 3, "rule": "IND-002", "subjects": ["<C01>"]}]
    record["conflicts"][1]["explanation"] = [{"expr": "a < b", "value": "<1>"}]
    page = html_of(record, lang="en")
    for raw in ("<i>", "<P7>", "far_max <b>", "<w>", "<C01>", "a < b", "<1>"):
        assert raw not in page, raw


def test_printable_a4_with_page_breaks_and_signature_block():
    page = html_of()
    assert "@page { size: A4;" in page
    assert re.search(r"@media print \{[^@]*section\.family \{ break-before: page; page-break-before: always; \}", page)
    assert page.count('<section class="family"') == 3
    assert "审查人 / Reviewer ____" in page and "日期 / Date ____" in page
    assert "审查人 / Reviewer ____" in html_of(lang="en")


def test_summary_conflicts_basis_values_and_explanation():
    page = html_of(lang="en")
    assert "2 errors, 1 warning, 1 waived (5 rules run: 1 passed, 4 failed, 0 not applicable, 0 indeterminate) - FAILED" in page
    assert '<h2>IND Control indicators</h2>' in page
    assert "<th>Expected</th><td>far_max &lt;= 1.2</td><th>Actual</th><td>far_max = 1.6</td>" in page
    assert "《城乡规划法》第三十八条：规划条件应作为国有土地使用权出让合同的组成部分" in page
    assert "<li>item.far_max = 1.6</li>" in page
    assert 'class="conflict warning waived"' in page and "approved by 张三" in page
    assert "contracts:C01/R07 <span class=\"loc\">(fixtures/eco-recreation/submission.yaml:88)</span>" in page


def test_svg_map_layers_viewbox_and_numbered_labels():
    svg = svg_of(html_of())
    # unit 1000 x 800 m, padded by 3 % of the extent (30 m) on each side
    assert svg.get("viewBox") == "0 0 1060.00 860.00"
    parcels = svg.find(f"{SVG}g[@class='parcels']").findall(f"{SVG}path")
    fills = [p.get("fill") for p in parcels]
    assert fills == ["#ef8a80", "#b89a7c", "#6fae5a"]  # 09 commercial, 10 industrial, 03 forest
    # y is flipped: the forest parcel (y 400..800 m) is drawn at the top of the map
    forest = parcels[2].get("d")
    assert forest.startswith("M 30.00 430.00 L 1030.00 430.00 L 1030.00 30.00")
    rights = svg.find(f"{SVG}g[@class='rights']").findall(f"{SVG}path")
    assert len(rights) == 2 and all(r.get("fill") == "none" for r in rights)
    assert svg.find(f"{SVG}path[@class='unit']") is not None
    conflicts = [p for p in svg.find(f"{SVG}g[@class='conflicts']").findall(f"{SVG}path") if p.get("stroke") == "#d7191c"]
    assert len(conflicts) == 1 and conflicts[0].find(f"{SVG}title").text == "1. LAY-004"
    markers = svg.find(f"{SVG}g[@class='labels']").findall(f"{SVG}g")
    assert [(m.find(f"{SVG}text").text, m.find(f"{SVG}title").text) for m in markers] == [("1", "1. LAY-004")]


def test_map_draws_lines_points_and_skips_when_nothing_to_draw():
    record = sample_record()
    record["conflicts"][1]["geometry"] = {"type": "LineString", "coordinates": [[X0 + 500, Y0 + 100], [X0 + 500, Y0 + 380]]}
    record["conflicts"][3]["geometry"] = {"type": "Point", "coordinates": [X0 + 800, Y0 + 600]}
    svg = svg_of(html_of(record))
    assert [m.find(f"{SVG}title").text for m in svg.find(f"{SVG}g[@class='labels']")] == [
        "1. LAY-004", "2. IND-002", "4. FIN-002"]
    assert svg.find(f"{SVG}g[@class='conflicts']").find(f"{SVG}circle") is not None
    assert "<svg" not in html_of(clean_record())


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
def test_renders_in_headless_chromium(tmp_path):
    html_path = tmp_path / "report.html"
    html_path.write_text(html_of(), encoding="utf-8")
    base = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={tempfile.mkdtemp(dir=tmp_path)}"]
    png = tmp_path / "out.png"
    subprocess.run([*base, f"--screenshot={png}", "--window-size=1200,1600", html_path.as_uri()],
                   capture_output=True, timeout=180, check=False)
    assert png.exists() and png.stat().st_size > 20_000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # printed, each family starts a page of A4
    pdf = tmp_path / "out.pdf"
    subprocess.run([*base, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", html_path.as_uri()],
                   capture_output=True, timeout=180, check=False)
    data = pdf.read_bytes()
    boxes = set(re.findall(rb"/MediaBox \[0 0 (\d+)\.?\d* (\d+)\.?\d*\]", data))
    assert boxes == {(b"594", b"841")}
    pages = max(int(n) for n in re.findall(rb"/Count (\d+)", data))
    assert pages >= 4  # summary and map, then LAY, IND, FIN each on their own page


# ---- labels that never overlap, a scale bar, a north arrow --------------------------------------------------


def marker_circles(svg: ET.Element) -> list[tuple[float, float, float]]:
    return [(float(c.get("cx")), float(c.get("cy")), float(c.get("r")))
            for c in svg.find(f"{SVG}g[@class='labels']").iter(f"{SVG}circle")]


def assert_no_overlap(svg: ET.Element) -> None:
    _, _, width, height = map(float, svg.get("viewBox").split())
    circles = marker_circles(svg)
    for i, (x1, y1, r1) in enumerate(circles):
        assert r1 <= x1 <= width - r1 and r1 <= y1 <= height - r1, "a marker leaves the map"
        for x2, y2, r2 in circles[i + 1:]:
            assert (x1 - x2) ** 2 + (y1 - y2) ** 2 >= (r1 + r2) ** 2, "two markers overlap"
    # nor over the scale bar or the north arrow
    bar = svg.find(f"{SVG}g[@class='scale-bar']")
    rects = [(float(r.get("x")), float(r.get("y")), float(r.get("width")), float(r.get("height"))) for r in bar.iter(f"{SVG}rect")]
    for x, y, r in circles:
        for rx, ry, rw, rh in rects:
            assert not (rx - r < x < rx + rw + r and ry - r < y < ry + rh + r), "a marker covers the scale bar"


def test_markers_never_overlap_even_when_conflicts_share_a_place():
    record = sample_record()
    base = record["conflicts"][0]
    record["conflicts"] = [dict(base, rule=f"LAY-{i:03d}") for i in range(1, 61)]  # sixty conflicts on one polygon
    svg = svg_of(html_of(record))
    assert len(marker_circles(svg)) == 60
    assert_no_overlap(svg)
    leaders = svg.find(f"{SVG}g[@class='leaders']").findall(f"{SVG}line")
    assert leaders, "a marker moved off its place is tied to it by a leader line"
    circles = {m.get("data-number"): m.find(f"{SVG}circle") for m in svg.find(f"{SVG}g[@class='labels']")}
    for line in leaders:  # from the conflict's place to the centre of its own marker
        circle = circles[line.get("data-number")]
        assert (line.get("x2"), line.get("y2")) == (circle.get("cx"), circle.get("cy"))
    children = [child.get("class") for child in svg]
    assert children.index("leaders") < children.index("labels"), "leaders are drawn under the markers"


def test_scale_bar_says_its_length_and_the_map_has_a_north_arrow():
    svg = svg_of(html_of())
    bar = svg.find(f"{SVG}g[@class='scale-bar']")
    length = float(bar.get("data-length-m"))
    assert str(length).rstrip("0").rstrip(".")[0] in "125" and 1060 / 10 <= length <= 1060 / 5 * 1.0001
    drawn = sum(float(r.get("width")) for r in bar.iter(f"{SVG}rect") if r.get("class") != "panel")  # not its backing
    assert abs(drawn - length) < 1e-6, "the bar is as long, in map metres, as it says"
    assert [t.text for t in bar.iter(f"{SVG}text")] == ["0", f"{length:g} m"]
    arrow = svg.find(f"{SVG}g[@class='north-arrow']")
    assert arrow is not None and arrow.find(f"{SVG}text").text == "北"
    assert svg_of(html_of(lang="en")).find(f"{SVG}g[@class='north-arrow']").find(f"{SVG}text").text == "N"


def test_the_defects_fixture_map_has_no_overlapping_labels():
    import rulecheck

    root = Path(__file__).resolve().parents[1]
    submission = rulecheck.load_submission(root / "fixtures" / "eco-recreation-defects" / "submission.yaml")
    record = rulecheck.check(submission, lang="en", with_layers=True)
    svg = svg_of(render(record, "html", lang="en"))
    assert len(marker_circles(svg)) == sum(1 for c in record["conflicts"] if c.get("geometry")) >= 5
    assert_no_overlap(svg)


def test_each_conflict_with_a_place_has_an_inset_map_of_its_surroundings():
    page = html_of()
    insets = re.findall(r'<svg class="inset".*?</svg>', page, re.S)
    assert len(insets) == 1  # only LAY-004 has a geometry in the sample record
    inset = ET.fromstring(insets[0])
    assert inset.get("aria-label") == "1. LAY-004"
    assert inset.find(f"{SVG}g[@class='conflicts']").find(f"{SVG}path") is not None
    assert inset.find(f"{SVG}g[@class='parcels']").findall(f"{SVG}path"), "the parcels around the conflict"
    assert inset.find(f"{SVG}g[@class='scale-bar']") is not None
    assert page.index('id="conflict-1"') < page.index('<svg class="inset"') < page.index('id="conflict-2"')


def test_a_county_sized_overview_draws_only_the_conflicts_neighbourhoods(monkeypatch):
    from rulecheck.report import html_report

    record = sample_record()
    # a 60 x 60 grid of 50 m parcels beside the unit; one conflict in its corner
    record["layers"]["parcels"] = [
        {"id": f"G{i}-{j}", "land_use": "0301",
         "geometry": {"type": "Polygon", "coordinates": [[[X0 + 50 * i, Y0 + 50 * j], [X0 + 50 * i + 50, Y0 + 50 * j],
                                                          [X0 + 50 * i + 50, Y0 + 50 * j + 50],
                                                          [X0 + 50 * i, Y0 + 50 * j + 50], [X0 + 50 * i, Y0 + 50 * j]]]}}
        for i in range(60) for j in range(60)]
    monkeypatch.setattr(html_report, "DETAIL_LIMIT", 1000)
    page = html_of(record, lang="en")
    drawn = svg_of(page).find(f"{SVG}g[@class='parcels']").findall(f"{SVG}path")
    assert 0 < len(drawn) < 200, "only the parcels near the conflict are drawn"
    assert f"the overview draws {len(drawn)} of 3600 parcels" in page
    assert_no_overlap(svg_of(page))
