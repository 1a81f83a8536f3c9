"""`procure client`: act through the gateway with your own key (keystore, or a dev account on a dev chain).

Register with ``main.add_command(client)`` (``from scripts.cli_client import client``).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from scripts._common import Context, clean_errors, password_for

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from gateway.client import GatewayClient

__all__ = ["client", "procurement_ref"]

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

    if context.keystore is not None:
        return load_keystore(context.keystore, password_for(context.keystore))
    return dev_account(0 if context.dev_index is None else context.dev_index, gateway.chain_id_hint())


class _ClientState:
    def __init__(self, context: Context, url: str) -> None:
        self.context = context
        self.url = url
        self._client: GatewayClient | None = None

    def client(self) -> GatewayClient:
        from gateway.client import GatewayClient

        if self._client is None:
            probe = GatewayClient(self.url, _placeholder())
            account = _account(self.context, probe)
            self._client = GatewayClient(self.url, account, http=probe.http)
        return self._client


def _placeholder() -> LocalAccount:
    from eth_account import Account

    placeholder: LocalAccount = Account.create()
    return placeholder


pass_state = click.make_pass_decorator(_ClientState)


@click.group(context_settings={"show_default": True})
@click.option(
    "--gateway",
    envvar="PROCURE_GATEWAY_URL",
    default="http://127.0.0.1:8000",
    help="Base URL of the gateway.",
)
@click.pass_context
def client(ctx: click.Context, gateway: str) -> None:
    """Act through the gateway as a supplier, evaluator or officer; your key stays on this machine."""
    context = ctx.find_object(Context)
    if context is None:
        context = Context()
    ctx.obj = _ClientState(context, gateway.rstrip("/"))


@client.command("whoami")
@pass_state
@clean_errors
def whoami(state: _ClientState) -> None:
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
def upload(state: _ClientState, document: Path) -> None:
    """Upload DOCUMENT to the evidence store; print its SHA-256."""
    stored = state.client().upload(document)
    click.echo(f"{stored['documentHash']}  {stored.get('size', document.stat().st_size):,} bytes  {document.name}")


@client.command("submit-evidence")
@click.argument("procurement")
@click.argument("milestone", type=click.IntRange(min=0))
@click.argument("document", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--uri", default=None, help="Where the document can be fetched (default: the store's ni: URI).")
@pass_state
@clean_errors
def submit_evidence(state: _ClientState, procurement: str, milestone: int, document: Path, uri: str | None) -> None:
    """Upload DOCUMENT and submit it as evidence for MILESTONE of PROCUREMENT (an id or an ocid)."""
    gateway = state.client()
    stored = gateway.upload(document)
    fields: dict[str, Any] = {"milestoneId": milestone, "documentHash": stored["documentHash"]}
    if uri:
        fields["uri"] = uri
    result = gateway.act(procurement_ref(procurement), "SubmitEvidence", fields)
    click.echo(f"evidence {stored['documentHash'][:18]}... submitted for milestone {milestone}: tx {result['txHash']}")


@client.command("attest")
@click.argument("procurement")
@click.argument("milestone", type=click.IntRange(min=0))
@click.option("--pass/--fail", "passed", required=True, help="The verdict.")
@click.option(
    "--report",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The test report; its SHA-256 is attested (and it is uploaded).",
)
@click.option("--round", "round_", type=click.IntRange(min=1), default=None, help="Round (default: the current).")
@pass_state
@clean_errors
def attest(
    state: _ClientState, procurement: str, milestone: int, passed: bool, report: Path | None, round_: int | None
) -> None:
    """Sign and submit a pass or fail for MILESTONE of PROCUREMENT."""
    gateway = state.client()
    pid = procurement_ref(procurement)
    if report is not None:
        report_hash = gateway.upload(report)["documentHash"]
    else:
        report_hash = "0x" + hashlib.sha256(f"{pid}:{milestone}:{passed}".encode()).hexdigest()
    if round_ is None:
        current = gateway.get(f"/procurements/{pid}/state")
        round_ = int(current["milestones"][milestone]["round"])
    fields = {"milestoneId": milestone, "round": round_, "pass": passed, "reportHash": report_hash}
    result = gateway.act(pid, "Attest", fields)
    verdict = "pass" if passed else "fail"
    click.echo(f"{verdict} attested for milestone {milestone}, round {round_}: tx {result['txHash']}")


@client.command("show")
@click.argument("procurement")
@pass_state
@clean_errors
def show(state: _ClientState, procurement: str) -> None:
    """Print a procurement's milestones and books, as the gateway reads them from the chain."""
    current = state.client().get(f"/procurements/{procurement_ref(procurement)}/state")
    totals = current.get("totals", {})
    click.echo(
        f"escrow {current.get('escrow')}  funded {int(totals.get('funded', 0)):,}  "
        f"released {int(totals.get('released', 0)):,}  refunded {int(totals.get('refunded', 0)):,} yen"
    )
    for m in current["milestones"]:
        click.echo(f"  [{m['milestoneId']}] {m['status']:<9} {int(m['amount']):>15,} yen  round {m['round']}")
