"""Every fixture loads through load_submission; every broken fixture fails at its planted file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from rulecheck.diagnostics import InputError
from rulecheck.model import submission as loader  # load_submission: the manifest, its layers and its scheme


FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

# fixture: (rights, parcels, control lines, packages, contracts, indicator proposals, duties)
COUNTS = {
    "eco-recreation": (10, 21, 5, 3, 3, 4, 7),  # a historic protection line, and PKG-A's heritage duty (issue 22)
    "eco-recreation-defects": (12, 21, 5, 3, 3, 4, 6),
    "mine-land": (4, 8, 2, 1, 1, 1, 3),
    "land-sea": (3, 9, 2, 2, 2, 1, 3),
    "land-sea-defects": (3, 9, 2, 2, 2, 1, 3),
    "minimal": (2, 2, 0, 0, 0, 0, 0),
}


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_fixture_loads_with_expected_counts(name):
    submission = loader.load_submission(FIXTURES / name / "submission.yaml")
    unit, plan = submission.unit_plan, submission.detailed_plan
    counts = (
        len(unit.rights),
        len(plan.parcels),
        len(plan.control_lines),
        len(unit.packages),
        len(submission.contracts),
        len(unit.indicator_proposals),
        sum(len(p.duties) for p in unit.packages),
    )
    assert counts == COUNTS[name]
    assert unit.boundary is not None and not unit.boundary.is_empty
    for record in [*unit.rights, *plan.parcels, *plan.control_lines]:
        assert record.geometry is not None and not record.geometry.is_empty, record.id
        assert record.source is not None and record.source.line > 0, record.id


def test_eco_recreation_records_point_at_their_lines():
    submission = loader.load_submission(FIXTURES / "eco-recreation" / "submission.yaml")
    rights = {r.id: r for r in submission.unit_plan.rights}
    # rights.geojson is written one feature a line after a five-line header
    assert rights["R01"].source.path.endswith("rights.geojson") and rights["R01"].source.line == 6
    assert rights["R10"].source.line == 15
    assert rights["R05"].overlay is True
    parcels = {p.id: p for p in submission.detailed_plan.parcels}
    assert parcels["P07"].far_max == 1.2
    assert parcels["P07"].area_m2 == pytest.approx(parcels["P07"].geometry.area, abs=0.01)
    contract = submission.contracts[0]
    assert contract.items[2].id == "C-A/R06"
    assert contract.source is not None and contract.source.path.endswith("submission.yaml")


def test_mine_land_reads_the_geopackage_layers():
    submission = loader.load_submission(FIXTURES / "mine-land" / "submission.yaml")
    rights = {r.id: r for r in submission.unit_plan.rights}
    assert rights["MR01"].kind.value == "mining" and rights["MR01"].scale.value == "medium"
    assert rights["MR02"].term_years == 5
    assert rights["MR01"].overlay is False
    assert {c.kind.value for c in submission.detailed_plan.control_lines} == {
        "permanent_basic_farmland", "ecological_protection_red_line",
    }  # fmt: skip


def test_land_sea_inline_wkt_records():
    submission = loader.load_submission(FIXTURES / "land-sea" / "submission.yaml")
    rights = {r.id: r for r in submission.unit_plan.rights}
    assert rights["SR01"].sea_use.value == "aquaculture" and rights["SR01"].term_years == 15
    assert rights["SR01"].area_m2 == pytest.approx(rights["SR01"].geometry.area, abs=0.01)
    assert rights["SR01"].source.path.endswith("submission.yaml")
    package = {p.id: p for p in submission.unit_plan.packages}["PKG-S2"]
    assert package.boundary is not None and rights["SR03"].geometry.within(package.boundary.buffer(0.01))


def test_defect_variant_keeps_the_invalid_parcel_for_the_rules():
    submission = loader.load_submission(FIXTURES / "eco-recreation-defects" / "submission.yaml")
    parcels = {p.id: p for p in submission.detailed_plan.parcels}
    assert not parcels["P15"].geometry.is_valid  # a GEO rule reports it; loading does not refuse it


BROKEN = sorted((FIXTURES / "broken").glob("*.yaml"))


def _planted_line(path: Path) -> int:
    return next(i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if "# <-- planted" in line)


@pytest.mark.parametrize("path", BROKEN, ids=[p.stem for p in BROKEN])
def test_broken_fixture_fails_at_its_planted_line(path):
    with pytest.raises(InputError) as info:
        loader.load_submission(path)
    located = [(d.path, d.line) for d in info.value.errors]
    assert any(Path(p).name == path.name and line == _planted_line(path) for p, line in located), (
        f"expected {path.name}:{_planted_line(path)}, got {located}\n{info.value}"
    )


def test_there_is_one_broken_fixture_per_planted_error_kind():
    assert {p.stem for p in BROKEN} == {
        "yaml-syntax", "unknown-enum", "unknown-landuse", "missing-layer", "duplicate-right-id", "bad-wkt",
    }  # fmt: skip
