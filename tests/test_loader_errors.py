"""Bad submissions: every kind of unreadable input gives a located diagnostic (file, line, field path, expectation)."""

from __future__ import annotations

import subprocess
import sys

from loader_helpers import BASE, X0, Y0, feature_collection, line_of, load_errors, only, parcel, square, wkt_square, write


def test_yaml_syntax_error_names_line_and_column(tmp_path):
    path = write(tmp_path, BASE.replace("  id: T-01\n", "  id: T-01\n  title: a: b\n"))
    (diagnostic,) = load_errors(path)
    assert diagnostic.path == "submission.yaml"
    assert diagnostic.line == line_of(path, "title: a: b")
    assert diagnostic.column == 11
    assert "YAML syntax error: mapping values are not allowed" in diagnostic.message
    assert diagnostic.render().startswith(f"submission.yaml:{diagnostic.line}:11: error: YAML syntax error")


def test_empty_manifest(tmp_path):
    path = write(tmp_path, "# nothing yet\n")
    (diagnostic,) = load_errors(path)
    assert (diagnostic.path, diagnostic.line) == ("submission.yaml", 1)
    assert "the manifest is empty" in diagnostic.message


def test_non_mapping_manifest(tmp_path):
    path = write(tmp_path, "- submission\n- unit_plan\n")
    (diagnostic,) = load_errors(path)
    assert (diagnostic.path, diagnostic.line) == ("submission.yaml", 1)
    assert "expected a mapping with submission, unit_plan and detailed_plan at the top level, got a list" in diagnostic.message


def test_unsupported_format(tmp_path):
    path = write(tmp_path, BASE.replace("format: rulecheck/v1", "format: rulecheck/v9"))
    diagnostic = only(load_errors(path), field="format")
    assert diagnostic.line == 1
    assert diagnostic.message == "unsupported format 'rulecheck/v9'; expected 'rulecheck/v1'"


def test_missing_required_field_points_at_its_mapping(tmp_path):
    path = write(tmp_path, BASE.replace("      kind: forest_management\n", ""))
    diagnostic = only(load_errors(path), field="unit_plan.rights[0].kind")
    assert diagnostic.path == "submission.yaml"
    assert diagnostic.line == line_of(path, "- id: R1")
    assert diagnostic.message == "missing required field 'kind' (right R1)"


def test_wrong_type_names_the_field_line_and_expectation(tmp_path):
    path = write(tmp_path, BASE.replace("          due: 2030-12-31", "          due: end of 2030"))
    diagnostic = only(load_errors(path), field="unit_plan.packages[0].duties[0].due")
    assert diagnostic.line == line_of(path, "due: end of 2030")
    assert diagnostic.message == "expected a date (YYYY-MM-DD); got 'end of 2030'"
    assert diagnostic.render().startswith(
        f"submission.yaml:{diagnostic.line}: error: unit_plan.packages[0].duties[0].due: expected a date"
    )


def test_second_duty_date_path(tmp_path):
    second = "        - id: D2\n          kind: facility\n          resource: '0901'\n          quantity: 1\n          unit: count\n          due: 2031-02-30\n"
    path = write(tmp_path, BASE.replace("          due: 2030-12-31\n", "          due: 2030-12-31\n" + second))
    diagnostic = only(load_errors(path), field="unit_plan.packages[0].duties[1].due")
    assert diagnostic.line == line_of(path, "due: 2031-02-30")
    assert diagnostic.message == "expected a date (YYYY-MM-DD); got '2031-02-30'"


def test_unknown_enum_value_lists_the_valid_ones(tmp_path):
    path = write(tmp_path, BASE.replace("award: listing", "award: bidding"))
    diagnostic = only(load_errors(path), field="contracts[0].award")
    assert diagnostic.line == line_of(path, "award: bidding")
    assert diagnostic.message == "expected one of: tender, auction, listing, agreement; got 'bidding'"


def test_unknown_field_is_an_error_with_a_suggestion(tmp_path):
    path = write(tmp_path, BASE.replace('    - id: P1\n      land_use: "0301"\n', '    - id: P1\n      land_use: "0301"\n      far_maxx: 1.2\n'))
    diagnostic = only(load_errors(path), field="detailed_plan.parcels[0].far_maxx")
    assert diagnostic.line == line_of(path, "far_maxx: 1.2")
    assert diagnostic.message == "unknown field 'far_maxx' (parcel P1)"
    assert diagnostic.hint == "did you mean 'far_max'?"


def test_unknown_top_level_section(tmp_path):
    path = write(tmp_path, BASE + "contract:\n  - id: C2\n")
    diagnostic = only(load_errors(path), field="contract")
    assert diagnostic.hint == "did you mean 'contracts'?"


def test_unknown_land_use_code_in_a_geojson_layer(tmp_path):
    layer = feature_collection([parcel("P1", X0, Y0), parcel("P2", X0 + 100, Y0, land_use="0905")])
    manifest = BASE.replace(f"  parcels:\n    - id: P1\n      land_use: \"0301\"\n      geometry: {wkt_square(X0, Y0)}\n", "  parcels: layers/parcels.geojson\n")
    path = write(tmp_path, manifest, {"layers/parcels.geojson": layer})
    diagnostic = only(load_errors(path), field="features[1].properties.land_use")
    assert diagnostic.path == "layers/parcels.geojson"
    assert diagnostic.line == line_of(tmp_path / "layers/parcels.geojson", '"0905"')
    assert diagnostic.message == "unknown land-use code '0905' (parcel P2)"
    assert diagnostic.hint == "did you mean '0901'?"


def test_unknown_land_use_code_in_a_contract_item(tmp_path):
    path = write(tmp_path, BASE.replace('        land_use: "0301"', '        land_use: "3001"'))
    diagnostic = only(load_errors(path), field="contracts[0].items[0].land_use")
    assert diagnostic.line == line_of(path, 'land_use: "3001"')
    assert "contract item C1/R1" in diagnostic.message


def test_missing_file_names_the_manifest_line(tmp_path):
    path = write(tmp_path, BASE.replace("  status: draft\n", "  status: draft\n  control_lines: layers/lines.geojson\n"))
    diagnostic = only(load_errors(path), field="detailed_plan.control_lines")
    assert diagnostic.path == "submission.yaml"
    assert diagnostic.line == line_of(path, "control_lines: layers/lines.geojson")
    assert "file 'layers/lines.geojson' not found" in diagnostic.message


def test_duplicate_ids_name_both_places(tmp_path):
    layer = feature_collection([parcel("P1", X0, Y0), parcel("P2", X0 + 100, Y0), parcel("P1", X0, Y0 + 100)])
    manifest = BASE.replace(f"  parcels:\n    - id: P1\n      land_use: \"0301\"\n      geometry: {wkt_square(X0, Y0)}\n", "  parcels: layers/parcels.geojson\n")
    path = write(tmp_path, manifest, {"layers/parcels.geojson": layer})
    layer_path = tmp_path / "layers/parcels.geojson"
    diagnostic = only(load_errors(path), field="features[2].properties.id")
    assert diagnostic.line == line_of(layer_path, '"id": "P1"', occurrence=2)
    first = line_of(layer_path, '"id": "P1"')
    assert diagnostic.message == f"duplicate parcel id 'P1'; first defined at layers/parcels.geojson:{first}"


def test_duplicate_duty_within_a_package(tmp_path):
    again = "        - id: D1\n          kind: facility\n          resource: '0901'\n          quantity: 1\n          unit: count\n          due: 2031-01-01\n"
    path = write(tmp_path, BASE.replace("          due: 2030-12-31\n", "          due: 2030-12-31\n" + again))
    diagnostic = only(load_errors(path), field="unit_plan.packages[0].duties[1].id")
    assert diagnostic.line == line_of(path, "- id: D1", occurrence=2)
    assert f"first defined at submission.yaml:{line_of(path, '- id: D1')}" in diagnostic.message


def test_unreadable_wkt(tmp_path):
    path = write(tmp_path, BASE.replace(f"      geometry: {wkt_square(X0, Y0)}\ncontracts", "      geometry: POLYGON ((38401000 2622000 38401100\ncontracts"))
    diagnostic = only(load_errors(path), field="detailed_plan.parcels[0].geometry")
    assert diagnostic.line == line_of(path, "geometry: POLYGON ((38401000 2622000 38401100")
    assert diagnostic.message.startswith("unreadable geometry: unreadable WKT:")
    assert diagnostic.message.endswith("(parcel P1)")


def test_unreadable_geojson_geometry_names_file_line_and_id(tmp_path):
    broken = parcel("P2", X0 + 100, Y0)
    del broken["geometry"]["coordinates"]
    unclosed = parcel("P3", X0 + 200, Y0)
    unclosed["geometry"]["coordinates"][0].pop()
    layer = feature_collection([parcel("P1", X0, Y0), broken, unclosed])
    manifest = BASE.replace(f"  parcels:\n    - id: P1\n      land_use: \"0301\"\n      geometry: {wkt_square(X0, Y0)}\n", "  parcels: layers/parcels.geojson\n")
    path = write(tmp_path, manifest, {"layers/parcels.geojson": layer})
    layer_path = tmp_path / "layers/parcels.geojson"
    diagnostics = load_errors(path)
    missing = only(diagnostics, field="features[1].geometry")
    assert missing.path == "layers/parcels.geojson"
    assert missing.line == line_of(layer_path, '"geometry"', occurrence=2)
    assert missing.message == 'unreadable geometry: Polygon has no "coordinates" (parcel P2)'
    not_closed = only(diagnostics, field="features[2].geometry")
    assert not_closed.message == (
        "unreadable geometry: Polygon: a polygon ring is not closed (first and last positions differ) (parcel P3)"
    )


def test_geojson_syntax_error(tmp_path):
    manifest = BASE.replace(f"  parcels:\n    - id: P1\n      land_use: \"0301\"\n      geometry: {wkt_square(X0, Y0)}\n", "  parcels: layers/parcels.geojson\n")
    path = write(tmp_path, manifest, {"layers/parcels.geojson": '{"type": "FeatureCollection",\n "features": [\n  {"type": "Feature",, }\n]}'})
    (diagnostic,) = load_errors(path)
    assert (diagnostic.path, diagnostic.line, diagnostic.column) == ("layers/parcels.geojson", 3, 22)
    assert diagnostic.message.startswith("JSON syntax error")


def test_lon_lat_numbers_under_a_projected_crs(tmp_path):
    lonlat = feature_collection([
        {"type": "Feature", "properties": {"id": "P1", "land_use": "0301"},
         "geometry": {"type": "Polygon", "coordinates": [[[113.05, 23.7], [113.06, 23.7], [113.06, 23.71], [113.05, 23.7]]]}},
    ])
    manifest = BASE.replace(f"  parcels:\n    - id: P1\n      land_use: \"0301\"\n      geometry: {wkt_square(X0, Y0)}\n", "  parcels: layers/parcels.geojson\n")
    path = write(tmp_path, manifest, {"layers/parcels.geojson": lonlat})
    diagnostic = only(load_errors(path), path="layers/parcels.geojson")
    assert diagnostic.field == "features[0].geometry"
    assert diagnostic.line == line_of(tmp_path / "layers/parcels.geojson", '"geometry"')
    assert diagnostic.message == (
        "layer layers/parcels.geojson: coordinate (113.050000, 23.700000) looks like longitude/latitude degrees, "
        "but EPSG:4526 is a projected CRS in metres (declared: submission.crs EPSG:4526; parcel P1)"
    )


def test_eastings_without_zone_prefix_are_outside_the_area_of_use(tmp_path):
    path = write(tmp_path, BASE.replace(f"  boundary: {wkt_square(X0, Y0, 200)}", f"  boundary: {wkt_square(401000, Y0, 200)}"))
    diagnostic = only(load_errors(path), field="unit_plan.boundary")
    assert diagnostic.line == line_of(path, "  boundary: POLYGON")
    assert "coordinate (401000.00, 2622000.00) lies far outside the area of use of EPSG:4526" in diagnostic.message
    assert "zone prefix missing" in diagnostic.hint


def test_unknown_crs(tmp_path):
    path = write(tmp_path, BASE.replace("crs: EPSG:4526", "crs: EPSG:99999"))
    diagnostic = only(load_errors(path), field="submission.crs")
    assert diagnostic.line == line_of(path, "crs: EPSG:99999")
    assert diagnostic.message.startswith("unknown CRS 'EPSG:99999'")


def test_every_error_is_collected(tmp_path):
    manifest = (BASE.replace("award: listing", "award: bidding")
                .replace("      kind: forest_management\n", "")
                .replace("status: draft", "status: drafted"))
    path = write(tmp_path, manifest)
    fields = {d.field for d in load_errors(path)}
    assert {"contracts[0].award", "unit_plan.rights[0].kind", "detailed_plan.status"} <= fields


def test_cli_style_rendering_reads_well(tmp_path):
    path = write(tmp_path, BASE.replace("award: listing", "award: bidding"))
    (diagnostic,) = load_errors(path)
    line = line_of(path, "award: bidding")
    assert diagnostic.render() == (
        f"submission.yaml:{line}: error: contracts[0].award: expected one of: tender, auction, listing, agreement; got 'bidding'\n"
        "        award: bidding"
    )


def test_no_traceback_for_a_folder_given_as_manifest(tmp_path):
    code = "from rulecheck.model.submission import load_submission\nfrom rulecheck.diagnostics import InputError\n" \
           f"try:\n    load_submission({str(tmp_path)!r})\nexcept InputError as e:\n    print(e.diagnostics[0].render())\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "expected a YAML manifest file, got a folder" in out.stdout


def test_errors_of_the_manifest_and_of_a_layer_are_reported_together(tmp_path):
    layer = feature_collection([parcel("P1", X0, Y0, land_use="0399"), parcel("P1", X0 + 100, Y0)])
    manifest = BASE.replace(f"  parcels:\n    - id: P1\n      land_use: \"0301\"\n      geometry: {wkt_square(X0, Y0)}\n", "  parcels: layers/parcels.geojson\n")
    path = write(tmp_path, manifest.replace("award: listing", "award: bidding"), {"layers/parcels.geojson": layer})
    found = {(d.path, d.field) for d in load_errors(path)}
    assert found == {
        ("submission.yaml", "contracts[0].award"),
        ("layers/parcels.geojson", "features[0].properties.land_use"),
        ("layers/parcels.geojson", "features[1].properties.id"),
    }
