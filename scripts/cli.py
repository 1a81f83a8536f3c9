"""`procure`: the command-line entry point. Commands parse options and call chain/, indexer/, gateway/."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click

from chain.errors import LedgerError

__all__ = ["main"]

_F = TypeVar("_F", bound=Callable[..., Any])


def clean_errors(fn: _F) -> _F:
    """Turn a LedgerError into one clear line on stderr and exit status 1: never a traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except LedgerError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
def main() -> None:
    """Procurement ledger: milestone escrows for government procurement on an Ethereum-compatible chain."""


@main.command()
@click.option("--force", is_flag=True, help="Recompile even if the cache holds these exact sources.")
@clean_errors
def compile(force: bool) -> None:
    """Compile contracts/ (cached by source hash) and print each contract's size."""
    from chain._compiler import compile_contracts

    build = compile_contracts(force=force)
    click.echo(f"{build.compiler}, input {build.input_hash[:12]}")
    for name, artifact in sorted(build.artifacts.items()):
        size = (len(artifact.deployed_bytecode) - 2) // 2
        if size > 0:
            click.echo(f"  {name:<22} {size:>6} bytes deployed")


if __name__ == "__main__":
    main()
