"""`procure ... --direct` on eth-tester: an escrow action and a registry act signed and sent by the signer itself, no
gateway; a revoked signer and a signature for another chain refused in one line, nothing sent.

One world for the module: the tests run in order on it (evidence, then attestations, then the hostile cases), and it
is rolled back at the end.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from chain import DEV_CHAIN_ID, Transport
from chain.actions import ni_uri
from chain.deployment import manifest_path
from chain.roles import Role
from scripts._common import Context
from scripts.cli import org
from scripts.cli_client import ClientState, client
from tests.helpers import new_escrow
from tests.tester import TesterTransport
from tests.world import World

TX = r": tx 0x[0-9a-f]{64}"


@dataclass
class Direct:
    """The world, a var/ with its manifest, and one fresh procurement's escrow."""

    world: World
    var_dir: Path
    escrow: str

    def procure(self, label: str, group: str, *args: str, rpc: Transport | None = None) -> Result:
        """``procure GROUP ARGS`` (client or org) signed by ``label``'s key, against the world's node (or ``rpc``);
        no gateway answers at its URL."""
        world = self.world
        context = Context(transport=rpc or world.rpc, var_dir=self.var_dir, account=world.accounts[label])
        context._build = world.build
        state = ClientState(context, "http://127.0.0.1:9")
        return CliRunner().invoke({"client": client, "org": org}[group], list(args), obj=state)

    def active(self, code: str) -> bool:
        """Whether organization ``code`` is active, as the registry says."""
        registry, _, _ = Context(transport=self.world.rpc, var_dir=self.var_dir).clients(write=False)
        found = registry.organization(code)
        assert found is not None
        return found.active

    def marks(self, label: str) -> tuple[int, int]:
        """Block number and ``label``'s nonce: unchanged means nothing was sent."""
        rpc = self.world.rpc
        return rpc.block_number(), rpc.transaction_count(self.world.accounts[label].address)


class _SaysAnvil(TesterTransport):
    """eth-tester's chain behind a node that says it is another chain (anvil's id): a signature made for the chain
    the node names is one for another chain than the contract's."""

    def __init__(self, world: World) -> None:
        super().__init__(world.tester)
        self._methods["eth_chainId"] = lambda params: hex(DEV_CHAIN_ID)


@pytest.fixture(scope="module")
def direct(session_world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Direct]:
    world = session_world
    snapshot = world.tester.take_snapshot()
    var_dir = tmp_path_factory.mktemp("direct-acts")
    for chain_id in (world.system.chain_id, DEV_CHAIN_ID):  # the second for the node that says it is anvil
        path = manifest_path(var_dir, chain_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(world.system.to_json()), encoding="utf-8")
    try:
        escrow, _ = new_escrow(world)
        yield Direct(world, var_dir, escrow.address)
    finally:
        world.tester.revert_to_snapshot(snapshot)


def test_an_escrow_action_goes_to_the_node_signed_and_sent_by_its_signer(direct: Direct, tmp_path: Path) -> None:
    report = tmp_path / "delivery.pdf"
    report.write_bytes(b"delivery report, milestone 0")
    digest = hashlib.sha256(report.read_bytes()).hexdigest()
    before = direct.marks("supplier")
    done = direct.procure("supplier", "client", "submit-evidence", "--direct", direct.escrow, "0", str(report))
    assert re.fullmatch(f"evidence 0x{digest[:16]}... submitted for milestone 0{TX}", done.output.strip()), done.output
    assert direct.marks("supplier")[1] == before[1] + 1  # the supplier sent it: no gateway, no relayer
    escrow = direct.world.escrow(direct.escrow)
    (event,) = escrow.events.EvidenceSubmitted().get_logs(from_block=before[0] + 1)
    assert event.args["documentHash"].hex() == digest
    assert event.args["uri"] == ni_uri(digest)  # the document's name, as the gateway would give it
    # The evaluator's round comes from the escrow; the report defaults to the hash of the verdict.
    done = direct.procure("eval1", "client", "attest", "--direct", direct.escrow, "0", "--pass")
    assert re.fullmatch(r"pass attested for milestone 0, round 1" + TX, done.output.strip()), done.output
    assert escrow.functions.milestone(0).call()[4] == 1  # passes


def test_a_revoked_evaluator_is_refused_in_words_and_nothing_is_sent(direct: Direct) -> None:
    world = direct.world
    world.sender("admin").transact(
        world.registry.functions.revokeRole(Role.EVALUATOR.id, world.accounts["eval2"].address)
    )
    marks = direct.marks("eval2")
    refused = direct.procure("eval2", "client", "attest", "--direct", direct.escrow, "0", "--pass")
    assert refused.exit_code == 1
    assert "Traceback" not in refused.output
    assert len(refused.output.strip().splitlines()) == 1, refused.output
    assert "not an evaluator" in refused.output, refused.output
    assert direct.marks("eval2") == marks


def test_a_signature_for_another_chain_is_refused_before_anything_is_sent(direct: Direct) -> None:
    marks = direct.marks("eval3")
    refused = direct.procure(
        "eval3", "client", "attest", "--direct", direct.escrow, "0", "--fail", rpc=_SaysAnvil(direct.world)
    )
    assert refused.exit_code == 1
    assert len(refused.output.strip().splitlines()) == 1, refused.output
    assert "the signature does not match" in refused.output, refused.output
    assert "another escrow or chain" in refused.output, refused.output
    assert direct.marks("eval3") == marks


def test_an_address_that_is_no_escrow_of_this_ledger_is_refused_before_signing(direct: Direct) -> None:
    marks = direct.marks("eval3")
    stranger = direct.world.accounts["outsider"].address  # an account, not a contract: a typo'd escrow, say
    refused = direct.procure("eval3", "client", "attest", "--direct", stranger, "0", "--pass")
    assert refused.exit_code == 1
    assert refused.output.strip() == f"Error: {stranger} is not the escrow of a procurement on this ledger"
    assert direct.marks("eval3") == marks


def test_a_registry_act_goes_to_the_node_and_another_signer_is_refused(direct: Direct) -> None:
    done = direct.procure("admin", "org", "deactivate", "--direct", "NITE")
    assert re.fullmatch(r"organization NITE inactive, vault 0x0{40}" + TX, done.output.strip()), done.output
    assert not direct.active("NITE")
    marks = direct.marks("officer")
    refused = direct.procure("officer", "org", "activate", "--direct", "NITE")  # not the registry admin
    assert refused.exit_code == 1
    assert len(refused.output.strip().splitlines()) == 1, refused.output
    assert refused.output.strip().endswith("is not the registry admin"), refused.output
    assert direct.marks("officer") == marks
    assert not direct.active("NITE")
