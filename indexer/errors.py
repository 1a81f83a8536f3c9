"""The indexer's errors: the mirror cannot be written or trusted as asked."""

from __future__ import annotations

from chain.errors import LedgerError

__all__ = ["IndexerBusy", "IndexerError", "LockLost"]


class IndexerError(LedgerError):
    """The mirror cannot be written or trusted as asked."""


class IndexerBusy(IndexerError):
    """Another indexer holds this database (``holder``: its owner, when known)."""

    def __init__(self, message: str, holder: str | None = None) -> None:
        super().__init__(message)
        self.holder = holder


class LockLost(IndexerError):
    """This indexer's lock was taken over (it stalled past the lock's lifetime)."""
