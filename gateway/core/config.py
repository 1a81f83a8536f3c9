"""The gateway's one settings object, read from ``PROCURE_*`` environment variables (never secrets in defaults)."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from chain.connection import DEFAULT_RPC_URL
from chain.deployment import var_dir_from_env
from indexer.schema import default_url

__all__ = ["DEFAULT_CONTENT_TYPES", "Settings"]

MIB = 1024 * 1024
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")

# What evidence documents may be: the deliverables' documents, test data and reports.
DEFAULT_CONTENT_TYPES = (
    "application/pdf",
    "application/json",
    "application/xml",
    "application/zip",
    "application/octet-stream",
    "text/plain",
    "text/csv",
    "image/png",
    "image/jpeg",
)


class Settings(BaseSettings):
    """Everything the gateway can be told; each field maps to ``PROCURE_<FIELD>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="PROCURE_", extra="ignore", frozen=True, populate_by_name=True)

    rpc_url: str = Field(default=DEFAULT_RPC_URL, description="Ethereum JSON-RPC URL of the ledger's node.")
    var_dir: Path = Field(
        default_factory=var_dir_from_env,
        validation_alias=AliasChoices("PROCURE_VAR", "PROCURE_VAR_DIR"),
        description="The project's var/ directory (deployment manifests, evidence store, database).",
    )
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("PROCURE_DB_URL", "PROCURE_DATABASE_URL", "database_url"),
        description="SQLAlchemy URL of the mirror and the gateway's tables (the indexer's); default sqlite under var/.",
    )
    relayer_keystore: Path | None = Field(
        default=None, description="Encrypted keystore of the relayer account that pays gas for signed actions."
    )
    relayer_keystore_password: SecretStr | None = Field(default=None, description="Password of the relayer keystore.")
    relayer_lease_s: float = Field(
        default=10.0,
        ge=4.0,
        le=300.0,
        description=(
            "Seconds without a heartbeat after which another gateway may take over this gateway's relayer (one live "
            "gateway per relayer account; a gateway killed and restarted waits this long at most)."
        ),
    )

    host: str = Field(default="127.0.0.1", description="Address to bind; loopback unless a proxy fronts the gateway.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port to bind.")
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description=(
            "Addresses or networks (CIDR) of the reverse proxies in front of the gateway, comma-separated: only "
            "from these is X-Forwarded-For believed. Empty: the client address is the socket's peer."
        ),
    )
    cors_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description=(
            "Origins (scheme://host[:port]) whose web pages may call the API from a browser, comma-separated; "
            "'*' for any. Empty: no CORS headers at all."
        ),
    )

    siwe_domain: str = Field(
        default="localhost:8000", description="The RFC 3986 authority every Sign-In with Ethereum message must name."
    )
    siwe_uri: str = Field(default="http://localhost:8000", description="The URI every sign-in message must name.")
    siwe_statement: str = Field(
        default="Sign in to the procurement ledger gateway.", description="The statement offered in sign-in messages."
    )
    siwe_nonce_secret: SecretStr | None = Field(
        default=None,
        description=(
            "Key that signs sign-in nonces (32+ characters). Unset: a random key per process, so nonces do not "
            "survive a restart; set the same key on every process that shares the gateway's database."
        ),
    )
    siwe_nonce_ttl_s: int = Field(
        default=300, ge=10, le=3600, description="How long an issued sign-in nonce stays usable."
    )
    siwe_clock_skew_s: int = Field(default=60, ge=0, le=600, description="Tolerated clock skew for issued-at times.")
    sign_in_rate_per_minute: int = Field(
        default=60,
        ge=0,
        le=100_000,
        description="Sign-in nonces and sign-in attempts per minute per client address (0: unlimited).",
    )
    sign_in_burst: int = Field(
        default=20, ge=1, le=100_000, description="Sign-in requests a client address may make at once."
    )
    session_ttl_s: int = Field(default=3600, ge=60, le=7 * 86_400, description="Lifetime of a session token.")

    action_deadline_s: int = Field(
        default=3600,
        ge=60,
        le=30 * 86_400,
        description="Deadline offered in typed data, seconds after the chain's time.",
    )
    wait_timeout_s: float = Field(default=60.0, gt=0, le=600, description="How long ?wait=true waits for the mirror.")

    evidence_max_bytes: int = Field(default=25 * MIB, ge=1, le=1024 * MIB, description="Largest evidence document.")
    evidence_content_types: Annotated[tuple[str, ...], NoDecode] = Field(
        default=DEFAULT_CONTENT_TYPES, description="Content types accepted for evidence documents."
    )
    json_max_bytes: int = Field(
        default=256 * 1024, ge=1024, description="Largest request body outside evidence uploads."
    )
    page_size_max: int = Field(default=500, ge=1, le=10_000, description="Largest page a list endpoint returns.")

    ocid_prefix: str = Field(
        default="ocds-b5fd17",
        pattern=r"^ocds-[a-z0-9]{6}$",
        description="The OCDS publisher's ocid prefix, for procurements without a registered spec.",
    )
    spec_dir: Path | None = Field(
        default=None,
        description="Spec files the procurements were created from (OCDS ocids, milestone titles, classified "
        "fields); default var/specs and the project's scripts/examples.",
    )
    flags_thresholds: Path | None = Field(
        default=None,
        description="The red flags' thresholds file (every rule's every key); default indexer/flags/thresholds.toml.",
    )
    flags_refresh_s: float = Field(
        default=60.0,
        ge=0,
        le=86_400,
        description="Red flags are computed again (in the background) at most this often once the mirror moved.",
    )
    publisher_name: str = Field(default="Procurement ledger", min_length=1, description="The OCDS publisher's name.")
    metrics_token: SecretStr | None = Field(
        default=None,
        description="When set, GET /metrics requires 'Authorization: Bearer <token>' (a Prometheus scrape secret).",
    )
    log_level: str = Field(default="INFO", description="Logging level of the gateway's structured logs.")

    @field_validator("evidence_content_types", mode="before")
    @classmethod
    def _split_content_types(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip().lower() for part in value.split(",") if part.strip())
        return value

    @field_validator("trusted_proxies", "cors_origins", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network") from None
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for origin in value:
            if origin != "*" and not _ORIGIN.match(origin):
                raise ValueError(f"{origin!r} is not an origin like https://dashboard.example.go.jp[:port]")
        return value

    @field_validator("siwe_nonce_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("the nonce secret must be at least 32 characters")
        return value

    @property
    def evidence_dir(self) -> Path:
        """The content-addressed evidence store."""
        return self.var_dir / "evidence"

    @property
    def effective_database_url(self) -> str:
        """The database URL, defaulting to the indexer's (``var/ledger.db``), whose mirror the gateway reads."""
        return self.database_url or default_url(self.var_dir)
