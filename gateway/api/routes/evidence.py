"""Evidence documents: upload into the content-addressed store, read back (role-checked and re-verified)."""

from __future__ import annotations

import base64
import re
from typing import Annotated

from fastapi import APIRouter, File, Path, Response, UploadFile
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from chain import ni_uri
from gateway.core.state import GatewayState
from gateway.deps import CurrentAccount, SessionDep, StateDep, UploaderAccount
from gateway.errors import ServiceUnavailable, UnsupportedMediaType
from gateway.identity import Principal
from gateway.models import Document, Upload
from gateway.schemas.evidence import DocumentPublic
from gateway.services.auth import AuthService
from gateway.services.evidence import parse_digest, readable_upload, record_upload
from gateway.services.reads import Reader

router = APIRouter(prefix="/evidence", tags=["evidence"])

DocumentHash = Annotated[
    str, Path(pattern=r"^(0x)?[0-9a-fA-F]{64}$", description="SHA-256 of the document (64 hex digits).")
]
_CONTENT_TYPE = re.compile(r"^[a-z0-9!#$&^_.+-]{1,63}/[a-z0-9!#$&^_.+-]{1,63}$")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]")


def _public(upload: Upload, document: Document) -> DocumentPublic:
    return DocumentPublic(
        document_hash="0x" + document.sha256,
        uri=ni_uri(document.sha256),
        size=document.size,
        content_type=upload.content_type,
        filename=upload.filename,
        uploaded_by=upload.uploaded_by,
        uploaded_at=AuthService.as_datetime(upload.uploaded_at),
    )


def _content_type(upload: UploadFile, state: GatewayState) -> str:
    declared = (upload.content_type or "application/octet-stream").split(";")[0].strip().lower()
    if not _CONTENT_TYPE.match(declared) or declared not in state.settings.evidence_content_types:
        accepted = ", ".join(state.settings.evidence_content_types)
        raise UnsupportedMediaType(
            f"content type {declared[:80]!r} is not accepted for evidence (accepted: {accepted})"
        )
    return declared


@router.post("", response_model=DocumentPublic, status_code=201)
def upload_document(
    file: Annotated[UploadFile, File(description="The document.")],
    account: UploaderAccount,
    state: StateDep,
    db: SessionDep,
) -> DocumentPublic:
    """Store a document by its SHA-256 (multipart upload); submit its hash with SubmitEvidence."""
    content_type = _content_type(file, state)
    digest, size = state.store.put(file.file)
    filename = None if file.filename is None else _SAFE_NAME.sub("_", file.filename)[:255] or None
    upload, document = record_upload(db, digest, size, account, filename, content_type, int(state.clock()))
    return _public(upload, document)


def _readable(db: Session, state: GatewayState, account: Principal, digest: str) -> tuple[Upload, Document]:
    """The document's record as this account may see it (gateway.services.evidence), else 404."""

    def submitters() -> list[tuple[str, str]]:
        reader = Reader(db, state.ledger.chain_id, account)
        try:
            return [] if reader.mirrored_block() is None else reader.evidence_submitters("0x" + digest)
        except SQLAlchemyError as exc:  # the mirror's tables may not exist yet
            raise ServiceUnavailable("the mirror is not available to check who may read this document") from exc

    return readable_upload(db, account, digest, submitters)


@router.get("/{document_hash}/meta", response_model=DocumentPublic)
def document_meta(
    document_hash: DocumentHash, account: CurrentAccount, state: StateDep, db: SessionDep
) -> DocumentPublic:
    """A stored document's hash and size, and the upload record you may see: your own, your organization's,
    or the submitting supplier's."""
    return _public(*_readable(db, state, account, parse_digest(document_hash)))


@router.get(
    "/{document_hash}",
    response_class=Response,
    response_model=None,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "The document's bytes."}},
)
def download_document(
    document_hash: DocumentHash, account: CurrentAccount, state: StateDep, db: SessionDep
) -> Response:
    """Download a document, re-verified against its hash (a document changed on disk is a 409, never served)."""
    digest = parse_digest(document_hash)
    upload, document = _readable(db, state, account, digest)
    data = state.store.read_verified(digest, document.size)
    return Response(
        content=data,
        media_type=upload.content_type,
        headers={
            "ETag": f'"sha256-{digest}"',
            "Repr-Digest": f"sha-256=:{base64.b64encode(bytes.fromhex(digest)).decode()}:",
            "Content-Disposition": "attachment",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, max-age=0",
        },
    )
