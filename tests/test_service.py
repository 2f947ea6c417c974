"""`rulecheck serve` as an approval system calls it: the real server (uvicorn on a free port, in a subprocess)
over HTTP. A posted bundle's report equals the command line's JSON report except `submission.manifest`, which
is the manifest's path inside the bundle (docs/service.md)."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from click.testing import CliRunner  # noqa: E402

from rulecheck.cli import cli  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
TOKEN = "t0ken-for-tests"
NAMES = ("minimal", "eco-recreation", "eco-recreation-defects", "land-sea", "land-sea-defects", "mine-land")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(data: Path, *options: str):
    """`rulecheck serve` on a free port in a subprocess, once /health answers: (process, base URL)."""
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if key != "RULECHECK_TOKEN"}
    if "--token-file" not in options:  # the tests' token is an admin's: it may select, ignore and waive
        tokens = Path(data).parent / f"{Path(data).name}-tokens"
        tokens.write_text(f"{TOKEN} admin tests\n", encoding="utf-8")
        options = ("--token-file", str(tokens), *options)
    process = subprocess.Popen([sys.executable, "-m", "rulecheck", "serve", "--port", str(port), "--data-dir",
                                str(data), *options], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(base + "/health", timeout=2) as response:
                if response.status == 200:
                    return process, base
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("the service did not start:\n" + process.stdout.read().decode(errors="replace"))
            time.sleep(0.3)


def stop_server(process) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("service-data")
    process, base = start_server(data, "--workers", "2", "--max-upload-mb", "1", "--max-expanded-mb", "20",
                                 "--max-files", "50", "--job-threshold-mb", "0.01")
    yield {"base": base, "data": data}
    stop_server(process)


def call(server, method: str, path: str, body: bytes | None = None, *, token: str | None = TOKEN,
         content_type: str | None = None, accept: str | None = None):
    """(status, headers, body bytes) of one request; an HTTP error status is returned, not raised."""
    request = urllib.request.Request(server["base"] + path, data=body, method=method)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    if content_type:
        request.add_header("Content-Type", content_type)
    if accept:
        request.add_header("Accept", accept)
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def call_oversized(server, size: int) -> tuple[int, bytes]:
    """POST `size` bytes the way a client that honours an early answer does: the server refuses from the
    Content-Length, before the body is read, and may close the connection while it is still being sent."""
    import http.client

    host, port = server["base"].removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    connection.putrequest("POST", "/checks")
    connection.putheader("Authorization", f"Bearer {TOKEN}")
    connection.putheader("Content-Type", "application/zip")
    connection.putheader("Content-Length", str(size))
    connection.endheaders()
    try:
        connection.send(b"\0" * size)
    except OSError:
        pass  # the answer is already on its way
    response = connection.getresponse()
    try:
        return response.status, response.read()
    finally:
        connection.close()


def bundle(name: str) -> bytes:
    """The fixture's folder as a zip: its manifest at the top, its layers beside it."""
    out = io.BytesIO()
    folder = FIXTURES / name
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return out.getvalue()


_CLI_REPORTS: dict[tuple, dict] = {}


def cli_report(name: str, *args: str) -> dict:
    """The command line's JSON report of a fixture (computed once per fixture and options)."""
    key = (name, args)
    if key not in _CLI_REPORTS:
        result = CliRunner().invoke(cli, ["check", str(FIXTURES / name / "submission.yaml"), "--format", "json",
                                          "--no-config", *args])
        assert result.exit_code in (0, 1), result.output
        _CLI_REPORTS[key] = json.loads(result.stdout)
    return _CLI_REPORTS[key]


def without_manifest(record: dict) -> dict:
    record = json.loads(json.dumps(record))
    record["submission"].pop("manifest")
    return record


def wait_for(server, check_id: str, deadline: float = 240) -> tuple[int, dict, bytes]:
    end = time.monotonic() + deadline
    while True:
        status, headers, body = call(server, "GET", f"/checks/{check_id}")
        if status != 202 or time.monotonic() > end:
            return status, headers, body
        time.sleep(0.3)


def test_health_needs_no_token_and_names_the_rule_pack(server):
    status, _, body = call(server, "GET", "/health", token=None)
    assert status == 200
    health = json.loads(body)
    assert health["status"] == "ok" and len(health["rules_sha256"]) == 64 and health["rules"] > 100


@pytest.mark.parametrize("path,method", [("/rules", "GET"), ("/rules/LAY-004", "GET"), ("/checks", "POST"),
                                         ("/checks/abc", "GET"), ("/submissions/MIN-01/checks", "GET")])
def test_without_or_with_a_wrong_token_401(server, path, method):
    body = b"x" if method == "POST" else None
    for token in (None, "wrong"):
        status, headers, answer = call(server, method, path, body, token=token, content_type="application/yaml")
        assert status == 401, (path, token)
        assert "token" in json.loads(answer)["detail"]
        assert headers.get("www-authenticate") == "Bearer"


def test_openapi_document_validates(server):
    from openapi_spec_validator import validate

    status, _, body = call(server, "GET", "/openapi.json", token=None)
    assert status == 200
    document = json.loads(body)
    validate(document)
    assert {"/checks", "/checks/{check_id}", "/rules", "/rules/{rule_id}", "/health",
            "/submissions/{submission_id}/checks"} <= set(document["paths"])
    assert "application/zip" in document["paths"]["/checks"]["post"]["requestBody"]["content"]


def test_rules_and_one_rule_match_the_command_line(server):
    status, _, body = call(server, "GET", "/rules")
    assert status == 200
    catalog = json.loads(body)
    result = CliRunner().invoke(cli, ["rules", "list", "--format", "json"])
    listed = json.loads(result.stdout)
    listed = listed["rules"] if isinstance(listed, dict) else listed
    assert [entry["id"] for entry in catalog] == [entry["id"] for entry in listed]
    status, _, body = call(server, "GET", "/rules/lay-004")
    assert status == 200 and json.loads(body)["id"] == "LAY-004"
    status, _, body = call(server, "GET", "/rules/NOPE-999")
    assert status == 404 and "NOPE-999" in json.loads(body)["detail"]


@pytest.mark.parametrize("name", ["eco-recreation-defects", "land-sea-defects", "mine-land"])
def test_posted_zip_report_equals_the_command_lines(server, name):
    status, headers, body = call(server, "POST", "/checks?lang=en&mode=sync", bundle(name),
                                 content_type="application/zip")
    assert status == 200, body[:500]
    record = json.loads(body)
    assert record["submission"]["manifest"] == "submission.yaml"  # never the server's private folder
    assert without_manifest(record) == without_manifest(cli_report(name, "--lang", "en"))
    assert headers["x-rulecheck-verdict"] == record["summary"]["verdict"]
    # the stored check is the same report
    status, _, stored = call(server, "GET", f"/checks/{headers['x-rulecheck-check']}")
    assert status == 200 and json.loads(stored) == record


def test_manifest_with_inline_data_and_options(server):
    # the manifest's data is inline; the county scheme it names is the bundle's one other file
    text = _zip([("submission.yaml", (FIXTURES / "minimal" / "submission.yaml").read_bytes()),
                 ("scheme.yaml", (FIXTURES / "minimal" / "scheme.yaml").read_bytes())])
    status, _, body = call(server, "POST", "/checks?select=SUP,IND&ignore=SUP-010&as_of=2026-05-01&fail_on=warning",
                           text, content_type="application/zip")
    assert status == 200
    expected = cli_report("minimal", "--select", "SUP,IND", "--ignore", "SUP-010", "--as-of", "2026-05-01",
                          "--fail-on", "warning")
    assert without_manifest(json.loads(body)) == without_manifest(expected)
    assert all(entry["family"] in ("SUP", "IND") and entry["id"] != "SUP-010"
               for entry in json.loads(body)["rules"]["catalog"])


def test_the_stage_of_the_gate_is_a_query_option_as_on_the_command_line(server):
    text = _zip([("submission.yaml", (FIXTURES / "minimal" / "submission.yaml").read_bytes()),
                 ("scheme.yaml", (FIXTURES / "minimal" / "scheme.yaml").read_bytes())])
    status, _, body = call(server, "POST", "/checks?stage=supply&mode=sync", text, content_type="application/zip")
    assert status == 200
    record = json.loads(body)
    assert record["submission"]["stage"] == "supply"
    assert without_manifest(record) == without_manifest(cli_report("minimal", "--stage", "supply"))
    status, _, body = call(server, "POST", "/checks?mode=sync", text, content_type="application/zip")
    assert status == 200 and json.loads(body)["submission"]["stage"] == "joint_review"
    status, _, body = call(server, "POST", "/checks?stage=approval", text, content_type="application/zip")
    assert status in (400, 422) and b"stage" in body


def test_multipart_form_upload(server):
    boundary = "rulecheck-test-boundary"
    data = bundle("land-sea-defects")
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"bundle\"; filename=\"b.zip\"\r\n"
            f"Content-Type: application/zip\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    status, _, answer = call(server, "POST", "/checks?lang=en&mode=sync", body,
                             content_type=f"multipart/form-data; boundary={boundary}")
    assert status == 200, answer[:300]
    assert without_manifest(json.loads(answer)) == without_manifest(cli_report("land-sea-defects", "--lang", "en"))


def test_unknown_rule_in_select_is_422_like_exit_2(server):
    text = (FIXTURES / "minimal" / "submission.yaml").read_bytes().replace(
        b"county_scheme: {path: scheme.yaml}", b"county_scheme: MIN-ZTFA-2025")  # one file: the scheme by its id
    status, _, body = call(server, "POST", "/checks?select=SUPP-010", text, content_type="application/yaml")
    assert status == 422
    assert "SUPP-010" in json.dumps(json.loads(body)["diagnostics"], ensure_ascii=False)


WAIVERS = """- rule: FIN-005
  subjects: [PKG-S1]
  reason: 财政专项补助已批复
  approver: 张三
  basis: 阳财〔2026〕12号
  expires: 2026-12-31
"""


def test_waivers_inside_the_bundle_apply_as_on_the_command_line(server, tmp_path):
    folder = FIXTURES / "land-sea-defects"
    data = _zip([("submission.yaml", (folder / "submission.yaml").read_bytes()),
                 ("scheme.yaml", (folder / "scheme.yaml").read_bytes()),
                 ("approvals/waivers.yaml", WAIVERS.encode())])
    status, _, body = call(server, "POST", "/checks?lang=en&waivers=approvals/waivers.yaml", data,
                           content_type="application/zip")
    assert status == 200, body[:300]
    record = json.loads(body)
    assert [w["rule"] for w in record["waivers"]["applied"]] == ["FIN-005"]
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(WAIVERS, encoding="utf-8")
    expected = CliRunner().invoke(cli, ["check", str(folder / "submission.yaml"), "--format", "json", "--no-config",
                                        "--lang", "en", "--waivers", str(waivers)])
    # the waiver file is named as in the bundle, as the manifest is
    assert record["waivers"]["applied"][0]["file"] == "approvals/waivers.yaml"
    assert without_manifest(record) == without_manifest(json.loads(expected.stdout.replace(
        json.dumps(str(waivers))[1:-1], "approvals/waivers.yaml")))
    assert str(server["data"]) not in body.decode()
    for name in ("../waivers.yaml", "/etc/passwd", "approvals/none.yaml"):
        status, _, body = call(server, "POST", f"/checks?waivers={name}", data, content_type="application/zip")
        assert status == 400 and "bundle" in json.loads(body)["detail"], name


def test_manifest_in_a_top_level_folder_or_named(server):
    text = (FIXTURES / "minimal" / "submission.yaml").read_bytes()
    scheme = (FIXTURES / "minimal" / "scheme.yaml").read_bytes()  # the county scheme each manifest names, beside it
    status, _, body = call(server, "POST", "/checks", _zip([("u03/submission.yaml", text), ("u03/scheme.yaml", scheme)]),
                           content_type="application/zip")
    assert status == 200 and json.loads(body)["submission"]["manifest"] == "u03/submission.yaml"
    two = _zip([("a.yaml", text), ("scheme.yaml", scheme), ("plans/b.yaml", text), ("plans/scheme.yaml", scheme)])
    status, _, body = call(server, "POST", "/checks?manifest=plans/b.yaml", two, content_type="application/zip")
    assert status == 200 and json.loads(body)["submission"]["manifest"] == "plans/b.yaml"
    status, _, body = call(server, "POST", "/checks?manifest=../b.yaml", two, content_type="application/zip")
    assert status == 400 and "inside the archive" in json.loads(body)["detail"]


def test_a_malformed_option_is_422_naming_it(server):
    text = (FIXTURES / "minimal" / "submission.yaml").read_bytes()
    for query, field in (("as_of=2026-13-01", "query.as_of"), ("fail_on=sometimes", "query.fail_on"),
                         ("format=pdf", "query.format")):
        status, _, body = call(server, "POST", f"/checks?{query}", text, content_type="application/yaml")
        assert status == 422, query
        assert field in json.loads(body)["detail"], body


def test_formats_by_query_and_accept_header(server):
    text = _zip([("submission.yaml", (FIXTURES / "land-sea-defects" / "submission.yaml").read_bytes()),
                 ("scheme.yaml", (FIXTURES / "land-sea-defects" / "scheme.yaml").read_bytes())])
    status, headers, body = call(server, "POST", "/checks?format=sarif&lang=en", text, content_type="application/zip")
    assert status == 200 and headers["content-type"].startswith("application/sarif+json")
    assert json.loads(body)["version"] == "2.1.0"
    status, headers, body = call(server, "POST", "/checks?lang=en", text, content_type="application/zip",
                                 accept="text/plain")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    from rulecheck.report import render

    # the same report as the command line's, its files named from the bundle's root (the command line names them
    # from the folder it ran in)
    expected = json.loads(json.dumps(cli_report("land-sea-defects", "--lang", "en")))  # a copy: it is cached
    expected["submission"]["manifest"] = "submission.yaml"
    assert body.decode() == render(expected, "text", lang="en")
    status, headers, body = call(server, "GET", f"/checks/{headers['x-rulecheck-check']}", accept="application/xml")
    assert status == 200 and body.startswith(b"<?xml")


def test_large_bundle_runs_as_a_job(server):
    data = bundle("eco-recreation-defects")
    assert len(data) > 0.01 * 1024 * 1024  # over the test server's --job-threshold-mb
    status, headers, body = call(server, "POST", "/checks?lang=en", data, content_type="application/zip")
    assert status == 202
    job = json.loads(body)
    assert job["status"] in ("queued", "running") and headers["location"] == f"/checks/{job['id']}"
    status, _, body = wait_for(server, job["id"])
    assert status == 200
    assert without_manifest(json.loads(body)) == without_manifest(cli_report("eco-recreation-defects", "--lang", "en"))


def test_unreadable_submission_is_422_with_located_diagnostics(server):
    text = (FIXTURES / "broken" / "unknown-enum.yaml").read_bytes()
    status, _, body = call(server, "POST", "/checks", text, content_type="application/yaml")
    assert status == 422
    problem = json.loads(body)
    assert problem["diagnostics"] and problem["diagnostics"][0]["path"] == "submission.yaml"
    assert str(server["data"]) not in body.decode()  # the private folder is never shown


def _zip(entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, data in entries:
            archive.writestr(info, data)
    return out.getvalue()


def test_refusals_each_with_its_status_and_message(server, tmp_path):
    manifest = (FIXTURES / "minimal" / "submission.yaml").read_bytes()
    link = zipfile.ZipInfo("layers/parcels.geojson")
    link.external_attr = (0o120777 << 16)
    cases = {
        "zip bomb": (_zip([("submission.yaml", manifest), ("layers/big.geojson", b"\0" * (30 * 1024 * 1024))]),
                     "application/zip", 413, "zip bomb"),
        "escaping path": (_zip([("submission.yaml", manifest), ("../../evil.yaml", b"x: 1")]), "application/zip",
                          400, "escapes"),
        "absolute path": (_zip([("submission.yaml", manifest), ("/tmp/evil.yaml", b"x: 1")]), "application/zip",
                          400, "absolute"),
        "symlink": (_zip([("submission.yaml", manifest), (link, b"/etc/passwd")]), "application/zip", 400, "link"),
        "too many files": (_zip([("submission.yaml", manifest)] + [(f"f{n}.txt", b"") for n in range(60)]),
                           "application/zip", 413, "entries"),
        "empty": (b"", "application/zip", 400, "empty"),
        "no manifest": (_zip([("notes.txt", b"hello")]), "application/zip", 400, "submission.yaml"),
    }
    for what, (data, content_type, expected, word) in cases.items():
        status, _, body = call(server, "POST", "/checks", data, content_type=content_type)
        assert status == expected, (what, body[:300])
        assert word in json.loads(body)["detail"], (what, body[:300])
    assert not Path("/tmp/evil.yaml").exists()
    status, body = call_oversized(server, 1024 * 1024 + 10)
    assert status == 413 and "exceeds the limit of 1 MiB" in json.loads(body)["detail"]
    # every request's private folder is gone once it is answered
    time.sleep(0.5)
    assert list((Path(server["data"]) / "requests").iterdir()) == []


def test_private_request_folders_are_mode_0700(server):
    folder = Path(server["data"]) / "requests"
    assert folder.stat().st_mode & 0o777 == 0o700
    assert Path(server["data"]).stat().st_mode & 0o077 == 0


def test_32_concurrent_posts_each_get_their_own_report(server):
    posts = [(NAMES[n % len(NAMES)], ("en", "zh")[n // len(NAMES) % 2]) for n in range(32)]

    def post(item):
        name, lang = item
        # sync: every post is answered with its own report, not a job id
        return call(server, "POST", f"/checks?lang={lang}&mode=sync", bundle(name), content_type="application/zip")

    with ThreadPoolExecutor(max_workers=32) as pool:
        answers = list(pool.map(post, posts))
    ids = set()
    for (name, lang), (status, headers, body) in zip(posts, answers):
        assert status == 200, (name, body[:300])
        assert without_manifest(json.loads(body)) == without_manifest(cli_report(name, "--lang", lang))
        ids.add(headers["x-rulecheck-check"])
    assert len(ids) == 32


def _minimal_with(*changes: tuple[str, str]) -> bytes:
    text = (FIXTURES / "minimal" / "submission.yaml").read_text(encoding="utf-8")
    text = text.replace("id: MIN-01", "id: MIN-HISTORY")
    text = text.replace("county_scheme: {path: scheme.yaml}", "county_scheme: MIN-ZTFA-2025")  # a one-file bundle: no scheme file
    for old, new in changes:
        assert old in text
        text = text.replace(old, new, 1)
    return text.encode()


def test_history_three_rounds_new_persisting_resolved(server):
    # round 1: the forest right's term is too long (SUP-013 on R1)
    # round 2: still so, and the construction right's term too (SUP-010 on R2 is new)
    # round 3: the forest right fixed (SUP-013 resolved), SUP-010 persists
    rounds = [_minimal_with(("term_years: 30", "term_years: 90")),
              _minimal_with(("term_years: 30", "term_years: 90"), ("term_years: 40", "term_years: 90")),
              _minimal_with(("term_years: 40", "term_years: 90"))]
    checks = []
    for text in rounds:
        status, headers, _ = call(server, "POST", "/checks?lang=en", text, content_type="application/yaml")
        assert status == 200
        checks.append(headers["x-rulecheck-check"])
    status, _, body = call(server, "GET", "/submissions/MIN-HISTORY/checks")
    assert status == 200
    history = json.loads(body)["rounds"]
    assert [r["check"] for r in history] == checks
    assert [(r["new"], r["persisting"], r["resolved"]) for r in history] == [(1, 0, 0), (1, 1, 0), (0, 1, 1)]
    marked = [{(c["rule"], c["subjects"][0]["id"]): c["status"] for c in r["conflicts"]} for r in history]
    assert marked == [{("SUP-013", "R1"): "new"},
                      {("SUP-013", "R1"): "persisting", ("SUP-010", "R2"): "new"},
                      {("SUP-010", "R2"): "persisting"}]
    assert [(c["rule"], c["subjects"][0]["id"]) for c in history[2]["resolved_conflicts"]] == [("SUP-013", "R1")]
    # each round records what it was made from
    assert all(len(r["rules_sha256"]) == 64 and r["inputs"][0]["sha256"] and r["params"] for r in history)
    assert history[0]["inputs"][0]["sha256"] != history[1]["inputs"][0]["sha256"]
    status, _, _ = call(server, "GET", "/submissions/NO-SUCH/checks")
    assert status == 404


def test_serve_refuses_an_empty_token_file(tmp_path):
    empty = tmp_path / "token"
    empty.write_text("\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["serve", "--token-file", str(empty), "--data-dir", str(tmp_path / "d")])
    assert result.exit_code == 2 and "empty" in result.output


def test_serve_refuses_a_public_address_without_a_token():
    env = {key: value for key, value in os.environ.items() if key != "RULECHECK_TOKEN"}
    result = subprocess.run([sys.executable, "-m", "rulecheck", "serve", "--host", "0.0.0.0", "--port", "1"],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 2
    assert "without a token" in result.stderr


def test_a_check_past_its_run_time_is_refused_with_a_message(tmp_path):
    process, base = start_server(tmp_path / "data", "--workers", "1", "--run-seconds", "0.001")
    try:
        status, _, body = call({"base": base}, "POST", "/checks?lang=en", bundle("eco-recreation-defects"),
                               content_type="application/zip")
    finally:
        stop_server(process)
    assert status == 422
    message = json.loads(body)["diagnostics"][0]["message"]
    assert "did not finish" in message and "run_seconds" in message


def test_impact_against_the_service_history(server, tmp_path):
    # the history keeps each bundle: a rule change is checked against the latest round of every submission
    for name in ("eco-recreation", "land-sea", "mine-land"):
        status, _, _ = call(server, "POST", "/checks?mode=sync", bundle(name), content_type="application/zip")
        assert status == 200
    params = tmp_path / "coverage-45.rule"
    params.write_text('''param industrial_min_coverage
  title zh "工业项目建筑系数下限（测试）"
        en "Minimum building coverage of an industrial project (test)"
  from 2008-01-31 source "测试：建筑系数下限 45%"
    provenance practice "a figure for the impact test"
    value 45 %
''', encoding="utf-8")
    result = CliRunner().invoke(cli, ["impact", "--params", str(params), "--against", str(server["data"]),
                                      "--format", "json", "--jobs", "1", "--lang", "en"])
    assert result.exit_code == 1, result.output
    rows = json.loads(result.stdout)["submissions"]
    assert all(row["manifest"].startswith(f"history:{row['submission']}@") for row in rows)
    import rulecheck

    low = set()
    for manifest in FIXTURES.glob("*/submission.yaml"):
        submission = rulecheck.load_submission(manifest)
        if any(str(p.land_use).startswith("1001") and p.coverage is not None and p.coverage < 45
               for p in submission.detailed_plan.parcels):
            low.add(submission.submission.id)
    stored = {row["submission"] for row in rows}
    assert {"QY-U03-2026", "YX-U05-2026", "YD-U11-2026"} <= stored
    assert {row["submission"] for row in rows if row["status"] == "affected"} == stored & low
    assert all(c["rule"] in ("IND-030", "IND-032") for row in rows for c in row.get("added", []))


@pytest.fixture
def postgres_url(postgres_server):
    """The shared throwaway PostgreSQL (tests/conftest.py), skipped without initdb and pg_ctl."""
    return postgres_server[0]


def test_history_in_postgresql(postgres_url, tmp_path):
    # the same service, its history in PostgreSQL: rounds, a stored report, and impact against that database
    process, base = start_server(tmp_path / "data", "--workers", "1", "--database", postgres_url)
    try:
        checks = []
        for text in (_minimal_with(("term_years: 30", "term_years: 90")),
                     _minimal_with(("term_years: 40", "term_years: 90"))):
            status, headers, _ = call({"base": base}, "POST", "/checks?lang=en", text, content_type="application/yaml")
            assert status == 200
            checks.append(headers["x-rulecheck-check"])
        status, _, body = call({"base": base}, "GET", "/submissions/MIN-HISTORY/checks")
        status_report, _, report = call({"base": base}, "GET", f"/checks/{checks[1]}")
    finally:
        stop_server(process)
    assert status == 200
    rounds = json.loads(body)["rounds"]
    assert [r["check"] for r in rounds] == checks
    assert [(r["new"], r["persisting"], r["resolved"]) for r in rounds] == [(1, 0, 0), (1, 0, 1)]
    assert status_report == 200 and json.loads(report)["summary"]["error"] == 1
    assert not (tmp_path / "data" / "history.sqlite").exists()
    from rulecheck.history import History

    store = History(postgres_url)
    try:
        latest = store.latest_bundles()
    finally:
        store.close()
    latest = [item for item in latest if item["submission"] == "MIN-HISTORY"]  # the database is shared
    assert [(item["submission"], item["check"]) for item in latest] == [("MIN-HISTORY", checks[1])]
    assert b"term_years: 90" in latest[0]["data"]
