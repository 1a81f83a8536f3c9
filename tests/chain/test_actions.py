"""The signed-action declarations agree with the contracts: every ``...BySig`` function of the build is declared,
each declaration's fields are the function's leading arguments with the same ABI types, its domain is the one
the deployed contract reports (ERC-5267), and its words are usable by the API and the commands."""

from __future__ import annotations

import re
import string
import subprocess
import sys
from typing import Any

import pytest

from chain import (
    ACCESS_REGISTRY,
    ACTIONS,
    BUDGET_MAX_YEN,
    ActionField,
    ActionType,
    Build,
    FieldKind,
    abi_type,
    compile_contracts,
    ni_uri,
    project_root,
)
from chain.errors import SignatureError
from tests.helpers import new_escrow
from tests.world import World

# What every ``...BySig`` function takes after the signed fields.
_TAIL = ["address", "uint256", "bytes"]


@pytest.fixture(scope="module")
def build() -> Build:
    return compile_contracts()


def _by_sig_functions(build: Build) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """(contract, function) -> ABI inputs, for every deployable contract's ``...BySig`` function."""
    found = {}
    for name, artifact in build.artifacts.items():
        if len(artifact.bytecode.removeprefix("0x")) == 0:
            continue  # an interface
        for entry in artifact.abi:
            if entry.get("type") == "function" and entry["name"].endswith("BySig"):
                found[(name, entry["name"])] = entry["inputs"]
    return found


def _names(field: ActionField) -> object:
    """A field's name; a struct's name and its fields', nested (as an ABI input's components name them)."""
    struct = field.struct
    return field.name if struct is None else (field.name, struct.name, [_names(f) for f in struct.fields])


def _abi_names(param: dict[str, Any]) -> object:
    components = param.get("components")
    if components is None:
        return param["name"]
    struct = re.fullmatch(r"struct (?:\w+\.)?(\w+)", param["internalType"])
    assert struct is not None, param["internalType"]
    return (param["name"], struct.group(1), [_abi_names(c) for c in components])


def test_every_by_sig_function_is_declared_and_agrees_with_its_abi(build: Build) -> None:
    functions = _by_sig_functions(build)
    declared = {(a.contract.name, a.function): a for a in ACTIONS.values()}
    assert set(functions) == set(declared), "an undeclared ...BySig function, or a declaration of none"
    for key, inputs in functions.items():
        action = declared[key]
        assert [abi_type(i) for i in inputs] == [f.abi_type for f in action.fields] + _TAIL, action.primary_type
        # Names too: a struct's type name and fields are the Solidity struct's (its EIP-712 type signs them).
        signed = inputs[: len(action.fields)]
        assert [_abi_names(i) for i in signed] == [_names(f) for f in action.fields], action.primary_type
        # The function is named for the primary type: Attest -> attestBySig.
        assert action.function == action.primary_type[0].lower() + action.primary_type[1:] + "BySig"


def test_the_declared_domains_are_the_contracts(world: World) -> None:
    escrow, _ = new_escrow(world)
    deployed = {"MilestoneEscrow": escrow, "AccessRegistry": world.registry, "BudgetOffice": world.budget_office}
    contracts = {a.contract for a in ACTIONS.values()}
    assert {c.name for c in contracts} == set(deployed)  # one domain per contract
    for contract in contracts:
        on_chain = deployed[contract.name]
        domain = on_chain.functions.eip712Domain().call()
        assert (domain[1], domain[2], domain[3], domain[4]) == (
            contract.domain_name,
            contract.domain_version,
            world.w3.eth.chain_id,
            on_chain.address,
        )


def test_every_action_has_words_for_the_api_and_the_commands() -> None:
    for action in ACTIONS.values():
        assert set(action.verb) <= set(string.ascii_lowercase + "-"), action.verb
        assert action.noun.isidentifier()
        assert action.noun[0].isupper()
        assert action.summary.endswith(".")
        assert action.signers or action.contract == ACCESS_REGISTRY  # none: the registry admin only
        assert action.gas > 21_000
        options = [f.option for f in action.fields if f.argument is None]
        assert len(set(options)) == len(options), action.primary_type
        for field in _all_fields(action.fields):
            assert (field.kind in (FieldKind.CHOICE, FieldKind.ROLE)) == bool(field.choices)
            assert (field.kind is FieldKind.STRUCT) == (field.struct is not None)
            assert field.struct is None or field.type == field.struct.name
            assert field.fallback is None or set(field.fallback) <= set(action.field_names)
        assert action.done.format(**_words(action))  # every name in the result line is a field


def _all_fields(fields: tuple[ActionField, ...]) -> list[ActionField]:
    return [x for f in fields for x in (f, *(_all_fields(f.struct.fields) if f.struct else ()))]


def _words(action: ActionType) -> dict[str, object]:
    samples: dict[FieldKind, object] = {
        FieldKind.FLAG: "pass",
        FieldKind.CHOICE: "cancel",
        FieldKind.STRUCT: {},
        FieldKind.ROLE: "procurement-officer",
        FieldKind.CODE: "MOD",
    }
    number = re.compile(r"u?int\d+")
    return {f.name: samples.get(f.kind, 1 if number.fullmatch(f.type) else "0x" + "ab" * 32) for f in action.fields}


def test_message_takes_the_actions_words() -> None:
    proposal = ACTIONS["ProposeAmendment"]
    message = proposal.message({"milestoneId": 2, "kind": "dueDate", "rationaleHash": "0x" + "cd" * 32})
    assert message == {
        "milestoneId": 2,
        "kind": 1,  # by its index in the Solidity enum
        "newAmount": 0,  # left out: the default
        "newDueDate": 0,
        "rationaleHash": bytes.fromhex("cd" * 32),
    }
    evidence = ACTIONS["SubmitEvidence"]
    document = "0x" + "01" * 32
    defaulted = evidence.message({"milestoneId": 0, "documentHash": document})
    assert defaulted["uri"] == ni_uri(document) == "ni:///sha-256;AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE"
    given = evidence.message({"milestoneId": 0, "documentHash": document, "uri": "https://example.org/a.pdf"})
    assert given["uri"] == "https://example.org/a.pdf"


@pytest.mark.parametrize(
    "values",
    [
        {"milestoneId": 0, "kind": "everything", "rationaleHash": "0x" + "00" * 32},
        {"milestoneId": 0, "kind": "cancel", "rationaleHash": "0x00"},
        {"milestoneId": 0, "kind": "cancel", "rationaleHash": "0x" + "zz" * 32},
    ],
    ids=["unknown-choice", "short-hash", "not-hex"],
)
def test_message_refuses_words_it_cannot_sign(values: dict[str, object]) -> None:
    with pytest.raises(SignatureError):
        ACTIONS["ProposeAmendment"].message(values)


def test_the_declarations_load_no_third_party_package() -> None:
    # `procure --help` lists the client commands made from them: it must not wait for eth-utils or web3.
    # What a bare interpreter already has (a namespace package's -nspkg.pth, such as flattentool's zc.*) is not ours.
    listing = "print(' '.join(sorted({m.partition('.')[0] for m in sys.modules})))"
    loaded: list[set[str]] = []
    for code in (f"import sys; {listing}", f"import sys, chain.actions; {listing}"):
        run = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, cwd=project_root(), check=True
        )
        loaded.append(set(run.stdout.split()))
    at_start, with_actions = loaded
    loaded_now = with_actions - at_start - set(sys.stdlib_module_names) - {"__main__"}
    assert {name for name in loaded_now if not name.startswith("_")} == {"chain"}


def test_message_takes_a_structs_words() -> None:
    request = ACTIONS["RequestTransfer"]
    line = {"fiscalYear": 2027, "ministry": "MOD", "organization": "MOD-HQ", "item": "DEF-EQUIP", "subItem": "A"}
    message = request.message(
        {"request": {"from": line, "to": {**line, "subItem": "B"}, "amount": 5, "rationaleHash": "0x" + "cd" * 32}}
    )
    signed = message["request"]
    assert signed["from"]["ministry"] == b"MOD".ljust(32, b"\0")  # a code as its bytes32
    assert signed["to"]["subItem"] == b"B".ljust(32, b"\0")
    assert signed["rationaleHash"] == bytes.fromhex("cd" * 32)
    assert request.call_values(message)[0][0] == (
        2027,
        *(b.ljust(32, b"\0") for b in (b"MOD", b"MOD-HQ", b"DEF-EQUIP", b"A")),
    )
    grant = ACTIONS["GrantAccess"].message({"line": line, "grantee": "MOFA", "kind": "view", "expiresAt": 9})
    assert (grant["kind"], grant["cap"]) == (1, 0)  # a choice by its index, a left-out cap at its default


@pytest.mark.parametrize(
    "line",
    [
        {"fiscalYear": 2027, "ministry": "MOD", "organization": "MOD-HQ", "item": "X", "subItem": "A", "extra": 1},
        {"fiscalYear": 2027, "ministry": "A-CODE-LONGER-THAN-16", "organization": "O", "item": "X", "subItem": "A"},
        {"fiscalYear": 2027, "ministry": "国土交通省", "organization": "O", "item": "X", "subItem": "A"},
        {"fiscalYear": 2027, "ministry": "0x12", "organization": "O", "item": "X", "subItem": "A"},
    ],
    ids=["unknown-field", "long-code", "not-ascii", "short-hex"],
)
def test_message_refuses_struct_words_it_cannot_sign(line: dict[str, object]) -> None:
    with pytest.raises(SignatureError):
        ACTIONS["Distribute"].message({"line": line, "change": -5})


def test_budget_yen_bound_is_the_ledgers(world: World) -> None:
    assert world.budget.functions.MAX_YEN().call() == BUDGET_MAX_YEN
    bounded = {f.name for action in ACTIONS.values() for f in _leaves(action.fields) if f.maximum is not None}
    assert {"amount", "change", "cap", "ceiling", "schedule"} <= bounded


def _leaves(fields: tuple[ActionField, ...]) -> list[ActionField]:
    return [leaf for f in fields for leaf in (_leaves(f.struct.fields) if f.struct else [f])]
