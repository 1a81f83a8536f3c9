"""The exporter's own compile of records (``indexer.ocds.compiled``) against ocdsmerge, the reference: the same
compiled release, byte for byte, on every release shape the exporter writes.

Procurements are generated (hypothesis) into a mirror written in SQL, as the indexer writes its rows, through
every lifecycle path the mapping reads (fundings, evidence, attestations passed and failed with and without a
report, payments released and deferred, refunds, reclaims, amendments proposed and approved, disputes, rulings with
and without a bound review body, lapses, redirect rulings and redirects to a successor or to the ministry), with and
without budget lines, with a spec whose classified fields a public export withholds; then exported both ways.
The recorded scenario's exports are compared in tests/indexer/test_ocds.py. Release trees beyond what the ledger
writes (nulls, whole lists, objects without ``id``, releases out of date order) are compared here too, and what the
compile refuses is refused with a ValueError naming the path.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ocdsmerge import Merger
from ocdsmerge.exceptions import DuplicateIdValueWarning
from sqlalchemy import Connection, Engine, insert

from chain.roles import org_id
from chain.spec import CLASSIFIABLE_FIELDS
from indexer.models import TABLES
from indexer.ocds.compiled import compile_release
from indexer.ocds.packages import Export
from indexer.ocds.releases import Publication
from indexer.ocds.schema import release_schema
from indexer.ocds.specs import PublishedSpec, SpecRegister
from indexer.schema import make_engine, upgrade

GENESIS = 1_780_000_000
STATUSES = ("Pending", "Submitted", "Rejected", "Disputed", "Approved", "Paid", "Settled", "Refunded", "Cancelled")
ZERO_HASH = "0x" + "00" * 32
ZERO_ADDRESS = "0x" + "00" * 20
_chains = itertools.count(1000)
_txs = itertools.count(1)


def text(value: Any) -> str:
    """JSON as the exporter writes it: key order counts."""
    return json.dumps(value, ensure_ascii=False)


@pytest.fixture(scope="module")
def reference() -> Merger:
    return Merger(schema=release_schema())


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """One migrated SQLite mirror; each generated procurement is a chain of its own in it."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('compiled') / 'mirror.db'}")
    upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def _address(label: str) -> str:
    return "0x" + hashlib.sha256(label.encode()).hexdigest()[:40]


def _org(code: str) -> str:
    return "0x" + org_id(code).hex()


# ---------------------------------------------------------------- generated procurements

STEP_KINDS = (
    "funding",
    "evidence",
    "attestation",
    "payment",
    "refund",
    "reclaim",
    "amendment",
    "dispute",
    "ruling",
    "lapse",
    "redirect-ruling",
    "redirect",
)


@st.composite
def procurements(draw: st.DrawFn) -> dict[str, Any]:
    """A procurement's terms and its events (kind, milestone, the milestone's status after, same block or not)."""
    milestones = draw(st.integers(1, 3))
    step = st.tuples(
        st.sampled_from(STEP_KINDS),
        st.integers(0, milestones - 1),
        st.sampled_from(STATUSES),
        st.booleans(),  # in the same block as the step before (the same date: the order must hold)
        st.booleans(),  # a variant: passed, released, to a successor, a bound review body, an amount change...
        st.integers(1, 10**9),  # an amount
    )
    return {
        "amounts": draw(st.lists(st.integers(1, 10**10), min_size=milestones, max_size=milestones)),
        "obligations": draw(st.integers(0, 2)),
        "steps": draw(st.lists(step, max_size=14)),
        "spec": draw(st.booleans()),
        "classified": draw(st.lists(st.sampled_from(CLASSIFIABLE_FIELDS), unique=True, max_size=4)),
    }


class _Writer:
    """Rows of one generated procurement, as the indexer writes them, on a chain of its own."""

    def __init__(self, conn: Connection, chain_id: int) -> None:
        self.conn, self.chain_id, self.log = conn, chain_id, 0

    def key(self, block: int) -> dict[str, Any]:
        self.log += 1
        return {"chain_id": self.chain_id, "block_number": block, "log_index": self.log, "tx_hash": _tx()}

    def insert(self, table: str, **values: Any) -> None:
        self.conn.execute(insert(TABLES[table]).values(chain_id=self.chain_id, **values))

    def event(self, table: str, block: int, **values: Any) -> dict[str, Any]:
        key = self.key(block)
        self.conn.execute(insert(TABLES[table]).values(**key, **values))
        return key


def _tx() -> str:
    return "0x" + f"{next(_txs):064x}"


def write_procurement(conn: Connection, generated: Mapping[str, Any]) -> tuple[int, SpecRegister]:
    """The generated procurement's rows on a fresh chain; its chain id and a spec register (empty without a spec)."""
    w = _Writer(conn, next(_chains))
    for code in ("MOD", "NVE", "ATLA", "KOHO"):
        w.insert(
            "organizations",
            org_id=_org(code),
            code=code,
            kind="ministry",
            name=f"{code} (registered name)",
            active=True,
            vault=_address("vault"),
            block_number=0,
            tx_hash=_tx(),
        )
    evaluators = [_address("eval1"), _address("eval2"), _address("eval3")]
    w.insert("accounts", account=evaluators[0], org_id=_org("ATLA"), block_number=0)
    w.insert("accounts", account=_address("reviewer"), org_id=_org("KOHO"), block_number=0)
    w.event(
        "budget_series",
        0,
        series=1,
        ministry=_org("MOD"),
        organization=_org("MOD-HQ"),
        item=_org("I"),
        sub_item=_org("S"),
    )
    escrow, amounts = _address(f"escrow {w.chain_id}"), generated["amounts"]
    block = 1
    created = w.key(block)
    spec_hash = "0x" + hashlib.sha256(f"spec {w.chain_id}".encode()).hexdigest()
    procurement_id = "0x" + hashlib.sha256(f"id {w.chain_id}".encode()).hexdigest()
    w.insert(
        "procurements",
        escrow=escrow,
        procurement_id=procurement_id,
        ministry_org=_org("MOD"),
        supplier_org=_org("NVE"),
        supplier=_address("supplier"),
        officer=_address("officer"),
        panel=json.dumps(evaluators),
        quorum=2,
        title=f"Procurement {w.chain_id}",
        spec_hash=spec_hash,
        funded=sum(amounts),
        milestone_count=len(amounts),
        ruling_period=86_400,
        grace_period=86_400,
        block_number=block,
        tx_hash=created["tx_hash"],
        log_index=created["log_index"],
        total_funded=sum(amounts),
        total_released=0,
        total_refunded=0,
        total_owed=0,
        paused_until=0,
    )
    due = GENESIS + 400 * 86_400

    def history(key: Mapping[str, Any], milestone: int, status: str, owed: int = 0) -> None:
        w.insert(
            "milestone_history",
            **{name: key[name] for name in ("block_number", "log_index", "tx_hash")},
            escrow=escrow,
            milestone_id=milestone,
            event="Step",
            amount=amounts[milestone],
            due_date=due,
            status=status,
            round=1,
            passes=0,
            fails=0,
            owed=owed,
            dispute_lapses_at=0,
        )

    for milestone in range(len(amounts)):
        history(created, milestone, "Pending")
    w.event(
        "fundings",
        block,
        escrow=escrow,
        funder=_address("officer"),
        amount=sum(amounts),
        total_funded=sum(amounts),
        initial=True,
    )
    for n in range(generated["obligations"]):
        w.event(
            "budget_obligations",
            block,
            escrow=escrow,
            series=1,
            fiscal_year=2026 + n,
            buyer=_org("MOD"),
            line_ministry=_org("MOD" if n == 0 else "NVE"),
            officer=_address("officer"),
            amount=sum(amounts) - n,
            line_obligated=sum(amounts),
            escrow_obligated=sum(amounts) - n,
        )
    amendment = 0
    for kind, m, status, same_block, variant, amount in generated["steps"]:
        block += 0 if same_block else 1
        digest = "0x" + hashlib.sha256(f"{block} {kind} {amount}".encode()).hexdigest()
        reviewer = _address("reviewer" if variant else "unbound reviewer")
        rows: dict[str, tuple[str, dict[str, Any]]] = {
            "funding": (
                "fundings",
                {"funder": _address("officer"), "amount": amount, "total_funded": amount * 2, "initial": False},
            ),
            "evidence": (
                "evidence",
                {
                    "milestone_id": m,
                    "round": 1,
                    "supplier": _address("supplier"),
                    "document_hash": digest,
                    "uri": "ipfs://x",
                    "relayed": variant,
                    "relayer": None,
                },
            ),
            "attestation": (
                "attestations",
                {
                    "milestone_id": m,
                    "round": 1,
                    "evaluator": evaluators[amount % 3],
                    "passed": variant,
                    "report_hash": digest if amount % 2 else ZERO_HASH,
                    "relayed": False,
                    "relayer": None,
                },
            ),
            "payment": (
                "payments",
                {
                    "milestone_id": m,
                    "supplier": _address("supplier"),
                    "amount": amount,
                    "kind": "released" if variant else "deferred",
                },
            ),
            "refund": ("refunds", {"milestone_id": m, "vault": _address("vault"), "amount": amount}),
            "reclaim": ("reclaims", {"milestone_id": m, "officer": _address("officer"), "previous_status": "Approved"}),
            "dispute": (
                "disputes",
                {
                    "milestone_id": m,
                    "opener": _address("supplier"),
                    "previous_status": "Rejected",
                    "reason_hash": digest,
                    "lapses_at": GENESIS,
                },
            ),
            "ruling": (
                "dispute_settlements",
                {
                    "milestone_id": m,
                    "reviewer": reviewer,
                    "supplier_amount": amount,
                    "ministry_amount": amount // 3,
                    "ruling_hash": digest,
                },
            ),
            "lapse": (
                "dispute_lapses",
                {"milestone_id": m, "restored_status": "Rejected", "new_due_date": due + amount},
            ),
            "redirect-ruling": (
                "redirect_rulings",
                {
                    "milestone_id": m,
                    "reviewer": reviewer,
                    "recipient": _address("successor") if variant else ZERO_ADDRESS,
                    "amount": amount,
                    "executable_at": GENESIS,
                    "ruling_hash": digest,
                },
            ),
            "redirect": (
                "owed_redirects",
                {
                    "milestone_id": m,
                    "recipient": _address("successor") if variant else ZERO_ADDRESS,
                    "amount": amount,
                    "ruling_hash": digest,
                },
            ),
        }
        if kind == "amendment":
            change = "amount" if variant else "due"
            if amount % 5:  # now and then an approval whose proposal is not mirrored
                w.event(
                    "amendments",
                    block,
                    escrow=escrow,
                    amendment_id=amendment,
                    milestone_id=m,
                    proposer=_address("officer"),
                    kind=change,
                    new_amount=amount,
                    new_due_date=due + 7,
                    rationale_hash=digest,
                )
            key = w.event(
                "amendment_approvals",
                block,
                escrow=escrow,
                amendment_id=amendment,
                milestone_id=m,
                approver=_address("approver"),
                kind=change,
                old_amount=amounts[m],
                new_amount=amount if variant else amounts[m],
                old_due_date=due,
                new_due_date=due if variant else due + 7,
            )
            amendment += 1
        else:
            table, values = rows[kind]
            key = w.event(table, block, escrow=escrow, **values)
        if kind != "funding":
            history(key, m, status, owed=amount if status == "Approved" else 0)
    specs = SpecRegister()
    if generated["spec"]:
        spec = PublishedSpec(
            ocid=f"ocds-b5fd17-MOD-{w.chain_id}",
            sha256=spec_hash,
            milestone_titles=tuple(f"Milestone titled {m}" for m in range(len(amounts) - 1)),  # one without: fallback
            classified=tuple(generated["classified"]),
            source="generated.yaml",
        )
        specs = SpecRegister({(_org("MOD"), procurement_id): (spec,)})
    return w.chain_id, specs


def _steady(blocks: Sequence[int]) -> Mapping[int, int]:
    return {block: GENESIS + 12 * block for block in blocks}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(generated=procurements(), public=st.booleans())
def test_the_compiled_release_is_ocdsmerges_on_generated_procurements(
    engine: Engine, reference: Merger, generated: dict[str, Any], public: bool
) -> None:
    with engine.begin() as conn:
        chain_id, specs = write_procurement(conn, generated)
    publication = Publication(specs=specs)
    with engine.connect() as conn:
        (procurement,) = Export(conn, chain_id, publication, _steady, public=public).procurements()
        assert text(compile_release(procurement.releases)) == text(
            reference.create_compiled_release(procurement.releases)
        )
        fast = list(Export(conn, chain_id, publication, _steady, public=public).encoded_records())
        slow = list(Export(conn, chain_id, publication, _steady, public=public, reference_merge=True).encoded_records())
    assert fast == slow
    assert len(procurement.releases) == 1 + len(generated["steps"]), "every step gave one release"


# ---------------------------------------------------------------- release trees beyond the ledger's

DATES = tuple(f"2026-04-0{day}T09:00:00+09:00" for day in range(1, 4))
SCALARS = st.one_of(st.none(), st.integers(-2, 2), st.sampled_from(["x", "y", "日本"]), st.booleans())


def _objects(depth: int, with_id: bool) -> st.SearchStrategy[dict[str, Any]]:
    """Objects whose fields have one type each by name (a scalar or null, a list of strings, an object, an array
    of objects with or without ids), as a schema would have them."""
    optional: dict[str, st.SearchStrategy[Any]] = {
        "a": SCALARS,
        "b": SCALARS,
        "words": st.lists(st.sampled_from(["p", "q", "r"]), max_size=2),
    }
    if depth:
        optional["o"] = _objects(depth - 1, False)
        optional["items"] = st.lists(_objects(depth - 1, True), max_size=3)
    if with_id:
        optional["id"] = st.sampled_from(["1", "2", "3"])
    return st.fixed_dictionaries({}, optional=optional)


PARTY = st.fixed_dictionaries(
    {"id": st.sampled_from(["MOD", "NVE"])},
    optional={"name": SCALARS, "roles": st.lists(st.sampled_from(["buyer", "payer", "supplier"]), max_size=2)},
)
RELEASE = st.fixed_dictionaries(
    {"ocid": st.just("ocds-b5fd17-x"), "id": st.sampled_from(["r1", "r2", "r3"]), "date": st.sampled_from(DATES)},
    optional={
        "tag": st.just(["implementation"]),
        "initiationType": SCALARS,
        "parties": st.lists(PARTY, max_size=3),
        "tender": _objects(2, False),
        "contracts": st.lists(_objects(2, True), max_size=2),
    },
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(releases=st.lists(RELEASE, min_size=1, max_size=5))
def test_the_compiled_release_is_ocdsmerges_on_release_trees_beyond_the_ledgers(
    reference: Merger, releases: list[dict[str, Any]]
) -> None:
    before = text(releases)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DuplicateIdValueWarning)  # two objects of one id in an array: both merge
        expected = text(reference.create_compiled_release(releases))
    assert text(compile_release(releases)) == expected
    assert text(releases) == before, "the releases are left as they were"


@pytest.mark.parametrize(
    ("releases", "path"),
    [
        ([{"ocid": "o", "date": "d", "parties": [{"id": 1}]}], "/parties"),
        ([{"ocid": "o", "date": "1", "tender": {"a": 1}}, {"ocid": "o", "date": "2", "tender": 2}], "/tender"),
        ([{"ocid": "o", "date": "1", "tender": 2}, {"ocid": "o", "date": "2", "tender": {"a": 1}}], "/tender"),
        (
            [{"ocid": "o", "date": "1", "awards": [{"id": "1"}]}, {"ocid": "o", "date": "2", "awards": "none"}],
            "/awards",
        ),
    ],
    ids=["integer-id", "object-then-value", "value-then-object", "array-then-value"],
)
def test_what_the_ledger_never_writes_is_refused_naming_the_path(releases: list[dict[str, Any]], path: str) -> None:
    with pytest.raises(ValueError, match=f"^{path}"):
        compile_release(releases)
