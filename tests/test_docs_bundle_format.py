"""docs/bundle-format.md is the contract, in step with the pydantic documents; the manifest's JSON Schema follows them."""

from __future__ import annotations

import copy
import json
import re
from enum import StrEnum
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from rulecheck.cli import cli
from rulecheck.model import documents
from rulecheck.model.manifest_schema import render_schema

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "bundle-format.md"
SCHEMA_FILE = ROOT / "docs" / "submission.schema.json"
SHARED = next((p for p in (ROOT.parent / "shared" / "bundle-format.md", Path("/work/shared/bundle-format.md"))
               if p.exists()), None)


def _between(text: str, name: str) -> str:
    match = re.search(rf"<!-- {name}: begin[^\n]*-->\n(.*?)<!-- {name}: end -->", text, re.S)
    assert match, f"docs/bundle-format.md has no '{name}' block"
    return match.group(1)


DOC_TEXT = DOC.read_text(encoding="utf-8")
CONTRACT = _between(DOC_TEXT, "contract")


def _section(heading: str) -> str:
    """The text under a '### heading' of the contract, up to the next heading."""
    match = re.search(rf"^### {re.escape(heading)}\b[^\n]*\n(.*?)(?=^#)", CONTRACT + "\n#", re.S | re.M)
    assert match, f"the contract has no section '### {heading}'"
    return match.group(1)


def _table_fields(text: str) -> set[str]:
    """The first column of a markdown table: `id, name` counts as two fields."""
    fields = set()
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] not in ("field", "inventory") and not set(cells[0]) <= set("-"):
            fields.update(part.strip() for part in cells[0].split(","))
    return fields


def _table_row(text: str, field: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(f"| {field} "))


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z_][a-z0-9_]*", text))


def _yaml_example() -> dict:
    return yaml.safe_load(re.search(r"```yaml\n(.*?)```", CONTRACT, re.S).group(1))


def _fields(model) -> set[str]:
    return set(model.model_fields)


def _described(model) -> set[str]:
    return _fields(model) - {"geometry"}  # a feature's geometry is the GeoJSON geometry, not a property


def _contract_fields() -> dict[str, set[str]]:
    """Where in the contract each document's fields are written: qualified name -> fields."""
    example = _yaml_example()
    packages = _section("packages (资产包), records")
    contracts = _section("contracts (供应合同草案), records")
    program = _section("program (资产包项目实施方案), a field of each package")
    written = {
        "": set(example),
        "submission": set(example["submission"]),
        "unit_plan": set(example["unit_plan"]),
        "detailed_plan": set(example["detailed_plan"]),
        "rights": _table_fields(_section("rights (权益布局), one feature per right")),
        "packages": _table_fields(packages) | ({"program"} if "`program` holds" in program else set()),
        "revenue_sharing": set(re.findall(r"(\w+):", _table_row(packages, "revenue_sharing")))
        | set(re.findall(r"`revenue_sharing` entries may carry `(\w+)`", program)),
        "finance": {"costs", "revenues", "government_share", "channels"} & _words(_table_row(packages, "finance")),
        "supply": _words(_table_row(packages, "supply").split("|")[2]) - {"tender", "auction", "listing", "agreement",
                                                                           "date", "str"},
        "duties": set(re.findall(r"`(\w+)`", re.search(r"A \*\*duty\*\*:(.*?)\n\n", CONTRACT, re.S).group(1)))
        - set(documents.DutyKind) - set(documents.QuantityUnit),
        "parcels": set(re.findall(r"`(\w+)`", _section("parcels (详细规划地块), one feature per parcel").split("\n\n")[0])),
        "control_lines": set(re.findall(r"`(\w+)`", _section("control_lines"))),
        "contracts": _table_fields(contracts),
        "items": set(re.findall(r"`(\w+)`", _table_row(contracts, "items"))),
        "contract duties": _words(_table_row(contracts, "duties").split("|")[2]),
    }
    # the sections issue 22 added name fields in prose and a YAML sketch: a field written there as `name` or `name:`
    joint = "".join(_h2(heading) for heading in ("Approval records and the stage of the gate",
                                                 "What each program part holds", "More fields the method names"))
    for name, fields in JOINT_FIELDS.items():
        written[name] |= {f for f in fields if re.search(rf"`{f}`|\b{f}:", joint)}
    return written


# the fields the sections of issue 22 add, by document (they write them in prose, so each is looked for there)
JOINT_FIELDS = {
    "submission": {"stage"}, "unit_plan": {"approval", "goals"}, "detailed_plan": {"approval", "joint_review"},
    "rights": {"function", "conditions", "industry"}, "parcels": {"access"}, "items": {"industry"},
    "packages": {"loads"}, "finance": {"stages"}, "revenue_sharing": {"stream"}, "supply": {"requirements"},
}


def _h2(heading: str) -> str:
    """The text under a '## heading' of the contract, up to the next '## '."""
    match = re.search(rf"^## {re.escape(heading)}\b[^\n]*\n(.*?)(?=^## )", CONTRACT + "\n## ", re.S | re.M)
    assert match, f"the contract has no section '## {heading}'"
    return match.group(1)


MODELS = {
    "": documents.Submission, "submission": documents.SubmissionInfo, "unit_plan": documents.UnitPlan,
    "detailed_plan": documents.DetailedPlan, "rights": documents.Right, "packages": documents.Package,
    "revenue_sharing": documents.RevenueShare, "finance": documents.Finance, "supply": documents.Supply,
    "duties": documents.Duty, "parcels": documents.Parcel, "control_lines": documents.ControlLine,
    "contracts": documents.Contract, "items": documents.ContractItem, "contract duties": documents.ContractDuty,
}


@pytest.mark.skipif(SHARED is None, reason="the project's contract (../shared/bundle-format.md) is not beside this clone")
def test_the_repository_copy_is_the_contract_word_for_word():
    contract = SHARED.read_text(encoding="utf-8")
    assert CONTRACT == contract if contract.endswith("\n") else contract + "\n", (
        "docs/bundle-format.md differs from ../shared/bundle-format.md: copy the contract between the markers")


def _extensions() -> set[str]:
    return set(re.findall(r"^- `([\w.]+)`", _between(DOC_TEXT, "extensions"), re.M))


def test_every_field_of_the_documents_is_in_the_contract_or_listed_as_an_extension():
    written = _contract_fields()
    beyond = {f"{name}.{field}" if name else field
              for name, model in MODELS.items() for field in _described(model) - written[name]}
    listed = _extensions()
    assert beyond == listed, (f"update 'Extensions this version reads' in docs/bundle-format.md: "
                              f"not documented: {sorted(beyond - listed)}, no longer in the model: {sorted(listed - beyond)}")
    # a document not mapped above (a new one): its fields are at least written somewhere in the contract
    others = [cls for cls in vars(documents).values() if isinstance(cls, type) and issubclass(cls, documents.Record)
              and cls not in (*MODELS.values(), documents.Record, documents.Feature, documents.Indicators,
                              documents.IndicatorProposal)]
    words = set(re.findall(r"\w+", CONTRACT))
    extended = {name.rsplit(".", 1)[-1] for name in _extensions()}
    loose = {cls.__name__: sorted(_described(cls) - words - extended) for cls in others if _described(cls) - words - extended}
    assert not loose, f"fields the contract does not mention anywhere: {loose}"
    proposals = _fields(documents.IndicatorProposal)
    assert proposals <= {"parcel"} | _fields(documents.Parcel) and "parcel" in _section("indicator_proposals")


def test_what_this_version_does_not_read_yet_is_listed_exactly():
    written = _contract_fields()
    unread = {f"{name}.{field}" if name else field
              for name, model in MODELS.items() for field in written[name] - _fields(model)}
    listed = set(re.findall(r"^- `([\w.]+)`", _between(DOC_TEXT, "not-yet"), re.M))
    assert listed == unread, (f"update 'What this version reads' in docs/bundle-format.md: "
                              f"now read: {sorted(listed - unread)}, not read yet: {sorted(unread - listed)}")


def test_the_values_table_is_every_enumeration_of_the_documents():
    table = DOC_TEXT.split("## Values", 1)[1].split("\n## ", 1)[0]
    rows = {frozenset(v.strip() for v in line.strip().strip("|").split("|")[1].split(","))
            for line in table.splitlines() if line.startswith("| `") or line.startswith("| ") and "`" in line}
    enums = {frozenset(e.value for e in cls) for cls in vars(documents).values()
             if isinstance(cls, type) and issubclass(cls, StrEnum) and cls is not StrEnum}
    assert rows == enums, f"in the doc only: {rows - enums}; in the model only: {enums - rows}"


# ---- the JSON Schema of the manifest -------------------------------------------------------------------


def _manifest(path: Path) -> dict:
    """A manifest as an editor's YAML language server sees it: dates are text."""
    return json.loads(json.dumps(yaml.safe_load(path.read_text(encoding="utf-8")), default=str))


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_the_shipped_schema_is_what_rulecheck_schema_prints():
    printed = CliRunner().invoke(cli, ["schema"])
    assert printed.exit_code == 0
    assert printed.output == render_schema()
    assert SCHEMA_FILE.read_text(encoding="utf-8") == printed.output, \
        "docs/submission.schema.json is stale: rulecheck schema --output docs/submission.schema.json"


@pytest.mark.parametrize("manifest", sorted((ROOT / "fixtures").glob("*/submission.yaml")), ids=lambda p: p.parent.name)
def test_every_fixture_manifest_validates_against_the_schema(validator, manifest):
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(_manifest(manifest))]
    assert not errors


def test_the_schema_refuses_what_the_loader_refuses(validator):
    base = _manifest(ROOT / "fixtures" / "land-sea" / "submission.yaml")
    assert isinstance(base["unit_plan"]["rights"], list), "land-sea writes its rights inline"

    def refused(change) -> list[str]:
        manifest = copy.deepcopy(base)
        change(manifest)
        return [e.message for e in validator.iter_errors(manifest)]

    assert refused(lambda m: m["unit_plan"].update(zone_typo="x"))  # an unknown field
    assert refused(lambda m: m["unit_plan"]["rights"][0].update(kind="forest_mangement"))  # an unknown kind
    assert refused(lambda m: m["unit_plan"]["rights"][0].pop("geometry"))  # an inline record needs a geometry
    assert refused(lambda m: m.update(format="rulecheck/v2"))
    assert refused(lambda m: m.pop("submission"))
    assert refused(lambda m: m["detailed_plan"].update(status="final"))
    assert not refused(lambda m: m["detailed_plan"].update(parcels="layers/xx.gpkg#parcels"))  # a layer path
    mapped = {"path": "layers/xxgh.gdb#DKDY", "fields": {"preset": "planning-db", "far_max": "RJL"}, "units": {"area_m2": "ha"}}
    assert not refused(lambda m: m["detailed_plan"].update(parcels=mapped))  # a planning database's layer
    assert refused(lambda m: m["detailed_plan"].update(parcels={**mapped, "fields": {"far_maxx": "RJL"}}))
    assert refused(lambda m: m["detailed_plan"].update(parcels={**mapped, "units": {"area_m2": "acre"}}))
    broken = _manifest(ROOT / "fixtures" / "broken" / "unknown-enum.yaml")
    assert list(validator.iter_errors(broken))


def test_init_writes_the_schema_beside_a_manifest_that_names_it(tmp_path, validator):
    result = CliRunner().invoke(cli, ["init", str(tmp_path / "u")])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "u" / "submission.yaml").read_text(encoding="utf-8")
    assert text.splitlines()[0] == "# yaml-language-server: $schema=submission.schema.json"
    assert "docs/bundle-format.md" in text and "../shared" not in text
    assert (tmp_path / "u" / "submission.schema.json").read_text(encoding="utf-8") == render_schema()
    assert not list(validator.iter_errors(_manifest(tmp_path / "u" / "submission.yaml")))
