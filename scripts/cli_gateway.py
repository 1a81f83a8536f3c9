"""`procure serve`: run the HTTP gateway (FastAPI under uvicorn); `procure nginx-conf`: nginx in front of several.

Register with ``main.add_command(serve)`` and ``main.add_command(nginx_conf)``.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import click

from scripts._common import Context, clean_errors, pass_context

__all__ = ["nginx_conf", "serve"]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command("serve", context_settings={"show_default": True})
@click.option("--host", envvar="PROCURE_HOST", default="127.0.0.1", help="Address to bind (loopback by default).")
@click.option("--port", envvar="PROCURE_PORT", type=click.IntRange(1, 65535), default=8000, help="Port to bind.")
@click.option(
    "--db",
    "database_url",
    envvar="PROCURE_DB_URL",
    default=None,
    help="SQLAlchemy URL of the indexer's mirror (default: sqlite under var/, as the indexer's).",
)
@click.option(
    "--siwe-domain",
    envvar="PROCURE_SIWE_DOMAIN",
    default=None,
    help="Domain sign-in messages must name (default: HOST:PORT as clients reach it).",
)
@click.option(
    "--siwe-uri",
    envvar="PROCURE_SIWE_URI",
    default=None,
    help="URI sign-in messages must name (default: http://DOMAIN; https:// behind a TLS proxy).",
)
@click.option(
    "--read-only",
    is_flag=True,
    help="Relay no signed actions (no relayer key is loaded; write endpoints answer 503).",
)
@click.option(
    "--log-level",
    envvar="PROCURE_LOG_LEVEL",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    help="Log level (logs are JSON lines on stderr).",
)
@pass_context
@clean_errors
def serve(
    context: Context,
    host: str,
    port: int,
    database_url: str | None,
    siwe_domain: str | None,
    siwe_uri: str | None,
    read_only: bool,
    log_level: str,
) -> None:
    """Serve the gateway: sign-in with Ethereum, signed actions relayed, scoped reads of the mirror.

    The relayer (which pays gas, never signs for users) is the signing key: --keystore, or on a local dev
    chain the dev account. The relayer keystore may also be given as $PROCURE_RELAYER_KEYSTORE.
    """
    import uvicorn

    from gateway.core.config import Settings
    from gateway.main import create_app

    if not _is_loopback(host):
        click.echo(f"warning: binding {host}: the gateway is reachable from other hosts; front it with TLS", err=True)
    authority = siwe_domain or f"{'localhost' if _is_loopback(host) else host}:{port}"
    overrides: dict[str, Any] = {
        "rpc_url": context.rpc_url,
        "var_dir": context.var_dir,
        "host": host,
        "port": port,
        "log_level": log_level.upper(),
        "siwe_domain": authority,
        "siwe_uri": siwe_uri or f"http://{authority}",
    }
    if database_url is not None:
        overrides["database_url"] = database_url
    settings = Settings(**overrides)
    rpc = context.rpc()
    build = context.build(compile_if_needed=False)  # the server never compiles Solidity at start-up
    relayer = None
    if not read_only and settings.relayer_keystore is None:
        relayer = context.sender()
    app = create_app(settings, rpc=rpc, relayer=relayer, build=build)
    state = app.state.gateway
    who = "read-only" if state.ledger.relayer is None else f"relayer {state.ledger.relayer.address}"
    click.echo(f"gateway for chain {state.ledger.chain_id} on http://{host}:{port} ({who}); Ctrl-C stops it", err=True)
    # proxy_headers=False: uvicorn would otherwise take the client address from X-Forwarded-For on loopback
    # connections; the gateway reads that header itself, from PROCURE_TRUSTED_PROXIES only. A stop waits at most
    # 5 s for open requests: a live stream (GET /budget/stream) never ends by itself.
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        server_header=False,
        proxy_headers=False,
        timeout_graceful_shutdown=5,
    )


@click.command("nginx-conf", context_settings={"show_default": True})
@click.option(
    "--gateway",
    "gateways",
    multiple=True,
    required=True,
    metavar="HOST:PORT",
    help="A gateway process (`procure serve`) to balance over; repeat for each.",
)
@click.option("--listen", default="127.0.0.1:8080", metavar="HOST:PORT", help="Where nginx listens.")
@click.option(
    "--prefix",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write a whole nginx.conf with its pid file, logs and temporary folders under PREFIX (run it with "
    "`nginx -p PREFIX -c PREFIX/nginx.conf -e PREFIX/error.log`); without it, the part for /etc/nginx/conf.d/.",
)
def nginx_conf(gateways: tuple[str, ...], listen: str, prefix: Path | None) -> None:
    """Print an nginx configuration that spreads requests over several gateways (README: "Several gateways
    behind nginx"). Each gateway needs PROCURE_TRUSTED_PROXIES set to nginx's address."""
    from gateway.nginx import nginx_conf as render

    try:
        click.echo(render(gateways, listen, prefix=prefix), nl=False)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
