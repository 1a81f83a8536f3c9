"""A permissioned network for several organizations: Hyperledger Besu QBFT files, generated offline.

``plan_network`` decides the nodes (one per organization, more for an organization that runs several of the
validators), ``write_network`` writes everything a network needs to start with the ledger already in it:

* ``genesis.json``: QBFT (block period, request timeout, epoch), the validators in ``extraData``
  (chain/qbft.py), every fork to Cancun at block 0 (the contracts are compiled for Cancun), no base fee, and in
  ``alloc`` the ledger's system contracts (code and storage) and its admin, so that no block ever runs without
  them. The alloc is what deploying the system leaves behind: the system is deployed on a private anvil with the
  network's chain id and its state is read back (``anvil_dumpState``); addresses and the admin's nonce follow.
* ``deployment.json``: where the system lives (the gateway's and indexer's manifest, ``deployedBlock`` 0), the
  chain's finality (``immediate``: QBFT) and the events the deployment emitted (``genesisEvents``), which no block
  carries (chain/genesis_events.py).
* ``nodes/<name>/``: the node's key (0600) and public key, ``config.toml`` (Besu options), and
  ``permissions_config.toml`` (the local account and node allowlists).
* ``docker-compose.yml`` (one service per node on a fixed subnet) and ``systemd/besu-<name>.service``.
* ``network.json``: the manifest ``procure network allowlists`` reads to write the allowlists again.

The allowlists follow the registry: the nodes of active organizations, and as accounts the admin, the gateways'
relayers and every account bound to an active organization (``allowlists_for``). Nothing here talks to Besu:
Besu cannot be installed on the machines this was built on; tests/resources/besu/ holds the formats it was
checked against.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import coincurve
import yaml

from chain._compiler import Build
from chain._tx import TxSender
from chain.abi import checksum
from chain.connection import connect
from chain.errors import ConfigurationError
from chain.finality import IMMEDIATE
from chain.genesis_events import capture_genesis_logs
from chain.node import anvil_binary, free_port, spawn, wait_for_rpc
from chain.qbft import genesis_extra_data
from chain.signing import Signer, keccak
from chain.system import SystemAddresses, deploy_system, error_decoder

__all__ = [
    "Members",
    "NetworkNode",
    "NetworkPlan",
    "allowlists_for",
    "load_plan",
    "plan_network",
    "system_alloc",
    "write_allowlists",
    "write_network",
]

BESU_IMAGE = "hyperledger/besu:25.11.0"
P2P_PORT = 30303
RPC_PORT = 8545
NODE_HOME = "/opt/besu/node"  # each node's directory, on its machine (systemd) or in its container (docker)
GENESIS_PATH = "/opt/besu/genesis.json"
QBFT_MIX_HASH = "0x63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365"
EPOCH_LENGTH = 30_000
ALLOC_WEI = 10**24  # for gas, should the network ever charge a gas price (it starts with none)
_SUBNET = "172.28.0"
_FORK_BLOCKS = (
    "homesteadBlock",
    "eip150Block",
    "eip158Block",
    "byzantiumBlock",
    "constantinopleBlock",
    "petersburgBlock",
    "istanbulBlock",
    "muirGlacierBlock",
    "berlinBlock",
    "londonBlock",
)
_FORK_TIMES = ("shanghaiTime", "cancunTime")
_CODE = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_RPC_APIS = ["ETH", "NET", "WEB3", "QBFT", "PERM", "TXPOOL"]


@dataclass(frozen=True)
class NetworkNode:
    """One Besu node: whose it is, whether it validates, where it listens, who it is on the wire."""

    name: str
    org: str
    validator: bool
    ip: str
    public_key: str  # 64 bytes, hex without 0x: the enode id
    address: str  # the node key's account: a validator's address in extraData

    @property
    def enode(self) -> str:
        """The node's enode URL."""
        return f"enode://{self.public_key}@{self.ip}:{P2P_PORT}"

    def to_json(self) -> dict[str, Any]:
        """The node as network.json lists it."""
        return {
            "name": self.name,
            "org": self.org,
            "validator": self.validator,
            "ip": self.ip,
            "p2pPort": P2P_PORT,
            "rpcPort": RPC_PORT,
            "publicKey": self.public_key,
            "address": self.address,
            "enode": self.enode,
        }


@dataclass(frozen=True)
class NetworkPlan:
    """The whole network: chain id, consensus timing, organizations and their nodes, admin and relayers."""

    chain_id: int
    orgs: tuple[str, ...]
    nodes: tuple[NetworkNode, ...]
    block_period_s: int
    request_timeout_s: int
    admin: str
    relayers: tuple[str, ...] = ()
    besu_image: str = BESU_IMAGE
    keys: Mapping[str, bytes] = field(default_factory=dict, repr=False)  # node name -> private key (init only)

    @property
    def validators(self) -> list[str]:
        """The validators' addresses, in extraData's order."""
        return [node.address for node in self.nodes if node.validator]

    def to_json(self) -> dict[str, Any]:
        """network.json."""
        return {
            "chainId": self.chain_id,
            "consensus": {
                "protocol": "qbft",
                "blockPeriodSeconds": self.block_period_s,
                "requestTimeoutSeconds": self.request_timeout_s,
                "finality": "immediate",
            },
            "orgs": list(self.orgs),
            "admin": self.admin,
            "relayers": list(self.relayers),
            "besuImage": self.besu_image,
            "nodes": [node.to_json() for node in self.nodes],
        }


@dataclass(frozen=True)
class Members:
    """Who belongs to the network now, as the registry says: active organizations and their bound accounts."""

    active_orgs: frozenset[str]
    accounts: frozenset[str]  # accounts bound to an active organization


def _node_key() -> tuple[bytes, str, str]:
    secret = secrets.token_bytes(32)
    key = coincurve.PrivateKey(secret)  # raises for the 2**-128-likely invalid scalar
    public = key.public_key.format(compressed=False)[1:]
    return secret, public.hex(), checksum("0x" + keccak(public)[12:].hex())


def _org_code(code: str) -> str:
    code = code.strip().upper()
    if not code or len(code) > 16 or any(c not in _CODE for c in code):
        raise ConfigurationError(f"an organization code is 1-16 letters and digits: {code!r}")
    return code


def plan_network(
    orgs: Iterable[str],
    validators: int,
    *,
    chain_id: int,
    admin: str,
    relayers: Iterable[str] = (),
    block_period_s: int = 2,
    request_timeout_s: int = 4,
    ips: Iterable[str] | None = None,
    besu_image: str = BESU_IMAGE,
) -> NetworkPlan:
    """The nodes of a network of ``orgs`` with ``validators`` validators, with fresh node keys.

    Each organization runs one node; the validators go round the organizations in the order given (four
    organizations and four validators: each runs one validating node; six validators: the first two run two).
    With fewer validators than organizations, the last organizations' nodes follow without validating. QBFT
    tolerates f faulty validators out of 3f+1: four is the least that survives one failure.
    """
    codes = [_org_code(code) for code in orgs]
    if not codes:
        raise ConfigurationError("name at least one organization (--orgs MOD,MOF,...)")
    if len(set(codes)) != len(codes):
        raise ConfigurationError(f"an organization is named twice: {','.join(codes)}")
    if not 1 <= validators <= 64:
        raise ConfigurationError(f"validators must be between 1 and 64, not {validators}")
    if not 1 <= chain_id < 2**63 or chain_id in (1, 31337, 1337):
        raise ConfigurationError(f"choose a chain id of this network's own (not 1, 1337 or 31337): {chain_id}")
    if not 1 <= block_period_s <= 60:
        raise ConfigurationError(f"the block period is 1-60 s, not {block_period_s}")
    if not block_period_s < request_timeout_s <= 600:
        raise ConfigurationError(
            f"the request timeout ({request_timeout_s} s) must exceed the block period ({block_period_s} s)"
        )
    runs = {code: 0 for code in codes}
    for index in range(validators):
        runs[codes[index % len(codes)]] += 1
    named: list[tuple[str, str, bool]] = []
    for code in codes:
        count = max(runs[code], 1)
        for n in range(count):
            named.append((f"{code.lower()}-{n + 1}", code, n < runs[code]))
    given = list(ips) if ips is not None else [f"{_SUBNET}.{10 + i}" for i in range(len(named))]
    if len(given) != len(named):
        raise ConfigurationError(f"{len(named)} nodes need {len(named)} IP addresses, {len(given)} were given")
    nodes = []
    keys = {}
    for (name, code, validating), ip in zip(named, given, strict=True):
        secret, public, address = _node_key()
        keys[name] = secret
        nodes.append(NetworkNode(name, code, validating, ip, public, address))
    return NetworkPlan(
        chain_id=chain_id,
        orgs=tuple(codes),
        nodes=tuple(nodes),
        block_period_s=block_period_s,
        request_timeout_s=request_timeout_s,
        admin=checksum(admin),
        relayers=tuple(checksum(r) for r in relayers),
        besu_image=besu_image,
        keys=keys,
    )


def load_plan(directory: Path) -> NetworkPlan:
    """The plan a ``write_network`` left in ``directory`` (network.json; no keys)."""
    path = directory / "network.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        consensus = data["consensus"]
        nodes = tuple(
            NetworkNode(n["name"], n["org"], bool(n["validator"]), n["ip"], n["publicKey"], checksum(n["address"]))
            for n in data["nodes"]
        )
        return NetworkPlan(
            chain_id=int(data["chainId"]),
            orgs=tuple(data["orgs"]),
            nodes=nodes,
            block_period_s=int(consensus["blockPeriodSeconds"]),
            request_timeout_s=int(consensus["requestTimeoutSeconds"]),
            admin=checksum(data["admin"]),
            relayers=tuple(checksum(r) for r in data["relayers"]),
            besu_image=str(data["besuImage"]),
        )
    except FileNotFoundError as exc:
        raise ConfigurationError(f"{path} is missing: is {directory} a network written by `network init`?") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(f"{path} is not a network manifest: {exc!r}") from exc


def _word(value: int | str) -> str:
    number = value if isinstance(value, int) else int(value, 16)
    return "0x" + number.to_bytes(32, "big").hex()


def system_alloc(
    admin: Signer, chain_id: int, build: Build, anvil_root: Path, log_dir: Path
) -> tuple[SystemAddresses, dict[str, Any], int]:
    """Deploy the system with ``admin``'s key on a private anvil of chain id ``chain_id``, and read back what it
    left: the system (deployed at block 0 of a chain of immediate finality, with the events its deployment emitted:
    chain/genesis_events.py), the genesis ``alloc`` of its contracts and admin, and the deployment's time. The anvil
    is started here and stopped before returning.
    """
    port = free_port()
    command = [str(anvil_binary(anvil_root)), "--port", str(port), "--chain-id", str(chain_id), "--silent"]
    process = spawn([*command, "--accounts", "0"], log_dir / "anvil-genesis.log")
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_rpc(url, timeout=30)
        rpc = connect(url)
        rpc.request("anvil_setBalance", [admin.address, hex(ALLOC_WEI)])
        sender = TxSender(rpc, admin, error_decoder(build))
        system = deploy_system(sender, build)
        logs = capture_genesis_logs(rpc, system)
        dumped = rpc.request("anvil_dumpState", [])
        state = json.loads(gzip.decompress(bytes.fromhex(str(dumped["result"]).removeprefix("0x"))))
        latest = rpc.request("eth_getBlockByNumber", ["latest", False])["result"]
    finally:
        process.terminate()
        process.wait(timeout=10)
    accounts = {address.lower(): value for address, value in state["accounts"].items()}
    contracts = [
        system.registry,
        system.token,
        system.budget,
        system.budget_office,
        system.factory,
        system.implementation,
    ]
    alloc: dict[str, Any] = {}
    for address in contracts:
        account = accounts[address.lower()]
        storage = {_word(slot): _word(value) for slot, value in account["storage"].items() if int(value, 16)}
        alloc[address[2:].lower()] = {
            "balance": "0x0",
            "nonce": hex(int(account["nonce"])),
            "code": account["code"],
            **({"storage": dict(sorted(storage.items()))} if storage else {}),
        }
    admin_state = accounts[admin.address.lower()]
    alloc[admin.address[2:].lower()] = {"balance": hex(ALLOC_WEI), "nonce": hex(int(admin_state["nonce"]))}
    placed = dataclasses.replace(system, deployed_block=0, finality=IMMEDIATE, genesis_logs=logs)
    return placed, alloc, int(latest["timestamp"], 16)


def genesis(plan: NetworkPlan, alloc: Mapping[str, Any], timestamp: int) -> dict[str, Any]:
    """The genesis file of ``plan`` with the system's ``alloc``; relayers get gas money too."""
    config: dict[str, Any] = {"chainId": plan.chain_id}
    config.update({key: 0 for key in _FORK_BLOCKS})
    config.update({key: 0 for key in _FORK_TIMES})
    config["zeroBaseFee"] = True
    config["qbft"] = {
        "blockperiodseconds": plan.block_period_s,
        "epochlength": EPOCH_LENGTH,
        "requesttimeoutseconds": plan.request_timeout_s,
    }
    full = dict(alloc)
    for relayer in plan.relayers:
        full.setdefault(relayer[2:].lower(), {"balance": hex(ALLOC_WEI)})
    return {
        "config": config,
        "nonce": "0x0",
        "timestamp": hex(timestamp),
        "gasLimit": "0x1fffffffffffff",
        "difficulty": "0x1",
        "mixHash": QBFT_MIX_HASH,
        "coinbase": "0x0000000000000000000000000000000000000000",
        "extraData": "0x" + genesis_extra_data(plan.validators).hex(),
        "alloc": full,
    }


def _toml(values: Mapping[str, object]) -> str:
    lines = []
    for key, value in values.items():
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, int):
            text = str(value)
        elif isinstance(value, str):
            text = json.dumps(value)
        elif isinstance(value, list):
            text = "[" + ", ".join(json.dumps(str(item)) for item in value) + "]"
        else:
            raise TypeError(f"no TOML for {key}={value!r}")
        lines.append(f"{key}={text}")
    return "\n".join(lines) + "\n"


def node_config(plan: NetworkPlan, node: NetworkNode) -> str:
    """The node's Besu ``config.toml`` (paths as the node sees them: under /opt/besu)."""
    permissions = f"{NODE_HOME}/permissions_config.toml"
    return _toml(
        {
            "identity": node.name,
            "data-path": f"{NODE_HOME}/data",
            "genesis-file": GENESIS_PATH,
            "node-private-key-file": f"{NODE_HOME}/key",
            "p2p-host": node.ip,
            "p2p-port": P2P_PORT,
            "bootnodes": [other.enode for other in plan.nodes if other.validator and other.name != node.name],
            "rpc-http-enabled": True,
            "rpc-http-host": "0.0.0.0",  # noqa: S104 (in its container or machine; the host-allowlist and the firewall narrow it)
            "rpc-http-port": RPC_PORT,
            "rpc-http-api": _RPC_APIS,
            "host-allowlist": ["localhost", "127.0.0.1", node.name, node.ip],
            "min-gas-price": 0,
            "sync-mode": "FULL",
            "revert-reason-enabled": True,
            "permissions-nodes-config-file-enabled": True,
            "permissions-nodes-config-file": permissions,
            "permissions-accounts-config-file-enabled": True,
            "permissions-accounts-config-file": permissions,
        }
    )


def allowlists_for(plan: NetworkPlan, members: Members | None) -> dict[str, list[str]]:
    """The local allowlists every node holds: nodes of active organizations; the admin, the relayers and the
    accounts bound to active organizations. ``members`` None (a network not yet mirrored): every organization
    of the plan is active and no account is bound yet."""
    active = set(plan.orgs) if members is None else set(members.active_orgs)
    bound = set() if members is None else {checksum(a) for a in members.accounts}
    accounts = sorted({plan.admin, *plan.relayers, *bound}, key=str.lower)
    nodes = [node.enode for node in plan.nodes if node.org in active]
    return {"accounts-allowlist": accounts, "nodes-allowlist": nodes}


def write_allowlists(directory: Path, plan: NetworkPlan, members: Members | None) -> dict[str, list[str]]:
    """Write every node's ``permissions_config.toml`` (each through a temporary file and a rename)."""
    lists = allowlists_for(plan, members)
    text = _toml(lists)
    for node in plan.nodes:
        path = directory / "nodes" / node.name / "permissions_config.toml"
        if not path.parent.is_dir():
            raise ConfigurationError(f"{path.parent} is missing: is {directory} a network written by `network init`?")
        temporary = path.with_suffix(".toml.tmp")
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(path)
    return lists


def _compose(plan: NetworkPlan) -> dict[str, Any]:
    services = {}
    for index, node in enumerate(plan.nodes):
        services[node.name] = {
            "image": plan.besu_image,
            "container_name": f"procure-{node.name}",
            "command": [f"--config-file={NODE_HOME}/config.toml"],
            "volumes": [f"./nodes/{node.name}:{NODE_HOME}", f"./genesis.json:{GENESIS_PATH}:ro"],
            "ports": [f"127.0.0.1:{RPC_PORT + index}:{RPC_PORT}"],
            "networks": {"besu": {"ipv4_address": node.ip}},
            "restart": "unless-stopped",
        }
    return {
        "name": f"procure-{plan.chain_id}",
        "services": services,
        "networks": {"besu": {"driver": "bridge", "ipam": {"config": [{"subnet": f"{_SUBNET}.0/24"}]}}},
    }


def _unit(node: NetworkNode) -> str:
    return (
        "[Unit]\n"
        f"Description=Hyperledger Besu node {node.name} ({node.org}) of the procurement ledger network\n"
        "After=network-online.target\nWants=network-online.target\n\n"
        "[Service]\nUser=besu\nGroup=besu\n"
        f"WorkingDirectory={NODE_HOME}\n"
        f"ExecStart=/opt/besu/bin/besu --config-file={NODE_HOME}/config.toml\n"
        "Restart=on-failure\nRestartSec=5\nLimitNOFILE=65536\n\n"
        "[Install]\nWantedBy=multi-user.target\n"
    )


def write_network(
    directory: Path, plan: NetworkPlan, system: SystemAddresses, alloc: Mapping[str, Any], timestamp: int
) -> None:
    """Write the whole network into ``directory`` (which must not exist or be empty), all or nothing: the files
    are written into a sibling temporary directory, renamed into place at the end."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise ConfigurationError(f"{directory} exists and is not empty: choose a new --out directory")
    if set(plan.keys) != {node.name for node in plan.nodes}:
        raise ConfigurationError("the plan carries no node keys: plan a new network with plan_network")
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        (staging / "network.json").write_text(json.dumps(plan.to_json(), indent=2) + "\n", encoding="utf-8")
        (staging / "genesis.json").write_text(json.dumps(genesis(plan, alloc, timestamp), indent=2) + "\n")
        (staging / "deployment.json").write_text(json.dumps(system.to_json(), indent=2) + "\n", encoding="utf-8")
        (staging / "systemd").mkdir()
        for node in plan.nodes:
            home = staging / "nodes" / node.name
            home.mkdir(parents=True)
            key = home / "key"
            with os.fdopen(os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
                handle.write("0x" + plan.keys[node.name].hex())
            (home / "key.pub").write_text("0x" + node.public_key, encoding="utf-8")
            (home / "config.toml").write_text(node_config(plan, node), encoding="utf-8")
            (staging / "systemd" / f"besu-{node.name}.service").write_text(_unit(node), encoding="utf-8")
        write_allowlists(staging, plan, None)
        compose = yaml.safe_dump(_compose(plan), sort_keys=False, allow_unicode=True)
        (staging / "docker-compose.yml").write_text(compose, encoding="utf-8")
        if directory.exists():
            directory.rmdir()
        staging.rename(directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
