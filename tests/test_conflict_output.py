"""How a conflict is written: each template hole shows its own expression's value, places become the GeoJSON that
writing and parsing them would give, values print by their class (the faster paths of the conflict output)."""

from __future__ import annotations

import datetime as dt
import gc
import json
import random
import struct
from enum import Enum, IntEnum

import numpy as np
import shapely

from rulecheck.dsl.compiled import _as_geojson, geojson_objects
from rulecheck.dsl.units import Quantity
from rulecheck.dsl.values import Missing, format_value
from test_dsl_support import FIXTURES, invoke

MINIMAL = FIXTURES / "minimal" / "submission.yaml"

# the two messages' holes stand at the same columns of their lines, and hold different expressions
CROSSED = """
rule LAY-951
  title zh "示例" en "example"
  severity error
  basis "测试依据" "测试条文"
  for each a in unit_plan.rights
  for each b in unit_plan.rights where a.id < b.id
  require a.id == b.id
  expected zh "{b} 即 {a}" en "{a} is {b}"
  actual zh "{a} 非 {b}" en "{b} is not {a}"
  message zh "权益 {a} 先于 {b}"
          en "权益 {b} 后于 {a}"
"""


def test_each_hole_of_a_message_shows_its_own_value(tmp_path):
    (tmp_path / "p.rule").write_text(CROSSED, encoding="utf-8")
    for lang in ("zh", "en"):
        result = invoke("check", str(MINIMAL), "--rules", "p.rule", "--format", "json", "--lang", lang,
                        "--fail-on", "never", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        (conflict,) = json.loads(result.stdout)["conflicts"]
        assert conflict["messages"] == {"zh": "权益 R1 先于 R2", "en": "权益 R2 后于 R1"}
        assert (conflict["expected"], conflict["actual"]) == (
            ("R2 即 R1", "R1 非 R2") if lang == "zh" else ("R1 is R2", "R2 is not R1"))


def _double(rng: random.Random) -> float:
    pick = rng.random()
    if pick < 0.15:  # any bit pattern that is a finite number
        value = struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0]
        return value if np.isfinite(value) else 1.0
    if pick < 0.3:
        return rng.choice([0.0, -0.0, 5e-324, 1e-300, 1e300, 1e16, 1e-5, 0.1, 123456789.123456789])
    if pick < 0.7:
        return round(rng.uniform(-1e8, 1e8), 3)
    return rng.uniform(-1e3, 1e3)


def test_geojson_objects_are_what_writing_and_parsing_give():
    rng = random.Random(20261201)
    geoms = []
    for n in range(3000):
        ring = [(_double(rng), _double(rng)) for _ in range(rng.randint(3, 9))]
        kind = n % 8
        if kind < 3:  # polygons, some with holes (valid or not: the coordinates are what counts)
            holes = [[(_double(rng), _double(rng)) for _ in range(rng.randint(3, 5))] for _ in range(kind)]
            geoms.append(shapely.Polygon(ring, holes))
        elif kind == 3:
            geoms.append(shapely.Polygon([(x, y, _double(rng)) for x, y in ring]))  # Z: written as text
        elif kind == 4:
            geoms.append(shapely.MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(2, 2, 3, _double(rng) or 4)]))
        elif kind == 5:
            geoms.append(rng.choice([shapely.Polygon(), shapely.Point(_double(rng), _double(rng)),
                                     shapely.GeometryCollection([shapely.Point(1, 2), shapely.box(0, 0, 1, 1)])]))
        else:  # reduced to the millimetre, as places are
            box = shapely.box(0, 0, rng.uniform(1, 1e4), rng.uniform(1, 1e4))
            geoms.append(shapely.set_precision(box.buffer(3), 0.001))
    with np.errstate(invalid="ignore"):
        geoms.append(shapely.from_wkt("POLYGON ((0 0, 1 0, 1 NaN, 0 0))"))  # not finite: written as text
    for sample in (geoms, geoms[:1], [], rng.sample(geoms, 40), [g for g in geoms if g.geom_type == "Polygon"][:50]):
        expected = [json.loads(shapely.to_geojson(g)) for g in sample]
        # json.dumps tells 1.0 from 1 and -0.0 from 0.0
        assert json.dumps(geojson_objects(sample)) == json.dumps(expected)


def test_a_place_is_reduced_once_a_run_and_forgotten_when_gone():
    parcel = shapely.Polygon([(0, 0), (10.00049, 0), (10, 10.0004), (0, 10)])
    first = [{"geometry": parcel}, {"geometry": None}]
    second = [{"geometry": parcel}, {"geometry": parcel}]
    made: dict = {}
    _as_geojson(first, made)
    assert list(made) == [id(parcel)]
    _as_geojson(second, made)
    written = json.loads(shapely.to_geojson(shapely.set_precision(parcel, 0.001)))
    assert first == [{"geometry": written}, {"geometry": None}] and second == [{"geometry": written}] * 2
    assert second[0]["geometry"] is not second[1]["geometry"]  # each conflict has its own object
    invalid = shapely.Polygon([(0, 0), (10.00049, 10), (10, 0), (0, 10.0004)])  # a bow tie: not reduced
    third = [{"geometry": invalid}]
    _as_geojson(third, made)
    assert third[0]["geometry"] == json.loads(shapely.to_geojson(invalid))
    del parcel, invalid, first[:], second[:], third[:]
    gc.collect()
    assert made == {}  # the places are gone, and so is what was kept of them


class _Kind(Enum):
    forest = "forest_management"


class _Level(IntEnum):
    one = 1


class _Word(str):
    def __str__(self) -> str:
        return "word"


class _Unkeyed(Enum):  # a member that cannot be a dict key
    state = "state"
    __hash__ = None  # type: ignore[assignment]


def test_values_print_by_their_class():
    assert format_value(_Kind.forest, "zh") == "林地经营权" and format_value(_Kind.forest, "en") == "forest_management"
    assert format_value(_Level.one, "en") == "1" and format_value(True, "zh") == "是" and format_value(3, "en") == "3"
    assert format_value(_Word("x"), "en") == "word"  # a subclass of str prints by its own str()
    assert format_value(_Unkeyed.state, "en") == "state" and format_value(_Unkeyed.state, "zh") == "国有"
    assert format_value(None, "zh") == "（缺失）" and format_value(Missing("x"), "en") == "(missing)"
    assert format_value(dt.datetime(2026, 3, 1, 8), "en") == "2026-03-01T08:00:00"
    assert format_value(Quantity.of(1.5, "ha"), "zh") == "1.5 公顷" and format_value(12345.678, "en") == "12,345.68"
    assert format_value([_Kind.forest] * 9, "en") == "[" + ", ".join(["forest_management"] * 8) + ", … (+1)]"
