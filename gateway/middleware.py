"""One ASGI middleware for every request: request id, client address, body limits, metrics and an access log line.

Body limits: a form (multipart or url-encoded: evidence uploads) streams through with its size limit per path;
any other body is one the framework may parse as JSON, so it is read whole first (at most the JSON size limit:
413 beyond) and refused with a 422 if it nests deeper than ``MAX_JSON_DEPTH``, before any parser sees it
(see gateway.core.nesting). Pure ASGI (not BaseHTTPMiddleware), so that streaming and exceptions behave as
without it.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.core.client_address import ClientAddress
from gateway.core.logging import request_id_var
from gateway.core.metrics import Metrics
from gateway.core.nesting import MAX_JSON_DEPTH, exceeds_depth
from gateway.errors import PROBLEM_CONTENT_TYPE, GatewayError, NestingTooDeep, PayloadTooLarge, problem_body

__all__ = ["BodyTooLarge", "RequestContextMiddleware"]

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")
_FORMS = (b"multipart/form-data", b"application/x-www-form-urlencoded")
_log = logging.getLogger("gateway.access")


class BodyTooLarge(StarletteHTTPException):
    """Raised from ``receive`` once a body passes its limit (FastAPI re-raises HTTPExceptions as they are)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body exceeds {limit} bytes")


class RequestContextMiddleware:
    """Request id (X-Request-ID in and out), client address, body limits, Prometheus metrics, JSON access log.

    ``upload_limit(method, path)`` is the size limit of a form body; every other body is limited to
    ``json_limit`` bytes and ``MAX_JSON_DEPTH`` levels. The client address (``client_address``) is stored in
    ``scope["state"]["client_address"]``.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: Metrics,
        json_limit: int,
        upload_limit: Callable[[str, str], int],
        client_address: ClientAddress,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.json_limit = json_limit
        self.upload_limit = upload_limit
        self.client_address = client_address
        # Labelled children by label values: looking them up in the registry takes a lock each time.
        self._counters: dict[tuple[str, str, str], Any] = {}
        self._histograms: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given: bytes | None = None
        declared: bytes | None = None
        content_type = b""
        has_body = False
        forwarded_for: list[bytes] = []
        for name, value in scope["headers"]:  # the first of each, as starlette's Headers.get
            if name == b"x-request-id" and given is None:
                given = value
            elif name == b"content-length" and declared is None:
                declared = value
                has_body = has_body or value.strip() != b"0"
            elif name == b"content-type" and not content_type:
                content_type = value.split(b";", 1)[0].strip().lower()
            elif name == b"transfer-encoding":
                has_body = True
            elif name == b"x-forwarded-for":
                forwarded_for.append(value)
        request_id = given.decode("latin-1") if given is not None else ""
        if not _REQUEST_ID.match(request_id):
            request_id = uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        client = scope.get("client")
        state["client_address"] = self.client_address(None if client is None else client[0], forwarded_for)
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        method, path = scope["method"], scope["path"]
        form = content_type in _FORMS
        limit = self.upload_limit(method, path) if form else self.json_limit
        id_header = (b"x-request-id", request_id.encode("ascii"))

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        try:
            if declared is not None and (not declared.isdigit() or int(declared) > limit):
                await self._refuse(scope, send_with_id, request_id, PayloadTooLarge, _too_large(limit))
            elif form or not has_body:
                await self.app(scope, _limited(receive, limit), send_with_id)
            else:
                body = await _read_body(receive, limit)
                if body is None:
                    status = 499  # the client went away before sending its whole body
                elif isinstance(body, BodyTooLarge):
                    await self._refuse(scope, send_with_id, request_id, PayloadTooLarge, _too_large(limit))
                elif exceeds_depth(body):
                    detail = f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels of arrays and objects"
                    await self._refuse(scope, send_with_id, request_id, NestingTooDeep, detail)
                else:
                    await self.app(scope, _replay(body, receive), send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "<unmatched>"
            self._record(method, template, str(status), elapsed)
            if _log.isEnabledFor(logging.INFO):
                _log.info(
                    "request",
                    extra={
                        "method": method,
                        "path": path,
                        "route": template,
                        "status": status,
                        "durationMs": round(elapsed * 1000, 2),
                    },
                )
            request_id_var.reset(token)

    def _record(self, method: str, template: str, status: str, elapsed: float) -> None:
        counter = self._counters.get((method, template, status))
        if counter is None:
            counter = self._counters[(method, template, status)] = self.metrics.requests.labels(
                method, template, status
            )
        histogram = self._histograms.get((method, template))
        if histogram is None:
            histogram = self._histograms[(method, template)] = self.metrics.latency.labels(method, template)
        counter.inc()
        histogram.observe(elapsed)

    @staticmethod
    async def _refuse(scope: Scope, send: Send, request_id: str, kind: type[GatewayError], detail: str) -> None:
        """A problem+json answer sent before the app sees the request (the connection is then closed)."""
        body = json.dumps(problem_body(kind, detail, scope["path"], request_id)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": kind.status,
                "headers": [
                    (b"content-type", PROBLEM_CONTENT_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _too_large(limit: int) -> str:
    return f"the request body exceeds {limit} bytes"


def _limited(receive: Receive, limit: int) -> Receive:
    """``receive`` raising BodyTooLarge once the body passes ``limit`` bytes (for streamed form bodies)."""
    received = 0

    async def receive_limited() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(limit)
        return message

    return receive_limited


async def _read_body(receive: Receive, limit: int) -> bytes | BodyTooLarge | None:
    """The whole body, BodyTooLarge past ``limit`` bytes, or None if the client disconnected first."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return BodyTooLarge(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` handing the app the body already read, then whatever comes next (a disconnect)."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
