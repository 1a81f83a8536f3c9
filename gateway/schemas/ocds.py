"""Query parameters of the OCDS routes (any other is refused: 422 naming it)."""

from __future__ import annotations

from pydantic import Field

from gateway.schemas.common import ApiModel
from gateway.services.ocds import OCDS_CURSOR_PATTERN

__all__ = ["MAX_OCDS_PAGE", "OcdsPageQuery", "OcdsRecordQuery"]

MAX_OCDS_PAGE = 100  # procurements per page: each brings every release it has


class OcdsPageQuery(ApiModel):
    """A page of procurements."""

    cursor: str | None = Field(
        None,
        pattern=OCDS_CURSOR_PATTERN,
        max_length=96,
        description="Start after this procurement: the X-Next-Cursor of the previous page (omit to start).",
    )
    limit: int = Field(10, ge=1, le=10_000, description=f"Procurements per page (at most {MAX_OCDS_PAGE}).")


class OcdsRecordQuery(ApiModel):
    """One procurement's record takes no query parameter."""
