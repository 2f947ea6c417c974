"""Fuzzing the loader: mutated manifests and GeoJSON layers are read, or refused with located diagnostics;
what loads is checked by the shipped rules with an exit status of 0, 1 or 2, never an internal error."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from fuzz_support import assert_located, budget
from loader_helpers import BASE, X0, Y0, square
from rulecheck.diagnostics import InputError
from rulecheck.model.submission import load_submission

LINES = BASE.splitlines(keepends=True)

# what exporters and careless hands put into YAML: odd numbers, odd text, YAML's own syntax
SCALARS = st.sampled_from([
    "", "~", "null", "true", "-1", "0", "1e400", "-1e400", ".inf", ".nan", "-.inf", "1" * 5000, "9" * 400,
    "0x1F", "0o17", "017", "1_000", "2031-02-30", "9999-12-31", "0001-01-01", "'", '"', "[", "{", "}", "]",
    "&a", "*a", "*nope", "!!python/object:os.system", "!!binary AAAA", "<<", "- x", ": x", "? x", "|", ">",
    "\"\\ud800\"", "\"\\e[31m\"", "\t", "\x07", "\x00", "\u2028", "POLYGON EMPTY", "POINT Z (1 2 3)",
    "CURVEPOLYGON(CIRCULARSTRING(0 0, 1 1, 2 0, 1 -1, 0 0))", "GEOMETRYCOLLECTION EMPTY", "../x.geojson",
    "/etc/passwd", "x.vrt", "/vsicurl/http://127.0.0.1:9/x", "{type: Point, coordinates: []}",
    "{type: [Polygon], coordinates: 1}", "[" * 70 + "]" * 70, "EPSG:4326", "EPSG:99999",
])
RANDOM_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30)


@st.composite
def mutated_manifest(draw) -> str:
    lines = list(LINES)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["value", "value", "delete", "duplicate", "swap", "insert", "indent", "truncate"]))
        i = draw(st.integers(0, len(lines) - 1))
        line = lines[i]
        if kind == "value" and ":" in line:
            key, _, _ = line.partition(":")
            value = draw(st.one_of(SCALARS, RANDOM_TEXT))
            lines[i] = f"{key}: {value}\n"
        elif kind == "delete":
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, line)
        elif kind == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == "insert":
            lines.insert(i, draw(st.one_of(SCALARS, RANDOM_TEXT)) + "\n")
        elif kind == "indent":
            lines[i] = draw(st.sampled_from(["", " ", "  ", "\t"])) + line
        elif kind == "truncate":
            lines[i] = line[: draw(st.integers(0, len(line)))]
        if not lines:
            lines = [""]
    return "".join(lines)


def _load(folder: Path, manifest: str, files: dict[str, str] | None = None):
    for name, text in (files or {}).items():
        (folder / name).write_text(text, encoding="utf-8", errors="surrogatepass")
    path = folder / "submission.yaml"
    path.write_bytes(manifest.encode("utf-8", errors="surrogatepass"))
    try:
        return load_submission(path)
    except InputError as error:
        assert_located(error)
        return None


@budget(600)
@given(mutated_manifest())
def test_mutated_manifests_load_or_are_located(manifest):
    with tempfile.TemporaryDirectory() as folder:
        _load(Path(folder), manifest)


# ---- GeoJSON ----------------------------------------------------------------------------------------

JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
                      st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8))
JSON = st.recursive(JSON_LEAF, lambda inner: st.one_of(st.lists(inner, max_size=5),
                                                        st.dictionaries(st.text(max_size=6), inner, max_size=4)),
                    max_leaves=20)
POSITION = st.one_of(
    st.tuples(st.floats(X0, X0 + 100), st.floats(Y0, Y0 + 100)).map(list),
    st.tuples(st.floats(X0, X0 + 100), st.floats(Y0, Y0 + 100), st.floats(-10, 10)).map(list),
    st.lists(JSON_LEAF, max_size=4),
)
GEOMETRY_TYPES = ["Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon",
                  "GeometryCollection", "CurvePolygon", "", None]


@st.composite
def geometry(draw):
    kind = draw(st.one_of(st.sampled_from(GEOMETRY_TYPES), JSON))
    depth = draw(st.integers(0, 4))
    coordinates = draw(POSITION)
    for _ in range(depth):
        coordinates = draw(st.lists(st.just(coordinates), max_size=5))
    shape = {"type": kind, "coordinates": coordinates}
    if draw(st.booleans()):
        shape = draw(st.one_of(JSON, st.just(shape)))
    return shape


def _square_polygon():
    return {"type": "Polygon", "coordinates": [[list(p) for p in square(X0, Y0)]]}


@st.composite
def layer(draw) -> str:
    features = []
    for i in range(draw(st.integers(0, 3))):
        properties = {"id": f"R{i}", "kind": "forest_management", "land_use": "0301"}
        if draw(st.booleans()):
            properties[draw(st.sampled_from(["id", "kind", "land_use", "term_years", "area_m2", "overlay", "x"]))] = draw(JSON)
        geom = draw(geometry()) if draw(st.booleans()) else _square_polygon()
        feature = {"type": "Feature", "properties": properties, "geometry": geom}
        if draw(st.integers(0, 5)) == 0:
            feature = draw(JSON)
        features.append(feature)
    document = {"type": "FeatureCollection", "features": features}
    if draw(st.integers(0, 6)) == 0:
        document["crs"] = draw(JSON)
    text = json.dumps(document)
    if draw(st.integers(0, 4)) == 0:  # a text-level mutation: cut, or a character spliced in
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(["", "[", "{", "\\ud800", "\x00", "1" * 5000, '"', "9e999"])) + text[at:]
    return text


MANIFEST_WITH_LAYER = BASE.replace(
    BASE[BASE.index("  rights:\n"): BASE.index("  packages:\n")], "  rights: rights.geojson\n")


@budget(400)
@given(layer())
def test_mutated_geojson_layers_load_or_are_located(text):
    with tempfile.TemporaryDirectory() as folder:
        _load(Path(folder), MANIFEST_WITH_LAYER, {"rights.geojson": text})


# a geometry source (a boundary) given as a file: any top-level `type` (a list, a mapping: B13), a FeatureCollection
# of no feature (N01) or of features whose geometry is anything
MANIFEST_WITH_BOUNDARY_FILE = "\n".join(
    "  boundary: unit.geojson" if line.startswith("  boundary:") else line for line in BASE.splitlines()) + "\n"


@st.composite
def geometry_source(draw) -> str:
    shape = draw(st.sampled_from(["type", "collection", "feature", "geometry"]))
    if shape == "type":
        document = {"type": draw(JSON), "coordinates": draw(POSITION)}
    elif shape == "collection":
        features = draw(st.lists(st.one_of(JSON, geometry().map(lambda g: {"type": "Feature", "geometry": g})),
                                 max_size=3))
        document = {"type": "FeatureCollection", "features": features}
    elif shape == "feature":
        document = {"type": "Feature", "properties": {}, "geometry": draw(st.one_of(JSON, geometry()))}
    else:
        document = draw(geometry())
    return json.dumps(document)


@budget(300)
@given(geometry_source())
def test_geometry_sources_of_any_shape_load_or_are_located(text):
    assert "boundary: unit.geojson" in MANIFEST_WITH_BOUNDARY_FILE
    with tempfile.TemporaryDirectory() as folder:
        _load(Path(folder), MANIFEST_WITH_BOUNDARY_FILE, {"unit.geojson": text})


@budget(150)
@given(st.one_of(mutated_manifest(), layer()))
def test_what_loads_is_checked_with_exit_0_1_or_2(value):
    from rulecheck import check, load_rules

    rules = _rules()
    with tempfile.TemporaryDirectory() as folder:
        if value.startswith("{"):
            submission = _load(Path(folder), MANIFEST_WITH_LAYER, {"rights.geojson": value})
        else:
            submission = _load(Path(folder), value)
        if submission is None:
            return
        try:
            record = check(submission, rules, lang="en")
        except InputError as error:
            assert_located(error)
            return
        assert record["summary"]["passed"] in (True, False)
        from rulecheck import report

        for fmt in ("text", "json", "junit", "markdown", "sarif"):
            report.render(record, fmt, lang="en")


_RULES = []


def _rules():
    from rulecheck import load_rules

    if not _RULES:
        _RULES.append(load_rules())
    return _RULES[0]
