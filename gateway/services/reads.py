"""Reads from the indexer's SQL mirror, scoped to what the account may see.

Scope: an auditor sees everything; a ministry account its own ministry's procurements; a supplier account
those of its organization; an evaluator those on whose panel it sits; a review body those with a dispute.
Everything below a procurement (milestones, evidence, attestations, payments, amendments, disputes, events)
follows its procurement's scope.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from eth_utils.address import to_checksum_address
from sqlalchemy import ColumnElement, Engine, and_, bindparam, false, func, or_, select, true
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from chain.roles import Role, org_code, org_id
from gateway.errors import InvalidInput, NotFound
from gateway.identity import Principal
from gateway.schemas.events import EventPublic
from gateway.schemas.procurements import (
    AmendmentPublic,
    AttestationPublic,
    DisputePublic,
    EvidencePublic,
    MilestonePublic,
    PaymentPublic,
    ProcurementDetailPublic,
    ProcurementPublic,
)
from indexer.cursor import mirror_version
from indexer.models import (
    AmendmentApproval,
    AmendmentProposal,
    AttestationRow,
    DisputeOpening,
    DisputeSettlement,
    EventRow,
    EvidenceRow,
    MilestoneRow,
    PaymentRow,
    ProcurementRow,
)

__all__ = [
    "CURSOR_PATTERN",
    "Page",
    "Reader",
    "decode_cursor",
    "encode_cursor",
]

_T = TypeVar("_T")


@dataclass(frozen=True)
class Page:
    """Offset pagination."""

    offset: int
    limit: int


def _org_hex(code: str) -> str:
    return "0x" + org_id(code).hex()


def _code(org_hex: str) -> str:
    return org_code(bytes.fromhex(org_hex[2:]))


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
# The detail query's milestone columns, labelled apart from the procurement's own.
_MILESTONE_COLUMNS = (
    _milestones.c.milestone_id.label("m_id"),
    _milestones.c.amount.label("m_amount"),
    _milestones.c.due_date.label("m_due_date"),
    _milestones.c.status.label("m_status"),
    _milestones.c.round.label("m_round"),
    _milestones.c.passes.label("m_passes"),
    _milestones.c.fails.label("m_fails"),
    _milestones.c.owed.label("m_owed"),
    _milestones.c.block_number.label("m_block"),
)


_Scope = tuple[str, ...]


def _scope_clause(shape: _Scope, values: dict[str, Any] | None = None) -> ColumnElement[bool]:
    """The scope condition of a shape (see ``Reader._scope_shape``), with ``values`` bound, or else with
    parameters that must be given at execution."""

    def param(name: str) -> Any:
        return bindparam(name) if values is None else bindparam(name, values[name])

    if shape == ("all",):
        return true()
    procurements, disputes = _procurements.c, DisputeOpening.__table__.c
    conditions: list[ColumnElement[bool]] = []
    if "ministry" in shape:
        conditions.append(procurements.ministry_org == param("scope_ministry"))
    if "supplier" in shape:
        conditions.append(procurements.supplier_org == param("scope_supplier"))
    if "evaluator" in shape:
        # The panel is a JSON list of checksummed addresses; hex digits hold no LIKE wildcards.
        conditions.append(func.lower(procurements.panel).contains(param("scope_panel_entry")))
    if "review" in shape:
        disputed = select(disputes.escrow).where(disputes.chain_id == param("scope_chain_id"))
        conditions.append(procurements.escrow.in_(disputed))
    return or_(*conditions) if conditions else false()


# One compiled detail statement per scope shape (SQLAlchemy then reuses its compiled form by cache key).
_detail_statements: dict[_Scope, Any] = {}


def _detail_statement(shape: _Scope) -> Any:
    statement = _detail_statements.get(shape)
    if statement is None:
        p, m = _procurements.c, _milestones.c
        statement = (
            select(_procurements, *_MILESTONE_COLUMNS)
            .select_from(_procurements)
            .outerjoin(_milestones, and_(m.chain_id == p.chain_id, m.escrow == p.escrow))
            .where(p.chain_id == bindparam("chain_id"), p.procurement_id == bindparam("procurement_id"))
            .where(_scope_clause(shape))
            .order_by(m.milestone_id)
        )
        _detail_statements[shape] = statement
    return statement


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
    ) -> None:
        self._db = db
        self.chain_id = chain_id
        self.principal = principal
        self._point_read = point_read

    async def detail(self, procurement_id: str) -> ProcurementDetailPublic:
        """``procurement_detail`` from async code, as a point read."""
        if self._point_read is None:
            return await run_in_threadpool(self.procurement_detail, procurement_id)
        result: ProcurementDetailPublic = await self._point_read(self.procurement_detail, procurement_id)
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

    # ------------------------------------------------------------ scope

    def _scope_shape(self) -> tuple[_Scope, dict[str, Any]]:
        """Which scope conditions apply to the principal, and their values.

        An auditor sees everything; otherwise any of: its ministry's, its supplier organization's, the panels
        it sits on, the procurements with a dispute (a review body); nothing if none applies.
        """
        p = self.principal
        if p.is_auditor:
            return ("all",), {}
        shape: list[str] = []
        values: dict[str, Any] = {}
        if p.is_ministry and p.organization:
            shape.append("ministry")
            values["scope_ministry"] = _org_hex(p.organization)
        if p.has(Role.SUPPLIER) and p.organization:
            shape.append("supplier")
            values["scope_supplier"] = _org_hex(p.organization)
        if p.has(Role.EVALUATOR):
            shape.append("evaluator")
            values["scope_panel_entry"] = f'"{p.address.lower()}"'
        if p.has(Role.REVIEW_BODY):
            shape.append("review")
            values["scope_chain_id"] = self.chain_id
        return tuple(shape), values

    def _scope(self) -> ColumnElement[bool]:
        """Which procurement rows the principal may see, with its values bound."""
        return _scope_clause(*self._scope_shape())

    def _procurements(self) -> Any:  # a Select (its generic form differs between SQLAlchemy 2.0 and 2.1)
        return select(ProcurementRow).where(ProcurementRow.chain_id == self.chain_id, self._scope())

    def _visible_escrows(self) -> Any:
        return select(ProcurementRow.escrow).where(ProcurementRow.chain_id == self.chain_id, self._scope())

    def _page(self, query: Any, page: Page) -> tuple[Sequence[Any], int]:
        with self._session() as db:
            count = db.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
            rows = db.execute(query.offset(page.offset).limit(page.limit)).all()
        return rows, int(count)

    def mirrored_block(self) -> int | None:
        """The last block the mirror covers, or None if it has not synced this chain."""
        with self._session() as db:
            version = mirror_version(db, self.chain_id)
            return None if version is None else version.block_number

    # ------------------------------------------------------------ procurements

    def procurement(self, procurement_id: str) -> ProcurementRow:
        """One visible procurement; NotFound if it does not exist or is not visible (indistinguishably)."""
        with self._session() as db:
            row: ProcurementRow | None = db.scalars(
                self._procurements().where(ProcurementRow.procurement_id == procurement_id)
            ).first()
        if row is None:
            raise NotFound(f"no procurement {procurement_id} visible to this account")
        return row

    def procurement_detail(self, procurement_id: str) -> ProcurementDetailPublic:
        """One visible procurement with its milestones, in one query; NotFound as for ``procurement``."""
        shape, values = self._scope_shape()
        values |= {"chain_id": self.chain_id, "procurement_id": procurement_id}
        with self._connection() as connection:
            rows = connection.execute(_detail_statement(shape), values).all()
        if not rows:
            raise NotFound(f"no procurement {procurement_id} visible to this account")
        head = rows[0]
        fields = _procurement_fields(head)
        # Plain dicts validated once as a whole: cheaper than a model per milestone.
        fields["milestones"] = [
            {
                "procurement_id": head.procurement_id,
                "milestone_id": r.m_id,
                "amount": r.m_amount,
                "due_date": r.m_due_date,
                "status": r.m_status,
                "round": r.m_round,
                "passes": r.m_passes,
                "fails": r.m_fails,
                "owed": r.m_owed,
                "updated_block": r.m_block,
            }
            for r in rows
            if r.m_id is not None
        ]
        return ProcurementDetailPublic.model_validate(fields)

    def procurements(
        self,
        page: Page,
        *,
        ministry: str | None = None,
        supplier_org: str | None = None,
        supplier: str | None = None,
        evaluator: str | None = None,
        paused: bool | None = None,
    ) -> tuple[list[ProcurementPublic], int]:
        """Visible procurements, oldest first, filtered."""
        query = self._procurements()
        if ministry is not None:
            query = query.where(ProcurementRow.ministry_org == _org_hex(ministry))
        if supplier_org is not None:
            query = query.where(ProcurementRow.supplier_org == _org_hex(supplier_org))
        if supplier is not None:
            query = query.where(ProcurementRow.supplier == to_checksum_address(supplier))
        if evaluator is not None:
            query = query.where(func.lower(ProcurementRow.panel).contains(f'"{evaluator.lower()}"'))
        if paused is not None:
            query = query.where(ProcurementRow.paused == paused)
        query = query.order_by(ProcurementRow.block_number, ProcurementRow.log_index)
        rows, count = self._page(query, page)
        return [procurement_public(row[0]) for row in rows], count

    def milestone_page(
        self, page: Page, *, procurement_id: str | None = None, status: str | None = None
    ) -> tuple[list[MilestonePublic], int]:
        """Milestones of visible procurements."""
        query = (
            select(MilestoneRow, ProcurementRow.procurement_id)
            .join(
                ProcurementRow,
                and_(ProcurementRow.chain_id == MilestoneRow.chain_id, ProcurementRow.escrow == MilestoneRow.escrow),
            )
            .where(MilestoneRow.chain_id == self.chain_id, self._scope())
        )
        if procurement_id is not None:
            query = query.where(ProcurementRow.procurement_id == procurement_id)
        if status is not None:
            query = query.where(MilestoneRow.status == status)
        query = query.order_by(ProcurementRow.block_number, ProcurementRow.log_index, MilestoneRow.milestone_id)
        rows, count = self._page(query, page)
        return [_milestone_public(pid, m) for m, pid in rows], count

    # ------------------------------------------------------------ event-derived rows

    def _children(self, model: Any, procurement_id: str | None, milestone_id: int | None) -> Any:
        query = (
            select(model, ProcurementRow.procurement_id)
            .join(
                ProcurementRow,
                and_(ProcurementRow.chain_id == model.chain_id, ProcurementRow.escrow == model.escrow),
            )
            .where(model.chain_id == self.chain_id, self._scope())
        )
        if procurement_id is not None:
            query = query.where(ProcurementRow.procurement_id == procurement_id)
        if milestone_id is not None:
            query = query.where(model.milestone_id == milestone_id)
        return query.order_by(model.block_number, model.log_index)

    def evidence(
        self, page: Page, *, procurement_id: str | None = None, milestone_id: int | None = None
    ) -> tuple[list[EvidencePublic], int]:
        """Evidence submissions."""
        rows, count = self._page(self._children(EvidenceRow, procurement_id, milestone_id), page)
        return [
            EvidencePublic(
                procurement_id=pid,
                milestone_id=e.milestone_id,
                round=e.round,
                supplier=e.supplier,
                document_hash=e.document_hash,
                uri=e.uri,
                relayer=e.relayer,
                block_number=e.block_number,
                tx_hash=e.tx_hash,
                log_index=e.log_index,
            )
            for e, pid in rows
        ], count

    def evidence_submitters(self, document_hash: str) -> list[tuple[str, str]]:
        """Who submitted a document with this hash as evidence on a visible procurement: (supplier, its
        organization's code) of each such submission."""
        query = (
            select(EvidenceRow.supplier, ProcurementRow.supplier_org)
            .join(
                ProcurementRow,
                and_(ProcurementRow.chain_id == EvidenceRow.chain_id, ProcurementRow.escrow == EvidenceRow.escrow),
            )
            .where(EvidenceRow.chain_id == self.chain_id, EvidenceRow.document_hash == document_hash, self._scope())
            .distinct()
        )
        with self._session() as db:
            return [(supplier, _code(org)) for supplier, org in db.execute(query).all()]

    def attestations(
        self,
        page: Page,
        *,
        procurement_id: str | None = None,
        milestone_id: int | None = None,
        evaluator: str | None = None,
    ) -> tuple[list[AttestationPublic], int]:
        """Attestations."""
        query = self._children(AttestationRow, procurement_id, milestone_id)
        if evaluator is not None:
            query = query.where(AttestationRow.evaluator == to_checksum_address(evaluator))
        rows, count = self._page(query, page)
        return [
            AttestationPublic(
                procurement_id=pid,
                milestone_id=a.milestone_id,
                round=a.round,
                evaluator=a.evaluator,
                passed=a.passed,
                report_hash=a.report_hash,
                relayer=a.relayer,
                block_number=a.block_number,
                tx_hash=a.tx_hash,
                log_index=a.log_index,
            )
            for a, pid in rows
        ], count

    def payments(
        self, page: Page, *, procurement_id: str | None = None, milestone_id: int | None = None
    ) -> tuple[list[PaymentPublic], int]:
        """Payments released or deferred."""
        rows, count = self._page(self._children(PaymentRow, procurement_id, milestone_id), page)
        return [
            PaymentPublic(
                procurement_id=pid,
                milestone_id=p.milestone_id,
                supplier=p.supplier,
                amount=p.amount,
                kind=p.kind,
                block_number=p.block_number,
                tx_hash=p.tx_hash,
                log_index=p.log_index,
            )
            for p, pid in rows
        ], count

    def amendments(
        self, page: Page, *, procurement_id: str | None = None, milestone_id: int | None = None
    ) -> tuple[list[AmendmentPublic], int]:
        """Proposed amendments and their approvals."""
        query = self._children(AmendmentProposal, procurement_id, milestone_id)
        query = query.add_columns(AmendmentApproval.approver, AmendmentApproval.block_number).outerjoin(
            AmendmentApproval,
            and_(
                AmendmentApproval.chain_id == AmendmentProposal.chain_id,
                AmendmentApproval.escrow == AmendmentProposal.escrow,
                AmendmentApproval.amendment_id == AmendmentProposal.amendment_id,
            ),
        )
        rows, count = self._page(query, page)
        return [
            AmendmentPublic(
                procurement_id=pid,
                amendment_id=a.amendment_id,
                milestone_id=a.milestone_id,
                proposer=a.proposer,
                kind=a.kind,
                new_amount=a.new_amount,
                new_due_date=a.new_due_date,
                rationale_hash=a.rationale_hash,
                approved_by=approver,
                approved_block=approved_block,
                block_number=a.block_number,
                tx_hash=a.tx_hash,
                log_index=a.log_index,
            )
            for a, pid, approver, approved_block in rows
        ], count

    def disputes(
        self, page: Page, *, procurement_id: str | None = None, milestone_id: int | None = None
    ) -> tuple[list[DisputePublic], int]:
        """Disputes and their settlements."""
        query = self._children(DisputeOpening, procurement_id, milestone_id)
        query = query.add_columns(DisputeSettlement).outerjoin(
            DisputeSettlement,
            and_(
                DisputeSettlement.chain_id == DisputeOpening.chain_id,
                DisputeSettlement.escrow == DisputeOpening.escrow,
                DisputeSettlement.milestone_id == DisputeOpening.milestone_id,
            ),
        )
        rows, count = self._page(query, page)
        out = []
        for d, pid, settlement in rows:
            out.append(
                DisputePublic(
                    procurement_id=pid,
                    milestone_id=d.milestone_id,
                    opener=d.opener,
                    previous_status=d.previous_status,
                    reason_hash=d.reason_hash,
                    settled_by=None if settlement is None else settlement.reviewer,
                    supplier_amount=None if settlement is None else settlement.supplier_amount,
                    ministry_amount=None if settlement is None else settlement.ministry_amount,
                    ruling_hash=None if settlement is None else settlement.ruling_hash,
                    block_number=d.block_number,
                    tx_hash=d.tx_hash,
                    log_index=d.log_index,
                )
            )
        return out, count

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
        query = select(EventRow).where(EventRow.chain_id == self.chain_id)
        if procurement_id is not None:
            escrow = self.procurement(procurement_id).escrow
            query = query.where(EventRow.emitter == escrow)
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
            found = db.scalars(query).all()
        return [
            EventPublic(
                block_number=e.block_number,
                block_hash=e.block_hash,
                tx_index=e.tx_index,
                tx_hash=e.tx_hash,
                log_index=e.log_index,
                emitter=e.emitter,
                event=e.event,
                args=json.loads(e.args),
            )
            for e in found
        ]


def procurement_public(row: ProcurementRow) -> ProcurementPublic:
    """A mirrored procurement row as its public schema."""
    return ProcurementPublic(**_procurement_fields(row))


def _procurement_fields(row: Any) -> dict[str, Any]:
    """The public fields of a procurement row (an ORM object or a Core row with the table's column names)."""
    return dict(
        procurement_id=row.procurement_id,
        escrow=row.escrow,
        title=row.title,
        ministry=_code(row.ministry_org),
        supplier_org=_code(row.supplier_org),
        supplier=row.supplier,
        officer=row.officer,
        panel=list(json.loads(row.panel)),
        quorum=row.quorum,
        spec_hash=row.spec_hash,
        milestone_count=row.milestone_count,
        paused=row.paused,
        totals={
            "funded": row.total_funded,
            "released": row.total_released,
            "refunded": row.total_refunded,
            "owed": row.total_owed,
            "held": row.total_funded - row.total_released - row.total_refunded,
        },
        created_block=row.block_number,
        created_tx=row.tx_hash,
    )


def _milestone_public(procurement_id: str, m: MilestoneRow) -> MilestonePublic:
    return MilestonePublic(
        procurement_id=procurement_id,
        milestone_id=m.milestone_id,
        amount=m.amount,
        due_date=m.due_date,
        status=m.status,
        round=m.round,
        passes=m.passes,
        fails=m.fails,
        owed=m.owed,
        updated_block=m.block_number,
    )
