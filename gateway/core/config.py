"""The gateway's one settings object, read from ``PROCURE_*`` environment variables (never secrets in defaults)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from chain.connection import DEFAULT_RPC_URL
from chain.deployment import var_dir_from_env
from indexer.schema import default_url

__all__ = ["DEFAULT_CONTENT_TYPES", "Settings"]

MIB = 1024 * 1024

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

    host: str = Field(default="127.0.0.1", description="Address to bind; loopback unless a proxy fronts the gateway.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port to bind.")

    siwe_domain: str = Field(
        default="localhost:8000", description="The RFC 3986 authority every Sign-In with Ethereum message must name."
    )
    siwe_uri: str = Field(default="http://localhost:8000", description="The URI every sign-in message must name.")
    siwe_statement: str = Field(
        default="Sign in to the procurement ledger gateway.", description="The statement offered in sign-in messages."
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

    @property
    def evidence_dir(self) -> Path:
        """The content-addressed evidence store."""
        return self.var_dir / "evidence"

    @property
    def effective_database_url(self) -> str:
        """The database URL, defaulting to the indexer's (``var/ledger.db``), whose mirror the gateway reads."""
        return self.database_url or default_url(self.var_dir)
