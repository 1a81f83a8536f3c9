"""Operational limits: sign-in requests per client address, and the optional scrape secret of /metrics."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from chain import TxSender
from gateway.core.ratelimit import RateLimiter
from gateway.main import create_app
from tests.gateway.conftest import Api, make_settings
from tests.world import World


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_burst_then_refills_at_its_rate() -> None:
    clock = _Clock()
    limiter = RateLimiter(per_minute=60, burst=3, clock=clock)
    assert [limiter.acquire("a") for _ in range(3)] == [None, None, None]
    assert limiter.acquire("a") == 1
    assert limiter.acquire("b") is None  # buckets are per key
    clock.now += 1.0
    assert limiter.acquire("a") is None
    assert limiter.acquire("a") == 1
    clock.now += 600.0  # refills only up to the burst
    assert [limiter.acquire("a") for _ in range(4)] == [None, None, None, 1]


def test_retry_after_counts_whole_seconds_to_the_next_token() -> None:
    clock = _Clock()
    limiter = RateLimiter(per_minute=6, burst=1, clock=clock)
    assert limiter.acquire("a") is None
    assert limiter.acquire("a") == 10
    clock.now += 7.5
    assert limiter.acquire("a") == 3


def test_zero_per_minute_turns_the_limit_off() -> None:
    limiter = RateLimiter(per_minute=0, burst=1)
    assert all(limiter.acquire("a") is None for _ in range(1000))


def test_a_flood_of_distinct_keys_keeps_at_most_max_keys_buckets() -> None:
    limiter = RateLimiter(per_minute=60, burst=1, max_keys=10)
    for n in range(1000):
        limiter.acquire(f"client-{n}")
    assert len(limiter._buckets) == 10


@pytest.mark.parametrize(("per_minute", "burst"), [(-1, 1), (1, 0)])
def test_nonsense_limits_are_refused(per_minute: int, burst: int) -> None:
    with pytest.raises(ValueError, match="per_minute"):
        RateLimiter(per_minute=per_minute, burst=burst)


@pytest.fixture
def limited(world: World, relayer: TxSender, tmp_path: Path) -> Iterator[Api]:
    """A gateway allowing 3 sign-in requests at once per client, and guarding /metrics with a token."""
    settings = make_settings(tmp_path, sign_in_rate_per_minute=1, sign_in_burst=3, metrics_token="scrape-secret")
    app = create_app(settings, rpc=world.rpc, system=world.system, relayer=relayer, build=world.build)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client=client, world=world, app=app)


def test_sign_in_requests_beyond_the_burst_get_429_with_retry_after(limited: Api) -> None:
    headers = limited.sign_in("supplier")  # nonce + sign-in: two of the three
    assert limited.client.get("/auth/nonce").status_code == 200
    refused = limited.client.post("/auth/nonce")
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["type"].endswith("too-many-requests")
    assert refused.json()["retryAfter"] == int(refused.headers["Retry-After"])
    assert limited.client.get("/auth/me", headers=headers).status_code == 200  # signed-in requests are not limited


def test_metrics_need_the_configured_token(limited: Api) -> None:
    assert limited.client.get("/metrics").status_code == 401
    assert limited.client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    scraped = limited.client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
    assert scraped.status_code == 200
    assert "gateway_sign_ins_total" in scraped.text


def test_metrics_are_open_without_a_token(api: Api) -> None:
    assert api.client.get("/metrics").status_code == 200
