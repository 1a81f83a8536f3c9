"""`procure budget`: a fiscal year's budget through the gateway, signed with your own key.

``enact FILE`` enacts a budget file (chain/budget_file.py): the acts the signer may sign (the finance authority
the items' appropriations, a ministry's finance officer its sub-items' distributions), leaving out what is
already on chain. One command per other budget act, made by the signed actions' generator
(``scripts.cli_client.action_command``) and named as people say it: ``distribute``, ``transfer request /
approve / refuse / withdraw``, ``grant``, ``revoke``, ``close-year``, ... ``show`` prints the lines per ministry
as the gateway serves them. Each act prints one line and exits non-zero on a refusal, said in words.

Register with ``main.add_command(budget)`` (``from scripts.cli_budget import budget``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from chain.actions import ACTIONS, BUDGET_OFFICE
from scripts._common import Context, clean_errors, fiscal_year_and_ministry
from scripts.cli_client import CLIENT_GATEWAY, ClientState, action_command, pass_state, send_directly

if TYPE_CHECKING:
    from chain.budget_file import BudgetAct, BudgetFile

__all__ = ["budget"]

# The commands' names, where people say them otherwise than the act's verb (a transfer's acts are a group).
_NAMES = {
    "CloseFiscalYear": "close-year",
    "GrantAccess": "grant",
    "RevokeAccess": "revoke",
}
_TRANSFER = {
    "RequestTransfer": "request",
    "ApproveTransfer": "approve",
    "RefuseTransfer": "refuse",
    "WithdrawTransfer": "withdraw",
}


@click.group(context_settings={"show_default": True})
@click.option("--gateway", envvar="PROCURE_GATEWAY_URL", default=CLIENT_GATEWAY, help="Base URL of the gateway.")
@click.pass_context
def budget(ctx: click.Context, gateway: str) -> None:
    """A fiscal year's budget: enact it from a file, distribute, transfer, grant, close; show the lines."""
    if isinstance(ctx.obj, ClientState):  # made by the caller (tests)
        return
    context = ctx.find_object(Context)
    ctx.obj = ClientState(Context() if context is None else context, gateway.rstrip("/"))


@budget.group("transfer")
def transfer() -> None:
    """Move yen between two lines of a ministry: requested by its finance officer, decided by the finance
    authority (or withdrawn); a decision names the transfer's number only (its content comes from the mirror)."""


for _action in ACTIONS.values():
    if _action.contract != BUDGET_OFFICE:
        continue
    if _action.primary_type in _TRANSFER:
        transfer.add_command(action_command(_action, _TRANSFER[_action.primary_type]))
    else:
        budget.add_command(action_command(_action, _NAMES.get(_action.primary_type)))


@budget.command("enact")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--fiscal-year", type=click.IntRange(2000, 2999), default=None, help="Enact it for this year instead.")
@click.option(
    "--direct",
    is_flag=True,
    help="Read what is on chain from the node (--rpc-url) and send each signed act to it yourself, paying its gas, "
    "instead of through the gateway.",
)
@pass_state
@clean_errors
def enact(state: ClientState, file: Path, fiscal_year: int | None, direct: bool) -> None:
    """Enact a budget FILE (YAML): as the finance authority, each item's appropriation; as a ministry's finance
    officer, the distribution of that ministry's sub-items. What is already on chain is left out; nothing is sent
    while anything in the file is wrong. One line per act."""
    from chain.budget_file import load_budget_file
    from chain.roles import Role
    from gateway.client import GatewayError

    loaded = load_budget_file(file)  # every mistake of the file, before anything is sent
    year = loaded.budget.fiscal_year if fiscal_year is None else fiscal_year
    plan = _chain_plan(state, loaded.budget, year) if direct else _gateway_plan(state, loaded.budget, year)
    acts, roles, organization = plan
    mine = [act for act in acts if act.role.value in roles and (act.ministry is None or act.ministry == organization)]
    for act in mine:
        if direct:
            tx_hash = send_directly(state.context, ACTIONS[act.primary_type], act.fields)
            click.echo(f"{act.where}: {act.said}: tx {tx_hash}")
            continue
        try:
            result = state.client().act(None, act.primary_type, act.fields)
        except GatewayError as exc:
            if exc.body.get("error") == "BudgetInitialBudget" and act.primary_type == "EnactAppropriation":
                continue  # enacted already (an item the mirror shows no line of yet)
            raise
        click.echo(f"{act.where}: {act.said}: tx {result['txHash']}")
    # What is someone else's to do, as far as the signer sees: the finance authority sees every ministry's lines, a
    # finance officer its own ministry's (whose items the finance authority enacted, or its distributions are
    # refused). Through the gateway, an item the mirror shows no line of may be enacted already: only the finance
    # authority tries it again (the ledger refuses a second initial budget, which is skipped above).
    finance = Role.FINANCE_AUTHORITY.value in roles
    left = [act for act in acts if act not in mine and (finance or act.ministry == organization)]
    if not mine and not left:
        click.echo(f"{file}: everything is on chain for FY{year} (nothing to do)")
        return
    if left:
        who = sorted({_signer_words(a.ministry) for a in left})
        click.echo(f"{len(left)} act(s) of this file are left to {' and '.join(who)}")


Plan = tuple[list["BudgetAct"], set[str], str | None]


def _gateway_plan(state: ClientState, budget_file: BudgetFile, year: int) -> Plan:
    """The file's acts not yet on chain as far as the gateway shows the signer, and the signer's roles and
    organization (from signing in)."""
    gateway = state.client()
    me = gateway.sign_in()
    enacted, lines = _on_chain(gateway, year)
    acts = budget_file.acts(
        enacted=lambda item: _codes(item.as_tuple()) in enacted,
        distributed=lambda line: _codes(line.as_tuple()) in lines,
        fiscal_year=year,
    )
    return acts, set(me["roles"]), me.get("organization")


def _chain_plan(state: ClientState, budget_file: BudgetFile, year: int) -> Plan:
    """The file's acts not yet on chain, read from the ledger itself, and the signer's active roles and organization
    from the registry (no gateway)."""
    from chain.budget_file import distributed_on_chain, enacted_on_chain
    from chain.clients import budget_clients, system_clients
    from chain.roles import Role

    context = state.context
    rpc, system, build, signer = context.rpc(), context.system(), context.build(), context.signer().address
    ledger, _ = budget_clients(rpc, system, None, build)
    registry, _, _ = system_clients(rpc, system, None, build)
    acts = budget_file.acts(
        enacted=enacted_on_chain(ledger.item), distributed=distributed_on_chain(ledger.line), fiscal_year=year
    )
    roles = {role.value for role in (Role.FINANCE_AUTHORITY, Role.TREASURY) if registry.has_active_role(role, signer)}
    return acts, roles, registry.organization_of(signer)


def _signer_words(ministry: str | None) -> str:
    return "the finance authority" if ministry is None else f"{ministry}'s finance officer"


def _codes(key: tuple[Any, ...]) -> tuple[Any, ...]:
    """A key as comparable codes: the fiscal year, then each code as text."""
    return (key[0], *(c.rstrip(b"\0").decode() if isinstance(c, bytes) else c for c in key[1:]))


def _on_chain(gateway: Any, fiscal_year: int) -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
    """The items with an initial budget and the lines that exist in ``fiscal_year``, as far as the caller sees."""
    summary = gateway.get("/budget/summary", params={"fiscalYear": fiscal_year})
    items = {
        (fiscal_year, i["ministry"], i["organization"], i["item"]) for i in summary["items"] if int(i["initial"]) > 0
    }
    lines = {
        (fiscal_year, line["ministry"], line["organization"], line["item"], line["subItem"])
        for line in _lines(gateway, fiscal_year, None)
    }
    return items, lines


def _lines(gateway: Any, fiscal_year: int, ministry: str | None) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"fiscalYear": fiscal_year, "limit": 10_000}
    if ministry is not None:
        params["ministry"] = ministry
    found: list[dict[str, Any]] = []
    while True:
        page = gateway.get("/budget/lines", params=params | {"offset": len(found)})
        found += page["data"]
        if not page["data"] or len(found) >= int(page["count"]):
            return found


@budget.command("show")
@fiscal_year_and_ministry("the current one", "every one you may see")
@pass_state
@clean_errors
def show(state: ClientState, fiscal_year: int | None, ministry: str | None) -> None:
    """The budget lines you may see, a table per ministry (yen): appropriation, obligated, disbursed, available;
    then the transfers pending, with how long each has waited."""
    gateway = state.client()
    params: dict[str, Any] = {} if fiscal_year is None else {"fiscalYear": fiscal_year}
    summary = gateway.get("/budget/summary", params=params | ({"ministry": ministry} if ministry else {}))
    year = int(summary["fiscalYear"])
    lines = _lines(gateway, year, ministry)
    if not lines:
        me = gateway.get("/auth/me")
        who = "the registry admin" if me.get("registryAdmin") else ", ".join(me["roles"]) or "no role"
        click.echo(
            f"FY{year}: no budget lines you may see ({gateway.account.address}: {who}). The finance authority and "
            "auditors read every line; a ministry's admin, procurement officers and treasury officers read their "
            "ministry's lines and those granted to it (sign in as one: --dev-account N or --keystore FILE)"
        )
        return
    columns = ("appropriation", "obligated", "disbursed", "available")
    header = f"  {'item':<16} {'sub-item':<16} " + " ".join(f"{name:>19}" for name in columns)
    for totals in summary["ministries"]:
        code = totals["ministry"]
        click.echo(f"FY{year} {code}")
        click.echo(header)
        own = [line for line in lines if line["ministry"] == code]
        for line in sorted(own, key=lambda entry: (entry["item"], entry["subItem"])):
            click.echo(
                f"  {line['item']:<16} {line['subItem']:<16} {int(line['appropriation']['total']):>19,} "
                f"{int(line['obligated']):>19,} {int(line['disbursed']):>19,} {int(line['available']):>19,}"
            )
        t = totals["totals"]
        click.echo(
            f"  {'total':<33} {int(t['appropriation']):>19,} {int(t['obligated']):>19,} {int(t['disbursed']):>19,} "
            f"{int(t['available']):>19,}"
        )
        for line in own:
            if not line["pendingTransfers"]:
                continue
            detail = gateway.get(f"/budget/lines/{year}/{line['series']}")
            for pending in detail["pending"]:
                if pending["direction"] != "out":
                    continue
                click.echo(
                    f"  pending transfer {pending['transferId']}: {pending['fromItem']}/{pending['fromSubItem']} -> "
                    f"{pending['toItem']}/{pending['toSubItem']} {int(pending['amount']):,} yen, waiting "
                    f"{_age(int(pending['ageSeconds']))}"
                )


def _age(seconds: int) -> str:
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    return f"{days} d {hours} h" if days else f"{hours} h {rest // 60} min"
