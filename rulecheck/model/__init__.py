"""The submission model: pydantic documents of the bundle, and the loader that builds them from files."""

from rulecheck.model.documents import (
    Award,
    Contract,
    ContractDuty,
    ContractItem,
    ControlLine,
    ControlLineKind,
    DetailedPlan,
    Direction,
    Duty,
    DutyKind,
    Feature,
    Finance,
    IndicatorProposal,
    Indicators,
    Ownership,
    Package,
    Parcel,
    PlanStatus,
    QuantityUnit,
    Record,
    RevenueShare,
    Right,
    RightKind,
    Scale,
    SeaUse,
    SourceLoc,
    Submission,
    SubmissionInfo,
    Supply,
    SupplyMethod,
    UnitPlan,
)
from rulecheck.model.submission import load_submission

__all__ = [
    "Award", "Contract", "ContractDuty", "ContractItem", "ControlLine", "ControlLineKind", "DetailedPlan", "Direction",
    "Duty", "DutyKind", "Feature", "Finance", "IndicatorProposal", "Indicators", "Ownership", "Package", "Parcel",
    "PlanStatus", "QuantityUnit", "Record", "RevenueShare", "Right", "RightKind", "Scale", "SeaUse", "SourceLoc",
    "Submission", "SubmissionInfo", "Supply", "SupplyMethod", "UnitPlan", "load_submission",
]
