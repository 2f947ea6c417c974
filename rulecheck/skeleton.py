"""The skeleton submission `rulecheck init` writes: a commented manifest and tiny layers that load cleanly."""

from __future__ import annotations

import datetime as dt
import json

from rulecheck.model.manifest_schema import render_schema

CRS = "EPSG:4526"  # CGCS2000 / 3-degree Gauss-Kruger zone 38 (central meridian 114°E), metres
X0, Y0 = 38_401_000.0, 2_622_000.0  # near Qingyuan, Guangdong


def _box(x1: float, y1: float, x2: float, y2: float) -> dict:
    ring = [[X0 + x1, Y0 + y1], [X0 + x2, Y0 + y1], [X0 + x2, Y0 + y2], [X0 + x1, Y0 + y2], [X0 + x1, Y0 + y1]]
    return {"type": "Polygon", "coordinates": [ring]}


def _collection(name: str, features: list[tuple[dict, dict]]) -> str:
    """A GeoJSON FeatureCollection, one feature per line (so reports can point at a line), with its CRS named."""
    head = {"type": "FeatureCollection", "name": name,
            "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4526"}}}
    lines = [json.dumps(head, ensure_ascii=False)[:-1] + ', "features": [']
    rows = [json.dumps({"type": "Feature", "properties": props, "geometry": geometry}, ensure_ascii=False)
            for props, geometry in features]
    lines.append(",\n".join(rows))
    lines.append("]}")
    return "\n".join(lines) + "\n"


MANIFEST = """\
# yaml-language-server: $schema=submission.schema.json
# rulecheck submission manifest / 提交材料清单
# Format: docs/bundle-format.md of rulecheck; editors complete this file from submission.schema.json
# (written by `rulecheck schema`). 格式说明见 rulecheck 的 docs/bundle-format.md；编辑器按 submission.schema.json 补全。
# Check it with / 检查命令:  rulecheck check submission.yaml
# A complete submission has the unit plan with its six inventories, one package program (parts ① to ⑦) per
# package, the detailed plan and the draft contracts. 完整的提交材料：配置单元规划及六项清单、每个资产包的实施方案
# （①至⑦）、详细规划、供应合同草案。Replace the sample values with your own. 请以实际数据替换示例数值。

format: rulecheck/v1
submission:
  id: NEW-UNIT-01             # required / 必填：提交编号
  title: 新建配置单元          # title / 名称
  jurisdiction: "441803"      # administrative code, selects province overrides / 行政区划代码
  as_of: {as_of}           # the date whose law applies / 适用法规的日期
  crs: EPSG:4526              # CRS of every geometry, projected, metres / 坐标系（投影，米）
  stage: joint_review         # the gate: joint_review (同编同审前) or supply (供应前); `rulecheck check --stage` overrides it

unit_plan:                    # 配置单元规划
  id: U01
  name: 新建配置单元
  direction: eco_recreation   # 主导方向: urban_rural_integration, eco_recreation, land_sea, agri_culture_tourism, industry_integration, mine_land
  zone: non_concentrated      # 非集中建设区 (or concentrated 城乡集中建设区)
  county_scheme: {{path: scheme.yaml}}   # the county scheme (县级总体配置方案) that drew the unit / 所依据的总体配置方案 (or its id: XX-ZTFA-01)
  goals: [生态游憩目的地]      # 发展目标
  approval: {{organiser: 县人民政府, approver: 县人民政府, status: approved, date: {approved}, version: "v1"}}   # status: draft | submitted | approved / 编制审批记录
  boundary: layers/unit.geojson     # unit boundary / 单元边界
  rights: layers/rights.geojson     # rights layout, one feature per right / 权益布局，每个要素一项权益
  # indicator_proposals:            # 建设控制指标建议 (must equal the detailed plan / 应与详细规划一致)
  #   - parcel: P2
  #     far_max: 1.2
  inventories:                      # the six inventories / 六项清单 (each a list, or a layer path such as layers/resources.gpkg#ZYQD)
    resources:                      # 资源清单: class, quantity, state / 类别、实物量、利用现状
      - {{id: RS1, land_use: "0301", quantity: 1, unit: ha, ownership: collective, state: in_use}}
      - {{id: RS2, land_use: "0901", quantity: 1, unit: ha, ownership: state, state: idle}}
    assets:                         # 资产清单: value, holder, registration / 价值、持有人、确权登记
      - {{id: A1, package: PKG-1, land_use: "0301", ownership: collective, holder: 村集体经济组织, value_wan_yuan: 20, registered: true}}
      - {{id: A2, package: PKG-1, land_use: "0901", ownership: state, holder: 县人民政府, value_wan_yuan: 280, registered: true}}
    funds:                          # 资金清单: channel fiscal, special_bond, social_capital, bank_loan, indicator_trading, other
      - {{id: F1, channel: fiscal, name: 土地出让收入, amount_wan_yuan: 300}}
      - {{id: F2, channel: special_bond, name: 土地储备专项债券, amount_wan_yuan: 100}}
    conditions:                     # 条件清单: use_control, eco_capacity, infrastructure, engineering
      - {{id: C1, kind: use_control, text: 林地不得改变用途}}
    demands:                        # 需求清单: party owner_representative, manager, right_holder, market
      - {{id: D1, party: market, intent: development, text: 商业用地招商}}
      - {{id: D2, party: owner_representative, intent: protection, text: 村集体保留林地收益}}
      - {{id: D3, party: right_holder, intent: protection, text: 林地承包户保留经营权}}
    policies:                       # 政策清单: land_consolidation, inefficient_land_redevelopment, collective_market_entry, other
      - {{id: PO1, kind: land_consolidation, name: 全域土地综合整治实施方案}}
  finance: {{costs: {{public_interest: 50}}, revenues: {{}}}}   # the unit's own balance, costs outside the packages / 单元资金平衡
  packages:                         # asset packages / 资产包
    - id: PKG-1
      name: 示例资产包
      boundary: layers/unit.geojson
      rights: [R1, R2, R3]
      program:                      # the package program, parts ① to ④ / 实施方案①至④
        survey:                                                                         # ① 详查定界评估
          date: {survey}
          boundary_surveyed: true         # 勘测定界
          registered: true                # 确权登记
          facts: {{people: 3, land: 2, buildings: 1, businesses: 0, rights: 2}}   # 人、地、房、业、权 records verified / 核实条数
          appraised_value_wan_yuan: 300
        design: {{date: {survey}, functions: [生态游憩, 商业服务], controls_applied: true}}   # ② 赋能赋权 (controls_applied: 落实详细规划管控)
        assembly:                                                                       # ③ 整备
          holder: 县土地储备中心
          paths: [acquisition, lease]     # acquisition, swap, lease, equity, trusteeship, transfer
          compensation_standard: 按区片综合地价补偿
          funds: [F2]                     # ids in the funds inventory / 资金清单编号
          deadline: {deadline}
        approvals:                                                                      # ④ 报批, one per resource class / 每一资源门类一项
          - {{resource: "0301", authority: 省林业局, preconditions: [林地经营权流转备案], status: granted, date: {approval}}}
          - {{resource: "0901", authority: 县人民政府, preconditions: [出让方案批准], status: granted, date: {approval}}}
        approval: {{organiser: 县土地储备中心, approver: 县人民政府, status: approved, date: {approved}}}   # the program's own approval / 实施方案审批
      duties:                       # ⑤ bundled duties / 附带责任 (kind facility: name the plan's facility in `facility`)
        - {{id: D1, kind: stewardship, resource: "03", quantity: 1, unit: ha, due: {due}}}
      supply: {{method: transfer, award: listing, reserve_price_wan_yuan: 300, start: {start}}}   # ⑤ 供应方案
      finance: {{costs: {{assembly: 100}}, revenues: {{transfer: 300}}, government_share: 0.6, channels: [土地出让收入]}}   # ⑥ 融资
      loads: {{visitors_per_day: 200}}   # what the package puts on the conditions inventory's limits (metric: amount)
      revenue_sharing:              # ⑦ 收益分配 (role: legal_owner_representative, agent_owner_representative, local_government, assembler, operator, collective)
        - {{party: 村集体经济组织, share: 30, role: legal_owner_representative}}
        - {{party: 县人民政府, share: 40, role: agent_owner_representative}}
        - {{party: 镇人民政府, share: 10, role: local_government}}
        - {{party: 县土地储备中心, share: 20, role: assembler}}

detailed_plan:                # 详细规划
  id: DP-01
  status: approved            # draft | approved / 草案 | 已批准
  approval: {{organiser: 县自然资源局, approver: 县人民政府, status: approved, date: {approved}, version: "v1"}}
  joint_review: {{body: 县规划委员会, date: {review}, unit_plan_version: "v1", detailed_plan_version: "v1"}}   # 同编同审: the versions reviewed together
  parcels: layers/parcels.geojson   # parcels with land use and control indicators / 地块、用途与控制指标
  control_lines: layers/lines.geojson   # control lines / 控制线 (三区三线)

contracts:                    # draft supply contracts / 供应合同草案
  - id: C01
    package: PKG-1
    method: transfer
    award: listing
    price_wan_yuan: 320
    start: {start}
    items:                    # one per right; `method` where the item is supplied otherwise than the contract
      - {{right: R1, parcel: P1, land_use: "0301", area_m2: 10000, term_years: 30, method: lease}}
      - {{right: R2, parcel: P2, land_use: "0901", area_m2: 10000, term_years: 40, far_max: 1.2, density_max: 35, green_min: 30, height_max: 15}}
    duties:
      - {{duty: D1, quantity: 1, unit: ha, due: {due}}}
    attached_rights: [R3]     # the overlay rights (附设权能) the package carries
"""


SCHEME = """\
# rulecheck county scheme / 县级自然资源资产总体配置方案 (docs/bundle-format.md, "The county scheme")
# The units it draws are checked against it (CTY rules): direction, assembly holder, ways of gathering rights,
# supply model, boundary, key area, phase years. 配置单元规划依据本方案编制并与之核对。

format: rulecheck/v1
scheme:
  id: XX-ZTFA-01
  jurisdiction: "441803"
  crs: EPSG:4526
  based_on: XX-SJFA-01               # the municipal scheme / 市级总体配置方案
  organiser: 县人民政府               # 组织编制
  reviewed: {{body: 县人大常委会, date: {reviewed}}}   # 审议
  approved: {{body: 县人民政府, date: {approved}}}     # 审批
  key_areas:                         # 重点整备片区 (or a layer: layers/key-areas.geojson)
    - {{id: KA-1, kind: assembly_area, name: 示例重点整备片区, geometry: "{key_area}"}}
  units:                             # the units drawn / 划示的配置单元 (or a layer)
{units}
  finance: {{costs: {{planning: 10}}, revenues: {{}}}}   # the county's own account / 方案自身收支（算大账）
"""

SCHEME_UNIT = """\
    - id: {uid}
      name: 新建配置单元 {uid}
      direction: eco_recreation
      key_area: KA-1
      holder: 县土地储备中心          # 整备主体
      gathering: [acquisition, lease]  # 权利归集方式: acquisition, swap, lease, equity, trusteeship, transfer
      supply_model: single_package    # 组合供应模式: single_package, combined_package, phased_packages, or words
      phase: {phase}                        # 实施时序
      start_year: {start_year}
      end_year: {end_year}
      guidance: 林地经营权与商业用地组合供应
      geometry: "{geometry}"\
"""


def _wkt_box(x1: float, y1: float, x2: float, y2: float) -> str:
    return (f"POLYGON (({X0 + x1:.0f} {Y0 + y1:.0f}, {X0 + x2:.0f} {Y0 + y1:.0f}, {X0 + x2:.0f} {Y0 + y2:.0f}, "
            f"{X0 + x1:.0f} {Y0 + y2:.0f}, {X0 + x1:.0f} {Y0 + y1:.0f}))")


def _scheme(as_of: dt.date, units: list[tuple[str, float, int]]) -> str:
    start = dt.date(as_of.year + 1, 1, 1)
    width = max(dx for _, dx, _ in units) + 200
    rows = [SCHEME_UNIT.format(uid=uid, phase=phase, start_year=start.year, end_year=start.year + 1,
                               geometry=_wkt_box(dx, 0, dx + 200, 100)) for uid, dx, phase in units]
    return SCHEME.format(reviewed=(as_of - dt.timedelta(days=90)).isoformat(), approved=(as_of - dt.timedelta(days=60)).isoformat(),
                         key_area=_wkt_box(-50, -50, width + 50, 150), units="\n".join(rows))


def skeleton_files(as_of: dt.date | None = None) -> dict[str, str]:
    """File name (relative to the new folder) -> text, in the order they are written."""
    as_of = as_of or dt.date.today()
    # the program's dates follow the as_of date, in the method's order: surveyed and designed before it, the plans
    # reviewed together and approved, then assembled, the approvals of ④ granted, and supply at least half a year on
    start = dt.date(as_of.year + 1, 1, 1) if as_of.month < 7 else dt.date(as_of.year + 1, 7, 1)
    dates = {"as_of": as_of.isoformat(), "survey": (as_of - dt.timedelta(days=30)).isoformat(),
             "review": (as_of - dt.timedelta(days=20)).isoformat(), "approved": (as_of - dt.timedelta(days=10)).isoformat(),
             "deadline": (start - dt.timedelta(days=60)).isoformat(), "approval": (start - dt.timedelta(days=30)).isoformat(),
             "start": start.isoformat(), "due": dt.date(start.year + 4, 12, 31).isoformat()}
    forest, commercial = _box(0, 0, 100, 100), _box(100, 0, 200, 100)
    return {
        "submission.yaml": MANIFEST.format(**dates),
        "scheme.yaml": _scheme(as_of, [("U01", 0.0, 1)]),
        "submission.schema.json": render_schema(),
        "layers/unit.geojson": _collection("unit", [({"id": "U01"}, _box(0, 0, 200, 100))]),
        "layers/rights.geojson": _collection("rights", [
            ({"id": "R1", "kind": "forest_management", "land_use": "0301", "ownership": "collective",
              "term_years": 30, "supply_method": "lease", "package": "PKG-1", "function": "service",
              "conditions": ["不得改变林地用途"]}, forest),
            ({"id": "R2", "kind": "construction_land_use", "land_use": "0901", "ownership": "state",
              "term_years": 40, "supply_method": "transfer", "package": "PKG-1", "function": "revenue",
              "conditions": ["按规划条件开发建设"]}, commercial),
            # an attached right (附设权能) laid over the forest: a sightseeing concession that finances its upkeep
            ({"id": "R3", "kind": "concession", "land_use": "0301", "ownership": "collective", "term_years": 20,
              "supply_method": "authorized_operation", "package": "PKG-1", "overlay": True, "function": "financing",
              "conditions": ["在授权范围和期限内经营"]}, forest),
        ]),
        "layers/parcels.geojson": _collection("parcels", [
            ({"id": "P1", "land_use": "0301", "area_m2": 10000}, forest),
            ({"id": "P2", "land_use": "0901", "area_m2": 10000, "far_max": 1.2, "density_max": 35,
              "green_min": 30, "height_max": 15}, commercial),
        ]),
        "layers/lines.geojson": _collection("control_lines", [
            ({"id": "L1", "kind": "urban_development_boundary"}, commercial),
        ]),
    }


_IDS = ("PKG-1", "R1", "R2", "R3", "P1", "P2", "A1", "A2", "C01", "L1")  # every id of the skeleton: each unit gets its own


def county_files(as_of: dt.date | None = None, units: int = 2) -> dict[str, str]:
    """`rulecheck init --county DIR`: a county manifest, its scheme, and `units` skeleton units (U01, U02, ...)
    side by side, each with ids of its own, naming the scheme in the folder above."""
    import re

    as_of = as_of or dt.date.today()
    files: dict[str, str] = {}
    drawn = []
    for n in range(units):
        uid, dx = f"U{n + 1:02d}", 300.0 * n
        drawn.append((uid, dx, 1))
        prefix = "" if n == 0 else f"{uid}-"
        pattern = re.compile(r"(?<![\w\-])(" + "|".join(re.escape(i) for i in _IDS) + r")(?![\w\-])")
        for name, text in skeleton_files(as_of).items():
            if name == "scheme.yaml":
                continue
            if name.endswith(".geojson"):
                text = re.sub(r"\[(384\d+(?:\.\d+)?), ", lambda m: f"[{float(m.group(1)) + dx}, ", text)
            if name != "submission.schema.json" and prefix:
                text = pattern.sub(lambda m: prefix + m.group(1), text)
            if name == "submission.yaml":
                text = (text.replace("  id: U01\n", f"  id: {uid}\n", 1).replace("NEW-UNIT-01", f"NEW-{uid}")
                        .replace("{path: scheme.yaml}", "{path: ../scheme.yaml}"))
            files[f"{uid}/{name}"] = text
    files["scheme.yaml"] = _scheme(as_of, drawn)
    files["county.yaml"] = ("# rulecheck county submission / 县域配置提交材料 (docs/bundle-format.md)\n"
                            "# Check it with / 检查命令:  rulecheck check county.yaml\n\n"
                            "format: rulecheck/v1\ncounty:\n  scheme: scheme.yaml\n"
                            "  units: \"U*/submission.yaml\"   # or a list: [U01/submission.yaml, U02/submission.yaml]\n")
    return files


# `rulecheck init --example NAME DIR`: a shipped example, copied from the fixtures that ship with rulecheck
EXAMPLE_ALIASES = {"defects": "eco-recreation-defects", "clean": "eco-recreation"}


def example_names() -> list[str]:
    from rulecheck.ruletests import PACKAGED_FIXTURES

    return sorted(p.name for p in PACKAGED_FIXTURES.iterdir() if (p / "submission.yaml").is_file())


def example_files(name: str) -> dict[str, str | bytes]:
    """File name (relative to the new folder) -> text (bytes for a GeoPackage) of a shipped example; an unknown
    name is an InputError naming the examples there are."""
    import difflib

    from rulecheck.diagnostics import Diagnostic, InputError
    from rulecheck.ruletests import PACKAGED_FIXTURES

    names = example_names()
    folder = EXAMPLE_ALIASES.get(name, name)
    if folder not in names:
        close = difflib.get_close_matches(name, names + list(EXAMPLE_ALIASES), n=1)
        raise InputError([Diagnostic("<command line>", f"no shipped example {name!r}", field="--example",
                                     hint=(f"did you mean {close[0]}? " if close else "")
                                     + f"the examples: {', '.join(list(EXAMPLE_ALIASES) + names)}")])
    root = PACKAGED_FIXTURES / folder
    files: dict[str, str | bytes] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            relative = path.relative_to(root).as_posix()
            files[relative] = path.read_text(encoding="utf-8") if path.suffix in (".yaml", ".geojson", ".md", ".json") \
                else path.read_bytes()
    return files
