"""The documents of a submission bundle, as pydantic models (the contract of ../shared/bundle-format.md)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any, ClassVar, NamedTuple

from pydantic import (
    AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator,
)
from pydantic_core import InitErrorDetails


class SourceLoc(NamedTuple):
    """Where a record came from: a path as the user wrote it (relative to the manifest's folder) and a 1-based line."""

    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


# ---- bounds -------------------------------------------------------------------------------------
# What the contract's meaning admits. A value outside is an input error naming the bound, never an overflow
# deep inside a rule (docs/security.md). Generous on purpose: a rule, not the loader, says a term is too long.

MAX_TERM_YEARS = 999  # no right or lease is granted for a millennium; keeps date arithmetic within the calendar
MAX_AREA_M2 = 1e12  # 1,000,000 km2: more than any province
MAX_MONEY_WAN_YUAN = 1e10  # 100 trillion yuan: more than the country's yearly output
MAX_QUANTITY = 1e12  # a duty's quantity in any of its units
MAX_FAR = 100.0  # floor area ratio (the densest towers stay below 30)
MAX_HEIGHT_M = 1000.0  # the tallest building is 828 m
EARLIEST_DATE, LATEST_DATE = dt.date(1900, 1, 1), dt.date(2999, 12, 31)


def _in_calendar(value: dt.date) -> dt.date:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise ValueError(f"a date between {EARLIEST_DATE.isoformat()} and {LATEST_DATE.isoformat()} is expected")
    return value


Term = Annotated[float, Field(gt=0, le=MAX_TERM_YEARS)]
Area = Annotated[float, Field(ge=0, le=MAX_AREA_M2)]
Money = Annotated[float, Field(ge=0, le=MAX_MONEY_WAN_YUAN)]
Quantity = Annotated[float, Field(ge=0, le=MAX_QUANTITY)]
Percent = Annotated[float, Field(ge=0, le=100)]
Far = Annotated[float, Field(ge=0, le=MAX_FAR)]
Height = Annotated[float, Field(ge=0, le=MAX_HEIGHT_M)]
# a fraction of 1; up to 100 so that a share written as a percent (60 for 0.6) loads and FIN-002 can say so
Fraction = Annotated[float, Field(ge=0, le=100)]
Date = Annotated[dt.date, AfterValidator(_in_calendar)]

# the unit of each bounded field, for messages ("expected a number <= 999 (years)")
BOUND_UNITS = {
    "term_years": "years", "area_m2": "m2", "quantity": "in the duty's unit", "far_max": "floor area ratio",
    "far_min": "floor area ratio", "density_max": "percent", "density_min": "percent", "green_min": "percent",
    "green_max": "percent", "coverage": "percent", "height_max": "metres", "government_share": "a fraction of 1", "share": "percent",
    "price_wan_yuan": "wan_yuan", "reserve_price_wan_yuan": "wan_yuan", "costs": "wan_yuan", "revenues": "wan_yuan",
}


# ---- enumerations -------------------------------------------------------------------------------


class Direction(StrEnum):
    urban_rural_integration = "urban_rural_integration"
    eco_recreation = "eco_recreation"
    land_sea = "land_sea"
    agri_culture_tourism = "agri_culture_tourism"
    industry_integration = "industry_integration"
    mine_land = "mine_land"


class RightKind(StrEnum):
    construction_land_use = "construction_land_use"
    collective_construction_land_use = "collective_construction_land_use"
    land_contract_management = "land_contract_management"
    land_management = "land_management"
    state_farmland_use = "state_farmland_use"
    forest_management = "forest_management"
    mining = "mining"
    exploration = "exploration"
    sea_area_use = "sea_area_use"
    water_abstraction = "water_abstraction"
    concession = "concession"


class Ownership(StrEnum):
    state = "state"
    collective = "collective"


class SupplyMethod(StrEnum):
    transfer = "transfer"
    lease = "lease"
    equity = "equity"
    authorized_operation = "authorized_operation"
    allocation = "allocation"
    contract = "contract"


class Award(StrEnum):
    tender = "tender"
    auction = "auction"
    listing = "listing"
    agreement = "agreement"


class Scale(StrEnum):
    large = "large"
    medium = "medium"
    small = "small"


class SeaUse(StrEnum):
    aquaculture = "aquaculture"
    ship_breaking = "ship_breaking"
    tourism = "tourism"
    salt_mining = "salt_mining"
    public_welfare = "public_welfare"
    construction = "construction"


class DutyKind(StrEnum):
    ecological_restoration = "ecological_restoration"
    stewardship = "stewardship"
    facility = "facility"
    public_access = "public_access"
    farmland_protection = "farmland_protection"
    heritage_protection = "heritage_protection"  # 历史文化保护: a duty inside a historic protection line


class QuantityUnit(StrEnum):
    m2 = "m2"
    ha = "ha"
    mu = "mu"
    km = "km"
    count = "count"


class PlanStatus(StrEnum):
    draft = "draft"
    approved = "approved"


class ControlLineKind(StrEnum):
    permanent_basic_farmland = "permanent_basic_farmland"
    ecological_protection_red_line = "ecological_protection_red_line"
    urban_development_boundary = "urban_development_boundary"
    village_construction_boundary = "village_construction_boundary"
    historic_protection = "historic_protection"


class Zone(StrEnum):
    """Where the unit lies: 非集中建设区 (the method's units) or 城乡集中建设区."""

    non_concentrated = "non_concentrated"
    concentrated = "concentrated"


class ResourceUnit(StrEnum):
    m2 = "m2"
    ha = "ha"
    mu = "mu"
    m3 = "m3"
    t = "t"
    count = "count"


class ResourceState(StrEnum):
    in_use = "in_use"
    idle = "idle"
    degraded = "degraded"
    unexploited = "unexploited"


class FundChannel(StrEnum):
    fiscal = "fiscal"
    special_bond = "special_bond"
    social_capital = "social_capital"
    bank_loan = "bank_loan"
    indicator_trading = "indicator_trading"
    other = "other"


class ConditionKind(StrEnum):
    use_control = "use_control"
    eco_capacity = "eco_capacity"
    infrastructure = "infrastructure"
    engineering = "engineering"


class DemandParty(StrEnum):
    owner_representative = "owner_representative"
    manager = "manager"
    right_holder = "right_holder"
    market = "market"


class DemandIntent(StrEnum):
    protection = "protection"
    development = "development"


class PolicyKind(StrEnum):
    land_consolidation = "land_consolidation"
    inefficient_land_redevelopment = "inefficient_land_redevelopment"
    collective_market_entry = "collective_market_entry"
    other = "other"


class AssemblyPath(StrEnum):
    """How resources come under one holder (收储 置换 租赁 入股 托管 转让)."""

    acquisition = "acquisition"
    swap = "swap"
    lease = "lease"
    equity = "equity"
    trusteeship = "trusteeship"
    transfer = "transfer"


class ApprovalStatus(StrEnum):
    pending = "pending"
    granted = "granted"
    refused = "refused"


class RevenueRole(StrEnum):
    legal_owner_representative = "legal_owner_representative"  # 所有权代表（法定）
    agent_owner_representative = "agent_owner_representative"  # 所有权代表（代理）
    owner_representative = "owner_representative"  # v1: loads as legal_owner_representative
    local_government = "local_government"
    assembler = "assembler"
    operator = "operator"
    collective = "collective"


class Stage(StrEnum):
    """The moment of the gate: before the joint approval (同编同审) or before the packages are supplied."""

    joint_review = "joint_review"
    supply = "supply"


class ApprovalState(StrEnum):
    """Where a plan or a program stands in its procedure (编制、报送、批准)."""

    draft = "draft"
    submitted = "submitted"
    approved = "approved"


class RevenueStream(StrEnum):
    """Which revenue a share is of (§3.2 ⑦: 资产供应、指标交易、产品运营)."""

    supply = "supply"
    indicator_trading = "indicator_trading"
    operation = "operation"


class RightFunction(StrEnum):
    """A right's value orientation (§3.1.3(1): 服务、融资、收益功能)."""

    service = "service"
    financing = "financing"
    revenue = "revenue"


class LoadMetric(StrEnum):
    """What a conditions inventory limit and a package's load are measured in."""

    water_m3_per_day = "water_m3_per_day"
    vehicles_per_hour = "vehicles_per_hour"
    visitors_per_day = "visitors_per_day"
    population = "population"
    other = "other"


# ---- records ------------------------------------------------------------------------------------


class Record(BaseModel):
    """A record of the bundle. It knows where it came from (`source`) so every conflict can point at it."""

    # coerce_numbers_to_str: ids and codes written as numbers (land_use: 1001, id: 12) are text
    # allow_inf_nan=False: .inf, .nan and 1e999 are no numbers a plan can mean
    model_config = ConfigDict(
        extra="forbid", arbitrary_types_allowed=True, use_enum_values=False, coerce_numbers_to_str=True,
        allow_inf_nan=False,
    )

    _source: SourceLoc | None = PrivateAttr(default=None)
    # a GIS layer's attributes beyond the contract, read only through a field a rule pack declares
    _extra: dict | None = PrivateAttr(default=None)

    @property
    def source(self) -> SourceLoc | None:
        # read past pydantic's __getattr__ for private attributes: rules ask for it once per conflict subject
        return self.__pydantic_private__["_source"]


class Feature(Record):
    """A record with a geometry (a shapely 2 geometry, possibly invalid; never None once loaded)."""

    id: str
    geometry: Any = Field(default=None, exclude=True)


class Right(Feature):
    kind: RightKind
    land_use: str | None = None  # required, except on an overlay (which takes the use of what it lies on)
    ownership: Ownership | None = None
    term_years: Term | None = None
    supply_method: SupplyMethod | None = None
    package: str | None = None
    overlay: bool = False
    scale: Scale | None = None
    sea_use: SeaUse | None = None
    area_m2: Area | None = None
    oil_gas: bool | None = None  # an exploration or mining right for oil or natural gas (extension; absent: not)
    function: RightFunction | None = None  # 服务、融资、收益功能 (§3.1.3(1))
    conditions: list[str] = Field(default_factory=list)  # 权能条件
    industry: str | None = None  # the use or industry the right is for, checked against its parcels' `access`

    @model_validator(mode="after")
    def _land_use_unless_overlay(self) -> "Right":
        """bundle-format.md: land_use is optional for overlay rights only; elsewhere it is a missing field."""
        if self.land_use is None and not self.overlay:
            raise ValidationError.from_exception_data(
                type(self).__name__, [InitErrorDetails(type="missing", loc=("land_use",), input={"id": self.id})])
        return self


class Indicators(Record):
    far_max: Far | None = None
    far_min: Far | None = None
    density_max: Percent | None = None  # percent
    density_min: Percent | None = None  # percent
    green_min: Percent | None = None  # percent
    green_max: Percent | None = None  # percent
    height_max: Height | None = None  # metres


class Parcel(Feature):
    land_use: str
    area_m2: Area | None = None
    far_max: Far | None = None
    far_min: Far | None = None
    density_max: Percent | None = None
    density_min: Percent | None = None
    green_min: Percent | None = None
    green_max: Percent | None = None
    height_max: Height | None = None
    facilities: list[str] = Field(default_factory=list)
    admin_share: Percent | None = None  # percent of the land for administration and living facilities (extension)
    access: list[str] = Field(default_factory=list)  # 准入要求: the uses or industries the detailed plan admits here
    # building coverage (建筑系数: buildings, structures and yards over the land), not building density (extension)
    coverage: Percent | None = None


class ControlLine(Feature):
    kind: ControlLineKind
    name: str | None = None  # e.g. 太和镇城镇开发边界: the line's own name, as control-line layers carry it


class IndicatorProposal(Indicators):
    parcel: str

    @property
    def id(self) -> str:
        return self.parcel


class Duty(Record):
    id: str
    kind: DutyKind
    resource: str  # a land-use code ("03") or a class name ("ecological")
    quantity: Quantity
    unit: QuantityUnit
    due: Date
    geometry: Any = Field(default=None, exclude=True)  # optional place of the duty
    facility: str | None = None  # a facility duty: the detailed plan facility it builds (parcel `facilities`)


class FinanceStage(Record):
    """⑥ the financing of one stage of a package (整备阶段、供应后开发利用阶段)."""

    channels: list[str] = Field(default_factory=list)
    amount_wan_yuan: Money | None = None


class FinanceStages(Record):
    assembly: FinanceStage | None = None
    development: FinanceStage | None = None


class Finance(Record):
    costs: dict[str, Money] = Field(default_factory=dict)  # wan_yuan by item
    revenues: dict[str, Money] = Field(default_factory=dict)  # wan_yuan by item
    government_share: Fraction | None = None  # 0..1
    channels: list[str] = Field(default_factory=list)
    stages: FinanceStages | None = None  # financing by stage, optional


class RevenueShare(Record):
    party: str
    share: Percent  # percent
    role: RevenueRole | None = None
    stream: RevenueStream | None = None

    @field_validator("role", mode="before")
    @classmethod
    def _v1_owner_representative(cls, value: Any) -> Any:
        """v1's owner_representative is the legal owner representative (所有权代表（法定）)."""
        return RevenueRole.legal_owner_representative if value == "owner_representative" else value


class Supply(Record):
    method: SupplyMethod | None = None
    award: Award | None = None
    reserve_price_wan_yuan: Money | None = None
    reserve_floor_price_yuan_m2: Money | None = None  # 楼面地价底价: yuan per m² of floor area the plan allows
    term_years: Term | None = None
    start: Date | None = None
    requirements: list[str] = Field(default_factory=list)  # 开发要求
    # how many parties have declared an intention to take the land (意向用地者), where known (extension): two or more
    # put any transfer to tender, auction or listing (物权法 第一百三十七条, 令第39号 第四条, 民法典 第三百四十七条)
    intending_users: Annotated[int, Field(ge=0, le=1_000_000)] | None = None


# ---- the package program, parts ① to ④ (⑤ ⑥ ⑦ are the package's supply, finance, revenue_sharing) ----


Count = Annotated[int, Field(ge=0, le=10**9)]


class SurveyFacts(Record):
    """① the 人、地、房、业、权 records the survey verified, counted."""

    people: Count | None = None
    land: Count | None = None
    buildings: Count | None = None
    businesses: Count | None = None
    rights: Count | None = None


class Survey(Record):
    """① 详查定界评估: survey, boundary and valuation of the present rights."""

    date: Date | None = None
    boundary_surveyed: bool | None = None  # 勘测定界 done
    registered: bool | None = None  # 确权登记 done
    facts: SurveyFacts | None = None  # 人、地、房、业、权: how many records of each were verified
    appraised_value_wan_yuan: Money | None = None


class Design(Record):
    """② 赋能赋权: the design that applies the detailed plan's controls."""

    date: Date | None = None
    functions: list[str] = Field(default_factory=list)
    controls_applied: bool | None = None  # the detailed plan's use control and indicators were applied
    goals: list[str] = Field(default_factory=list)


class Assembly(Record):
    """③ 整备实施方案: how the resources come under one holder, paid by which funds, by when."""

    holder: str | None = None
    paths: list[AssemblyPath] = Field(default_factory=list)
    compensation_standard: str | None = None
    funds: list[str] = Field(default_factory=list)  # ids in the funds inventory
    deadline: Date | None = None


class Approval(Record):
    """④ 报批方案, one entry: a resource's approval, who grants it, its status and (planned) date."""

    resource: str  # a land-use code or a resource named in words
    authority: str | None = None
    preconditions: list[str] = Field(default_factory=list)
    status: ApprovalStatus
    date: Date | None = None

    _package_id: str = PrivateAttr(default="")

    @property
    def id(self) -> str:
        """An approval is named PACKAGE/RESOURCE in reports."""
        return f"{self.__pydantic_private__['_package_id']}/{self.resource}"


class PlanApproval(Record):
    """The procedure of a plan or program: who organised it, who approves it, where it stands, its version."""

    organiser: str | None = None
    approver: str | None = None
    status: ApprovalState | None = None
    date: Date | None = None
    version: str | None = None


class JointReview(Record):
    """同编同审: the one review of the unit plan and the detailed plan, naming the version of each."""

    body: str | None = None
    date: Date | None = None
    unit_plan_version: str | None = None
    detailed_plan_version: str | None = None


def _hollow(value: Any) -> bool:
    """Nothing stated: absent, an empty list or table, or a record all of whose fields are hollow."""
    if value is None or value == [] or value == {}:
        return True
    if isinstance(value, Record):
        return all(_hollow(getattr(value, name)) for name in type(value).model_fields)
    return False


def _drop_hollow(record: Record, names: tuple[str, ...]) -> None:
    """bundle-format.md: a part present but hollow (`assembly: {}`) is as missing as an absent one."""
    for name in names:
        if getattr(record, name) is not None and _hollow(getattr(record, name)):
            object.__setattr__(record, name, None)


class Program(Record):
    survey: Survey | None = None
    design: Design | None = None
    assembly: Assembly | None = None
    approvals: list[Approval] | None = None
    approval: PlanApproval | None = None  # the program's own approval

    @model_validator(mode="after")
    def _hollow_parts(self) -> "Program":
        _drop_hollow(self, ("survey", "design", "assembly", "approval"))
        return self


class Package(Record):
    id: str
    name: str | None = None
    boundary: Any = Field(default=None, exclude=True)  # shapely geometry, or None
    rights: list[str] = Field(default_factory=list)
    duties: list[Duty] = Field(default_factory=list)
    finance: Finance | None = None
    revenue_sharing: list[RevenueShare] = Field(default_factory=list)
    supply: Supply | None = None
    program: Program | None = None
    loads: dict[LoadMetric, Quantity] = Field(default_factory=dict)  # what the package puts on the unit's capacities

    @model_validator(mode="after")
    def _hollow_parts(self) -> "Package":
        _drop_hollow(self, ("finance", "supply", "program"))
        return self


class ContractItem(Indicators):
    right: str
    parcel: str | None = None
    parcels: list[str] = Field(default_factory=list)
    land_use: str | None = None
    area_m2: Area | None = None
    term_years: Term | None = None
    admin_share: Percent | None = None  # percent of the land for administration and living facilities (extension)
    coverage: Percent | None = None  # building coverage (建筑系数) written into the contract item (extension)
    method: SupplyMethod | None = None  # how this item is supplied, where it differs from its contract's
    industry: str | None = None  # the use or industry supplied, checked against its parcels' `access`

    _contract_id: str = PrivateAttr(default="")

    @property
    def id(self) -> str:
        """A contract item is named CONTRACT/RIGHT in reports."""
        return f"{self.__pydantic_private__['_contract_id']}/{self.right}"

    @property
    def parcel_ids(self) -> list[str]:
        return ([self.parcel] if self.parcel else []) + [p for p in self.parcels if p != self.parcel]


class ContractDuty(Record):
    duty: str
    quantity: Quantity | None = None
    unit: QuantityUnit | None = None
    due: Date | None = None

    _contract_id: str = PrivateAttr(default="")

    @property
    def id(self) -> str:
        """A duty written into a contract is named CONTRACT/DUTY in reports."""
        return f"{self.__pydantic_private__['_contract_id']}/{self.duty}"


class Contract(Record):
    id: str
    package: str
    method: SupplyMethod | None = None
    award: Award | None = None
    price_wan_yuan: Money | None = None
    start: Date | None = None
    items: list[ContractItem] = Field(default_factory=list)
    duties: list[ContractDuty] = Field(default_factory=list)
    attached_rights: list[str] = Field(default_factory=list)


class SubmissionInfo(Record):
    id: str
    title: str | None = None
    jurisdiction: str | None = None
    as_of: Date | None = None
    crs: str
    stage: Stage = Stage.joint_review  # the moment of the gate; `rulecheck check --stage` overrides it


# ---- the six inventories of the unit plan (六项清单) ---------------------------------------------------


class InventoryRecord(Record):
    """A record of an inventory. Given inline or as a layer (a feature source); a place is optional."""

    GEOMETRY_OPTIONAL: ClassVar[bool] = True
    id: str


class Resource(InventoryRecord):
    """资源清单: a resource's class, physical quantity and state of use."""

    land_use: str
    quantity: Quantity | None = None
    unit: ResourceUnit | None = None
    ownership: Ownership | None = None
    state: ResourceState | None = None
    geometry: Any = Field(default=None, exclude=True)


class Asset(InventoryRecord):
    """资产清单: value, ownership and holder, registration."""

    package: str | None = None
    land_use: str | None = None
    ownership: Ownership | None = None
    holder: str | None = None
    value_wan_yuan: Money | None = None
    registered: bool | None = None
    geometry: Any = Field(default=None, exclude=True)


class Fund(InventoryRecord):
    """资金清单: a source of money and its channel."""

    channel: FundChannel
    name: str | None = None
    amount_wan_yuan: Money | None = None


class Condition(InventoryRecord):
    """条件清单: use control, ecological or infrastructure capacity, engineering conditions."""

    kind: ConditionKind
    text: str | None = None
    limit: Annotated[float, Field(allow_inf_nan=False)] | None = None
    unit: str | None = None
    metric: LoadMetric | None = None  # what a numeric limit measures, to add up the packages' loads against


class Demand(InventoryRecord):
    """需求清单: what a party wants to protect or develop."""

    party: DemandParty
    intent: DemandIntent | None = None
    text: str | None = None


class Policy(InventoryRecord):
    """政策清单: a policy the unit relies on."""

    kind: PolicyKind
    name: str | None = None


class Inventories(Record):
    """The six inventories; an inventory left out is None (absent), one given with no record is []."""

    resources: list[Resource] | None = None
    assets: list[Asset] | None = None
    funds: list[Fund] | None = None
    conditions: list[Condition] | None = None
    demands: list[Demand] | None = None
    policies: list[Policy] | None = None


class SchemeRef(Record):
    """`unit_plan.county_scheme: {path: ../scheme.yaml}`: the county scheme file that drew the unit
    (rulecheck/model/scheme.py loads it)."""

    path: str


class UnitFinance(Record):
    """The unit's own balance (算小账): costs and revenues outside the packages, e.g. public-interest costs."""

    costs: dict[str, Money] = Field(default_factory=dict)  # wan_yuan by item
    revenues: dict[str, Money] = Field(default_factory=dict)  # wan_yuan by item


class UnitPlan(Record):
    id: str
    name: str | None = None
    direction: Direction
    boundary: Any = Field(default=None, exclude=True)  # shapely geometry
    rights: list[Right] = Field(default_factory=list)
    indicator_proposals: list[IndicatorProposal] = Field(default_factory=list)
    packages: list[Package] = Field(default_factory=list)
    zone: Zone | None = None
    county_scheme: str | SchemeRef | None = None  # a plain id (v1), or the scheme file ({path: ...})
    inventories: Inventories | None = None
    finance: UnitFinance | None = None
    goals: list[str] = Field(default_factory=list)  # 发展目标
    approval: PlanApproval | None = None


class DetailedPlan(Record):
    id: str
    status: PlanStatus
    parcels: list[Parcel] = Field(default_factory=list)
    control_lines: list[ControlLine] = Field(default_factory=list)
    approval: PlanApproval | None = None
    joint_review: JointReview | None = None  # 同编同审


class Submission(Record):
    """The whole bundle, loaded: every geometry a shapely object in one projected CRS (metres)."""

    format: str = "rulecheck/v1"
    submission: SubmissionInfo
    unit_plan: UnitPlan
    detailed_plan: DetailedPlan
    contracts: list[Contract] = Field(default_factory=list)

    # filled by the loader: the manifest path, the CRS actually used, notes the load made (reprojection)
    _manifest: str = PrivateAttr(default="")
    _crs_used: str = PrivateAttr(default="")
    _load_notes: list[str] = PrivateAttr(default_factory=list)
    _inputs: list[str] = PrivateAttr(default_factory=list)  # every file read, relative to the manifest folder
    _warnings: list[Any] = PrivateAttr(default_factory=list)  # Diagnostics of severity "warning" from loading
    _reprojections: list[dict] = PrivateAttr(default_factory=list)  # {layer (None: every geometry), from, to}
    # GIS attributes beyond the contract, kept aside: (record class, name, its first place as a Diagnostic, warned)
    _attributes: list[Any] = PrivateAttr(default_factory=list)
    # the county scheme the unit names (model/scheme.py): a Scheme, or why there is none to check against (a text)
    _scheme: Any = PrivateAttr(default=None)
    _county: Any = PrivateAttr(default=None)  # in a county check, the County (model/scheme.py) the unit is checked in


# ---- private attributes at a record's creation ---------------------------------------------------------------
# pydantic initialises each record's private attributes (_source, _extra, ...) in Python, getting each default through
# its descriptor: a fifth of validating a county's 100k parcels. Where every default is a constant (None, ""), a
# class gets a model_post_init that copies them at once: the same __pydantic_private__. A class with a default factory
# (Submission) or a model_post_init of its own keeps pydantic's; a subclass made elsewhere gets pydantic's around this.


def quick_private_init(model: type[Record]) -> None:
    import inspect

    try:
        from pydantic._internal._model_construction import init_private_attributes
    except ImportError:  # pragma: no cover - another pydantic: its own initialisation stays
        return
    if inspect.unwrap(model.model_post_init) is not init_private_attributes:
        return
    defaults = {}
    for name, attribute in model.__private_attributes__.items():
        if attribute.default_factory is not None or type(attribute.default) not in (type(None), str, int, float, bool):
            return
        defaults[name] = attribute.default
    object_setattr = object.__setattr__

    def model_post_init(self: BaseModel, context: Any, /) -> None:
        if getattr(self, "__pydantic_private__", None) is None:  # as init_private_attributes
            object_setattr(self, "__pydantic_private__", defaults.copy())

    model.model_post_init = model_post_init  # type: ignore[method-assign]


for _model in [value for value in list(globals().values()) if isinstance(value, type) and issubclass(value, Record)]:
    quick_private_init(_model)
del _model
