"""Domain exceptions, and the one place that turns every error into RFC 9457 ``application/problem+json``.

Routes raise these (or let chain/ raise a ContractRevert); nothing else builds an error response. A contract
revert comes back with the Solidity custom error's name and decoded arguments; malformed input of any kind
(bad JSON, wrong types, oversized bodies) is a 4xx, never a 500.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from chain.errors import ChainError, ContractRevert, LedgerError, SignatureError, TransactionFailed

__all__ = [
    "PROBLEM_CONTENT_TYPE",
    "AccountNotPermitted",
    "BadGateway",
    "Conflict",
    "EvidenceCorrupted",
    "Forbidden",
    "GatewayError",
    "IdempotencyInProgress",
    "IdempotencyKeyReused",
    "InvalidInput",
    "NotAuthenticated",
    "NotFound",
    "PayloadTooLarge",
    "ProblemDetails",
    "ServiceUnavailable",
    "SignInFailed",
    "SignatureExpired",
    "SignatureMismatch",
    "StaleNonce",
    "TooManyRequests",
    "UnsupportedMediaType",
    "UpstreamTimeout",
    "install_error_handlers",
    "problem_response",
    "problem_type",
    "revert_args",
]

PROBLEM_CONTENT_TYPE = "application/problem+json"
_PROBLEM_BASE = "urn:procure:problem:"
_log = logging.getLogger("gateway.errors")


def problem_type(slug: str) -> str:
    """The problem type URI for ``slug``."""
    return _PROBLEM_BASE + slug


class ValidationIssue(BaseModel):
    """One reason a request failed validation."""

    loc: list[str | int] = Field(description="Where: the part of the request (body, query, path, header), then names.")
    msg: str = Field(description="What is wrong.")
    type: str = Field(description="The kind of check that failed.")


class ProblemDetails(BaseModel):
    """An RFC 9457 problem document. Extension members beyond those listed may follow."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    type: str = Field(description="URI naming the kind of problem, e.g. urn:procure:problem:validation-error.")
    title: str = Field(description="Short summary of the kind of problem.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong this time.")
    instance: str | None = Field(None, description="The request path.")
    request_id: str | None = Field(None, alias="requestId", description="The request id, as in X-Request-ID.")
    errors: list[ValidationIssue] | None = Field(None, description="validation-error: every problem found.")
    error: str | None = Field(None, description="contract-revert: the Solidity custom error's name.")
    args: dict[str, Any] | None = Field(
        None, description="contract-revert: the custom error's arguments (integers as decimal strings)."
    )
    retry_after: int | None = Field(None, alias="retryAfter", description="too-many-requests: seconds to wait.")


class GatewayError(LedgerError):
    """Root of the gateway's domain errors; each subclass fixes a status, a problem type and a title."""

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


class InvalidInput(GatewayError):
    """The request is well-formed JSON but its values are not acceptable."""

    status, slug, title = 422, "invalid-input", "Invalid input"


class NotAuthenticated(GatewayError):
    """No session, or the session token is unknown, expired or revoked."""

    status, slug, title = 401, "not-authenticated", "Not authenticated"


class SignInFailed(GatewayError):
    """A Sign-In with Ethereum message or its signature failed verification."""

    status, slug, title = 401, "sign-in-failed", "Sign-in failed"


class AccountNotPermitted(GatewayError):
    """The account is unknown to the registry, or holds no active role (revoked, or organization deactivated)."""

    status, slug, title = 403, "account-not-permitted", "Account not permitted"


class Forbidden(GatewayError):
    """The account's roles do not allow this request."""

    status, slug, title = 403, "forbidden", "Forbidden"


class SignatureMismatch(GatewayError):
    """The action's signature does not recover to the signed-in account for this chain, escrow and nonce."""

    status, slug, title = 403, "signature-mismatch", "Signature does not match"


class NotFound(GatewayError):
    """No such resource (or none visible to this account)."""

    status, slug, title = 404, "not-found", "Not found"


class Conflict(GatewayError):
    """The request conflicts with the current state."""

    status, slug, title = 409, "conflict", "Conflict"


class StaleNonce(Conflict):
    """The signed nonce is not the signer's current registry nonce (already used, or not yet reached)."""

    slug, title = "stale-nonce", "Stale signature nonce"


class IdempotencyInProgress(Conflict):
    """A request with this Idempotency-Key is still being processed."""

    slug, title = "idempotency-in-progress", "Request with this Idempotency-Key in progress"


class EvidenceCorrupted(Conflict):
    """A stored evidence document no longer matches its hash: it is never served."""

    slug, title = "evidence-corrupted", "Evidence document corrupted"


class IdempotencyKeyReused(GatewayError):
    """The Idempotency-Key was already used with a different request."""

    status, slug, title = 422, "idempotency-key-reused", "Idempotency-Key reused with a different request"


class SignatureExpired(GatewayError):
    """The signed deadline has passed."""

    status, slug, title = 422, "signature-expired", "Signature expired"


class PayloadTooLarge(GatewayError):
    """The request body exceeds the limit."""

    status, slug, title = 413, "payload-too-large", "Payload too large"


class TooManyRequests(GatewayError):
    """429: this client has used its share of an endpoint; ``retry_after`` seconds until it may again."""

    status, slug, title = 429, "too-many-requests", "Too many requests"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail, retryAfter=retry_after)
        self.retry_after = retry_after


class UnsupportedMediaType(GatewayError):
    """The uploaded document's content type is not accepted."""

    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


class BadGateway(GatewayError):
    """The chain answered in a way the gateway cannot use."""

    status, slug, title = 502, "bad-gateway", "Chain error"


class ServiceUnavailable(GatewayError):
    """A dependency (chain, mirror, relayer) is not available."""

    status, slug, title = 503, "service-unavailable", "Service unavailable"


class UpstreamTimeout(GatewayError):
    """Waiting for the chain or the mirror took too long."""

    status, slug, title = 504, "timeout", "Timed out"


# Which HTTP status each escrow/registry custom error maps to; anything unlisted is a 409 (state conflict).
_REVERT_STATUS: dict[str, int] = {
    "EscrowUnauthorized": 403,
    "EscrowSegregationOfDuties": 403,
    "EscrowNotOnPanel": 403,
    "EscrowSameOfficer": 403,
    "EscrowInvalidSignature": 403,
    "AccessControlUnauthorizedAccount": 403,
    "EscrowUnknownMilestone": 422,
    "EscrowUnknownAmendment": 422,
    "EscrowInvalidFunding": 422,
    "EscrowInvalidAmendment": 422,
    "EscrowInvalidSettlement": 422,
    "EscrowUriTooLong": 422,
    "EscrowSignatureExpired": 422,
    "EscrowAmountOverflow": 422,
    "ERC20InsufficientAllowance": 422,
    "ERC20InsufficientBalance": 422,
}


def _json_safe(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, bool | int | str | float) or value is None:
        return value
    return str(value)


def revert_args(exc: ContractRevert) -> dict[str, Any]:
    """A custom error's decoded arguments as JSON: bytes as 0x-hex, integers as decimal strings (they are
    uint256 and may pass 2^53, past which JavaScript's numbers are not exact), as in the mirror's events."""

    def convert(value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, list):
            return [convert(v) for v in value]
        return value

    converted: dict[str, Any] = convert(_json_safe(exc.args_by_name))
    return converted


def problem_response(
    request: Request, status: int, slug: str, title: str, detail: str, **extensions: Any
) -> JSONResponse:
    """A problem+json response for ``request``."""
    body: dict[str, Any] = {
        "type": problem_type(slug),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        body["requestId"] = request_id
    body.update(_json_safe(extensions))
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_CONTENT_TYPE, headers=headers)


def _gateway_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GatewayError)
    if exc.status >= 500:
        _log.warning("gateway error: %s", exc.detail, extra={"problem": exc.slug})
    response = problem_response(request, exc.status, exc.slug, exc.title, exc.detail, **exc.extensions)
    if isinstance(exc, TooManyRequests):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def _contract_revert(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ContractRevert)
    status = _REVERT_STATUS.get(exc.name, 409)
    return problem_response(
        request,
        status,
        "contract-revert",
        "The contract refused the action",
        str(exc),
        error=exc.name,
        args=revert_args(exc),
    )


def _chain_error(request: Request, exc: Exception) -> JSONResponse:
    _log.warning("chain error: %s", exc)
    return problem_response(request, 502, "chain-error", "Chain error", str(exc))


def _transaction_failed(request: Request, exc: Exception) -> JSONResponse:
    return problem_response(request, 409, "transaction-failed", "The transaction failed", str(exc))


def _signature_error(request: Request, exc: Exception) -> JSONResponse:
    return problem_response(request, 422, "invalid-signature", "Malformed signature or typed data", str(exc))


def _ledger_error(request: Request, exc: Exception) -> JSONResponse:
    _log.error("ledger error: %s", exc)
    return problem_response(request, 500, "internal-error", "Internal error", str(exc))


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Only location, message and type: the offending input is not echoed back (it may be huge or binary).
    errors = [
        {
            "loc": [part if isinstance(part, int) else str(part) for part in error.get("loc", ())],
            "msg": str(error.get("msg", "")),
            "type": str(error.get("type", "")),
        }
        for error in exc.errors()
    ]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(p) for p in first["loc"])
    detail = f"{where}: {first['msg']}" if where else str(first["msg"])
    return problem_response(request, 422, "validation-error", "Request validation failed", detail, errors=errors)


_HTTP_TITLES = {
    400: ("bad-request", "Bad request"),
    401: ("not-authenticated", "Not authenticated"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    413: ("payload-too-large", "Payload too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
}


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path (Starlette's own Allow names only the first route's)."""
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.router.routes):
        pattern = getattr(route, "path_regex", None)
        if pattern is not None and pattern.match(request.scope["path"]):
            methods |= route.methods or set()
    return ", ".join(sorted(methods | {"OPTIONS"}))


def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request)
        if request.method == "OPTIONS":  # RFC 9110: OPTIONS asks what the resource allows
            return Response(status_code=204, headers=headers)
    slug, title = _HTTP_TITLES.get(exc.status_code, ("http-error", "HTTP error"))
    detail = exc.detail if isinstance(exc.detail, str) else title
    response = problem_response(request, exc.status_code, slug, title, detail)
    for name, value in headers.items():
        response.headers[name] = value
    return response


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    _log.exception("unhandled error", exc_info=exc)
    return problem_response(request, 500, "internal-error", "Internal error", "unexpected error; see the server log")


def install_error_handlers(app: FastAPI) -> None:
    """Map every error to problem+json (most specific class first, as Starlette looks handlers up by MRO)."""
    app.add_exception_handler(GatewayError, _gateway_error)
    app.add_exception_handler(ContractRevert, _contract_revert)
    app.add_exception_handler(SignatureError, _signature_error)
    app.add_exception_handler(TransactionFailed, _transaction_failed)
    app.add_exception_handler(ChainError, _chain_error)
    app.add_exception_handler(LedgerError, _ledger_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(Exception, _unexpected)
