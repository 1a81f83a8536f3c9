"""An in-process eth-tester chain (py-evm) for tests and benchmarks."""

from __future__ import annotations

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_tester import EthereumTester, PyEVMBackend
from web3 import EthereumTesterProvider, Web3

__all__ = ["TESTER_CHAIN_ID", "deterministic_account", "fund_accounts", "new_tester"]

TESTER_CHAIN_ID = 131277322940537  # eth-tester's default chain id
_FUNDING_WEI = 10**21


def new_tester() -> tuple[Web3, EthereumTester]:
    """A fresh eth-tester chain with automine, and a Web3 bound to it."""
    tester = EthereumTester(PyEVMBackend())
    w3 = Web3(EthereumTesterProvider(tester))
    return w3, tester


def fund_accounts(w3: Web3, tester: EthereumTester, accounts: list[LocalAccount]) -> None:
    """Give each account ether for gas, from eth-tester's prefunded first account."""
    source = tester.get_accounts()[0]
    for account in accounts:
        tester.send_transaction(
            {
                "from": source,
                "to": account.address,
                "value": _FUNDING_WEI,
                "gas": 21000,
                "max_fee_per_gas": 10**10,
                "max_priority_fee_per_gas": 1,
            }
        )


def deterministic_account(label: str) -> LocalAccount:
    """A key derived from ``label``: stable across runs, for tests and demos only."""
    from eth_utils.crypto import keccak

    account: LocalAccount = Account.from_key(keccak(text=f"procurement-ledger test key: {label}"))
    return account
