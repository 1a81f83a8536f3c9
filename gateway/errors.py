"""Domain exceptions, and the one place that turns every error into RFC 9457 ``application/problem+json``.

Routes raise these (or let chain/ raise a ContractRevert); nothing else builds an error response. A contract
revert comes back with the Solidity custom error's name and decoded arguments; malformed input of any kind
(bad JSON, wrong types, oversized bodies) is a 4xx, never a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
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
    "BadRequest",
    "ChainFailed",
    "Conflict",
    "ContractRefused",
    "EvidenceCorrupted",
    "Forbidden",
    "GatewayError",
    "HttpError",
    "IdempotencyInProgress",
    "IdempotencyKeyReused",
    "InvalidInput",
    "MalformedSignature",
    "MethodNotAllowed",
    "NestingTooDeep",
    "NotAcceptable",
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
    "TransactionRefused",
    "UnsupportedMediaType",
    "UpstreamTimeout",
    "ValidationFailed",
    "install_error_handlers",
    "problem_body",
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
    raw: str | None = Field(
        None, description="contract-revert: the custom error as Solidity writes it, with arguments."
    )
    args: dict[str, Any] | None = Field(
        None, description="contract-revert: the custom error's arguments (integers as decimal strings)."
    )
    retry_after: int | None = Field(None, alias="retryAfter", description="too-many-requests: seconds to wait.")


class GatewayError(LedgerError):
    """Root of the gateway's problems. Each subclass is one kind of problem, declared once with its HTTP status,
    slug (its type is ``urn:procure:problem:<slug>``) and title; an error raised is that kind with its detail."""

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal error"

    def __init_subclass__(
        cls, *, status: int | None = None, slug: str | None = None, title: str | None = None, **kwargs: Any
    ) -> None:
        super().__init_subclass__(**kwargs)
        cls.status = cls.status if status is None else status
        cls.slug = cls.slug if slug is None else slug
        cls.title = cls.title if title is None else title

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


# ---------------------------------------------------------------- the kinds of problem, each declared once


class BadRequest(GatewayError, status=400, slug="bad-request", title="Bad request"):
    """The request cannot be read (undecodable bytes, a malformed header)."""


class NotAuthenticated(GatewayError, status=401, slug="not-authenticated", title="Not authenticated"):
    """No session, or the session token is unknown, expired or revoked."""


class SignInFailed(GatewayError, status=401, slug="sign-in-failed", title="Sign-in failed"):
    """A Sign-In with Ethereum message or its signature failed verification."""


class AccountNotPermitted(GatewayError, status=403, slug="account-not-permitted", title="Account not permitted"):
    """The account is unknown to the registry, or holds no active role (revoked, or organization deactivated)."""


class Forbidden(GatewayError, status=403, slug="forbidden", title="Forbidden"):
    """The account's roles do not allow this request."""


class SignatureMismatch(GatewayError, status=403, slug="signature-mismatch", title="Signature does not match"):
    """The action's signature does not recover to the signed-in account for this chain, escrow and nonce."""


class NotFound(GatewayError, status=404, slug="not-found", title="Not found"):
    """No such resource (or none visible to this account)."""


class MethodNotAllowed(GatewayError, status=405, slug="method-not-allowed", title="Method not allowed"):
    """No route serves this method at this path (``Allow`` lists those that do)."""


class NotAcceptable(GatewayError, status=406, slug="not-acceptable", title="Not acceptable"):
    """No representation the client accepts."""


class Conflict(GatewayError, status=409, slug="conflict", title="Conflict"):
    """The request conflicts with the current state."""


class StaleNonce(Conflict, slug="stale-nonce", title="Stale signature nonce"):
    """The signed nonce is not the signer's current registry nonce (already used, or not yet reached)."""


class IdempotencyInProgress(
    Conflict, slug="idempotency-in-progress", title="Request with this Idempotency-Key in progress"
):
    """A request with this Idempotency-Key is still being processed."""


class EvidenceCorrupted(Conflict, slug="evidence-corrupted", title="Evidence document corrupted"):
    """A stored evidence document no longer matches its hash: it is never served."""


class ContractRefused(Conflict, slug="contract-revert", title="The contract refused the action"):
    """A contract call reverted with a custom error (its status depends on the error: ``_REVERT_STATUS``)."""


class TransactionRefused(Conflict, slug="transaction-failed", title="The transaction failed"):
    """A transaction failed without a custom error, or was replaced."""


class PayloadTooLarge(GatewayError, status=413, slug="payload-too-large", title="Payload too large"):
    """The request body exceeds the limit."""


class UnsupportedMediaType(GatewayError, status=415, slug="unsupported-media-type", title="Unsupported media type"):
    """The uploaded document's content type is not accepted."""


class InvalidInput(GatewayError, status=422, slug="invalid-input", title="Invalid input"):
    """The request is well-formed JSON but its values are not acceptable."""


class ValidationFailed(InvalidInput, slug="validation-error", title="Request validation failed"):
    """The request does not match the schema (every problem is listed in ``errors``)."""


class NestingTooDeep(InvalidInput, slug="nesting-too-deep", title="JSON nested too deeply"):
    """The JSON body nests deeper than the gateway parses (refused before parsing)."""


class MalformedSignature(InvalidInput, slug="invalid-signature", title="Malformed signature or typed data"):
    """A signature or typed data that cannot be read."""


class IdempotencyKeyReused(
    InvalidInput, slug="idempotency-key-reused", title="Idempotency-Key reused with a different request"
):
    """The Idempotency-Key was already used with a different request."""


class SignatureExpired(InvalidInput, slug="signature-expired", title="Signature expired"):
    """The signed deadline has passed."""


class TooManyRequests(GatewayError, status=429, slug="too-many-requests", title="Too many requests"):
    """429: this client has used its share of an endpoint; ``retry_after`` seconds until it may again."""

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail, retryAfter=retry_after)
        self.retry_after = retry_after


class BadGateway(GatewayError, status=502, slug="bad-gateway", title="Chain error"):
    """The chain answered in a way the gateway cannot use."""


class ChainFailed(BadGateway, slug="chain-error"):
    """The chain could not be asked (a node error, a dropped connection)."""


class ServiceUnavailable(GatewayError, status=503, slug="service-unavailable", title="Service unavailable"):
    """A dependency (chain, mirror, relayer) is not available."""


class UpstreamTimeout(GatewayError, status=504, slug="timeout", title="Timed out"):
    """Waiting for the chain or the mirror took too long."""


class HttpError(GatewayError, slug="http-error", title="HTTP error"):
    """Any other HTTP error the framework raises (its own status)."""


# Which HTTP status each escrow/registry/budget custom error maps to; anything unlisted is a 409 (state conflict).
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
    # The budget office's and ledger's: who may act, and a signature's or a request's own faults.
    "BudgetUnauthorized": 403,
    "BudgetOfficeUnauthorized": 403,
    "BudgetInvalidSignature": 403,
    "BudgetSameOrganization": 403,
    "BudgetSignatureExpired": 422,
    "BudgetInvalidKey": 422,
    "BudgetInvalidAmount": 422,
    "BudgetMissingHash": 422,
    "BudgetOfficeMissingHash": 422,
    "BudgetInvalidGrant": 422,
    "BudgetUnknownMinistry": 422,
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


def problem_body(
    kind: type[GatewayError],
    detail: str,
    instance: str,
    request_id: str | None,
    *,
    status: int | None = None,
    **extensions: Any,
) -> dict[str, Any]:
    """The problem+json document of a problem of ``kind`` (its status unless another is given)."""
    body: dict[str, Any] = {
        "type": problem_type(kind.slug),
        "title": kind.title,
        "status": kind.status if status is None else status,
        "detail": detail,
        "instance": instance,
    }
    if request_id:
        body["requestId"] = request_id
    body.update(_json_safe(extensions))
    return body


def problem_response(
    request: Request, kind: type[GatewayError], detail: str, *, status: int | None = None, **extensions: Any
) -> JSONResponse:
    """A problem+json response for ``request``."""
    request_id = getattr(request.state, "request_id", None)
    body = problem_body(kind, detail, request.url.path, request_id, status=status, **extensions)
    headers = {"WWW-Authenticate": "Bearer"} if body["status"] == 401 else None
    return JSONResponse(body, status_code=body["status"], media_type=PROBLEM_CONTENT_TYPE, headers=headers)


def _gateway_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GatewayError)
    if exc.status >= 500:
        _log.warning("gateway error: %s", exc.detail, extra={"problem": exc.slug})
    response = problem_response(request, type(exc), exc.detail, **exc.extensions)
    if isinstance(exc, TooManyRequests):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def _contract_revert(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ContractRevert)
    status = _REVERT_STATUS.get(exc.name, ContractRefused.status)
    state = getattr(request.app.state, "gateway", None)
    if state is not None:  # name each account's organization, as the gateway knows it (mirror, else chain)
        exc.explain(lambda account: state.directory.lookup(account).organization, _due_dates(state, request))
    return problem_response(
        request, ContractRefused, exc.sentence, status=status, error=exc.name, args=revert_args(exc), raw=exc.raw
    )


def _due_dates(state: Any, request: Request) -> Callable[[int], int | None] | None:
    """A milestone's current due date, read from the chain, on the procurement the request's path names (an
    action's route, which has already found it visible to the caller); None elsewhere."""
    from chain import parse_procurement_name

    text = request.path_params.get("procurement_id")
    if not isinstance(text, str):
        return None

    def due_date_of(milestone_id: int) -> int | None:
        named = parse_procurement_name(text)
        escrows = (named.escrow,) if named.escrow is not None else state.ledger.escrows_of(named.procurement_id)
        if len(escrows) != 1:  # an id several ministries registered: not worth guessing for a courtesy
            return None
        return int(state.ledger.escrow(escrows[0]).milestone(milestone_id).due_date)

    return due_date_of


def _chain_error(request: Request, exc: Exception) -> JSONResponse:
    _log.warning("chain error: %s", exc)
    return problem_response(request, ChainFailed, str(exc))


def _transaction_failed(request: Request, exc: Exception) -> JSONResponse:
    return problem_response(request, TransactionRefused, str(exc))


def _signature_error(request: Request, exc: Exception) -> JSONResponse:
    return problem_response(request, MalformedSignature, str(exc))


def _ledger_error(request: Request, exc: Exception) -> JSONResponse:
    _log.error("ledger error: %s", exc)
    return problem_response(request, GatewayError, str(exc))


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
    return problem_response(request, ValidationFailed, detail, errors=errors)


# The kind of each HTTP error the framework raises by itself.
_HTTP_KINDS: dict[int, type[GatewayError]] = {
    kind.status: kind
    for kind in (
        BadRequest,
        NotAuthenticated,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        NotAcceptable,
        PayloadTooLarge,
        UnsupportedMediaType,
    )
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
    kind = _HTTP_KINDS.get(exc.status_code, HttpError)
    detail = exc.detail if isinstance(exc.detail, str) else kind.title
    response = problem_response(request, kind, detail, status=exc.status_code)
    for name, value in headers.items():
        response.headers[name] = value
    return response


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    _log.exception("unhandled error", exc_info=exc)
    return problem_response(request, GatewayError, "unexpected error; see the server log")


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
