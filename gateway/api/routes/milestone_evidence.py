"""A milestone's evidence, for the parties who may see its procurement: what was submitted, and the documents.

An evaluator inspects what it attests: ``GET .../milestones/{m}/evidence`` lists every submission of the
milestone (round, hash on chain, and its documents: the document itself, or each member of a bundle, see
gateway/evidence_bundle.py), and ``GET .../milestones/{m}/evidence/{hash}`` downloads one of them, re-verified
against its hash. The submissions come from the mirror up to the block it has synced and from the chain after it
(from the chain alone before the mirror's first run): an evaluator never waits on the indexer to see what it
attests. Who may: whoever may see the procurement (gateway/scope.py: its ministry, its supplier, its
panel, a review body once in dispute, auditors); anyone else gets the procurement's 404. Only documents that
are a submission of this milestone, or a member of a bundle submitted for it, are served here: a hash the
supplier never submitted for the milestone is a 404 even if it is in the store.
"""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Path, Response
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from chain import ChainError, checksum
from chain.clients import EvidenceSubmission
from chain.times import iso
from gateway.core.state import GatewayState
from gateway.deps import ChainProcurement, SessionDep, StateDep
from gateway.errors import NotFound
from gateway.models import Document, Upload
from gateway.schemas.evidence import EvidenceDocumentPublic, SubmissionPublic, SubmissionsPublic
from gateway.services.evidence import bundled, parse_digest
from indexer.cursor import read_cursor
from indexer.models import EvidenceRow
from indexer.ocds.releases import ChainBlockTimes, mirror_block_times

router = APIRouter(prefix="/procurements/{procurement_id}/milestones/{milestone_id}/evidence", tags=["evidence"])

MilestoneId = Annotated[int, Path(ge=0, le=1_000, description="The milestone's index (0 for the first).")]
DocumentHash = Annotated[
    str, Path(pattern=r"^(0x)?[0-9a-fA-F]{64}$", description="SHA-256 of the document (64 hex digits).")
]


def _submissions(db: Session, state: GatewayState, escrow: str, milestone_id: int) -> list[EvidenceSubmission]:
    """The milestone's submissions, oldest first: the mirror's up to the block it has synced, the chain's after it;
    all of them from the chain while the mirror has not synced this chain (or has no tables yet). If the node
    cannot be reached, the mirror's alone (correct up to its block)."""
    chain_id = state.ledger.chain_id
    mirrored: list[EvidenceSubmission] = []
    try:
        cursor = read_cursor(db.connection(), chain_id)
        if cursor is not None:
            query = (
                select(EvidenceRow)
                .where(
                    EvidenceRow.chain_id == chain_id,
                    EvidenceRow.escrow == checksum(escrow),
                    EvidenceRow.milestone_id == milestone_id,
                    EvidenceRow.block_number <= cursor.block_number,
                )
                .order_by(EvidenceRow.block_number, EvidenceRow.log_index)
            )
            mirrored = [_submission(row) for row in db.scalars(query)]
    except SQLAlchemyError:  # the mirror's tables do not exist yet: the chain answers
        db.rollback()
        cursor = None
    since = state.ledger.system.deployed_block if cursor is None else cursor.block_number + 1
    try:
        return mirrored + state.ledger.escrow(escrow).evidence_submitted(milestone_id, since)
    except ChainError:
        if cursor is None:
            raise
        return mirrored


def _block_times(db: Session, state: GatewayState, blocks: list[int]) -> dict[int, int]:
    """The submissions' block times: the mirror's, the node's for blocks past it (none if it cannot be asked)."""
    try:
        fallback = ChainBlockTimes(state.ledger.rpc)
        return mirror_block_times(db.connection(), state.ledger.chain_id, sorted(set(blocks)), fallback)
    except (ChainError, SQLAlchemyError):
        db.rollback()
        return {}


def _submission(row: EvidenceRow) -> EvidenceSubmission:
    return EvidenceSubmission(
        milestone_id=row.milestone_id,
        round=row.round,
        supplier=row.supplier,
        document_hash=row.document_hash,
        uri=row.uri,
        block_number=row.block_number,
        tx_hash=row.tx_hash,
        log_index=row.log_index,
    )


def _supplier_upload(db: Session, digest: str, supplier: str, supplier_org: str) -> Upload | None:
    """The supplier's record of a document it (or its organization) uploaded: its filename and content type."""
    uploads = list(db.scalars(select(Upload).where(Upload.sha256 == digest).order_by(Upload.id)))
    own = [u for u in uploads if u.uploaded_by == supplier] or [u for u in uploads if u.uploader_org == supplier_org]
    return own[0] if own else None


def _content_type(state: GatewayState, declared: str) -> str:
    """A member's content type as its manifest says it, if one the gateway accepts for evidence."""
    return declared if declared in state.settings.evidence_content_types else "application/octet-stream"


def _documents(
    db: Session, state: GatewayState, base: str, row: EvidenceSubmission, supplier_org: str
) -> tuple[bool, list[EvidenceDocumentPublic]]:
    """Whether the submitted document is a bundle, and the documents it stands for (members, or itself). A member
    is listed only if the supplier's organization uploaded it: a manifest naming someone else's document (by a
    hash seen elsewhere) never makes it readable here."""
    digest = row.document_hash.removeprefix("0x").lower()
    document = db.get(Document, digest)
    if document is None:  # submitted on chain but never uploaded here: nothing to serve
        return False, []
    members = bundled(db, state.store, row.document_hash)
    if not members:
        upload = _supplier_upload(db, digest, row.supplier, supplier_org)
        return False, [
            EvidenceDocumentPublic(
                document_hash="0x" + digest,
                filename=None if upload is None else upload.filename,
                content_type="application/octet-stream" if upload is None else upload.content_type,
                size=document.size,
                download_url=f"{base}/0x{digest}",
            )
        ]
    listed = []
    for m in members:
        stored = db.get(Document, m.document_hash[2:])
        if stored is None or _supplier_upload(db, m.document_hash[2:], row.supplier, supplier_org) is None:
            continue
        listed.append(
            EvidenceDocumentPublic(
                document_hash=m.document_hash,
                filename=m.filename,
                content_type=_content_type(state, m.content_type),
                size=stored.size,
                download_url=f"{base}/{m.document_hash}",
            )
        )
    return True, listed


def _base(procurement: ChainProcurement, milestone_id: int) -> str:
    return f"/procurements/{procurement.id_hex}/milestones/{milestone_id}/evidence"


@router.get("", response_model=SubmissionsPublic)
def milestone_evidence(
    procurement: ChainProcurement, milestone_id: MilestoneId, state: StateDep, db: SessionDep
) -> SubmissionsPublic:
    """The evidence submitted for a milestone, oldest round first, with each submission's documents (a bundle's
    members listed): for whoever may see the procurement."""
    base = _base(procurement, milestone_id)
    data = []
    submissions = _submissions(db, state, procurement.escrow, milestone_id)
    times = _block_times(db, state, [row.block_number for row in submissions])
    for row in submissions:
        bundle, documents = _documents(db, state, base, row, procurement.terms.supplier_org)
        data.append(
            SubmissionPublic(
                milestone_id=row.milestone_id,
                round=row.round,
                supplier=row.supplier,
                document_hash=row.document_hash,
                uri=row.uri,
                bundle=bundle,
                block_number=row.block_number,
                block_time=iso(times[row.block_number]) if row.block_number in times else None,
                tx_hash=row.tx_hash,
                documents=documents,
            )
        )
    return SubmissionsPublic(data=data, count=len(data))


@router.get(
    "/{document_hash}",
    response_class=Response,
    response_model=None,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "The document's bytes."}},
)
def milestone_evidence_document(
    procurement: ChainProcurement,
    milestone_id: MilestoneId,
    document_hash: DocumentHash,
    state: StateDep,
    db: SessionDep,
) -> Response:
    """Download a document of a milestone's evidence (submitted, or in a bundle submitted), re-verified against its
    hash: for whoever may see the procurement."""
    digest = parse_digest(document_hash)
    base = _base(procurement, milestone_id)
    listed = {
        d.document_hash.lower(): d
        for row in _submissions(db, state, procurement.escrow, milestone_id)
        for d in _documents(db, state, base, row, procurement.terms.supplier_org)[1]
    }
    found = listed.get("0x" + digest)
    document = db.get(Document, digest)
    if found is None or document is None:
        raise NotFound(f"no document 0x{digest} in the evidence of milestone {milestone_id} of this procurement")
    data = state.store.read_verified(digest, document.size)
    return Response(
        content=data,
        media_type=found.content_type,
        headers={
            "ETag": f'"sha256-{digest}"',
            "Repr-Digest": f"sha-256=:{base64.b64encode(bytes.fromhex(digest)).decode()}:",
            "Content-Disposition": "attachment",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, max-age=0",
        },
    )
