"""One ASGI middleware for every request: request id, body size limit, metrics and an access log line.

Pure ASGI (not BaseHTTPMiddleware), so that streaming and exceptions behave as without it.
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

from gateway.core.logging import request_id_var
from gateway.core.metrics import Metrics
from gateway.errors import PROBLEM_CONTENT_TYPE, problem_type

__all__ = ["BodyTooLarge", "RequestContextMiddleware"]

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")
_log = logging.getLogger("gateway.access")


class BodyTooLarge(StarletteHTTPException):
    """Raised from ``receive`` once a body passes its limit (FastAPI re-raises HTTPExceptions as they are)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body exceeds {limit} bytes")


class RequestContextMiddleware:
    """Request id (X-Request-ID in and out), body limits per path, Prometheus metrics, JSON access log."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics, body_limit: Callable[[str, str], int]) -> None:
        self.app = app
        self.metrics = metrics
        self.body_limit = body_limit
        # Labelled children by label values: looking them up in the registry takes a lock each time.
        self._counters: dict[tuple[str, str, str], Any] = {}
        self._histograms: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given: str | None = None
        declared: str | None = None
        for name, value in scope["headers"]:  # the first of each, as starlette's Headers.get
            if name == b"x-request-id" and given is None:
                given = value.decode("latin-1")
            elif name == b"content-length" and declared is None:
                declared = value.decode("latin-1")
        request_id = given if given is not None and _REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        method, path = scope["method"], scope["path"]
        limit = self.body_limit(method, path)
        id_header = (b"x-request-id", request_id.encode("ascii"))

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        received = 0

        async def receive_limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        try:
            if declared is not None and (not declared.isdigit() or int(declared) > limit):
                await self._too_large(scope, send_with_id, limit, request_id)
            else:
                await self.app(scope, receive_limited, send_with_id)
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
    async def _too_large(scope: Scope, send: Send, limit: int, request_id: str) -> None:
        body = json.dumps(
            {
                "type": problem_type("payload-too-large"),
                "title": "Payload too large",
                "status": 413,
                "detail": f"the request body exceeds {limit} bytes",
                "instance": scope["path"],
                "requestId": request_id,
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", PROBLEM_CONTENT_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
