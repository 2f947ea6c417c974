"""Every report format, pinned byte for byte: the defects fixture and the county fixture in both languages, and the
rule catalog, as the command writes them, compared with the files under tests/snapshots/.

A change to a report that is meant shows here as a diff; rewrite the files with ``pytest --update-snapshots
tests/test_report_snapshots.py`` (or ``RULECHECK_UPDATE_SNAPSHOTS=1``) and review the diff before committing it.

Everything is run with fixed inputs, so no output needs changing before comparison, except one thing: the tool's
own version (``tool.version`` in JSON, the SARIF driver's ``version``, the HTML report's "rulecheck 0.1.0"), which
is written as ``<version>`` in the snapshots so that a release does not rewrite every file. The date is the
fixtures' ``as_of``; paths are relative (the command runs from the repository root with the fixture given
relative); no settings file is read (``--no-config``); no timings are asked for; a county is checked with one job.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

import rulecheck
from rulecheck.cli import cli
from rulecheck.report import EXTENSIONS, FORMATS

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
LANGS = ("zh", "en")
INPUTS = "tests/snapshots/inputs"
# name -> the command's arguments before the formats
RUNS = {
    "defects": ["fixtures/eco-recreation-defects/submission.yaml", "--no-config"],
    "county": ["fixtures/county/county.yaml", "--no-config", "--jobs", "1"],
    # what the defects fixture alone never shows: a waiver applied, unmatched, expired and refused; conflicts
    # new and persisting against a baseline, one resolved, one not checked again; the gate on new conflicts
    # only; a settings file; the values each failing condition was computed from
    "defects-reviewed": ["fixtures/eco-recreation-defects/submission.yaml", "--config", f"{INPUTS}/rulecheck.toml",
                         "--explain", "--waivers", f"{INPUTS}/waivers.yaml", "--baseline", f"{INPUTS}/baseline.json",
                         "--fail-on-new"],
}

# the tool's version where a report states it, in the formats that state it
_VERSION = re.escape(rulecheck.__version__.encode())
_VERSION_SPOTS = [
    (re.compile(rb'("version": ")' + _VERSION + rb'(")'), rb"\1<version>\2"),      # json, sarif
    (re.compile(rb"(rulecheck )" + _VERSION + rb"(</td>)"), rb"\1<version>\2"),     # html
]


def _normalized(data: bytes) -> bytes:
    for pattern, replacement in _VERSION_SPOTS:
        data = pattern.sub(replacement, data, count=1)
    return data


def _compare(name: str, actual: bytes, update: bool) -> None:
    path = SNAPSHOTS / name
    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(actual)
        return
    assert path.exists(), f"no snapshot {path}; write it with pytest --update-snapshots"
    expected = path.read_bytes()
    if actual != expected:
        # the first differing line, so a failure says where without printing half a megabyte
        a, e = actual.splitlines(), expected.splitlines()
        line = next((i for i, (x, y) in enumerate(zip(a, e)) if x != y), min(len(a), len(e)))
        got = a[line] if line < len(a) else b"<end of output>"
        want = e[line] if line < len(e) else b"<end of snapshot>"
        pytest.fail(f"{name} differs from its snapshot at line {line + 1}:\n  snapshot: {want[:300]!r}\n"
                    f"  now:      {got[:300]!r}\n(pytest --update-snapshots rewrites it, if the change is meant)")


def _invoke(args: list[str], monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code in (0, 1), result.output


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> dict[tuple[str, str], Path]:
    """(run, lang) -> the folder the command wrote every format into (`--output-dir`)."""
    folders = {}
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name, run in RUNS.items():
            for lang in LANGS:
                out = tmp_path_factory.mktemp(f"{name}-{lang}")
                args = ["check", *run, "--lang", lang, "--color", "never", "-q", "--output-dir", str(out)]
                for fmt in FORMATS:
                    args += ["--format", fmt]
                _invoke(args, monkeypatch)
                folders[name, lang] = out
    return folders


def test_the_command_offers_every_format_snapshotted():
    from rulecheck.cli import REPORT_FORMATS

    assert sorted(REPORT_FORMATS) == sorted(FORMATS) == sorted(EXTENSIONS)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("name", list(RUNS))
def test_report_matches_its_snapshot(written, update_snapshots, name, fmt, lang):
    data = (written[name, lang] / f"report.{EXTENSIONS[fmt]}").read_bytes()
    _compare(f"{name}/{lang}/report.{EXTENSIONS[fmt]}", _normalized(data), update_snapshots)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_rule_catalog_matches_its_snapshot(update_snapshots, monkeypatch, fmt, lang):
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(cli, ["rules", "list", "--format", fmt, "--lang", lang], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    _compare(f"catalog/{lang}/rules-list.{ {'text': 'txt', 'markdown': 'md', 'json': 'json'}[fmt]}",
             result.stdout_bytes, update_snapshots)


@pytest.mark.parametrize("lang", LANGS)
def test_one_rule_shown_matches_its_snapshot(update_snapshots, monkeypatch, lang):
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(cli, ["rules", "show", "LAY-004", "--lang", lang], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    _compare(f"catalog/{lang}/rules-show-LAY-004.txt", result.stdout_bytes, update_snapshots)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_hand_built_record_matches_its_snapshot(update_snapshots, fmt, lang):
    """The record of tests/conftest.py (a waived conflict, a pack's layers for the map, markup in a message) in
    every format, written as a file is (`encoded_pieces`) and as standard output is (`render`): the same bytes."""
    from conftest import sample_record

    from rulecheck import report

    data = b"".join(report.encoded_pieces(sample_record(), fmt, lang=lang))
    assert report.render(sample_record(), fmt, lang=lang).encode("utf-8", "backslashreplace") == data
    _compare(f"sample/{lang}/report.{EXTENSIONS[fmt]}", data, update_snapshots)


@pytest.mark.parametrize("lang", LANGS)
def test_coloured_text_matches_its_snapshot(update_snapshots, lang):
    from conftest import sample_record

    from rulecheck import report

    _compare(f"sample/{lang}/report.color.txt", report.render(sample_record(), "text", lang=lang, color=True).encode(),
             update_snapshots)
