"""``?wait=true``: a POST waits for its relay's receipt (a revert is then the error response), then for the mirror
to cover the receipt's block, and answers 200 with the procurement's state read from the chain."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from gateway.errors import UpstreamTimeout
from gateway.relay.in_flight import Relay
from indexer.cursor import mirror_version

if TYPE_CHECKING:
    from gateway.relay.pipeline import RelayPipeline

__all__ = ["wait_for_mirror", "wait_for_receipt"]

_MIRROR_POLL_S = 0.1


def wait_for_receipt(pipeline: RelayPipeline, relay: Relay, status_url: str) -> Relay:
    """``relay`` once mined (whichever gateway sent it); its ContractRevert or TransactionFailed if it reverted;
    504 on timeout."""
    relay = pipeline.wait(relay, pipeline.receipt_timeout_s)
    if relay.status == "pending":
        raise UpstreamTimeout(f"no receipt for {relay.tx_hash} yet: poll {status_url}", txHash=relay.tx_hash)
    if relay.error is not None:
        raise relay.error
    return relay


def wait_for_mirror(db: Session, chain_id: int, block_number: int, timeout_s: float) -> bool | None:
    """Wait until the mirror covers ``block_number``: True, or False on timeout; None if there is no mirror of
    this chain at all."""
    give_up = time.monotonic() + timeout_s
    while True:
        db.expire_all()
        version = mirror_version(db, chain_id)
        if version is None:
            return None
        if version.block_number >= block_number:
            return True
        if time.monotonic() >= give_up:
            return False
        time.sleep(_MIRROR_POLL_S)
