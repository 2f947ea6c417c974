"""A loaded submission goes to the collector's oldest generation (so young collections do not walk it), and a caller's
frozen objects and paused collector are left as they were."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from rulecheck.model.loader import load_submission

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "eco-recreation" / "submission.yaml"


def young_ids() -> set[int]:
    return {id(o) for generation in (0, 1) for o in gc.get_objects(generation)}


@pytest.fixture
def collector():
    was_enabled = gc.isenabled()
    gc.enable()
    gc.collect()
    yield
    if not was_enabled:
        gc.disable()


def test_the_records_of_a_load_are_not_young(collector):
    assert gc.get_freeze_count() == 0
    submission = load_submission(FIXTURE)
    records = [submission, *submission.detailed_plan.parcels, *submission.unit_plan.rights, *submission.contracts]
    young = young_ids()
    assert len(records) > 3 and not [r for r in records if id(r) in young]
    assert {id(o) for o in gc.get_objects(2)} >= {id(r) for r in records}
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_a_callers_frozen_objects_stay_frozen(collector):
    kept = [{"a": [1]} for _ in range(10)]
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        load_submission(FIXTURE)
        assert gc.get_freeze_count() > frozen // 2 and gc.isenabled()  # (a few frozen temporaries are freed)
        assert not {id(k) for k in kept} & {id(o) for generation in (0, 1, 2) for o in gc.get_objects(generation)}
    finally:
        gc.unfreeze()


def test_a_paused_collector_stays_paused(collector):
    gc.disable()
    try:
        load_submission(FIXTURE)
        assert not gc.isenabled() and gc.get_freeze_count() == 0
    finally:
        gc.enable()
