"""The per-user cache of parsed rule packs (rulecheck/dsl/cache.py): used only from a private directory,
verified before it is unpickled, and never changes a result."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import rulecheck
from rulecheck.dsl import cache, parser

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.delenv("RULECHECK_NO_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "rulecheck"


def _no_parsing(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a pack was parsed although it is cached")

    monkeypatch.setattr(parser, "parse_file", refuse)


def test_a_second_load_reads_the_cache_instead_of_parsing(home, monkeypatch):
    first = rulecheck.load_rules()
    assert home.is_dir() and (home.stat().st_mode & 0o777) == 0o700
    files = sorted(home.glob("*.pack"))
    assert len(files) == len(first.packs)
    assert all((f.stat().st_mode & 0o777) == 0o600 for f in files)
    _no_parsing(monkeypatch)
    second = rulecheck.load_rules()
    assert [r.id for r in second.rules] == [r.id for r in first.rules] and second.sha256 == first.sha256


def test_a_changed_pack_is_parsed_again(home, tmp_path, monkeypatch):
    pack = tmp_path / "one.rule"
    text = (ROOT / "rules" / "fin.rule").read_text(encoding="utf-8")
    pack.write_text(text, encoding="utf-8")
    rulecheck.load_rules([pack])
    pack.write_text(text.replace("FIN-001", "FIN-101"), encoding="utf-8")
    ids = [r.id for r in rulecheck.load_rules([pack]).rules]
    assert "FIN-101" in ids and "FIN-001" not in ids


def test_a_tampered_file_is_not_unpickled(home, monkeypatch):
    rulecheck.load_rules()
    for f in home.glob("*.pack"):
        data = f.read_bytes()
        f.write_bytes(data[:-20] + b"x" * 20)  # the payload no longer matches the sha256 in the first line
    calls = []
    real = parser.parse_file
    monkeypatch.setattr(parser, "parse_file", lambda *a, **k: calls.append(a) or real(*a, **k))
    assert len(rulecheck.load_rules().rules) > 0
    assert len(calls) == len(list(home.glob("*.pack")))


@pytest.mark.parametrize("unsafe", ["group-writable", "symlink"])
def test_an_unsafe_directory_is_not_used(unsafe, home, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    home.parent.mkdir(parents=True)
    if unsafe == "symlink":
        home.symlink_to(elsewhere, target_is_directory=True)
    else:
        home.mkdir(mode=0o700)
        os.chmod(home, 0o770)
    assert cache.cache_dir() is None
    rulecheck.load_rules()
    assert not list(elsewhere.iterdir()) and not list(home.glob("*.pack"))


def test_a_file_writable_by_others_is_not_used(home, monkeypatch):
    rulecheck.load_rules()
    for f in home.glob("*.pack"):
        os.chmod(f, 0o666)
    calls = []
    real = parser.parse_file
    monkeypatch.setattr(parser, "parse_file", lambda *a, **k: calls.append(a) or real(*a, **k))
    rulecheck.load_rules()
    assert calls


def test_lark_keeps_nothing_in_the_shared_temp_folder():
    assert not parser._lark().options.cache


def test_a_changed_parser_makes_the_cache_stale(home, monkeypatch):
    rulecheck.load_rules()
    before = set(home.glob("*.pack"))
    monkeypatch.setattr(cache, "_code_fingerprint", lambda: b"another parser")
    calls = []
    real = parser.parse_file
    monkeypatch.setattr(parser, "parse_file", lambda *a, **k: calls.append(a) or real(*a, **k))
    rulecheck.load_rules()
    assert len(calls) == len(before) and len(set(home.glob("*.pack")) - before) == len(before)
