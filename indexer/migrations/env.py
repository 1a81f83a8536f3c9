"""Alembic environment of the mirror: runs on the connection handed over by ``indexer.schema.upgrade``."""

from __future__ import annotations

from indexer.models import Base
from indexer.schema import run_migration_environment

run_migration_environment(Base.metadata)
