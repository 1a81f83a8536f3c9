"""A procurement's trail and an account's acts (GET /audit/..., `procure audit trail|actor`), on a live world
mirrored once for the module: a procurement created and attested directly, evidence and a pause signed and relayed
through the gateway, an amendment proposed and approved by two officers, a role granted.

Who may call: the procurement's parties, auditors and the finance authority (trail); auditors, the finance
authority and the account itself (acts). What a hostile caller tries: another ministry's procurement, an unknown
id, an address given as an ocid, no session, huge or garbage ids, another account's acts. What must hold: every
event of the procurement is listed once in chain order with the right signer and relayer, each line sits in the
digest chain, and a row edited in the mirror is caught by checking the lines against the chain.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from eth_utils.crypto import keccak
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from chain import ChainSource, EventDecoder, Role, TxSender
from chain.deployment import manifest_path
from chain.system import error_decoder
from gateway.main import create_app
from indexer.digests import chain_next
from indexer.models import TABLES
from indexer.sync import trusted_emitters
from indexer.trail import ACTS, check_lines, procurement_trail
from scripts._common import Context
from scripts.cli import main
from tests.gateway.conftest import Api, make_settings
from tests.helpers import new_escrow
from tests.tester import deterministic_account, fund_accounts
from tests.world import World

DAY = 86_400


@pytest.fixture(scope="module")
def trail_api(session_world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, str]]:
    """The gateway over a mirrored world holding one procurement's whole life so far; and its escrow."""
    world = session_world
    snapshot = world.tester.take_snapshot()
    year, lines = world.fiscal_year, dict(world.lines)
    tmp = tmp_path_factory.mktemp("trail")
    try:
        escrow, params = new_escrow(world)
        pid = "0x" + bytes(params[0]).hex()
        new_escrow(world)  # another procurement of the same ministry: not in the trail
        account = deterministic_account("trail relayer")
        fund_accounts(world.tester, [account])
        relayer = TxSender(world.rpc, account, error_decoder(world.build))
        app = create_app(make_settings(tmp), rpc=world.rpc, system=world.system, relayer=relayer, build=world.build)
        with TestClient(app, raise_server_exceptions=False) as client:
            api = Api(client=client, world=world, app=app)
            supplier = api.sign_in("supplier")
            document = api.upload(supplier, b"evidence for milestone 0")
            fields = {"milestoneId": 0, "documentHash": document["documentHash"]}
            assert api.act("supplier", supplier, pid, "submit-evidence", fields, wait=True).status_code == 200
            for evaluator in ("eval1", "eval2"):
                world.sender(evaluator).transact(
                    escrow.functions.attest(0, 1, True, keccak(text=f"report {evaluator}"))
                )
            admin = api.sign_in("mod_admin")
            until = world.now() + 7 * DAY
            assert api.act("mod_admin", admin, pid, "pause", {"until": until}, wait=True).status_code == 200
            rationale = keccak(text="more units")
            world.sender("officer").transact(escrow.functions.proposeAmendment(1, 0, 30_000_000, 0, rationale))
            world.sender("officer2").transact(escrow.functions.approveAmendment(0, 1, 0, 30_000_000, 0, rationale))
            registry = world.registry.functions
            world.sender("admin").transact(registry.grantRole(Role.EVALUATOR.id, world.accounts["eval4"].address))
            api.sync()
            _SESSIONS.clear()
            yield api, escrow.address
    finally:
        world.tester.revert_to_snapshot(snapshot)
        world.fiscal_year, world.lines = year, lines


_SESSIONS: dict[str, dict[str, str]] = {}  # one sign-in per account for the module (sign-in is rate-limited)


def _session(api: Api, label: str) -> dict[str, str]:
    if label not in _SESSIONS:
        _SESSIONS[label] = api.sign_in(label)
    return _SESSIONS[label]


def _address(api: Api, label: str) -> str:
    return str(api.world.accounts[label].address)


def _trail(api: Api, escrow: str, label: str = "auditor", **params: str) -> dict[str, Any]:
    response = api.client.get(f"/audit/procurements/{escrow}/trail", headers=_session(api, label), params=params)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def test_the_trail_lists_every_event_of_the_procurement_with_its_signer_and_relayer(
    trail_api: tuple[Api, str],
) -> None:
    api, escrow = trail_api
    trail = _trail(api, escrow)
    lines = trail["data"]
    assert trail["count"] == len(lines)
    keys = [(line["blockNumber"], line["logIndex"]) for line in lines]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)
    events = TABLES["events"]
    with api.state.engine.connect() as conn:
        emitted = {
            (row.tx_hash, row.log_index) for row in conn.execute(select(events).where(events.c.emitter == escrow))
        }
    listed = {(line["txHash"], line["logIndex"]) for line in lines}
    assert emitted <= listed  # every escrow event, and the rest of their transactions (creation, token moves)
    by_event: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by_event.setdefault(line["event"], []).append(line)
    (created,) = by_event["ProcurementCreated"]
    assert created["signer"] == created["relayer"] == _address(api, "officer")
    assert not created["bySignature"]
    (evidence,) = by_event["EvidenceSubmitted"]
    assert evidence["bySignature"]
    assert evidence["signer"] == _address(api, "supplier")
    assert evidence["relayer"] == api.relayer
    assert evidence["args"]["documentHash"] in evidence["documents"]
    attested = by_event["Attested"]
    assert [line["signer"] for line in attested] == [_address(api, "eval1"), _address(api, "eval2")]
    assert all(line["relayer"] == line["signer"] and line["documents"] for line in attested)
    (pause,) = by_event["PauseChanged"]
    assert pause["bySignature"]
    assert pause["signer"] == _address(api, "mod_admin")
    assert pause["relayer"] == api.relayer
    assert by_event["AmendmentProposed"][0]["signer"] == _address(api, "officer")
    assert by_event["AmendmentApproved"][0]["signer"] == _address(api, "officer2")
    assert "PaymentReleased" in by_event
    assert "RoleGranted" not in by_event
    for line in lines:
        assert line["blockTime"].endswith("+09:00")
        assert line["chainHash"] == chain_next(line["previousChainHash"], line["digest"])


def test_the_trail_chains_block_to_block(trail_api: tuple[Api, str]) -> None:
    api, escrow = trail_api
    digests = TABLES["block_digests"]
    with api.state.engine.connect() as conn:
        chain = {row.block_number: row for row in conn.execute(select(digests).order_by(digests.c.block_number))}
    numbers = sorted(chain)
    for line in _trail(api, escrow)["data"]:
        stored = chain[line["blockNumber"]]
        assert (line["digest"], line["chainHash"], line["blockHash"]) == (
            stored.digest,
            stored.chain_hash,
            stored.block_hash,
        )
        at = numbers.index(line["blockNumber"])
        previous = chain[numbers[at - 1]].chain_hash if at else "0" * 64
        assert line["previousChainHash"] == previous


def test_a_hand_edited_mirror_row_is_caught_against_the_chain(trail_api: tuple[Api, str]) -> None:
    api, escrow = trail_api
    world = api.world
    source = ChainSource(world.rpc)
    kinds = trusted_emitters(world.system) | {escrow: "escrow"}
    decoder = EventDecoder(world.build)
    engine = api.state.engine
    with engine.connect() as conn:
        lines = procurement_trail(conn, world.system.chain_id, escrow, source.tx_senders)
    assert check_lines(lines, source, decoder, kinds) == []
    paid = next(line for line in lines if line.event == "PaymentReleased")
    events, digests = TABLES["events"], TABLES["block_digests"]
    forged = json.dumps(paid.args | {"amount": "4000000"}, separators=(",", ":"))
    key = (events.c.tx_hash == paid.tx_hash) & (events.c.log_index == paid.log_index)
    at_block = digests.c.block_number == paid.block_number
    try:
        with engine.begin() as conn:
            conn.execute(update(events).where(key).values(args=forged))
            conn.execute(update(digests).where(at_block).values(block_time=paid.block_time + 3600))  # type: ignore[operator]
        with engine.connect() as conn:
            edited = procurement_trail(conn, world.system.chain_id, escrow, source.tx_senders)
        problems = check_lines(edited, source, decoder, kinds)
        where = f"block {paid.block_number} tx {paid.tx_hash} log {paid.log_index}"
        assert f"{where}: PaymentReleased's arguments differ from the chain's" in problems
        assert any(problem.startswith(where) and "block time" in problem for problem in problems)
    finally:
        with engine.begin() as conn:
            conn.execute(update(events).where(key).values(args=json.dumps(paid.args, separators=(",", ":"))))
            conn.execute(update(digests).where(at_block).values(block_time=paid.block_time))


def test_the_trail_as_csv_and_by_accept_header(trail_api: tuple[Api, str]) -> None:
    api, escrow = trail_api
    headers = _session(api, "officer")
    as_json = _trail(api, escrow, "officer")["data"]
    for response in (
        api.client.get(f"/audit/procurements/{escrow}/trail", headers=headers, params={"format": "csv"}),
        api.client.get(f"/audit/procurements/{escrow}/trail", headers=headers | {"Accept": "text/csv"}),
    ):
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert list(rows[0]) == list(as_json[0])
        assert [(int(r["blockNumber"]), int(r["logIndex"])) for r in rows] == [
            (line["blockNumber"], line["logIndex"]) for line in as_json
        ]
        assert [json.loads(r["args"]) for r in rows] == [line["args"] for line in as_json]


@pytest.mark.parametrize("label", ["supplier", "eval1", "officer", "finance", "auditor"])
def test_the_procurements_parties_auditors_and_the_finance_authority_read_its_trail(
    trail_api: tuple[Api, str], label: str
) -> None:
    api, escrow = trail_api
    assert _trail(api, escrow, label)["count"] > 0


@pytest.mark.parametrize(
    ("label", "name", "status"),
    [
        ("mofa_officer", None, 404),  # another ministry
        ("other_supplier", None, 404),
        ("eval4", None, 404),  # an evaluator not on its panel
        ("auditor", "0x" + "ab" * 20, 404),  # an escrow no procurement has
        ("auditor", "0x" + "ab" * 32, 404),  # an unknown on-chain id
        ("auditor", "ocds-b5fd17-MOD-2026-9999", 404),
        ("auditor", "0x1234", 422),  # an address cut short, given where an ocid was meant
        ("auditor", "x" * 5000, 422),
        ("auditor", "'; DROP TABLE events; --", 422),
        (None, None, 401),
    ],
)
def test_hostile_trail_requests_get_a_clear_4xx(
    trail_api: tuple[Api, str], label: str | None, name: str | None, status: int
) -> None:
    api, escrow = trail_api
    headers = _session(api, label) if label else {}
    response = api.client.get(f"/audit/procurements/{name or escrow}/trail", headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["detail"]


def _acts(api: Api, label: str, subject: str, **params: str) -> Any:
    return api.client.get(f"/audit/actors/{subject}", headers=_session(api, label), params=params)


def test_an_accounts_acts_after_a_role_grant_a_pause_and_an_amendment(trail_api: tuple[Api, str]) -> None:
    api, escrow = trail_api
    admin = _acts(api, "auditor", _address(api, "admin")).json()["data"]
    (grant,) = [
        line for line in admin if line["event"] == "RoleGranted" and line["args"]["account"] == _address(api, "eval4")
    ]
    assert "role EVALUATOR" in grant["words"]
    assert grant["blockTime"].endswith("+09:00")
    mod_admin = _acts(api, "finance", _address(api, "mod_admin")).json()["data"]
    pauses = [line for line in mod_admin if line["event"] == "PauseChanged" and line["emitter"] == escrow]
    assert len(pauses) == 1
    assert pauses[0]["bySignature"]
    assert pauses[0]["relayer"] == api.relayer
    officer = {line["event"] for line in _acts(api, "officer", _address(api, "officer")).json()["data"]}
    assert {"ProcurementCreated", "AmendmentProposed"} <= officer
    assert "AmendmentApproved" not in officer
    approver = _acts(api, "auditor", _address(api, "officer2")).json()["data"]
    assert [line["event"] for line in approver if line["emitter"] == escrow] == ["AmendmentApproved"]
    for line in admin + mod_admin + approver:
        assert line["event"] in ACTS
        assert line["signer"] is not None


def test_others_read_only_their_own_acts(trail_api: tuple[Api, str]) -> None:
    api, _ = trail_api
    assert _acts(api, "officer", _address(api, "officer2")).status_code == 403
    assert _acts(api, "officer2", _address(api, "officer2").lower()).status_code == 200
    for bad in ("0x1234", "0x" + "g" * 40, "x" * 5000):
        assert _acts(api, "auditor", bad).status_code == 422
    assert api.client.get(f"/audit/actors/{_address(api, 'officer')}").status_code == 401
    response = _acts(api, "auditor", _address(api, "officer2"), format="csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.text.splitlines()[0].startswith("blockNumber,blockTime,")


def test_the_trail_and_actor_commands(trail_api: tuple[Api, str]) -> None:
    api, escrow = trail_api
    world = api.world
    var = api.state.settings.var_dir
    path = manifest_path(var, world.system.chain_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(world.system.to_json()), encoding="utf-8")
    obj = Context(var_dir=var, transport=world.rpc, _build=world.build)
    db = api.state.settings.effective_database_url
    runner = CliRunner()
    as_json = runner.invoke(main, ["audit", "trail", escrow, "--db", db, "--json", "--check"], obj=obj)
    assert as_json.exit_code == 0, as_json.output
    printed = json.loads(as_json.stdout)
    assert printed["data"] == _trail(api, escrow)["data"]
    as_csv = runner.invoke(main, ["audit", "trail", escrow, "--db", db, "--csv", "--offline"], obj=obj)
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert len(rows) == printed["count"]
    assert all(bool(row["signer"]) == (row["bySignature"] == "True") for row in rows)  # offline: senders unknown
    text = runner.invoke(main, ["audit", "actor", _address(api, "officer2"), "--db", db], obj=obj)
    assert text.exit_code == 0, text.output
    assert "AmendmentApproved" in text.stdout
    assert "JST" in text.stdout
    wrong = runner.invoke(main, ["audit", "trail", "0x1234", "--db", db], obj=obj)
    assert wrong.exit_code == 1
    assert "Traceback" not in wrong.output


def test_reads_carry_the_block_time_next_to_each_block_number(trail_api: tuple[Api, str]) -> None:
    api, escrow = trail_api
    headers = _session(api, "auditor")
    times = {line["blockNumber"]: line["blockTime"] for line in _trail(api, escrow)["data"]}
    detail = api.client.get(f"/procurements/{escrow}", headers=headers).json()
    assert detail["createdBlockTime"] == times[detail["createdBlock"]]
    assert all(m["updatedBlockTime"] == times[m["updatedBlock"]] for m in detail["milestones"])
    for path in ("/attestations", "/payments", "/amendments", "/events"):
        rows = api.client.get(path, headers=headers, params={"procurementId": escrow}).json()["data"]
        assert rows, path
        assert all(row["blockTime"] == times[row["blockNumber"]] for row in rows), path
    (submission,) = api.client.get(f"/procurements/{escrow}/milestones/0/evidence", headers=headers).json()["data"]
    assert submission["blockTime"] == times[submission["blockNumber"]]
    (amendment,) = api.client.get("/amendments", headers=headers, params={"procurementId": escrow}).json()["data"]
    assert amendment["approvedBlockTime"] == times[amendment["approvedBlock"]]
