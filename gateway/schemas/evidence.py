"""Evidence documents in the content-addressed store."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from gateway.schemas.common import Address, ApiModel, Bytes32

__all__ = ["DocumentPublic"]


class DocumentPublic(ApiModel):
    """A stored document: submit ``documentHash`` and ``uri`` with SubmitEvidence."""

    document_hash: Bytes32 = Field(description="SHA-256 of the content, 0x-prefixed: the on-chain documentHash.")
    uri: str = Field(description="RFC 6920 ni: URI naming the content by its hash.")
    size: int = Field(description="Size in bytes.")
    content_type: str
    filename: str | None
    uploaded_by: Address
    uploaded_at: dt.datetime
