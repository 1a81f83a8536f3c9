"""The events a system's deployment emitted where no block of its chain carries them: a system placed in a genesis'
``alloc``.

`procure network init` deploys the system on a throwaway chain and puts the state it left in the genesis' alloc
(chain/besu_network.py), so the constructors' and the linking calls' events (the registry admin's role, the budget
ledger and factory it trusts, ...) were never emitted on the network itself. They are captured from the throwaway
chain (``capture_genesis_logs``) into the network's deployment manifest (``genesisEvents``); the indexer mirrors
them as block 0's events, in their order, under the transaction hash ``GENESIS_TX`` (no transaction made them on
this chain: a mirror marks them so). `procure audit verify` checks them against the chain's state at block 0
(indexer/genesis_check.py), so a forged list is caught.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chain.abi import checksum
from chain.errors import ConfigurationError
from chain.transport import Transport

if TYPE_CHECKING:
    from chain.system import SystemAddresses

__all__ = ["GENESIS_TX", "GenesisLog", "capture_genesis_logs", "genesis_raw_logs", "system_contracts"]

GENESIS_TX = "0x" + "00" * 32
"""The transaction hash a mirror gives the genesis events (no transaction has it: no keccak256 preimage is known)."""

_WORD = re.compile(r"^0x[0-9a-f]{64}$")
_DATA = re.compile(r"^0x(?:[0-9a-f]{2})*$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


@dataclass(frozen=True)
class GenesisLog:
    """One log of the deployment, as the node gave it: emitter, topics, data."""

    address: str
    topics: tuple[str, ...]
    data: str

    @classmethod
    def from_json(cls, value: object) -> GenesisLog:
        """A ``genesisEvents`` entry, checked: an address, 1 to 4 topics of 32 bytes, data in whole bytes."""
        if not isinstance(value, Mapping):
            raise ConfigurationError(f"a genesis event is an object with address, topics and data, not {value!r}")
        address, topics, data = value.get("address"), value.get("topics"), value.get("data")
        if not isinstance(address, str) or not _ADDRESS.match(address):
            raise ConfigurationError(f"a genesis event's address is 0x and 40 hex digits, not {address!r}")
        if (
            not isinstance(topics, list)
            or not 1 <= len(topics) <= 4
            or not all(isinstance(t, str) and _WORD.match(t.lower()) for t in topics)
        ):
            raise ConfigurationError(f"a genesis event has 1 to 4 topics of 32 bytes (0x, 64 hex digits): {topics!r}")
        if not isinstance(data, str) or not _DATA.match(data.lower()):
            raise ConfigurationError(f"a genesis event's data is 0x and whole bytes in hex, not {data!r}")
        return cls(checksum(address), tuple(t.lower() for t in topics), data.lower())

    def to_json(self) -> dict[str, Any]:
        """As the manifest lists it."""
        return {"address": self.address, "topics": list(self.topics), "data": self.data}


def system_contracts(system: SystemAddresses) -> tuple[str, ...]:
    """The contracts a deployment places in the alloc."""
    return (
        system.registry,
        system.token,
        system.budget,
        system.budget_office,
        system.factory,
        system.implementation,
    )


def capture_genesis_logs(rpc: Transport, system: SystemAddresses) -> tuple[GenesisLog, ...]:
    """Every log the system's contracts emitted on ``rpc``'s chain so far (its deployment), in chain order."""
    found: Sequence[Mapping[str, Any]] = rpc.result(
        "eth_getLogs", [{"fromBlock": "0x0", "toBlock": "latest", "address": list(system_contracts(system))}]
    )
    return tuple(GenesisLog.from_json(log) for log in found)


def genesis_raw_logs(logs: Sequence[GenesisLog], block_hash: str, block_time: int) -> list[dict[str, Any]]:
    """``logs`` as a node would return block 0's logs, had a transaction ``GENESIS_TX`` emitted them there."""
    return [
        {
            "address": log.address,
            "topics": list(log.topics),
            "data": log.data,
            "blockNumber": "0x0",
            "blockHash": block_hash,
            "blockTimestamp": hex(block_time),
            "transactionHash": GENESIS_TX,
            "transactionIndex": "0x0",
            "logIndex": hex(index),
            "removed": False,
        }
        for index, log in enumerate(logs)
    ]
