"""A ready-made world on a fresh eth-tester chain: the system deployed, organizations, accounts and roles.

Used by the test-suite and the gas benchmark, so that both measure the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.logs import DISCARD

from chain import (
    DEFAULT_GRACE_PERIOD,
    DEFAULT_RULING_PERIOD,
    DEV_CAST,
    DEV_ORGS,
    AppropriationAct,
    Authorization,
    Build,
    DevOrg,
    LineKey,
    OrgKind,
    Receipt,
    Role,
    SentTx,
    SystemAddresses,
    TxSender,
    compile_contracts,
    deploy_system,
    error_decoder,
    fiscal_year_containing,
    fiscal_year_start,
    org_id,
    sorted_panel,
)
from tests.tester import Tester, TesterTransport, deterministic_account, fund_accounts, new_tester

__all__ = ["DAY", "World", "WorldSender", "build_world", "contract_at", "next_fiscal_year"]

DAY = 86_400
ZERO32 = b"\x00" * 32
# Each ministry's budget in the world's fiscal year: one item appropriated by the finance authority, of which one
# sub-item line is distributed (the line its procurements obligate) and the rest kept undistributed.
ITEM_APPROPRIATION = 50_000_000_000  # 50 bn yen
LINE_ALLOTMENT = 40_000_000_000  # 40 bn yen
_BUDGET_CODES = {
    "MOD": ("MOD-HQ", "DEF-EQUIP", "EQUIP-PURCHASE"),
    "MOFA": ("MOFA-HQ", "ODA-GRANT", "EQUIP-GRANT"),
}
_MINISTRY_OF = {"mofa_officer": "MOFA", "mofa_admin": "MOFA", "mofa_treasury": "MOFA"}

# The dev cast of chain.devnet under the short names the tests use, and the people only tests need: a vault of
# its own for MOD, a second ministry (MOFA, its admin holding its vault, its finance officer), a colleague of the
# supplier, a competing supplier, a fourth evaluator, a second officer of the finance authority (the Ministry of
# Finance's budget bureau, whose first is in the dev cast), and an outsider bound to no organization.
_SHORT_NAMES = {
    "officer-2": "officer2",
    "mod-admin": "mod_admin",
    "evaluator-atla": "eval1",
    "evaluator-jqa": "eval2",
    "evaluator-nite": "eval3",
    "mofa-treasury": "mofa_treasury",
}
_PEOPLE: tuple[tuple[str, str, Role | None], ...] = (
    *((_SHORT_NAMES.get(member.label, member.label), member.org, member.role) for member in DEV_CAST),
    ("vault", "MOD", None),
    ("mofa_officer", "MOFA", Role.PROCUREMENT_OFFICER),
    ("mofa_admin", "MOFA", Role.MINISTRY_ADMIN),
    ("finance2", "MOF-BB", Role.FINANCE_AUTHORITY),
    ("supplier_colleague", "NVE", Role.SUPPLIER),
    ("other_supplier", "OTHERCO", Role.SUPPLIER),
    ("eval4", "NITE", Role.EVALUATOR),
    ("outsider", "", None),
)
_ORGS: tuple[DevOrg, ...] = (
    *DEV_ORGS,
    DevOrg("OTHERCO", OrgKind.SUPPLIER, "Other Optics Co., Ltd."),
)


def next_fiscal_year(timestamp: int) -> tuple[int, int]:
    """The fiscal year after the one containing ``timestamp``, and the time tests start it at: its second day.

    A fixed position in a fiscal year, so that what a test schedules within the next months (milestones due in
    30 to 180 days) falls in that one year whatever today's date is: tests move the chain's clock there first.
    """
    fiscal_year = fiscal_year_containing(timestamp) + 1
    return fiscal_year, fiscal_year_start(fiscal_year) + DAY


def contract_at(w3: Web3, name: str, address: str, build: Build | None = None) -> Contract:
    """A web3 contract object for the compiled contract ``name`` at ``address`` (the tests' way of writing calls,
    encoded and decoded by web3 independently of chain's codec)."""
    artifact = (build or compile_contracts())[name]
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=list(artifact.abi))


def _data(fn: ContractFunction) -> bytes:
    return bytes.fromhex(fn._encode_transaction_data()[2:])


class WorldSender(TxSender):
    """A TxSender that also takes web3 contract calls, as the tests and the gas benchmark write them."""

    def transact(self, fn: ContractFunction, *, value: int = 0, gas: int | None = None) -> Receipt:
        """Send ``fn`` and wait for its receipt."""
        return self.send_data(str(fn.address), _data(fn), value=value, gas=gas)

    def call(self, fn: ContractFunction) -> bytes:
        """Run ``fn`` as a read-only call from this key (a revert raises the project exception); its raw result."""
        return self.call_data(str(fn.address), _data(fn))

    def submit_call(self, fn: ContractFunction, *, min_gas: int = 0) -> SentTx:
        """Simulate ``fn`` and send it without waiting."""
        return self.submit_data(str(fn.address), _data(fn), min_gas=min_gas)


@dataclass
class World:
    """Everything a test needs: the chain (``tester``; ``rpc`` is its transport, ``w3`` a Web3 over it for the
    tests' contract objects), the contracts, and a sender per person."""

    w3: Web3
    rpc: TesterTransport
    tester: Tester
    build: Build
    system: SystemAddresses
    registry: Contract
    token: Contract
    factory: Contract
    budget: Contract
    budget_office: Contract
    accounts: dict[str, LocalAccount]
    senders: dict[str, WorldSender] = field(default_factory=dict)
    fiscal_year: int = 0
    lines: dict[str, LineKey] = field(default_factory=dict)

    def __getattr__(self, name: str) -> LocalAccount:
        accounts: dict[str, LocalAccount] = self.__dict__.get("accounts", {})
        if name in accounts:
            return accounts[name]
        raise AttributeError(name)

    def sender(self, label: str) -> WorldSender:
        """The transaction sender of the named person."""
        if label not in self.senders:
            self.senders[label] = WorldSender(self.rpc, self.accounts[label], error_decoder(self.build))
        return self.senders[label]

    def escrow(self, address: str) -> Contract:
        """The escrow contract at ``address``."""
        return contract_at(self.w3, "MilestoneEscrow", address, self.build)

    def now(self) -> int:
        """The latest block's timestamp."""
        return self.rpc.latest_timestamp()

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
                fund_accounts(self.tester, [account])
                if registry.organization(org_id(code)).call()[0] == 0:
                    admin.transact(registry.registerOrganization(org_id(code), int(OrgKind.EVALUATION_BODY), code))
                admin.transact(registry.bindAccount(account.address, org_id(code)))
                admin.transact(registry.grantRole(Role.EVALUATOR.id, account.address))
            labels.append(label)
        return labels

    def line_of(self, label: str) -> LineKey:
        """The budget line the named officer's ministry obligates in the world's fiscal year."""
        return self.lines[_MINISTRY_OF.get(label, "MOD")]

    def create_procurement(
        self,
        params: tuple[Any, ...],
        fund: int,
        label: str = "officer",
        *,
        line: LineKey | None = None,
        authority: bytes = ZERO32,
    ) -> tuple[str, Receipt]:
        """Create (and fund) a procurement, obligating its ministry's line (or ``line``); returns the escrow address
        and the receipt."""
        key = (line or self.line_of(label)).as_tuple()
        receipt = self.sender(label).transact(self.factory.functions.createProcurement(params, fund, key, authority))
        (event,) = self.factory.events.ProcurementCreated().process_receipt(receipt.raw, errors=DISCARD)
        return event["args"]["escrow"], receipt

    def enact_line(self, ministry: str, line: LineKey, appropriation: int, allotment: int, treasury: str) -> None:
        """The finance authority enacts ``line``'s item (initial budget, every authorization) and the ministry's
        finance officer ``treasury`` distributes ``allotment`` of it to the line."""
        finance = self.sender("finance")
        budget = self.budget.functions
        all_authorizations = int(Authorization.TRANSFER_BETWEEN_ITEMS | Authorization.CARRY_OVER)
        instrument = keccak(text=f"FY{line.fiscal_year} general account budget: {ministry}")
        finance.transact(
            budget.enactAppropriation(
                line.item_key.as_tuple(), int(AppropriationAct.INITIAL), appropriation, all_authorizations, instrument
            )
        )
        self.sender(treasury).transact(budget.distribute(line.as_tuple(), allotment))


def build_world() -> World:
    """Deploy the system on a fresh eth-tester chain and register the standard cast."""
    w3, rpc = new_tester()
    build = compile_contracts()
    accounts = {"admin": deterministic_account("admin")}
    accounts.update({label: deterministic_account(label) for label, _, _ in _PEOPLE})
    fund_accounts(rpc.tester, list(accounts.values()))
    admin = WorldSender(rpc, accounts["admin"], error_decoder(build))
    system = deploy_system(admin, build)
    # The world starts on the first day of a fiscal year, so that the procurements the tests create (milestones
    # due within 180 days by default) fall in one fiscal year and obligate one line.
    fiscal_year, start = next_fiscal_year(rpc.latest_timestamp())
    rpc.tester.time_travel(start)
    world = World(
        w3=w3,
        rpc=rpc,
        tester=rpc.tester,
        build=build,
        system=system,
        registry=contract_at(w3, "AccessRegistry", system.registry, build),
        token=contract_at(w3, "YenToken", system.token, build),
        factory=contract_at(w3, "ProcurementFactory", system.factory, build),
        budget=contract_at(w3, "BudgetLedger", system.budget, build),
        budget_office=contract_at(w3, "BudgetOffice", system.budget_office, build),
        accounts=accounts,
        senders={"admin": admin},
        fiscal_year=fiscal_year,
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
    for ministry, treasury in (("MOD", "treasury"), ("MOFA", "mofa_treasury")):
        line = LineKey.of(fiscal_year, ministry, *_BUDGET_CODES[ministry])
        world.lines[ministry] = line
        world.enact_line(ministry, line, ITEM_APPROPRIATION, LINE_ALLOTMENT, treasury)
    return world
