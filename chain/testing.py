"""A ready-made world on a fresh eth-tester chain: the system deployed, organizations, accounts and roles.

Used by the test-suite and the gas benchmark, so that both measure the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_tester import EthereumTester
from eth_utils.crypto import keccak
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD

from chain._compiler import Build, compile_contracts
from chain._tx import Receipt, TxSender
from chain.clients import DEFAULT_GRACE_PERIOD, DEFAULT_RULING_PERIOD, sorted_panel
from chain.roles import OrgKind, Role, org_id
from chain.system import SystemAddresses, contract_at, deploy_system, error_decoder
from chain.tester import deterministic_account, fund_accounts, new_tester

__all__ = ["DAY", "World", "build_world"]

DAY = 86_400
APPROPRIATION = keccak(text="FY2026/MOD/general-account/equipment-acquisition")
INITIAL_YEN = 10_000_000_000  # 10 bn yen minted to the funding officer

# (label, organization code, role or None)
_PEOPLE: list[tuple[str, str, Role | None]] = [
    ("mod_admin", "MOD", Role.MINISTRY_ADMIN),
    ("officer", "MOD", Role.PROCUREMENT_OFFICER),
    ("officer2", "MOD", Role.PROCUREMENT_OFFICER),
    ("treasury", "MOD", Role.TREASURY),
    ("vault", "MOD", None),
    ("mofa_officer", "MOFA", Role.PROCUREMENT_OFFICER),
    ("mofa_admin", "MOFA", Role.MINISTRY_ADMIN),
    ("supplier", "NVE", Role.SUPPLIER),
    ("supplier_colleague", "NVE", Role.SUPPLIER),
    ("other_supplier", "OTHERCO", Role.SUPPLIER),
    ("eval1", "ATLA", Role.EVALUATOR),
    ("eval2", "JQA", Role.EVALUATOR),
    ("eval3", "NITE", Role.EVALUATOR),
    ("eval4", "NITE", Role.EVALUATOR),
    ("reviewer", "REVIEW", Role.REVIEW_BODY),
    ("auditor", "BOA", Role.AUDITOR),
    ("outsider", "", None),
]

_ORGS: list[tuple[str, OrgKind, str]] = [
    ("MOD", OrgKind.MINISTRY, "Ministry of Defense"),
    ("MOFA", OrgKind.MINISTRY, "Ministry of Foreign Affairs"),
    ("NVE", OrgKind.SUPPLIER, "Nippon Vision Electronics K.K."),
    ("OTHERCO", OrgKind.SUPPLIER, "Other Optics Co., Ltd."),
    ("ATLA", OrgKind.EVALUATION_BODY, "Acquisition, Technology & Logistics Agency test center"),
    ("JQA", OrgKind.EVALUATION_BODY, "Japan Quality Assurance Organization"),
    ("NITE", OrgKind.EVALUATION_BODY, "National Institute of Technology and Evaluation"),
    ("REVIEW", OrgKind.REVIEW_BODY, "Government Procurement Review Board"),
    ("BOA", OrgKind.AUDIT_BODY, "Board of Audit of Japan"),
]


@dataclass
class World:
    """Everything a test needs: the chain, the contracts, and a sender per person."""

    w3: Web3
    tester: EthereumTester
    build: Build
    system: SystemAddresses
    registry: Contract
    token: Contract
    factory: Contract
    accounts: dict[str, LocalAccount]
    senders: dict[str, TxSender] = field(default_factory=dict)

    def __getattr__(self, name: str) -> LocalAccount:
        accounts: dict[str, LocalAccount] = self.__dict__.get("accounts", {})
        if name in accounts:
            return accounts[name]
        raise AttributeError(name)

    def sender(self, label: str) -> TxSender:
        """The transaction sender of the named person."""
        if label not in self.senders:
            self.senders[label] = TxSender(self.w3, self.accounts[label], error_decoder(self.build))
        return self.senders[label]

    def escrow(self, address: str) -> Contract:
        """The escrow contract at ``address``."""
        return contract_at(self.w3, "MilestoneEscrow", address, self.build)

    def now(self) -> int:
        """The latest block's timestamp."""
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def procurement_params(
        self,
        *,
        procurement_id: bytes | None = None,
        supplier: str | None = None,
        evaluators: list[str] | None = None,
        quorum: int = 2,
        amounts: list[int] | None = None,
        due_in_days: list[int] | None = None,
        title: str = "Night-vision goggles, lot 1",
        ruling_period: int = DEFAULT_RULING_PERIOD,
        grace_period: int = DEFAULT_GRACE_PERIOD,
    ) -> tuple[Any, ...]:
        """A ProcurementParams tuple with sensible defaults: 3 milestones, a 2-of-3 panel (sorted by address, as
        the factory requires), the default periods."""
        amounts = amounts if amounts is not None else [30_000_000, 50_000_000, 120_000_000]
        due_in_days = due_in_days if due_in_days is not None else [30, 90, 180]
        now = self.now()
        return (
            procurement_id or keccak(text=f"ocds-xxxxxx-MOD-{now}-{len(self.senders)}-{title}"),
            supplier or self.accounts["supplier"].address,
            sorted_panel(evaluators or [self.accounts[e].address for e in ("eval1", "eval2", "eval3")]),
            quorum,
            amounts,
            [now + d * DAY for d in due_in_days],
            keccak(text="spec:" + title),
            title,
            ruling_period,
            grace_period,
        )

    def evaluator_panel(self, size: int) -> list[str]:
        """Labels of ``size`` distinct evaluators: eval1..eval4 of the cast, then eval5, eval6 ... each bound to an
        evaluation body of its own (EVAL5, EVAL6 ...), registered on this chain the first time they are needed."""
        labels = ["eval1", "eval2", "eval3", "eval4"][:size]
        admin = self.sender("admin")
        registry = self.registry.functions
        for n in range(5, size + 1):
            label, code = f"eval{n}", f"EVAL{n}"
            account = self.accounts.setdefault(label, deterministic_account(label))
            if not any(registry.organizationOf(account.address).call()):
                fund_accounts(self.w3, self.tester, [account])
                if registry.organization(org_id(code)).call()[0] == 0:
                    admin.transact(registry.registerOrganization(org_id(code), int(OrgKind.EVALUATION_BODY), code))
                admin.transact(registry.bindAccount(account.address, org_id(code)))
                admin.transact(registry.grantRole(Role.EVALUATOR.id, account.address))
            labels.append(label)
        return labels

    def approve_factory(self, label: str = "officer") -> None:
        """Let the factory pull the officer's yen (a standing approval, as for any ERC-20 dapp)."""
        self.sender(label).transact(self.token.functions.approve(self.factory.address, 2**256 - 1))

    def create_procurement(self, params: tuple[Any, ...], fund: int, label: str = "officer") -> tuple[str, Receipt]:
        """Create (and fund) a procurement; returns the escrow address and the receipt."""
        receipt = self.sender(label).transact(self.factory.functions.createProcurement(params, fund))
        (event,) = self.factory.events.ProcurementCreated().process_receipt(receipt.raw, errors=DISCARD)
        return event["args"]["escrow"], receipt


def build_world(w3: Web3 | None = None, tester: EthereumTester | None = None) -> World:
    """Deploy the system on a fresh eth-tester chain and register the standard cast."""
    if w3 is None or tester is None:
        w3, tester = new_tester()
    build = compile_contracts()
    accounts = {"admin": deterministic_account("admin")}
    accounts.update({label: deterministic_account(label) for label, _, _ in _PEOPLE})
    fund_accounts(w3, tester, list(accounts.values()))
    admin = TxSender(w3, accounts["admin"], error_decoder(build))
    system = deploy_system(admin, build)
    world = World(
        w3=w3,
        tester=tester,
        build=build,
        system=system,
        registry=contract_at(w3, "AccessRegistry", system.registry, build),
        token=contract_at(w3, "YenToken", system.token, build),
        factory=contract_at(w3, "ProcurementFactory", system.factory, build),
        accounts=accounts,
        senders={"admin": admin},
    )
    registry = world.registry.functions
    for code, kind, name in _ORGS:
        admin.transact(registry.registerOrganization(org_id(code), int(kind), name))
    for label, code, role in _PEOPLE:
        if code:
            admin.transact(registry.bindAccount(accounts[label].address, org_id(code)))
        if role is not None:
            admin.transact(registry.grantRole(role.id, accounts[label].address))
    admin.transact(registry.updateOrganization(org_id("MOD"), True, accounts["vault"].address))
    admin.transact(registry.updateOrganization(org_id("MOFA"), True, accounts["mofa_admin"].address))
    world.sender("treasury").transact(
        world.token.functions.mint(accounts["officer"].address, INITIAL_YEN, APPROPRIATION)
    )
    return world
