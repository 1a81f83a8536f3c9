"""The API as a generated client sees it: the OpenAPI document tells the truth, wide integers survive
JavaScript, every page of /events says where to resume, and browsers get CORS only where configured."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openapi_spec_validator import validate

from chain import TxSender
from gateway.main import create_app
from tests.gateway.conftest import Api, make_settings
from tests.world import World

PROBLEM = "application/problem+json"
ATTEST = {"milestoneId": 0, "round": 1, "pass": True, "reportHash": "0x" + "22" * 32}


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


@pytest.fixture
def schema(api: Api) -> dict[str, Any]:
    document: dict[str, Any] = api.client.get("/openapi.json").json()
    return document


def test_the_document_is_valid_openapi_3_1(schema: dict[str, Any]) -> None:
    assert schema["openapi"].startswith("3.1")
    validate(schema)


def test_bounds_are_standard_json_schema(schema: dict[str, Any]) -> None:
    nodes = list(_walk(schema))
    assert not [n for n in nodes if "ge" in n or "le" in n or "gt" in n or "lt" in n]
    assert not [n for n in nodes if isinstance(n.get("maximum"), float) or isinstance(n.get("minimum"), float)]
    uint256 = schema["components"]["schemas"]["Uint256"]["anyOf"][0]
    assert uint256 == {"type": "integer", "minimum": 0, "maximum": 2**256 - 1}


def test_every_error_is_documented_as_problem_json(schema: dict[str, Any]) -> None:
    responses = schema["components"]["responses"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            codes = operation["responses"]
            assert {"4XX", "5XX"} <= set(codes), (method, path)
            for code, response in codes.items():
                if code[0] not in "45" or (code == "503" and path == "/healthz"):
                    continue
                response = responses[response["$ref"].rsplit("/", 1)[1]] if "$ref" in response else response
                assert list(response["content"]) == [PROBLEM], (method, path, code)
            if "security" in operation:
                assert codes["401"] == {"$ref": "#/components/responses/NotAuthenticated"}
    assert "HTTPValidationError" not in schema["components"]["schemas"]


def test_errors_are_served_as_documented(api: Api, schema: dict[str, Any]) -> None:
    refused = api.client.get("/auth/me")
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith(PROBLEM)
    assert refused.headers["www-authenticate"] == "Bearer"
    assert refused.headers["x-request-id"]
    invalid = api.client.post("/auth/sign-in", json={"message": 1})
    assert invalid.status_code == 422
    assert invalid.headers["content-type"].startswith(PROBLEM)
    assert {"loc", "msg", "type"} <= set(invalid.json()["errors"][0])


def test_negative_or_oversized_integers_are_refused_as_the_schema_says(api: Api, procurement: str) -> None:
    evaluator = api.sign_in("eval1")
    url = f"/procurements/{procurement}/actions/attest"
    for deadline in (-1733, 2**256, "-1", "1e9", "0x10", "007", 1.5, True):
        response = api.client.get(url, headers=evaluator, params=ATTEST | {"deadline": deadline})
        assert response.status_code == 422, (deadline, response.text)
        assert response.json()["type"].endswith(":validation-error")


def test_wide_integers_are_decimal_strings_and_exact(api: Api, procurement: str) -> None:
    officer = api.sign_in("officer")
    amount = 2**200 + 1  # far past 2^53, where a JavaScript number is no longer exact
    typed = api.client.get(
        f"/procurements/{procurement}/actions/fund", headers=officer, params={"amount": str(amount)}
    ).json()
    assert typed["typedData"]["message"]["amount"] == str(amount)
    assert isinstance(typed["nonce"], str)
    assert isinstance(typed["deadline"], str)
    assert typed["typedData"]["message"]["deadline"] == typed["deadline"]
    assert isinstance(typed["typedData"]["domain"]["chainId"], int)  # what wallets compare with their chain
    # What a client sends back as a string is read back exactly (the signature covers the same number).
    signature = api.sign_typed("officer", typed)
    body = {"amount": str(amount), "deadline": typed["deadline"], "nonce": typed["nonce"], "signature": signature}
    response = api.client.post(f"/procurements/{procurement}/actions/fund", headers=officer, json=body)
    assert response.status_code == 422, response.text  # the signature checked out: the contract refused
    assert response.json()["error"] == "EscrowInvalidFunding"
    assert str(amount) in response.json()["args"].values()  # the revert's arguments, exact too


def test_options_and_405_list_every_method_of_the_path(api: Api) -> None:
    options = api.client.options("/auth/nonce")
    assert options.status_code == 204
    assert {"GET", "POST", "OPTIONS"} <= {m.strip() for m in options.headers["allow"].split(",")}
    refused = api.client.delete("/auth/nonce")
    assert refused.status_code == 405
    assert refused.headers["content-type"].startswith(PROBLEM)
    assert {"GET", "POST"} <= {m.strip() for m in refused.headers["allow"].split(",")}
    assert api.client.options("/no/such/path").status_code == 404


# ---------------------------------------------------------------- /events: always where to resume


def test_every_page_of_events_says_where_to_resume(api: Api, procurement: str) -> None:
    api.sync()
    auditor = api.sign_in("auditor")
    everything = api.client.get("/events", headers=auditor, params={"limit": 10_000}).json()
    assert 5 < everything["count"] < 10_000
    assert everything["nextCursor"]  # a short page too
    followed: list[Any] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 7} | ({"cursor": cursor} if cursor else {})
        page = api.client.get("/events", headers=auditor, params=params).json()
        followed += page["data"]
        assert page["nextCursor"]
        cursor = page["nextCursor"]
        if page["count"] < 7:
            break
    assert followed == everything["data"]
    empty = api.client.get("/events", headers=auditor, params={"cursor": cursor}).json()
    assert empty["count"] == 0
    assert empty["nextCursor"] == cursor

    # New events on chain: the cursor of the empty page picks up exactly those.
    supplier = api.sign_in("supplier")
    document = api.upload(supplier, b"more evidence")
    fields = {"milestoneId": 0, "documentHash": document["documentHash"]}
    assert api.act("supplier", supplier, procurement, "submit-evidence", fields, wait=True).status_code == 200
    api.sync()
    new = api.client.get("/events", headers=auditor, params={"cursor": cursor}).json()
    assert [e["event"] for e in new["data"]] == ["SignatureUsed", "EvidenceSubmitted"]
    assert new["nextCursor"] != cursor


def test_a_filter_that_matches_nothing_still_moves_the_cursor(api: Api, procurement: str) -> None:
    api.sync()
    auditor = api.sign_in("auditor")
    page = api.client.get("/events", headers=auditor, params={"event": "DisputeSettled"}).json()
    assert page["count"] == 0
    head = api.client.get("/healthz").json()["indexer"]["blockNumber"]
    assert page["nextCursor"] == str(head)  # everything up to the mirror's block was looked at


@pytest.mark.parametrize("cursor", ["12-", "-3", "a-1", "1-2-3", "9" * 20])
def test_a_malformed_cursor_is_refused(api: Api, cursor: str) -> None:
    api.sync()
    response = api.client.get("/events", headers=api.sign_in("auditor"), params={"cursor": cursor})
    assert response.status_code == 422


# ---------------------------------------------------------------- CORS


def test_cors_is_off_by_default(api: Api) -> None:
    preflight = api.client.options(
        "/auth/nonce", headers={"Origin": "https://dash.example", "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in preflight.headers
    simple = api.client.get("/auth/nonce", headers={"Origin": "https://dash.example"})
    assert "access-control-allow-origin" not in simple.headers


def test_configured_origins_and_only_those_get_cors(world: World, relayer: TxSender, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, cors_origins="https://dash.example, http://localhost:5173")
    app = create_app(settings, rpc=world.rpc, system=world.system, relayer=relayer, build=world.build)
    with TestClient(app) as client:
        preflight = client.options(
            "/procurements",
            headers={
                "Origin": "https://dash.example",
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://dash.example"
        assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
        answer = client.get("/auth/me", headers={"Origin": "http://localhost:5173"})
        assert answer.status_code == 401  # errors carry CORS too, so the page can read them
        assert answer.headers["access-control-allow-origin"] == "http://localhost:5173"
        assert "x-request-id" in answer.headers["access-control-expose-headers"].lower()
        other = client.get("/auth/nonce", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_an_origin_must_look_like_one() -> None:
    with pytest.raises(ValueError, match="not an origin"):
        make_settings(Path("/nonexistent"), cors_origins="https://dash.example/path")
