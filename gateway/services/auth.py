"""Sign-In with Ethereum: single-use nonces, message verification, and opaque session tokens.

A nonce is stateless: its expiry and 10 random bytes, signed with the gateway's key (HMAC-SHA256, truncated to
14 bytes), as 64 hex digits. Issuing one stores nothing, so no number of nonce requests can fill a pool and
lock others out of signing in; only a sign-in whose message and signature check out records its nonce as used
(a unique key: a second use, even a concurrent one, is refused), and expired records are pruned.

A session token is 32 random bytes given to the client once; only its SHA-256 is stored, so a copy of the
database cannot be replayed as a session. Roles are not stored with the session: they are looked up on
every request (see gateway.deps), so a revocation takes effect at once. ``check`` reads the session and the
mirror's version in one query, so that the role lookup can be served from a cache keyed by that version.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import bindparam, delete, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from gateway.core.config import Settings
from gateway.errors import AccountNotPermitted, NotAuthenticated, SignInFailed
from gateway.identity import Directory, MirrorVersion, Principal
from gateway.models import SessionRecord, SiweNonce
from gateway.siwe import SiweError, SiweMessage, recover_address
from indexer.cursor import with_mirror_version

__all__ = ["AuthService", "IssuedNonce", "LiveSession", "SignedIn", "token_hash"]

_NONCE_CONTEXT = b"procure siwe nonce v1"
_NONCE_RANDOM_BYTES = 10
_NONCE_MAC_BYTES = 14


def token_hash(token: str) -> str:
    """What is stored for a session token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class IssuedNonce:
    """A nonce and its expiry (unix seconds)."""

    nonce: str
    expires_at: int


@dataclass(frozen=True)
class SignedIn:
    """A new session."""

    token: str
    expires_at: int
    principal: Principal


@dataclass(frozen=True)
class LiveSession:
    """A live session's address, with the mirror's version read in the same query (None: not synced)."""

    address: str
    mirror: MirrorVersion | None


_sessions = SessionRecord.__table__


class AuthService:
    """Issues nonces, verifies sign-in messages, creates and checks sessions."""

    def __init__(self, settings: Settings, chain_id: int, clock: Callable[[], float]) -> None:
        self.settings = settings
        self.chain_id = chain_id
        self.clock = clock
        secret = settings.siwe_nonce_secret
        self._nonce_key = secrets.token_bytes(32) if secret is None else secret.get_secret_value().encode()
        self._session_only = select(_sessions.c.address, _sessions.c.expires_at, _sessions.c.revoked_at).where(
            _sessions.c.token_hash == bindparam("token_hash")
        )
        self._session_and_mirror = with_mirror_version(self._session_only, chain_id)

    def _now(self) -> int:
        return int(self.clock())

    def _nonce_mac(self, payload: bytes) -> bytes:
        return hmac.new(self._nonce_key, _NONCE_CONTEXT + payload, hashlib.sha256).digest()[:_NONCE_MAC_BYTES]

    def issue_nonce(self) -> IssuedNonce:
        """A fresh single-use nonce: its expiry and random bytes, signed (nothing is stored)."""
        expires_at = self._now() + self.settings.siwe_nonce_ttl_s
        payload = expires_at.to_bytes(8, "big") + secrets.token_bytes(_NONCE_RANDOM_BYTES)
        return IssuedNonce(nonce=(payload + self._nonce_mac(payload)).hex(), expires_at=expires_at)

    def _nonce_expiry(self, nonce: str, now: int) -> int:
        """The expiry of a nonce this gateway issued and that has not expired; SignInFailed otherwise."""
        size = 8 + _NONCE_RANDOM_BYTES + _NONCE_MAC_BYTES
        try:
            raw = bytes.fromhex(nonce) if len(nonce) == 2 * size and nonce == nonce.lower() else b""
        except ValueError:
            raw = b""
        payload, mac = raw[: size - _NONCE_MAC_BYTES], raw[size - _NONCE_MAC_BYTES :]
        if not raw or not hmac.compare_digest(mac, self._nonce_mac(payload)):
            raise SignInFailed("the nonce was not issued by this gateway: ask for a new one (GET /auth/nonce)")
        expires_at = int.from_bytes(payload[:8], "big")
        if expires_at <= now:
            raise SignInFailed("the nonce has expired: ask for a new one")
        return expires_at

    def sign_in(self, db: Session, text: str, signature: bytes, directory: Directory) -> SignedIn:
        """Verify a signed EIP-4361 message, consume its nonce, and open a session for its address."""
        try:
            message = SiweMessage.parse(text)
        except SiweError as exc:
            raise SignInFailed(f"malformed sign-in message: {exc}") from None
        now = self._now()
        self._check_message(message, now)
        nonce_expires_at = self._nonce_expiry(message.nonce, now)
        try:
            recovered = recover_address(text, signature)
        except SiweError as exc:
            raise SignInFailed(str(exc)) from None
        if recovered != message.address:
            raise SignInFailed("the signature does not match the message's address")
        db.execute(delete(SiweNonce).where(SiweNonce.expires_at <= now))
        issued_at = nonce_expires_at - self.settings.siwe_nonce_ttl_s
        db.add(SiweNonce(nonce=message.nonce, issued_at=issued_at, expires_at=nonce_expires_at, used_at=now))
        try:
            db.commit()
        except IntegrityError:
            db.rollback()
            raise SignInFailed("the nonce was already used: ask for a new one") from None
        principal = directory.lookup(message.address)
        if not principal.known:
            raise AccountNotPermitted(f"{message.address} holds no active role in the registry")
        expires_at = now + self.settings.session_ttl_s
        if message.expiration_time is not None:
            expires_at = min(expires_at, int(message.expiration_time.timestamp()))
        token = secrets.token_urlsafe(32)
        db.add(
            SessionRecord(
                token_hash=token_hash(token),
                address=message.address,
                created_at=now,
                expires_at=expires_at,
                revoked_at=None,
            )
        )
        db.execute(delete(SessionRecord).where(SessionRecord.expires_at < now))
        db.commit()
        return SignedIn(token=token, expires_at=expires_at, principal=principal)

    def _check_message(self, message: SiweMessage, now: int) -> None:
        settings = self.settings
        expected, given = urlsplit(settings.siwe_uri), urlsplit(message.uri)
        if message.scheme is not None and message.scheme.lower() != expected.scheme:
            raise SignInFailed(f"the message is for scheme {message.scheme!r}; this gateway is {expected.scheme}")
        if message.domain != settings.siwe_domain:
            raise SignInFailed(f"the message is for domain {message.domain!r}, not {settings.siwe_domain!r}")
        if (given.scheme, given.netloc) != (expected.scheme, expected.netloc):
            raise SignInFailed(f"the message's URI {message.uri!r} is not on {settings.siwe_uri!r}")
        if message.chain_id != self.chain_id:
            raise SignInFailed(f"the message is for chain {message.chain_id}, not {self.chain_id}")
        skew = settings.siwe_clock_skew_s
        issued = message.issued_at.timestamp()
        if issued > now + skew:
            raise SignInFailed("the message was issued in the future")
        if issued < now - settings.siwe_nonce_ttl_s - skew:
            raise SignInFailed("the message was issued too long ago")
        if message.expiration_time is not None and message.expiration_time.timestamp() <= now:
            raise SignInFailed("the message has expired")
        if message.not_before is not None and message.not_before.timestamp() > now + skew:
            raise SignInFailed("the message is not valid yet")

    def authenticate(self, db: Session, token: str) -> SessionRecord:
        """The live session of a bearer token; NotAuthenticated otherwise."""
        if not token or len(token) > 256:
            raise NotAuthenticated("missing or malformed bearer token")
        record = db.get(SessionRecord, token_hash(token))
        if record is None or record.revoked_at is not None:
            raise NotAuthenticated("unknown or ended session: sign in again")
        if record.expires_at <= self._now():
            raise NotAuthenticated("the session has expired: sign in again")
        return record

    def check(self, db: Session | Connection, token: str) -> LiveSession:
        """The live session of a bearer token and the mirror's version, in one query; NotAuthenticated otherwise."""
        if not token or len(token) > 256:
            raise NotAuthenticated("missing or malformed bearer token")
        params = {"token_hash": token_hash(token)}
        mirror: MirrorVersion | None = None
        row: Any  # a Row of either statement, or None
        try:
            row = db.execute(self._session_and_mirror, params).first()
            if row is not None:
                mirror = MirrorVersion.of(row)
        except SQLAlchemyError:  # the indexer's tables do not exist (an app built without migrating)
            db.rollback()
            row = db.execute(self._session_only, params).first()
        if row is None or row.revoked_at is not None:
            raise NotAuthenticated("unknown or ended session: sign in again")
        if row.expires_at <= self._now():
            raise NotAuthenticated("the session has expired: sign in again")
        return LiveSession(address=row.address, mirror=mirror)

    def sign_out(self, db: Session, record: SessionRecord) -> None:
        """End a session."""
        record.revoked_at = self._now()
        db.commit()

    @staticmethod
    def as_datetime(unix: int) -> dt.datetime:
        """Unix seconds as an aware UTC datetime."""
        return dt.datetime.fromtimestamp(unix, tz=dt.UTC)
