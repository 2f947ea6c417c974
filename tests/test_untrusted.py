"""Nothing the submitter ships controls the gate or the machine (issue 19, item 6; ../shared/repro B13, N01-N05,
N11-N13, N16): a bundle's own settings file, a layer file of the wrong shape, a manifest that is a symlink out of
its folder, a planted compiled-pack cache, escapes in ids, bad language-server framing, endless layers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEFECTS = ROOT / "fixtures" / "eco-recreation-defects"
EXE = Path(sys.executable).with_name("rulecheck")


def invoke(*args, cwd: Path = ROOT, env: dict | None = None) -> subprocess.CompletedProcess:
    """The command in this process (click's runner), in `cwd`."""
    from click.testing import CliRunner

    from rulecheck.cli import cli

    here = os.getcwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(cli, [str(a) for a in args], env={"NO_COLOR": None, "FORCE_COLOR": None} | (env or {}))
    finally:
        os.chdir(here)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


def run(*args, cwd: Path = ROOT, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """The installed command in a process of its own."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")} | (env or {})
    return subprocess.run([str(EXE), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=full_env)


# ---- N03: a settings file inside the bundle ---------------------------------------------------------------


@pytest.fixture
def ci(tmp_path) -> Path:
    """A CI checkout: ci/bundle is the submitter's bundle (the defects fixture), ci/victim a folder beside it."""
    shutil.copytree(DEFECTS, tmp_path / "ci" / "bundle")
    (tmp_path / "ci" / "victim").mkdir()
    (tmp_path / "ci" / "victim" / "report.html").write_text("important", encoding="utf-8")
    return tmp_path / "ci"


@pytest.mark.parametrize("settings", [
    'fail-on = "never"\n',
    'select = ["GEO-001"]\n',
    'rules = ["policy/ok.rule"]\n',
    'output-dir = "../victim"\nformats = ["html"]\n',
    'rules = ["/proc/self/environ"]\n',
    'waivers = "w.yaml"\n',
])
def test_a_settings_file_in_the_bundle_changes_nothing(ci, settings):
    bundle = ci / "bundle"
    (bundle / "policy").mkdir()
    (bundle / "policy" / "ok.rule").write_text(
        'rule GEO-001\n  title zh "t" en "t"\n  severity error\n  basis "b" "c"\n  for each p in detailed_plan.parcels\n'
        '  require true\n  message zh "m" en "m"\n', encoding="utf-8")
    (bundle / "rulecheck.toml").write_text(settings, encoding="utf-8")
    (ci / "rulecheck.toml").unlink(missing_ok=True)
    for cwd, manifest in ((ci, "bundle/submission.yaml"), (ci.parent, "ci/bundle/submission.yaml")):
        result = run("check", manifest, "--lang", "en", cwd=cwd, env={"CI_JOB_TOKEN": "glcbt-SECRET123"})
        assert result.returncode == 1, (settings, result.stdout[-300:], result.stderr[-300:])
        assert result.stdout.rstrip().endswith("FAILED") and "49 errors" in result.stdout  # the shipped rules, issues 21 and 22's included
        assert "glcbt-SECRET123" not in result.stdout + result.stderr
        assert "Settings file" not in result.stdout
    assert (ci / "victim" / "report.html").read_text(encoding="utf-8") == "important"
    # run from inside the bundle: the file is in the working folder but is the submitter's; said, not read
    inside = run("check", "submission.yaml", "--lang", "en", cwd=bundle)
    assert inside.returncode == 1 and "not read" in inside.stderr and "rulecheck.toml" in inside.stderr


def test_the_working_folders_settings_apply_and_every_report_names_them(ci):
    (ci / "rulecheck.toml").write_text('fail-on = "never"\nselect = ["IND"]\n', encoding="utf-8")
    text = run("check", "bundle/submission.yaml", "--lang", "en", cwd=ci)
    assert text.returncode == 0
    assert "Settings file: rulecheck.toml (applied: fail-on, select)" in text.stdout.splitlines()[-2]
    out = ci / "out"
    result = invoke("check", "bundle/submission.yaml", "--lang", "en", "--output-dir", out,
                    *[x for fmt in ("json", "sarif", "markdown", "github", "html", "text") for x in ("--format", fmt)],
                    cwd=ci)
    assert result.returncode == 0
    assert result.stdout.splitlines()[0] == "Settings file: rulecheck.toml (applied: fail-on, select)"
    record = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert record["config"] == {"path": "rulecheck.toml", "applied": ["fail-on", "select"]}
    sarif = json.loads((out / "report.sarif").read_text(encoding="utf-8"))
    assert sarif["runs"][0]["properties"]["settings"] == record["config"]
    for name in ("report.md", "report.github.txt", "report.html", "report.txt"):
        assert "Settings file: rulecheck.toml" in (out / name).read_text(encoding="utf-8"), name
    # no settings file: the JSON report and SARIF say none
    (ci / "rulecheck.toml").unlink()
    result = invoke("check", "bundle/submission.yaml", "--format", "json", cwd=ci)
    assert json.loads(result.stdout)["config"] == {"path": None, "applied": []}
    # --config names the submitter's file when the gate's owner means it
    (ci / "bundle" / "rulecheck.toml").write_text('fail-on = "never"\n', encoding="utf-8")
    named = invoke("check", "bundle/submission.yaml", "--config", "bundle/rulecheck.toml", "--lang", "en", cwd=ci)
    assert named.returncode == 0 and "Settings file: bundle/rulecheck.toml (applied: fail-on)" in named.stdout


# ---- B13, N01: layer files of the wrong shape ----------------------------------------------------------------


@pytest.mark.parametrize("document, expected", [
    ({"type": ["Polygon"]}, "layers/unit.geojson:1: error: expected a GeoJSON geometry, Feature or FeatureCollection"),
    ({"type": {"a": 1}}, "layers/unit.geojson:1: error: expected a GeoJSON geometry, Feature or FeatureCollection"),
    ({"type": "FeatureCollection", "features": []}, "layers/unit.geojson:1: error: no geometry found"),
])
def test_a_geometry_source_of_the_wrong_shape_is_a_located_input_error(tmp_path, document, expected):
    bundle = tmp_path / "bundle"
    shutil.copytree(DEFECTS, bundle)
    (bundle / "layers" / "unit.geojson").write_text(json.dumps(document), encoding="utf-8")
    result = invoke("check", "submission.yaml", "--lang", "en", cwd=bundle)
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr and "Traceback" not in result.stderr and "bug" not in result.stderr


# ---- N04: a manifest or layer that resolves outside the bundle --------------------------------------------------


SECRET = "machine example.com login bob password s3cr3tpw"


@pytest.mark.parametrize("target", ["netrc", "/proc/self/environ"])
def test_a_manifest_that_is_a_symlink_out_of_its_folder_is_refused_without_a_byte_of_it(tmp_path, target):
    (tmp_path / "netrc").write_text(SECRET + "\n", encoding="utf-8")
    bundle = tmp_path / "batch" / "bundle"
    bundle.mkdir(parents=True)
    (bundle / "submission.yaml").symlink_to(tmp_path / "netrc" if target == "netrc" else target)
    env = {"CI_JOB_TOKEN": "glcbt-SECRET123"}
    result = run("check", "batch/bundle/submission.yaml", "--lang", "en", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert "symlink to a file outside its own folder" in result.stderr
    for secret in ("s3cr3tpw", "glcbt-SECRET123", "machine", "PATH="):
        assert secret not in result.stdout + result.stderr
    batch = run("batch", "batch", "--output-dir", "out", "--lang", "en", cwd=tmp_path, env=env)
    assert batch.returncode == 2, batch.stderr
    written = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "out").iterdir())
    assert "symlink to a file outside" in written
    for secret in ("s3cr3tpw", "glcbt-SECRET123", "PATH="):
        assert secret not in written + batch.stdout + batch.stderr


def test_a_layer_that_resolves_outside_the_bundle_is_refused_without_a_byte_of_it(tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(DEFECTS, bundle)
    (tmp_path / "secret.geojson").write_text('{"type": "' + SECRET + '"}', encoding="utf-8")
    (bundle / "layers" / "unit.geojson").unlink()
    (bundle / "layers" / "unit.geojson").symlink_to(tmp_path / "secret.geojson")
    manifest = (bundle / "submission.yaml").read_text(encoding="utf-8")
    (bundle / "submission.yaml").write_text(
        manifest.replace("layers/package-A.geojson", "../secret.geojson")
        .replace("layers/package-B.geojson", str(tmp_path / "secret.geojson")), encoding="utf-8")
    result = invoke("check", "submission.yaml", "--lang", "en", cwd=bundle)
    assert result.returncode == 2
    assert result.stderr.count("outside the submission's folder") + result.stderr.count("absolute path") + \
        result.stderr.count("leaves the submission's folder") >= 3, result.stderr
    assert "s3cr3tpw" not in result.stdout + result.stderr


# ---- N05, N13: the compiled-pack cache -------------------------------------------------------------------------


def _ind_key_material():
    from rulecheck.dsl.rules import default_rule_paths

    source = default_rule_paths()[0] / "ind.rule"
    return source, "rulecheck:ind.rule\0max_expr_depth=100", source.read_text(encoding="utf-8")


class _Runs:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"echo ran > {self.marker}",))


def _plant(folder: Path, name: str, payload: bytes) -> None:
    """What a repository can commit into a cache folder: a file with the old checksum header (anyone can compute it)."""
    import hashlib

    from rulecheck.dsl import cache

    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    for fmt in (b"rulecheck-pack-cache-1", cache.FORMAT):
        head = fmt + b" " + hashlib.sha256(payload).hexdigest().encode() + b" " + name.encode()
        (folder / f"{name}.pack").write_bytes(head + b"\n" + payload)


def _old_key(display: str, text: str) -> str:
    """The entry's name before it was bound to a secret: computable by anyone from public data."""
    import hashlib

    from rulecheck import __version__
    from rulecheck.dsl import cache

    digest = hashlib.sha256()
    for part in (b"rulecheck-pack-cache-1", __version__.encode(), cache._code_fingerprint(), display.encode(),
                 text.encode()):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def test_a_planted_cache_file_never_runs_code_nor_changes_a_verdict(tmp_path, monkeypatch):
    """A repository that commits .cache/rulecheck/<key>.pack, in a CI that sets XDG_CACHE_HOME=$PWD/.cache; and a
    valid parse of another pack planted under the very name this user's cache uses for ind.rule."""
    import dataclasses
    import pickle

    from rulecheck.dsl import ast, cache
    from rulecheck.dsl.parser import parse_file

    monkeypatch.delenv("RULECHECK_NO_CACHE", raising=False)
    checkout = tmp_path / "checkout"
    folder = checkout / ".cache" / "rulecheck"
    source, display, text = _ind_key_material()
    marker = tmp_path / "MARKER"
    monkeypatch.setenv("XDG_CACHE_HOME", str(checkout / ".cache"))
    right_name = cache.key_of(display, text)  # this user's name for the entry (needs the secret)
    assert right_name is not None
    for name in {_old_key(display, text), right_name}:
        _plant(folder, name, pickle.dumps(_Runs(marker)))
    env = {"XDG_CACHE_HOME": str(checkout / ".cache")}
    result = run("check", DEFECTS / "submission.yaml", "--format", "json", cwd=checkout, env=env)
    assert not marker.exists(), "a planted pickle ran code"
    before = json.loads(result.stdout)
    ind = sorted(c["rule"] for c in before["conflicts"] if c["rule"].startswith("IND"))
    assert ind, "the defects fixture has IND conflicts"

    # a valid parse of ind.rule whose every requirement is `true`, under the right name: ignored
    pack, diagnostics = parse_file(source, display)
    rules = tuple(dataclasses.replace(r, require=ast.Bool(span=r.require.span, value=True)) if r.require is not None
                  else r for r in pack.rules)
    payload = pickle.dumps((dataclasses.replace(pack, rules=rules), diagnostics), protocol=pickle.HIGHEST_PROTOCOL)
    for name in {_old_key(display, text), right_name}:
        _plant(folder, name, payload)
    assert cache.load(right_name) is None
    after = json.loads(run("check", DEFECTS / "submission.yaml", "--format", "json", cwd=checkout, env=env).stdout)
    assert sorted(c["rule"] for c in after["conflicts"] if c["rule"].startswith("IND")) == ind
    assert after["rules"]["sha256"] == before["rules"]["sha256"]


def test_the_cache_secret_is_private_and_entries_are_bound_to_it(tmp_path, monkeypatch):
    from rulecheck.dsl import cache

    monkeypatch.delenv("RULECHECK_NO_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(cache, "secret_path", lambda: tmp_path / "state" / "rulecheck" / "cache-secret")
    name = cache.key_of("a.rule", "text")
    secret = tmp_path / "state" / "rulecheck" / "cache-secret"
    assert (secret.stat().st_mode & 0o777) == 0o600 and (secret.parent.stat().st_mode & 0o777) == 0o700
    cache.store(name, ("a value",))
    assert cache.load(name) == ("a value",)
    # another secret (another user or install): the same text has another name, and the entry is not accepted
    secret.write_bytes(b"x" * cache.SECRET_BYTES)
    assert cache.key_of("a.rule", "text") != name and cache.load(name) is None
    # a secret readable by others is not used: no cache at all
    os.chmod(secret, 0o644)
    assert cache.key_of("a.rule", "text") is None and cache.load(name) is None


def test_the_cache_is_pruned_least_recently_used_first(tmp_path, monkeypatch):
    import time

    from rulecheck.dsl import cache

    monkeypatch.delenv("RULECHECK_NO_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(cache, "MAX_ENTRIES", 20)
    names = [cache.key_of(f"p{i}.rule", "x") for i in range(30)]
    for i, name in enumerate(names):
        cache.store(name, i)
        os.utime(tmp_path / "xdg" / "rulecheck" / f"{name}.pack", (time.time() - 1000 + i,) * 2)
    assert len(list((tmp_path / "xdg" / "rulecheck").glob("*.pack"))) == 20
    assert cache.load(names[10]) == 10  # read: now the most recently used
    cache.store(cache.key_of("new.rule", "x"), "new")
    assert cache.load(names[10]) == 10 and cache.load(names[11]) is None
    monkeypatch.setattr(cache, "MAX_BYTES", 1)
    cache.store(cache.key_of("big.rule", "x"), "x" * 1000)
    assert len(list((tmp_path / "xdg" / "rulecheck").glob("*.pack"))) == 0


def test_the_language_servers_documents_leave_nothing_in_the_cache(tmp_path, monkeypatch):
    from rulecheck.dsl import lsp

    monkeypatch.delenv("RULECHECK_NO_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    text = (ROOT / "rules" / "fin.rule").read_text(encoding="utf-8")
    folder = tmp_path / "xdg" / "rulecheck"
    before = len(list(folder.glob("*.pack"))) if folder.exists() else 0
    for edit in range(3):
        lsp.RuleAnalysis("file:///tmp/edit.rule", text + " " * edit)
    after = len(list(folder.glob("*.pack"))) if folder.exists() else 0
    assert after == before


# ---- N11, N12: escapes and links from the inputs -------------------------------------------------------------


HOSTILE_ID = ("R1[c](javascript:alert(1))![x](http://example.invalid/x.png)<img src=x onerror=alert(1)>"
              "\x1b[31mRED\x1b]8;;http://evil.invalid\x07link\x1b]8;;\x07%0A::warning::forged\u202eevil\u2066\x9b")
RAW_CONTROLS = ("\x1b", "\x07", "\u202e", "\u2066", "\x9b")


def _hostile(record: dict) -> dict:
    import copy

    record = copy.deepcopy(record)
    for conflict in record["conflicts"]:
        for key in ("messages", "titles"):
            conflict[key] = {lang: text + " " + HOSTILE_ID for lang, text in (conflict.get(key) or {}).items()}
        conflict["message"] = conflict.get("message", "") + " " + HOSTILE_ID
        for subject in conflict.get("subjects") or []:
            subject["id"] = HOSTILE_ID
    return record


@pytest.mark.parametrize("fmt", ["github", "gitlab", "text", "markdown"])
def test_terminal_escapes_and_bidi_controls_never_reach_a_log(fmt):
    from conftest import sample_record
    from rulecheck.report import render

    out = render(_hostile(sample_record()), fmt, lang="en")
    for raw in RAW_CONTROLS:
        assert raw not in out, (fmt, repr(raw))
    if fmt == "github":
        assert not any(line.startswith("::warning::forged") for line in out.splitlines())
        assert "\\x1b]8;;http://evil.invalid" in out, "shown escaped, not dropped"


def test_the_github_format_of_a_real_check_carries_no_escape(tmp_path):
    folder = Path("/work/shared/repro/N11-github-format-terminal-escapes")
    if not (folder / "submission.yaml").exists():
        pytest.skip("the N11 reproduction is not here")
    result = run("check", folder / "submission.yaml", "--lang", "en", "--format", "github", cwd=tmp_path)
    assert result.returncode == 1 and "R1" in result.stdout
    for raw in RAW_CONTROLS[:3]:
        assert raw not in result.stdout


def test_sarif_messages_make_no_link_from_an_id():
    import re

    from conftest import sample_record
    from rulecheck.report import render

    sarif = json.loads(render(_hostile(sample_record()), "sarif", lang="en"))
    run_ = sarif["runs"][0]
    texts = [r["message"]["text"] for r in run_["results"]]
    texts += [loc["message"]["text"] for r in run_["results"] for loc in r["locations"] if "message" in loc]
    assert any("javascript" in t for t in texts)
    for text in texts:
        # SARIF 2.1.0 3.11.6: an embedded link is [text](target); a literal bracket is written \[ or \]
        assert not re.search(r"(?<!\\)\[[^\]]*(?<!\\)\]\(", text), text
        assert not re.search(r"(?<!\\)\]\(", text), text
        for raw in RAW_CONTROLS:
            assert raw not in text
    for rule in run_["tool"]["driver"]["rules"]:
        assert not re.search(r"(?<!\\)\]\(", rule["help"]["markdown"])


# ---- N16: the language server's framing -------------------------------------------------------------------------


def _frame(message: dict) -> bytes:
    body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


BAD_FRAMES = [
    b"Content-Type: x\r\n\r\n{}",  # no Content-Length
    b"Content-Length: -5\r\n\r\n{}",
    b"Content-Length: 1000000000000\r\n\r\n{}",
    b"Content-Length: abc\r\n\r\n{}",
    b"Content-Length: 3\r\n\r\n{}}}}",  # a body that is not JSON (a wrong length)
    b"X" * 20000 + b"\r\n\r\n",  # a header line without end
]


@pytest.mark.parametrize("bad", BAD_FRAMES)
def test_the_framer_skips_a_badly_framed_message_and_reads_on(bad):
    import io

    from rulecheck.dsl.lsp import Framer

    good = [_frame({"id": n, "method": "m", "params": {"n": n}}) for n in range(2)]
    logged = []
    framer = Framer(io.BytesIO(good[0] + bad + good[1]), log=logged.append)
    messages = []
    while True:
        header = framer.readline()
        if not header:
            break
        assert header.startswith(b"Content-Length: ") and framer.readline() == b"\r\n"
        messages.append(json.loads(framer.read(int(header.split(b":")[1]))))
    assert [m["id"] for m in messages] == [0, 1] and logged


def test_the_language_server_answers_after_bad_framing(tmp_path):
    pytest.importorskip("pygls")
    from test_authors_lsp import GOOD, Client

    client = Client(tmp_path)
    try:
        client.request("initialize", {"processId": None, "rootUri": tmp_path.as_uri(), "capabilities": {}})
        client.notify("initialized", {})
        uri = (tmp_path / "doc.rule").as_uri()
        client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "rulecheck", "version": 1,
                                                                "text": GOOD}})
        import threading

        answers = []

        def hovers():
            for bad in BAD_FRAMES[:3]:
                client.proc.stdin.write(bad)
                client.proc.stdin.flush()
                answers.append(client.request("textDocument/hover", {"textDocument": {"uri": uri},
                                                                     "position": {"line": 5, "character": 12}}))

        worker = threading.Thread(target=hovers, daemon=True)
        worker.start()
        worker.join(120)
        assert not worker.is_alive(), f"no answer after bad framing ({len(answers)} of 3 answered)"
        assert len(answers) == 3 and all(a and "far_max" in json.dumps(a) for a in answers)
        assert client.proc.poll() is None
    finally:
        client.proc.kill()
        client.proc.wait()


# ---- N02: loading bounded in time and memory; validating a pack linear in its size --------------------------


def _endless_view_bundle(tmp_path: Path) -> Path:
    """The mine-land fixture whose rights layer is a GeoPackage view with endless rows (a recursive CTE)."""
    import sqlite3

    bundle = tmp_path / "bundle"
    shutil.copytree(ROOT / "fixtures" / "mine-land", bundle)
    db = sqlite3.connect(bundle / "layers" / "mine.gpkg")
    db.execute("""CREATE VIEW bomb AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n)
                  SELECT n.i AS fid, r.geom AS geom, r.id || '-' || n.i AS id, r.kind, r.land_use, r.ownership,
                         r.term_years, r.supply_method, r.package, r.overlay, r.scale, r.area_m2
                  FROM n, (SELECT * FROM rights LIMIT 1) r""")
    db.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id) VALUES ('bomb', 'features', 'bomb', 4526)")
    db.execute("INSERT INTO gpkg_geometry_columns VALUES ('bomb', 'geom', 'POLYGON', 4526, 0, 0)")
    db.commit()
    db.close()
    manifest = bundle / "submission.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace("layers/mine.gpkg#rights", "layers/mine.gpkg#bomb"),
                        encoding="utf-8")
    return bundle


def test_an_endless_geopackage_view_is_stopped_by_its_limit(tmp_path):
    import time

    bundle = _endless_view_bundle(tmp_path)
    started = time.monotonic()
    result = run("check", "submission.yaml", "--lang", "en", "--limit", "layer_seconds=3", cwd=bundle, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "took more than 3 s" in result.stderr and "layer_seconds" in result.stderr
    assert "submission.yaml:" in result.stderr and "mine.gpkg" in result.stderr
    assert time.monotonic() - started < 60


def test_a_gdal_read_is_held_to_its_memory_limit(tmp_path):
    from rulecheck.limits import override
    from rulecheck.model.geometry import LayerTooCostly, bounded

    def greedy():
        return bytearray(512 * 2**20)

    with override(layer_memory_mb=256), pytest.raises(LayerTooCostly, match="layer_memory_mb"):
        bounded(greedy)
    with override(layer_memory_mb=0):
        assert len(bounded(lambda: b"x" * 10)) == 10


@pytest.mark.parametrize("target", ["layers/parcels.geojson", "submission.yaml"])
def test_a_file_of_nuls_is_refused_before_it_costs_memory(tmp_path, target):
    if not Path("/proc/self/status").exists():
        pytest.skip("needs /proc (Linux)")
    bundle = tmp_path / "bundle"
    shutil.copytree(DEFECTS, bundle)
    with open(bundle / target, "wb") as stream:
        stream.truncate(256 * 2**20)  # 256 MiB of NULs (sparse)
    # the peak of this process's own memory (VmHWM; ru_maxrss would count the pytest process it was forked from)
    script = ("import re, sys\nfrom rulecheck.cli import cli\n"
              "try:\n    cli(['check', 'submission.yaml', '--lang', 'en'])\n"
              "except SystemExit as e:\n"
              "    peak = re.search(r'VmHWM:\\s*(\\d+)', open('/proc/self/status').read()).group(1)\n"
              "    print(e.code, peak, file=sys.stderr)\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=bundle, capture_output=True, text=True, timeout=300)
    code, peak_kib = result.stderr.strip().splitlines()[-1].split()
    assert code == "2" and "not a text file: a NUL byte (0x00) at byte 0" in result.stderr
    assert int(peak_kib) < 200 * 1024, f"peak {int(peak_kib) // 1024} MiB"


def _big_pack(path: Path, count: int) -> Path:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    rule = ('rule {id}\n  title zh "t" en "t"\n  severity error\n  basis "b" "c"\n  for each p in detailed_plan.parcels\n'
            '  require p.far_max <= 3\n  message zh "m" en "m"\n')
    ids = (f"{letters[i // 900 // 26 % 26]}{letters[i // 900 % 26]}Q-{i % 900 + 100}" for i in range(count))
    path.write_text("".join(rule.format(id=i) for i in ids), encoding="utf-8")
    return path


def test_validating_a_pack_is_linear_in_its_size(tmp_path, monkeypatch):
    """Per rule, validating 8,000 rules (1.2 MB, each with a warning) costs about what 2,000 do. Before, every rule
    counted every earlier diagnostic, and the cyclic collector walked the growing AST again and again."""
    import time

    from rulecheck.dsl import rules

    monkeypatch.setenv("RULECHECK_NO_CACHE", "1")
    small, big = _big_pack(tmp_path / "small.rule", 2000), _big_pack(tmp_path / "big.rule", 8000)

    def per_rule(path: Path, count: int) -> float:
        started = time.process_time()
        rule_set, diagnostics = rules.validated([path])
        assert len(rule_set.rules) >= count and not [d for d in diagnostics if d.severity == "error"]
        return (time.process_time() - started) / count

    rules.validated([small])  # imports and the shipped packs
    small_cost = min(per_rule(small, 2000) for _ in range(2))
    big_cost = per_rule(big, 8000)
    assert big_cost < 1.35 * small_cost, (small_cost, big_cost)
