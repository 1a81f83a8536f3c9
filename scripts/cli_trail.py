"""`procure audit trail OCID` and `procure audit actor ADDRESS`: a procurement's every event, an account's every
privileged act, in chain order with who signed and relayed each, its block's time and its place in the digest chain
(indexer/trail.py). Registered in the `audit` group (scripts/cli_indexer.py)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

from scripts._common import Context, clean_errors, db_option, parse_address, pass_context

if TYPE_CHECKING:
    from indexer.trail import Senders, TrailLine

__all__ = ["actor", "trail"]


def _format_option(fn: Any) -> Any:
    fn = click.option("--csv", "output", flag_value="csv", help="CSV with a header row.")(fn)
    fn = click.option("--json", "output", flag_value="json", help="One JSON object.")(fn)
    return click.option("--text", "output", flag_value="text", default=True, help="Lines for a person.")(fn)


def _senders(context: Context, offline: bool) -> Senders | None:
    if offline:
        return None
    from chain import ChainSource

    return ChainSource(context.rpc()).tx_senders


def _print(lines: list[TrailLine], output: str, subject: dict[str, Any]) -> None:
    from chain.times import jst
    from indexer.trail import write_csv

    if output == "json":
        click.echo(json.dumps(subject | {"count": len(lines), "data": [line.flat() for line in lines]}))
        return
    if output == "csv":
        write_csv(lines, sys.stdout)
        return
    for line in lines:
        when = "time unknown" if line.block_time is None else jst(line.block_time)
        who = f"signed by {line.signer}" if line.by_signature else f"sent by {line.signer or '(sender not asked)'}"
        relayed = f", relayed by {line.relayer}" if line.by_signature else ""
        words = f" [{line.words}]" if line.words else ""
        docs = f" documents {' '.join(line.documents)}" if line.documents else ""
        click.echo(
            f"{when}  block {line.block_number}  {line.event}{words}  {who}{relayed}{docs}  "
            f"tx {line.tx_hash} log {line.log_index}  digest {line.digest} chain {line.previous_chain_hash[:12]}.."
            f"{line.chain_hash[:12]}"
        )
    click.echo(f"{len(lines)} events")


def _check(context: Context, engine: Any, lines: list[TrailLine]) -> None:
    from chain import ChainSource, EventDecoder
    from indexer.store import Store
    from indexer.sync import trusted_emitters
    from indexer.trail import check_lines

    source = ChainSource(context.rpc())
    kinds = trusted_emitters(context.system())
    kinds |= {escrow: "escrow" for escrow in Store(engine, source.chain_id).trusted_escrows()}
    problems = check_lines(lines, source, EventDecoder(context.build()), kinds)
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        raise click.ClickException(f"{len(problems)} lines differ from the chain")
    click.echo(f"all {len(lines)} lines are the chain's", err=True)


@click.command("trail")
@click.argument("name")
@db_option
@_format_option
@click.option("--check", is_flag=True, help="Check every line against the chain (logs, block hashes and times).")
@click.option("--offline", is_flag=True, help="Ask the node nothing: direct actions' senders stay unknown.")
@pass_context
@clean_errors
def trail(context: Context, name: str, db: str | None, output: str, check: bool, offline: bool) -> None:
    """Every event of the procurement NAME (ocid, escrow address or on-chain id) in chain order: who signed and
    relayed it, block and time, transaction, document hashes and the block's place in the digest chain."""
    from chain.errors import ConfigurationError
    from indexer.ocds.packages import escrows_named, mirrored_chain
    from indexer.trail import procurement_trail

    with context.mirror(db) as engine:
        with engine.connect() as conn:
            chain_id = mirrored_chain(conn)
            escrows = escrows_named(conn, chain_id, name)
            if not escrows:
                raise ConfigurationError(f"no procurement {name!r} in the mirror")
            if len(escrows) > 1:
                raise ConfigurationError(
                    f"{name!r} names {len(escrows)} procurements (escrows {', '.join(escrows)}): give its escrow"
                )
            lines = procurement_trail(conn, chain_id, escrows[0], _senders(context, offline))
        _print(lines, output, {"procurement": name, "escrow": escrows[0]})
        if check:
            _check(context, engine, lines)


@click.command("actor")
@click.argument("address")
@db_option
@_format_option
@click.option("--offline", is_flag=True, help="Ask the node nothing: acts whose event names no actor are left out.")
@pass_context
@clean_errors
def actor(context: Context, address: str, db: str | None, output: str, offline: bool) -> None:
    """Every privileged act of the account ADDRESS in chain order: role grants and revocations, organizations,
    bindings, pauses, amendments, fundings, transfers, budget acts, rulings, reclaims (signed or sent)."""
    from indexer.ocds.packages import mirrored_chain
    from indexer.trail import actor_acts

    account = parse_address(address, "ADDRESS")
    with context.mirror(db) as engine, engine.connect() as conn:
        lines = actor_acts(conn, mirrored_chain(conn), account, _senders(context, offline))
    _print(lines, output, {"account": account})
