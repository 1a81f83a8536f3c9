"""Evidence documents in the content-addressed store."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from gateway.schemas.common import Address, ApiModel, BlockTime, Bytes32

__all__ = ["DocumentPublic", "EvidenceDocumentPublic", "SubmissionPublic", "SubmissionsPublic"]


class DocumentPublic(ApiModel):
    """A stored document: submit ``documentHash`` and ``uri`` with SubmitEvidence."""

    document_hash: Bytes32 = Field(description="SHA-256 of the content, 0x-prefixed: the on-chain documentHash.")
    uri: str = Field(description="RFC 6920 ni: URI naming the content by its hash.")
    size: int = Field(description="Size in bytes.")
    content_type: str
    filename: str | None
    uploaded_by: Address
    uploaded_at: dt.datetime


class EvidenceDocumentPublic(ApiModel):
    """One document of a submission: the submitted document itself, or a member of the bundle submitted."""

    document_hash: Bytes32 = Field(description="SHA-256 of the document, 0x-prefixed.")
    filename: str | None
    content_type: str
    size: int
    download_url: str = Field(description="Where the parties who may see the procurement download it.")


class SubmissionPublic(ApiModel):
    """Evidence submitted on chain for one round of a milestone, with its documents."""

    milestone_id: int
    round: int
    supplier: Address
    document_hash: Bytes32 = Field(description="The hash on chain: the document, or the bundle's manifest.")
    uri: str
    bundle: bool = Field(description="Whether the submitted document is a bundle manifest listing several documents.")
    block_number: int
    block_time: BlockTime = None
    tx_hash: Bytes32
    documents: list[EvidenceDocumentPublic]


class SubmissionsPublic(ApiModel):
    """A milestone's evidence submissions, oldest round first."""

    data: list[SubmissionPublic]
    count: int
