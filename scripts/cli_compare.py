"""`procure audit compare URL... [--db URL]...`: several organizations' mirrors of one chain compared block by
block (indexer/compare.py); the first block where they differ, and its rows. Registered in the `audit` group
(scripts/cli_indexer.py)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from scripts._common import Context, clean_errors, pass_context

if TYPE_CHECKING:
    from indexer.compare import Comparison, MirrorSource

__all__ = ["compare"]


def _db_name(url: str) -> str:
    from sqlalchemy.engine import make_url

    return "db " + make_url(url).render_as_string(hide_password=True)


def _report(comparison: Comparison) -> dict[str, Any]:
    divergence = comparison.divergence
    found: dict[str, Any] | None = None
    if divergence is not None:
        found = {
            "block": divergence.block_number,
            "lines": {name: None if line is None else line.to_json() for name, line in divergence.lines.items()},
            "rows": {
                key: {
                    name: None
                    if event is None
                    else {"emitter": event.emitter, "event": event.event, "args": event.args}
                    for name, event in values.items()
                }
                for key, values in divergence.rows.items()
            },
        }
    return {
        "agree": comparison.agree,
        "mirrors": list(comparison.mirrors),
        "heads": dict(comparison.heads),
        "fromBlock": comparison.from_block,
        "toBlock": comparison.to_block,
        "blocksCompared": comparison.blocks_compared,
        "chainHash": comparison.chain_hash,
        "divergence": found,
    }


def _print(report: dict[str, Any]) -> None:
    heads = ", ".join(f"{name} at block {head}" for name, head in report["heads"].items())
    click.echo(f"mirrors: {heads}")
    click.echo(f"compared blocks {report['fromBlock']}..{report['toBlock']}: {report['blocksCompared']} with events")
    found = report["divergence"]
    if found is None:
        click.echo(f"the mirrors agree; running hash {report['chainHash']}")
        return
    click.echo(f"FIRST DIFFERENCE at block {found['block']}:")
    for name, line in found["lines"].items():
        said = "no events" if line is None else f"{line['eventCount']} events, digest {line['digest'][:16]}.."
        click.echo(f"  {name}: {said}")
    for key, values in found["rows"].items():
        click.echo(f"  row {key}:")
        for name, event in values.items():
            click.echo(f"    {name}: {'(missing)' if event is None else event['event'] + ' ' + event['args']}")


@click.command("compare")
@click.argument("urls", nargs=-1)
@click.option("--db", "dbs", multiple=True, help="A mirror's database to compare too (repeat): sqlite:///PATH ...")
@click.option("--chain-id", type=int, default=None, help="The chain (default: the first gateway's, else the node's).")
@click.option("--from", "from_block", type=click.IntRange(0), default=0, help="First block.")
@click.option("--to", "to_block", type=click.IntRange(0), default=None, help="Last block (default: the lowest head).")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as one JSON object.")
@pass_context
@clean_errors
def compare(
    context: Context,
    urls: tuple[str, ...],
    dbs: tuple[str, ...],
    chain_id: int | None,
    from_block: int,
    to_block: int | None,
    as_json: bool,
) -> None:
    """Compare the mirrors behind gateways URL... (signed in as an auditor there) and databases --db, block by
    block; exit 1 and name the first block where they differ, and its rows."""
    from chain.errors import ConfigurationError
    from gateway.remote_mirror import GatewayMirror
    from indexer.compare import EngineMirror, compare_mirrors
    from indexer.schema import make_engine
    from scripts.cli_client import ClientState

    if len(urls) + len(dbs) < 2:
        raise ConfigurationError("name at least two mirrors: gateway URLs and/or --db URLs")
    clients = [ClientState(context, url).client() for url in urls]
    if chain_id is None:
        chain_id = clients[0].chain_id_hint() if clients else context.rpc().chain_id
    sources: list[MirrorSource] = [
        GatewayMirror(url, client, chain_id) for url, client in zip(urls, clients, strict=True)
    ]
    engines = [make_engine(url) for url in dbs]
    try:
        sources += [EngineMirror(_db_name(url), engine, chain_id) for url, engine in zip(dbs, engines, strict=True)]
        report = _report(compare_mirrors(sources, from_block=from_block, to_block=to_block))
    finally:
        for engine in engines:
            engine.dispose()
    if as_json:
        click.echo(json.dumps(report))
    else:
        _print(report)
    if not report["agree"]:
        raise click.exceptions.Exit(1)
