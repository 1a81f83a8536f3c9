"""Reads from the indexer's SQL mirror, scoped to what the account may see (gateway/scope.py).

Every list is a ``Listing``: the rows of one table joined to their procurement, selected under the names of
its public schema's fields, filtered, in chain order; each row becomes the schema by its attributes. A
procurement's detail is one statement (with its milestones), compiled once per scope shape.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from eth_utils.address import to_checksum_address
from sqlalchemy import (
    ColumnElement,
    Engine,
    FromClause,
    Table,
    and_,
    bindparam,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from chain import ConfigurationError, checksum, org_code, org_id, parse_procurement_name
from chain.budget import fiscal_year_start
from gateway.errors import Conflict, InvalidInput, NotFound
from gateway.identity import Principal
from gateway.schemas.common import ApiModel
from gateway.schemas.events import EventPublic
from gateway.schemas.procurements import (
    AmendmentPublic,
    AttestationPublic,
    DisputePublic,
    EvidencePublic,
    ListedMilestonePublic,
    PaymentPublic,
    ProcurementDetailPublic,
    ProcurementPublic,
)
from gateway.scope import Scope
from indexer.cursor import mirror_version
from indexer.models import (
    AmendmentApproval,
    AmendmentProposal,
    AttestationRow,
    BlockDigest,
    DisputeOpening,
    DisputeSettlement,
    EventRow,
    EvidenceRow,
    MilestoneRow,
    OrganizationRow,
    PaymentRow,
    ProcurementRow,
    RefundRow,
)

__all__ = [
    "CURSOR_PATTERN",
    "LISTINGS",
    "OPEN_MILESTONES",
    "PROCUREMENT_STATUSES",
    "Listing",
    "OcidOf",
    "Page",
    "Reader",
    "decode_cursor",
    "encode_cursor",
]


@dataclass(frozen=True)
class Page:
    """Offset pagination."""

    offset: int
    limit: int


CURSOR_PATTERN = r"^[0-9]{1,19}(-[0-9]{1,9})?$"
_CURSOR = re.compile(CURSOR_PATTERN)
_END_OF_BLOCK = 10**9  # past any log index


def encode_cursor(block_number: int, log_index: int | None = None) -> str:
    """An event-log position: ``<block>-<log index>`` (after that event), or ``<block>`` (after that whole
    block). Log indexes are unique within a block."""
    return str(block_number) if log_index is None else f"{block_number}-{log_index}"


def decode_cursor(cursor: str) -> tuple[int, int]:
    """The position in an event-log cursor, as (block, log index) to resume after."""
    if not _CURSOR.match(cursor):
        raise InvalidInput("cursor must look like <block> or <block>-<logIndex>, as returned in nextCursor")
    block, _, log = cursor.partition("-")
    return int(block), int(log) if log else _END_OF_BLOCK


_procurements = ProcurementRow.__table__
_milestones = MilestoneRow.__table__
_p, _m = _procurements.c, _milestones.c
#: Milestone states whose amount an escrow still has to pay (MilestoneEscrow's ``_OPEN`` and Disputed): a
#: procurement with one is open, one without completed.
OPEN_MILESTONES = ("Pending", "Submitted", "Rejected", "Disputed")
PROCUREMENT_STATUSES = ("open", "completed")

# A procurement's columns under ProcurementPublic's names, and a milestone's under MilestonePublic's (apart from
# the procurement's, so that the detail selects both in one row).
_organizations = OrganizationRow.__table__


def _organization_name(org: Any, label: str) -> Any:
    """The registered name of the organization ``org`` (a column of its id), as column ``label``."""
    o = _organizations.c
    return select(o.name).where(o.chain_id == _p.chain_id, o.org_id == org).scalar_subquery().label(label)


_digests = BlockDigest.__table__


def block_time_of(chain_id: Any, block_number: Any, label: str) -> Any:
    """The mirrored time of the block ``block_number`` (a column), as column ``label`` (unix seconds, or null)."""
    d = _digests.c
    return (
        select(d.block_time)
        .where(d.chain_id == chain_id, d.block_number == block_number)
        .scalar_subquery()
        .label(label)
    )


_PROCUREMENT_COLUMNS = (
    *_procurements.c,
    _p.ministry_org.label("ministry"),
    _organization_name(_p.ministry_org, "ministry_name"),
    _organization_name(_p.supplier_org, "supplier_org_name"),
    _p.block_number.label("created_block"),
    block_time_of(_p.chain_id, _p.block_number, "created_block_time"),
    _p.tx_hash.label("created_tx"),
)
# A listed row's procurement in words (OfProcurement), with what its ocid is made of.
_WORDS_COLUMNS = (
    _p.title,
    _p.ministry_org.label("ministry"),
    _organization_name(_p.ministry_org, "ministry_name"),
    _p.supplier_org,
    _organization_name(_p.supplier_org, "supplier_org_name"),
    _p.spec_hash,
)
_MILESTONE_COLUMNS = (
    *(column for column in _milestones.c if column.name not in ("chain_id", "escrow", "block_number")),
    _m.block_number.label("updated_block"),
    block_time_of(_m.chain_id, _m.block_number, "updated_block_time"),
)


_Schema = TypeVar("_Schema", bound=ApiModel)


def _from_row(schema: type[_Schema], row: Any) -> _Schema:
    """A row (or ORM object) as ``schema``, read by its attributes under the fields' Python names only: looking
    each up by its camelCase alias first, as validation otherwise does, costs a failed lookup per field (an
    exception inside SQLAlchemy's rows), which doubled a detail read's CPU."""
    return schema.model_validate(row, from_attributes=True, by_alias=False, by_name=True)


def _org_hex(code: str) -> str:
    return "0x" + org_id(code).hex()


Condition = Callable[[Any], ColumnElement[bool]]


def procurement_condition(name: str) -> ColumnElement[bool]:
    """The mirror's procurements named ``name`` (its ocid, escrow address or on-chain id: chain.procurement_name);
    InvalidInput (422) naming what is wrong with anything else."""
    try:
        named = parse_procurement_name(name)
    except ConfigurationError as exc:
        raise InvalidInput(f"procurementId: {exc}") from None
    if named.escrow is not None:
        return _p.escrow == checksum(named.escrow)
    assert named.procurement_id is not None
    return _p.procurement_id == "0x" + named.procurement_id.hex()


def procurement_search(text: str) -> ColumnElement[bool]:
    """The procurements whose title, supplier organization or buying ministry (its code or registered name)
    contains ``text`` (ASCII letters in any case; ``%``, ``_`` and ``\\`` match only themselves), or whose ocid,
    escrow address or on-chain id is ``text`` whole."""
    needle = text.strip().lower()
    if not needle:
        raise InvalidInput("q: give a word to search for (spaces alone match nothing)")
    o = _organizations.c
    named = select(o.org_id).where(
        or_(func.lower(o.name).contains(needle, autoescape=True), func.lower(o.code).contains(needle, autoescape=True))
    )
    conditions = [
        func.lower(_p.title).contains(needle, autoescape=True),
        _p.supplier_org.in_(named),
        _p.ministry_org.in_(named),
    ]
    with contextlib.suppress(InvalidInput):  # not a procurement's name: the words alone
        conditions.append(procurement_condition(text.strip()))
    return or_(*conditions)


def procurement_status(status: str) -> ColumnElement[bool]:
    """The procurements ``open`` (a milestone still to pay: ``OPEN_MILESTONES``) or ``completed`` (none)."""
    if status not in PROCUREMENT_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(PROCUREMENT_STATUSES)}, got {status[:20]!r}")
    unfinished = (
        select(_m.milestone_id)
        .where(_m.chain_id == _p.chain_id, _m.escrow == _p.escrow, _m.status.in_(OPEN_MILESTONES))
        .exists()
    )
    return unfinished if status == "open" else ~unfinished


def created_in(fiscal_year: int) -> ColumnElement[bool]:
    """The procurements created in ``fiscal_year`` (by their creation block's mirrored time, JST)."""
    d = _digests.c
    return (
        select(d.block_number)
        .where(
            d.chain_id == _p.chain_id,
            d.block_number == _p.block_number,
            d.block_time >= fiscal_year_start(fiscal_year),
            d.block_time < fiscal_year_start(fiscal_year + 1),
        )
        .exists()
    )


@dataclass(frozen=True)
class Listing:
    """One list of the mirror: the rows of ``table`` (and of ``joined`` tables), as ``schema``."""

    table: FromClause
    schema: type[ApiModel]
    columns: tuple[Any, ...]  # selected under the schema's field names
    filters: Mapping[str, Condition]  # a filter's name -> the condition for a value given (and procurement_id,
    # which every listing below a procurement takes: Reader.rows filters by the escrows it names)
    order: tuple[Any, ...]
    joined: tuple[tuple[FromClause, ColumnElement[bool]], ...] = field(default=())  # outer joins (approvals...)


def _below(
    table: FromClause,
    schema: type[ApiModel],
    *columns: Any,
    joined: tuple[tuple[FromClause, ColumnElement[bool]], ...] = (),
    filters: Mapping[str, Condition] | None = None,
) -> Listing:
    """The rows of an event table, below their procurement: by procurement and milestone, in chain order."""
    every: dict[str, Condition] = {
        "milestone_id": lambda value: table.c.milestone_id == value,
        **(filters or {}),
    }
    ordered = (table.c.block_number, table.c.log_index)
    block_time = block_time_of(table.c.chain_id, table.c.block_number, "block_time")
    return Listing(
        table, schema, (*table.c, block_time, *columns, _p.procurement_id, *_WORDS_COLUMNS), every, ordered, joined
    )


def _same(table: FromClause, other: FromClause, *keys: str) -> ColumnElement[bool]:
    return and_(*(table.c[key] == other.c[key] for key in keys))


_approvals, _settlements = AmendmentApproval.__table__, DisputeSettlement.__table__
_payments, _refunds = PaymentRow.__table__, RefundRow.__table__
_EVENT_COLUMNS = ("chain_id", "block_number", "log_index", "tx_hash", "escrow", "milestone_id")
# Money out of an escrow: payments to the supplier (released or deferred) and refunds to the budget ledger.
_money_out = union_all(
    select(
        *(_payments.c[c] for c in _EVENT_COLUMNS),
        _payments.c.supplier,
        _payments.c.supplier.label("to"),
        _payments.c.amount,
        _payments.c.kind,
    ),
    select(
        *(_refunds.c[c] for c in _EVENT_COLUMNS),
        null().label("supplier"),
        _refunds.c.vault.label("to"),
        _refunds.c.amount,
        literal("refunded").label("kind"),
    ),
).subquery("money_out")
_proposals, _openings = AmendmentProposal.__table__, DisputeOpening.__table__

LISTINGS: dict[str, Listing] = {
    "procurements": Listing(
        _procurements,
        ProcurementPublic,
        _PROCUREMENT_COLUMNS,
        {
            "ministry": lambda code: _p.ministry_org == _org_hex(code),
            "supplier_org": lambda code: _p.supplier_org == _org_hex(code),
            "supplier": lambda address: _p.supplier == to_checksum_address(address),
            "evaluator": lambda address: func.lower(_p.panel).contains(f'"{address.lower()}"'),
            "paused": lambda paused: (_p.paused_until > int(time.time())) == paused,
            "q": procurement_search,
            "status": procurement_status,
            "fiscal_year": created_in,
        },
        (_p.block_number, _p.log_index),
    ),
    "milestones": Listing(
        _milestones,
        ListedMilestonePublic,
        (*_MILESTONE_COLUMNS, _p.procurement_id, *_WORDS_COLUMNS),
        {
            "status": lambda value: _m.status == value,
        },
        (_p.block_number, _p.log_index, _m.milestone_id),
    ),
    "submissions": _below(EvidenceRow.__table__, EvidencePublic),
    "attestations": _below(
        AttestationRow.__table__,
        AttestationPublic,
        filters={"evaluator": lambda address: AttestationRow.__table__.c.evaluator == to_checksum_address(address)},
    ),
    "payments": _below(_money_out, PaymentPublic, filters={"kind": lambda kind: _money_out.c.kind == kind}),
    "amendments": _below(
        _proposals,
        AmendmentPublic,
        _approvals.c.approver.label("approved_by"),
        _approvals.c.block_number.label("approved_block"),
        block_time_of(_approvals.c.chain_id, _approvals.c.block_number, "approved_block_time"),
        joined=((_approvals, _same(_approvals, _proposals, "chain_id", "escrow", "amendment_id")),),
    ),
    "disputes": _below(
        _openings,
        DisputePublic,
        _settlements.c.reviewer.label("settled_by"),
        _settlements.c.supplier_amount,
        _settlements.c.ministry_amount,
        _settlements.c.ruling_hash,
        joined=((_settlements, _same(_settlements, _openings, "chain_id", "escrow", "milestone_id")),),
    ),
}


def _paged(query: Any, listing: Listing, page: Page) -> Any:
    """``query``'s page in the listing's order. A table's rows are paged by their keys first, then only the page's
    rows get their selected columns (names of organizations, block times: a scalar subquery each): otherwise the
    database computes them for every row it skips, which made a deep page of 10,000 procurements five times
    slower. A union or a listing with outer joins is paged as it is."""
    keys = list(listing.table.primary_key.columns) if isinstance(listing.table, Table) else []
    if not keys or listing.joined:
        return query.order_by(*listing.order).offset(page.offset).limit(page.limit)
    chosen = (
        query.with_only_columns(*keys, maintain_column_froms=False)
        .order_by(*listing.order)
        .offset(page.offset)
        .limit(page.limit)
        .subquery("page")
    )
    return query.join(chosen, and_(*(key == chosen.c[key.name] for key in keys))).order_by(*listing.order)


# One compiled detail statement per scope shape (SQLAlchemy then reuses its compiled form by cache key).
_detail_statements: dict[tuple[str, ...], Any] = {}


def _detail_statement(scope: Scope) -> Any:
    statement = _detail_statements.get(scope.shape)
    if statement is None:
        statement = (
            select(*_PROCUREMENT_COLUMNS, *_MILESTONE_COLUMNS)
            .select_from(_procurements)
            .outerjoin(_milestones, _same(_milestones, _procurements, "chain_id", "escrow"))
            .where(_p.chain_id == bindparam("chain_id"), _p.procurement_id == bindparam("procurement_id"))
            .where(scope.where(bound=False))
            .order_by(_m.milestone_id)
        )
        _detail_statements[scope.shape] = statement
    return statement


@dataclass(frozen=True, slots=True)
class _Detail:
    """A procurement's row (its detail statement's first) and its milestones' rows, as one object to read."""

    head: Any
    milestones: list[Any]
    ocid: str | None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.head, name)


@dataclass(frozen=True, slots=True)
class _Named:
    """A listed row and its procurement's ocid, as one object to read."""

    row: Any
    ocid: str | None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.row, name)


OcidOf = Callable[[str, str, str], "str | None"]
"""A procurement's ocid from its buying ministry's id, on-chain id and spec hash (gateway/services/ocds.py)."""


class Reader:
    """Queries of the mirror for one chain, seen by one principal.

    ``db`` is a session (used as it is), or an engine: then each query method opens its own connection or
    session and closes it before returning, so that a request's database work stays where it runs.
    ``point_read`` runs a short read by key from async code (see ``GatewayState.point_read``).
    """

    def __init__(
        self,
        db: Session | Engine,
        chain_id: int,
        principal: Principal,
        *,
        point_read: Callable[..., Awaitable[Any]] | None = None,
        ocids: Callable[[], OcidOf] | None = None,
    ) -> None:
        self._db = db
        self.chain_id = chain_id
        self.principal = principal
        self.scope = Scope.of(principal)
        self._point_read = point_read
        self._ocids = ocids

    def _ocid_of(self) -> OcidOf:
        """How this read names procurements by their ocid (None each, without a publication)."""
        return self._ocids() if self._ocids is not None else lambda ministry_org, procurement_id, spec_hash: None

    async def detail(self, procurement_id: str | None, escrow: str | None = None) -> ProcurementDetailPublic:
        """``procurement_detail`` from async code, as a point read."""
        if self._point_read is None:
            return await run_in_threadpool(self.procurement_detail, procurement_id, escrow)
        result: ProcurementDetailPublic = await self._point_read(self.procurement_detail, procurement_id, escrow)
        return result

    @contextmanager
    def _session(self) -> Iterator[Session]:
        if isinstance(self._db, Session):
            yield self._db
        else:
            with Session(self._db) as session:
                yield session

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        if isinstance(self._db, Session):
            yield self._db.connection()
        else:
            with self._db.connect() as connection:
                yield connection

    def _visible_escrows(self) -> Any:
        return select(_p.escrow).where(_p.chain_id == self.chain_id, self.scope.where())

    def mirrored_block(self) -> int | None:
        """The last block the mirror covers, or None if it has not synced this chain."""
        with self._session() as db:
            version = mirror_version(db, self.chain_id)
            return None if version is None else version.block_number

    def escrow_of(self, procurement_id: str) -> str:
        """The escrow of a visible procurement named by its ocid, escrow address or id; NotFound if it does not
        exist or is not visible (indistinguishably)."""
        query = self._visible_escrows().where(procurement_condition(procurement_id))
        with self._connection() as connection:
            escrow = connection.execute(query).scalar()
        if escrow is None:
            raise NotFound(f"no procurement {procurement_id} visible to this account")
        return str(escrow)

    def procurement_detail(self, procurement_id: str | None, escrow: str | None = None) -> ProcurementDetailPublic:
        """One visible procurement with its milestones, named by its id (0x-hex, lowercase) or its ``escrow``: in
        one statement (two by escrow); NotFound as for ``escrow_of``."""
        named = procurement_id if escrow is None else f"at escrow {escrow}"
        with self._connection() as connection:
            if escrow is not None:
                query = select(_p.procurement_id).where(_p.chain_id == self.chain_id, _p.escrow == checksum(escrow))
                procurement_id = connection.execute(query).scalar()
            values = self.scope.parameters() | {"chain_id": self.chain_id, "procurement_id": procurement_id}
            rows = [] if procurement_id is None else connection.execute(_detail_statement(self.scope), values).all()
        if escrow is not None:
            rows = [row for row in rows if row.escrow.lower() == escrow]
        if not rows:
            raise NotFound(f"no procurement {named} visible to this account")
        escrows = sorted({row.escrow for row in rows})
        if len(escrows) > 1:
            raise Conflict(
                f"procurement id {procurement_id} names {len(escrows)} procurements you can see, of different "
                f"ministries (escrows {', '.join(escrows)}): a procurement id is unique within its ministry only"
            )
        head = rows[0]
        ocid = self._ocid_of()(head.ministry_org, head.procurement_id, head.spec_hash)
        detail = _Detail(head, [row for row in rows if row.milestone_id is not None], ocid)
        return _from_row(ProcurementDetailPublic, detail)

    def rows(self, listing: Listing, page: Page, filters: Mapping[str, Any]) -> tuple[list[Any], int]:
        """A page of a listing's visible rows, filtered (a filter given as None does not apply), and how many
        rows match in all."""
        query = select(*listing.columns).select_from(listing.table)
        if listing.table is not _procurements:
            query = query.join(_procurements, _same(listing.table, _procurements, "chain_id", "escrow"))
        for table, on in listing.joined:
            query = query.outerjoin(table, on)
        query = query.where(listing.table.c.chain_id == self.chain_id, self.scope.where())
        with self._session() as db:
            for name, value in filters.items():
                if value is None:
                    continue
                if name == "procurement_id":
                    # By the named escrows' values, not by a condition on the joined procurement: given only the
                    # join, SQLite walks the table's key in the page's order and filters every row of the chain
                    # (1.6 s a page at 1.19M events); an escrow's value lets it read the (chain id, escrow, ...)
                    # index instead. The procurement's own row still comes through the join, under the scope.
                    escrows = select(_p.escrow).where(_p.chain_id == self.chain_id, procurement_condition(value))
                    query = query.where(listing.table.c.escrow.in_(db.scalars(escrows).all()))
                else:
                    query = query.where(listing.filters[name](value))
            count = db.scalar(select(func.count()).select_from(query.subquery())) or 0
            found: Sequence[Any] = db.execute(_paged(query, listing, page)).all()
        if "ocid" not in listing.schema.model_fields:
            return [_from_row(listing.schema, row) for row in found], int(count)
        ocid_of = self._ocid_of()
        named = (_Named(row, ocid_of(row.ministry, row.procurement_id, row.spec_hash)) for row in found)
        return [_from_row(listing.schema, row) for row in named], int(count)

    def evidence_submitters(self, document_hash: str) -> list[tuple[str, str]]:
        """Who submitted a document with this hash as evidence on a visible procurement: (supplier, its
        organization's code) of each such submission."""
        evidence = EvidenceRow.__table__
        query = (
            select(evidence.c.supplier, _p.supplier_org)
            .join(_procurements, _same(evidence, _procurements, "chain_id", "escrow"))
            .where(evidence.c.chain_id == self.chain_id, evidence.c.document_hash == document_hash, self.scope.where())
            .distinct()
        )
        with self._session() as db:
            return [(supplier, org_code(bytes.fromhex(org[2:]))) for supplier, org in db.execute(query).all()]

    # ------------------------------------------------------------ raw event log

    def events(
        self,
        *,
        after: tuple[int, int] | None,
        limit: int,
        procurement_id: str | None = None,
        event: str | None = None,
        from_block: int | None = None,
        to_block: int | None = None,
    ) -> list[EventPublic]:
        """Raw events in chain order after a cursor. Auditors see every ledger event, others their procurements'."""
        block_time = block_time_of(EventRow.chain_id, EventRow.block_number, "block_time")
        query = select(*EventRow.__table__.c, block_time).where(EventRow.chain_id == self.chain_id)
        if procurement_id is not None:
            query = query.where(EventRow.emitter == self.escrow_of(procurement_id))
        elif not self.principal.is_auditor:
            query = query.where(EventRow.emitter.in_(self._visible_escrows()))
        if event is not None:
            query = query.where(EventRow.event == event)
        if from_block is not None:
            query = query.where(EventRow.block_number >= from_block)
        if to_block is not None:
            query = query.where(EventRow.block_number <= to_block)
        if after is not None:
            block, log = after
            query = query.where(
                or_(EventRow.block_number > block, and_(EventRow.block_number == block, EventRow.log_index > log))
            )
        query = query.order_by(EventRow.block_number, EventRow.log_index).limit(limit)
        with self._session() as db:
            found = db.execute(query).all()
        return [_from_row(EventPublic, row) for row in found]
