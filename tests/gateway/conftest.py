"""The gateway over the fixture chain: an app per test (its own database and var/), real keys, real signatures."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response

from chain import TxSender
from chain.system import error_decoder
from gateway.core.config import Settings
from gateway.core.state import GatewayState
from gateway.main import create_app
from gateway.schema import upgrade as upgrade_gateway_tables
from gateway.siwe import SiweMessage
from indexer.schema import make_engine
from indexer.schema import upgrade as upgrade_mirror
from indexer.sync import ChainSource, Indexer
from tests.helpers import new_escrow
from tests.tester import deterministic_account, fund_accounts
from tests.world import World

DOMAIN = "testserver"
URI = "http://testserver"
EVIDENCE_LIMIT = 64 * 1024
REPORT = "0x" + "22" * 32


@dataclass
class Api:
    """A TestClient with the chain's cast: sign in as anyone, fetch typed data, sign, post."""

    client: TestClient
    world: World
    app: FastAPI
    sessions: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def state(self) -> GatewayState:
        """The app's state."""
        state: GatewayState = self.app.state.gateway
        return state

    @property
    def relayer(self) -> str:
        """The relayer's address."""
        relayer = self.state.ledger.relayer
        assert relayer is not None
        return relayer.address

    def chain_marks(self) -> tuple[int, int]:
        """Block number and relayer nonce: unchanged means nothing was written on chain."""
        rpc = self.world.rpc
        return rpc.block_number(), rpc.transaction_count(self.relayer)

    def siwe(self, label: str, **overrides: Any) -> str:
        """A sign-in message for ``label`` with a fresh server nonce (fields overridable)."""
        nonce = self.client.post("/auth/nonce").json()
        now = dt.datetime.now(dt.UTC)
        fields: dict[str, Any] = {
            "domain": nonce["domain"],
            "address": self.world.accounts[label].address,
            "uri": nonce["uri"],
            "chain_id": nonce["chainId"],
            "nonce": nonce["nonce"],
            "issued_at": now,
            "statement": nonce["statement"],
            "expiration_time": now + dt.timedelta(minutes=10),
        }
        fields.update(overrides)
        return SiweMessage(**fields).to_text()

    def personal_sign(self, label: str, text: str) -> str:
        """``label``'s personal_sign of ``text``."""
        return str(self.world.accounts[label].sign_message(encode_defunct(text=text)).signature.to_0x_hex())

    def sign_in_response(self, label: str, **overrides: Any) -> Response:
        """Sign in as ``label``; the raw response."""
        message = self.siwe(label, **overrides)
        body = {"message": message, "signature": self.personal_sign(label, message)}
        response: Response = self.client.post("/auth/sign-in", json=body)
        return response

    def sign_in(self, label: str) -> dict[str, str]:
        """Sign in as ``label``; the Authorization header."""
        response = self.sign_in_response(label)
        assert response.status_code == 201, response.text
        return {"Authorization": f"Bearer {response.json()['token']}"}

    def session(self, label: str) -> dict[str, str]:
        """``label``'s Authorization header, signed in once per app (sign-ins are rate-limited per client address)."""
        if label not in self.sessions:
            self.sessions[label] = self.sign_in(label)
        return self.sessions[label]

    def act_typed_data(self, acts: str, label: str, verb: str, fields: dict[str, Any]) -> Response:
        """POST ``acts``/<verb>/typed-data as ``label``: an act of a contract with one instance, under its path
        (gateway.client.ACTS_PATHS: the budget office's, the registry's)."""
        response: Response = self.client.post(f"{acts}/{verb}/typed-data", headers=self.session(label), json=fields)
        return response

    def signed_act(self, acts: str, label: str, verb: str, fields: dict[str, Any]) -> dict[str, Any]:
        """The body of such an act: ``fields``, signed by ``label`` over the typed data the gateway gave it."""
        data = self.act_typed_data(acts, label, verb, fields)
        assert data.status_code == 200, data.text
        return {**fields, "deadline": data.json()["deadline"], "signature": self.sign_typed(label, data.json())}

    def post_act(self, acts: str, label: str, verb: str, body: dict[str, Any], **params: str) -> Response:
        """POST a signed body to ``acts``/<verb> as ``label``."""
        response: Response = self.client.post(f"{acts}/{verb}", headers=self.session(label), json=body, params=params)
        return response

    def relay_act(self, acts: str, label: str, verb: str, fields: dict[str, Any], **overrides: Any) -> Response:
        """Sign in as ``label``, fetch the typed data, sign it and post it (``overrides`` replace body fields)."""
        return self.post_act(acts, label, verb, self.signed_act(acts, label, verb, fields) | overrides)

    def typed_data(self, headers: dict[str, str], pid: str, action: str, params: dict[str, Any]) -> dict[str, Any]:
        """GET the typed data of an action."""
        response = self.client.get(f"/procurements/{pid}/actions/{action}", headers=headers, params=params)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    def sign_typed(self, label: str, typed: dict[str, Any], key: LocalAccount | None = None) -> str:
        """``label``'s (or ``key``'s) eth_signTypedData_v4 of the typed data."""
        account = key or self.world.accounts[label]
        return str(account.sign_typed_data(full_message=typed["typedData"]).signature.to_0x_hex())

    def act(
        self,
        label: str,
        headers: dict[str, str],
        pid: str,
        action: str,
        fields: dict[str, Any],
        *,
        wait: bool = False,
        idempotency_key: str | None = None,
    ) -> Response:
        """Fetch typed data, sign it as ``label`` and post it."""
        typed = self.typed_data(headers, pid, action, fields)
        body = {
            **fields,
            "deadline": typed["deadline"],
            "nonce": typed["nonce"],
            "signature": self.sign_typed(label, typed),
        }
        extra = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        response: Response = self.client.post(
            f"/procurements/{pid}/actions/{action}",
            headers=headers | extra,
            params={"wait": "true"} if wait else None,
            json=body,
        )
        return response

    def upload(self, headers: dict[str, str], content: bytes, content_type: str = "application/pdf") -> dict[str, Any]:
        """Upload an evidence document."""
        response = self.client.post("/evidence", headers=headers, files={"file": ("report.pdf", content, content_type)})
        assert response.status_code == 201, response.text
        data: dict[str, Any] = response.json()
        return data

    def sync(self) -> None:
        """Run the indexer once over the app's database."""
        with Indexer(self.state.engine, ChainSource(self.world.rpc), self.world.system, self.world.build) as indexer:
            indexer.catch_up()


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings for a test app under ``tmp_path``."""
    values: dict[str, Any] = {
        "var_dir": tmp_path / "var",
        "database_url": f"sqlite:///{tmp_path / 'ledger.db'}",
        "siwe_domain": DOMAIN,
        "siwe_uri": URI,
        "evidence_max_bytes": EVIDENCE_LIMIT,
        "wait_timeout_s": 2.0,
        # Every test client is one address ("testclient"): a module signing in many accounts on a loaded machine
        # would meet the production burst (20). The limiter's own tests set their limits.
        "sign_in_burst": 1_000,
    }
    values.update(overrides)
    return Settings(**values)


@contextmanager
def module_gateway(world: World, tmp: Path, relayer_label: str, **settings: Any) -> Iterator[Api]:
    """The gateway on a module's share of the session's chain, relaying with a funded key of its own (no ledger
    role); the chain rolled back afterwards."""
    snapshot = world.tester.take_snapshot()
    account = deterministic_account(relayer_label)
    fund_accounts(world.tester, [account])
    relayer = TxSender(world.rpc, account, error_decoder(world.build))
    app = create_app(
        make_settings(tmp, **settings), rpc=world.rpc, system=world.system, relayer=relayer, build=world.build
    )
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield Api(client=client, world=world, app=app)
    finally:
        world.tester.revert_to_snapshot(snapshot)


# What a fixture did to the session's chain, by the head it did it on: (its name, the head before) -> (the head
# after, its answer). A block's hash names its whole state (every account, the clock), and the chain keeps the
# blocks a snapshot revert leaves behind: a later test asking for the same on the same head is moved to the head
# after (a snapshot revert, milliseconds) instead of doing it again (a contract deployment with its gas estimate on
# py-evm, seconds). The head after is a descendant of the head before, as if the blocks had just been mined.
_DONE_ON_HEAD: dict[tuple[str, str], tuple[int, Any]] = {}


def on_head(world: World, name: str, make: Callable[[], Any]) -> Any:
    """``make()``'s answer, and the chain moved to the state it leaves: done once per head it starts on (see
    _DONE_ON_HEAD; ``make`` must depend on nothing but the chain's state and leave nothing but blocks behind)."""
    key = (name, str(world.tester.get_block_by_number("latest")["hash"]))
    if key not in _DONE_ON_HEAD:
        answer = make()
        _DONE_ON_HEAD[key] = (world.tester.take_snapshot(), answer)
        return answer
    after, answer = _DONE_ON_HEAD[key]
    world.tester.revert_to_snapshot(after)
    return answer


@pytest.fixture
def relayer(world: World) -> TxSender:
    """A funded relayer account holding no ledger role (rolled back with the world)."""
    account = deterministic_account("gateway relayer")
    on_head(world, "fund the relayer", lambda: fund_accounts(world.tester, [account]))
    return TxSender(world.rpc, account, error_decoder(world.build))


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite database brought to head by the mirror's and the gateway's migrations, once per process.
    (Migrating a fresh database takes a second or more; a copy of this one, milliseconds. create_app still runs
    both upgrades, which find it at head; migrating from nothing is tested where the app starts on an empty
    database: tests/indexer, tests/integration, tests/gateway/test_postgres.py.)"""
    path = tmp_path_factory.mktemp("migrated") / "ledger.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        upgrade_mirror(engine)
        upgrade_gateway_tables(engine)
    finally:
        engine.dispose()
    leftovers = [side.name for side in path.parent.iterdir() if side != path]
    assert leftovers == [], f"the template database is not whole in one file: {leftovers}"
    return path


@pytest.fixture
def api(world: World, relayer: TxSender, tmp_path: Path, migrated_database: Path) -> Iterator[Api]:
    """The gateway on the fixture chain, over a fresh copy of the migrated database."""
    shutil.copyfile(migrated_database, tmp_path / "ledger.db")
    app = create_app(make_settings(tmp_path), rpc=world.rpc, system=world.system, relayer=relayer, build=world.build)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client=client, world=world, app=app)


@pytest.fixture
def procurement(world: World) -> str:
    """A fresh, fully funded procurement (3 milestones, 2-of-3 panel eval1..eval3); its id as 0x-hex (created once
    per chain head it is asked for on: see on_head)."""

    def create() -> str:
        _, params = new_escrow(world)
        return "0x" + bytes(params[0]).hex()

    pid: str = on_head(world, "new procurement", create)
    return pid


@pytest.fixture
def submitted(api: Api, procurement: str) -> str:
    """The procurement with evidence submitted for milestone 0: round 1 open for attestation (panel eval1..eval3)."""
    supplier = api.sign_in("supplier")
    document = api.upload(supplier, b"evidence for milestone 0")
    fields = {"milestoneId": 0, "documentHash": document["documentHash"]}
    assert api.act("supplier", supplier, procurement, "submit-evidence", fields).status_code == 202
    return procurement
