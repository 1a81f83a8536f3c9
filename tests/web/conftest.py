"""The dashboard over the demo as `make up` seeds it, on an eth-tester chain (a dev chain id): the dev cast and
budget (seed_cast), the night-vision procurement, and one more supplier (dev account ``OTHER_SUPPLIER``, of another
organization) who must not see it. One world and one gateway per test module; for the browser tests, the gateway
served by uvicorn and one Chromium per module (tests/web/browser.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from chain import Transport, TxSender, compile_contracts, deploy_system, project_root
from chain.budget import fiscal_year_containing
from chain.clients import system_clients
from chain.devnet import DEV_INDEX, dev_budget_as, ensure_demo_procurement, seed_cast
from chain.keys import dev_account
from chain.roles import OrgKind, Role
from chain.spec import load_spec
from chain.system import error_decoder
from gateway.main import create_app
from indexer.sync import ChainSource, Indexer
from tests.gateway.conftest import make_settings
from tests.tester import fund_accounts, new_tester
from tests.web.browser import CHROMIUM

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page

OTHER_SUPPLIER = 14  # a dev account of a second supplier organization
OTHER_ORG = "ACME"


@dataclass
class Demo:
    """The seeded demo chain, its gateway app, and what the tests look for."""

    rpc: Transport
    app: FastAPI
    escrow: str
    fiscal_year: int

    def sync(self) -> None:
        """Mirror the chain into the gateway's database."""
        state = self.app.state.gateway
        with Indexer(state.engine, ChainSource(self.rpc), state.ledger.system, state.ledger.build) as indexer:
            indexer.catch_up()


def build_demo(tmp_path: Path, *, rpc: Transport | None = None, relay: bool = False, **settings: Any) -> Demo:
    """Deploy, seed the demo cast, budget and procurement as `procure up` does, add a second supplier, mirror it;
    ``rpc``: a dev chain whose dev accounts have ether (anvil's; default: a new eth-tester chain, funded here);
    ``relay``: the gateway relays signed actions (with the dev relayer account, as `make up`'s gateway);
    ``settings``: the gateway's settings that differ from the tests' (tests.gateway.conftest.make_settings)."""
    indexes = [*DEV_INDEX.values(), OTHER_SUPPLIER]
    if rpc is None:
        _, tester = new_tester()
        fund_accounts(tester.tester, [dev_account(index, tester.chain_id) for index in indexes])
        rpc = tester
    chain_id = rpc.chain_id
    accounts = {index: dev_account(index, chain_id) for index in indexes}
    build = compile_contracts()
    decoder = error_decoder(build)
    admin = TxSender(rpc, accounts[DEV_INDEX["admin"]], decoder)
    system = deploy_system(admin, build)
    registry, _, _ = system_clients(rpc, system, admin, build)
    seed_cast(registry, dev_budget_as(rpc, system, build), {index: a.address for index, a in accounts.items()})
    registry.register_organization(OTHER_ORG, OrgKind.SUPPLIER, "Acme Optics K.K.")
    registry.bind_account(accounts[OTHER_SUPPLIER].address, OTHER_ORG)
    registry.grant_role(Role.SUPPLIER, accounts[OTHER_SUPPLIER].address)
    officer = TxSender(rpc, accounts[DEV_INDEX["officer"]], decoder)
    _, _, factory = system_clients(rpc, system, officer, build)
    loaded = load_spec(project_root() / "scripts" / "examples" / "night-vision.yaml")
    escrow, _ = ensure_demo_procurement(factory, registry, loaded)
    relayer = TxSender(rpc, accounts[DEV_INDEX["relayer"]], decoder) if relay else None
    app = create_app(make_settings(tmp_path, **settings), rpc=rpc, system=system, relayer=relayer, build=build)
    demo = Demo(rpc=rpc, app=app, escrow=escrow, fiscal_year=fiscal_year_containing(rpc.latest_timestamp()))
    demo.sync()
    return demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """The demo world of this module."""
    return build_demo(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def client(demo: Demo) -> Iterator[TestClient]:
    """A TestClient on the demo's gateway (no cookies shared with other tests: use ``fresh``)."""
    with TestClient(demo.app, raise_server_exceptions=False, follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def base_url(demo: Demo) -> Iterator[str]:
    """The demo's gateway, served by uvicorn on a free port in a thread of this process."""
    from tests.web.live import serving  # not at the top: tests/web/live.py imports this module

    with serving(demo.app) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, started once for the module (which calls ``require_chromium`` first)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookies), for a Japanese browser; fails the test on any JavaScript error."""
    context = browser.new_context(locale="ja-JP")
    page = context.new_page()
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and not _refused_page(message.text):  # the 4xx pages the tests ask for
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], f"JavaScript errors: {errors}"


def _refused_page(text: str) -> bool:
    return any(f"status of {status}" in text for status in (403, 404, 422))
