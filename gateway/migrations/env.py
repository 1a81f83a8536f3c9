"""Alembic environment of the gateway's own tables; its version table is ``gateway_alembic_version``."""

from __future__ import annotations

from typing import Any

from gateway.models import GatewayBase
from indexer.schema import run_migration_environment

VERSION_TABLE = "gateway_alembic_version"


def _gateway_tables_only(name: str | None, kind: str, _parent: Any) -> bool:
    return kind != "table" or (name or "").startswith("gateway_")


run_migration_environment(GatewayBase.metadata, version_table=VERSION_TABLE, include_name=_gateway_tables_only)
