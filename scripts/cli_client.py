"""`procure client`: act through the gateway with your own key (keystore, or a dev account on a dev chain).

One command per signed action declared in ``chain.ACTIONS`` (``procure client attest``, ``... fund``), named
by the action's verb and made at import from its fields: an id field named as an argument (MILESTONE) is one,
every other field an option (``--new-amount``; a hash by what it is the hash of: ``--report FILE``, which is
uploaded and its SHA-256 signed); a round defaults to the milestone's current one. The command fetches the
typed data, checks it says what was asked, signs it with your key and has the gateway relay it; it prints the
action's one-line result and the transaction.

Register with ``main.add_command(client)`` (``from scripts.cli_client import client``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from chain.actions import ACTIONS, MILESTONE_ESCROW, ActionField, ActionType, FieldKind
from scripts._common import Context, clean_errors, password_for

if TYPE_CHECKING:
    import httpx
    from eth_account.signers.local import LocalAccount

    from gateway.client import GatewayClient

__all__ = ["CLIENT_GATEWAY", "ClientState", "action_command", "client", "procurement_ref"]

CLIENT_GATEWAY = "http://127.0.0.1:8000"  # the gateway `procure client` talks to unless told (`procure up` says)

_HEX32 = re.compile(r"^0x[0-9a-fA-F]{64}$")


def procurement_ref(value: str) -> str:
    """A procurement id as 0x-hex: given as such, or as its OCDS ocid (hashed like the spec file's id)."""
    from eth_utils.crypto import keccak

    if _HEX32.match(value):
        return value.lower()
    if not value or len(value) > 128 or not value.isascii() or any(c.isspace() for c in value):
        raise click.BadParameter(f"{value!r} is neither a 0x procurement id nor an ocid", param_hint="PROCUREMENT")
    return "0x" + keccak(text=value).hex()


def _account(context: Context, gateway: GatewayClient) -> LocalAccount:
    from chain.keys import dev_account, load_keystore

    if context.account is not None:
        return context.account
    if context.keystore is not None:
        return load_keystore(context.keystore, password_for(context.keystore))
    return dev_account(0 if context.dev_index is None else context.dev_index, gateway.chain_id_hint())


class ClientState:
    """The gateway to talk to, and who signs; ``http`` is an HTTP client of the caller's (tests pass one)."""

    def __init__(self, context: Context, url: str, http: httpx.Client | None = None) -> None:
        self.context = context
        self.url = url
        self.http = http
        self._client: GatewayClient | None = None

    def client(self) -> GatewayClient:
        """The signed-in client, made on first use."""
        from gateway.client import GatewayClient

        if self._client is None:
            probe = GatewayClient(self.url, _placeholder(), http=self.http)
            account = _account(self.context, probe)
            self._client = GatewayClient(self.url, account, http=probe.http)
        return self._client


def _placeholder() -> LocalAccount:
    from eth_account import Account

    placeholder: LocalAccount = Account.create()
    return placeholder


pass_state = click.make_pass_decorator(ClientState)


@click.group(context_settings={"show_default": True})
@click.option(
    "--gateway",
    envvar="PROCURE_GATEWAY_URL",
    default=CLIENT_GATEWAY,
    help="Base URL of the gateway.",
)
@click.pass_context
def client(ctx: click.Context, gateway: str) -> None:
    """Act through the gateway as a supplier, evaluator or officer; your key stays on this machine."""
    if isinstance(ctx.obj, ClientState):  # made by the caller (tests)
        return
    context = ctx.find_object(Context)
    if context is None:
        context = Context()
    ctx.obj = ClientState(context, gateway.rstrip("/"))


@client.command("whoami")
@pass_state
@clean_errors
def whoami(state: ClientState) -> None:
    """Sign in and print the account's organization, roles and yen balance."""
    account = state.client().sign_in()
    me = state.client().get("/auth/me")
    click.echo(
        f"{account['address']}  {account.get('organization') or '-'}  roles: {', '.join(account['roles']) or '-'}"
        f"  balance: {int(me.get('balance') or 0):,} yen"
    )


@client.command("upload")
@click.argument("document", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_state
@clean_errors
def upload(state: ClientState, document: Path) -> None:
    """Upload DOCUMENT to the evidence store; print its SHA-256."""
    stored = state.client().upload(document)
    click.echo(f"{stored['documentHash']}  {stored.get('size', document.stat().st_size):,} bytes  {document.name}")


@client.command("show")
@click.argument("procurement")
@pass_state
@clean_errors
def show(state: ClientState, procurement: str) -> None:
    """Print a procurement's milestones and books, as the gateway reads them from the chain."""
    current = state.client().get(f"/procurements/{procurement_ref(procurement)}/state")
    totals = current.get("totals", {})
    click.echo(
        f"escrow {current.get('escrow')}  funded {int(totals.get('funded', 0)):,}  "
        f"released {int(totals.get('released', 0)):,}  refunded {int(totals.get('refunded', 0)):,} yen"
    )
    for m in current["milestones"]:
        click.echo(f"  [{m['milestoneId']}] {m['status']:<9} {int(m['amount']):>15,} yen  round {m['round']}")


# ---------------------------------------------------------------- one command per declared action


def _parameter(field: ActionField) -> click.Parameter:
    """The argument or option that asks for ``field`` (see the module docstring)."""
    name = re.sub(r"(?<!^)(?=[A-Z])", "_", field.name).lower() + "_"  # never a keyword (pass)
    file = click.Path(exists=True, dir_okay=False, path_type=Path)
    if field.argument is not None:
        kind = file if field.kind is FieldKind.DOCUMENT else click.IntRange(min=0)
        return click.Argument([name], type=kind, metavar=field.argument)
    if field.kind is FieldKind.FLAG:
        yes, no = field.words
        return click.Option([f"--{yes}/--{no}", name], required=True, help=f"{yes.capitalize()} or {no}.")
    if field.kind is FieldKind.HASH:
        what = field.option.removeprefix("--")
        help_text = f"The {what} (a file): it is uploaded and its SHA-256 signed."
        required = field.fallback is None and not field.from_amendment
        return click.Option([field.option, name], type=file, required=required, help=help_text)
    kind, help_text = _OPTION_TYPES[field.kind](field)
    required = field.default is None and field.kind not in (FieldKind.ROUND, FieldKind.DOCUMENT_URI)
    required = required and not field.from_amendment  # the gateway fills it in from the stored amendment
    return click.Option([field.option, name], type=kind, required=required, default=field.default, help=help_text)


_OPTION_TYPES: dict[FieldKind, Callable[[ActionField], tuple[Any, str]]] = {
    FieldKind.YEN: lambda f: (click.IntRange(min=0), "Yen, a whole number."),
    FieldKind.NUMBER: lambda f: (click.IntRange(min=0), "A whole number."),
    FieldKind.ROUND: lambda f: (click.IntRange(min=1), "Round (default: the current)."),
    FieldKind.CHOICE: lambda f: (click.Choice(f.choices), f"The {f.option.removeprefix('--')}."),
    FieldKind.ADDRESS: lambda f: (click.STRING, "An address (0x and 40 hex digits)."),
    FieldKind.DOCUMENT_URI: lambda f: (click.STRING, "Where the document can be fetched (default: its ni: URI)."),
}


def action_command(action: ActionType) -> click.Command:
    """``procure client <verb>``: sign ``action`` with your key and have the gateway relay it."""

    parameters = {field.name: _parameter(field) for field in action.fields}

    def run(state: ClientState, procurement: str, **given: Any) -> None:
        gateway = state.client()
        pid = procurement_ref(procurement)
        values = {name: given[str(parameter.name)] for name, parameter in parameters.items()}
        fields, words = _request(gateway, pid, action, values)
        result = gateway.act(pid, action.primary_type, fields)
        click.echo(f"{action.done.format(**words)}: tx {result['txHash']}")

    files = "; FILE arguments and options are uploaded first" if _has_files(action) else ""
    return click.Command(
        action.verb,
        callback=pass_state(clean_errors(run)),
        params=[click.Argument(["procurement"], metavar="PROCUREMENT"), *parameters.values()],
        help=f"Sign {action.primary_type} and have the gateway relay it: {action.summary} "
        f"PROCUREMENT is an id or an ocid{files}.",
    )


def _has_files(action: ActionType) -> bool:
    return any(f.kind in (FieldKind.DOCUMENT, FieldKind.HASH) for f in action.fields)


def _request(
    gateway: GatewayClient, pid: str, action: ActionType, values: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The action's fields as the API takes them, and as the result line says them."""
    fields: dict[str, Any] = {}
    words: dict[str, Any] = {}
    for field in action.fields:  # plain values first: a hash's fallback and a round name them
        value = values[field.name]
        if field.kind is FieldKind.ROUND and value is None:
            value = _current_round(gateway, pid, values["milestoneId"])
        if field.kind is FieldKind.FLAG:
            words[field.name] = field.words[0] if value else field.words[1]
        if value is not None and field.kind not in (FieldKind.DOCUMENT, FieldKind.HASH):
            fields[field.name] = value
    for field in action.fields:
        if field.from_amendment and values[field.name] is None:
            continue  # the gateway fills it in from the stored amendment
        if field.kind in (FieldKind.DOCUMENT, FieldKind.HASH):
            fields[field.name] = _document_hash(gateway, pid, field, values[field.name], fields)
    return fields, {**fields, **words}


def _current_round(gateway: GatewayClient, pid: str, milestone: int) -> int:
    milestones = gateway.get(f"/procurements/{pid}/state")["milestones"]
    if milestone >= len(milestones):
        raise click.BadParameter(f"the procurement has {len(milestones)} milestones", param_hint="MILESTONE")
    return int(milestones[milestone]["round"])


def _document_hash(
    gateway: GatewayClient, pid: str, field: ActionField, path: Path | None, fields: dict[str, Any]
) -> str:
    """The SHA-256 of an uploaded file; without one, of the procurement and the fields the fallback names."""
    if path is not None:
        return str(gateway.upload(path)["documentHash"])
    assert field.fallback is not None  # else the option is required
    return "0x" + hashlib.sha256(":".join([pid, *(str(fields[n]) for n in field.fallback)]).encode()).hexdigest()


for _action in ACTIONS.values():
    if _action.contract == MILESTONE_ESCROW:  # the gateway's routes are the escrow's (gateway/api/routes/actions.py)
        client.add_command(action_command(_action))
