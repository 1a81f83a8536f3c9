"""Idempotency-Key: a retried POST returns the first answer instead of acting twice.

A key is scoped to the signed-in account. The first request reserves it (a row with no response yet, under a
unique constraint, so two concurrent requests cannot both act); its answer is stored as soon as the
transaction is sent (a retry then returns that transaction, with its status at the time of the retry). The
same key with a different body is refused (422); while the first is still running, 409. A request that fails
before anything reaches the chain releases the key, so a corrected retry may use it again.

Several gateways share the keys. A reservation names the gateway process that made it: if that process died
before answering (its relayer lease gone, or silent for ``stale_s``), a retry at another gateway takes the
reservation over after ``stale_s`` instead of waiting ``ABANDONED_AFTER_S``. (Had the dead one sent the
transaction already, the retry's signature meets a used nonce and is refused: nothing is sent twice.)
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.errors import IdempotencyInProgress, IdempotencyKeyReused, InvalidInput
from gateway.models import IdempotencyRecord, RelayerLease

__all__ = ["IdempotencyService", "fingerprint"]

_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
ABANDONED_AFTER_S = 600


def fingerprint(method: str, path: str, body: Any) -> str:
    """A digest of what the request asks for (method, path, canonical JSON body)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


class IdempotencyService:
    """Reserve, replay, store and release Idempotency-Keys."""

    def __init__(self, clock: Callable[[], float], holder: str = "", stale_s: float = 30.0) -> None:
        self.clock = clock
        self.holder = holder  # this gateway process (gateway.relay.lease.holder_id)
        self.stale_s = stale_s

    @staticmethod
    def check_key(key: str) -> str:
        """The key, if well-formed (1 to 255 visible ASCII characters)."""
        if not _KEY.match(key):
            raise InvalidInput("Idempotency-Key must be 1 to 255 visible ASCII characters")
        return key

    def reserve(self, db: Session, account: str, key: str, digest: str) -> dict[str, Any] | None:
        """Reserve the key; or return the stored answer of the first request with it."""
        now = int(self.clock())
        db.add(IdempotencyRecord(account=account, key=key, fingerprint=digest, created_at=now, gateway=self.holder))
        try:
            db.commit()
            return None
        except IntegrityError:
            db.rollback()
        existing = db.scalars(
            select(IdempotencyRecord).where(IdempotencyRecord.account == account, IdempotencyRecord.key == key)
        ).one()
        if existing.fingerprint != digest:
            raise IdempotencyKeyReused("this Idempotency-Key was already used with a different request")
        if existing.response is None:
            if existing.created_at < now - ABANDONED_AFTER_S or self._dead(db, existing, now):
                existing.created_at = now  # the first request died: this one takes over
                existing.gateway = self.holder
                db.commit()
                return None
            raise IdempotencyInProgress("a request with this Idempotency-Key is still being processed")
        stored: dict[str, Any] = json.loads(existing.response)
        return stored

    def _dead(self, db: Session, record: IdempotencyRecord, now: int) -> bool:
        """Whether the gateway that reserved ``record`` died before answering: it reserved it ``stale_s`` ago and
        holds no relayer lease it beat in the last ``stale_s`` (a restart took its relayer over, or it is silent)."""
        if record.gateway is None or record.gateway == self.holder or record.created_at >= now - self.stale_s:
            return False
        alive = db.scalar(
            select(exists().where(RelayerLease.holder == record.gateway, RelayerLease.beat_at >= now - self.stale_s))
        )
        return not alive

    def lookup(self, db: Session, account: str, key: str) -> dict[str, Any] | None:
        """The stored answer of the request made with this key, if it acted."""
        response = db.scalar(
            select(IdempotencyRecord.response).where(IdempotencyRecord.account == account, IdempotencyRecord.key == key)
        )
        if response is None:
            return None
        stored: dict[str, Any] = json.loads(response)
        return stored

    def store(self, db: Session, account: str, key: str, status_code: int, response: dict[str, Any]) -> None:
        """Record the first request's answer."""
        record = db.scalars(
            select(IdempotencyRecord).where(IdempotencyRecord.account == account, IdempotencyRecord.key == key)
        ).one()
        record.status_code = status_code
        record.response = json.dumps(response, separators=(",", ":"))
        db.commit()

    def release(self, db: Session, account: str, key: str) -> None:
        """Forget a reservation whose request failed before acting."""
        db.rollback()
        db.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.account == account,
                IdempotencyRecord.key == key,
                IdempotencyRecord.response.is_(None),
            )
        )
        db.commit()
