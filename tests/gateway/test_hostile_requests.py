"""No request can crash or stall the gateway: a real uvicorn process, hit with what used to kill it.

The process runs with uvicorn's defaults (``--proxy-headers`` on, loopback trusted: the worst case for forged
``X-Forwarded-For``). After every hostile request the same process (same pid) must still answer.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from chain import project_root
from chain.node import free_port
from gateway.core.nesting import MAX_JSON_DEPTH

PROBLEM = "application/problem+json"
DEEP = "[" * 90_000 + "]" * 90_000  # 180 KB, under the body limit: the body of the report


@dataclass
class Served:
    """The server process and a client for it."""

    process: subprocess.Popen[bytes]
    client: httpx.Client

    def still_serves(self) -> None:
        """The same process is alive and answers at once."""
        assert self.process.poll() is None, "the gateway process died"
        started = time.monotonic()
        assert self.client.get("/healthz").status_code == 200
        assert time.monotonic() - started < 5


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    var = tmp_path_factory.mktemp("served")
    port = free_port()
    env = os.environ | {
        "PROCURE_VAR": str(var),
        "PROCURE_DB_URL": f"sqlite:///{var / 'ledger.db'}",
        "PROCURE_SIWE_DOMAIN": f"127.0.0.1:{port}",
        "PROCURE_SIWE_URI": f"http://127.0.0.1:{port}",
        "PROCURE_LOG_LEVEL": "WARNING",
    }
    log = (var / "server.log").open("wb")
    command = [sys.executable, "-m", "uvicorn", "tests.gateway.served_app:app", "--factory"]
    process = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=env,
        cwd=project_root(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30.0)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, (var / "server.log").read_text(errors="replace")[-3000:]
            try:
                if client.get("/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the gateway did not start"
            time.sleep(0.3)
        yield Served(process, client)
    finally:
        client.close()
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _body_operations(client: httpx.Client) -> list[str]:
    """Every path that takes a request body, from the server's own OpenAPI document."""
    schema: dict[str, Any] = client.get("/openapi.json").json()
    paths = [path for path, ops in schema["paths"].items() if "requestBody" in ops.get("post", {})]
    procurement = "0x" + "ab" * 32
    return [path.replace("{procurement_id}", procurement) for path in paths]


def test_the_reported_body_is_a_422_and_the_process_survives(served: Served) -> None:
    response = served.client.post("/auth/sign-in", content=DEEP, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["type"].endswith(":nesting-too-deep")
    assert str(MAX_JSON_DEPTH) in response.json()["detail"]
    served.still_serves()


@pytest.mark.parametrize("content_type", ["application/json", "application/vnd.example+json", None])
def test_every_route_with_a_body_refuses_deep_json_before_parsing(served: Served, content_type: str | None) -> None:
    paths = _body_operations(served.client)
    assert {"/auth/sign-in", "/evidence"} <= set(paths)
    assert len(paths) >= 10
    headers = {} if content_type is None else {"Content-Type": content_type}
    for path in paths:
        for body in (DEEP, '{"a":' * 40_000 + "1" + "}" * 40_000, "[" * 200_000):
            response = served.client.post(path, content=body, headers=headers)
            assert response.status_code == 422, (path, response.text)
            assert response.json()["type"].endswith(":nesting-too-deep"), (path, response.text)
        served.still_serves()


def test_nesting_within_the_limit_reaches_validation(served: Served) -> None:
    body = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    response = served.client.post("/auth/sign-in", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["type"].endswith(":validation-error")  # parsed, then refused for what it is


@pytest.mark.parametrize(
    "request_args",
    [
        {"method": "GET", "url": "/events", "params": {"cursor": "[" * 6000}},
        {"method": "GET", "url": "/auth/nonce", "params": {"x": "[" * 6000 + "]" * 6000}},
        {"method": "GET", "url": "/healthz", "headers": {"X-Request-ID": "[" * 8000}},
        {
            "method": "POST",
            "url": "/auth/sign-in",
            "content": "message=" + "[" * 90_000 + "]" * 90_000,
            "headers": {"Content-Type": "application/x-www-form-urlencoded"},
        },
        {
            "method": "POST",
            "url": "/auth/sign-in",
            "files": {"message": ("m.json", DEEP.encode(), "application/json")},
        },
        {
            "method": "POST",
            "url": "/evidence",
            "files": {"file": ("deep.json", DEEP.encode(), "application/json")},
        },
        {"method": "POST", "url": "/auth/sign-in", "content": b"\xff\xfe[" * 50_000},
        {"method": "POST", "url": "/auth/sign-in", "content": '"' + "\\" * 100_001 + '"'},
        {"method": "POST", "url": "/auth/sign-in", "content": "x" * 300_000},
    ],
    ids=["query-cursor", "query-unknown", "header", "form", "multipart", "upload", "binary", "escapes", "too-big"],
)
def test_nested_query_form_and_header_variants_get_a_clear_answer(served: Served, request_args: dict[str, Any]) -> None:
    started = time.monotonic()
    response = served.client.request(**request_args)
    assert response.status_code < 500, response.text[:500]  # a refusal, or (unknown query, bad id) ignored
    if response.status_code >= 400 and response.content:
        assert response.headers["content-type"].startswith(PROBLEM)
    assert time.monotonic() - started < 10
    served.still_serves()


def test_forged_forwarded_for_does_not_buy_new_rate_limit_keys(served: Served) -> None:
    started = time.monotonic()
    answers = [
        served.client.post("/auth/nonce", headers={"X-Forwarded-For": f"10.{n // 250}.{n % 250}.7"}).status_code
        for n in range(200)
    ]
    # The burst (20), whatever the header says, and what the bucket refilled meanwhile (the default 60 a
    # minute: one a second; a flood on a busy machine takes a few): 200 forged addresses buy nothing more.
    allowed = 20 + int(time.monotonic() - started) + 1
    assert answers.count(200) <= allowed
    assert answers.count(429) >= 200 - allowed
    # A client that forges nothing keeps its own allowance: the flood did not lock it out.
    assert served.client.get("/auth/nonce").status_code == 200
    served.still_serves()


def test_server_log_has_no_traceback(served: Served, tmp_path_factory: pytest.TempPathFactory) -> None:
    served.still_serves()
    logs = list(Path(tmp_path_factory.getbasetemp()).glob("served*/server.log"))
    assert logs
    assert "Traceback" not in logs[0].read_text(errors="replace")
