"""The auditor's pages under ``/ui/audit``: the mirror's verify status and downloads, the red flags with their
evidence, the trail of a procurement and the acts of an account, each also as the CSV the API gives.

Each reads through the same service and rule as the JSON API: the flags through ``FlagView`` (auditors and the
finance authority all, a ministry's accounts their ministry's, anyone else a 403 page), a trail through
``Reader.escrow_of`` (a procurement the account may not see is the API's 404) and ``read_trail``, an account's acts
through ``read_acts`` (auditors and the finance authority anyone's, others their own), the whole OCDS release
package streamed through the gateway's publisher (classified fields for auditors only, as ``/ocds/releases``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from chain import Role
from gateway.api.routes.procurements import procurement_detail
from gateway.api.routes.trail import csv_response, read_acts, read_trail
from gateway.core.state import GatewayState
from gateway.deps import get_reader
from gateway.errors import GatewayError, InvalidInput
from gateway.identity import Principal
from gateway.services.flags import FlagView, red_flags
from gateway.streams import open_slot
from gateway.web.actions import call_api
from gateway.web.pages import SESSION_COOKIE, _bearer, _Context, _number, _see_other, _signed_in
from indexer.cursor import mirror_version
from indexer.flags import RULES
from indexer.self_check import SelfCheck, last_self_check

__all__ = ["router"]

router = APIRouter(prefix="/ui/audit", include_in_schema=False)
_PAGE_SIZE = 50
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")
_YEAR = re.compile(r"^[0-9]{1,4}$")
_PAGE = re.compile(r"^[0-9]{1,6}$")
_CODE = re.compile(r"^[\x21-\x7e]{1,16}$")


@dataclass(frozen=True)
class MirrorStatus:
    """How far the mirror goes and what its last self-check against the chain found (None: never checked)."""

    block_number: int | None
    block_hash: str | None
    chain_hash: str | None  # the digest chain's tip: sha256 over every mirrored block's digest, in order
    updated_at_ms: int | None
    chain_head: int | None
    check: SelfCheck | None


def _mirror_status(state: GatewayState) -> MirrorStatus:
    """The mirror's version (its head block and digest tip) and its last self-check, as ``/healthz`` reads them."""
    chain_id = state.ledger.chain_id
    with state.engine.connect() as conn:
        version = mirror_version(conn, chain_id)
        check = last_self_check(conn, chain_id)
    try:
        head: int | None = state.ledger.head()
    except Exception:  # a node that does not answer: the page says so instead of failing
        head = None
    if version is None:
        return MirrorStatus(None, None, None, None, head, check)
    return MirrorStatus(
        version.block_number, version.block_hash, version.chain_hash, version.updated_at_ms, head, check
    )


def _may_audit(principal: Principal) -> bool:
    return principal.is_auditor or principal.has(Role.FINANCE_AUTHORITY)


@router.get("", response_class=HTMLResponse)
async def audit_home(request: Request) -> Response:
    """The mirror's verify status, and where to go: the flags, the downloads."""
    caller = await _signed_in(request)
    if caller is None:
        return _see_other("/ui/sign-in")
    context = _Context(request, caller)
    status = await run_in_threadpool(_mirror_status, context.state)
    return context.render(
        "audit.html",
        mirror=status,
        reads_flags=FlagView.of(caller.principal) is not None,
        audits=_may_audit(caller.principal),
    )


@router.get("/flags", response_class=HTMLResponse)
async def flags_page(
    request: Request,
    rule: str | None = None,
    fy: str | None = None,
    ministry: str | None = None,
    page: str | None = None,
) -> Response:
    """The red flags the account may read, filtered by rule, fiscal year and ministry, a page at a time."""
    caller = await _signed_in(request)
    if caller is None:
        return _see_other("/ui/sign-in")
    context = _Context(request, caller)
    try:
        view = FlagView.required(caller.principal)
        year = _number(fy, _YEAR, "fy", 1, 9_998)
        number = _number(page, _PAGE, "page", 1, 100_000) or 1
        if ministry and not _CODE.match(ministry):
            raise InvalidInput(f"ministry must be an organization code (up to 16 letters), got {ministry[:40]!r}")
        if rule and len(rule) > 64:
            raise InvalidInput(f"rule: unknown rule {rule[:40]!r}…; the rules are {', '.join(RULES)}")
        snapshot = await run_in_threadpool(red_flags(context.state, request.app.state).snapshot)
        chosen = view.select(snapshot.flags, ministry=ministry or None, fiscal_year=year, rule=rule or None)
    except GatewayError as exc:
        return context.problem(exc)
    pages = max((len(chosen) + _PAGE_SIZE - 1) // _PAGE_SIZE, 1)
    shown = chosen[(number - 1) * _PAGE_SIZE : number * _PAGE_SIZE]
    filters = {"rule": rule or "", "fy": fy or "", "ministry": ministry or ""}
    return context.render(
        "flags.html",
        flags=shown,
        count=len(chosen),
        as_of_block=snapshot.as_of_block,
        rules=RULES,
        filters=filters,
        page=number,
        pages=pages,
        audits=_may_audit(caller.principal),
        kind_of=evidence_kind,
    )


@router.get("/procurements/{procurement_id}/trail", response_class=HTMLResponse)
async def trail_page(request: Request, procurement_id: str, format: str | None = None) -> Response:
    """Every event of one procurement in chain order, with who signed and relayed it (``?format=csv``: the CSV)."""
    caller = await _signed_in(request)
    if caller is None:
        return _see_other("/ui/sign-in")
    context = _Context(request, caller)
    try:
        wants_csv = _format(format)
        reader = await get_reader(request, _bearer(request.cookies[SESSION_COOKIE]))
        escrow = await run_in_threadpool(reader.escrow_of, procurement_id[:200])  # 404 unless visible (scope.py)
        lines = await run_in_threadpool(read_trail, context.state, escrow)
        detail = await procurement_detail(reader, escrow)
    except GatewayError as exc:
        return context.problem(exc)
    if wants_csv:
        return csv_response(lines, f"trail-{escrow}")
    return context.render("trail.html", lines=lines, escrow=escrow, p=detail, audits=_may_audit(caller.principal))


@router.get("/actors/{address}", response_class=HTMLResponse)
async def actor_page(request: Request, address: str, format: str | None = None) -> Response:
    """Every privileged act of one account in chain order (``?format=csv``: the CSV)."""
    caller = await _signed_in(request)
    if caller is None:
        return _see_other("/ui/sign-in")
    context = _Context(request, caller)
    try:
        wants_csv = _format(format)
        if not _ADDRESS.match(address):
            raise InvalidInput(f"the account must be 0x and 40 hex digits, got {address[:50]!r}")
        subject, lines = await run_in_threadpool(read_acts, context.state, caller.principal, address)
    except GatewayError as exc:
        return context.problem(exc)
    if wants_csv:
        return csv_response(lines, f"acts-{subject}")
    return context.render("actor.html", lines=lines, subject=subject, audits=_may_audit(caller.principal))


@router.get("/ocds/releases.json", response_class=HTMLResponse)
async def ocds_releases(request: Request) -> Response:
    """The whole OCDS release package this account may read (classified fields for auditors only, as
    ``/ocds/releases``), streamed as a download; one at a time per account's stream slots (gateway.streams)."""
    caller = await _signed_in(request)
    if caller is None:
        return _see_other("/ui/sign-in")
    context = _Context(request, caller)
    try:
        slot = open_slot(caller.principal.address)  # a flood of downloads holds the account's streams, no more
    except GatewayError as exc:
        return context.problem(exc)
    try:
        pieces = context.state.ocds.whole_releases(auditor=caller.principal.is_auditor)
        first = await run_in_threadpool(next, pieces)  # the spec register read before the 200 (a 503 otherwise)
    except GatewayError as exc:
        slot.release()
        return context.problem(exc)

    def body() -> Iterator[bytes]:
        try:
            yield first.encode()
            for piece in pieces:
                yield piece.encode()
        finally:
            slot.release()

    stream = body()
    slot.bind(stream)
    headers = {"Content-Disposition": 'attachment; filename="releases.json"', "Cache-Control": "no-store"}
    return StreamingResponse(stream, media_type="application/json", headers=headers)


@router.get("/digests.json", response_class=HTMLResponse)
async def digests_json(request: Request) -> Response:
    """The mirror's digest chain as ``GET /audit/digests`` gives it (``from``, ``to``, ``limit`` passed on), for the
    session's account: what other organizations' mirrors compare with (`procure audit compare`)."""
    caller = await _signed_in(request)
    if caller is None:
        return _see_other("/ui/sign-in")
    params = {name: request.query_params[name][:24] for name in ("from", "to", "limit") if name in request.query_params}
    try:
        answer = await call_api(request, "GET", "/audit/digests", request.cookies.get(SESSION_COOKIE), params=params)
    except GatewayError as exc:
        return _Context(request, caller).problem(exc)
    return JSONResponse(answer, headers={"Cache-Control": "no-store"})


def _format(given: str | None) -> bool:
    """True for ``csv``; False for none or ``html``; InvalidInput naming anything else."""
    if given is None or given in ("", "html"):
        return False
    if given == "csv":
        return True
    raise InvalidInput(f"format must be csv or html, got {given[:20]!r}")


def evidence_kind(value: Any) -> str:
    """How a flag's record value is shown: ``address`` (an account: its acts), ``hash`` (a transaction or document),
    ``list``, or ``text``."""
    if isinstance(value, str) and _ADDRESS.match(value):
        return "address"
    if isinstance(value, str) and _HASH.match(value):
        return "hash"
    if isinstance(value, list | tuple):
        return "list"
    return "text"
