"""The records' quick initialisation of private attributes (rulecheck.model.documents.quick_private_init) gives what
pydantic's own does, however a record is made."""

from __future__ import annotations

import copy
import pickle

import pytest
from pydantic import TypeAdapter
from pydantic._internal._model_construction import init_private_attributes

from rulecheck.model import documents
from rulecheck.model.documents import ContractItem, Parcel, Record, SourceLoc

RECORDS = sorted((value for value in vars(documents).values() if isinstance(value, type) and issubclass(value, Record)),
                 key=lambda model: model.__name__)


def pydantics(model: type[Record]) -> dict:
    record = model.model_construct()
    object.__setattr__(record, "__pydantic_private__", None)
    init_private_attributes(record, None)
    return record.__pydantic_private__


@pytest.mark.parametrize("model", RECORDS, ids=lambda model: model.__name__)
def test_a_record_made_any_way_has_pydantics_private_attributes(model):
    expected = pydantics(model)
    assert model.model_construct().__pydantic_private__ == expected
    first, second = model.model_construct(), model.model_construct()
    assert first.__pydantic_private__ is not second.__pydantic_private__  # each its own
    if model.__name__ != "Submission":
        assert model.model_post_init.__qualname__.startswith("quick_private_init")
    assert set(expected) == set(model.__private_attributes__)


def test_validated_records_have_their_own_private_attributes():
    parcels = TypeAdapter(list[Parcel]).validate_python([{"id": "P1", "land_use": "0301"}, {"id": "P2", "land_use": "0301"}])
    assert [p.__pydantic_private__ for p in parcels] == [{"_source": None, "_extra": None}] * 2
    parcels[0]._source = SourceLoc("a.geojson", 3)
    assert parcels[0].source == SourceLoc("a.geojson", 3) and parcels[1].source is None
    item = ContractItem(right="R1", parcel="P1", land_use="0301")
    assert item.__pydantic_private__ == {"_source": None, "_extra": None, "_contract_id": ""}
    for made in (item.model_copy(), copy.deepcopy(item), pickle.loads(pickle.dumps(item)),
                 ContractItem.model_construct(right="R1", _contract_id="C1")):
        assert set(made.__pydantic_private__) == {"_source", "_extra", "_contract_id"}
    assert ContractItem.model_construct(right="R1", _contract_id="C1")._contract_id == "C1"


def test_a_subclass_made_elsewhere_still_gets_its_private_attributes():
    class Local(Parcel):
        _note: str = "n"

    local = Local(id="P1", land_use="0301")
    assert local.__pydantic_private__ == {"_source": None, "_extra": None, "_note": "n"}
