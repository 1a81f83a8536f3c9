"""`procure client <verb>`: a command per declared escrow action, made from its declaration, driven here against
the gateway on the fixture chain; and the client's refusal to sign typed data that says something else."""

from __future__ import annotations

from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from chain import ACTIONS, MILESTONE_ESCROW, FieldKind
from gateway.client import GatewayClient, GatewayError
from scripts._common import Context
from scripts.cli_client import ClientState, client
from tests.gateway.conftest import Api

_STATES: dict[tuple[int, str], ClientState] = {}


def _run(api: Api, label: str, *args: str) -> Result:
    """``procure client ARGS`` as ``label``, against the test gateway (signed in once per test and label: sign-ins
    are rate-limited per client address)."""
    key = (id(api), label)
    if key not in _STATES:
        _STATES[key] = ClientState(Context(account=api.world.accounts[label]), "http://testserver", http=api.client)
    return CliRunner().invoke(client, list(args), obj=_STATES[key])


def test_every_escrow_action_has_a_command_in_its_words() -> None:
    escrow_actions = [a for a in ACTIONS.values() if a.contract == MILESTONE_ESCROW]
    assert escrow_actions
    for action in escrow_actions:
        command = client.commands[action.verb]
        arguments = [p.human_readable_name for p in command.params if isinstance(p, click.Argument)]
        options = {o for p in command.params if isinstance(p, click.Option) for o in p.opts}
        said = {field.name: field.argument for field in action.fields if field.argument}
        named = [f"{a}..." if n == "documentHash" else a for n, a in said.items()]
        assert arguments == ["PROCUREMENT", *named]  # several documents are submitted as one bundle
        for field in action.fields:
            if field.argument is None:
                assert (f"--{field.words[0]}" if field.kind is FieldKind.FLAG else field.option) in options
        assert action.summary in (command.help or "")


def test_a_refusal_is_one_line_naming_the_custom_error(api: Api, procurement: str) -> None:
    before = api.chain_marks()
    refused = _run(api, "eval1", "attest", procurement, "0", "--pass")  # no evidence yet: the milestone is Pending
    assert refused.exit_code == 1
    assert (
        "milestone 0 is Pending (no evidence submitted yet); this needs it Submitted" in refused.output
    )  # in words, the raw error once
    assert "EscrowUnexpectedMilestoneStatus" not in refused.output
    _STATES[(id(api), "eval1")].context.verbose = True  # `procure --verbose`: the Solidity form too
    verbose = _run(api, "eval1", "attest", procurement, "0", "--pass")
    _STATES[(id(api), "eval1")].context.verbose = False
    assert verbose.output.strip().endswith("[EscrowUnexpectedMilestoneStatus(milestoneId=0, current=0, allowed=2)]")
    assert "Traceback" not in refused.output
    assert len(refused.output.strip().splitlines()) == 1
    assert api.chain_marks() == before
    missing = _run(api, "officer", "propose-amendment", procurement, "1", "--kind", "cancel")
    assert missing.exit_code == 2
    assert "--rationale" in missing.output
    beyond = _run(api, "eval1", "attest", procurement, "7", "--pass")
    assert beyond.exit_code == 2
    assert "3 milestones" in beyond.output


# ------------------------------------------------------------------ the client checks what it is asked to sign

_REQUESTS: dict[str, dict[str, Any]] = {
    "Attest": {"milestoneId": 0, "round": 1, "pass": True, "reportHash": "0x" + "22" * 32},
    "ProposeAmendment": {
        "milestoneId": 1,
        "kind": "dueDate",
        "newDueDate": 2_000_000_000,
        "rationaleHash": "0x" + "33" * 32,
    },
    "SubmitEvidence": {"milestoneId": 0},  # with the uploaded document's hash, and no uri: the ni: URI is meant
}
_LABELS = {"Attest": "eval1", "ProposeAmendment": "officer", "SubmitEvidence": "supplier"}


def _tampered(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if value.isdecimal():
        return str(int(value) + 1)
    return value[:-1] + ("0" if value[-1] != "0" else "1")


@pytest.mark.parametrize("primary_type", sorted(_REQUESTS))
def test_the_client_signs_only_what_it_asked_for(api: Api, procurement: str, primary_type: str) -> None:
    label, fields = _LABELS[primary_type], dict(_REQUESTS[primary_type])
    headers = api.sign_in(label)
    if primary_type == "SubmitEvidence":
        fields["documentHash"] = api.upload(headers, b"evidence")["documentHash"]
    gateway = GatewayClient("http://testserver", api.world.accounts[label], http=api.client)
    gateway.sign_in()
    typed = api.typed_data(headers, procurement, ACTIONS[primary_type].verb, fields)
    gateway._verify(ACTIONS[primary_type], fields, typed)  # what was asked: signed
    for name in typed["typedData"]["message"]:  # any field the gateway changed, the nonce and deadline aside
        if name in ("nonce", "deadline"):
            continue
        forged = {**typed, "typedData": {**typed["typedData"], "message": dict(typed["typedData"]["message"])}}
        forged["typedData"]["message"][name] = _tampered(forged["typedData"]["message"][name])
        with pytest.raises(GatewayError, match=name):
            gateway._verify(ACTIONS[primary_type], fields, forged)
    for part, value in (("name", "Other"), ("version", "2"), ("chainId", 1)):
        forged = {**typed, "typedData": {**typed["typedData"], "domain": {**typed["typedData"]["domain"], part: value}}}
        with pytest.raises(GatewayError, match="domain"):
            gateway._verify(ACTIONS[primary_type], fields, forged)
