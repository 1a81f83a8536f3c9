"""Shared test helpers: revert assertions, event extraction, escrow set-up, time travel, property-test sizes."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from web3.contract import Contract
from web3.logs import DISCARD

from chain import Receipt
from chain.eip712 import Action, sign_action
from chain.errors import ContractRevert
from tests.world import DAY, World

THOROUGH = os.environ.get("PROCURE_THOROUGH") == "1"


def examples(usual: int, thorough: int) -> int:
    """How many examples a property test runs: ``usual`` in `make test`, ``thorough`` with PROCURE_THOROUGH=1 (before
    a release, or after changing what the test drives). Hypothesis draws new examples on every run."""
    return thorough if THOROUGH else usual


@contextmanager
def reverts(name: str, *args: Any) -> Iterator[pytest.ExceptionInfo[ContractRevert]]:
    """Assert that the block raises ContractRevert ``name``; with ``args``, also its decoded arguments."""
    with pytest.raises(ContractRevert) as info:
        yield info
    assert info.value.name == name, f"expected {name}, got {info.value}"
    if args:
        assert _normalize(info.value.values) == _normalize(args), f"{name} arguments: {info.value}"


def _normalize(values: tuple[Any, ...]) -> tuple[Any, ...]:
    out = []
    for value in values:
        if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
            value = value.lower()
        if isinstance(value, bytes | bytearray):
            value = bytes(value)
        out.append(value)
    return tuple(out)


def events(contract: Contract, receipt: Receipt, name: str) -> list[dict[str, Any]]:
    """The decoded ``name`` events that ``contract`` emitted in ``receipt``, as plain dicts of arguments."""
    found = getattr(contract.events, name)().process_receipt(receipt.raw, errors=DISCARD)
    return [dict(event["args"]) for event in found]


def event(contract: Contract, receipt: Receipt, name: str) -> dict[str, Any]:
    """The one ``name`` event ``contract`` emitted in ``receipt``."""
    found = events(contract, receipt, name)
    assert len(found) == 1, f"expected one {name} event, got {len(found)}"
    return found[0]


def new_escrow(world: World, fund: int | None = None, **overrides: Any) -> tuple[Contract, tuple[Any, ...]]:
    """Create a procurement (3 milestones, 2-of-3 panel by default), fully funded unless told otherwise."""
    params = world.procurement_params(**overrides)
    total = sum(params[4])
    address, _ = world.create_procurement(params, total if fund is None else fund)
    return world.escrow(address), params


def amendment_content(escrow: Contract, amendment_id: int) -> dict[str, Any]:
    """A stored amendment's id and full content, as its approval or consent names them (EIP-712 field names)."""
    milestone_id, kind, _, _, new_due, new_amount, rationale, _ = escrow.functions.amendment(amendment_id).call()
    return {
        "amendmentId": amendment_id,
        "milestoneId": milestone_id,
        "kind": kind,
        "newAmount": new_amount,
        "newDueDate": new_due,
        "rationaleHash": rationale,
    }


def travel(world: World, seconds: int) -> None:
    """Move the chain's clock forward by ``seconds`` (mines a block)."""
    world.tester.time_travel(world.now() + seconds)


def travel_days(world: World, days: int) -> None:
    """Move the chain's clock forward by whole days."""
    travel(world, days * DAY)


def relay(
    world: World,
    escrow: Contract,
    signer_label: str,
    primary_type: str,
    fields: dict[str, Any],
    *,
    relayer: str = "outsider",
    deadline: int | None = None,
    nonce: int | None = None,
    chain_id: int | None = None,
    verifying: str | None = None,
    sign_as: str | None = None,
    tamper: Callable[[Action], Action] | None = None,
) -> Receipt:
    """Sign an action with a person's key and relay it from another account."""
    signer = world.accounts[signer_label]
    key = world.accounts[sign_as or signer_label]
    action = Action(
        primary_type,
        fields,
        world.registry.functions.nonces(signer.address).call() if nonce is None else nonce,
        world.now() + 3600 if deadline is None else deadline,
    )
    signature = sign_action(
        key,
        action,
        chain_id=world.w3.eth.chain_id if chain_id is None else chain_id,
        escrow=verifying or escrow.address,
    )
    if tamper is not None:
        action = tamper(action)
    fn = getattr(escrow.functions, action.function_name)(*action.call_args(signer.address, signature))
    return world.sender(relayer).transact(fn)
