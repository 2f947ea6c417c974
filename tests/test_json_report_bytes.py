"""The JSON report is written by encoding in C and indenting with numpy (rulecheck.report.json_report): its
bytes must be exactly those of json.dumps(record, ensure_ascii=False, indent=2), the public contract's format,
for every fixture's report, a generated report of every awkward value, and any JSON value at all."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import clean_record, sample_record
from fuzz_support import budget
import rulecheck
from rulecheck.report import json_report
from rulecheck.report.json_report import dumps_indented

ROOT = Path(__file__).resolve().parents[1]
MANIFESTS = sorted((ROOT / "fixtures").glob("*/submission.yaml"))


def reference(value) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2)


@pytest.fixture(scope="module")
def rules():
    return rulecheck.load_rules()


@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda p: p.parent.name)
def test_every_fixture_report_has_the_bytes_of_json_dumps(manifest, rules):
    record = rulecheck.check(rulecheck.load_submission(manifest), rules)
    public = {key: value for key, value in record.items() if key != "layers"}
    expected = reference(public) + "\n"
    assert json_report.render(record, lang="zh") == expected
    # the file's bytes (the CLI's), made by orjson: a report is plain JSON
    assert json_report._orjson_indented(public) is not None
    assert b"".join(json_report.encoded_pieces(record, lang="zh")) == expected.encode("utf-8")
    for chunk in (64, 1000):  # the chunks meet inside strings, escapes, numbers and empty brackets
        assert dumps_indented(public, chunk_bytes=chunk) + "\n" == expected
    if manifest.parent.name.endswith("defects"):
        assert '"geometry": {\n' in expected  # a report with conflicts and their places


def ring(x: float, y: float, n: int) -> list:
    points = [[x + 10 * math.cos(2 * math.pi * i / n) + i * 1e-9, y + 10 * math.sin(2 * math.pi * i / n)] for i in range(n)]
    return points + [points[0]]


ODD_TEXT = [
    "", " ", "县域配置单元 “引号” 《法》", '"', '\\', '\\"', '\\\\"', '"\\', "\\\\\\", "[", "]", "{}", "[]", ",", '","', ": ",
    "\n\r\t\b\f", "\x00\x01\x1f\x7f", "\u2028\u2029\x85", "\ufeff", "😀 \U0010ffff", "\ud800", "\udfff\ud800", "a\\u0041",
    "\x1b[31mred\x1b[0m", "\u202eevil", " ".join(["[{,}]"] * 50), "\\" * 33 + '"' * 7,
]
ODD_NUMBERS = [0, -0, 0.0, -0.0, 1, -1, 2**63, -(2**64) - 1, 10**40, 1.5, 1e16, 1e-7, 1e-05, 123456789.123456789,
               5e-324, 1.7976931348623157e308, float("inf"), float("-inf"), float("nan"), 0.1 + 0.2, True, False, None]


def generated_report() -> dict:
    record = sample_record()
    conflicts = []
    for i in range(120):
        text = ODD_TEXT[i % len(ODD_TEXT)]
        conflicts.append({
            "rule": f"LAY-{i:03d}", "title": text, "titles": {"zh": text, "en": text[::-1]},
            "message": f"{text} — {i}", "subjects": [{"collection": "parcels", "id": text, "source": {"path": "p.geojson", "line": i}}],
            "expected": ODD_NUMBERS[i % len(ODD_NUMBERS)], "actual": [ODD_NUMBERS[(i + k) % len(ODD_NUMBERS)] for k in range(i % 5)],
            "geometry": ({"type": "MultiPolygon", "coordinates": [[ring(38_400_000 + i, 2_620_000 - i, 5 + i % 9)], [ring(1, 2, 4), ring(3, 4, 5)]]}
                         if i % 3 else {"type": "Polygon", "coordinates": [ring(0.5, -0.25, 4)]}),
            "explanation": [] if i % 2 else [[], {}, [[]], [{}], {"": {}}, {text: [text, {}]}],
            "waiver": None, "nested": {"a": {"b": {"c": [[[[i]]]]}}}, text: (text, i), 7: "int key", 2.5: "float key",
            None: "null key", True: "bool key",
        })
    record["conflicts"] = conflicts + record["conflicts"]
    return record


@pytest.mark.parametrize("chunk", [1, 7, 64, 4096, None])
def test_a_report_of_every_awkward_value_has_the_same_bytes(chunk):
    record = generated_report()
    small = {"conflicts": record["conflicts"][:12]} if chunk == 1 else record  # one byte at a time is slow
    assert dumps_indented(small, chunk_bytes=chunk) == reference(small)


def test_the_sample_and_clean_records_and_bare_values():
    for value in (sample_record(), clean_record(), [], {}, [[]], {"": []}, "text", 1.5, None, float("nan"), [1, [2, [3, []]]]):
        assert dumps_indented(value) == reference(value)
    assert json_report.render(sample_record(), lang="en") == reference(
        {k: v for k, v in sample_record().items() if k != "layers"}) + "\n"


def test_what_json_cannot_encode_fails_as_json_fails():
    circular: list = []
    circular.append(circular)
    for bad in ({"x": object()}, {(1, 2): "tuple key"}, circular):
        with pytest.raises((TypeError, ValueError)) as ours:
            dumps_indented(bad)
        with pytest.raises(type(ours.value)) as theirs:
            reference(bad)
        assert str(ours.value) == str(theirs.value)


ANY_TEXT = st.text(st.sampled_from(list('"\\[]{},: \n\t\x00\x7f\u2028é县😀') + ["\ud800", "a", "0"]), max_size=10)
ANY_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), ANY_TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.tuples(inner, inner), st.dictionaries(ANY_TEXT, inner, max_size=4)),
    max_leaves=30,
)


@budget(400)
@given(value=ANY_JSON, chunk=st.integers(1, 80), indent=st.sampled_from([2, 2, 0, 1, 4, -1]))
def test_any_value_has_the_bytes_of_json_dumps(value, chunk, indent):
    assert dumps_indented(value, indent=indent, chunk_bytes=chunk) == json.dumps(value, ensure_ascii=False, indent=indent)


def test_the_report_in_pieces_is_the_report(monkeypatch, tmp_path):
    """report.render_pieces writes the JSON report a few megabytes at a time: joined, the pieces are the report,
    and the CLI writes exactly those bytes."""
    from rulecheck.report import render, render_pieces

    record = generated_report()
    whole = render(record, "json", lang="zh")
    assert whole == reference({k: v for k, v in record.items() if k != "layers"}) + "\n"
    monkeypatch.setattr(json_report, "CHUNK_BYTES", 256)
    parts = list(render_pieces(record, "json", lang="zh"))
    assert len(parts) > 20 and "".join(parts) == whole
    with pytest.raises(TypeError):  # what json cannot encode fails before anything is written
        json_report.pieces({"x": object()}, lang="zh")

    from click.testing import CliRunner
    from rulecheck.cli import cli

    manifest = ROOT / "fixtures" / "eco-recreation-defects" / "submission.yaml"
    out = tmp_path / "report.json"
    result = CliRunner().invoke(cli, ["check", str(manifest), "--format", "json", "--output", str(out)])
    assert result.exit_code == 1, result.output
    record = rulecheck.check(rulecheck.load_submission(manifest), rulecheck.load_rules())
    written = json.loads(out.read_text(encoding="utf-8"))
    assert out.read_text(encoding="utf-8") == reference(written) + "\n"  # indented as json.dumps indents
    assert len(written["conflicts"]) == len(record["conflicts"]) > 0


def test_the_file_bytes_made_without_text_between(monkeypatch):
    """report.encoded_pieces (what the CLI writes) is the report encoded as UTF-8, in pieces; a lone surrogate
    (which only a malformed input can bring) is written as a backslash escape either way."""
    from rulecheck.report import encoded_pieces, render

    monkeypatch.setattr(json_report, "CHUNK_BYTES", 512)
    for record in (generated_report(), {**sample_record(), "lang": "zh\udc80"}):
        expected = render(record, "json", lang="zh").encode("utf-8", "backslashreplace")
        parts = list(encoded_pieces(record, "json", lang="zh"))
        assert all(isinstance(p, bytes) for p in parts) and b"".join(parts) == expected
    assert b"\\udc80" in b"".join(encoded_pieces({"lang": "zh\udc80"}, "json", lang="zh"))
    # the other formats: their text, encoded
    text = render(sample_record(), "markdown", lang="en")
    assert b"".join(encoded_pieces(sample_record(), "markdown", lang="en")) == text.encode("utf-8")
    with pytest.raises(TypeError):
        encoded_pieces({"x": object()}, "json", lang="zh")


# ---- the orjson path of encoded_pieces: plain values only, the same bytes ------------------------------------

def _file_bytes(value) -> bytes:
    return b"".join(json_report.encoded_pieces({"v": value}, lang="zh"))


def _expected_bytes(value) -> bytes:
    return (reference({"v": value}) + "\n").encode("utf-8", "backslashreplace")


def test_orjson_escapes_every_character_as_json_does():
    """Escaping is character by character, so every code point (a lone surrogate aside: orjson refuses it) on its
    own, as a text and as a key, covers every text."""
    characters = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    value = {"texts": characters, "keys": dict.fromkeys(characters[:0x3000], 0)}
    assert json_report._orjson_indented(value) is not None  # the orjson path, not the fallback
    assert _file_bytes(value) == _expected_bytes(value)


def test_orjson_writes_plain_floats_as_json_does():
    rng = __import__("random").Random(20261201)
    floats = [0.0, -0.0, 1e-4, -1e-4, 0.1, 0.5, 1.0, 2612398.0, 38399235.471, 9999999999999998.0, 1e15, 123456789.12345679,
              0.30000000000000004, 1 / 3, 5e-4, 99999.99999999999]
    floats += [rng.uniform(-1e8, 1e8) for _ in range(5000)] + [round(rng.uniform(-1e8, 1e8), 3) for _ in range(5000)]
    floats += [rng.choice([-1, 1]) * 10 ** rng.uniform(-4, 16) for _ in range(20000)]
    plain = [f for f in floats if 1e-4 <= abs(f) < 1e16 or f == 0.0]
    assert json_report._orjson_indented(plain) is not None
    assert _file_bytes(plain) == _expected_bytes(plain)


@pytest.mark.parametrize("odd", [float("nan"), float("inf"), 1e-5, 9.999999999999999e-05, 1e16, 5e-324, (1, 2), {1: "int key"},
                                 2**64, -(2**63) - 1, "\ud800", True.__class__, math.pi * 1e300])
def test_what_orjson_may_write_otherwise_goes_the_old_way(odd):
    value = {"conflicts": [{"geometry": {"type": "Point", "coordinates": [1.5, odd]}}]} if not isinstance(odd, type) \
        else {"x": odd}
    assert json_report._orjson_indented(value) is None
    if isinstance(odd, type):  # not JSON at all: fails as json fails
        with pytest.raises(TypeError):
            _file_bytes(value)
    else:
        assert _file_bytes(value) == _expected_bytes(value)


def test_an_enum_or_a_text_subclass_goes_the_old_way():
    import enum

    class Kind(str, enum.Enum):
        forest = "forest_management"

    class Text(str):
        pass

    for value in (Kind.forest, Text("x"), [Kind.forest], {"k": Text("y")}):
        assert json_report._orjson_indented(value) is None
        assert _file_bytes(value) == _expected_bytes(value)


PLAIN_FLOAT = st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: 1e-4 <= abs(f) < 1e16 or f == 0.0)
PLAIN_TEXT = st.text(st.sampled_from(list('"\\[]{},: \n\t\x00\x7f\u2028é县😀') + ["a", "0"]), max_size=10)
PLAIN_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), PLAIN_FLOAT, PLAIN_TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(PLAIN_TEXT, inner, max_size=4)),
    max_leaves=30,
)


@budget(300)
@given(value=PLAIN_JSON)
def test_any_plain_value_is_written_by_orjson_with_the_bytes_of_json_dumps(value):
    assert json_report._orjson_indented({"v": value}) is not None
    assert _file_bytes(value) == _expected_bytes(value)


@budget(200)
@given(value=ANY_JSON)
def test_any_value_at_all_has_the_file_bytes_of_json_dumps(value):
    assert _file_bytes(value) == _expected_bytes(value)
