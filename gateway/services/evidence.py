"""Evidence documents: the content-addressed store under var/evidence/, and who uploaded what.

Content is stored once per SHA-256 (``Document``), but every account that uploads it gets its own record
(``Upload``: its filename, content type, organization, time). What a reader is shown of a document is a
record it is entitled to, never another organization's: its own upload; else one of its organization's; else,
if the document was submitted as evidence on a procurement the reader may see (or the reader is an auditor),
the record of the submitting supplier (or its organization). Anyone else gets a 404, as if the document did
not exist.

Writes are atomic (a temporary file in the same file system, fsynced, then renamed into place), so a reader
never sees half a document. Reads re-hash the exact bytes served: a file changed on disk is reported as
corrupted and never served as valid.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.errors import EvidenceCorrupted, InvalidInput, NotFound, PayloadTooLarge
from gateway.evidence_bundle import MAX_MANIFEST_BYTES, BundleMember, bundle_members
from gateway.identity import Principal
from gateway.models import Document, Upload

__all__ = [
    "EvidenceStore",
    "bundled",
    "parse_digest",
    "readable_upload",
    "record_upload",
    "uploaded_by_organization",
]

_CHUNK = 1024 * 1024
_HEX = re.compile(r"^(0x)?([0-9a-fA-F]{64})$")


def parse_digest(value: str) -> str:
    """A SHA-256 given as 64 hex digits (optionally 0x-prefixed), normalized to lowercase without prefix."""
    match = _HEX.match(value)
    if match is None:
        raise InvalidInput("a document hash is 64 hex digits (SHA-256), optionally 0x-prefixed")
    return match.group(2).lower()


class EvidenceStore:
    """Documents on disk at ``<root>/sha256/<first two hex digits>/<hex digest>``."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self._objects = root / "sha256"
        self._tmp = root / "tmp"

    def path_for(self, digest_hex: str) -> Path:
        """Where a document lives."""
        digest_hex = parse_digest(digest_hex)
        return self._objects / digest_hex[:2] / digest_hex

    def put(self, stream: BinaryIO) -> tuple[str, int]:
        """Store a document read from ``stream``; returns its hex SHA-256 and size. PayloadTooLarge past the limit."""
        self._tmp.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp, prefix="upload-")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(_CHUNK):
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise PayloadTooLarge(f"the document exceeds {self.max_bytes} bytes", limit=self.max_bytes)
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            hex_digest = digest.hexdigest()
            final = self.path_for(hex_digest)
            if final.exists() and self._digest_of(final) == hex_digest:
                tmp.unlink()
                return hex_digest, size
            final.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(tmp, 0o440)
            os.replace(tmp, final)  # atomic: replaces a missing or corrupted copy
            self._fsync_dir(final.parent)
            return hex_digest, size
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def read_verified(self, digest_hex: str, expected_size: int) -> bytes:
        """The document's bytes, re-hashed: EvidenceCorrupted if they no longer match, NotFound if missing."""
        digest_hex = parse_digest(digest_hex)
        path = self.path_for(digest_hex)
        try:
            if path.stat().st_size != expected_size:
                raise EvidenceCorrupted(f"stored document {digest_hex} changed size on disk: it is not served")
            data = path.read_bytes()
        except FileNotFoundError:
            raise NotFound(f"document {digest_hex} is not in the store") from None
        if hashlib.sha256(data).hexdigest() != digest_hex:
            raise EvidenceCorrupted(
                f"stored document {digest_hex} no longer matches its hash: it was changed on disk and is not served"
            )
        return data

    def _digest_of(self, path: Path) -> str:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
        return digest.hexdigest()

    @staticmethod
    def _fsync_dir(path: Path) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def record_upload(
    db: Session, digest: str, size: int, account: Principal, filename: str | None, content_type: str, now: int
) -> tuple[Upload, Document]:
    """Record the content once and ``account``'s own upload of it (a re-upload replaces its metadata)."""
    for _ in range(2):  # a concurrent upload of the same bytes may insert first: then read what it wrote
        document = db.get(Document, digest)
        if document is None:
            document = Document(sha256=digest, size=size, stored_at=now)
            db.add(document)
        upload = db.scalars(
            select(Upload).where(Upload.sha256 == digest, Upload.uploaded_by == account.address)
        ).first()
        if upload is None:
            upload = Upload(sha256=digest, uploaded_by=account.address)
            db.add(upload)
        upload.uploader_org = account.organization
        upload.filename = filename
        upload.content_type = content_type
        upload.uploaded_at = now
        try:
            db.commit()
            return upload, document
        except IntegrityError:
            db.rollback()
    raise RuntimeError(f"could not record the upload of {digest}")  # pragma: no cover - two races in a row


def _first(uploads: Sequence[Upload], keep: Callable[[Upload], bool]) -> Upload | None:
    return next((upload for upload in uploads if keep(upload)), None)


def readable_upload(
    db: Session, account: Principal, digest: str, submitters: Callable[[], list[tuple[str, str]]]
) -> tuple[Upload, Document]:
    """The upload record ``account`` is shown for a document, by the rule of the module docstring; NotFound
    if there is none. ``submitters()`` lists the (supplier, organization code) of the document's submissions
    as evidence on procurements the account may see (asked only when its own records do not decide)."""
    document = db.get(Document, digest)
    uploads = list(db.scalars(select(Upload).where(Upload.sha256 == digest).order_by(Upload.id))) if document else []
    own = _first(uploads, lambda u: u.uploaded_by == account.address) or _first(
        uploads, lambda u: account.organization is not None and u.uploader_org == account.organization
    )
    if own is None and uploads:
        suppliers = submitters()
        addresses, organizations = {a for a, _ in suppliers}, {o for _, o in suppliers}
        own = _first(uploads, lambda u: u.uploaded_by in addresses) or _first(
            uploads, lambda u: u.uploader_org in organizations
        )
        if own is None and account.is_auditor:
            own = uploads[0]
    if own is None or document is None:
        raise NotFound(f"no document {digest}")
    return own, document


def uploaded_by_organization(db: Session, digest: str, account: Principal) -> bool:
    """True if ``account`` or an account of its organization uploaded the document."""
    mine = Upload.uploaded_by == account.address
    condition = mine if account.organization is None else or_(mine, Upload.uploader_org == account.organization)
    return db.scalars(select(Upload.id).where(Upload.sha256 == digest, condition).limit(1)).first() is not None


def bundled(db: Session, store: EvidenceStore, document_hash: str) -> list[BundleMember]:
    """The members of the bundle manifest stored under ``document_hash`` (0x-hex); empty if it is not one."""
    digest = parse_digest(document_hash)
    document = db.get(Document, digest)
    if document is None or document.size > MAX_MANIFEST_BYTES:  # an ordinary document: not read at all
        return []
    try:
        return bundle_members(store.read_verified(digest, document.size)) or []
    except (NotFound, EvidenceCorrupted):
        return []
