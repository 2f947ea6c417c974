"""Good submissions from every kind of source: GeoJSON files, inline WKT, GeoPackage layers, other CRSs."""

from __future__ import annotations

import json
import os

import numpy as np
import pyproj
import pytest
import shapely

from loader_helpers import BASE, X0, Y0, feature_collection, line_of, parcel, square, wkt_square, write
from rulecheck.model import Submission, load_submission
from rulecheck.model.crs import gk3_zone_crs

INLINE_PARCELS = f"  parcels:\n    - id: P1\n      land_use: \"0301\"\n      geometry: {wkt_square(X0, Y0)}\n"


def with_parcels(source: str) -> str:
    return BASE.replace(INLINE_PARCELS, f"  parcels: {source}\n")


def test_inline_wkt_bundle_loads_with_sources(tmp_path):
    path = write(tmp_path, BASE)
    submission = load_submission(path)
    assert isinstance(submission, Submission)
    right = submission.unit_plan.rights[0]
    assert right.geometry.equals(shapely.Polygon(square(X0, Y0)))
    assert right.source == ("submission.yaml", line_of(path, "- id: R1"))
    duty = submission.unit_plan.packages[0].duties[0]
    assert duty.source == ("submission.yaml", line_of(path, "- id: D1"))
    assert str(duty.due) == "2030-12-31"
    item = submission.contracts[0].items[0]
    assert item.id == "C1/R1"
    assert item.source == ("submission.yaml", line_of(path, "- right: R1"))
    assert submission.unit_plan.boundary.area == pytest.approx(40_000)
    assert submission._crs_used == "EPSG:4526"
    assert submission._inputs == ["submission.yaml"]
    assert submission._manifest == str(path)
    assert submission._load_notes == []


def test_geojson_feature_source_lines_and_ids(tmp_path):
    features = [parcel(f"P{i}", X0 + 100 * i, Y0, far_max=None, facilities=None) for i in range(1, 4)]
    features[2]["properties"].pop("id")
    features[2]["id"] = "P3"  # the Feature's id when the properties have none
    path = write(tmp_path, with_parcels("layers/parcels.geojson"), {"layers/parcels.geojson": feature_collection(features)})
    submission = load_submission(path)
    parcels = submission.detailed_plan.parcels
    assert [p.id for p in parcels] == ["P1", "P2", "P3"]
    text = (tmp_path / "layers/parcels.geojson").read_text().splitlines()
    starts = [n for n, line in enumerate(text, start=1) if line.strip() == '"type": "Feature",']
    assert [p.source.line for p in parcels] == [n - 1 for n in starts]  # the line of the Feature's "{"
    assert {p.source.path for p in parcels} == {"layers/parcels.geojson"}
    assert parcels[0].facilities == []  # a null in a layer means "no value"
    assert submission._inputs == ["submission.yaml", "layers/parcels.geojson"]


def test_feature_lines_when_properties_come_first(tmp_path):
    # not the usual key order: the exact scanner finds each Feature's "{"
    lines = ['{"features": [']
    for i in range(3):
        props = json.dumps({"id": f"P{i}", "land_use": "0301"})
        geometry = json.dumps({"type": "Polygon", "coordinates": [square(X0 + 100 * i, Y0)]})
        lines += ["  {", f'    "properties": {props},', f'    "geometry": {geometry},', '    "type": "Feature"', "  }" + ("," if i < 2 else "")]
    lines += ['], "type": "FeatureCollection"}']
    path = write(tmp_path, with_parcels("parcels.geojson"), {"parcels.geojson": "\n".join(lines)})
    parcels = load_submission(path).detailed_plan.parcels
    assert [p.source.line for p in parcels] == [2, 7, 12]


def test_geopackage_layer(tmp_path):
    import pyogrio.raw

    gpkg = tmp_path / "layers" / "plan.gpkg"
    gpkg.parent.mkdir()
    geometries = shapely.to_wkb(np.array([shapely.Polygon(square(X0 + 100 * i, Y0)) for i in range(2)]))
    fields = [np.array(["P1", "P2"], dtype=object), np.array(["0301", "0901"], dtype=object), np.array([np.nan, 1.2]),
              np.array(["x", "y"], dtype=object)]
    pyogrio.raw.write(gpkg, geometries, fields, ["id", "land_use", "far_max", "surveyor"], layer="parcels",
                      driver="GPKG", geometry_type="Polygon", crs="EPSG:4526")
    path = write(tmp_path, with_parcels("layers/plan.gpkg#parcels"))
    submission = load_submission(path)
    parcels = submission.detailed_plan.parcels
    assert [(p.id, p.land_use, p.far_max) for p in parcels] == [("P1", "0301", None), ("P2", "0901", 1.2)]
    assert parcels[1].source == ("layers/plan.gpkg#parcels", 2)  # the feature's fid stands for the line
    assert parcels[1].geometry.equals(shapely.Polygon(square(X0 + 100, Y0)))
    assert "layers/plan.gpkg" in submission._inputs
    (warning,) = submission._warnings
    assert warning.severity == "warning" and warning.field == "surveyor"
    assert warning.message == "attribute 'surveyor' is not part of the contract and is ignored (parcel P1, fid 1, and 1 more record)"


def test_geographic_crs_is_reprojected_to_the_gauss_kruger_zone_with_a_note(tmp_path):
    to_lonlat = pyproj.Transformer.from_crs("EPSG:4526", "EPSG:4490", always_xy=True)
    lon, lat = to_lonlat.transform(X0, Y0)
    ring = [list(to_lonlat.transform(x, y)) for x, y in square(X0, Y0)]
    layer = feature_collection([{"type": "Feature", "properties": {"id": "P1", "land_use": "0301"},
                                 "geometry": {"type": "Polygon", "coordinates": [ring]}}])
    wkt = "POLYGON ((" + ", ".join(f"{x!r} {y!r}" for x, y in ring) + "))"
    manifest = with_parcels("parcels.geojson").replace("crs: EPSG:4526", "crs: EPSG:4490")
    manifest = manifest.replace(wkt_square(X0, Y0, 200), wkt).replace(wkt_square(X0, Y0), wkt)
    submission = load_submission(write(tmp_path, manifest, {"parcels.geojson": layer}))
    zone = round(lon / 3)
    assert submission._crs_used == f"EPSG:{4488 + zone}" == "EPSG:4526"
    note = submission._load_notes[0]
    assert note.startswith("submission.crs EPSG:4490 is geographic (degrees): every geometry was reprojected to EPSG:4526")
    x, y = shapely.get_coordinates(submission.detailed_plan.parcels[0].geometry)[0]
    assert (x, y) == (pytest.approx(X0, abs=1e-3), pytest.approx(Y0, abs=1e-3))
    assert submission.detailed_plan.parcels[0].geometry.area == pytest.approx(10_000, rel=1e-6)


def test_gauss_kruger_zone_arithmetic_agrees_with_pyproj():
    for longitude in (75.2, 100.0, 113.4, 121.6, 134.9):
        crs = gk3_zone_crs(longitude)
        to_lonlat = pyproj.Transformer.from_crs(crs, crs.geodetic_crs, always_xy=True)
        zone = round(longitude / 3)
        central, _ = to_lonlat.transform(zone * 1_000_000 + 500_000, 2_500_000)
        assert central == pytest.approx(3 * zone)


def test_a_layer_in_its_own_crs_is_reprojected_with_a_note(tmp_path):
    to_4490 = pyproj.Transformer.from_crs("EPSG:4526", "EPSG:4490", always_xy=True)
    ring = [list(to_4490.transform(x, y)) for x, y in square(X0, Y0)]
    layer = feature_collection(
        [{"type": "Feature", "properties": {"id": "P1", "land_use": "0301"}, "geometry": {"type": "Polygon", "coordinates": [ring]}}],
        crs={"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4490"}},
    )
    submission = load_submission(write(tmp_path, with_parcels("parcels.geojson"), {"parcels.geojson": layer}))
    assert submission._load_notes == ["parcels.geojson: reprojected from EPSG:4490 to EPSG:4526 (the manifest's CRS)"]
    assert shapely.get_coordinates(submission.detailed_plan.parcels[0].geometry)[0] == pytest.approx([X0, Y0], abs=1e-3)


def test_invalid_geometry_is_loaded_as_it_is(tmp_path):
    bowtie = f"POLYGON (({X0} {Y0}, {X0 + 100} {Y0 + 100}, {X0 + 100} {Y0}, {X0} {Y0 + 100}, {X0} {Y0}))"
    submission = load_submission(write(tmp_path, BASE.replace(f"      geometry: {wkt_square(X0, Y0)}\ncontracts", f"      geometry: {bowtie}\ncontracts")))
    geometry = submission.detailed_plan.parcels[0].geometry
    assert not geometry.is_valid
    assert geometry.equals_exact(shapely.from_wkt(bowtie), 0)


def test_geometry_sources_path_and_mapping(tmp_path):
    boundary = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [square(X0, Y0)]}},
        {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [square(X0 + 100, Y0)]}},
    ]}
    manifest = BASE.replace(f"  boundary: {wkt_square(X0, Y0, 200)}", "  boundary: unit.geojson")
    manifest = manifest.replace("      rights: [R1]\n", "      rights: [R1]\n      boundary: {type: Polygon, coordinates: %s}\n" % json.dumps([square(X0, Y0)]))
    submission = load_submission(write(tmp_path, manifest, {"unit.geojson": boundary}))
    assert submission.unit_plan.boundary.area == pytest.approx(20_000)  # the features' union
    assert submission.unit_plan.packages[0].boundary.area == pytest.approx(10_000)
    assert submission._inputs == ["submission.yaml", "unit.geojson"]


def test_codes_written_as_numbers_keep_their_leading_zero(tmp_path):
    manifest = BASE.replace('      land_use: "0301"\n      geometry', "      land_use: 0301\n      geometry", 1)
    manifest = manifest.replace('jurisdiction: "441803"', "jurisdiction: 441803")
    submission = load_submission(write(tmp_path, manifest))
    assert submission.unit_plan.rights[0].land_use == "0301"
    assert submission.submission.jurisdiction == "441803"


def test_loading_writes_nothing(tmp_path):
    import pyogrio.raw

    gpkg = tmp_path / "plan.gpkg"
    pyogrio.raw.write(gpkg, shapely.to_wkb(np.array([shapely.Polygon(square(X0, Y0))])),
                      [np.array(["P1"], dtype=object), np.array(["0301"], dtype=object)], ["id", "land_use"],
                      layer="parcels", driver="GPKG", geometry_type="Polygon", crs="EPSG:4526")
    path = write(tmp_path, with_parcels("plan.gpkg#parcels"))

    def snapshot():
        return sorted((p.relative_to(tmp_path).as_posix(), p.stat().st_size, p.stat().st_mtime_ns)
                      for p in tmp_path.rglob("*"))

    before = snapshot()
    load_submission(path)
    assert snapshot() == before


@pytest.mark.filterwarnings("ignore:Normalized/laundered field name")
def test_shapefile_with_truncated_field_names(tmp_path):
    import pyogrio.raw

    shp = tmp_path / "rights.shp"
    pyogrio.raw.write(shp, shapely.to_wkb(np.array([shapely.Polygon(square(X0, Y0))])),
                      [np.array(["R1"], dtype=object), np.array(["forest_management"], dtype=object),
                       np.array(["0301"], dtype=object), np.array(["lease"], dtype=object)],
                      ["id", "kind", "land_use", "supply_method"], driver="ESRI Shapefile", geometry_type="Polygon",
                      crs="EPSG:4526")
    manifest = BASE.replace(f"  rights:\n    - id: R1\n      kind: forest_management\n      land_use: \"0301\"\n      geometry: {wkt_square(X0, Y0)}\n",
                            "  rights: rights.shp\n")
    submission = load_submission(write(tmp_path, manifest))
    right = submission.unit_plan.rights[0]
    assert right.supply_method.value == "lease"
    assert right.source == ("rights.shp#rights", 0)
    assert "rights.dbf" in submission._inputs
    assert any("supply_met -> supply_method" in note for note in submission._load_notes)


@pytest.mark.parametrize("fixture", ["minimal", "eco-recreation", "mine-land", "land-sea"])
def test_project_fixtures_load(fixture):
    root = os.path.join(os.path.dirname(__file__), os.pardir, "fixtures", fixture, "submission.yaml")
    if not os.path.exists(root):
        pytest.skip("fixture not present")
    submission = load_submission(root)
    assert submission.unit_plan.rights and submission.detailed_plan.parcels
    for right in submission.unit_plan.rights:
        assert right.source is not None and right.geometry is not None


def test_dates_as_yaml_dates_or_iso_strings(tmp_path):
    submission = load_submission(write(tmp_path, BASE.replace("due: 2030-12-31", 'due: "2030-12-31"')))
    assert str(submission.unit_plan.packages[0].duties[0].due) == "2030-12-31"
    assert str(submission.submission.as_of) == "2026-03-01"


def test_a_given_classification_is_used(tmp_path):
    class OnlyForest:
        def is_known(self, code):
            return code.startswith("03")

        def suggest(self, code):
            return "0301"

    from rulecheck.diagnostics import InputError

    with pytest.raises(InputError) as caught:
        load_submission(write(tmp_path, BASE.replace('resource: "03"', 'resource: "0901"')), classification=OnlyForest())
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.field == "unit_plan.packages[0].duties[0].resource"
    assert diagnostic.message == "unknown land-use code '0901' (duty D1)"


def test_without_the_classification_module_codes_of_two_or_four_digits_pass(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "rulecheck.model.landuse", None)  # import now raises ImportError
    submission = load_submission(write(tmp_path, BASE.replace('land_use: "0301"\n      geometry', 'land_use: "0399"\n      geometry', 1)))
    assert submission.unit_plan.rights[0].land_use == "0399"
