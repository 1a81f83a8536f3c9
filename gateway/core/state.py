"""What the app holds for its lifetime, built once by ``gateway.main.create_app``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gateway.core.config import Settings
from gateway.core.metrics import Metrics
from gateway.identity import Directory
from gateway.ledger import Ledger
from gateway.services.auth import AuthService
from gateway.services.evidence import EvidenceStore
from gateway.services.idempotency import IdempotencyService

__all__ = ["GatewayState"]


@dataclass
class GatewayState:
    """Settings, the chain, the database, identity, and the services built on them."""

    settings: Settings
    ledger: Ledger
    engine: Engine
    sessions: sessionmaker[Session]
    directory: Directory
    auth: AuthService
    idempotency: IdempotencyService
    store: EvidenceStore
    metrics: Metrics
    clock: Callable[[], float]
