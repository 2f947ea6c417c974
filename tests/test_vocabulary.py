"""The report's vocabulary is defined once (rulecheck/vocabulary.py) and everything reads it from there; the typed
report record reads the engine's dict with the contract's defaults."""

from __future__ import annotations

import typing

from conftest import sample_record

import rulecheck.cli
import rulecheck.dsl.rules
import rulecheck.engine
from rulecheck import gate, report, vocabulary
from rulecheck.report.record import Report
from rulecheck.service import app


def test_every_module_takes_the_vocabulary_from_one_place():
    assert rulecheck.cli.FAIL_ON is rulecheck.engine.FAIL_ON is gate.FAIL_ON is vocabulary.FAIL_ON
    assert rulecheck.engine.FAMILY_ORDER is rulecheck.dsl.rules.FAMILY_ORDER is vocabulary.FAMILY_ORDER
    assert rulecheck.dsl.rules.SEVERITIES is vocabulary.SEVERITIES
    assert rulecheck.cli.LANGS is vocabulary.LANGS


def test_the_formats_are_listed_once():
    names = list(vocabulary.FORMAT_TABLE)
    assert list(report.FORMATS) == names and list(report.EXTENSIONS) == names
    assert sorted(rulecheck.cli.REPORT_FORMATS) == sorted(names)
    assert sorted(typing.get_args(app.Format)) == sorted(names) and typing.get_args(app.Format)[0] == "json"
    assert set(app.CONTENT_TYPES) == set(names)


def test_land_use_class_names_come_from_the_classification():
    classes = vocabulary.land_use_classes()
    assert list(classes) == [f"{n:02d}" for n in range(1, 25)]
    assert classes["01"] == {"zh": "耕地", "en": "Cropland"}
    assert classes["14"] == {"zh": "绿地与开敞空间用地", "en": "Green and open space"}


def test_the_typed_record_reads_the_engine_dict():
    record = Report.of(sample_record())
    assert Report.of(record) is record
    assert record.verdict == "failed"  # no `verdict` in the hand-built summary: `passed` false says failed
    assert [c.rule for c in record.conflicts] == ["LAY-004", "IND-002", "IND-005", "FIN-002"]
    waived = record.conflicts[3]
    assert waived.waived and waived.waiver.approver == "张三"
    assert record.conflicts[1].subjects[1].location == "layers/parcels.geojson:1207"
    assert record.conflicts[1].localized("message", "en").startswith("Contract item C01/R07")
    assert record.rule_counts() == {"rules_passed": 1, "rules_failed": 4, "rules_not_applicable": 0,
                                    "rules_indeterminate": 0}
    head = Report.of(sample_record(), detail=False)
    assert head.conflicts == () and head.conflict_count == 4


def test_a_bare_record_reads_with_the_contracts_defaults():
    record = Report.of({"conflicts": [{"rule": "IND-002"}]})
    conflict = record.conflicts[0]
    assert (conflict.family, conflict.severity, conflict.subjects, conflict.waiver) == ("IND", "error", (), None)
    assert record.verdict == "passed" and record.outcomes is None and record.rule_counts() is None


def test_the_stages_are_the_models():
    from rulecheck.model.documents import Stage
    from rulecheck.vocabulary import STAGES

    assert STAGES == tuple(stage.value for stage in Stage)
