"""Sign-In with Ethereum and sessions."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from gateway.schemas.common import Address, ApiModel, Signature, Yen

__all__ = ["AccountPublic", "NoncePublic", "SessionPublic", "SignInCreate", "SignOutPublic"]


class NoncePublic(ApiModel):
    """A single-use sign-in nonce and what the message must say."""

    nonce: str = Field(description="Put this in the message's Nonce line; usable once.")
    expires_at: dt.datetime = Field(description="The nonce is refused after this time.")
    domain: str = Field(description="The domain the message must name.")
    uri: str = Field(description="The URI the message must name.")
    chain_id: int = Field(description="The chain id the message must name.")
    statement: str = Field(description="The suggested statement.")
    version: str = Field(default="1", description="The EIP-4361 version.")


class SignInCreate(ApiModel):
    """An EIP-4361 message and its personal_sign signature."""

    message: str = Field(min_length=1, max_length=4096, description="The exact signed message text.")
    signature: Signature


class AccountPublic(ApiModel):
    """An account as the gateway sees it now."""

    address: Address
    organization: str | None = Field(description="Code of the account's organization, e.g. MOD.")
    organization_kind: str | None = Field(description="ministry, supplier, evaluation_body, review_body, audit_body.")
    roles: list[str] = Field(description="Active ledger roles, e.g. PROCUREMENT_OFFICER_ROLE.")
    registry_admin: bool = Field(
        default=False, description="Whether the account is the registry admin (signs the registry's acts)."
    )
    balance: Yen | None = Field(default=None, description="Yen deposit tokens held, read from the chain.")


class SessionPublic(ApiModel):
    """A session: send ``token`` as ``Authorization: Bearer <token>``."""

    token: str = Field(description="Opaque bearer token (only its hash is stored).")
    token_type: str = Field(default="Bearer", description="Always Bearer.")
    expires_at: dt.datetime
    account: AccountPublic


class SignOutPublic(ApiModel):
    """The session was ended."""

    signed_out: bool = True
