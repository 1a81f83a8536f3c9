"""The OpenAPI document, made to say what the server does (the one place where responses are declared).

FastAPI documents each route's success response from its ``response_model``; everything that holds for all
routes is added here, once, from what each route is:

* every error is ``application/problem+json`` (``ProblemDetails``), for any 4xx and 5xx;
* a route behind the bearer token (``security`` in its operation) answers 401 with ``WWW-Authenticate``;
* a sign-in route (rate-limited per client) answers 429 with ``Retry-After``;
* every answer carries ``X-Request-ID``.

Request and response fields take their schemas from their types (gateway/schemas/common.py: standard
``minimum``/``maximum``; wide integers as decimal strings in answers), the wide integers as shared components
(``Uint256``, ``Uint256String``, ``Uint64``...); the API-wide rules (limits, cursors, Idempotency-Key) are in
the description below and in the parameters' own descriptions.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts

from chain import BUDGET_MAX_YEN
from gateway.core.nesting import MAX_JSON_DEPTH
from gateway.deps import limit_sign_in
from gateway.errors import PROBLEM_CONTENT_TYPE, ProblemDetails
from gateway.schemas.common import UINT64_MAX, UINT256_MAX, integer_pattern

__all__ = ["DESCRIPTION", "install_openapi"]

DESCRIPTION = f"""\
Signed actions in, state out. Sign in with Ethereum (EIP-4361), fetch the EIP-712 typed data of an action,
sign it with your own wallet and post it back: the gateway checks it and relays it (it never holds your key).
Reads come from the indexer's SQL mirror, scoped to what your organization and roles may see.

**Errors** are RFC 9457 problem details (`application/problem+json`): `type` names the problem
(`urn:procure:problem:<slug>`), `detail` says what was wrong; a refused contract call adds the custom
error's name and arguments.

**Numbers.** Amounts are integer yen. Integers that may pass 2^53 (amounts, nonces, deadlines: uint64 and
uint256 on chain) are answered as decimal strings, and accepted as JSON integers or decimal strings; never a
float.

**Limits.** A request body other than an evidence upload is at most `PROCURE_JSON_MAX_BYTES` bytes (413
beyond) and nests at most {MAX_JSON_DEPTH} levels of arrays and objects (422 `nesting-too-deep`, before it is
parsed). Sign-in requests are limited per client address (429 with `Retry-After`).

**Cursors.** `GET /events` pages through the event log in chain order; every page's `nextCursor` is where to
resume (pass it as `cursor`), also when the page was short or empty: poll with it to follow the chain.

**Idempotency-Key.** A POST that relays a signed action may carry an `Idempotency-Key` (1 to 255 visible
ASCII characters, chosen by the client, scoped to the signed-in account, kept while the gateway's database
lives). The first request with a key acts; a retry with the same key and the same body returns the first
answer (`replayed: true`) with its current status instead of acting again; the same key with another body is
a 422, and a retry while the first is still being checked a 409. A request refused before anything reached
the chain frees its key.
"""

_REQUEST_ID_HEADER = {
    "description": "The request id (the client's X-Request-ID if well-formed, else a new one).",
    "required": True,
    "schema": {"type": "string"},
}


# The wide integers of gateway.schemas.common, as shared components: their exact bounds (FastAPI's document model
# would turn a uint256 maximum into a float) and their long patterns written once.
_WIDE_INTEGERS = {
    integer_pattern(UINT256_MAX): ("Uint256", 0, UINT256_MAX, "A uint256"),
    integer_pattern(UINT64_MAX): ("Uint64", 0, UINT64_MAX, "A uint64"),
    integer_pattern(2**16 - 1): ("Uint16", 0, 2**16 - 1, "A uint16"),
    integer_pattern(2**8 - 1): ("Uint8", 0, 2**8 - 1, "A uint8"),
    # The budget ledger's amounts (BudgetLedger.MAX_YEN), and its changes (negative: a cut).
    integer_pattern(BUDGET_MAX_YEN): ("BudgetYen", 0, BUDGET_MAX_YEN, "Yen the budget ledger takes"),
    integer_pattern(BUDGET_MAX_YEN, signed=True): (
        "BudgetYenChange",
        -BUDGET_MAX_YEN,
        BUDGET_MAX_YEN,
        "A change in yen the budget ledger takes (negative: a cut)",
    ),
}
_WIDE_INTEGER_KEYS = {"anyOf", "type", "pattern", "minimum", "maximum"}


def _wide_integer_components() -> dict[str, Any]:
    components: dict[str, Any] = {}
    for pattern, (name, minimum, maximum, what) in _WIDE_INTEGERS.items():
        text = {"type": "string", "pattern": pattern, "description": f"{what} as a decimal string."}
        components[f"{name}String"] = text
        components[name] = {
            "anyOf": [
                {"type": "integer", "minimum": minimum, "maximum": maximum},
                {"$ref": f"#/components/schemas/{name}String"},
            ],
            "description": f"{what}: an integer, or the same as a decimal string.",
        }
    return components


def _wide_integer_ref(node: dict[str, Any]) -> str | None:
    """The component a schema node spells out in full, if it is one of the wide integers."""
    if node.get("type") == "string" and node.get("pattern") in _WIDE_INTEGERS:
        return _WIDE_INTEGERS[node["pattern"]][0] + "String"
    options = node.get("anyOf")
    if isinstance(options, list) and len(options) == 2 and options[1].get("pattern") in _WIDE_INTEGERS:
        return _WIDE_INTEGERS[options[1]["pattern"]][0]
    return None


def _share_wide_integers(node: Any) -> Any:
    if isinstance(node, list):
        return [_share_wide_integers(item) for item in node]
    if not isinstance(node, dict):
        return node
    name = _wide_integer_ref(node)
    if name is not None:
        kept = {k: v for k, v in node.items() if k not in _WIDE_INTEGER_KEYS}
        return {"$ref": f"#/components/schemas/{name}", **kept}
    return {key: _share_wide_integers(value) for key, value in node.items()}


_REQUEST_ID_REF = {"$ref": "#/components/headers/X-Request-ID"}


def _problem(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}},
        "headers": {"X-Request-ID": _REQUEST_ID_REF, **(headers or {})},
    }
    return response


def _rate_limited(route: APIRoute) -> bool:
    return any(dependency.call is limit_sign_in for dependency in route.dependant.dependencies)


def _document_responses(operation: dict[str, Any], route: APIRoute) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status in [code for code in responses if code[0] in "45" or code in ("default", "422")]:
        if "application/json" in responses[status].get("content", {}) and status != "503":
            del responses[status]  # FastAPI's own validation-error shape, or a leftover: replaced below
    for response in responses.values():
        response.setdefault("headers", {})["X-Request-ID"] = _REQUEST_ID_REF
    if "security" in operation:
        responses["401"] = {"$ref": "#/components/responses/NotAuthenticated"}
    if _rate_limited(route):
        responses["429"] = {"$ref": "#/components/responses/TooManyRequests"}
    responses["4XX"] = {"$ref": "#/components/responses/Refused"}
    responses["5XX"] = {"$ref": "#/components/responses/Failed"}


_RESPONSES = {
    "NotAuthenticated": _problem(
        "Not signed in, or the session ended.",
        {"WWW-Authenticate": {"required": True, "schema": {"type": "string", "const": "Bearer"}}},
    ),
    "TooManyRequests": _problem(
        "This client address has used its share of sign-in requests.",
        {"Retry-After": {"required": True, "schema": {"type": "integer", "minimum": 1}}},
    ),
    "Refused": _problem("The request was refused (see `type` and `detail`)."),
    "Failed": _problem("The gateway or the chain failed."),
}


def install_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` (and /openapi.json) return the document described in the module docstring."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema: dict[str, Any] = get_openapi(
            title=app.title,
            version=app.version,
            openapi_version=app.openapi_version,
            description=app.description,
            routes=app.routes,
        )
        routes = {
            (context.path, method.lower()): context.original_route
            for context in iter_route_contexts(app.routes)
            if isinstance(context.original_route, APIRoute)
            for method in context.methods or ()
        }
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                _document_responses(operation, routes[(path, method)])
        schema = dict(_share_wide_integers(schema))
        schema["components"]["headers"] = {"X-Request-ID": _REQUEST_ID_HEADER}
        schema["components"]["responses"] = _RESPONSES
        components = schema["components"].setdefault("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        problem = ProblemDetails.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
        components.update(problem.pop("$defs", {}))
        components["ProblemDetails"] = problem
        components.update(_wide_integer_components())
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
