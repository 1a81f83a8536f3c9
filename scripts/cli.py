"""`procure`: the command-line entry point. Commands parse options and call chain/, indexer/ and gateway/.

Only click and the standard library are imported before a command runs (see scripts/_common.py): each command
imports what it needs in its body, so that `procure --help` answers at once.
"""

from __future__ import annotations

import contextlib
import enum
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from chain.connection import DEFAULT_PORT, DEFAULT_RPC_URL
from chain.errors import ConfigurationError
from scripts._common import Context, LazyChoice, clean_errors, pass_context, wait_for_http
from scripts.cli_client import CLIENT_GATEWAY

if TYPE_CHECKING:
    from chain.roles import OrgKind, Role
    from chain.system import SystemAddresses
    from scripts.cli_client import Preset

__all__ = ["Context", "main"]


def _kebab(member: enum.Enum) -> str:
    return member.name.lower().replace("_", "-")


@cache
def _org_kinds() -> dict[str, OrgKind]:
    """The kinds of organization by their command-line names (ministry, supplier, evaluation-body, ...)."""
    from chain.roles import OrgKind

    return {_kebab(kind): kind for kind in OrgKind if kind is not OrgKind.NONE}


@cache
def _roles() -> dict[str, Role]:
    """The roles by their command-line names (ministry-admin, procurement-officer, ...)."""
    from chain.roles import Role

    return {_kebab(role): role for role in Role}


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.option("--rpc-url", envvar="PROCURE_RPC_URL", default=DEFAULT_RPC_URL, help="Ethereum JSON-RPC URL.")
@click.option(
    "--keystore",
    envvar="PROCURE_KEYSTORE",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Encrypted keystore of the signing account (password: $PROCURE_KEYSTORE_PASSWORD or a prompt).",
)
@click.option(
    "--dev-account",
    envvar="PROCURE_DEV_ACCOUNT",
    type=click.IntRange(0, 999),
    default=None,
    help="Sign with this account of the dev mnemonic (local dev chain only; default 0 there).",
)
@click.option(
    "--verbose",
    "-v",
    is_flag=True,
    help="Also print a contract's refusal as Solidity writes it (custom error, arguments).",
)
@click.pass_context
def main(ctx: click.Context, rpc_url: str, keystore: Path | None, dev_account: int | None, verbose: bool) -> None:
    """Procurement ledger: milestone escrows for government procurement on an Ethereum-compatible chain."""
    if ctx.obj is None:
        ctx.obj = Context(rpc_url=rpc_url, keystore=keystore, dev_index=dev_account)
    else:  # tests pass a pre-built Context (with an in-process chain); the signer options still apply
        ctx.obj.keystore = keystore
        ctx.obj.dev_index = dev_account
        ctx.obj.account = None
    ctx.obj.verbose = verbose


@main.command()
@click.option("--force", is_flag=True, help="Recompile even if the cache holds these exact sources.")
@clean_errors
def compile(force: bool) -> None:
    """Compile contracts/ (cached by source hash) and print each contract's size."""
    from chain import compile_contracts

    build = compile_contracts(force=force)
    click.echo(f"{build.compiler}, input {build.input_hash[:12]}")
    for name, artifact in sorted(build.artifacts.items()):
        size = (len(artifact.deployed_bytecode) - 2) // 2
        if size > 0:
            click.echo(f"  {name:<22} {size:>6} bytes deployed")


# ---------------------------------------------------------------- node and deployment


@main.command()
@click.option("--hardhat", is_flag=True, help="Run `npx hardhat node` (in memory) instead of anvil.")
@click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, help="TCP port on 127.0.0.1.")
@pass_context
@clean_errors
def node(context: Context, hardhat: bool, port: int) -> None:
    """Run a local dev chain (chain id 31337, automine) until Ctrl-C or SIGTERM.

    anvil keeps its state in var/anvil/, so blocks, logs and balances survive a restart.
    """
    from chain import project_root
    from chain.node import start_anvil, start_hardhat

    _require_free_port(port, context.var_dir, "--port")
    root = project_root()
    with _stop_requests() as stop_requested:  # a Ctrl-C at any moment from here on stops the node cleanly
        if hardhat:
            process = start_hardhat(root, context.var_dir / "hardhat", port=port)
        else:
            process = start_anvil(root, context.var_dir / "anvil", port=port)
            if process.guard is not None and process.guard.restored:
                click.echo(process.guard.restored)
        try:
            click.echo(f"{process.kind} running at {process.url} (chain id 31337, pid {process.pid}); Ctrl-C stops it")
            while not stop_requested():
                time.sleep(0.2)
        finally:
            process.stop()
    click.echo(f"{process.kind} stopped")


@contextlib.contextmanager
def _stop_requests() -> Iterator[Callable[[], bool]]:
    """While inside, SIGINT and SIGTERM only ask to stop; the function yielded tells whether one did."""
    requested = False

    def handler(signum: int, frame: object) -> None:
        nonlocal requested
        requested = True

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield lambda: requested
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@main.command()
@pass_context
@clean_errors
def deploy(context: Context) -> None:
    """Deploy registry, token and factory once per chain; run again, it does nothing and says so."""
    from chain.deployment import ensure_deployed

    result = ensure_deployed(context.sender(), context.var_dir, context.build())
    system = result.system
    verb = "deployed" if result.created else "already deployed (nothing to do)"
    click.echo(f"system {verb} on chain {system.chain_id}; manifest {result.manifest}")
    _print_system(system)


def _print_system(system: SystemAddresses) -> None:
    click.echo(f"  registry        {system.registry}")
    click.echo(f"  token (JPYD)    {system.token}")
    click.echo(f"  factory         {system.factory}")
    click.echo(f"  implementation  {system.implementation}")
    click.echo(f"  admin           {system.admin}  (from block {system.deployed_block})")


# ---------------------------------------------------------------- organizations and roles


@main.group(context_settings={"show_default": True})
@click.option("--gateway", envvar="PROCURE_GATEWAY_URL", default=CLIENT_GATEWAY, help="Base URL of the gateway.")
@click.pass_context
def org(ctx: click.Context, gateway: str) -> None:
    """Organizations, the accounts bound to them and their roles (registry admin; a ministry admin grants and
    revokes its ministry's officers and treasurers). The signed acts (update, bind, unbind, grant, revoke) are
    relayed by the gateway, or sent to the node by the signer with --direct."""
    _client_state(ctx, gateway)


def _client_state(ctx: click.Context, gateway: str) -> None:
    """The gateway and signer of the signed acts' commands under this group (tests pass their own state)."""
    from scripts.cli_client import ClientState

    if not isinstance(ctx.obj, ClientState):
        context = ctx.find_object(Context)
        ctx.obj = ClientState(Context() if context is None else context, gateway.rstrip("/"))


@org.command("add")
@click.argument("code")
@click.option("--kind", type=LazyChoice(_org_kinds), required=True, help="What the organization is.")
@click.option("--name", required=True, help="Human-readable name, e.g. 'Ministry of Defense'.")
@pass_context
@clean_errors
def org_add(context: Context, code: str, kind: str, name: str) -> None:
    """Register organization CODE (at most 16 ASCII characters, e.g. MOD)."""
    registry, _, _ = context.clients(write=True)
    receipt = registry.register_organization(code, _org_kinds()[kind], name)
    click.echo(f"organization {code} ({kind}) registered: tx {receipt.tx_hash}")


@org.command("show")
@click.argument("code")
@pass_context
@clean_errors
def org_show(context: Context, code: str) -> None:
    """Show organization CODE."""
    registry, _, _ = context.clients(write=False)
    found = registry.organization(code)
    if found is None:
        raise ConfigurationError(f"no organization {code!r}")
    status = "active" if found.active else "inactive"
    click.echo(f"{code}: {found.kind.name.lower()}, {status}, vault {found.vault or '-'}")


@main.group(context_settings={"show_default": True})
@click.option("--gateway", envvar="PROCURE_GATEWAY_URL", default=CLIENT_GATEWAY, help="Base URL of the gateway.")
@click.pass_context
def role(ctx: click.Context, gateway: str) -> None:
    """Grant and revoke roles (the same commands as `procure org grant` and `procure org revoke`)."""
    _client_state(ctx, gateway)


# ---------------------------------------------------------------- procurements


@main.group()
def procurement() -> None:
    """Create and inspect procurements."""


@procurement.command("create")
@click.argument("spec_file", metavar="SPEC.yaml", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Validate against the chain and stop before sending anything.")
@pass_context
@clean_errors
def procurement_create(context: Context, spec_file: Path, dry_run: bool) -> None:
    """Create and fund a procurement from a YAML specification; validated fully before anything is sent."""
    from chain.budget import fiscal_year_containing
    from chain.spec import check_against_chain, load_spec

    loaded = load_spec(spec_file)
    registry, _, factory = context.clients(write=True)
    officer = context.signer().address
    now = context.rpc().latest_timestamp()
    check_against_chain(loaded, officer=officer, registry=registry, now=now)
    spec = loaded.spec
    if dry_run:
        click.echo(f"{spec_file}: valid; would create {spec.id!r} for {spec.total:,} yen, funding {spec.fund_amount:,}")
        return
    from indexer.ocds.specs import keep_spec

    # Kept before the procurement exists, so that its OCDS publication withholds its classified fields from the
    # first release on (a spec kept for a procurement that is then not created matches nothing).
    keep_spec(context.var_dir, spec_file, loaded.sha256)
    tx_hashes = []
    line = loaded.line(fiscal_year_containing(now))
    created = factory.create(loaded.to_chain(), spec.fund_amount, line, loaded.authority_id)
    tx_hashes.append(("create", created.receipt.tx_hash))
    click.echo(f"procurement {spec.id!r} created")
    click.echo(f"  escrow  {created.escrow}")
    click.echo(f"  total   {spec.total:,} yen in {len(spec.milestones)} milestones; funded {created.funded:,} yen")
    for label, tx_hash in tx_hashes:
        click.echo(f"  tx      {label}: {tx_hash}")


@procurement.command("show")
@click.argument("procurement_name", metavar="PROCUREMENT")
@pass_context
@clean_errors
def procurement_show(context: Context, procurement_name: str) -> None:
    """Print a procurement's terms, milestones and books, read from the chain. PROCUREMENT is its ocid, its
    escrow address or its on-chain id."""
    from chain.clients import EscrowClient
    from chain.times import jst as when
    from scripts.cli_client import escrow_named

    address = escrow_named(context, procurement_name)
    escrow = EscrowClient(context.rpc(), address, None, context.build())
    if not context.rpc().code(escrow.address):
        raise ConfigurationError(f"no contract at {address}")
    terms = escrow.terms()
    if terms.registry != context.system().registry:
        raise ConfigurationError(f"{address} is not an escrow of this ledger")
    totals = escrow.totals()
    click.echo(f"escrow {escrow.address}  procurement 0x{terms.procurement_id.hex()}")
    click.echo(f"  ministry {terms.ministry}, officer {terms.officer}")
    click.echo(f"  supplier {terms.supplier} ({terms.supplier_org})")
    click.echo(f"  panel    {terms.quorum} of {len(terms.evaluators)}: {', '.join(terms.evaluators)}")
    click.echo(
        f"  periods  ruling {terms.ruling_period // 86_400} days (then a dispute lapses), "
        f"grace {terms.grace_period // 86_400} days (before an owed-yen redirect)"
    )

    paused = f"; RELEASES PAUSED until {when(escrow.paused_until())}" if escrow.paused() else ""
    click.echo(
        f"  books    funded {totals.funded:,}, released {totals.released:,}, refunded {totals.refunded:,}, "
        f"owed {totals.owed:,} yen{paused}"
    )
    for m in escrow.milestones():
        owed = f"  owed {m.owed:,}" if m.owed else ""
        lapses = f"  dispute lapses {when(m.dispute_lapses_at)}" if m.dispute_lapses_at else ""
        click.echo(
            f"  [{m.index}] {m.status.name.lower():<9} {m.amount:>15,} yen  due {when(m.due_date)}  round {m.round} "
            f"({m.passes} pass, {m.fails} fail){owed}{lapses}"
        )


@procurement.command("list")
@pass_context
@clean_errors
def procurement_list(context: Context) -> None:
    """List every procurement created on this chain, oldest first."""
    from chain.roles import org_code

    _, _, factory = context.clients(write=False)
    created = factory.created_events(from_block=context.system().deployed_block)
    if not created:
        click.echo("no procurements yet")
        return
    for event in created:
        params = event["params"]
        total = sum(params[4]) if isinstance(params, tuple | list) else sum(params["amounts"])
        title = params[7] if isinstance(params, tuple | list) else params["title"]
        org = event["ministryOrg"]  # a procurement id is unique within its ministry only
        ministry = org_code(bytes.fromhex(org[2:]) if isinstance(org, str) else bytes(org))
        click.echo(f"{event['escrow']}  block {event['blockNumber']:>6}  {ministry:<8} {total:>15,} yen  {title}")


# ---------------------------------------------------------------- the whole ledger


def _port_free(port: int) -> bool:
    """True if nothing listens on the loopback port (a port in TIME_WAIT after a stop counts as free)."""
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _require_free_port(port: int, var: Path, option: str) -> None:
    """Refuse a port in use, in one line that says by what and what to do; above all a chain node of this
    var/ left running (by a `procure up` or `procure node` from before nodes died with their parent)."""
    if _port_free(port):
        return
    from chain.node import port_holder

    holder = port_holder(port)
    if holder is not None and holder.runs_anvil_on(var / "anvil"):
        if _is_procure(holder.parent_command):
            raise ConfigurationError(
                f"port {port} is in use by this ledger's chain, run by `procure` (pid {holder.parent_pid}): "
                f"stop that one first (Ctrl-C there, or kill {holder.parent_pid})"
            )
        raise ConfigurationError(
            f"port {port} is held by a stale chain node of this ledger (anvil, pid {holder.pid}, state in "
            f"{var / 'anvil'}), left running by an earlier `procure up` or `procure node`: "
            f"stop it with `kill {holder.pid}`, then run this again (its chain is kept)"
        )
    by = "" if holder is None or not holder.command else f" by pid {holder.pid} ({Path(holder.command[0]).name})"
    raise ConfigurationError(f"port {port} is in use{by}: stop it or pick another with {option}")


def _is_procure(command: tuple[str, ...]) -> bool:
    return any(Path(arg).name == "procure" or arg == "scripts.cli" for arg in command)


@main.command()
@click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, help="Port of the local chain.")
@click.option("--api-port", type=click.IntRange(1, 65535), default=8000, help="Port of the HTTP gateway.")
@click.option("--no-demo", is_flag=True, help="Do not seed the demo organizations and procurement.")
@pass_context
@clean_errors
def up(context: Context, port: int, api_port: int, no_demo: bool) -> None:
    """Run the whole ledger until Ctrl-C: local chain (persistent under var/), one-time deployment and demo
    seed, the indexer and the gateway, under one supervisor that restarts a part that crashes."""
    from chain import project_root
    from chain.deployment import ensure_deployed
    from chain.devnet import DEV_CAST, RELAYER_INDEX, dev_relayer_keystore
    from chain.keys import dev_account
    from chain.node import AnvilStateGuard, anvil_command, wait_for_rpc
    from scripts.cli_client import CLIENT_GATEWAY
    from scripts.supervisor import Part, Supervisor

    root, var = project_root(), context.var_dir
    _require_free_port(port, var, "--port")
    _require_free_port(api_port, var, "--api-port")
    rpc = f"http://127.0.0.1:{port}"
    context.rpc_url = rpc
    db_url = f"sqlite:///{var / 'ledger.db'}"
    env = {"PROCURE_RPC_URL": rpc, "PROCURE_VAR": str(var), "PROCURE_DB_URL": db_url}
    logs = var / "logs"
    guard = AnvilStateGuard(var / "anvil")  # a SIGKILL while anvil writes its state file must not lose the chain
    chain_part = Part(
        "chain (anvil)", anvil_command(root, var / "anvil", port=port), logs / "anvil.log", env, guard.restore
    )
    supervisor = Supervisor([chain_part], click.echo)
    with supervisor.signals_stop(), guard:  # from here on, Ctrl-C or SIGTERM at any moment stops every part
        supervisor.spawn(chain_part)
        wait_for_rpc(rpc)
        result = ensure_deployed(context.sender(), var, context.build())
        click.echo(f"system {'deployed' if result.created else 'found (deployed earlier)'} on chain 31337")
        _print_system(result.system)
        if not no_demo:
            _seed_demo(context)
        chain_id = context.rpc().chain_id
        gateway_env = {**env, **dev_relayer_keystore(var, chain_id)}
        python = [sys.executable, "-m", "scripts.cli"]
        supervisor.parts += [
            Part("indexer", [*python, "index"], logs / "indexer.log", env),
            Part("gateway", [*python, "serve", "--port", str(api_port)], logs / "gateway.log", gateway_env),
        ]
        supervisor.start()
        _wait_for_gateway(f"http://127.0.0.1:{api_port}/healthz", supervisor)
        gateway = f"http://127.0.0.1:{api_port}"
        click.echo("")
        click.echo(f"gateway   {gateway}")
        click.echo(f"dashboard {gateway}/ui (in a browser: sign in as one of the demo accounts below)")
        click.echo(f"API docs  {gateway}/docs")
        click.echo(f"chain     {rpc} (chain id 31337); logs in {logs}")
        if gateway == CLIENT_GATEWAY:
            click.echo(f"client    `procure client ...` talks to {gateway} (its default)")
        else:
            click.echo(
                f"client    `procure client ...` talks to {CLIENT_GATEWAY}: export PROCURE_GATEWAY_URL={gateway}"
            )
        click.echo("accounts (dev mnemonic; sign in with `procure --dev-account N client whoami`):")
        click.echo(f"  {0:>2} {'admin':<15} {'':<6} {dev_account(0, chain_id).address}  (deployed the system)")
        if not no_demo:
            for member in DEV_CAST:
                address = dev_account(member.index, chain_id).address
                click.echo(f"  {member.index:>2} {member.label:<15} {member.org:<6} {address}")
        relayer = dev_account(RELAYER_INDEX, chain_id).address
        click.echo(f"  {RELAYER_INDEX:>2} {'relayer':<15} {'':<6} {relayer}  (pays the gateway's gas; give it no role)")
        click.echo("Ctrl-C stops the ledger")
        while not supervisor.stopping:
            supervisor.poll()
            time.sleep(0.5)
    click.echo("stopped")


def _seed_demo(context: Context) -> None:
    """The demo cast and the night-vision procurement, each only once."""
    from chain import TxSender, project_root
    from chain.clients import system_clients
    from chain.devnet import DEV_INDEX, OFFICER_INDEX, dev_budget_as, ensure_demo_procurement, seed_cast
    from chain.keys import dev_account
    from chain.spec import load_spec
    from chain.system import error_decoder

    rpc, system, build = context.rpc(), context.system(), context.build()
    chain_id = rpc.chain_id
    decoder = error_decoder(build)
    registry, _, _ = system_clients(rpc, system, context.sender(), build)
    addresses = {i: dev_account(i, chain_id).address for i in DEV_INDEX.values()}
    sent = seed_cast(registry, dev_budget_as(rpc, system, build), addresses)
    click.echo("demo cast registered" if sent else "demo cast found (registered earlier)")
    click.echo(_seeded_budget(rpc.latest_timestamp()) if sent else "demo budget found (enacted earlier)")
    officer = TxSender(rpc, dev_account(OFFICER_INDEX, chain_id), decoder)
    _, _, factory = system_clients(rpc, system, officer, build)
    loaded = load_spec(project_root() / "scripts" / "examples" / "night-vision.yaml")
    escrow, created = ensure_demo_procurement(factory, registry, loaded)
    verb = "created (funded with what is due this fiscal year)" if created else "found (created earlier)"
    click.echo(f"demo procurement {loaded.spec.id!r} {verb}: escrow {escrow}, {loaded.spec.total:,} yen")


def _seeded_budget(now: int) -> str:
    """What the seeding enacted of the budget file, in one line."""
    from chain.budget import fiscal_year_containing
    from chain.budget_file import load_budget_file
    from chain.devnet import DEV_BUDGET_FILE, DEV_PENDING_TRANSFER

    budget = load_budget_file(DEV_BUDGET_FILE).budget
    ministries = ", ".join(sorted({item.ministry for item in budget.lines}))
    lines = sum(len(item.sub_items) for item in budget.lines)
    source, target, amount = DEV_PENDING_TRANSFER
    file = DEV_BUDGET_FILE.relative_to(DEV_BUDGET_FILE.parents[2])
    return (
        f"demo budget FY{fiscal_year_containing(now)} ({ministries}): {len(budget.lines)} items, {lines} sub-item "
        f"lines from {file}; a transfer of {amount:,} yen {source} -> {target} pending (`procure budget show`)"
    )


def _wait_for_gateway(url: str, supervisor: Any, timeout: float = 120.0) -> None:
    if not wait_for_http(url, timeout, lambda: bool(supervisor.stopping)):
        raise ConfigurationError(
            f"the gateway did not answer at {url} within {timeout:.0f} s (see var/logs/gateway.log)"
        )


# The registry's signed acts under `procure org`, named as people say them (scripts/cli_client.py makes them).
_ORG_COMMANDS = {
    "UpdateOrganization": "update",
    "BindAccount": "bind",
    "UnbindAccount": "unbind",
    "GrantRole": "grant",
    "RevokeRole": "revoke",
}


def _organization_now(context: Context, fields: dict[str, Any]) -> dict[str, Any]:
    """UpdateOrganization's fields as the registry holds them now for the organization ``fields`` names."""
    registry, _, _ = context.clients(write=False)
    found = registry.organization(fields["orgId"])
    if found is None:
        raise ConfigurationError(f"no organization {fields['orgId']!r}")
    return {"active": found.active, "vault": found.vault or "0x" + "00" * 20}


def _org_presets() -> tuple[Preset, ...]:
    """`procure org vault|deactivate|activate`: UpdateOrganization with one field changed, the rest kept."""
    from scripts.cli_client import Preset

    return (
        Preset(
            "vault",
            "UpdateOrganization",
            {},
            ("active",),
            _organization_now,
            "The registry admin makes --vault ACCOUNT (bound to ministry ORGANIZATION) the ministry's vault "
            "(refunds go back to the budget ledger, not to it).",
        ),
        Preset(
            "deactivate",
            "UpdateOrganization",
            {"active": False},
            ("vault",),
            _organization_now,
            "The registry admin deactivates ORGANIZATION: its accounts' roles stop counting and they can no longer "
            "hold yen; a supplier's payments are kept as owed.",
        ),
        Preset(
            "activate",
            "UpdateOrganization",
            {"active": True},
            ("vault",),
            _organization_now,
            "The registry admin activates ORGANIZATION again.",
        ),
    )


def _register() -> None:
    from chain.actions import ACTIONS
    from scripts.cli_budget import budget
    from scripts.cli_client import action_command, client
    from scripts.cli_gateway import nginx_conf, serve
    from scripts.cli_indexer import audit, index
    from scripts.cli_network import network

    for command in (index, audit, serve, nginx_conf, client, budget, network):
        main.add_command(command)
    for primary_type, name in _ORG_COMMANDS.items():
        command = action_command(ACTIONS[primary_type], name)
        org.add_command(command)
        if name in ("grant", "revoke"):
            role.add_command(command)
    for preset in _org_presets():
        org.add_command(action_command(ACTIONS[preset.primary_type], preset=preset))


_register()

if __name__ == "__main__":
    main()
