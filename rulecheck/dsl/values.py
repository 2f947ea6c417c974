"""Run-time values of the language: missing data, evaluation errors, and how values print in reports."""

from __future__ import annotations

import datetime as dt
from enum import Enum

import shapely
from pydantic import BaseModel

from rulecheck.dsl.units import Quantity, Tolerance

CTX = "$ctx"  # the key of the run's Context (compiler.Context) in an evaluation's environment


class Missing:
    """An absent value. It spreads through every operation and makes the outcome indeterminate,
    unless the rule asks `present(x)` or gives `default(x, y)`."""

    __slots__ = ("_what", "_record")

    def __init__(self, what: str, record=None):
        # with a record, `what` is a field's name and the text "FIELD of RECORD-ID" is made only when read
        # (most absent values are asked about by present() and never printed)
        self._what = what
        self._record = record

    @property
    def what(self) -> str:
        if self._record is not None:
            self._what, self._record = f"{self._what} of {record_id(self._record)}", None
        return self._what

    def __repr__(self) -> str:
        return f"Missing({self.what!r})"

    def __bool__(self) -> bool:  # never used as a truth value by mistake
        raise TypeError("Missing has no truth value")


class EvalError(Exception):
    """A value the rule cannot work with at run time (say, a duty counted in km compared with an area)."""


def record_id(record) -> str:
    ident = getattr(record, "id", None)
    return str(ident) if ident is not None else type(record).__name__


def is_record(value) -> bool:
    return isinstance(value, BaseModel)


# how enum values read in a Chinese report (the glossary of domain.md)
ENUM_ZH = {
    "urban_rural_integration": "城乡融合", "eco_recreation": "生态游憩", "land_sea": "海陆统筹",
    "agri_culture_tourism": "农文旅融合", "industry_integration": "一二三产业融合", "mine_land": "矿地一体",
    "construction_land_use": "建设用地使用权", "collective_construction_land_use": "集体经营性建设用地使用权",
    "land_contract_management": "土地承包经营权", "land_management": "土地经营权", "state_farmland_use": "国有农用地使用权",
    "forest_management": "林地经营权", "mining": "采矿权", "exploration": "探矿权", "sea_area_use": "海域使用权",
    "water_abstraction": "取水权", "concession": "特许经营权", "state": "国有", "collective": "集体",
    "transfer": "出让", "lease": "出租", "equity": "作价出资（入股）", "authorized_operation": "授权经营",
    "allocation": "划拨", "contract": "承包", "tender": "招标", "auction": "拍卖", "listing": "挂牌", "agreement": "协议",
    "large": "大型", "medium": "中型", "small": "小型", "aquaculture": "养殖用海", "ship_breaking": "拆船用海",
    "tourism": "旅游、娱乐用海", "salt_mining": "盐业、矿业用海", "public_welfare": "公益事业用海",
    "construction": "港口、修造船厂等建设工程用海", "ecological_restoration": "生态修复", "stewardship": "管护",
    "facility": "设施建设", "public_access": "公众开放", "farmland_protection": "耕地保护", "draft": "草案",
    "approved": "已批准", "permanent_basic_farmland": "永久基本农田", "ecological_protection_red_line": "生态保护红线",
    "urban_development_boundary": "城镇开发边界", "village_construction_boundary": "村庄建设边界",
    "historic_protection": "历史文化保护线",
    "non_concentrated": "非集中建设区", "concentrated": "城乡集中建设区", "m3": "立方米", "t": "吨",
    "in_use": "在用", "idle": "闲置", "degraded": "退化", "unexploited": "未开发", "fiscal": "财政资金",
    "special_bond": "专项债券", "social_capital": "社会资本", "bank_loan": "银行贷款", "indicator_trading": "指标交易",
    "other": "其他", "use_control": "用途管制", "eco_capacity": "生态承载", "infrastructure": "基础设施承载",
    "engineering": "工程条件", "owner_representative": "所有者代表", "manager": "管理者", "right_holder": "权利人",
    "market": "市场主体", "protection": "保护", "development": "开发", "land_consolidation": "全域土地综合整治",
    "inefficient_land_redevelopment": "低效用地再开发", "collective_market_entry": "集体经营性建设用地入市",
    "acquisition": "收储", "swap": "置换", "trusteeship": "托管", "pending": "待批", "granted": "已批",
    "refused": "未获批准", "local_government": "地方政府", "assembler": "整备主体", "operator": "运营主体",
    "legal_owner_representative": "所有权代表（法定）", "agent_owner_representative": "所有权代表（代理）",
    "joint_review": "同编同审前", "supply": "供应前", "submitted": "已报送", "service": "服务功能",
    "financing": "融资功能", "revenue": "收益功能", "water_m3_per_day": "日用水量（立方米）",
    "vehicles_per_hour": "小时车流量", "visitors_per_day": "日游客量", "population": "人口", "heritage_protection": "历史文化保护",
}


class Bilingual(str):
    """A text a builtin makes (GEOS's reason a geometry is invalid), in English, that also knows its Chinese."""

    __slots__ = ("zh",)

    def __new__(cls, en: str, zh: str):
        text = super().__new__(cls, en)
        text.zh = zh
        return text


def format_value(value, lang: str = "en", full: bool = False) -> str:
    """A value as a reviewer reads it in a message or an explanation."""
    # how a value prints depends on its class only (which of the checks below it passes first): the printer
    # is found once per class, not by a chain of isinstance checks per value (a county's conflicts print
    # over half a million values)
    cls = type(value)
    printer = _PRINTERS.get(cls)
    if printer is None:
        printer = _PRINTERS[cls] = _printer_for(cls)
    return printer(value, lang, full)


def _printer_for(cls: type):
    """The printer of a class's values: the first of format_value's cases the class falls under, in order."""
    if issubclass(cls, Missing) or cls is type(None):
        return _print_missing
    for base, printer in ((Bilingual, _print_bilingual), (Quantity, _print_format), (Tolerance, _print_format), (bool, _print_bool),
                          (Enum, _print_enum), (dt.date, _print_date), (float, _print_float),
                          (shapely.Geometry, _print_geometry), ((list, tuple), _print_sequence), (dict, _print_dict),
                          (BaseModel, _print_record)):
        if issubclass(cls, base):
            return printer
    return _print_text if cls is str else _print_other


def _print_missing(value, lang: str, full: bool) -> str:
    return "（缺失）" if lang == "zh" else "(missing)"


def _print_format(value, lang: str, full: bool) -> str:
    return value.format(lang)


def _print_bool(value, lang: str, full: bool) -> str:
    return ("是" if value else "否") if lang == "zh" else ("true" if value else "false")


def _print_enum(value, lang: str, full: bool) -> str:
    try:  # a member's texts depend on its value only: made once per member (`.value` is a slow property)
        texts = _ENUM_TEXTS[value]
    except KeyError:
        texts = _ENUM_TEXTS[value] = (ENUM_ZH.get(value.value, value.value), str(value.value))
    except TypeError:  # a member that cannot be a key
        return ENUM_ZH.get(value.value, value.value) if lang == "zh" else str(value.value)
    return texts[0] if lang == "zh" else texts[1]


def _print_date(value, lang: str, full: bool) -> str:
    return value.isoformat()


def _print_float(value, lang: str, full: bool) -> str:
    return Quantity(value).format(lang)


_GEOMETRY_ZH = {"Point": "点", "MultiPoint": "多点", "LineString": "线", "MultiLineString": "多线", "LinearRing": "环",
                "Polygon": "面", "MultiPolygon": "多面", "GeometryCollection": "几何集合"}


def _print_bilingual(value, lang: str, full: bool) -> str:
    return value.zh if lang == "zh" else str.__str__(value)


def _print_geometry(value, lang: str, full: bool) -> str:
    if value.is_empty:
        return "（空几何）" if lang == "zh" else "(empty geometry)"
    kind = _GEOMETRY_ZH.get(value.geom_type, value.geom_type) if lang == "zh" else value.geom_type
    return f"{kind}({Quantity(value.area, 'area', 'm2').format(lang)})"


def _print_sequence(value, lang: str, full: bool) -> str:
    shown = [format_value(v, lang, full) for v in (value if full else value[:8])]
    if len(value) > 8 and not full:
        shown.append(f"… (+{len(value) - 8})")
    return "[" + ", ".join(shown) + "]"


def _print_dict(value, lang: str, full: bool) -> str:
    return "{" + ", ".join(f"{k}: {format_value(v, lang)}" for k, v in value.items()) + "}"


def _print_record(value, lang: str, full: bool) -> str:
    shown = record_id(value)
    if lang == "zh" and shown == type(value).__name__:  # a record without an id (a package's finance): it is there
        return "（已载明）"
    return shown


def _print_text(value, lang: str, full: bool) -> str:
    return value  # a str is its own text (str(value) is value)


def _print_other(value, lang: str, full: bool) -> str:
    return str(value)


_PRINTERS: dict[type, object] = {}
_ENUM_TEXTS: dict = {}  # enum member -> (its Chinese text, its English text)


def geom_or_none(record):
    """The geometry a value stands for: itself, a record's geometry (a package's boundary), else None."""
    if isinstance(record, shapely.Geometry):
        return record
    g = getattr(record, "geometry", None)
    if g is None and hasattr(record, "boundary"):
        g = record.boundary
    return g if isinstance(g, shapely.Geometry) else None
