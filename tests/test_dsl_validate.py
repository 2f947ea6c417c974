"""`rulecheck rules validate` and load-time checking: located errors with carets and suggestions, and a safe language."""

from __future__ import annotations

import re

import pytest

from rulecheck.diagnostics import InputError
from rulecheck.dsl import load_rules, validate
from test_dsl_support import FIXTURES, PARAMS_DIR, cli, invoke, rule_text, write_pack


def _validate(tmp_path, text: str, name: str = "pack.rule"):
    write_pack(tmp_path, text, name)
    return invoke("rules", "validate", name, cwd=tmp_path)


def _located(stderr: str, path: str, line: int, column: int, word: str) -> list[str]:
    """The diagnostic block at path:line:column; asserts its caret sits under `word` in the excerpt."""
    lines = stderr.splitlines()
    head = f"{path}:{line}:{column}: "
    starts = [i for i, text in enumerate(lines) if text.startswith(head)]
    assert starts, f"no diagnostic at {head!r} in:\n{stderr}"
    i = starts[0]
    excerpt, caret = lines[i + 1], lines[i + 2]
    assert caret.strip() == "^", stderr
    assert excerpt[caret.index("^"):].startswith(word), (excerpt, caret)
    block = [lines[i]]
    for text in lines[i + 1:]:
        if re.match(r"^\S+:\d+(:\d+)?: ", text):
            break
        block.append(text)
    return block


FAR_TYPO = rule_text("IND-901", """
    for each item in contracts.items
    let parcel = detailed_plan.parcels[item.parcel]
    require item.far_maxx <= parcel.far_max
""")


def test_misspelled_field_is_located_with_a_suggestion(tmp_path):
    write_pack(tmp_path, FAR_TYPO, "pack.rule")
    proc = cli("rules", "validate", "pack.rule", cwd=tmp_path)  # the installed console command
    assert proc.returncode == 2
    block = _located(proc.stderr, "pack.rule", 7, 16, "far_maxx")
    assert "error" in block[0] and "far_maxx" in block[0]
    assert "hint: did you mean 'far_max'?" in "\n".join(block)
    assert "Traceback" not in proc.stderr


def test_syntax_error_shows_excerpt_and_caret(tmp_path):
    proc = _validate(tmp_path, rule_text("IND-901", """
        for each c in contracts
        require c.price_wan_yuan >= )
    """))
    assert proc.returncode == 2
    block = _located(proc.stderr, "pack.rule", 6, 31, ")")
    assert "unexpected ')'" in block[0]
    assert block[1].strip() == "require c.price_wan_yuan >= )"
    assert "Traceback" not in proc.stderr


def test_every_error_of_a_pack_is_reported(tmp_path):
    text = "\n".join([
        rule_text("IND-901", "for each c in contracts\nrequire c.price_wan_yuan >= )"),          # syntax, line 6
        rule_text("IND-902", "for each r in unit_plan.rights\nrequire r.term_yeers <= 40 years"),  # line 14
        rule_text("SUP-903", "for each c in contracts where c.award == tendr\nrequire true"),   # line 21
        rule_text("SUP-904", "for each r in unit_plan.rights\nrequire r.area_m2 + 5 years > 0 m2"),  # line 30
        rule_text("IND-905", "for each r in unit_plan.rights whre r.overlay\nrequire true"),     # syntax, line 37
    ])
    proc = _validate(tmp_path, text)
    assert proc.returncode == 2
    _located(proc.stderr, "pack.rule", 6, 31, ")")
    assert "did you mean 'term_years'" in "\n".join(_located(proc.stderr, "pack.rule", 14, 13, "term_yeers"))
    assert "did you mean 'tender'" in "\n".join(_located(proc.stderr, "pack.rule", 21, 44, "tendr"))
    _located(proc.stderr, "pack.rule", 30, 11, "r.area_m2")
    _located(proc.stderr, "pack.rule", 37, 34, "whre")
    assert proc.stderr.count(": error: ") == 5


@pytest.mark.parametrize("body, word, message, hint", [
    ("for each r in unit_plan.right\nrequire true", "right", "no field 'right'", "did you mean 'rights'?"),
    ("for each p in detailed_plan.parcel\nrequire true", "parcel", "no field 'parcel'", "did you mean 'parcels'?"),
    ("for each c in contrats\nrequire true", "contrats", "unknown name 'contrats'", "did you mean 'contracts'?"),
    ("for each r in unit_plan.rights\nrequire r.land_use in operatng", "operatng", "unknown name 'operatng'",
     "did you mean 'operating'?"),
    ("for each r in unit_plan.rights\nrequire r.kind in [mining, exploraton]", "exploraton",
     "unknown name 'exploraton'", "did you mean 'exploration'?"),
    ("require presnt(unit_plan.name)", "presnt", "unknown function 'presnt'", "did you mean 'present'?"),
])
def test_unknown_collection_or_name_with_suggestion(tmp_path, body, word, message, hint):
    proc = _validate(tmp_path, rule_text("LAY-901", body))
    assert proc.returncode == 2
    assert message in proc.stderr
    assert f"hint: {hint}" in proc.stderr
    line, column = re.search(r"pack\.rule:(\d+):(\d+): error", proc.stderr).groups()
    _located(proc.stderr, "pack.rule", int(line), int(column), word)


def test_collection_misspelled_as_an_enum_value_gets_a_suggestion(tmp_path):
    proc = _validate(tmp_path, rule_text("LAY-901", "for each x in contract\nrequire true"))
    assert proc.returncode == 2
    assert "hint: did you mean 'contracts'?" in proc.stderr


@pytest.mark.parametrize("cond, word, enum", [
    ("c.award == tendr", "tendr", None),
    ('c.award == "tendr"', '"tendr"', "Award"),
    ("c.award in [tender, auctoin]", "auctoin", None),
    ("c.award == mining", "mining", "Award"),  # a value of another enum
])
def test_enum_typo_is_caught_at_load(tmp_path, cond, word, enum):
    proc = _validate(tmp_path, rule_text("SUP-901", f"for each c in contracts where {cond}\nrequire true"))
    assert proc.returncode == 2
    _located(proc.stderr, "pack.rule", 5, 3 + len("for each c in contracts where ") + cond.index(word), word)
    if enum:
        assert f"is not a value of {enum}" in proc.stderr
    with pytest.raises(InputError):
        load_rules([tmp_path / "pack.rule"])


@pytest.mark.parametrize("require, message", [
    ("r.area_m2 + 5 years > 0 m2", "cannot add"),
    ("r.term_years + 5 m2 > 3 years", "cannot add"),
    ("r.area_m2 > 30 %", "cannot compare an area with a plain number"),
    ("r.area_m2 <= area(r) ± 2 years", "does not fit"),
    ("area(r) * area(r) > 1 m2", "cannot multiply"),
    ("r.term_years > 3", "cannot compare a duration with a plain number"),
    ("as_of + 3 m2 > 2020-01-01", "a date moves by years"),
])
def test_unit_mistakes_are_errors_at_load(tmp_path, require, message):
    proc = _validate(tmp_path, rule_text("IND-901", f"for each r in unit_plan.rights\nrequire {require}"))
    assert proc.returncode == 2
    assert message in proc.stderr
    assert re.search(r"pack\.rule:6:\d+: error", proc.stderr), proc.stderr


def test_duplicate_rule_id(tmp_path):
    body = "for each r in unit_plan.rights\nrequire r.overlay == false"
    write_pack(tmp_path, rule_text("IND-901", body), "one.rule")
    write_pack(tmp_path, rule_text("IND-901", body), "two.rule")
    proc = invoke("rules", "validate", "one.rule", "two.rule", cwd=tmp_path)
    assert proc.returncode == 2
    assert "two.rule:1:6: error: rule IND-901 is declared twice (also in one.rule:1)" in proc.stderr


def test_duplicate_rule_id_when_the_first_has_an_error(tmp_path):
    text = rule_text("IND-901", "for each r in unit_plan.right\nrequire true") + "\n" + \
        rule_text("IND-901", "for each r in unit_plan.rights\nrequire true")
    proc = _validate(tmp_path, text)
    assert proc.returncode == 2
    assert "rule IND-901 is declared twice" in proc.stderr


def test_unused_let_is_a_warning(tmp_path):
    proc = _validate(tmp_path, rule_text("IND-901", """
        for each r in unit_plan.rights
        let spare = r.term_years
        require r.overlay == false
    """))
    assert proc.returncode == 0, proc.stderr
    block = _located(proc.stderr, "pack.rule", 6, 3, "let spare")
    assert "warning: 'spare' is bound but never used" in block[0]
    assert "1 rule pack(s) OK, 1 warning(s)" in proc.stdout
    assert load_rules([tmp_path / "pack.rule"]).warnings[0].message == "'spare' is bound but never used"


def test_valid_pack_is_ok(tmp_path):
    proc = _validate(tmp_path, rule_text("IND-901", "for each r in unit_plan.rights\nrequire r.overlay == false"))
    assert (proc.returncode, proc.stderr, proc.stdout.strip()) == (0, "", "1 rule pack(s) OK")


OVERRIDE_TYPO = """
param exploration_max_trm
  title zh "探矿权有效期上限" en "Exploration term cap"
  from 1998-02-12 source "某省文件"
    value 4 years
"""


def test_param_override_naming_an_unknown_param_is_an_error(tmp_path):
    override = write_pack(tmp_path, OVERRIDE_TYPO, "province.rule")
    diagnostics = validate([PARAMS_DIR], [override])
    (error,) = [d for d in diagnostics if d.severity == "error"]
    assert (error.line, error.column) == (2, 7)
    assert error.message == "exploration_max_trm overrides no known parameter"
    assert error.hint == "did you mean 'exploration_max_term'?"
    proc = cli("check", FIXTURES / "minimal" / "submission.yaml", "--params", override)
    assert proc.returncode == 2
    assert "province.rule:2:7: error: exploration_max_trm overrides no known parameter" in proc.stderr
    assert "did you mean 'exploration_max_term'?" in proc.stderr


def test_missing_rule_file_and_bad_encoding(tmp_path):
    (tmp_path / "bad.rule").write_bytes(b'rule IND-901\n  title zh "\xff\xfe" en "x"\n')
    proc = invoke("rules", "validate", "bad.rule", "nowhere.rule", cwd=tmp_path)
    assert proc.returncode == 2
    assert "nowhere.rule: error: no such rule file or folder" in proc.stderr
    assert "bad.rule:2:13: error: not UTF-8 text (byte 25" in proc.stderr  # the line and column of the bad byte
    assert "Traceback" not in proc.stderr


# ---- safety: the language cannot reach Python, files or the network ------------------------------------


@pytest.mark.parametrize("require, word, message", [
    ('__import__("os")', "__import__", "unknown function '__import__'"),
    ('open("x") == "a"', "open", "unknown function 'open'"),
    ('eval("1 + 1") == 2', "eval", "unknown function 'eval'"),
    ('exec("x")', "exec", "unknown function 'exec'"),
    ('getattr(r, "id") == "x"', "getattr", "unknown function 'getattr'"),
    ('r.__class__ == "x"', "__class__", "__class__"),
    ('unit_plan.__dict__ == "x"', "__dict__", "__dict__"),
    ('r.geometry.__class__ == "x"', "__class__", "__class__"),
    ('r._source == "x"', "_source", "_source"),
    ('r.model_fields == "x"', "model_fields", "no field 'model_fields'"),
    ('r.model_dump == "x"', "model_dump", "no field 'model_dump'"),
])
def test_no_way_to_python_internals(tmp_path, require, word, message):
    proc = _validate(tmp_path, rule_text("IND-901", f"for each r in unit_plan.rights\nrequire {require}"))
    assert proc.returncode == 2
    block = _located(proc.stderr, "pack.rule", 6, 11 + require.index(word), word)
    assert message in block[0]


def test_dunder_in_a_message_hole_is_rejected(tmp_path):
    proc = _validate(tmp_path, rule_text("IND-901", "for each r in unit_plan.rights\nrequire true",
                                         message='message zh "{r.__class__}" en "{r}"'))
    assert proc.returncode == 2
    assert "__class__" in proc.stderr and "pack.rule:7:" in proc.stderr


@pytest.mark.parametrize("text, word", [
    ("import os\n", "import"),
    ("rule IND-901\n  title zh \"x\" en \"x\"\n  severity error\n  basis \"b\"\n  while true\n  require true\n"
     "  message zh \"m\" en \"m\"\n", "while"),
    ("rule IND-901\n  title zh \"x\" en \"x\"\n  severity error\n  basis \"b\"\n  require (lambda: 1)\n"
     "  message zh \"m\" en \"m\"\n", ":"),
])
def test_no_import_loop_or_lambda_in_the_grammar(tmp_path, text, word):
    proc = _validate(tmp_path, text)
    assert proc.returncode == 2
    assert "unexpected" in proc.stderr and word in proc.stderr


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_untyped_value_cannot_read_python_attributes(tmp_path):
    from test_dsl_support import box, right, run_pack, write_submission

    manifest = write_submission(tmp_path, rights=[right("R1", box(0, 0))])
    pack = rule_text("IND-901", """
        for each xs in [[], unit_plan.rights]
        for each x in xs
        require x.model_fields == "x"
    """, message='message zh "{x.model_fields}" en "{x.model_fields}"')
    try:
        record = run_pack(tmp_path, pack, manifest)
    except InputError:
        return  # rejected at load: fine
    shown = " ".join(c["message"] for c in record["conflicts"])
    assert "annotation=" not in shown  # pydantic's field table must never reach a report
    assert record["outcomes"][0]["status"] == "indeterminate"
