"""The six inventories and the package program (issue 10): inline or from a layer, a place optional, located errors."""

from __future__ import annotations

from pathlib import Path

from loader_helpers import BASE, X0, Y0, feature_collection, line_of, load_errors, only, square, wkt_square, write

from rulecheck.model.submission import load_submission

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

INVENTORIES = f"""\
  zone: non_concentrated
  county_scheme: XX-ZTFA-01
  inventories:
    resources:
      - {{id: RS1, land_use: "0301", quantity: 1, unit: ha, ownership: collective, state: in_use, geometry: "{wkt_square(X0, Y0)}"}}
      - {{id: RS2, land_use: "0301", quantity: 2, unit: ha}}
    assets:
      - {{id: A1, package: PK1, land_use: "0301", value_wan_yuan: 20, registered: true}}
    funds:
      - {{id: F1, channel: fiscal, name: 财政资金, amount_wan_yuan: 50}}
    conditions: []
    demands:
      - {{id: D1, party: market, intent: development, text: 招商}}
    policies:
      - {{id: PO1, kind: collective_market_entry, name: 入市办法}}
  finance: {{costs: {{public_interest: 10}}, revenues: {{}}}}
"""
PROGRAM = """\
      program:
        survey: {date: 2025-11-30, appraised_value_wan_yuan: 20, registered: true}
        assembly: {holder: 储备中心, paths: [acquisition, lease], funds: [F1], deadline: 2026-06-30}
        approvals:
          - {resource: "0301", authority: 省林业局, status: pending, date: 2026-05-01}
      revenue_sharing:
        - {party: 村集体, share: 100, role: owner_representative}
"""


def manifest(extra_unit: str = INVENTORIES, program: str = PROGRAM) -> str:
    text = BASE.replace("  packages:\n", extra_unit + "  packages:\n")
    return text.replace("      rights: [R1]\n", "      rights: [R1]\n" + program)


def test_inline_inventories_and_program_load_with_their_lines(tmp_path):
    path = write(tmp_path, manifest())
    unit = load_submission(path).unit_plan
    inventories = unit.inventories
    assert [r.id for r in inventories.resources] == ["RS1", "RS2"]
    assert inventories.resources[0].geometry.area == 10_000
    assert inventories.resources[1].geometry is None  # a place is optional
    assert inventories.conditions == [] and inventories.funds[0].channel == "fiscal"
    assert inventories.assets[0].source.line == line_of(path, "id: A1")
    assert unit.zone == "non_concentrated" and unit.finance.costs == {"public_interest": 10.0}
    (approval,) = unit.packages[0].program.approvals
    assert approval.id == "PK1/0301" and str(approval.date) == "2026-05-01"
    assert unit.packages[0].revenue_sharing[0].role == "legal_owner_representative"  # v1's owner representative is the legal one


def test_a_submission_without_the_new_parts_still_loads(tmp_path):
    unit = load_submission(write(tmp_path, BASE)).unit_plan
    assert unit.inventories is None and unit.zone is None and unit.packages[0].program is None


def test_an_inventory_left_out_is_absent_not_empty(tmp_path):
    path = write(tmp_path, manifest(INVENTORIES.replace("    conditions: []\n", "")))
    inventories = load_submission(path).unit_plan.inventories
    assert inventories.conditions is None and inventories.demands is not None


def test_a_resources_inventory_from_a_geojson_layer(tmp_path):
    layer = feature_collection([
        {"type": "Feature", "properties": {"id": "RS1", "land_use": "0301", "quantity": 1, "unit": "ha"},
         "geometry": {"type": "Polygon", "coordinates": [square(X0, Y0)]}},
        {"type": "Feature", "properties": {"id": "RS2", "land_use": "0101", "quantity": 3, "unit": "mu"}, "geometry": None},
    ])
    inline = INVENTORIES[INVENTORIES.index("    resources:\n"):INVENTORIES.index("    assets:\n")]
    text = INVENTORIES.replace(inline, "    resources: layers/resources.geojson\n")
    path = write(tmp_path, manifest(text), {"layers/resources.geojson": layer})
    resources = load_submission(path).unit_plan.inventories.resources
    assert [(r.id, r.source.path) for r in resources] == [("RS1", "layers/resources.geojson"), ("RS2", "layers/resources.geojson")]
    assert resources[0].geometry.area == 10_000 and resources[1].geometry is None


def test_the_fixtures_read_inventories_from_geojson_and_geopackage_layers():
    eco = load_submission(FIXTURES / "eco-recreation" / "submission.yaml").unit_plan.inventories
    assert eco.resources[0].source.path == "layers/resources.geojson" and not eco.resources[0].geometry.is_empty
    mine = load_submission(FIXTURES / "mine-land" / "submission.yaml").unit_plan.inventories
    assert mine.resources[0].source.path == "layers/mine.gpkg#resources" and not mine.resources[0].geometry.is_empty
    sea = load_submission(FIXTURES / "land-sea" / "submission.yaml").unit_plan.inventories
    assert all(r.geometry is not None for r in sea.resources) and len(sea.assets) == 4


def test_an_unknown_fund_channel_is_located_with_a_suggestion(tmp_path):
    path = write(tmp_path, manifest(INVENTORIES.replace("channel: fiscal", "channel: fiscl")))
    diagnostic = only(load_errors(path), field="unit_plan.inventories.funds[0].channel")
    assert diagnostic.line == line_of(path, "channel: fiscl")
    assert "expected one of: fiscal, special_bond" in diagnostic.message and diagnostic.hint == "did you mean 'fiscal'?"


def test_an_unknown_role_and_policy_kind_are_located(tmp_path):
    text = manifest(INVENTORIES.replace("kind: collective_market_entry", "kind: market_entry"),
                    PROGRAM.replace("role: owner_representative", "role: owner"))
    diagnostics = load_errors(write(tmp_path, text))
    policy = only(diagnostics, field="unit_plan.inventories.policies[0].kind")
    assert "collective_market_entry" in policy.message and "'market_entry'" in policy.message
    role = only(diagnostics, field="unit_plan.packages[0].revenue_sharing[0].role")
    assert "owner_representative, local_government, assembler, operator, collective" in role.message
    assert "legal_owner_representative, agent_owner_representative" in role.message


def test_a_date_that_is_not_a_date_is_located(tmp_path):
    path = write(tmp_path, manifest(program=PROGRAM.replace("deadline: 2026-06-30", "deadline: 2026-06-31")))
    diagnostic = only(load_errors(path), field="unit_plan.packages[0].program.assembly.deadline")
    assert diagnostic.line == line_of(path, "deadline: 2026-06-31")
    assert diagnostic.message == "expected a date (YYYY-MM-DD); got '2026-06-31'"


def test_an_unknown_approval_status_is_located(tmp_path):
    path = write(tmp_path, manifest(program=PROGRAM.replace("status: pending", "status: pendng")))
    diagnostic = only(load_errors(path), field="unit_plan.packages[0].program.approvals[0].status")
    assert diagnostic.hint == "did you mean 'pending'?"


def test_inventory_ids_are_unique_and_land_use_codes_known(tmp_path):
    text = INVENTORIES.replace("id: RS2, land_use: \"0301\"", "id: RS1, land_use: \"0999\"")
    diagnostics = load_errors(write(tmp_path, manifest(text)))
    duplicate = only(diagnostics, field="unit_plan.inventories.resources[1].id")
    assert "duplicate resource id 'RS1'" in duplicate.message
    unknown = only(diagnostics, field="unit_plan.inventories.resources[1].land_use")
    assert "unknown land-use code '0999' (resource RS1)" in unknown.message


def test_a_bad_place_and_a_place_on_a_fund_are_refused(tmp_path):
    text = INVENTORIES.replace(wkt_square(X0, Y0), "POLYGON ((1 2, 3")
    text = text.replace("amount_wan_yuan: 50}", f'amount_wan_yuan: 50, geometry: "{wkt_square(X0, Y0)}"}}')
    diagnostics = load_errors(write(tmp_path, manifest(text)))
    assert only(diagnostics, field="unit_plan.inventories.resources[0].geometry").message.startswith("unreadable geometry")
    assert "unknown field 'geometry'" in only(diagnostics, field="unit_plan.inventories.funds[0].geometry").message


def test_an_inventory_of_the_wrong_shape_is_refused(tmp_path):
    diagnostics = load_errors(write(tmp_path, manifest(INVENTORIES.replace("    conditions: []", "    conditions: 3"))))
    assert only(diagnostics, field="unit_plan.inventories.conditions").line is not None
