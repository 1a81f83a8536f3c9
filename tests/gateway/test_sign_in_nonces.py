"""Sign-in nonces no one can lock: stateless, signed, single-use; and the client address limits key on."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from chain import TxSender
from gateway.core.client_address import UNVERIFIED_PROXY, ClientAddress
from gateway.main import create_app
from tests.gateway.conftest import Api, make_settings
from tests.world import World

PROBLEM = "application/problem+json"


@contextmanager
def _gateway(world: World, relayer: TxSender, tmp_path: Path, **overrides: Any) -> Iterator[Api]:
    app = create_app(
        make_settings(tmp_path, **overrides), rpc=world.rpc, system=world.system, relayer=relayer, build=world.build
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client=client, world=world, app=app)


def _nonce_statuses(app: FastAPI, peer: str, forwarded_for: list[str]) -> list[int]:
    """POST /auth/nonce from the socket address ``peer``, once per X-Forwarded-For value."""

    async def run() -> list[int]:
        transport = httpx.ASGITransport(app=app, client=(peer, 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return [
                (await client.post("/auth/nonce", headers={"X-Forwarded-For": f})).status_code for f in forwarded_for
            ]

    return asyncio.run(run())


@pytest.fixture
def unlimited(world: World, relayer: TxSender, tmp_path: Path) -> Iterator[Api]:
    """A gateway without sign-in rate limits: only the nonce design stands between a flood and sign-in."""
    with _gateway(world, relayer, tmp_path, sign_in_rate_per_minute=0, log_level="WARNING") as api:
        yield api


def test_a_flood_of_nonce_requests_locks_no_one_out(unlimited: Api) -> None:
    # 12,000 outstanding nonces: beyond the 10,000 that used to fill the global pool and answer 503 to everyone.
    async def flood() -> list[int]:
        transport = httpx.ASGITransport(app=unlimited.app, client=("203.0.113.9", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            statuses = []
            for _ in range(12_000):
                statuses.append((await client.get("/auth/nonce")).status_code)
            return statuses

    assert set(asyncio.run(flood())) == {200}
    assert unlimited.sign_in_response("supplier").status_code == 201
    with unlimited.state.engine.connect() as connection:  # nothing stored for them: only the used one
        assert connection.exec_driver_sql("SELECT count(*) FROM gateway_siwe_nonces").scalar() == 1


@pytest.mark.parametrize(
    "forge",
    [
        lambda nonce: nonce[:-1] + ("0" if nonce[-1] != "0" else "1"),  # MAC altered
        lambda nonce: "00000000ffffffff" + nonce[16:],  # expiry pushed out: MAC no longer matches
        lambda nonce: nonce.upper(),
        lambda nonce: "a" * 64,
        lambda nonce: nonce[:40],
    ],
    ids=["mac", "expiry", "uppercase", "made-up", "truncated"],
)
def test_nonces_not_issued_by_the_gateway_are_refused(api: Api, forge: Any) -> None:
    nonce = api.client.get("/auth/nonce").json()["nonce"]
    response = api.sign_in_response("supplier", nonce=forge(nonce))
    assert response.status_code == 401
    assert "not issued by this gateway" in response.json()["detail"]


def test_an_expired_nonce_is_refused(world: World, relayer: TxSender, tmp_path: Path) -> None:
    now = [dt.datetime.now(dt.UTC).timestamp()]
    app = create_app(
        make_settings(tmp_path),
        rpc=world.rpc,
        system=world.system,
        relayer=relayer,
        build=world.build,
        clock=lambda: now[0],
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        api = Api(client=client, world=world, app=app)
        nonce = client.get("/auth/nonce").json()["nonce"]
        now[0] += 301  # the nonce lives 300 s
        issued = dt.datetime.fromtimestamp(now[0], dt.UTC)
        response = api.sign_in_response("supplier", nonce=nonce, issued_at=issued)
        assert response.status_code == 401
        assert "expired" in response.json()["detail"]


def test_a_nonce_from_another_gateway_key_is_refused(world: World, relayer: TxSender, tmp_path: Path) -> None:
    other = create_app(
        make_settings(tmp_path / "other", siwe_nonce_secret="k" * 32),
        rpc=world.rpc,
        system=world.system,
        relayer=relayer,
        build=world.build,
    )
    with TestClient(other) as client:
        foreign = client.get("/auth/nonce").json()["nonce"]
    with _gateway(world, relayer, tmp_path, siwe_nonce_secret="s" * 32) as api:
        assert api.sign_in_response("supplier", nonce=foreign).status_code == 401
        assert api.sign_in_response("supplier").status_code == 201


def test_gateways_sharing_the_nonce_key_accept_each_others_nonces_once(
    world: World, relayer: TxSender, tmp_path: Path
) -> None:
    key = "shared-secret-shared-secret-0123456789"
    first = create_app(
        make_settings(tmp_path, siwe_nonce_secret=key), rpc=world.rpc, system=world.system, build=world.build
    )
    with TestClient(first) as client:
        nonce = client.get("/auth/nonce").json()["nonce"]
    with _gateway(world, relayer, tmp_path, siwe_nonce_secret=key) as api:  # same database, same key
        message = api.siwe("supplier", nonce=nonce)
        body = {"message": message, "signature": api.personal_sign("supplier", message)}
        assert api.client.post("/auth/sign-in", json=body).status_code == 201
        assert api.client.post("/auth/sign-in", json=body).status_code == 401  # used once, stored as used


def test_a_short_nonce_key_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32"):
        make_settings(Path("/nonexistent"), siwe_nonce_secret="short")


# ---------------------------------------------------------------- the client address


def test_the_peer_is_the_client_and_its_forwarded_for_is_ignored() -> None:
    key = ClientAddress()
    assert key("198.51.100.7", [b"1.2.3.4"]) == "198.51.100.7"
    assert key("198.51.100.7") == "198.51.100.7"
    assert key(None) == "unknown"


def test_a_trusted_proxy_names_the_client_read_from_the_right() -> None:
    key = ClientAddress(["10.0.0.0/8", "127.0.0.1"])
    assert key("127.0.0.1", [b"198.51.100.7"]) == "198.51.100.7"
    # The client prepended a forged entry; the proxies appended what they saw.
    assert key("127.0.0.1", [b"6.6.6.6, 198.51.100.7, 10.1.2.3"]) == "198.51.100.7"
    assert key("127.0.0.1", [b"6.6.6.6", b"198.51.100.7"]) == "198.51.100.7"  # several header lines
    assert key("127.0.0.1", [b"garbage, 10.1.2.3"]) == "10.1.2.3"  # nothing usable past the proxies
    assert key("127.0.0.1", [b"[2001:db8::1]:443"]) == "2001:db8::/64"
    assert key("127.0.0.1") == "127.0.0.1"


def test_ipv6_clients_are_keyed_by_their_64() -> None:
    key = ClientAddress()
    assert key("2001:db8:0:1::1") == key("2001:db8:0:1:ffff::2") == "2001:db8:0:1::/64"
    assert key("2001:db8:0:2::1") != key("2001:db8:0:1::1")
    assert key("::ffff:192.0.2.1") == "192.0.2.1"


def test_a_server_rewriting_the_peer_from_the_header_is_detected() -> None:
    # uvicorn's own proxy handling put the header's last entry in place of the peer: that entry cannot be
    # believed, so all such requests share one key.
    key = ClientAddress()
    assert key("6.6.6.6", [b"6.6.6.6"]) == UNVERIFIED_PROXY
    assert key("7.7.7.7", [b"1.1.1.1, 7.7.7.7"]) == UNVERIFIED_PROXY


def test_untrusted_forwarded_for_buys_no_new_allowance(world: World, relayer: TxSender, tmp_path: Path) -> None:
    with _gateway(world, relayer, tmp_path, sign_in_rate_per_minute=1, sign_in_burst=3) as api:
        forged = [f"10.0.0.{n}" for n in range(10)]
        assert _nonce_statuses(api.app, "198.51.100.7", forged) == [200] * 3 + [429] * 7
        assert _nonce_statuses(api.app, "198.51.100.8", ["1.1.1.1"]) == [200]  # another client is unaffected


def test_behind_a_trusted_proxy_each_client_has_its_own_allowance(
    world: World, relayer: TxSender, tmp_path: Path
) -> None:
    limits = {"sign_in_rate_per_minute": 1, "sign_in_burst": 2, "trusted_proxies": "192.0.2.1"}
    with _gateway(world, relayer, tmp_path, **limits) as api:
        assert _nonce_statuses(api.app, "192.0.2.1", ["198.51.100.1"] * 3) == [200, 200, 429]
        assert _nonce_statuses(api.app, "192.0.2.1", ["198.51.100.2"] * 2) == [200, 200]
        # A forged entry in front of what the proxy appended changes nothing.
        assert _nonce_statuses(api.app, "192.0.2.1", ["6.6.6.6, 198.51.100.1"]) == [429]
        # The proxy's own header is not believed from anyone else.
        assert _nonce_statuses(api.app, "192.0.2.9", ["198.51.100.3"] * 3) == [200, 200, 429]
