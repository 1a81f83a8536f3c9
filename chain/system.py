"""Deploying the ledger's system contracts and binding to them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chain._compiler import Build, compile_contracts
from chain._tx import Receipt, TxSender
from chain.abi import ErrorDecoder, checksum
from chain.errors import ChainError
from chain.finality import DEFAULT_FINALITY, Finality
from chain.roles import org_id

if TYPE_CHECKING:
    from chain.genesis_events import GenesisLog

__all__ = ["DEFENSE_MINISTRY", "SystemAddresses", "deploy_system", "error_decoder"]

DEFENSE_MINISTRY = org_id("MOD")
"""The Ministry of Defense's organization id: its multi-year obligation authorities may run 10 years."""


@dataclass(frozen=True)
class SystemAddresses:
    """Where the system contracts live, and the blocks that created them; the chain's finality; and, for a system
    placed in a genesis' alloc, the events its deployment emitted there (which no block of the chain carries)."""

    chain_id: int
    registry: str
    token: str
    factory: str
    implementation: str
    deployed_block: int
    admin: str
    budget: str
    budget_office: str
    finality: Finality = DEFAULT_FINALITY
    genesis_logs: tuple[GenesisLog, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        genesis = {"genesisEvents": [log.to_json() for log in self.genesis_logs]} if self.genesis_logs else {}
        return {
            "chainId": self.chain_id,
            "registry": self.registry,
            "token": self.token,
            "factory": self.factory,
            "implementation": self.implementation,
            "deployedBlock": self.deployed_block,
            "admin": self.admin,
            "budget": self.budget,
            "budgetOffice": self.budget_office,
            "finality": self.finality.to_json(),
            **genesis,
        }


def error_decoder(build: Build | None = None) -> ErrorDecoder:
    """A decoder for every custom error of the compiled contracts."""
    return (build or compile_contracts()).error_decoder()


def _created(receipt: Receipt) -> str:
    address = receipt.contract_address
    if address is None:
        raise ChainError(f"transaction {receipt.tx_hash} created no contract")
    return address


def deploy_system(
    sender: TxSender, build: Build | None = None, defense_ministry: bytes = DEFENSE_MINISTRY
) -> SystemAddresses:
    """Deploy registry, token, budget ledger (which deploys its office) and factory (which deploys the escrow
    implementation) and link them.

    ``sender`` becomes the registry admin. ``defense_ministry`` is the ministry whose multi-year obligation
    authorities may run 10 years instead of 5.
    """
    build = build or compile_contracts()
    registry = sender.deploy(list(build["AccessRegistry"].abi), build["AccessRegistry"].bytecode, sender.address)
    registry_address = _created(registry)
    token = sender.deploy(list(build["YenToken"].abi), build["YenToken"].bytecode, registry_address)
    token_address = _created(token)
    budget = sender.deploy(
        list(build["BudgetLedger"].abi),
        build["BudgetLedger"].bytecode,
        registry_address,
        token_address,
        defense_ministry,
    )
    budget_address = _created(budget)
    sender.send_data(registry_address, build.codec("AccessRegistry").function("setBudget").encode([budget_address]))
    office = build.codec("BudgetLedger").function("office")
    (budget_office,) = office.decode(sender.call_data(budget_address, office.encode([])))
    factory = sender.deploy(
        list(build["ProcurementFactory"].abi),
        build["ProcurementFactory"].bytecode,
        registry_address,
        token_address,
        budget_address,
    )
    factory_address = _created(factory)
    sender.send_data(registry_address, build.codec("AccessRegistry").function("setFactory").encode([factory_address]))
    implementation = build.codec("ProcurementFactory").function("implementation")
    (escrow_implementation,) = implementation.decode(sender.call_data(factory_address, implementation.encode([])))
    return SystemAddresses(
        chain_id=sender.rpc.chain_id,
        registry=registry_address,
        token=token_address,
        factory=factory_address,
        implementation=checksum(escrow_implementation),
        deployed_block=registry.block_number,
        admin=sender.address,
        budget=budget_address,
        budget_office=checksum(budget_office),
    )
