"""`procure client`: act through the gateway with your own key (keystore, or a dev account on a dev chain).

One command per signed action declared in ``chain.ACTIONS`` (``procure client attest``, ``... fund``), named
by the action's verb and made at import from its fields: an id field named as an argument (MILESTONE) is one,
every other field an option (``--new-amount``; a hash by what it is the hash of: ``--report FILE``, which is
uploaded and its SHA-256 signed); a round defaults to the milestone's current one. The command fetches the
typed data, checks it says what was asked, signs it with your key and has the gateway relay it; it prints the
action's one-line result and the transaction.

The same generator makes the budget acts' commands (``procure budget``, scripts/cli_budget.py): they name no
procurement; a line key is one option written as a path (``--line 2026/MOD/MOD-HQ/DEF-EQUIP/EQUIP-PURCHASE``,
an item key without its sub-item), any other struct's fields are options of their own (``--from``, ``--to``,
``--amount``), a hash is of a local FILE (not uploaded: the evidence store is for procurements) or given as
0x-hex, and what the gateway fills in from the pending transfer is not asked for.

Register with ``main.add_command(client)`` (``from scripts.cli_client import client``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from chain.actions import (
    ACCESS_REGISTRY,
    ACTIONS,
    BUDGET_OFFICE,
    MILESTONE_ESCROW,
    ROLE_NAMES,
    ActionField,
    ActionType,
    FieldKind,
)
from chain.errors import ConfigurationError
from scripts._common import Context, MomentType, clean_errors, password_for

if TYPE_CHECKING:
    import httpx

    from chain.signing import Signer
    from gateway.client import GatewayClient

__all__ = [
    "CLIENT_GATEWAY",
    "ClientState",
    "Preset",
    "action_command",
    "client",
    "escrow_named",
    "procurement_ref",
    "send_directly",
]

CLIENT_GATEWAY = "http://127.0.0.1:8000"  # the gateway `procure client` talks to unless told (`procure up` says)


def procurement_ref(value: str) -> str:
    """The gateway's path segment for a procurement named by its ocid (hashed: an ocid may hold any character but
    '#' and spaces), its on-chain id or its escrow address (as given); BadParameter naming what is wrong."""
    from chain import parse_procurement_name

    try:
        named = parse_procurement_name(value)
    except ConfigurationError as exc:
        raise click.BadParameter(str(exc), param_hint="PROCUREMENT") from None
    if named.escrow is not None:
        return named.escrow
    assert named.procurement_id is not None
    return "0x" + named.procurement_id.hex()


def escrow_named(context: Context, name: str) -> str:
    """The escrow of a procurement named by its ocid, escrow address or on-chain id (chain.procurement_name), found
    on the chain: an address must be one the registry knows as a procurement's escrow."""
    from chain import checksum_address, parse_procurement_name

    named = parse_procurement_name(name)
    registry, _, _ = context.clients(write=False)
    if named.escrow is not None:
        escrow = checksum_address(named.escrow)
        if registry.procurement_of(escrow) is None:  # never sign for, nor send to, a stranger's contract
            raise ConfigurationError(f"{escrow} is not the escrow of a procurement on this ledger")
        return escrow
    assert named.procurement_id is not None
    escrows = registry.escrows_registered(named.procurement_id, context.system().deployed_block)
    if not escrows:
        raise ConfigurationError(f"no procurement {name} on this ledger")
    if len(escrows) > 1:
        raise ConfigurationError(
            f"{name} names procurements of {len(escrows)} ministries (escrows {', '.join(escrows)}): give the escrow"
        )
    return escrows[0]


def _account(context: Context, gateway: GatewayClient) -> Signer:
    from chain.keys import dev_account, load_keystore
    from chain.signing import signer_of

    if context.account is not None:
        return signer_of(context.account)
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


def _placeholder() -> Signer:
    """A throwaway key: the probe only asks the gateway its chain id, it never signs."""
    import secrets

    from chain.signing import Signer

    return Signer(secrets.token_bytes(32))


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


@client.command("token")
@pass_state
@clean_errors
def token(state: ClientState) -> None:
    """Sign in and print a session token for scripts (send it as ``Authorization: Bearer <token>``).

    Only the token goes to standard output (``TOKEN=$(procure client token)``); when it expires, to standard error.
    """
    gateway = state.client()
    gateway.sign_in()
    click.echo(gateway.token)
    click.echo(f"token for {gateway.account.address}, valid until {gateway.expires_at}", err=True)


@client.command("show")
@click.argument("procurement")
@pass_state
@clean_errors
def show(state: ClientState, procurement: str) -> None:
    """Print a procurement in words (its ocid, title, buying ministry and supplier, as the mirror has them), then
    its books and milestones as the gateway reads them from the chain: each milestone's due date (JST), what it
    waits for and from whom, and OVERDUE where a deadline has passed."""
    from gateway.client import GatewayError

    gateway, pid = state.client(), procurement_ref(procurement)
    current = gateway.get(f"/procurements/{pid}/state")
    try:
        head = gateway.get(f"/procurements/{pid}")
    except GatewayError as exc:
        if exc.status != 404:
            raise
        head = None  # on chain, not in the mirror yet: the chain's figures below still stand
    if head is not None:
        click.echo(
            f"{head.get('ocid') or head['procurementId']}  {head['title']}\n"
            f"bought by {_named(head['ministry'], head.get('ministryName'))}, supplied by "
            f"{_named(head['supplierOrg'], head.get('supplierOrgName'))}"
        )
    totals = current.get("totals", {})
    paused = f"  RELEASES PAUSED until {_jst(int(current['pausedUntil']))}" if current.get("paused") else ""
    click.echo(
        f"escrow {current.get('escrow')}  funded {int(totals.get('funded', 0)):,}  "
        f"released {int(totals.get('released', 0)):,}  refunded {int(totals.get('refunded', 0)):,}  "
        f"owed {int(totals.get('owed', 0)):,} yen{paused}"
    )
    now = int(current["blockTimestamp"])  # the chain's clock: what the contract measures due dates by
    for m in current["milestones"]:
        click.echo(
            f"  [{m['milestoneId']}] {m['status']:<9} {int(m['amount']):>15,} yen  due {_jst(int(m['dueDate']))}  "
            f"round {m['round']}  {waiting_on(m, current, now)}"
        )


@client.command("evidence")
@click.argument("procurement")
@click.argument("milestone", type=click.IntRange(min=0))
@click.option("--round", "round_", type=click.IntRange(min=1), default=None, help="The round (default: the latest).")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    help="Folder to save the documents in (made if missing).",
)
@pass_state
@clean_errors
def evidence(state: ClientState, procurement: str, milestone: int, round_: int | None, out: Path) -> None:
    """Download the evidence submitted for MILESTONE (every document of a bundle), each checked against its
    SHA-256: what an evaluator inspects before it attests. One line per document saved."""
    gateway = state.client()
    pid = procurement_ref(procurement)
    submissions = gateway.get(f"/procurements/{pid}/milestones/{milestone}/evidence")["data"]
    if round_ is not None:
        submissions = [s for s in submissions if s["round"] == round_]
    if not submissions:
        which = "" if round_ is None else f" in round {round_}"
        raise click.ClickException(f"no evidence submitted for milestone {milestone}{which}")
    submission = submissions[-1]
    if not submission["documents"]:
        raise click.ClickException(
            f"evidence {submission['documentHash']} of round {submission['round']} is not in this gateway's store"
        )
    out.mkdir(parents=True, exist_ok=True)
    for document in submission["documents"]:
        data = gateway.download(document["downloadUrl"], document["documentHash"])
        target = _save_as(out, document["filename"], document["documentHash"], data)
        click.echo(f"{target}  {len(data):,} bytes  {document['documentHash']}  round {submission['round']}")


def _named(code: str, name: str | None) -> str:
    return f"{code} ({name})" if name else code


def _save_as(out: Path, filename: str | None, digest: str, data: bytes) -> Path:
    """Where a downloaded document is saved: its file name (the last part only: a supplier's name never leaves
    ``out``), or its hash; never over a different file."""
    name = Path((filename or "").replace("\\", "/")).name
    if name in ("", ".", "..") or name.startswith("."):
        name = digest
    target = out / name
    if target.exists() and target.read_bytes() != data:
        target = out / f"{digest[2:18]}-{name}"
    target.write_bytes(data)
    return target


# The inspection period after a due date during which an officer may not reclaim a milestone under evaluation
# (Act on Prevention of Delay in Payment, Art. 5; MilestoneEscrow's INSPECTION_PERIOD).
_INSPECTION_S = 10 * 86_400


def _jst(timestamp: int) -> str:
    import datetime as dt

    from chain import JST

    return dt.datetime.fromtimestamp(timestamp, JST).strftime("%Y-%m-%d %H:%M JST")


def waiting_on(milestone: dict[str, Any], state: dict[str, Any], now: int) -> str:
    """What ``milestone`` (as ``GET .../state`` gives it) waits for and from whom, with OVERDUE once the deadline
    of the one it waits on has passed."""
    status, due = milestone["status"], int(milestone["dueDate"])
    late = " OVERDUE: the officer may reclaim it" if now > due else ""
    if status == "Pending":
        return f"waiting on the supplier ({state['supplierOrg']}): evidence{late}"
    if status == "Rejected":
        return f"waiting on the supplier ({state['supplierOrg']}): new evidence or a dispute{late}"
    if status == "Submitted":
        overdue = " OVERDUE: the officer may reclaim it" if now > due + _INSPECTION_S else ""
        return (
            f"waiting on the panel: {milestone['passes']} of {state['quorum']} passes, "
            f"{milestone['fails']} fails{overdue}"
        )
    if status == "Disputed":
        lapses = int(milestone["disputeLapsesAt"])
        if now > lapses:
            return "ruling period over: anyone may lapse the dispute (lapse-dispute)"
        return f"waiting on a review body: a ruling by {_jst(lapses)}"
    if int(milestone["owed"]):
        return f"{int(milestone['owed']):,} yen owed: {_deferred_because(state, now)}"
    return "done"


def _deferred_because(state: dict[str, Any], now: int) -> str:
    until = int(state.get("pausedUntil") or 0)
    if until > now:
        return f"releases are paused until {_jst(until)}; then claim it (claim-payment)"
    return "the supplier could not receive it; claim it once it can (claim-payment)"


def outcome(before: dict[str, Any] | None, after: dict[str, Any] | None, milestone: int | None) -> str:
    """What an action did to a milestone's payment when it decided it: released (to whom), deferred (and why),
    or rejected (and until when evidence may come again); else empty."""
    if before is None or after is None or milestone is None or milestone >= len(after["milestones"]):
        return ""
    old, new = before["milestones"][milestone], after["milestones"][milestone]
    if old["status"] == new["status"] and old["owed"] == new["owed"]:
        return ""
    status, amount, owed = new["status"], int(new["amount"]), int(new["owed"])
    supplier = f"{after['supplier']} ({after['supplierOrg']})"
    if status == "Paid" and not owed:
        paid = int(old["owed"]) or amount  # a claim pays what was owed
        return f"; payment of {paid:,} yen released to {supplier}"
    if owed:
        return f"; payment of {owed:,} yen deferred: {_deferred_because(after, int(after['blockTimestamp']))}"
    if status == "Rejected":
        return f"; milestone rejected: evidence can be submitted again until {_jst(int(new['dueDate']))}"
    return ""


# ---------------------------------------------------------------- one command per declared action


def _parameter(field: ActionField) -> click.Parameter:
    """The argument or option that asks for ``field`` (see the module docstring)."""
    name = re.sub(r"(?<!^)(?=[A-Z])", "_", field.name).lower() + "_"  # never a keyword (pass)
    file = click.Path(exists=True, dir_okay=False, path_type=Path)
    if field.kind is FieldKind.DOCUMENT:  # one file, or several submitted as one bundle
        return click.Argument([name], type=file, metavar=f"{field.argument}...", nargs=-1, required=True)
    if field.argument is not None:
        return click.Argument([name], type=click.IntRange(min=0), metavar=field.argument)
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
    FieldKind.TIME: lambda f: (
        MomentType(),
        "A date (the end of that day, JST: 2027-06-30), a time with its offset (2027-06-30T12:00+09:00) or "
        "unix seconds.",
    ),
    FieldKind.ROUND: lambda f: (click.IntRange(min=1), "Round (default: the current)."),
    FieldKind.CHOICE: lambda f: (click.Choice(f.choices), f"The {f.option.removeprefix('--')}."),
    FieldKind.ADDRESS: lambda f: (click.STRING, "An address (0x and 40 hex digits)."),
    FieldKind.DOCUMENT_URI: lambda f: (click.STRING, "Where the document can be fetched (default: its ni: URI)."),
}


class KeyType(click.ParamType[dict[str, Any]]):
    """A budget line's key (or an item's: ``parts`` 4) written as a path: ``2026/MOD/MOD-HQ/DEF-EQUIP/SUB``."""

    name = "key"
    NAMES = ("fiscalYear", "ministry", "organization", "item", "subItem")

    def __init__(self, parts: int) -> None:
        self.parts = parts

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> dict[str, Any]:
        if isinstance(value, dict):
            return value
        parts = str(value).split("/")
        example = "/".join(["2026", "MOD", "MOD-HQ", "DEF-EQUIP", "EQUIP-PURCHASE"][: self.parts])
        if len(parts) != self.parts or not parts[0].isdecimal() or not all(p.isascii() and p for p in parts):
            self.fail(f"{value!r} is not written as {example}", param, ctx)
        if any(len(p) > 16 for p in parts[1:]):
            self.fail(f"{value!r}: a code has at most 16 characters", param, ctx)
        return dict(zip(self.NAMES, [int(parts[0]), *parts[1:]], strict=False))


class HashType(click.ParamType[str]):
    """A document's SHA-256: of a local FILE, or given as 0x and 64 hex digits."""

    name = "file-or-hash"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value)
        if re.fullmatch(r"0x[0-9a-fA-F]{64}", text):
            return text.lower()
        path = Path(text)
        if not path.is_file():
            self.fail(f"{text!r} is neither a file nor a SHA-256 (0x and 64 hex digits)", param, ctx)
        return "0x" + hashlib.sha256(path.read_bytes()).hexdigest()


class YenListType(click.ParamType[list[int]]):
    """Yen per year, comma-separated: ``300000000,600000000``."""

    name = "yen,yen,..."

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> list[int]:
        if isinstance(value, list):
            return value
        parts = str(value).split(",")
        if not all(p.strip().isdecimal() for p in parts):
            self.fail(f"{value!r} is not whole yen separated by commas (no other separators)", param, ctx)
        return [int(p) for p in parts]


def _contract_parameters(fields: tuple[ActionField, ...], path: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    """The parameters of an act of a contract with one instance (a budget act, a registry act) by the path of the
    field each fills (a struct other than a key, flattened)."""
    parameters: dict[tuple[str, ...], click.Parameter] = {}
    for field in fields:
        at = (*path, field.name)
        name = "_".join(re.sub(r"(?<!^)(?=[A-Z])", "_", n).lower() for n in at) + "_"
        if field.from_transfer:
            continue  # the gateway fills it in from the pending transfer
        if field.struct is not None and field.struct.name in ("LineKey", "ItemKey"):
            kind = KeyType(len(field.struct.fields))
            option = "--item" if field.struct.name == "ItemKey" else f"--{field.name}"
            example = "/".join(["2026", "MOD", "MOD-HQ", "DEF-EQUIP", "EQUIP-PURCHASE"][: kind.parts])
            help_text = f"The {field.name} {'item' if kind.parts == 4 else 'line'} as a path: {example}."
            parameters[at] = click.Option([option, name], type=kind, required=True, help=help_text)
        elif field.struct is not None:
            parameters.update(_contract_parameters(field.struct.fields, at))
        elif field.argument is not None:
            argument = _ARGUMENT_TYPES.get(field.kind, click.IntRange(min=0))
            parameters[at] = click.Argument([name], type=argument, metavar=field.argument)
        elif field.kind is FieldKind.HASH:
            what = field.option.removeprefix("--")
            help_text = f"The {what}: a FILE (its SHA-256 is signed) or 0x and 64 hex digits."
            parameters[at] = click.Option([field.option, name], type=HashType(), required=True, help=help_text)
        elif field.kind is FieldKind.YEN and field.type.endswith("[]"):
            parameters[at] = click.Option([field.option, name], type=YenListType(), required=True, help="Yen per year.")
        elif field.kind is FieldKind.YEN:
            low = -(field.maximum or 0) if field.type.startswith("int") else 0
            yen, cut = click.IntRange(min=low, max=field.maximum), " (negative: a cut)" if low else ""
            required = field.default is None
            parameters[at] = click.Option(
                [field.option, name], type=yen, required=required, default=field.default, help=f"Whole yen{cut}."
            )
        elif field.name == "expiresAt":  # a moment, signed as a uint64 of unix seconds
            help_text = "When it expires: a date (the end of that day, JST), a time with its offset, or unix seconds."
            parameters[at] = click.Option([field.option, name], type=MomentType(), required=True, help=help_text)
        elif field.kind is FieldKind.CODE:
            parameters[at] = click.Option([field.option, name], required=True, help="A code, e.g. MOFA.")
        elif field.kind is FieldKind.ADDRESS and field.name == "vault":
            help_text = "The ministry's vault: an account bound to it (none for other organizations)."
            parameters[at] = click.Option([field.option, name], default=_NO_ADDRESS, help=help_text)
        else:
            parameters[at] = _parameter(field)
    return parameters


_NO_ADDRESS = "0x" + "00" * 20
# A positional argument by what it names (else a whole number: a transfer's or a fiscal year's).
_ARGUMENT_TYPES: dict[FieldKind, click.ParamType[Any]] = {
    FieldKind.ROLE: click.Choice(ROLE_NAMES),
    FieldKind.ADDRESS: click.STRING,
    FieldKind.CODE: click.STRING,
}


def _contract_fields(
    action: ActionType, parameters: dict[tuple[str, ...], Any], given: dict[str, Any]
) -> dict[str, Any]:
    """An act's fields as the API takes them, from the command's parameters (structs reassembled)."""
    fields: dict[str, Any] = {}
    for path, parameter in parameters.items():
        value = given[str(parameter.name)]
        if value is None:
            continue
        target = fields
        for name in path[:-1]:
            target = target.setdefault(name, {})
        target[path[-1]] = value
    return fields


# The registry acts that would give the gateway's relayer an organization or a role (it must hold neither).
_NOT_TO_THE_RELAYER = ("BindAccount", "GrantRole")


@dataclass(frozen=True)
class Preset:
    """A command that is one declared act with some fields fixed and the others it does not ask kept as the contract
    holds them now (``procure org deactivate``: UpdateOrganization with ``active`` false, the vault kept). What it
    asks is required: it exists to change that."""

    name: str
    primary_type: str
    fixed: Mapping[str, Any]
    kept: tuple[str, ...]
    current: Callable[[Context, dict[str, Any]], dict[str, Any]]  # the act's fields as the contract holds them now
    summary: str


def _direct_option() -> click.Option:
    return click.Option(
        ["--direct"],
        is_flag=True,
        help="Send the signed act to the node (--rpc-url) yourself, paying its gas, instead of through the gateway.",
    )


def _contract_command(action: ActionType, name: str | None, preset: Preset | None = None) -> click.Command:
    """The command of an act of a contract with one instance: a budget act (``procure budget``) or a registry act
    (``procure org``), or a preset of one. Signed here; relayed by the gateway, or with ``--direct`` sent to the node
    by the signer."""
    fixed, kept = (preset.fixed, preset.kept) if preset is not None else ({}, ())
    parameters = {
        path: parameter
        for path, parameter in _contract_parameters(action.fields).items()
        if path[0] not in fixed and path[0] not in kept
    }
    if preset is not None:
        for parameter in parameters.values():
            parameter.required, parameter.default = True, None

    def run(state: ClientState, direct: bool, **given: Any) -> None:
        from scripts._common import not_the_relayer, parse_address

        fields = _contract_fields(action, parameters, given) | dict(fixed)
        for field in action.fields:
            if field.kind is FieldKind.ADDRESS and field.name in fields:
                fields[field.name] = parse_address(fields[field.name], field.argument or field.option)
        if action.primary_type in _NOT_TO_THE_RELAYER:
            not_the_relayer(state.context, fields["account"])
        if preset is not None:
            now = preset.current(state.context, fields)
            if all(now[name] == value for name, value in fields.items() if name in now):
                click.echo(f"{action.done.format(**_said(action, now | fields))} already (nothing to do)")
                return
            fields |= {name: now[name] for name in kept}
        if direct:
            tx_hash = send_directly(state.context, action, fields)
        else:
            tx_hash = str(state.client().act(None, action.primary_type, fields)["txHash"])
        click.echo(f"{action.done.format(**_said(action, fields))}: tx {tx_hash}")

    if preset is None:
        summary = f"{action.summary[0].upper()}{action.summary[1:]}"
    else:
        summary = f"{preset.summary} The other fields are kept as the contract holds them (read from the node)."
    return click.Command(
        name or action.verb,
        callback=pass_state(clean_errors(run)),
        params=[*parameters.values(), _direct_option()],
        help=f"{summary} Signed with your key ({action.primary_type}) and relayed by the gateway; --direct sends it "
        "to the node yourself.",
    )


def _said(action: ActionType, fields: dict[str, Any]) -> dict[str, Any]:
    """An act's fields as its one-line result says them: a flag by its word, a moment in JST."""
    words = dict(fields)
    for field in action.fields:
        if field.kind is FieldKind.FLAG and field.name in fields:
            words[field.name] = field.words[0] if fields[field.name] else field.words[1]
        if field.name == "expiresAt" and field.name in fields:
            words[field.name] = _jst(fields[field.name])
    return words


def send_directly(context: Context, action: ActionType, fields: dict[str, Any], escrow: str | None = None) -> str:
    """Sign an act with the context's key and send its ``...BySig`` call to the node from that key (its gas paid by
    the signer, no gateway); the transaction's hash. ``escrow``: the procurement an escrow action is of. Fields the
    gateway would fill in (a stored amendment's content, a pending transfer's) are read from the chain instead."""
    from chain import Action, sign_action
    from chain.clients import RegistryClient

    rpc, system, signer = context.rpc(), context.system(), context.signer()
    singles = {ACCESS_REGISTRY: system.registry, BUDGET_OFFICE: system.budget_office}
    contract = escrow if action.contract is MILESTONE_ESCROW else singles[action.contract]
    if contract is None:
        raise ConfigurationError(f"{action.primary_type} is an act on a procurement: name one")
    message = action.message(fields)
    if any(field.from_transfer for field in action.fields):
        message = _with_requested_transfer(context, action, message)
    if any(field.from_amendment and message[field.name] is None for field in action.fields):
        message = _with_stored_amendment(context, contract, action, message)
    nonce = RegistryClient(rpc, system.registry, None, context.build()).nonce(signer.address)
    signed = Action(action.primary_type, message, nonce, rpc.latest_timestamp() + _DIRECT_DEADLINE_S)
    signature = sign_action(signer, signed, chain_id=rpc.chain_id, escrow=contract)
    encoder = context.build().codec(action.contract.name).function(action.function)
    data = encoder.encode(signed.call_args(signer.address, signature))
    sender = context.sender()
    sender.call_data(contract, data)  # simulated first: a refusal is raised in words and nothing is sent
    return sender.send_data(contract, data).tx_hash


_DIRECT_DEADLINE_S = 600  # a signature sent at once needs little time: ten minutes of the chain's clock


def _with_stored_amendment(
    context: Context, escrow: str, action: ActionType, message: dict[str, Any]
) -> dict[str, Any]:
    """The message with the stored amendment's content (what the gateway fills in) read from the escrow."""
    from chain.clients import EscrowClient

    stored = EscrowClient(context.rpc(), escrow, None, context.build()).amendment(message["amendmentId"])
    content = stored.signed_content()
    missing = [f.name for f in action.fields if f.from_amendment and message[f.name] is None]
    return {**message, **{name: content[name] for name in missing}}


def _with_requested_transfer(context: Context, action: ActionType, message: dict[str, Any]) -> dict[str, Any]:
    """The message with the pending transfer's content (what the gateway fills in from its mirror) read from the
    transfer's TransferRequested event on chain."""
    from chain.clients import budget_clients

    system = context.system()
    _, office = budget_clients(context.rpc(), system, None, context.build())
    transfer_id = message["transferId"]
    content = office.requested_transfer(transfer_id, system.deployed_block)
    if content is None:
        raise click.UsageError(f"no transfer {transfer_id} was ever requested on this chain")
    return {**message, **{f.name: content[f.name] for f in action.fields if f.from_transfer}}


def action_command(action: ActionType, name: str | None = None, preset: Preset | None = None) -> click.Command:
    """``procure client <verb>``: sign ``action`` with your key and have the gateway relay it, or with ``--direct``
    send it to the node yourself (a budget act: ``procure budget <name>``, a registry act ``procure org <name>``,
    named ``name`` or by its verb; a ``preset`` of one, by the preset's name)."""
    if action.contract in (BUDGET_OFFICE, ACCESS_REGISTRY):
        return _contract_command(action, preset.name if preset else name, preset)
    parameters = {field.name: _parameter(field) for field in action.fields}

    def run(state: ClientState, procurement: str, direct: bool, **given: Any) -> None:
        values = {name: given[str(parameter.name)] for name, parameter in parameters.items()}
        milestone = values.get("milestoneId")
        if direct:
            escrow = escrow_named(state.context, procurement)
            fields, words = _request(action, values, *_on_chain(state.context, escrow))
            tx_hash = send_directly(state.context, action, fields, escrow)
            click.echo(f"{action.done.format(**words)}: tx {tx_hash}")
            return
        gateway = state.client()
        pid = procurement_ref(procurement)
        before = gateway.get(f"/procurements/{pid}/state") if milestone is not None else None
        fields, words = _request(action, values, *_through_gateway(gateway, pid, before))
        result = gateway.act(pid, action.primary_type, fields)
        said = outcome(before, result.get("state"), milestone)
        click.echo(f"{action.done.format(**words)}{said}: tx {result['txHash']}")

    files = "; FILE arguments and options are uploaded first (with --direct: hashed here, not uploaded)"
    files = files if _has_files(action) else ""
    return click.Command(
        action.verb,
        callback=pass_state(clean_errors(run)),
        params=[click.Argument(["procurement"], metavar="PROCUREMENT"), *parameters.values(), _direct_option()],
        help=f"Sign {action.primary_type} and have the gateway relay it (--direct: send it to the node yourself): "
        f"{action.summary} PROCUREMENT is its ocid, escrow address or on-chain id{files}.",
    )


def _has_files(action: ActionType) -> bool:
    return any(f.kind in (FieldKind.DOCUMENT, FieldKind.HASH) for f in action.fields)


_RoundOf = Callable[[int], int]
_HashOf = Callable[[ActionField, "Path | tuple[Path, ...] | None", dict[str, Any]], str]


def _request(
    action: ActionType, values: dict[str, Any], round_of: _RoundOf, hash_of: _HashOf
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The action's fields as the API takes them, and as the result line says them; ``round_of`` gives a milestone's
    current round, ``hash_of`` a document field's hash (through the gateway, or from the chain and local files)."""
    fields: dict[str, Any] = {}
    words: dict[str, Any] = {}
    for field in action.fields:  # plain values first: a hash's fallback and a round name them
        value = values[field.name]
        if field.kind is FieldKind.ROUND and value is None:
            value = round_of(values["milestoneId"])
        if field.kind is FieldKind.FLAG:
            words[field.name] = field.words[0] if value else field.words[1]
        if field.kind is FieldKind.TIME and value:
            words[field.name] = _jst(value)
        if value is not None and field.kind not in (FieldKind.DOCUMENT, FieldKind.HASH):
            fields[field.name] = value
    for field in action.fields:
        if field.from_amendment and values[field.name] is None:
            continue  # filled in from the stored amendment (by the gateway, or by send_directly)
        if field.kind in (FieldKind.DOCUMENT, FieldKind.HASH):
            fields[field.name] = hash_of(field, values[field.name], fields)
    return fields, {**fields, **words}


def _through_gateway(gateway: GatewayClient, pid: str, current: dict[str, Any] | None) -> tuple[_RoundOf, _HashOf]:
    """A milestone's round from the gateway's state of the procurement; a document's hash once uploaded."""

    def round_of(milestone: int) -> int:
        milestones = [] if current is None else current["milestones"]
        if milestone >= len(milestones):
            raise click.BadParameter(f"the procurement has {len(milestones)} milestones", param_hint="MILESTONE")
        return int(milestones[milestone]["round"])

    def hash_of(field: ActionField, given: Path | tuple[Path, ...] | None, fields: dict[str, Any]) -> str:
        if isinstance(given, tuple) and len(given) > 1:  # the bundle manifest listing them: gateway/evidence_bundle.py
            return str(gateway.upload_bundle(list(given))["documentHash"])
        path = given[0] if isinstance(given, tuple) else given
        return _fallback_hash(pid, field, fields) if path is None else str(gateway.upload(path)["documentHash"])

    return round_of, hash_of


def _on_chain(context: Context, escrow: str) -> tuple[_RoundOf, _HashOf]:
    """A milestone's round read from the escrow; a document's hash of the local file (not uploaded: put it in the
    evidence store with `procure client upload`)."""
    from chain.clients import EscrowClient

    def round_of(milestone: int) -> int:
        client = EscrowClient(context.rpc(), escrow, None, context.build())
        count = client.milestone_count()
        if milestone >= count:
            raise click.BadParameter(f"the procurement has {count} milestones", param_hint="MILESTONE")
        return client.milestone(milestone).round

    def hash_of(field: ActionField, given: Path | tuple[Path, ...] | None, fields: dict[str, Any]) -> str:
        if isinstance(given, tuple) and len(given) > 1:
            raise click.UsageError("--direct takes one document: a bundle of several is made by uploading them")
        path = given[0] if isinstance(given, tuple) else given
        if path is None:
            return _fallback_hash(escrow, field, fields)
        return "0x" + hashlib.sha256(path.read_bytes()).hexdigest()

    return round_of, hash_of


def _fallback_hash(pid: str, field: ActionField, fields: dict[str, Any]) -> str:
    """A hash field given no file: the SHA-256 of the procurement and the fields its fallback names."""
    assert field.fallback is not None  # else the option is required
    return "0x" + hashlib.sha256(":".join([pid, *(str(fields[n]) for n in field.fallback)]).encode()).hexdigest()


for _action in ACTIONS.values():
    if _action.contract == MILESTONE_ESCROW:  # a budget act's command is procure budget's (scripts/cli_budget.py)
        client.add_command(action_command(_action))
# Any signer's own registry act (the registry admin's are procure org's: scripts/cli.py).
client.add_command(action_command(ACTIONS["InvalidateNonces"], "withdraw-signatures"))
