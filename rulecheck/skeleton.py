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

format: rulecheck/v1
submission:
  id: NEW-UNIT-01             # required / 必填：提交编号
  title: 新建配置单元          # title / 名称
  jurisdiction: "441803"      # administrative code, selects province overrides / 行政区划代码
  as_of: {as_of}           # the date whose law applies / 适用法规的日期
  crs: EPSG:4526              # CRS of every geometry, projected, metres / 坐标系（投影，米）

unit_plan:                    # 配置单元规划
  id: U01
  name: 新建配置单元
  direction: eco_recreation   # 主导方向: urban_rural_integration, eco_recreation, land_sea, agri_culture_tourism, industry_integration, mine_land
  boundary: layers/unit.geojson     # unit boundary / 单元边界
  rights: layers/rights.geojson     # rights layout, one feature per right / 权益布局，每个要素一项权益
  # indicator_proposals:            # 建设控制指标建议 (must equal the detailed plan / 应与详细规划一致)
  #   - parcel: P2
  #     far_max: 1.2
  packages: []                      # asset packages / 资产包, e.g. / 例如:
  #   - id: PKG-1
  #     name: 示例资产包
  #     boundary: layers/unit.geojson
  #     rights: [R1, R2]
  #     duties:                     # bundled duties / 附带责任
  #       - {{id: D1, kind: stewardship, resource: "03", quantity: 1, unit: ha, due: 2030-12-31}}
  #     finance: {{costs: {{operation: 100}}, revenues: {{transfer: 300}}, government_share: 0.6}}
  #     revenue_sharing: [{{party: 政府, share: 60}}, {{party: 村集体, share: 40}}]
  #     supply: {{method: transfer, award: listing, reserve_price_wan_yuan: 300, term_years: 40}}

detailed_plan:                # 详细规划
  id: DP-01
  status: draft               # draft | approved / 草案 | 已批准
  parcels: layers/parcels.geojson   # parcels with land use and control indicators / 地块、用途与控制指标
  control_lines: layers/lines.geojson   # control lines / 控制线 (三区三线)

contracts: []                 # draft supply contracts / 供应合同草案, e.g. / 例如:
#  - id: C01
#    package: PKG-1
#    method: transfer
#    award: listing
#    price_wan_yuan: 320
#    start: 2026-07-01
#    items:
#      - {{right: R2, parcel: P2, land_use: "0901", area_m2: 10000, term_years: 40, far_max: 1.2}}
#    duties:
#      - {{duty: D1, quantity: 1, unit: ha, due: 2030-12-31}}
"""


def skeleton_files(as_of: dt.date | None = None) -> dict[str, str]:
    """File name (relative to the new folder) -> text, in the order they are written."""
    as_of = as_of or dt.date.today()
    forest, commercial = _box(0, 0, 100, 100), _box(100, 0, 200, 100)
    return {
        "submission.yaml": MANIFEST.format(as_of=as_of.isoformat()),
        "submission.schema.json": render_schema(),
        "layers/unit.geojson": _collection("unit", [({"id": "U01"}, _box(0, 0, 200, 100))]),
        "layers/rights.geojson": _collection("rights", [
            ({"id": "R1", "kind": "forest_management", "land_use": "0301", "ownership": "collective",
              "term_years": 30, "supply_method": "lease"}, forest),
            ({"id": "R2", "kind": "construction_land_use", "land_use": "0901", "ownership": "state",
              "term_years": 40, "supply_method": "transfer"}, commercial),
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
