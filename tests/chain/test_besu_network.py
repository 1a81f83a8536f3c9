"""`procure network init` and `procure network allowlists`: the generated Besu QBFT files checked against Besu's
published formats (tests/resources/besu/formats.json, taken from Besu's source), and the genesis' alloc run as a
chain: loaded into py-evm, the registry answers its admin, the admin acts, the mirror follows, and the allowlists
follow the registry."""

from __future__ import annotations

import dataclasses
import json
import stat
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from eth_account import Account
from sqlalchemy import select

from chain import (
    DEFAULT_ADMIN_ROLE,
    GENESIS_TX,
    IMMEDIATE,
    ChainSource,
    GenesisLog,
    TxSender,
    compile_contracts,
    load_manifest,
)
from chain.besu_network import load_plan, plan_network
from chain.clients import system_clients
from chain.errors import ConfigurationError
from chain.keys import write_keystore
from chain.qbft import QbftExtraData, QbftVote, decode_extra_data, encode_extra_data, genesis_extra_data
from chain.roles import OrgKind
from chain.system import SystemAddresses, deploy_system, error_decoder
from indexer.audit import verify
from indexer.models import TABLES
from indexer.schema import make_engine
from indexer.sync import Indexer
from scripts.cli import main
from tests.tester import fund_accounts, new_tester

FORMATS = json.loads((Path(__file__).parents[1] / "resources" / "besu" / "formats.json").read_text())
TESTER_CHAIN_ID = 131277322940537  # the network's chain id: its genesis is then loaded into eth-tester's chain
ORGS = ("MOD", "MOFA", "MOF", "BOA")
PASSWORD = "correct horse battery staple"
RELAYER = "0x000000000000000000000000000000000000dEaD"


def _keys(name: str) -> set[str]:
    return set(FORMATS[name]["keys"])


@pytest.mark.parametrize(
    "vector", FORMATS["qbftExtraDataVectors"], ids=lambda v: v["from"].split(" ")[0].rsplit("/")[-1]
)
def test_extra_data_matches_besus_codec_vectors(vector: dict[str, Any]) -> None:
    raw = bytes.fromhex(vector["rlp"][2:])
    decoded = decode_extra_data(raw)
    vote = vector["vote"]
    expected = QbftExtraData(
        vanity=bytes.fromhex(vector["vanity"][2:]),
        validators=tuple(v.lower() for v in vector["validators"]),
        vote=None if vote is None else QbftVote(vote["address"].lower(), vote["add"]),
        round=vector["round"],
        seals=tuple(bytes.fromhex(seal[2:]) for seal in vector["seals"]),
    )
    lowered = QbftExtraData(
        decoded.vanity,
        tuple(v.lower() for v in decoded.validators),
        None if decoded.vote is None else QbftVote(decoded.vote.address.lower(), decoded.vote.add),
        decoded.round,
        decoded.seals,
    )
    assert lowered == expected
    assert encode_extra_data(decoded) == raw
    if vote is None and not vector["seals"]:
        assert genesis_extra_data(list(vector["validators"])) == raw


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"", "not RLP"),
        (b"\xc0", "not a list of vanity"),
        (bytes.fromhex(FORMATS["qbftExtraDataVectors"][0]["rlp"][2:]).replace(b"\x81\xff", b"\x81\xaa"), "vote type"),
        (
            bytes.fromhex(
                "f83ca00000000000000000000000000000000000000000000000000000000000000000d5940000000000000000000000000000000000000001c0820001c0"
            ),
            "round",
        ),
    ],
    ids=["empty", "short-list", "vote-type", "round-leading-zero"],
)
def test_malformed_extra_data_is_refused_by_name(raw: bytes, words: str) -> None:
    with pytest.raises(ConfigurationError, match=words):
        decode_extra_data(raw)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"orgs": []}, "at least one organization"),
        ({"orgs": ["MOD", "mod"]}, "named twice"),
        ({"orgs": ["M OD"]}, "letters and digits"),
        ({"validators": 0}, "between 1 and 64"),
        ({"chain_id": 31337}, "chain id of this network's own"),
        ({"block_period_s": 5, "request_timeout_s": 5}, "must exceed the block period"),
        ({"ips": ["10.0.0.1"]}, "4 nodes need 4 IP addresses"),
    ],
)
def test_a_bad_plan_is_refused_by_name(kwargs: dict[str, Any], words: str) -> None:
    values: dict[str, Any] = {"orgs": list(ORGS), "validators": 4, "chain_id": 2026, "admin": RELAYER} | kwargs
    with pytest.raises(ConfigurationError, match=words):
        plan_network(values.pop("orgs"), values.pop("validators"), **values)


def test_validators_go_round_the_organizations() -> None:
    plan = plan_network(["MOD", "MOF", "BOA"], 5, chain_id=2026, admin=RELAYER)
    assert [(n.name, n.validator) for n in plan.nodes] == [
        ("mod-1", True),
        ("mod-2", True),
        ("mof-1", True),
        ("mof-2", True),
        ("boa-1", True),
    ]
    few = plan_network(["MOD", "MOF", "BOA"], 1, chain_id=2026, admin=RELAYER)
    assert [(n.name, n.validator) for n in few.nodes] == [("mod-1", True), ("mof-1", False), ("boa-1", False)]
    assert len({n.public_key for n in plan.nodes}) == 5  # a fresh key per node


def _invoke(args: list[str], env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, args, env=env, catch_exceptions=False)


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """A network written by `procure network init`, and its admin."""
    tmp = tmp_path_factory.mktemp("network")
    admin = Account.create()
    keystore = write_keystore(admin, tmp / "admin.json", PASSWORD)
    out = tmp / "net"
    result = _invoke(
        [
            "--keystore",
            str(keystore),
            "network",
            "init",
            "--orgs",
            ",".join(ORGS),
            "--validators",
            "4",
            "--chain-id",
            str(TESTER_CHAIN_ID),
            "--out",
            str(out),
            "--relayer",
            RELAYER,
        ],
        env={"PROCURE_KEYSTORE_PASSWORD": PASSWORD, "PROCURE_VAR": str(tmp / "var")},
    )
    assert result.exit_code == 0, result.output
    assert "mod-1" in result.output
    assert "validator" in result.output
    assert "finality immediate; the deployment's 5 events recorded" in result.output
    return out, admin


def test_the_genesis_uses_only_keys_besu_reads(network: tuple[Path, Any]) -> None:
    out, admin = network
    genesis = json.loads((out / "genesis.json").read_text())
    assert {key.lower() for key in genesis} <= _keys("genesisTopLevelKeys")
    assert {key.lower() for key in genesis["config"]} <= _keys("genesisConfigKeys")
    assert set(genesis["config"]["qbft"]) <= _keys("bftConfigKeys")
    for account in genesis["alloc"].values():
        assert {key.lower() for key in account} <= _keys("genesisAccountKeys")
    assert genesis["config"]["chainId"] == TESTER_CHAIN_ID
    assert genesis["config"]["cancunTime"] == 0  # the contracts are compiled for Cancun
    assert genesis["config"]["qbft"]["requesttimeoutseconds"] > genesis["config"]["qbft"]["blockperiodseconds"]
    # The validators in extraData are the nodes' own keys' accounts (derived here from the key files).
    validators = decode_extra_data(bytes.fromhex(genesis["extraData"][2:])).validators
    nodes = sorted((out / "nodes").iterdir())
    from_keys = {Account.from_key((node / "key").read_text()).address for node in nodes}
    assert set(validators) == from_keys
    assert len(validators) == 4
    for node in nodes:
        assert stat.S_IMODE((node / "key").stat().st_mode) == 0o600
    assert admin.address[2:].lower() in genesis["alloc"]


def test_each_nodes_config_uses_only_besu_options_and_its_own_files(network: tuple[Path, Any]) -> None:
    out, _ = network
    plan = load_plan(out)
    enodes = {node.enode for node in plan.nodes}
    for node in plan.nodes:
        config = tomllib.loads((out / "nodes" / node.name / "config.toml").read_text())
        assert set(config) <= _keys("cliOptions")
        assert config["node-private-key-file"] == "/opt/besu/node/key"
        assert set(config["bootnodes"]) <= enodes
        assert node.enode not in config["bootnodes"]
        permissions = tomllib.loads((out / "nodes" / node.name / "permissions_config.toml").read_text())
        assert set(permissions) == _keys("permissionsFileKeys")
        assert set(permissions["nodes-allowlist"]) == enodes  # every bootnode is allowed
        assert set(permissions["accounts-allowlist"]) == {plan.admin, RELAYER}
        unit = (out / "systemd" / f"besu-{node.name}.service").read_text()
        assert "--config-file=/opt/besu/node/config.toml" in unit
    compose = yaml.safe_load((out / "docker-compose.yml").read_text())
    assert set(compose["services"]) == {node.name for node in plan.nodes}
    for node in plan.nodes:
        service = compose["services"][node.name]
        assert service["networks"]["besu"]["ipv4_address"] == node.ip
        assert f"./nodes/{node.name}:/opt/besu/node" in service["volumes"]


def test_the_genesis_is_a_working_ledger_and_the_allowlists_follow_the_registry(
    network: tuple[Path, Any], tmp_path: Path
) -> None:
    out, admin = network
    genesis = json.loads((out / "genesis.json").read_text())
    system = load_manifest(out / "deployment.json")
    assert system is not None
    assert system.deployed_block == 0
    assert system.admin == admin.address
    _, rpc = new_tester(genesis["alloc"])
    assert rpc.chain_id == TESTER_CHAIN_ID
    build = compile_contracts()
    registry, _, _ = system_clients(rpc, system, TxSender(rpc, admin, error_decoder(build)), build)
    # The admin of the genesis' registry acts at block 1: no deployment ran on this chain.
    member = Account.create().address
    registry.register_organization("MOD", OrgKind.MINISTRY, "Ministry of Defense")
    registry.register_organization("BOA", OrgKind.AUDIT_BODY, "Board of Audit")
    registry.bind_account(member, "MOD")
    assert registry.organization_of(member) == "MOD"
    url = f"sqlite:///{tmp_path / 'mirror.db'}"
    engine = make_engine(url)
    with Indexer(engine, ChainSource(rpc), system, build) as indexer:
        indexer.catch_up()
    result = _invoke(["network", "allowlists", "--network", str(out), "--db", url, "--json"])
    assert result.exit_code == 0, result.output
    lists = json.loads(result.output)
    plan = load_plan(out)
    by_org = {node.org: node.enode for node in plan.nodes}
    assert set(lists["nodes-allowlist"]) == {by_org["MOD"], by_org["BOA"]}  # MOFA and MOF not registered yet
    assert set(lists["accounts-allowlist"]) == {admin.address, RELAYER, member}
    registry.update_organization("MOD", active=False, vault=member)  # a ministry keeps a vault
    with Indexer(engine, ChainSource(rpc), system, build) as indexer:
        indexer.catch_up()
    engine.dispose()
    assert _invoke(["network", "allowlists", "--network", str(out), "--db", url]).exit_code == 0
    written = tomllib.loads((out / "nodes" / "mod-1" / "permissions_config.toml").read_text())
    assert written["nodes-allowlist"] == [by_org["BOA"]]  # a deactivated ministry's node and account leave
    assert set(written["accounts-allowlist"]) == {admin.address, RELAYER}


def test_init_refuses_without_the_admins_key_or_into_a_used_directory(
    network: tuple[Path, Any], tmp_path: Path
) -> None:
    out, _ = network
    args = ["network", "init", "--orgs", "MOD", "--validators", "1", "--chain-id", "2026"]
    without = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "a")])
    assert without.exit_code == 1
    assert "needs the admin's key" in without.output
    dev = CliRunner().invoke(main, ["--dev-account", "0", *args, "--out", str(tmp_path / "b")])
    assert dev.exit_code == 1
    assert "needs the admin's key" in dev.output
    before = sorted(p.name for p in out.rglob("*"))
    used = CliRunner().invoke(main, ["--keystore", str(tmp_path / "none.json"), *args, "--out", str(out)])
    assert used.exit_code == 1
    assert "is not empty" in used.output
    assert sorted(p.name for p in out.rglob("*")) == before
    assert not (tmp_path / "a").exists()
    assert not (tmp_path / "b").exists()
    stray = CliRunner().invoke(main, ["network", "allowlists", "--network", str(tmp_path), "--db", "sqlite://"])
    assert stray.exit_code == 1
    assert "network.json is missing" in stray.output


def _mirror(rpc: Any, system: SystemAddresses, build: Any, url: str) -> Any:
    engine = make_engine(url)
    with Indexer(engine, ChainSource(rpc), system, build) as indexer:
        indexer.catch_up()
    return engine


def _rows(engine: Any, table: str, *columns: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        t = TABLES[table]
        return [tuple(row) for row in conn.execute(select(*(t.c[c] for c in columns)).order_by(*t.primary_key))]


def test_the_deployments_events_are_mirrored_at_block_0_and_verified_against_its_state(
    network: tuple[Path, Any], tmp_path: Path
) -> None:
    out, admin = network
    genesis = json.loads((out / "genesis.json").read_text())
    data = json.loads((out / "deployment.json").read_text())
    assert data["finality"] == "immediate"  # QBFT: the indexer stays 0 blocks behind, a relay is final once mined
    system = load_manifest(out / "deployment.json")
    assert system is not None
    assert system.finality == IMMEDIATE
    _, rpc = new_tester(genesis["alloc"])
    build = compile_contracts()
    mirror = _mirror(rpc, system, build, f"sqlite:///{tmp_path / 'genesis.db'}")
    # The same admin deploying by transactions on a fresh chain: the same addresses, the same events and roles.
    _, deployed_rpc = new_tester()
    fund_accounts(deployed_rpc.tester, [admin])
    deployed = deploy_system(TxSender(deployed_rpc, admin, error_decoder(build)), build)
    assert deployed.registry == system.registry
    reference = _mirror(deployed_rpc, deployed, build, f"sqlite:///{tmp_path / 'deployed.db'}")
    try:
        events = _rows(mirror, "events", "block_number", "tx_hash", "emitter", "event", "args")
        assert [e[3] for e in events] == [
            "RoleGranted",
            "RoleAdminChanged",
            "RoleAdminChanged",
            "BudgetSet",
            "FactorySet",
        ]
        assert {(e[0], e[1]) for e in events} == {(0, GENESIS_TX)}  # marked: block 0, no transaction
        assert [e[2:] for e in events] == [e[2:] for e in _rows(reference, "events", "block_number", "tx_hash",
                                                                "emitter", "event", "args")]  # fmt: skip
        roles = _rows(mirror, "role_memberships", "role", "account", "role_name", "granted_by")
        assert roles == _rows(reference, "role_memberships", "role", "account", "role_name", "granted_by")
        assert roles == [("0x" + DEFAULT_ADMIN_ROLE.hex(), admin.address, "DEFAULT_ADMIN_ROLE", admin.address)]
        report = verify(mirror, ChainSource(rpc), system, build)
        assert report.ok, report.differences
        assert report.checked["genesis_calls"] > 50
    finally:
        mirror.dispose()
        reference.dispose()


def _forged(system: SystemAddresses, change: Callable[[list[GenesisLog]], list[GenesisLog]]) -> SystemAddresses:
    return dataclasses.replace(system, genesis_logs=tuple(change(list(system.genesis_logs))))


def _grant_to_another(logs: list[GenesisLog]) -> list[GenesisLog]:
    granted = logs[0]
    other = "0x" + "00" * 12 + "dEaD".rjust(40, "0").lower()
    return [dataclasses.replace(granted, topics=(*granted.topics[:2], other, *granted.topics[3:])), *logs[1:]]


@pytest.mark.parametrize(
    ("change", "table", "field"),
    [
        (_grant_to_another, "role_memberships", "hasRole"),  # the admin's role given to another account
        (lambda logs: [log for log in logs if log.topics[0] != logs[3].topics[0]], "registry", "budget"),  # left out
        (lambda logs: [*logs, logs[-1]], "events", "event"),  # FactorySet again: the same state, a false trail
    ],
    ids=["grant-redirected", "budget-left-out", "extra-event"],
)
def test_a_forged_genesis_events_list_is_refused_by_verify(
    network: tuple[Path, Any], tmp_path: Path, change: Any, table: str, field: str
) -> None:
    out, _ = network
    genesis = json.loads((out / "genesis.json").read_text())
    system = load_manifest(out / "deployment.json")
    assert system is not None
    forged = _forged(system, change)
    _, rpc = new_tester(genesis["alloc"])
    build = compile_contracts()
    mirror = _mirror(rpc, forged, build, f"sqlite:///{tmp_path / 'forged.db'}")
    try:
        report = verify(mirror, ChainSource(rpc), forged, build)
    finally:
        mirror.dispose()
    assert not report.ok
    found = {(d.source, d.table, d.field) for d in report.differences}
    assert ("genesis", table, field) in found, report.differences
