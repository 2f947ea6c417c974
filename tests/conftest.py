"""Shared test helpers: a hand-built report record, as the engine produces it, for the emitter and waiver tests."""

from __future__ import annotations

import copy

import pytest

X0, Y0 = 38_402_000.0, 2_621_000.0  # CGCS2000 3-degree GK zone 38 (EPSG:4526), near Qingyuan


def _box(x1: float, y1: float, x2: float, y2: float) -> dict:
    return {"type": "Polygon", "coordinates": [[[X0 + x1, Y0 + y1], [X0 + x2, Y0 + y1], [X0 + x2, Y0 + y2],
                                                [X0 + x1, Y0 + y2], [X0 + x1, Y0 + y1]]]}


def _catalog_entry(rule_id: str, severity: str, zh: str, en: str, citation: str, text: str,
                   waivable: bool = True, tags=()) -> dict:
    family = rule_id.split("-")[0]
    return {"id": rule_id, "family": family, "severity": severity, "title": {"zh": zh, "en": en},
            "basis": {"citation": citation, "text": text}, "tags": list(tags), "waivable": waivable,
            "source": {"path": f"rules/{family.lower()}.rule", "line": 10}}


def sample_record(*, with_layers: bool = True) -> dict:
    """A report record with four conflicts (LAY with a geometry, two IND, one FIN waived) and two clean rules."""
    catalog = [
        _catalog_entry("LAY-004", "error", "建设用地使用权不得占用永久基本农田或生态保护红线",
                       "Construction rights must not overlap basic farmland or the ecological red line",
                       "《土地管理法》第三十五条", "永久基本农田经依法划定后，任何单位和个人不得擅自占用或者改变其用途",
                       waivable=False, tags=["layout", "control_lines"]),
        _catalog_entry("IND-002", "error", "供应合同容积率上限不得高于详细规划",
                       "Contract floor-area ratio must not exceed the detailed plan",
                       "《城乡规划法》第三十八条", "规划条件应作为国有土地使用权出让合同的组成部分", tags=["indicators"]),
        _catalog_entry("IND-005", "warning", "工业用地绿地率不得高于20%", "Industrial green ratio at most 20 %",
                       "《工业项目建设用地控制指标》", "绿地率不得超过20%", tags=["indicators"]),
        _catalog_entry("FIN-002", "warning", "资产包收支应平衡", "Package revenues should cover costs",
                       "《自然资源资产配置指南》", "收支平衡", tags=["finance"]),
        _catalog_entry("SUP-001", "error", "合同应供应完整资产包", "The contract supplies the whole package",
                       "《自然资源资产配置指南》", "整体供应", tags=["supply"]),
    ]
    conflicts = [
        {"rule": "LAY-004", "family": "LAY", "severity": "error",
         "title": catalog[0]["title"]["zh"], "titles": catalog[0]["title"],
         "message": "权益 R03 与永久基本农田 L01 重叠 1200 m²",
         "messages": {"zh": "权益 R03 与永久基本农田 L01 重叠 1200 m²",
                      "en": "Right R03 overlaps permanent basic farmland L01 by 1200 m²"},
         "basis": "《土地管理法》第三十五条：永久基本农田经依法划定后，任何单位和个人不得擅自占用或者改变其用途",
         "subjects": [{"collection": "rights", "id": "R03", "source": {"path": "layers/rights.geojson", "line": 14}},
                      {"collection": "control_lines", "id": "L01", "source": {"path": "layers/lines.geojson", "line": 5}}],
         "expected": "overlap_area <= 0 m²", "actual": "overlap_area = 1200 m²",
         "geometry": _box(300, 200, 340, 230), "explanation": [], "waiver": None},
        {"rule": "IND-002", "family": "IND", "severity": "error",
         "title": catalog[1]["title"]["zh"], "titles": catalog[1]["title"],
         "message": "合同 C01/R07 容积率上限 1.6 高于详细规划地块 P-0412 的 1.2",
         "messages": {"zh": "合同 C01/R07 容积率上限 1.6 高于详细规划地块 P-0412 的 1.2",
                      "en": "Contract item C01/R07 allows FAR 1.6, above 1.2 of parcel P-0412"},
         "basis": "《城乡规划法》第三十八条：规划条件应作为国有土地使用权出让合同的组成部分",
         "subjects": [{"collection": "contracts", "id": "C01/R07", "source": {"path": "submission.yaml", "line": 88}},
                      {"collection": "parcels", "id": "P-0412", "source": {"path": "layers/parcels.geojson", "line": 1207}}],
         "expected": "far_max <= 1.2", "actual": "far_max = 1.6", "geometry": None,
         "explanation": [{"expr": "item.far_max", "value": "1.6"}, {"expr": "parcel.far_max", "value": "1.2"}],
         "waiver": None},
        {"rule": "IND-005", "family": "IND", "severity": "warning",
         "title": catalog[2]["title"]["zh"], "titles": catalog[2]["title"],
         "message": "地块 P-0415 绿地率 25% 高于 20% <上限>", "messages": {
             "zh": "地块 P-0415 绿地率 25% 高于 20% <上限>",
             "en": "Parcel P-0415 green ratio 25 % above 20 % <cap> & \"quoted\" | piped"},
         "basis": "《工业项目建设用地控制指标》：绿地率不得超过20%",
         "subjects": [{"collection": "parcels", "id": "P-0415", "source": {"path": "layers/parcels.geojson", "line": 1300}}],
         "expected": "green_min <= 20", "actual": "green_min = 25", "geometry": None, "explanation": [], "waiver": None},
        {"rule": "FIN-002", "family": "FIN", "severity": "warning",
         "title": catalog[3]["title"]["zh"], "titles": catalog[3]["title"],
         "message": "资产包 PK1 收支缺口 350 万元", "messages": {"zh": "资产包 PK1 收支缺口 350 万元",
                                                         "en": "Package PK1 runs a deficit of 350 wan yuan"},
         "basis": "《自然资源资产配置指南》：收支平衡",
         "subjects": [{"collection": "packages", "id": "PK1", "source": {"path": "submission.yaml", "line": 40}}],
         "expected": "revenues >= costs", "actual": "revenues - costs = -350 wan_yuan", "geometry": None,
         "explanation": [],
         "waiver": {"reason": "财政专项补助已批复", "approver": "张三", "basis": "清财〔2026〕12号",
                    "expires": "2026-12-31", "file": "waivers.yaml", "line": 2}},
    ]
    record = {
        "format": "rulecheck/report/v1",
        "tool": {"name": "rulecheck", "version": "0.1.0"},
        "submission": {"id": "QY-U03-2026", "title": "清远某生态游憩配置单元", "as_of": "2026-03-01",
                       "crs": "EPSG:4526", "manifest": "fixtures/eco-recreation/submission.yaml",
                       "inputs": [{"path": "submission.yaml", "sha256": "0" * 64},
                                  {"path": "layers/parcels.geojson", "sha256": "1" * 64}],
                       "notes": []},
        "rules": {"packs": ["rules/lay.rule", "rules/ind.rule", "rules/fin.rule", "rules/sup.rule"],
                  "sha256": "a" * 64, "catalog": catalog,
                  "params": [{"name": "max_term_transfer", "key": "09", "value": "40 years",
                              "source": "《城镇国有土地使用权出让和转让暂行条例》第十二条", "from": "1990-05-19",
                              "file": "rules/params/terms.rule"}]},
        "lang": "zh",
        "summary": {"error": 2, "warning": 1, "info": 0, "passed": False, "fail_on": "error",
                    "waived": 1, "indeterminate": 0, "rules_run": 5},
        "conflicts": conflicts,
        "outcomes": [
            {"rule": "LAY-004", "status": "fail", "checked": 6, "failed": 1, "indeterminate": 0, "not_applicable": 0},
            {"rule": "IND-002", "status": "fail", "checked": 12, "failed": 1, "indeterminate": 0, "not_applicable": 0},
            {"rule": "IND-005", "status": "fail", "checked": 3, "failed": 1, "indeterminate": 0, "not_applicable": 0},
            {"rule": "FIN-002", "status": "fail", "checked": 2, "failed": 1, "indeterminate": 0, "not_applicable": 0},
            {"rule": "SUP-001", "status": "pass", "checked": 2, "failed": 0, "indeterminate": 0, "not_applicable": 0},
        ],
        "indeterminate": [],
        "waivers": {"applied": [conflicts[3]["waiver"]], "unmatched": [], "expired": []},
    }
    if with_layers:
        record["layers"] = {
            "unit": _box(0, 0, 1000, 800),
            "parcels": [{"id": "P-0412", "land_use": "0901", "geometry": _box(0, 0, 500, 400)},
                        {"id": "P-0415", "land_use": "1001", "geometry": _box(500, 0, 1000, 400)},
                        {"id": "P-0420", "land_use": "0301", "geometry": _box(0, 400, 1000, 800)}],
            "rights": [{"id": "R03", "kind": "construction_land_use", "geometry": _box(250, 150, 450, 380)},
                       {"id": "R07", "kind": "forest_management", "geometry": _box(50, 450, 950, 750)}],
        }
    return record


def clean_record() -> dict:
    """The sample record after a clean run: no conflicts, every rule passed."""
    record = sample_record(with_layers=False)
    record["conflicts"] = []
    record["summary"] = {"error": 0, "warning": 0, "info": 0, "passed": True, "fail_on": "error",
                         "waived": 0, "indeterminate": 0, "rules_run": 5}
    record["waivers"] = {"applied": [], "unmatched": [], "expired": []}
    for outcome in record["outcomes"]:
        outcome.update(status="pass", failed=0)
    return record


@pytest.fixture
def record() -> dict:
    return copy.deepcopy(sample_record())


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory):
    """A throwaway PostgreSQL (initdb + pg_ctl on a free port) when the server binaries are on PATH, shared by the
    service tests: (url, stop, start); a test that stops it starts it again."""
    import os
    import pwd
    import shutil
    import socket
    import subprocess
    import tempfile
    from pathlib import Path

    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl) on PATH")
    pytest.importorskip("psycopg")
    folder = Path(tempfile.mkdtemp(prefix="rulecheck-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and no 'postgres' user to run PostgreSQL as")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        prefix = [shutil.which("runuser") or "runuser", "-u", "postgres", "--"]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    data = folder / "data"
    subprocess.run([*prefix, initdb, "-D", str(data), "-U", "rulecheck", "--auth=trust", "-E", "UTF8"],
                   check=True, capture_output=True)

    def start():
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-l", str(folder / "log"), "-w", "-o",
                        f"-p {port} -k {folder} -c listen_addresses=127.0.0.1", "start"], check=True,
                       capture_output=True)

    def stop():
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"], capture_output=True)

    start()
    try:
        yield f"postgresql+psycopg://rulecheck@127.0.0.1:{port}/postgres", stop, start
    finally:
        stop()
        shutil.rmtree(folder, ignore_errors=True)


def pytest_addoption(parser):
    parser.addoption("--update-snapshots", action="store_true", default=False,
                     help="rewrite tests/snapshots/ from today's output instead of comparing with it "
                          "(or set RULECHECK_UPDATE_SNAPSHOTS=1)")


@pytest.fixture(scope="session")
def update_snapshots(request) -> bool:
    """True when the run was asked to rewrite the snapshot files rather than compare against them."""
    import os

    return bool(request.config.getoption("--update-snapshots")) or os.environ.get("RULECHECK_UPDATE_SNAPSHOTS") == "1"
