"""Messages a rule author reads (issue 11, deliverable 4): located where the mistake is, no parser-internal names,
no follow-on errors from one mistake, suggestions that say what kind of name was looked up; hyphenated tags."""

from __future__ import annotations

import json

from test_dsl_support import FIXTURES, invoke, rule_text

HEAD = 'rule LAY-950\n  title zh "示例" en "example"\n  severity error\n  basis "测试依据" "测试条文"\n'


def _validate(tmp_path, text):
    (tmp_path / "p.rule").write_text(text, encoding="utf-8")
    result = invoke("rules", "validate", "p.rule", cwd=tmp_path)
    assert "Traceback" not in result.stderr
    return result


def _errors(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if ": error: " in line]


def test_a_tag_may_contain_hyphens_and_reaches_the_report(tmp_path):
    text = HEAD + '  tags layout, control-lines\n' + \
        '  for each r in unit_plan.rights\n  require present(r.kind)\n  message zh "权益 {r}" en "Right {r}"\n'
    result = _validate(tmp_path, text)
    assert result.returncode == 0, result.stderr
    listed = invoke("rules", "list", "--rules", "p.rule", "--format", "json", cwd=tmp_path)
    (entry,) = json.loads(listed.stdout)["rules"]
    assert entry["tags"] == ["layout", "control-lines"]


def test_no_parser_internal_name_in_a_syntax_error(tmp_path):
    result = _validate(tmp_path, 'rule LAY-950\n  title zh "示例" en "example"\n  tags a b\n  severity error\n')
    (error,) = _errors(result)
    assert error.startswith("p.rule:3:10: error: unexpected 'b'; expected ")
    assert "'severity'" in error and "__" not in result.stderr and "anon" not in result.stderr.lower()


def test_an_unclosed_bracket_is_reported_where_it_opened_once(tmp_path):
    text = HEAD + ('  for each r in unit_plan.rights\n  require r.kind in [construction_land_use, mining\n'
                   '  message zh "权益 {r}" en "Right {r}"\n\ntest LAY-950 "t"\n  given fixture "minimal"\n'
                   '  expect no LAY-950\n')
    result = _validate(tmp_path, text)
    assert result.returncode == 2
    assert _errors(result) == ["p.rule:6:21: error: '[' is not closed: ']' expected"]  # no follow-on for the test
    assert "hint: the parser stopped at line 7: unexpected 'message'" in result.stderr
    unclosed_call = HEAD + '  for each r in unit_plan.rights\n  require present(r.kind\n  message zh "a" en "a"\n'
    assert _errors(_validate(tmp_path, unclosed_call)) == ["p.rule:6:18: error: '(' is not closed: ')' expected"]


def test_a_bracket_in_a_text_or_comment_is_not_counted(tmp_path):
    text = HEAD + ('  # a comment with a ] bracket\n  for each r in unit_plan.rights\n'
                   '  require r.name in ["a]", "b"\n  message zh "a" en "a"\n')
    assert _errors(_validate(tmp_path, text)) == ["p.rule:7:21: error: '[' is not closed: ']' expected"]


def test_unknown_function_lists_what_exists(tmp_path):
    text = HEAD + ('  for each r in unit_plan.rights\n  let zone = bufer(r.geometry, 5 m)\n  require present(zone)\n'
                   '  message zh "a" en "a"\n')
    result = _validate(tmp_path, text)
    assert _errors(result) == ["p.rule:6:14: error: unknown function 'bufer'"]
    hint = next(line for line in result.stderr.splitlines() if "hint:" in line)
    assert "the functions are abs, area," in hint and "present" in hint and "section 9" in hint


def test_unknown_name_says_what_was_looked_up_and_the_kind_of_the_suggestion(tmp_path):
    text = HEAD + ('  for each r in unit_plan.rights where present(r.term_years)\n'
                   '  require r.term_years <= max_term_transfr[r.land_use]\n  message zh "a" en "a"\n')
    result = _validate(tmp_path, text)
    assert _errors(result) == ["p.rule:6:27: error: unknown name 'max_term_transfr': no variable, collection, "
                               "parameter, land-use group or enumeration value has this name"]
    assert "hint: did you mean 'max_term_transfer'? (a parameter)" in result.stderr
    result = _validate(tmp_path, rule_text("LAY-951", "for each c in contrats\nrequire true"))
    assert "hint: did you mean 'contracts'? (a collection)" in result.stderr


def test_hyphenated_tag_pack_checks_a_fixture(tmp_path):
    text = HEAD + '  tags control-lines\n  for each r in unit_plan.rights\n  require present(r.kind)\n' \
                  '  message zh "权益 {r}" en "Right {r}"\n'
    (tmp_path / "p.rule").write_text(text, encoding="utf-8")
    result = invoke("check", str(FIXTURES / "minimal" / "submission.yaml"), "--add-rules", "p.rule", "--lang", "en",
                    cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
