"""`procure network init` and `procure network allowlists`: a permissioned network of several organizations
(Hyperledger Besu, QBFT), its files written offline (chain/besu_network.py). Registered by scripts/cli.py."""

from __future__ import annotations

import json
from pathlib import Path

import click

from scripts._common import Context, clean_errors, parse_address, pass_context, password_for

__all__ = ["network"]

_DB_HELP = "The mirror of the network's chain: sqlite:///PATH or postgresql+psycopg://USER@HOST/DB."


@click.group()
def network() -> None:
    """A network several organizations run: Besu QBFT genesis, node keys, allowlists, compose and systemd files."""


def _codes(text: str) -> list[str]:
    return [code for code in (part.strip() for part in text.split(",")) if code]


@network.command("init")
@click.option("--orgs", required=True, help="The organizations that run nodes, by code: MOD,MOFA,MOF,BOA.")
@click.option("--validators", type=int, default=4, show_default=True, help="How many validators (QBFT: 3f+1).")
@click.option("--chain-id", type=int, required=True, help="The network's own chain id.")
@click.option("--out", "out", type=click.Path(path_type=Path), required=True, help="A new, empty directory.")
@click.option("--block-period", type=int, default=2, show_default=True, help="Seconds between blocks.")
@click.option("--request-timeout", type=int, default=4, show_default=True, help="QBFT round timeout, seconds.")
@click.option("--relayer", "relayers", multiple=True, help="A gateway relayer's address (allowed to send; repeat).")
@click.option("--ips", default=None, help="One IP per node, comma-separated (default: a docker subnet).")
@pass_context
@clean_errors
def network_init(
    context: Context,
    orgs: str,
    validators: int,
    chain_id: int,
    out: Path,
    block_period: int,
    request_timeout: int,
    relayers: tuple[str, ...],
    ips: str | None,
) -> None:
    """Write a new network into OUT: the ledger's system is in the genesis, deployed by the --keystore account,
    which becomes the registry admin."""
    from chain import compile_contracts, project_root
    from chain.besu_network import plan_network, system_alloc, write_network
    from chain.errors import ConfigurationError
    from chain.keys import load_keystore

    if context.keystore is None:
        raise ConfigurationError("network init needs the admin's key: pass --keystore FILE (dev keys are refused)")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigurationError(f"{out} exists and is not empty: choose a new --out directory")
    admin = load_keystore(context.keystore, password_for(context.keystore))
    plan = plan_network(
        _codes(orgs),
        validators,
        chain_id=chain_id,
        admin=admin.address,
        relayers=[parse_address(relayer, "--relayer") for relayer in relayers],
        block_period_s=block_period,
        request_timeout_s=request_timeout,
        ips=None if ips is None else _codes(ips),
    )
    build = compile_contracts()
    system, alloc, timestamp = system_alloc(admin, chain_id, build, project_root(), context.var_dir / "logs")
    write_network(out, plan, system, alloc, timestamp)
    click.echo(f"network of chain id {chain_id} written to {out}")
    for node in plan.nodes:
        role = "validator" if node.validator else "member node"
        click.echo(f"  {node.name:<10} {node.org:<6} {role:<11} {node.address}  {node.enode}")
    click.echo(f"registry admin {plan.admin}; registry {system.registry}; budget {system.budget}")
    click.echo(
        f"finality {system.finality.to_json()}; the deployment's {len(system.genesis_logs)} events recorded in "
        "deployment.json (an indexer mirrors them as block 0's, `procure audit verify` checks them)"
    )
    click.echo(f"start it: cd {out} && docker compose up -d (or install systemd/besu-*.service on each machine)")


@network.command("allowlists")
@click.option("--network", "directory", type=click.Path(path_type=Path), required=True, help="A network's directory.")
@click.option("--db", required=True, help=_DB_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the allowlists as one JSON object.")
@clean_errors
def network_allowlists(directory: Path, db: str, as_json: bool) -> None:
    """Write every node's allowlists again from the registry as mirrored: nodes of active organizations; the admin,
    the relayers and the accounts bound to active organizations. Reload them on each node with
    perm_reloadPermissionsFromFile."""
    from chain.besu_network import load_plan, write_allowlists
    from indexer.members import network_members
    from indexer.schema import make_engine

    plan = load_plan(directory)
    engine = make_engine(db)
    try:
        lists = write_allowlists(directory, plan, network_members(engine, plan.chain_id))
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps(lists))
        return
    click.echo(
        f"{len(lists['nodes-allowlist'])} of {len(plan.nodes)} nodes and {len(lists['accounts-allowlist'])} accounts "
        f"allowed; written to {len(plan.nodes)} nodes' permissions_config.toml"
    )
