"""Connecting to a chain: any Ethereum JSON-RPC URL over HTTP."""

from __future__ import annotations

from web3 import Web3
from web3.providers.rpc import HTTPProvider

from chain.errors import ChainError, ConfigurationError

__all__ = ["DEFAULT_RPC_URL", "connect"]

DEFAULT_RPC_URL = "http://127.0.0.1:8545"


def connect(rpc_url: str, *, timeout: float = 30.0) -> Web3:
    """A Web3 bound to ``rpc_url`` (http or https), checked to answer."""
    if not rpc_url.startswith(("http://", "https://")):
        raise ConfigurationError(f"RPC URL must start with http:// or https://, got {rpc_url!r}")
    w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
    try:
        w3.eth.chain_id  # noqa: B018 - the call is the connectivity check
    except Exception as exc:
        raise ChainError(f"no Ethereum node answers at {rpc_url}: {type(exc).__name__}") from None
    return w3
