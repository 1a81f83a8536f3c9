"""What the app holds for its lifetime, built once by ``gateway.main.create_app``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from gateway.core.config import Settings
from gateway.core.metrics import Metrics
from gateway.core.ratelimit import RateLimiter
from gateway.identity import Directory
from gateway.ledger import Ledger
from gateway.relay.idempotency import IdempotencyService
from gateway.relay.pipeline import RelayPipeline
from gateway.services.auth import AuthService
from gateway.services.evidence import EvidenceStore

if TYPE_CHECKING:
    from gateway.services.ocds import OcdsPublisher

__all__ = ["GatewayState"]

_P = ParamSpec("_P")
_T = TypeVar("_T")


@dataclass
class GatewayState:
    """Settings, the chain, the database, identity, the relay pipeline, and the services built on them."""

    settings: Settings
    ledger: Ledger
    engine: Engine
    sessions: sessionmaker[Session]
    directory: Directory
    auth: AuthService
    relay: RelayPipeline
    idempotency: IdempotencyService
    store: EvidenceStore
    metrics: Metrics
    clock: Callable[[], float]
    inline_point_reads: bool = field(init=False)
    sign_in_limiter: RateLimiter = field(init=False)

    def __post_init__(self) -> None:
        # SQLite is a local file in WAL mode: a lookup by key takes tens of microseconds and is never blocked
        # by the indexer's writes, less than a hop to the thread pool. A network database's round trip must
        # not stall the event loop, so there such reads go to the thread pool like any other blocking call.
        self.inline_point_reads = self.engine.dialect.name == "sqlite"
        self.sign_in_limiter = RateLimiter(self.settings.sign_in_rate_per_minute, self.settings.sign_in_burst)

    @cached_property
    def ocds(self) -> OcdsPublisher:
        """The OCDS publication (made on first use: it reads the spec folders), which also names procurements by
        their ocid in every read."""
        from gateway.services.ocds import OcdsPublisher

        return OcdsPublisher(self.settings, self.ledger, self.engine)

    async def point_read(self, fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        """Run a short read by key (a few indexed lookups, no scan): on the event loop or in the thread pool."""
        if self.inline_point_reads:
            return fn(*args, **kwargs)
        return await run_in_threadpool(fn, *args, **kwargs)
