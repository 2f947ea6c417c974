"""GeoJSON layers are parsed by orjson where that is sure to give json.loads' document, else by json.loads: the
user sees the same records, lines and messages either way (rulecheck.model.sources._orjson_document)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from fuzz_support import budget
from loader_helpers import BASE, X0, Y0, square
from rulecheck.diagnostics import InputError
from rulecheck.model import sources
from rulecheck.model.submission import load_submission

MANIFEST = re.sub(r"  parcels:\n.*?(?=contracts:)", "  parcels: parcels.geojson\n", BASE, flags=re.S)


def same(a, b) -> bool:
    """Equal values of the same types (1, 1.0 and True are not the same here; nor 0.0 and -0.0), keys in order."""
    stack = [(a, b)]
    while stack:
        a, b = stack.pop()
        if type(a) is not type(b):
            return False
        if isinstance(a, float):
            if not ((math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))):
                return False
        elif isinstance(a, dict):
            if list(a) != list(b):
                return False
            stack.extend((a[k], b[k]) for k in a)
        elif isinstance(a, list):
            if len(a) != len(b):
                return False
            stack.extend(zip(a, b))
        elif a != b:
            return False
    return True


def json_loads_or_error(text: str):
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        return exc


def check_text(text: str):
    """orjson's reading is json.loads' or _NOT_SURE; never a document json.loads would not give."""
    fast = sources._orjson_document(text)
    if fast is sources._NOT_SURE:
        return fast
    expected = json_loads_or_error(text)
    assert not isinstance(expected, Exception), f"orjson read what json.loads refuses ({expected!r}): {text[:200]!r}"
    assert same(fast, expected), text[:200]
    return fast


# ---- the text: each difference between orjson and json.loads goes to json.loads --------------------


@pytest.mark.parametrize("text", [
    "NaN", "[NaN]", '{"a": Infinity}', "[-Infinity]", "[1e400]", "[-1e400]", "[1.7976931348623159e308]",
    "[18446744073709551616]", "[-9223372036854775809]", "[1234567890123456789]", "[" + "1" * 5000 + "]",
    "[0.1234567890123456789]", '["\\ud800"]', '["\\udc00"]', '{"\\ud83d": 1}', '["a\\ud83dz"]',
    "", " ", "[1,]", "{}x", "[1] [2]", "1, 2", "] , [", "[\f1]", "\ufeff[]", '["\x00"]', "[01]", "[.5]", "[1.]",
    "[True]", "[nan]",
])
def test_text_orjson_does_not_read_as_json_loads_does_goes_to_json_loads(text):
    assert sources._orjson_document(text) is sources._NOT_SURE


@pytest.mark.parametrize("text", [
    '{"type": "FeatureCollection", "features": []}', "[1, -0, -0.0, 0.5, 1e5, 1E-5, 2.5e+3, 1e-400]",
    '{"a": 1, "b": 2, "a": 3}', '{"a": {"x": 1}, "a": [2]}', '["\\ud83d\\ude00", "\\u00e9", "\\/", "\\\\", "\\n"]',
    "[922337203685477580, -922337203685477580, 123456789012345678]", '  {"a" : [ true , false , null ] }  \r\n',
    "[2.2250738585072011e-308, 4.9e-324, 1.7976931348623157e308, 9007199254740993.0, 0.30000000000000004]",
    '"\u4e2d\u6587 \u2028"', "0", "-1.5", "true", "null",
])
def test_text_both_read_alike_is_read_by_orjson(text):
    assert check_text(text) is not sources._NOT_SURE


def test_nesting_is_read_by_orjson_only_where_json_loads_is_sure_to_read_it():
    assert check_text("[" * 500 + "]" * 500) is not sources._NOT_SURE
    # orjson reads 1024 levels; json.loads gives up near Python's recursion limit (1000 less the stack)
    for depth in (990, 1000, 1024, 1025, 5000):
        for text in ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth):
            assert sources._orjson_document(text) is sources._NOT_SURE, depth


def test_a_lower_recursion_limit_lowers_what_orjson_may_read():
    import sys

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(300)
    try:
        assert sources._orjson_document("[" * 250 + "]" * 250) is sources._NOT_SURE
        assert check_text("[" * 100 + "]" * 100) is not sources._NOT_SURE
    finally:
        sys.setrecursionlimit(limit)


def test_orjson_refuses_past_the_depth_the_padding_relies_on():
    assert sources._orjson() is not None  # a dependency: the fast path is on


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(JSON_VALUES, st.sampled_from([None, 2]), st.booleans())
def test_any_json_text_is_read_as_json_loads_reads_it(value, indent, ascii_only):
    check_text(json.dumps(value, indent=indent, ensure_ascii=ascii_only))


NUMBER_TEXT = st.from_regex(r"-?(0|[1-9][0-9]{0,20})(\.[0-9]{1,20})?([eE][+-]?[0-9]{1,3})?", fullmatch=True)


@settings(max_examples=400, deadline=None)
@given(st.lists(NUMBER_TEXT, min_size=1, max_size=8))
def test_any_number_is_read_as_json_loads_reads_it(numbers):
    check_text("[" + ", ".join(numbers) + "]")


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="[]{}\":,0123456789.eE-+ truefalsn\\u\n\t", max_size=40))
def test_any_fragment_is_read_as_json_loads_reads_it_or_not_at_all(text):
    check_text(text)


# ---- through the loader: the same records and the same located messages either way ---------------


def parcel_feature(pid="P1", **props) -> dict:
    return {"type": "Feature", "properties": {"id": pid, "land_use": "0301", **props},
            "geometry": {"type": "Polygon", "coordinates": [square(X0, Y0)]}}


def layer_text(*features: dict) -> str:
    return '{"type": "FeatureCollection", "features": [\n' + ",\n".join(json.dumps(f) for f in features) + "\n]}\n"


def outcome(path: Path):
    """What a user gets: every record (fields, geometry, source) of the parcels, or every diagnostic rendered."""
    try:
        loaded = load_submission(path)
    except InputError as exc:
        return ("refused", [d.render() for d in exc.diagnostics])
    return ("loaded", [(p.model_dump(mode="json"), shapely.to_wkb(p.geometry), p.source, p._extra)
                       for p in loaded.detailed_plan.parcels])


def both_ways(tmp_path: Path, layer: str | bytes, monkeypatch) -> tuple:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "submission.yaml").write_text(MANIFEST, encoding="utf-8")
    target = tmp_path / "parcels.geojson"
    target.write_bytes(layer if isinstance(layer, bytes) else layer.encode("utf-8", "surrogatepass"))
    calls = []
    original = sources._orjson_document

    def recording(text, data=None):
        result = original(text, data)
        calls.append(result is not sources._NOT_SURE)
        return result

    with monkeypatch.context() as patch:
        patch.setattr(sources, "_orjson_document", recording)
        fast = outcome(tmp_path / "submission.yaml")
    with monkeypatch.context() as patch:
        patch.setattr(sources, "_orjson", lambda: None)  # json.loads only, as before orjson
        slow = outcome(tmp_path / "submission.yaml")
    assert fast == slow
    return fast, calls


GOOD = layer_text(parcel_feature("P1", area_m2=10000), parcel_feature("P2", facilities=["clinic"]))


@pytest.mark.parametrize("name, layer, used_orjson, words", [
    ("plain", GOOD, True, []),
    ("crlf and a BOM", "\ufeff" + GOOD.replace("\n", "\r\n"), True, []),
    ("emoji and Chinese", layer_text(parcel_feature("P1", name="\u516c\u56ed \\ud83d\\ude00")).replace("\\\\u", "\\u"), True, []),
    ("NaN", GOOD.replace('"area_m2": 10000', '"area_m2": NaN'), False, ["finite"]),
    ("Infinity in a coordinate", GOOD.replace(f", {Y0}]", ", Infinity]"), False, ["infinite"]),
    ("-Infinity", GOOD.replace('"area_m2": 10000', '"area_m2": -Infinity'), False, ["finite"]),
    ("1e400", GOOD.replace('"area_m2": 10000', '"area_m2": 1e400'), False, ["finite"]),
    ("a 20-digit id", GOOD.replace('"P2"', "12345678901234567890"), False, []),
    ("a negative 19-digit area", GOOD.replace("10000", "-9223372036854775809"), False, ["-9223372036854775809"]),
    ("a 5000-digit area", GOOD.replace("10000", "7" * 5000), False, ["area_m2"]),
    ("a lone surrogate", GOOD.replace('"P1"', '"P\\ud800"'), False, ["surrogate"]),
    ("a duplicate key", GOOD.replace('"id": "P1"', '"id": "P0", "id": "P1"'), True, []),
    ("a trailing comma", GOOD.replace("]}\n", ",]}\n"), False, ["JSON syntax error"]),
    ("two documents", GOOD + GOOD, False, ["JSON syntax error"]),
    ("empty", "", False, ["JSON syntax error"]),
    ("white space only", " \n ", False, ["JSON syntax error"]),
    ("nested 995 deep", GOOD.replace('"area_m2": 10000', '"area_m2": ' + "[" * 995 + "]" * 995), False, ["nested too deeply"]),
    ("nested 1024 deep", GOOD.replace('"area_m2": 10000', '"area_m2": ' + "{\"a\": " * 1020 + "1" + "}" * 1020), False, ["nested too deeply"]),
    ("nested 300 deep", GOOD.replace('"area_m2": 10000', '"area_m2": ' + "[" * 300 + "]" * 300), True, ["expected a number"]),
])
def test_a_layer_loads_or_is_refused_alike_with_or_without_orjson(tmp_path, monkeypatch, name, layer, used_orjson, words):
    (kind, details), calls = both_ways(tmp_path, layer, monkeypatch)
    assert calls == [used_orjson], name
    if words:
        assert kind == "refused", details
        text = "\n".join(details)
        assert all(word in text for word in words), text
        assert "parcels.geojson:" in text  # located in the layer
    else:
        assert kind == "loaded", details
        assert [record["id"] for record, *_ in details][-1] in ("P2", "12345678901234567890", "P1")


def test_a_20_digit_id_stays_its_digits(tmp_path, monkeypatch):
    (kind, records), _ = both_ways(tmp_path, GOOD.replace('"P2"', "12345678901234567890"), monkeypatch)
    assert kind == "loaded" and records[1][0]["id"] == "12345678901234567890"


def test_the_lines_of_features_are_the_same(tmp_path, monkeypatch):
    features = [parcel_feature(f"P{i}") for i in range(5)]
    layer = json.dumps({"type": "FeatureCollection", "features": features}, indent=2)
    (kind, records), calls = both_ways(tmp_path, layer, monkeypatch)
    assert calls == [True] and kind == "loaded"
    starts = [number for number, line in enumerate(layer.splitlines(), start=1) if line == "    {"]
    assert [source.line for _, _, source, _ in records] == starts


# ---- fuzzed: any mutation of a layer loads or is refused alike with and without orjson --------------

TOKENS = st.sampled_from([
    "NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1" * 19, "-9223372036854775809", "18446744073709551616",
    "9" * 5000, "0.1234567890123456789", "-0", "-0.0", "1e-400", '"\\ud800"', '"\\udc00"', '"\\ud83d\\ude00"', '"\\u0000"',
    "[", "]", "{", "}", ",", ":", '"', "\\", "null", "true", "[" * 990 + "]" * 990, "[" * 300, "]" * 300, " ", "\n",
    "\t", "\r", "\f", "\ufeff", "\u4e2d", '"id": "P1", ', '"id": 7, ', '{"type": "Feature", ', "01", ".5", "1.",
])


@st.composite
def mutated_layer(draw) -> str:
    text = GOOD
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 3))
        text = text[:at] + draw(TOKENS) + text[at + cut:]
    return text


@budget(120)
@given(mutated_layer())
def test_any_mutated_layer_loads_or_is_refused_alike_with_or_without_orjson(layer):
    import tempfile

    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as monkeypatch:
        both_ways(Path(folder), layer, monkeypatch)
