"""What every `procure` command shares: the context (chain, signer, var/), error handling, small parsers."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from eth_account.signers.local import LocalAccount
from eth_utils.address import is_hex_address, to_checksum_address

from chain import (
    DEFAULT_RPC_URL,
    DEV_CHAIN_IDS,
    Build,
    ConfigurationError,
    FactoryClient,
    LedgerError,
    RegistryClient,
    SystemAddresses,
    TokenClient,
    Transport,
    TxSender,
    compile_contracts,
    connect,
    dev_account,
    error_decoder,
    load_keystore,
    require_manifest,
    system_clients,
    var_dir_from_env,
)

__all__ = ["Context", "clean_errors", "parse_address", "pass_context"]

_F = TypeVar("_F", bound=Callable[..., Any])


@dataclass
class Context:
    """What every command shares: where the chain is, who signs, where var/ is. Tests may pre-fill ``transport``."""

    rpc_url: str = DEFAULT_RPC_URL
    keystore: Path | None = None
    dev_index: int | None = None
    var_dir: Path = field(default_factory=var_dir_from_env)
    transport: Transport | None = None
    account: LocalAccount | None = None
    _build: Build | None = None

    def rpc(self) -> Transport:
        """The connection, made on first use."""
        if self.transport is None:
            self.transport = connect(self.rpc_url)
        return self.transport

    def build(self) -> Build:
        """The compiled contracts."""
        if self._build is None:
            self._build = compile_contracts()
        return self._build

    def signer(self) -> LocalAccount:
        """The signing key: --keystore, else a dev account (dev chains only)."""
        if self.account is not None:
            return self.account
        chain_id = self.rpc().chain_id
        if self.keystore is not None:
            self.account = load_keystore(self.keystore, _password(self.keystore))
        elif self.dev_index is not None:
            self.account = dev_account(self.dev_index, chain_id)
        elif chain_id in DEV_CHAIN_IDS:
            self.account = dev_account(0, chain_id)
        else:
            raise ConfigurationError("no signing key: pass --keystore FILE (or set PROCURE_KEYSTORE)")
        return self.account

    def sender(self) -> TxSender:
        """A transaction sender for the signing key."""
        return TxSender(self.rpc(), self.signer(), error_decoder(self.build()))

    def system(self) -> SystemAddresses:
        """The deployed system on this chain (from the manifest, checked)."""
        return require_manifest(self.rpc(), self.var_dir)

    def clients(self, *, write: bool) -> tuple[RegistryClient, TokenClient, FactoryClient]:
        """Registry, token and factory clients; writing as the signer if ``write``."""
        return system_clients(self.rpc(), self.system(), self.sender() if write else None, self.build())


def _password(path: Path) -> str | None:
    password = os.environ.get("PROCURE_KEYSTORE_PASSWORD")
    if password is None and sys.stdin.isatty():
        password = click.prompt(f"Password for {path}", hide_input=True)
    return password


def clean_errors(fn: _F) -> _F:
    """Turn a LedgerError into one clear line on stderr and exit status 1: never a traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except LedgerError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper  # type: ignore[return-value]


def parse_address(value: str, what: str) -> str:
    if not is_hex_address(value):
        raise click.BadParameter(f"{value!r} is not an address (0x and 40 hex digits)", param_hint=what)
    return str(to_checksum_address(value))


pass_context = click.make_pass_decorator(Context)
