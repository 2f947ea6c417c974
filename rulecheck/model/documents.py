"""The documents of a submission bundle, as pydantic models (the contract of ../shared/bundle-format.md)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator
from pydantic_core import InitErrorDetails


class SourceLoc(NamedTuple):
    """Where a record came from: a path as the user wrote it (relative to the manifest's folder) and a 1-based line."""

    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


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


# ---- records ------------------------------------------------------------------------------------


class Record(BaseModel):
    """A record of the bundle. It knows where it came from (`source`) so every conflict can point at it."""

    # coerce_numbers_to_str: ids and codes written as numbers (land_use: 1001, id: 12) are text
    model_config = ConfigDict(
        extra="forbid", arbitrary_types_allowed=True, use_enum_values=False, coerce_numbers_to_str=True
    )

    _source: SourceLoc | None = PrivateAttr(default=None)

    @property
    def source(self) -> SourceLoc | None:
        return self._source


class Feature(Record):
    """A record with a geometry (a shapely 2 geometry, possibly invalid; never None once loaded)."""

    id: str
    geometry: Any = Field(default=None, exclude=True)


class Right(Feature):
    kind: RightKind
    land_use: str | None = None  # required, except on an overlay (which takes the use of what it lies on)
    ownership: Ownership | None = None
    term_years: float | None = None
    supply_method: SupplyMethod | None = None
    package: str | None = None
    overlay: bool = False
    scale: Scale | None = None
    sea_use: SeaUse | None = None
    area_m2: float | None = None
    oil_gas: bool | None = None  # an exploration or mining right for oil or natural gas (extension; absent: not)

    @model_validator(mode="after")
    def _land_use_unless_overlay(self) -> "Right":
        """bundle-format.md: land_use is optional for overlay rights only; elsewhere it is a missing field."""
        if self.land_use is None and not self.overlay:
            raise ValidationError.from_exception_data(
                type(self).__name__, [InitErrorDetails(type="missing", loc=("land_use",), input={"id": self.id})])
        return self


class Indicators(Record):
    far_max: float | None = None
    far_min: float | None = None
    density_max: float | None = None  # percent
    density_min: float | None = None  # percent
    green_min: float | None = None  # percent
    green_max: float | None = None  # percent
    height_max: float | None = None  # metres


class Parcel(Feature):
    land_use: str
    area_m2: float | None = None
    far_max: float | None = None
    far_min: float | None = None
    density_max: float | None = None
    density_min: float | None = None
    green_min: float | None = None
    green_max: float | None = None
    height_max: float | None = None
    facilities: list[str] = Field(default_factory=list)
    admin_share: float | None = None  # percent of the land for administration and living facilities (extension)


class ControlLine(Feature):
    kind: ControlLineKind


class IndicatorProposal(Indicators):
    parcel: str

    @property
    def id(self) -> str:
        return self.parcel


class Duty(Record):
    id: str
    kind: DutyKind
    resource: str  # a land-use code ("03") or a class name ("ecological")
    quantity: float
    unit: QuantityUnit
    due: dt.date
    geometry: Any = Field(default=None, exclude=True)  # optional place of the duty


class Finance(Record):
    costs: dict[str, float] = Field(default_factory=dict)  # wan_yuan by item
    revenues: dict[str, float] = Field(default_factory=dict)  # wan_yuan by item
    government_share: float | None = None  # 0..1
    channels: list[str] = Field(default_factory=list)


class RevenueShare(Record):
    party: str
    share: float  # percent


class Supply(Record):
    method: SupplyMethod | None = None
    award: Award | None = None
    reserve_price_wan_yuan: float | None = None
    term_years: float | None = None
    start: dt.date | None = None


class Package(Record):
    id: str
    name: str | None = None
    boundary: Any = Field(default=None, exclude=True)  # shapely geometry, or None
    rights: list[str] = Field(default_factory=list)
    duties: list[Duty] = Field(default_factory=list)
    finance: Finance | None = None
    revenue_sharing: list[RevenueShare] = Field(default_factory=list)
    supply: Supply | None = None


class ContractItem(Indicators):
    right: str
    parcel: str | None = None
    parcels: list[str] = Field(default_factory=list)
    land_use: str | None = None
    area_m2: float | None = None
    term_years: float | None = None
    admin_share: float | None = None  # percent of the land for administration and living facilities (extension)

    _contract_id: str = PrivateAttr(default="")

    @property
    def id(self) -> str:
        """A contract item is named CONTRACT/RIGHT in reports."""
        return f"{self._contract_id}/{self.right}"

    @property
    def parcel_ids(self) -> list[str]:
        return ([self.parcel] if self.parcel else []) + [p for p in self.parcels if p != self.parcel]


class ContractDuty(Record):
    duty: str
    quantity: float | None = None
    unit: QuantityUnit | None = None
    due: dt.date | None = None

    _contract_id: str = PrivateAttr(default="")

    @property
    def id(self) -> str:
        """A duty written into a contract is named CONTRACT/DUTY in reports."""
        return f"{self._contract_id}/{self.duty}"


class Contract(Record):
    id: str
    package: str
    method: SupplyMethod | None = None
    award: Award | None = None
    price_wan_yuan: float | None = None
    start: dt.date | None = None
    items: list[ContractItem] = Field(default_factory=list)
    duties: list[ContractDuty] = Field(default_factory=list)
    attached_rights: list[str] = Field(default_factory=list)


class SubmissionInfo(Record):
    id: str
    title: str | None = None
    jurisdiction: str | None = None
    as_of: dt.date | None = None
    crs: str


class UnitPlan(Record):
    id: str
    name: str | None = None
    direction: Direction
    boundary: Any = Field(default=None, exclude=True)  # shapely geometry
    rights: list[Right] = Field(default_factory=list)
    indicator_proposals: list[IndicatorProposal] = Field(default_factory=list)
    packages: list[Package] = Field(default_factory=list)


class DetailedPlan(Record):
    id: str
    status: PlanStatus
    parcels: list[Parcel] = Field(default_factory=list)
    control_lines: list[ControlLine] = Field(default_factory=list)


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
