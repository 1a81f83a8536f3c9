"""Deploying the ledger's system contracts and binding to them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from web3 import Web3
from web3.contract import Contract

from chain._compiler import Build, compile_contracts
from chain._revert import ErrorDecoder
from chain._tx import Receipt, TxSender
from chain.errors import ChainError

__all__ = ["SystemAddresses", "contract_at", "deploy_system", "error_decoder"]


@dataclass(frozen=True)
class SystemAddresses:
    """Where the system contracts live, and the blocks that created them."""

    chain_id: int
    registry: str
    token: str
    factory: str
    implementation: str
    deployed_block: int
    admin: str

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "chainId": self.chain_id,
            "registry": self.registry,
            "token": self.token,
            "factory": self.factory,
            "implementation": self.implementation,
            "deployedBlock": self.deployed_block,
            "admin": self.admin,
        }


def error_decoder(build: Build | None = None) -> ErrorDecoder:
    """A decoder for every custom error of the compiled contracts."""
    return ErrorDecoder((build or compile_contracts()).error_abis())


def contract_at(w3: Web3, name: str, address: str, build: Build | None = None) -> Contract:
    """A web3 contract object for the compiled contract ``name`` at ``address``."""
    artifact = (build or compile_contracts())[name]
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=list(artifact.abi))


def _created(receipt: Receipt) -> str:
    address = receipt.raw["contractAddress"]
    if address is None:
        raise ChainError(f"transaction {receipt.tx_hash} created no contract")
    return str(address)


def deploy_system(sender: TxSender, build: Build | None = None) -> SystemAddresses:
    """Deploy registry, token and factory (which deploys the escrow implementation) and link them.

    ``sender`` becomes the registry admin.
    """
    build = build or compile_contracts()
    registry = sender.deploy(list(build["AccessRegistry"].abi), build["AccessRegistry"].bytecode, sender.address)
    registry_address = _created(registry)
    token = sender.deploy(list(build["YenToken"].abi), build["YenToken"].bytecode, registry_address)
    token_address = _created(token)
    factory = sender.deploy(
        list(build["ProcurementFactory"].abi),
        build["ProcurementFactory"].bytecode,
        registry_address,
        token_address,
    )
    factory_address = _created(factory)
    registry_contract = contract_at(sender.w3, "AccessRegistry", registry_address, build)
    sender.transact(registry_contract.functions.setFactory(factory_address))
    factory_contract = contract_at(sender.w3, "ProcurementFactory", factory_address, build)
    return SystemAddresses(
        chain_id=sender.w3.eth.chain_id,
        registry=registry_address,
        token=token_address,
        factory=factory_address,
        implementation=factory_contract.functions.implementation().call(),
        deployed_block=registry.block_number,
        admin=sender.address,
    )
