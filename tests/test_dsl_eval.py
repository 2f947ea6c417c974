"""Evaluation semantics of the rule language on small inline-WKT submissions: quantifiers, lookups, units, spatial joins."""

from __future__ import annotations

import json
import random

import pytest
import shapely

from test_dsl_support import (
    FIXTURES, PARAMS_DIR, box, cli, conflicts_of, outcome_of, parcel, right, rule_text, run_pack, subjects,
    write_pack, write_submission,
)

# ---- one rule per expression, one run: the status of each ------------------------------------------------


def _statuses(tmp_path, manifest, cases: list[str], *, prefix: str = "", with_params: bool = False, **kwargs):
    """Run one rule `require <expr>` per case (after the shared steps `prefix`); the rule result of each."""
    rules = []
    for i, expr in enumerate(cases):
        body = (prefix + "\n" if prefix else "") + f"require {expr}"
        rules.append(rule_text(f"IND-{900 + i}", body))
    record = run_pack(tmp_path, "\n".join(rules), manifest, with_params=with_params, **kwargs)
    return record, {expr: outcome_of(record, f"IND-{900 + i}") for i, expr in enumerate(cases)}


@pytest.fixture
def three_rights(tmp_path):
    """Three rights side by side: terms 30, 40, 50 years, areas 10000 m² each (one declares none)."""
    return write_submission(tmp_path, rights=[
        right("R1", box(0, 0), term_years=30, area_m2=10000),
        right("R2", box(100, 0), term_years=40, area_m2=10000),
        right("R3", box(200, 0), kind="construction_land_use", land_use="0901", term_years=50),
    ], parcels=[parcel("P1", box(0, 0, 300, 100), far_max=1.2)])


QUANTIFIERS = [
    ("every r in unit_plan.rights where r.land_use under \"03\" satisfies r.term_years <= 40 years", "pass"),
    ("every r in unit_plan.rights satisfies r.term_years <= 40 years", "fail"),
    ("every r in unit_plan.rights where r.term_years > 100 years satisfies false", "pass"),  # vacuous
    ("any r in unit_plan.rights where r.term_years > 45 years", "pass"),
    ("any r in unit_plan.rights where r.term_years > 60 years", "fail"),
    ("exists r in unit_plan.rights where r.kind == construction_land_use", "pass"),
    ("exists r in unit_plan.rights where r.kind == mining", "fail"),
    ("no r in unit_plan.rights where r.term_years > 60 years", "pass"),
    ("no r in unit_plan.rights where r.land_use under \"09\"", "fail"),
    # absent data: a decisive element wins, otherwise the outcome is indeterminate
    ("every r in unit_plan.rights satisfies r.area_m2 <= 10000 m2", "indeterminate"),
    ("every r in unit_plan.rights satisfies r.area_m2 < 10000 m2", "fail"),
    ("any r in unit_plan.rights where r.area_m2 > 10000 m2", "indeterminate"),
    ("every r in unit_plan.rights where present(r.area_m2) satisfies r.area_m2 == 10000 m2", "pass"),
]


def test_quantifiers_every_any_exists_no(tmp_path, three_rights):
    _, got = _statuses(tmp_path, three_rights, [expr for expr, _ in QUANTIFIERS])
    assert {expr: got[expr]["status"] for expr, _ in QUANTIFIERS} == dict(QUANTIFIERS)


AGGREGATES = [
    ("count(unit_plan.rights) == 3", "pass"),
    ("count(r for r in unit_plan.rights where r.kind == forest_management) == 2", "pass"),
    ("sum(r.term_years for r in unit_plan.rights) == 120 years", "pass"),
    ("sum(r.term_years for r in unit_plan.rights where r.land_use under \"03\") == 70 years", "pass"),
    ("sum(area(r) for r in unit_plan.rights) == 3 ha", "pass"),
    ("sum(area(r) for r in unit_plan.rights where r.term_years > 100 years) == 0 m2", "pass"),
    ("min(r.term_years for r in unit_plan.rights) == 30 years", "pass"),
    ("max(r.term_years for r in unit_plan.rights where r.kind == forest_management) == 40 years", "pass"),
    ("max(r.term_years for r in unit_plan.rights) == 40 years", "fail"),
    ("sum(r.area_m2 for r in unit_plan.rights) == 20000 m2", "indeterminate"),  # R3 declares no area
    ("sum(r.area_m2 for r in unit_plan.rights where present(r.area_m2)) == 20000 m2", "pass"),
]


def test_aggregates_over_filtered_collections(tmp_path, three_rights):
    _, got = _statuses(tmp_path, three_rights, [expr for expr, _ in AGGREGATES])
    assert {expr: got[expr]["status"] for expr, _ in AGGREGATES} == dict(AGGREGATES)


UNITS_AND_TOLERANCES = [
    ("90 mu == 60000 m2", "pass"),
    ("90 亩 == 60000 m2", "pass"),
    ("6 ha == 60000 m2", "pass"),
    ("15 mu == 1 ha", "pass"),
    ("1 km2 == 100 ha", "pass"),
    ("1 km == 1000 m", "pass"),
    ("(90 mu as ha) == 6 ha", "pass"),
    ("90.001 mu == 60000 m2", "fail"),  # exact factors: 0.67 m² off is not equal
    ("59999.7 m2 == 60000 m2 ± 1 m2", "pass"),
    ("59998.9 m2 == 60000 m2 ± 1 m2", "fail"),
    ("59999.7 m2 == 60000 m2 +- 1 m2", "pass"),
    ("59750 m2 == 60000 m2 ± tolerance(1 m2, 0.5 %)", "pass"),  # relative: 300 m² allowed
    ("59650 m2 == 60000 m2 ± tolerance(1 m2, 0.5 %)", "fail"),
    ("1.5 m2 == 2 m2 ± tolerance(1 m2, 0.5 %)", "pass"),  # absolute wins on small areas
    ("60290 m2 <= 60000 m2 ± 0.5 %", "pass"),
    ("60310 m2 <= 60000 m2 ± 0.5 %", "fail"),
    ("30 % == 0.3", "pass"),
]


def test_unit_conversions_are_exact_and_tolerances_apply(tmp_path, three_rights):
    _, got = _statuses(tmp_path, three_rights, [expr for expr, _ in UNITS_AND_TOLERANCES])
    assert {expr: got[expr]["status"] for expr, _ in UNITS_AND_TOLERANCES} == dict(UNITS_AND_TOLERANCES)


DATES = [
    ("as_of == 2026-03-01", "pass"),
    ("as_of + 5 years == 2031-03-01", "pass"),
    ("2024-02-29 + 1 years == 2025-02-28", "pass"),
    ("2020-05-01 - 3 years == 2017-05-01", "pass"),
    ("2019-01-01 < 2020-05-01", "pass"),
    ("2021-01-01 <= 2020-05-01", "fail"),
    ("every c in contracts satisfies c.start + 2 years > as_of", "pass"),
    ("every c in contracts satisfies c.start >= as_of", "fail"),
]


@pytest.fixture
def with_contract(tmp_path):
    return write_submission(tmp_path, rights=[right(f"R{i}", box(100 * i, 0), "construction_land_use", "0901")
                                              for i in (1, 2, 3)],
                            parcels=[parcel("P1", box(100, 0), "0901", far_max=1.2),
                                     parcel("P2", box(300, 0), "0901")],
                            packages=[{"id": "PK1", "rights": ["R1", "R2", "R3"]}],
                            contracts=[{"id": "C1", "package": "PK1", "start": "2025-06-01", "price_wan_yuan": 100,
                                        "items": [{"right": "R1", "parcel": "P1", "far_max": 1.6},
                                                  {"right": "R2", "parcel": "P99", "far_max": 1.0},
                                                  {"right": "R3", "parcel": "P2", "far_max": 1.0}]}])


def test_dates_as_of_years_and_comparison(tmp_path, with_contract):
    _, got = _statuses(tmp_path, with_contract, [expr for expr, _ in DATES])
    assert {expr: got[expr]["status"] for expr, _ in DATES} == dict(DATES)


def test_as_of_of_the_run_overrides_the_submission(tmp_path, with_contract):
    _, got = _statuses(tmp_path, with_contract, ["as_of == 2019-01-01"], as_of="2019-01-01")
    assert got["as_of == 2019-01-01"]["status"] == "pass"


LAND_USE = [
    ('"0901" under "09"', "pass"),
    ('"0901" under "0902"', "fail"),
    ('"1001" under "09"', "fail"),
    ('"0901" under ["03", "09"]', "pass"),
    ('"0901" in operating', "pass"),
    ('"0701" in operating', "pass"),
    ('"0702" in operating', "fail"),
    ('"0301" in operating', "fail"),
    ('"0301" not in operating', "pass"),
    ('"0301" in forest', "pass"),
    ("every r in unit_plan.rights where r.land_use under \"09\" satisfies r.land_use in operating", "pass"),
    ("no r in unit_plan.rights where r.land_use in operating and r.kind == forest_management", "pass"),
]


def test_land_use_under_and_groups(tmp_path, three_rights):
    _, got = _statuses(tmp_path, three_rights, [expr for expr, _ in LAND_USE])
    assert {expr: got[expr]["status"] for expr, _ in LAND_USE} == dict(LAND_USE)


# ---- lookups, let, absent data -------------------------------------------------------------------------


FAR_RULE = rule_text("IND-910", """
    for each item in contracts.items
    let parcel = detailed_plan.parcels[item.parcel]
    require item.far_max <= parcel.far_max
""", message='message zh "合同 {item} 容积率 {item.far_max} 高于 {parcel} 的 {parcel.far_max}" '
             'en "Item {item} FAR {item.far_max} above {parcel.far_max} of {parcel}"')


def test_let_and_lookup_by_id(tmp_path, with_contract):
    record = run_pack(tmp_path, FAR_RULE, with_contract)
    (conflict,) = conflicts_of(record, "IND-910")
    assert subjects(conflict) == ["C1/R1", "P1"]
    assert conflict["message"] == "Item C1/R1 FAR 1.6 above 1.2 of P1"
    assert conflict["expected"] == "item.far_max <= 1.2"
    assert conflict["actual"] == "item.far_max = 1.6"
    assert [s["collection"] for s in conflict["subjects"]] == ["contracts", "parcels"]
    assert conflict["subjects"][0]["source"]["path"] == "submission.yaml"
    assert outcome_of(record, "IND-910")["status"] == "fail"


def test_missing_id_and_absent_field_are_indeterminate_and_say_what_was_missing(tmp_path, with_contract):
    record = run_pack(tmp_path, FAR_RULE, with_contract)
    stuck = sorted(record["indeterminate"], key=lambda i: i["missing"])
    assert len(stuck) == 2, stuck
    by_missing = {i["missing"]: subjects(i) for i in stuck}
    # P99 is not in the detailed plan; P2 has no far_max
    assert any("P99" in what and "parcels" in what for what in by_missing), by_missing
    assert any("far_max" in what and "P2" in what for what in by_missing), by_missing
    assert sorted(ids[0] for ids in by_missing.values()) == ["C1/R2", "C1/R3"]
    assert record["summary"]["indeterminate"] == 2
    assert outcome_of(record, "IND-910")["indeterminate"] == 2


def test_present_and_default_decide_absent_data(tmp_path, with_contract):
    pack = rule_text("IND-911", """
        for each p in detailed_plan.parcels where present(p.far_max)
        require p.far_max <= 1.5
    """) + rule_text("IND-912", """
        for each p in detailed_plan.parcels
        require default(p.far_max, 0) <= 1.0
    """) + rule_text("IND-913", """
        for each p in detailed_plan.parcels
        require p.far_max <= 1.5
    """)
    record = run_pack(tmp_path, pack, with_contract)
    assert outcome_of(record, "IND-911") == {"rule": "IND-911", "status": "pass", "checked": 1, "failed": 0,
                                             "indeterminate": 0}
    assert [subjects(c) for c in conflicts_of(record, "IND-912")] == [["P1"]]  # P2 defaults to 0
    assert outcome_of(record, "IND-912")["indeterminate"] == 0
    assert [(subjects(i), i["missing"]) for i in record["indeterminate"]] == [(["P2"], "far_max of P2")]
    assert outcome_of(record, "IND-913")["status"] == "indeterminate"


# ---- geometry ---------------------------------------------------------------------------------------------


def test_touching_polygons_do_not_overlap(tmp_path):
    manifest = write_submission(tmp_path, rights=[right("R1", box(0, 0)), right("R2", box(100, 0)),
                                                  right("R3", box(150, 50))])
    pack = rule_text("LAY-901", """
        for each a in unit_plan.rights
        for each b in unit_plan.rights where a.id < b.id and overlaps(a, b)
        require false
    """) + rule_text("LAY-902", """
        for each a in unit_plan.rights
        for each b in unit_plan.rights where a.id < b.id and intersects(a, b)
        require overlap_area(a, b) == 0 m2
    """)
    record = run_pack(tmp_path, pack, manifest)
    # R1|R2 share an edge: intersecting, not overlapping; R2 and R3 overlap by 50 x 50
    assert [subjects(c) for c in conflicts_of(record, "LAY-901")] == [["R2", "R3"]]
    assert [subjects(c) for c in conflicts_of(record, "LAY-902")] == [["R2", "R3"]]
    assert outcome_of(record, "LAY-902")["checked"] == 2  # R1-R2 (touching) and R2-R3
    assert conflicts_of(record, "LAY-901")[0]["geometry"]["type"] == "Polygon"


def _random_layout(seed: int, n: int):
    """n small rectangles and triangles scattered over 2 km², some sharing edges or corners exactly."""
    rng = random.Random(seed)
    shapes = []
    for i in range(n):
        x, y = rng.randrange(0, 2000, 10), rng.randrange(0, 1000, 10)
        w, h = rng.randrange(10, 120, 10), rng.randrange(10, 120, 10)
        if i % 5 == 4:
            wkt = f"POLYGON (({38_401_000 + x} {2_622_000 + y}, {38_401_000 + x + w} {2_622_000 + y}, " \
                  f"{38_401_000 + x} {2_622_000 + y + h}, {38_401_000 + x} {2_622_000 + y}))"
        else:
            wkt = box(x, y, w, h)
        shapes.append(wkt)
    return shapes


def test_spatial_join_matches_brute_force(tmp_path):
    rights_wkt = _random_layout(7, 100)
    parcels_wkt = _random_layout(11, 100)
    manifest = write_submission(
        tmp_path,
        rights=[right(f"R{i:03d}", w) for i, w in enumerate(rights_wkt)],
        parcels=[parcel(f"P{i:03d}", w) for i, w in enumerate(parcels_wkt)],
        boundary=box(-100, -100, 2300, 1300),
    )
    pack = rule_text("LAY-903", """
        for each a in unit_plan.rights
        for each b in detailed_plan.parcels where intersects(a, b)
        require false
    """) + rule_text("LAY-904", """
        for each a in unit_plan.rights
        for each b in detailed_plan.parcels where overlaps(a, b)
        require false
    """) + rule_text("LAY-905", """
        for each a in unit_plan.rights
        require no b in detailed_plan.parcels where intersects(b, a)
    """)
    record = run_pack(tmp_path, pack, manifest)
    rg = [shapely.from_wkt(w) for w in rights_wkt]
    pg = [shapely.from_wkt(w) for w in parcels_wkt]
    want_intersects = {(f"R{i:03d}", f"P{j:03d}") for i, a in enumerate(rg) for j, b in enumerate(pg) if a.intersects(b)}
    want_overlaps = {(f"R{i:03d}", f"P{j:03d}") for i, a in enumerate(rg) for j, b in enumerate(pg)
                     if a.intersection(b).area > 0}
    got_intersects = [tuple(subjects(c)) for c in conflicts_of(record, "LAY-903")]
    got_overlaps = [tuple(subjects(c)) for c in conflicts_of(record, "LAY-904")]
    assert len(want_intersects) > 30 and want_overlaps < want_intersects  # the layout has touching pairs
    assert len(got_intersects) == len(set(got_intersects))
    assert set(got_intersects) == want_intersects
    assert set(got_overlaps) == want_overlaps
    assert {subjects(c)[0] for c in conflicts_of(record, "LAY-905")} == {a for a, _ in want_intersects}


# ---- determinism, params, explanations (through the command line) --------------------------------------


def test_two_runs_give_identical_json_bytes():
    args = ["check", FIXTURES / "eco-recreation-defects" / "submission.yaml", "--format", "json", "--explain"]
    first, second = cli(*args), cli(*args)
    assert first.returncode == second.returncode == 1, first.stderr
    assert first.stdout.encode() == second.stdout.encode()
    assert json.loads(first.stdout)["conflicts"]


def test_determinism_of_a_spatial_join_through_the_api(tmp_path):
    manifest = write_submission(tmp_path, rights=[right(f"R{i:03d}", w) for i, w in enumerate(_random_layout(3, 60))],
                                boundary=box(-100, -100, 2300, 1300))
    pack = rule_text("LAY-906", """
        for each a in unit_plan.rights
        for each b in unit_plan.rights where a.id < b.id and intersects(a, b)
        require overlap_area(a, b) <= 100 m2
    """)
    one = json.dumps(run_pack(tmp_path, pack, manifest, explain=True), ensure_ascii=False, sort_keys=False)
    two = json.dumps(run_pack(tmp_path, pack, manifest, explain=True), ensure_ascii=False, sort_keys=False)
    assert one == two and '"LAY-906"' in one


EXPLORATION_RULE = rule_text("SUP-901", """
    for each r in unit_plan.rights where r.kind == exploration
    require r.term_years <= exploration_max_term
""")


@pytest.fixture
def exploration(tmp_path):
    manifest = write_submission(tmp_path, rights=[right("E1", box(0, 0), kind="exploration", land_use="1002",
                                                        term_years=4)])
    pack = write_pack(tmp_path, EXPLORATION_RULE, "sup.rule")
    return manifest, pack


@pytest.mark.parametrize("as_of, status, cap, since", [
    ("2019-01-01", 1, "3 years", "1998-02-12"),
    ("2021-01-01", 0, "5 years", "2020-05-01"),
])
def test_dated_param_editions(exploration, as_of, status, cap, since):
    manifest, pack = exploration
    proc = cli("check", manifest, "--rules", pack, "--rules", PARAMS_DIR, "--as-of", as_of, "--format", "json",
               "--lang", "en")
    assert proc.returncode == status, proc.stderr
    record = json.loads(proc.stdout)
    assert record["submission"]["as_of"] == as_of
    (used,) = [p for p in record["rules"]["params"] if p["name"] == "exploration_max_term"]
    assert (used["value"], used["from"]) == (cap, since)
    assert used["file"].endswith("terms.rule")
    assert [subjects(c) for c in record["conflicts"]] == ([["E1"]] if status else [])


def test_param_override_changes_the_value_and_names_its_source(exploration, tmp_path):
    manifest, pack = exploration
    override = write_pack(tmp_path, """
        param exploration_max_term
          title zh "探矿权有效期上限（省）" en "Exploration term cap (province)"
          from 1998-02-12 source "某省自然资源厅文件（测试）"
            value 2 years
    """, "province.rule")
    proc = cli("check", manifest, "--rules", pack, "--rules", PARAMS_DIR, "--params", override, "--as-of",
               "2021-01-01", "--format", "json", "--lang", "en")
    assert proc.returncode == 1, proc.stderr
    record = json.loads(proc.stdout)
    (used,) = [p for p in record["rules"]["params"] if p["name"] == "exploration_max_term"]
    assert used["value"] == "2 years"
    assert used["source"] == "某省自然资源厅文件（测试）"
    assert used["file"].endswith("province.rule")
    assert any(p.endswith("province.rule") for p in record["rules"]["packs"])
    (conflict,) = record["conflicts"]
    assert conflict["expected"] == "r.term_years <= 2 years"
    assert conflict["actual"] == "r.term_years = 4 years"


def test_explain_names_the_operand_values(tmp_path, with_contract):
    pack = write_pack(tmp_path, FAR_RULE, "ind.rule")
    proc = cli("check", with_contract, "--rules", pack, "--explain", "--format", "json", "--lang", "en")
    assert proc.returncode == 1, proc.stderr
    (conflict,) = json.loads(proc.stdout)["conflicts"]
    explained = {e["expr"]: e["value"] for e in conflict["explanation"]}
    assert explained["item.far_max"] == "1.6"
    assert explained["parcel.far_max"] == "1.2"
    assert explained["item.far_max <= parcel.far_max"] == "false"


def test_explain_is_empty_without_the_flag(tmp_path, with_contract):
    pack = write_pack(tmp_path, FAR_RULE, "ind.rule")
    proc = cli("check", with_contract, "--rules", pack, "--format", "json")
    assert proc.returncode == 1, proc.stderr
    assert [c["explanation"] for c in json.loads(proc.stdout)["conflicts"]] == [[]]


# ---- bugs found by these tests, now fixed -------------------------------------


UNDECIDED_FILTER = [
    # R3 has no area_m2, so its `where` cannot be decided; R1/R2 decide the answer anyway
    ("any r in unit_plan.rights where r.area_m2 >= 10000 m2", "pass"),
    ("no r in unit_plan.rights where r.area_m2 >= 10000 m2", "fail"),
    ("every r in unit_plan.rights where r.area_m2 > 0 m2 satisfies r.term_years < 35 years", "fail"),
]


def test_quantifier_decided_despite_an_undecided_filter(tmp_path, three_rights):
    _, got = _statuses(tmp_path, three_rights, [expr for expr, _ in UNDECIDED_FILTER])
    assert {expr: got[expr]["status"] for expr, _ in UNDECIDED_FILTER} == dict(UNDECIDED_FILTER)


def test_spatial_index_does_not_change_within_with_tolerance(tmp_path):
    manifest = write_submission(tmp_path, rights=[right("R1", box(0, 0)), right("R4", box(5000, 5000, 10))],
                                boundary=box(0, 0, 300, 100))
    indexed = rule_text("LAY-907", """
        for each r in unit_plan.rights where within(r, unit_plan.boundary, 1 ha)
        require false
    """)
    plain = rule_text("LAY-908", """
        for each r in unit_plan.rights where within(r, unit_plan.boundary, 1 ha) or false
        require false
    """)
    record = run_pack(tmp_path, indexed + plain, manifest)
    # brute force: R4 (100 m², wholly outside) is within the boundary up to 1 ha, so both rules list R1 and R4
    assert [subjects(c) for c in conflicts_of(record, "LAY-908")] == [["R1"], ["R4"]]
    assert [subjects(c) for c in conflicts_of(record, "LAY-907")] == [["R1"], ["R4"]]


def test_spatial_index_reports_absent_geometry_as_indeterminate(tmp_path):
    manifest = write_submission(tmp_path, rights=[right("R1", box(0, 0)), right("R2", box(100, 0))],
                                packages=[{"id": "PK1", "rights": ["R1"], "boundary": box(0, 0, 150)},
                                          {"id": "PK2", "rights": ["R2"]}])  # PK2 has no boundary
    indexed = rule_text("LAY-909", """
        for each r in unit_plan.rights where r.id == "R2"
        for each pk in unit_plan.packages where intersects(pk, r)
        require false
    """)
    plain = rule_text("LAY-910", """
        for each r in unit_plan.rights where r.id == "R2"
        for each pk in unit_plan.packages where intersects(pk, r) or false
        require false
    """)
    record = run_pack(tmp_path, indexed + plain, manifest)
    for rule_id in ("LAY-910", "LAY-909"):
        assert [subjects(c) for c in conflicts_of(record, rule_id)] == [["R2", "PK1"]]
        assert [i["missing"] for i in record["indeterminate"] if i["rule"] == rule_id] == ["geometry of PK2"], rule_id


def test_any_aggregate_parses(tmp_path, three_rights):
    _, got = _statuses(tmp_path, three_rights, ["any(r.term_years > 45 years for r in unit_plan.rights)",
                                                "all(r.term_years > 45 years for r in unit_plan.rights)"])
    assert [o["status"] for o in got.values()] == ["pass", "fail"]


def test_percent_field_against_a_bare_number(tmp_path):
    from rulecheck.diagnostics import InputError

    manifest = write_submission(tmp_path, rights=[right("R1", box(0, 0))],
                                parcels=[parcel("P1", box(0, 0), "0901", far_max=1.2, green_min=30)])
    try:  # the bundle says green_min: 30 (percent); the author writes 30 as the bundle does
        _, got = _statuses(tmp_path, manifest, ["every p in detailed_plan.parcels satisfies p.green_min >= 30",
                                                "every p in detailed_plan.parcels satisfies p.green_min >= 30 %"])
    except InputError as err:  # or: rejected at load, asking for a unit
        assert "%" in str(err)
        return
    assert [o["status"] for o in got.values()] == ["pass", "pass"]
