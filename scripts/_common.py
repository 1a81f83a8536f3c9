"""What every `procure` command shares: the context (chain, signer, var/), error handling, small parsers.

Nothing heavy is imported here or at the top of a command module: `procure --help` must not load web3. A command
imports what it needs inside its own body.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from chain.connection import DEFAULT_RPC_URL
from chain.errors import ConfigurationError, LedgerError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from chain import (
        Build,
        FactoryClient,
        KeyHolder,
        RegistryClient,
        Signer,
        SystemAddresses,
        TokenClient,
        Transport,
        TxSender,
    )
    from indexer.ocds.specs import SpecRegister

__all__ = [
    "DB_HELP",
    "Context",
    "LazyChoice",
    "MomentType",
    "clean_errors",
    "db_option",
    "fiscal_year_and_ministry",
    "mirror_options",
    "parse_address",
    "pass_context",
    "wait_for_http",
]

DB_HELP = "Database URL: sqlite:///PATH or postgresql+psycopg://USER@HOST/DB. [default: sqlite:///<var>/ledger.db]"

_F = TypeVar("_F", bound=Callable[..., Any])


class Context:
    """What every command shares: where the chain is, who signs, where var/ is. Tests may pre-fill ``transport``.

    Everything is found or made on first use, so that building the context costs nothing.
    """

    def __init__(
        self,
        rpc_url: str = DEFAULT_RPC_URL,
        keystore: Path | None = None,
        dev_index: int | None = None,
        var_dir: Path | None = None,
        transport: Transport | None = None,
        account: KeyHolder | None = None,
        _build: Build | None = None,
    ) -> None:
        self.rpc_url = rpc_url
        self.keystore = keystore
        self.dev_index = dev_index
        self._var_dir = var_dir
        self.transport = transport
        self.account = account
        self._build = _build
        self.verbose = False
        self._organizations: dict[str, str | None] = {}

    @property
    def var_dir(self) -> Path:
        """Where state lives: the one given, else ``$PROCURE_VAR`` or ``var/`` under the project."""
        if self._var_dir is None:
            from chain.deployment import var_dir_from_env

            self._var_dir = var_dir_from_env()
        return self._var_dir

    def rpc(self) -> Transport:
        """The connection, made on first use."""
        if self.transport is None:
            from chain.connection import connect

            self.transport = connect(self.rpc_url)
        return self.transport

    def build(self, *, compile_if_needed: bool = True) -> Build:
        """The compiled contracts: compiled now if the cache does not hold these exact sources, or, for a server
        (``compile_if_needed=False``), an error saying to run `procure compile` first."""
        if self._build is None:
            from chain import compile_contracts, load_contracts

            self._build = compile_contracts() if compile_if_needed else load_contracts()
        return self._build

    def signer(self) -> Signer:
        """The signing key: --keystore, else a dev account (dev chains only)."""
        from chain.keys import DEV_CHAIN_IDS, dev_account, load_keystore
        from chain.signing import signer_of

        if self.account is not None:
            return signer_of(self.account)
        chain_id = self.rpc().chain_id
        signer: Signer
        if self.keystore is not None:
            signer = load_keystore(self.keystore, password_for(self.keystore))
        elif self.dev_index is not None:
            signer = dev_account(self.dev_index, chain_id)
        elif chain_id in DEV_CHAIN_IDS:
            signer = dev_account(0, chain_id)
        else:
            raise ConfigurationError("no signing key: pass --keystore FILE (or set PROCURE_KEYSTORE)")
        self.account = signer
        return signer

    def sender(self) -> TxSender:
        """A transaction sender for the signing key."""
        from chain import TxSender
        from chain.system import error_decoder

        return TxSender(self.rpc(), self.signer(), error_decoder(self.build()))

    def system(self) -> SystemAddresses:
        """The deployed system on this chain (from the manifest, checked)."""
        from chain.deployment import require_manifest

        return require_manifest(self.rpc(), self.var_dir)

    @contextmanager
    def mirror(self, db: str | None) -> Iterator[Engine]:
        """The mirror's engine: ``--db``, else the SQLite file under var/; disposed afterwards."""
        from indexer.schema import default_url, make_engine

        engine = make_engine(db or default_url(self.var_dir))
        try:
            yield engine
        finally:
            engine.dispose()

    def specs(self, spec_paths: Iterable[Path]) -> SpecRegister:
        """The specs naming the procurements (their ocids, titles, classified fields): the files or folders given,
        else var/specs and scripts/examples."""
        from indexer.ocds.specs import SpecRegister, default_spec_paths

        return SpecRegister.load(tuple(spec_paths) or default_spec_paths(self.var_dir))

    def organization_of(self, account: str) -> str | None:
        """The code of the organization ``account`` is bound to, read from the registry (None if unbound)."""
        if account not in self._organizations:
            self._organizations[account] = self.clients(write=False)[0].organization_of(account)
        return self._organizations[account]

    def clients(self, *, write: bool) -> tuple[RegistryClient, TokenClient, FactoryClient]:
        """Registry, token and factory clients; writing as the signer if ``write``."""
        from chain.clients import system_clients

        return system_clients(self.rpc(), self.system(), self.sender() if write else None, self.build())


def password_for(path: Path) -> str | None:
    """A keystore's password: ``$PROCURE_KEYSTORE_PASSWORD``, else a prompt on a terminal."""
    password = os.environ.get("PROCURE_KEYSTORE_PASSWORD")
    if password is None and sys.stdin.isatty():
        password = click.prompt(f"Password for {path}", hide_input=True)
    return password


def clean_errors(fn: _F) -> _F:
    """Turn a LedgerError into one clear line on stderr and exit status 1: never a traceback. A contract's
    refusal is said in words (naming each account's organization); ``--verbose`` adds its Solidity form."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except LedgerError as exc:
            raise click.ClickException(_say(exc)) from None

    return wrapper  # type: ignore[return-value]


def _say(exc: LedgerError) -> str:
    from chain.errors import ContractRevert

    click_context = click.get_current_context(silent=True)
    found = click_context.obj if click_context is not None else None
    context = found if isinstance(found, Context) else getattr(found, "context", None)  # `procure client`'s state
    if not isinstance(context, Context):
        context = None
    if isinstance(exc, ContractRevert) and context is not None:
        exc.explain(context.organization_of)
    raw = getattr(exc, "raw", None)
    if context is not None and context.verbose and raw:
        return f"{exc} [{raw}]"
    return str(exc)


def wait_for_http(url: str, timeout: float, stopping: Callable[[], bool] = lambda: False) -> bool:
    """Poll ``url`` until it answers anything but a server error (True), or ``timeout`` seconds pass or
    ``stopping()`` says to give up (False)."""
    import time

    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stopping():
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


def not_the_relayer(context: Context, address: str) -> str:
    """``address``, unless it is the relayer of this ledger's gateway: a relayer holds no role and belongs to no
    organization (gateway/relay/relayer.py)."""
    from chain.devnet import local_relayer

    if address.lower() == (local_relayer(context.var_dir) or "").lower():
        raise ConfigurationError(
            f"{address} is the gateway's relayer ({context.var_dir / 'keys' / 'relayer.json'}): a relayer holds no "
            "role and belongs to no organization, or relaying breaks; use another account"
        )
    return address


def parse_address(value: str, what: str) -> str:
    """``value`` as a checksummed address, or a usage error naming ``what``."""
    from eth_utils.address import is_hex_address, to_checksum_address

    if not is_hex_address(value):
        raise click.BadParameter(f"{value!r} is not an address (0x and 40 hex digits)", param_hint=what)
    return str(to_checksum_address(value))


class MomentType(click.ParamType[int]):
    """A moment as people write it, converted to unix seconds: a date (JST; the end of that day, 23:59:59, as in
    spec files, or with ``end_of_day=False`` its start, for a "since"), an ISO 8601 time with its offset, or unix
    seconds."""

    name = "time"

    def __init__(self, *, end_of_day: bool = True) -> None:
        self.end_of_day = end_of_day

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        import datetime as dt

        from chain.times import JST

        if isinstance(value, int):
            return value
        text = str(value).strip()
        if text.isdecimal():
            return int(text)
        try:
            if len(text) == 10:
                at = dt.time(23, 59, 59) if self.end_of_day else dt.time(0, 0)
                return int(dt.datetime.combine(dt.date.fromisoformat(text), at, JST).timestamp())
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            self.fail(f"{text!r} is not a date (2027-06-30), a time with its offset or unix seconds", param, ctx)
        if moment.tzinfo is None:
            self.fail(f"{text!r} has no offset: write +09:00 (JST) or Z", param, ctx)
        return int(moment.timestamp())


class LazyChoice(click.Choice[str]):
    """A choice whose names are computed on first use: a group's `--help` lists its commands without importing
    what their choices come from."""

    def __init__(self, names: Callable[[], Iterable[str]]) -> None:
        self._names = names
        self._choices: tuple[str, ...] | None = None
        self.case_sensitive = True

    @property
    def choices(self) -> tuple[str, ...]:
        if self._choices is None:
            self._choices = tuple(sorted(self._names()))
        return self._choices

    @choices.setter
    def choices(self, names: tuple[str, ...]) -> None:
        self._choices = names


pass_context = click.make_pass_decorator(Context)


def db_option(fn: _F) -> _F:
    """``--db``: the mirror's database (``$PROCURE_DB_URL``); open it with ``Context.mirror``."""
    return click.option("--db", envvar="PROCURE_DB_URL", default=None, help=DB_HELP)(fn)


def mirror_options(fn: _F) -> _F:
    """``--db``, ``--specs`` and ``--ocid-prefix``: the mirror, and how its procurements are named in what is
    published from it (``Context.specs``; the ocid of a procurement without a registered spec)."""
    fn = click.option(
        "--ocid-prefix",
        envvar="PROCURE_OCID_PREFIX",
        default="ocds-b5fd17",
        show_default=True,
        help="The publisher's ocid prefix, for procurements without a registered spec.",
    )(fn)
    fn = click.option(
        "--specs",
        "spec_paths",
        multiple=True,
        type=click.Path(exists=True, path_type=Path),
        help="Spec files (or folders of *.yaml) the procurements were created from: their ocids, milestone titles "
        "and classified fields, each checked against the spec hash on the chain. [default: var/specs and "
        "scripts/examples]",
    )(fn)
    return db_option(fn)


def fiscal_year_and_ministry(years: str, ministries: str) -> Callable[[_F], _F]:
    """``--fy`` (``fiscal_year``) and ``--ministry`` (a code, e.g. MOD) filters; ``years`` and ``ministries`` say
    what is shown without them."""

    def decorate(fn: _F) -> _F:
        fn = click.option(
            "--ministry", default=None, help=f"Only this ministry's (a code, e.g. MOD). [default: {ministries}]"
        )(fn)
        return click.option(
            "--fy",
            "fiscal_year",
            type=click.IntRange(2000, 9999),
            default=None,
            help=f"Only this fiscal year (April to March). [default: {years}]",
        )(fn)

    return decorate
