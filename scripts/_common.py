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
from web3 import Web3

from chain._compiler import Build, compile_contracts
from chain._tx import TxSender
from chain.clients import FactoryClient, RegistryClient, TokenClient, system_clients
from chain.connection import DEFAULT_RPC_URL, connect
from chain.deployment import require_manifest, var_dir_from_env
from chain.errors import ConfigurationError, LedgerError
from chain.keys import DEV_CHAIN_IDS, dev_account, load_keystore
from chain.system import SystemAddresses, error_decoder

__all__ = ["Context", "clean_errors", "parse_address", "pass_context"]

_F = TypeVar("_F", bound=Callable[..., Any])


@dataclass
class Context:
    """What every command shares: where the chain is, who signs, where var/ is. Tests may pre-fill ``w3``."""

    rpc_url: str = DEFAULT_RPC_URL
    keystore: Path | None = None
    dev_index: int | None = None
    var_dir: Path = field(default_factory=var_dir_from_env)
    w3: Web3 | None = None
    account: LocalAccount | None = None
    _build: Build | None = None

    def web3(self) -> Web3:
        """The connection, made on first use."""
        if self.w3 is None:
            self.w3 = connect(self.rpc_url)
        return self.w3

    def build(self) -> Build:
        """The compiled contracts."""
        if self._build is None:
            self._build = compile_contracts()
        return self._build

    def signer(self) -> LocalAccount:
        """The signing key: --keystore, else a dev account (dev chains only)."""
        if self.account is not None:
            return self.account
        chain_id = self.web3().eth.chain_id
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
        return TxSender(self.web3(), self.signer(), error_decoder(self.build()))

    def system(self) -> SystemAddresses:
        """The deployed system on this chain (from the manifest, checked)."""
        return require_manifest(self.web3(), self.var_dir)

    def clients(self, *, write: bool) -> tuple[RegistryClient, TokenClient, FactoryClient]:
        """Registry, token and factory clients; writing as the signer if ``write``."""
        return system_clients(self.web3(), self.system(), self.sender() if write else None, self.build())


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
