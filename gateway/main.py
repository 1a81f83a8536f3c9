"""The app factory: ``create_app(settings, rpc=..., ...)``; tests inject an eth-tester transport and a relayer."""

from __future__ import annotations

import gc
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from chain import (
    Build,
    ConfigurationError,
    SystemAddresses,
    Transport,
    TxSender,
    connect,
    error_decoder,
    load_contracts,
    load_keystore,
    require_manifest,
)
from gateway.api.main import api_router
from gateway.api.routes.docs import install_docs
from gateway.core.client_address import ClientAddress
from gateway.core.config import Settings
from gateway.core.logging import configure_logging
from gateway.core.metrics import Metrics
from gateway.core.nesting import apply_recursion_limit
from gateway.core.state import GatewayState
from gateway.errors import install_error_handlers
from gateway.identity import AutoDirectory, ChainDirectory, Directory, MirrorDirectory
from gateway.ledger import Ledger
from gateway.middleware import RequestContextMiddleware
from gateway.openapi import DESCRIPTION, install_openapi
from gateway.relay.idempotency import IdempotencyService
from gateway.relay.pipeline import RelayPipeline
from gateway.relay.relayer import relayer_problem
from gateway.schema import upgrade as upgrade_gateway_tables
from gateway.services.auth import AuthService
from gateway.services.evidence import EvidenceStore
from gateway.web import EVIDENCE_UPLOAD_PAGE, install_pages
from indexer.schema import make_engine, upgrade

__all__ = ["create_app"]

_MULTIPART_OVERHEAD = 64 * 1024


def _relayer_from_settings(settings: Settings, rpc: Transport, build: Build) -> TxSender | None:
    if settings.relayer_keystore is None:
        return None
    password = settings.relayer_keystore_password
    account = load_keystore(settings.relayer_keystore, None if password is None else password.get_secret_value())
    return TxSender(rpc, account, error_decoder(build))


def create_app(
    settings: Settings | None = None,
    *,
    rpc: Transport | None = None,
    system: SystemAddresses | None = None,
    relayer: TxSender | None = None,
    build: Build | None = None,
    engine: Engine | None = None,
    directory: Directory | None = None,
    clock: Callable[[], float] = time.time,
    migrate: bool = True,
) -> FastAPI:
    """Build the gateway for a chain (``rpc``, default: connect to ``settings.rpc_url``) and a deployed system.

    ``relayer`` pays gas for signed actions (default: the keystore in the settings, or none: writes then
    answer 503). ``directory`` answers who an account is (default: the mirror once synced, else the chain).
    With ``migrate``, the mirror's schema is brought up to date (the indexer's migrations, idempotent), so
    that reads find empty tables rather than none before the indexer first runs. The gateway's own tables are
    always brought up to date by their own migrations (gateway/migrations).
    """
    settings = settings or Settings()
    apply_recursion_limit()
    configure_logging(settings.log_level)
    rpc = rpc if rpc is not None else connect(settings.rpc_url)
    build = build or load_contracts()  # compiled by `make setup` / `procure compile`, never at start-up
    system = system or require_manifest(rpc, settings.var_dir)
    if relayer is None:
        relayer = _relayer_from_settings(settings, rpc, build)
    ledger = Ledger(rpc, system, build=build, relayer=relayer)
    engine = engine if engine is not None else make_engine(settings.effective_database_url)
    if migrate:
        upgrade(engine)
    upgrade_gateway_tables(engine)
    if directory is None:
        directory = AutoDirectory(MirrorDirectory(engine, ledger.chain_id), ChainDirectory(ledger.registry))
    if relayer is not None and (problem := relayer_problem(directory.lookup(relayer.address))) is not None:
        raise ConfigurationError(problem)
    metrics = Metrics()
    sessions = sessionmaker(engine, expire_on_commit=False)
    relay = RelayPipeline(
        ledger, engine, lease_s=settings.relayer_lease_s, inline_reads=engine.dialect.name == "sqlite"
    )
    if relay.lease is not None:
        relay.lease.acquire()  # refuses to start on a relayer a live gateway holds
    state = GatewayState(
        settings=settings,
        ledger=ledger,
        engine=engine,
        sessions=sessions,
        directory=directory,
        auth=AuthService(settings, ledger.chain_id, clock),
        relay=relay,
        idempotency=IdempotencyService(clock, relay.holder, stale_s=3 * settings.relayer_lease_s),
        store=EvidenceStore(settings.evidence_dir, settings.evidence_max_bytes),
        metrics=metrics,
        clock=clock,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        relay.start()
        # What start-up built (modules, schemas, the app) lives as long as the process: frozen out of the cyclic
        # collector's sight, a full collection walks only what requests left since, not the whole heap in the middle
        # of a request (many times the request's own time: the budget summary's p99 under bench_budget). No
        # collection first: it would cost as much as the one avoided, at every start (each test's app).
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()  # an app built and stopped in a longer process (the tests) leaves nothing pinned
            relay.stop()

    app = FastAPI(
        title="Procurement ledger gateway",
        version="0.1.0",
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.gateway = state
    install_error_handlers(app)

    evidence_limit = settings.evidence_max_bytes + _MULTIPART_OVERHEAD

    def upload_limit(method: str, path: str) -> int:
        uploads = method == "POST" and (path.rstrip("/") == "/evidence" or EVIDENCE_UPLOAD_PAGE.match(path) is not None)
        return evidence_limit if uploads else settings.json_max_bytes

    app.add_middleware(
        RequestContextMiddleware,
        metrics=metrics,
        json_limit=settings.json_max_bytes,
        upload_limit=upload_limit,
        client_address=ClientAddress(settings.trusted_proxies),
    )
    if settings.cors_origins:  # outermost, so that every answer (a 413 or 422 from the middleware too) carries it
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After", "ETag", "Repr-Digest", "Content-Disposition"],
            max_age=600,
        )
    app.include_router(api_router)
    install_openapi(app)
    install_docs(app)
    install_pages(app)
    return app
