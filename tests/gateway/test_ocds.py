"""GET /ocds/... and `procure audit export-ocds` on a live world: a procurement whose spec marks fields classified
(evidence, a test report, a payment) and two others, mirrored once for the module. Every event the mapping reads is
exported and validated in tests/indexer/test_ocds.py, from the recorded scenario.

Who may call: anyone. What a hostile caller tries: reading classified fields without signing in (or signed in as
someone else than an auditor), a forged token, a huge page, a malformed or foreign cursor, a procurement name that
is not one. What must hold: the public never sees a classified field, every page validates, the pages cover every
procurement exactly once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from eth_utils.crypto import keccak
from fastapi.testclient import TestClient

from chain import TxSender
from chain.system import error_decoder
from gateway.main import create_app
from indexer.ocds.withheld import CUTS
from scripts._common import Context
from scripts.cli import main
from tests.gateway.conftest import Api, make_settings
from tests.helpers import new_escrow
from tests.ocds_validation import schema_errors
from tests.tester import deterministic_account, fund_accounts
from tests.world import World

EXAMPLE = Path(__file__).resolve().parents[2] / "scripts" / "examples" / "night-vision.yaml"
OCID = "ocds-b5fd17-MOD-2026-0777"
PLAIN = 2  # procurements without a registered spec besides the classified one
CLASSIFIED = ("contracts/value", "contracts/implementation/milestones/title", "contracts/implementation/documents")


@pytest.fixture(scope="module")
def ocds_api(session_world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """The scenario and a classified procurement (its spec in var/specs), mirrored; the gateway over them."""
    world = session_world
    snapshot = world.tester.take_snapshot()
    year, lines = world.fiscal_year, dict(world.lines)
    tmp = tmp_path_factory.mktemp("ocds-gateway")
    try:
        spec = tmp / "var" / "specs" / "night-vision.yaml"
        spec.parent.mkdir(parents=True)
        text = EXAMPLE.read_text().replace("ocds-b5fd17-MOD-2026-0042", OCID)
        spec.write_text(text + "classified:\n" + "".join(f"  - {field}\n" for field in CLASSIFIED))
        params = world.procurement_params(procurement_id=keccak(text=OCID), title="Night-vision goggles, lot 2")
        params = (*params[:6], hashlib.sha256(spec.read_bytes()).digest(), *params[7:])
        escrow = world.escrow(world.create_procurement(params, sum(params[4]))[0]).functions
        world.sender("supplier").transact(escrow.submitEvidence(0, keccak(text="evidence"), "ipfs://lot2/m0"))
        for evaluator in ("eval1", "eval2"):
            world.sender(evaluator).transact(escrow.attest(0, 1, True, keccak(text=f"report {evaluator}")))
        for _ in range(PLAIN):
            new_escrow(world)
        account = deterministic_account("ocds gateway relayer")
        fund_accounts(world.tester, [account])
        relayer = TxSender(world.rpc, account, error_decoder(world.build))
        app = create_app(make_settings(tmp), rpc=world.rpc, system=world.system, relayer=relayer, build=world.build)
        with TestClient(app, raise_server_exceptions=False) as client:
            api = Api(client=client, world=world, app=app)
            api.sync()
            yield api
    finally:
        world.tester.revert_to_snapshot(snapshot)
        world.fiscal_year, world.lines = year, lines


def _record(api: Api, headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = api.client.get(f"/ocds/procurements/{OCID}/record", headers=headers or {})
    assert response.status_code == 200, response.text
    package: dict[str, Any] = response.json()
    assert schema_errors(package, "record") == []
    (record,) = package["records"]
    assert record["ocid"] == OCID
    found: dict[str, Any] = record
    return found


def _published(record: dict[str, Any], path: str) -> bool:
    def found(node: Any, parts: list[str]) -> bool:
        if isinstance(node, list):
            return any(found(item, parts) for item in node)
        if not isinstance(node, dict) or parts[0] not in node:
            return False
        return len(parts) == 1 or found(node[parts[0]], parts[1:])

    return any(found(release, path.split("/")) for release in [*record["releases"], record["compiledRelease"]])


def test_without_signing_in_no_classified_field_is_published(ocds_api: Api) -> None:
    record = _record(ocds_api)
    for name in CLASSIFIED:
        for path in CUTS[name]:
            assert not _published(record, path), path
    declared = {item["field"] for item in record["compiledRelease"]["withheldInformation"]}
    assert declared == set(CLASSIFIED)
    assert "Prototype test" not in json.dumps(record)


@pytest.mark.parametrize("label", ["supplier", "officer", "eval1"])
def test_a_session_that_is_not_an_auditors_gets_the_public_view(ocds_api: Api, label: str) -> None:
    record = _record(ocds_api, ocds_api.sign_in(label))
    assert not _published(record, "contracts/value")
    assert "withheldInformation" in record["compiledRelease"]


def test_an_auditors_session_gets_the_classified_fields(ocds_api: Api) -> None:
    record = _record(ocds_api, ocds_api.sign_in("auditor"))
    contract = record["compiledRelease"]["contracts"][0]
    assert contract["value"] == {"amount": 200_000_000, "currency": "JPY"}
    assert [m["title"] for m in contract["implementation"]["milestones"]] == [
        "Prototype test",
        "Field trial",
        "Delivery of 400 units",
    ]
    assert "withheldInformation" not in record["compiledRelease"]


def test_a_forged_token_is_refused_not_treated_as_public(ocds_api: Api) -> None:
    response = ocds_api.client.get("/ocds/records", headers={"Authorization": "Bearer forged"})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("kind", ["releases", "records"])
def test_pages_cover_every_procurement_once_and_validate(ocds_api: Api, kind: str) -> None:
    seen: list[str] = []
    url: str | None = f"/ocds/{kind}?limit=1"
    pages = 0
    while url is not None:
        response = ocds_api.client.get(url)
        assert response.status_code == 200, response.text
        package = response.json()
        assert schema_errors(package, kind[:-1]) == []
        assert package["extensions"], "the declared extensions are listed"
        items = package[kind]
        seen += sorted({item["ocid"] for item in items})
        link = response.headers.get("Link")
        url = None if link is None else link[1 : link.index(">")]
        pages += 1
        assert pages < 10
    assert len(seen) == len(set(seen)) == PLAIN + 1
    assert OCID in seen


def test_the_ocid_of_a_procurement_without_a_spec_names_it_back(ocds_api: Api) -> None:
    ocids = [record["ocid"] for record in ocds_api.client.get("/ocds/records").json()["records"]]
    other = next(ocid for ocid in ocids if ocid != OCID)
    assert other.startswith("ocds-b5fd17-MOD-0x") is False
    response = ocds_api.client.get(f"/ocds/procurements/{other}/record")
    assert response.status_code == 200, response.text
    assert [record["ocid"] for record in response.json()["records"]] == [other]


def test_a_huge_limit_is_capped(ocds_api: Api) -> None:
    response = ocds_api.client.get("/ocds/records?limit=10000")
    assert response.status_code == 200
    assert len(response.json()["records"]) == PLAIN + 1
    assert ocds_api.client.get("/ocds/records?limit=10001").status_code == 422
    assert ocds_api.client.get("/ocds/records?limit=0").status_code == 422


@pytest.mark.parametrize(
    "cursor",
    ["abc", "1-2", "1-2-0x123", "-1-0-0x" + "00" * 20, "1-2-" + "00" * 21, "9" * 20 + "-0-0x" + "00" * 20],
)
def test_a_malformed_cursor_is_a_422_naming_it(ocds_api: Api, cursor: str) -> None:
    response = ocds_api.client.get("/ocds/releases", params={"cursor": cursor})
    assert response.status_code == 422
    assert "cursor" in response.text


@pytest.mark.parametrize("path", ["/ocds/records", "/ocds/releases", f"/ocds/procurements/{OCID}/record"])
def test_a_query_parameter_a_route_does_not_take_is_a_422_naming_it(ocds_api: Api, path: str) -> None:
    response = ocds_api.client.get(path, params={"ministry": "MOFA"})
    assert response.status_code == 422
    assert "ministry" in response.text


def test_a_cursor_past_the_end_is_an_empty_last_page(ocds_api: Api) -> None:
    response = ocds_api.client.get("/ocds/releases", params={"cursor": f"{2**62}-0-0x" + "ff" * 20})
    assert response.status_code == 200
    assert response.json()["releases"] == []
    assert "Link" not in response.headers


@pytest.mark.parametrize(
    ("name", "status"), [("0x1234", 422), ("ocds-b5fd17-none", 404), ("0x" + "ab" * 20, 404), ("a#b", 422)]
)
def test_a_procurement_that_is_not_one_is_refused(ocds_api: Api, name: str, status: int) -> None:
    response = ocds_api.client.get(f"/ocds/procurements/{name.replace('#', '%23')}/record")
    assert response.status_code == status, response.text


def test_export_ocds_writes_the_same_packages_and_the_flat_files(ocds_api: Api, tmp_path: Path) -> None:
    var = ocds_api.state.settings.var_dir
    db = ocds_api.state.settings.effective_database_url
    context = Context(transport=ocds_api.world.rpc, var_dir=var)

    def run(*args: str) -> Any:
        return CliRunner().invoke(main, ["audit", "export-ocds", "--db", db, *args], obj=context)

    public = run("--procurement", OCID)
    assert public.exit_code == 0, public.output
    package = json.loads(public.stdout)
    checked = run("--procurement", OCID, "--reference-merge")  # ocdsmerge compiles: the same records, to the byte
    assert checked.exit_code == 0, checked.output
    assert checked.stdout.split(', "records": [', 1)[1] == public.stdout.split(', "records": [', 1)[1]
    assert schema_errors(package, "record") == []
    assert not _published(package["records"][0], "contracts/value")
    auditor = run("--procurement", OCID, "--auditor", "--format", "release-package", "--out", str(tmp_path / "r.json"))
    assert auditor.exit_code == 0, auditor.output
    releases = json.loads((tmp_path / "r.json").read_text())
    assert schema_errors(releases, "release") == []
    assert releases["releases"][0]["contracts"][0]["value"]["amount"] == 200_000_000
    every = run("--format", "csv", "--out", str(tmp_path / "csv"))
    assert every.exit_code == 0, every.output
    assert (tmp_path / "csv" / "releases.csv").read_text().count(OCID) >= 1
    refused = run("--format", "xlsx")
    assert refused.exit_code != 0
    assert "--format xlsx writes files: give --out" in refused.output
    unknown = run("--procurement", "ocds-b5fd17-none")
    assert unknown.exit_code != 0
    assert "no procurement 'ocds-b5fd17-none' in the mirror" in unknown.output


def test_a_spec_file_that_is_not_the_committed_one_makes_the_publication_unavailable(
    ocds_api: Api, tmp_path: Path
) -> None:
    from gateway.errors import ServiceUnavailable
    from gateway.services.ocds import OcdsPublisher

    state = ocds_api.state
    edited = tmp_path / "edited"
    edited.mkdir()
    kept = state.settings.var_dir / "specs" / "night-vision.yaml"
    (edited / "night-vision.yaml").write_bytes(kept.read_bytes() + b"# lifted the classification\n")
    publisher = OcdsPublisher(make_settings(tmp_path, spec_dir=edited), state.ledger, state.engine)
    with pytest.raises(ServiceUnavailable, match="does not match the chain"):
        publisher.page("record", auditor=False)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "spec.yaml").write_text("id: [\n")
    with pytest.raises(ServiceUnavailable, match="a spec file is invalid"):
        OcdsPublisher(make_settings(tmp_path, spec_dir=broken), state.ledger, state.engine)


def test_a_spec_kept_after_the_gateway_started_is_read_before_the_next_page(ocds_api: Api, tmp_path: Path) -> None:
    from gateway.services.ocds import OcdsPublisher

    state = ocds_api.state
    folder = tmp_path / "specs"  # does not exist yet when the gateway starts
    publisher = OcdsPublisher(make_settings(tmp_path, spec_dir=folder), state.ledger, state.engine)
    before = publisher.page("record", auditor=False, name=OCID).package["records"][0]
    assert before["ocid"] != OCID, "no spec registered: the ocid of an unregistered procurement"
    assert _published(before, "contracts/value")
    folder.mkdir()
    kept = state.settings.var_dir / "specs" / "night-vision.yaml"
    (folder / "night-vision.yaml").write_bytes(kept.read_bytes())
    after = publisher.page("record", auditor=False, name=OCID).package["records"][0]
    assert after["ocid"] == OCID
    assert not _published(after, "contracts/value")


def test_the_reads_name_a_procurement_by_the_ocid_its_registered_spec_gives(ocds_api: Api) -> None:
    """Through the API, not only the CLI: the list and the detail carry the ocid of the registered spec (the others
    one made from the publisher's prefix), and the ocid, the on-chain id and the escrow each name it in the path."""
    auditor = ocds_api.sign_in("auditor")
    listed = ocds_api.client.get("/procurements", headers=auditor, params={"limit": 100}).json()["data"]
    (registered,) = [entry for entry in listed if entry["procurementId"] == "0x" + keccak(text=OCID).hex()]
    assert registered["ocid"] == OCID
    others = [entry for entry in listed if entry is not registered]
    assert len(others) >= PLAIN
    assert all(entry["ocid"] != OCID and entry["ocid"].startswith("ocds-b5fd17-") for entry in others)
    for name in (OCID, registered["procurementId"], registered["escrow"]):
        detail = ocds_api.client.get(f"/procurements/{name}", headers=auditor)
        assert detail.status_code == 200, detail.text
        assert detail.json()["ocid"] == OCID
