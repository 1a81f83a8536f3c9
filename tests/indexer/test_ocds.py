"""OCDS publication of the mirror: the recorded scenario world (every event the mirror maps) exported, each export
validated offline (jsonschema Draft 4 with formats, libcoveocds with the standard zip and the vendored extensions),
the first procurement's record package kept as a golden file, classified fields withheld from the public.

Block times are not in the recording: a steady clock (12 s a block) makes every export deterministic. Regenerate
the golden file after a deliberate change of the mapping::

    .venv/bin/python -m tests.indexer.test_ocds
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from chain.errors import ConfigurationError
from chain.spec import CLASSIFIABLE_FIELDS, SpecError, load_spec
from indexer.models import ProcurementRow
from indexer.ocds.flatten import flatten_package
from indexer.ocds.packages import Export, escrows_named, package_header, write_package
from indexer.ocds.releases import Publication, milestone_status
from indexer.ocds.specs import PublishedSpec, SpecRegister
from indexer.ocds.withheld import CUTS
from indexer.schema import make_engine
from tests.indexer.golden import apply_recorded
from tests.indexer.scenario import LOGS_FIXTURE, RESOURCES
from tests.ocds_validation import cove_report, schema_errors

GOLDEN = RESOURCES / "ocds_record_package.json"
PUBLISHED = 1_800_000_000  # the packages' publishedDate: fixed, so that the golden file does not move
GENESIS = 1_780_000_000


def steady_block_times(blocks: Sequence[int]) -> Mapping[int, int]:
    """A block every 12 seconds from GENESIS."""
    return {block: GENESIS + 12 * block for block in blocks}


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, int]]:
    """The recorded scenario's mirror (SQLite) and its chain id."""
    recorded = json.loads(LOGS_FIXTURE.read_text())
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('ocds') / 'mirror.db'}")
    apply_recorded(engine, recorded)
    try:
        yield engine, int(recorded["chain_id"])
    finally:
        engine.dispose()


def _first(engine: Engine, chain_id: int) -> Any:
    p = ProcurementRow.__table__.c
    with engine.connect() as conn:
        return conn.execute(
            select(ProcurementRow.__table__).where(p.chain_id == chain_id).order_by(p.block_number, p.log_index)
        ).first()


def _classified_register(engine: Engine, chain_id: int, fields: Sequence[str]) -> SpecRegister:
    """A register whose spec of the first procurement (its committed hash) marks ``fields`` classified."""
    first = _first(engine, chain_id)
    spec = PublishedSpec(
        ocid="ocds-b5fd17-MOD-2026-0001",
        sha256=first.spec_hash,
        milestone_titles=("Prototype test", "Field trial", "Delivery of 400 units"),
        classified=tuple(fields),
        source="night-vision.yaml",
    )
    return SpecRegister({(first.ministry_org, first.procurement_id): (spec,)})


def export_package(
    engine: Engine, chain_id: int, kind: str, *, public: bool = False, specs: SpecRegister | None = None, **kw: Any
) -> dict[str, Any]:
    """A package exported (streamed to text, then read back as JSON)."""
    publication = Publication(specs=specs or SpecRegister())
    out = io.StringIO()
    with engine.connect() as conn:
        export = Export(conn, chain_id, publication, steady_block_times, public=public, **kw)
        header = package_header(kind, publication, f"http://127.0.0.1:8000/ocds/{kind}s", PUBLISHED)
        write_package(out, kind, header, export.records() if kind == "record" else export.releases())
    package: dict[str, Any] = json.loads(out.getvalue())
    return package


def golden_package(engine: Engine, chain_id: int) -> dict[str, Any]:
    """The first procurement's record package, auditor's view, with its spec (two fields classified)."""
    specs = _classified_register(engine, chain_id, ["contracts/value", "contracts/implementation/documents"])
    return export_package(engine, chain_id, "record", specs=specs, escrows=[_first(engine, chain_id).escrow])


def _walk(node: Any) -> Iterator[Any]:
    yield node
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    for child in children:
        yield from _walk(child)


def _has_path(node: Any, parts: Sequence[str]) -> bool:
    if isinstance(node, list):
        return any(_has_path(item, parts) for item in node)
    if not isinstance(node, dict) or parts[0] not in node:
        return False
    return len(parts) == 1 or _has_path(node[parts[0]], parts[1:])


# ---------------------------------------------------------------- validity


@pytest.mark.parametrize("public", [False, True], ids=["auditor", "public"])
@pytest.mark.parametrize("kind", ["release", "record"])
def test_every_export_validates_against_the_schemas_with_the_extensions(
    mirror: tuple[Engine, int], kind: str, public: bool
) -> None:
    engine, chain_id = mirror
    specs = _classified_register(engine, chain_id, CLASSIFIABLE_FIELDS)
    package = export_package(engine, chain_id, kind, public=public, specs=specs)
    assert len(package[f"{kind}s"]) >= (6 if kind == "record" else 50)
    assert schema_errors(package, kind) == []


@pytest.mark.parametrize("kind", ["release", "record"])
def test_libcoveocds_finds_no_error_offline(mirror: tuple[Engine, int], kind: str) -> None:
    engine, chain_id = mirror
    specs = _classified_register(engine, chain_id, ["contracts/value"])
    report = cove_report(export_package(engine, chain_id, kind, public=True, specs=specs), kind)
    assert report["validation_errors"] == []
    assert report["extensions"]["invalid_extension"] == {}, "every declared extension is applied"
    assert report["extensions"]["is_extended_schema"] is True
    assert report["additional_closed_codelist_values"] == {}
    # Only the budget_and_spend extension's key-value maps (classifications, measures) count as additional fields.
    extra = {field["path"].rsplit("/", 1)[-1] for field in report["additional_fields"]}
    assert extra <= {"classifications", "measures"}, report["additional_fields"]
    # An open codelist may grow: the evaluation bodies' role is the one value partyRole does not list.
    open_values = report["additional_open_codelist_values"].values()
    assert {value for entry in open_values for value in entry["values"]} == {"evaluationBody"}


def test_the_validator_catches_a_broken_release(mirror: tuple[Engine, int]) -> None:
    engine, chain_id = mirror
    package = export_package(engine, chain_id, "release")
    broken = package["releases"][0]
    broken["contracts"][0]["value"]["amount"] = "a lot"
    broken["contracts"][0]["implementation"]["milestones"][0]["status"] = "paid"
    del broken["date"]
    errors = "\n".join(schema_errors(package, "release"))
    assert "'date' is a required property" in errors
    assert "'paid' is not one of" in errors
    assert "'a lot' is not of type" in errors


# ---------------------------------------------------------------- the mapping


def test_release_ids_are_unique_per_ocid_and_the_same_on_every_export(mirror: tuple[Engine, int]) -> None:
    engine, chain_id = mirror
    first = export_package(engine, chain_id, "release")
    again = export_package(engine, chain_id, "release")
    ids = [(release["ocid"], release["id"]) for release in first["releases"]]
    assert ids == [(release["ocid"], release["id"]) for release in again["releases"]]
    assert len(set(ids)) == len(ids)
    assert all("#" not in release_id for _, release_id in ids)
    ocids = {ocid for ocid, _ in ids}
    assert len(ocids) == 6, "two ministries using one procurement id still get two ocids"


def test_amounts_are_integers_and_every_release_names_what_changed(mirror: tuple[Engine, int]) -> None:
    engine, chain_id = mirror
    package = export_package(engine, chain_id, "record")
    assert not [value for value in _walk(package) if isinstance(value, float)]
    tags = [tuple(release["tag"]) for record in package["records"] for release in record["releases"]]
    assert tags.count(("tender", "award", "contract")) == 6
    assert ("contractAmendment",) in tags
    assert ("implementation",) in tags
    compiled = package["records"][0]["compiledRelease"]
    contract = compiled["contracts"][0]
    transactions = contract["implementation"]["transactions"]
    assert all(t["value"]["currency"] == "JPY" and isinstance(t["value"]["amount"], int) for t in transactions)
    milestones = {m["id"] for m in contract["implementation"]["milestones"]}
    assert {t["relatedImplementationMilestone"]["id"] for t in transactions} <= milestones
    assert {m["status"] for m in contract["implementation"]["milestones"]} <= {
        "scheduled",
        "met",
        "notMet",
        "partiallyMet",
    }
    roles = {role for party in compiled["parties"] for role in party["roles"]}
    assert {"buyer", "procuringEntity", "supplier", "payer", "payee", "reviewBody", "evaluationBody"} <= roles
    assert compiled["planning"]["budget"]["id"].startswith("FY")
    measures = contract["implementation"]["financialProgress"]["measures"]
    assert measures["released"] == sum(t["value"]["amount"] for t in transactions)
    assert [a["id"] for a in contract["amendments"]] == ["0", "1"]
    assert all("approved by 0x" in a["description"] for a in contract["amendments"])


@pytest.mark.parametrize("public", [False, True], ids=["auditor", "public"])
def test_records_are_compiled_as_ocdsmerge_compiles_them_to_the_byte(mirror: tuple[Engine, int], public: bool) -> None:
    """The exporter's compile (``indexer.ocds.compiled``) against ocdsmerge, the reference, on every record of the
    recorded scenario (every kind of event the mapping reads, every field classified in the public view); generated
    procurements in tests/indexer/test_ocds_compiled.py."""
    engine, chain_id = mirror
    specs = _classified_register(engine, chain_id, CLASSIFIABLE_FIELDS)
    publication = Publication(specs=specs)
    with engine.connect() as conn:
        ours = list(Export(conn, chain_id, publication, steady_block_times, public=public).encoded_records())
        reference = Export(conn, chain_id, publication, steady_block_times, public=public, reference_merge=True)
        assert ours == list(reference.encoded_records())
    assert len(ours) == 6


def test_the_ocid_prefix_is_the_registered_form() -> None:
    assert Publication(ocid_prefix="ocds-abc123").ocid_prefix == "ocds-abc123"
    for wrong in ("ocds-ABC123", "ocds-abc12", "abc123", "ocds-abc123-x"):
        with pytest.raises(ConfigurationError, match="ocid prefix"):
            Publication(ocid_prefix=wrong)


def test_every_escrow_status_has_its_ocds_milestone_status() -> None:
    assert milestone_status("Paid") == "met"
    assert milestone_status("Settled") == "partiallyMet"
    with pytest.raises(KeyError):
        milestone_status("Lost")


def test_the_first_procurements_record_package_is_the_golden_one(mirror: tuple[Engine, int]) -> None:
    engine, chain_id = mirror
    assert golden_package(engine, chain_id) == json.loads(GOLDEN.read_text())


def test_since_keeps_the_releases_from_that_time(mirror: tuple[Engine, int]) -> None:
    engine, chain_id = mirror
    every = export_package(engine, chain_id, "release")["releases"]
    middle = sorted(every, key=lambda release: release["date"])[len(every) // 2]["date"]
    import datetime as dt

    since = int(dt.datetime.fromisoformat(middle).timestamp())
    later = export_package(engine, chain_id, "release", since=since)["releases"]
    assert 0 < len(later) < len(every)
    assert all(release["date"] >= middle for release in later)


def test_one_procurement_is_named_by_its_ocid_escrow_or_id(mirror: tuple[Engine, int]) -> None:
    engine, chain_id = mirror
    first = _first(engine, chain_id)
    with engine.connect() as conn:
        assert escrows_named(conn, chain_id, first.escrow.lower()) == [first.escrow]
        assert first.escrow in escrows_named(conn, chain_id, first.procurement_id)
        assert escrows_named(conn, chain_id, "ocds-b5fd17-nothing-here") == []
        with pytest.raises(ConfigurationError, match="neither an escrow address"):
            escrows_named(conn, chain_id, "0x1234")


# ---------------------------------------------------------------- classified fields


def test_public_exports_withhold_every_classified_field_and_declare_it(mirror: tuple[Engine, int]) -> None:
    engine, chain_id = mirror
    specs = _classified_register(engine, chain_id, CLASSIFIABLE_FIELDS)
    escrow = [_first(engine, chain_id).escrow]
    public = export_package(engine, chain_id, "record", public=True, specs=specs, escrows=escrow)
    auditor = export_package(engine, chain_id, "record", public=False, specs=specs, escrows=escrow)
    record, full = public["records"][0], auditor["records"][0]
    for name in CLASSIFIABLE_FIELDS:
        for path in CUTS[name]:
            for release in [*record["releases"], record["compiledRelease"]]:
                assert not _has_path(release, path.split("/")), f"{path} published in {release['id']}"
    withheld = {item["field"] for item in record["compiledRelease"]["withheldInformation"]}
    assert withheld == set(CLASSIFIABLE_FIELDS)
    compiled = full["compiledRelease"]
    assert compiled["contracts"][0]["value"]["amount"] > 0, "the auditor sees them"
    assert "withheldInformation" not in compiled
    assert compiled["contracts"][0]["implementation"]["milestones"][0]["title"] == "Prototype test"
    assert record["ocid"] == "ocds-b5fd17-MOD-2026-0001", "the registered spec gives the ocid"
    secret = str(compiled["contracts"][0]["value"]["amount"])
    assert secret not in json.dumps(record["compiledRelease"]["contracts"]), "not published under another name"


def test_a_spec_that_is_not_the_committed_one_is_refused(mirror: tuple[Engine, int]) -> None:
    engine, chain_id = mirror
    first = _first(engine, chain_id)
    spec = PublishedSpec("ocds-b5fd17-X", "0x" + "ab" * 32, (), (), "edited.yaml")
    specs = SpecRegister({(first.ministry_org, first.procurement_id): (spec,)})
    with pytest.raises(ConfigurationError, match=r"edited\.yaml: spec of ocds-b5fd17-X, but its SHA-256"):
        export_package(engine, chain_id, "release", specs=specs)


def test_a_spec_names_only_fields_the_ledger_can_withhold(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "scripts" / "examples" / "night-vision.yaml"
    spec = tmp_path / "spec.yaml"
    spec.write_text(example.read_text() + "classified:\n  - contract/value\n")
    with pytest.raises(SpecError, match=r"classified.*'contract/value' is not a field the ledger can withhold"):
        load_spec(spec)
    spec.write_text(example.read_text() + "classified:\n  - contracts/value\n")
    assert load_spec(spec).spec.classified == ["contracts/value"]
    register = SpecRegister.load([tmp_path])
    (only,) = next(iter(register.by_id.values()))
    assert only.classified == ("contracts/value",)
    assert only.ocid == "ocds-b5fd17-MOD-2026-0042"


# ---------------------------------------------------------------- CSV and XLSX


def test_csv_and_xlsx_through_flattentool(mirror: tuple[Engine, int], tmp_path: Path) -> None:
    engine, chain_id = mirror
    package = export_package(engine, chain_id, "release")
    source = tmp_path / "releases.json"
    source.write_text(json.dumps(package))
    flatten_package(source, tmp_path / "csv", "csv")
    with (tmp_path / "csv" / "releases.csv").open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert [(row["ocid"], row["id"]) for row in rows] == [(r["ocid"], r["id"]) for r in package["releases"]]
    with (tmp_path / "csv" / "con_imp_transactions.csv").open(newline="", encoding="utf-8") as file:
        amounts = [row["contracts/0/implementation/transactions/0/value/amount"] for row in csv.DictReader(file)]
    assert amounts
    assert all(amount.isdigit() for amount in amounts), "whole yen, no decimal point"
    flatten_package(source, tmp_path / "releases.xlsx", "xlsx")
    from openpyxl import load_workbook

    workbook = load_workbook(tmp_path / "releases.xlsx")
    assert "releases" in workbook.sheetnames
    assert workbook["releases"].max_row == len(package["releases"]) + 1
    with pytest.raises(ValueError, match="no 'pdf' flattening"):
        flatten_package(source, tmp_path / "x.pdf", "pdf")


if __name__ == "__main__":
    recorded_logs = json.loads(LOGS_FIXTURE.read_text())
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        golden_engine = make_engine(f"sqlite:///{Path(folder) / 'mirror.db'}")
        apply_recorded(golden_engine, recorded_logs)
        GOLDEN.write_text(json.dumps(golden_package(golden_engine, int(recorded_logs["chain_id"])), indent=1) + "\n")
        golden_engine.dispose()
    print(f"wrote {GOLDEN}")


def test_the_demos_spec_is_found_by_default_and_a_kept_spec_must_be_the_committed_one(tmp_path: Path) -> None:
    import hashlib

    from chain.roles import org_id
    from indexer.ocds.specs import default_spec_paths, keep_spec

    example = Path(__file__).resolve().parents[2] / "scripts" / "examples" / "night-vision.yaml"
    register = SpecRegister.load(default_spec_paths(tmp_path))
    key = ("0x" + org_id("MOD").hex(), "0x" + load_spec(example).spec.procurement_id.hex())
    (demo,) = register.by_id[key]
    assert demo.sha256 == "0x" + hashlib.sha256(example.read_bytes()).hexdigest()
    assert demo.ocid == "ocds-b5fd17-MOD-2026-0042"
    assert keep_spec(tmp_path, example, b"\x00" * 32) is None, "bytes other than the committed ones are not kept"
    kept = keep_spec(tmp_path, example, hashlib.sha256(example.read_bytes()).digest())
    assert kept is not None
    assert kept.read_bytes() == example.read_bytes()


def test_records_compiled_batch_by_batch_in_workers_are_the_same_in_the_same_order(mirror: tuple[Engine, int]) -> None:
    """What each worker process of ``Export.encoded_records(workers > 1)`` gets (a pickled batch) and does
    (``_compile_batch``), run here in-process: starting real processes costs ~10 s of imports (the pool itself is
    exercised by scripts/bench_oversight.py)."""
    import dataclasses
    import pickle

    from indexer.ocds.packages import _Batch, _compile_batch

    engine, chain_id = mirror
    publication = Publication(specs=_classified_register(engine, chain_id, ["contracts/value"]))
    url = engine.url.render_as_string(hide_password=False)
    with engine.connect() as conn:
        export = Export(conn, chain_id, publication, steady_block_times, public=True, batch=4)
        alone = list(export.encoded_records(workers=1))
        batches = [
            pickle.loads(pickle.dumps(_Batch(url, chain_id, publication, steady_block_times, True, None, escrows)))  # noqa: S301 - our own
            for escrows in export._escrow_batches()
        ]
    assert [len(batch.escrows) for batch in batches] == [4, 2]
    assert [text for batch in batches for text in _compile_batch(batch)] == alone
    checked = [dataclasses.replace(batch, reference_merge=True) for batch in batches]  # ocdsmerge in the workers
    assert [text for batch in checked for text in _compile_batch(batch)] == alone
    assert len(alone) == 6
