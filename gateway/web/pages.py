"""The dashboard's pages under ``/ui``: sign-in (demo accounts, dev chains only), the budget overview, the
procurements list and one procurement. Server-rendered, readable without JavaScript.

Each page reads through the same services and scope as the JSON API (``BudgetReader``, ``Reader`` and
``LISTINGS``, the caller resolved by ``gateway.deps.resolve_caller``): the session token travels in an HttpOnly,
SameSite=Strict cookie instead of an Authorization header, nothing else differs. A problem becomes an HTML page
with the problem's status (a procurement the account may not see is the API's 404). Every form that changes state
carries a CSRF token that must equal the one in its cookie (double submit, on top of SameSite=Strict).
"""

from __future__ import annotations

import contextlib
import hmac
import re
import secrets
from pathlib import Path
from typing import Any

from eth_account.messages import encode_defunct
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from chain import DEV_CHAIN_IDS, DEV_INDEX, dev_account
from gateway.api.routes.procurements import procurement_detail
from gateway.core.state import GatewayState
from gateway.deps import Caller, get_reader, limit_sign_in, resolve_caller
from gateway.errors import (
    Forbidden,
    GatewayError,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    ServiceUnavailable,
)
from gateway.services.budget import BudgetReader, fiscal_year_of, read_clock
from gateway.services.reads import LISTINGS, Page
from gateway.siwe import SiweMessage
from gateway.web.burn_chart import overview_chart
from gateway.web.i18n import LANGS, Words, negotiate
from gateway.web.procurement_records import procurement_records
from gateway.web.search import procurement_filters

__all__ = ["CSRF_COOKIE", "DEV_ACCOUNTS", "LANG_COOKIE", "SESSION_COOKIE", "STATIC_DIR", "router"]

SESSION_COOKIE = "procure_session"
CSRF_COOKIE = "procure_csrf"
LANG_COOKIE = "procure_lang"
STATIC_DIR = Path(__file__).with_name("static")
#: The dev mnemonic's accounts a demo sign-in accepts (as ``procure --dev-account N``): the cast and a few spare.
DEV_ACCOUNTS = range(30)
_IDLE_DAYS = 90  # the API's default
_PAGE_SIZE = 50
_LINE_PAGE = 100  # budget lines per overview page
_CSRF = re.compile(r"^[A-Za-z0-9_-]{43}$")
# A page of the dashboard to go back to: a path under /ui and its query, percent-encoded as the pages' links are.
_NEXT = re.compile(r"^(?P<path>/ui(/[A-Za-z0-9_.-]+)*/?)(\?[A-Za-z0-9_=&.%+~-]{0,2000})?$")
_YEAR = re.compile(r"^[0-9]{1,4}$")
_PAGE = re.compile(r"^[0-9]{1,6}$")
_PEOPLE = {index: label for label, index in DEV_INDEX.items()}

router = APIRouter(prefix="/ui", include_in_schema=False)
_templates = Jinja2Templates(directory=Path(__file__).with_name("templates"))
_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class _Context:
    """What every page knows: the request, the language's words, the CSRF token, the signed-in caller."""

    def __init__(self, request: Request, caller: Caller | None = None) -> None:
        self.request = request
        self.state: GatewayState = request.app.state.gateway
        self.words = Words(negotiate(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language")))
        given = request.cookies.get(CSRF_COOKIE, "")
        self.new_csrf = not _CSRF.match(given)
        self.csrf = secrets.token_urlsafe(32) if self.new_csrf else given
        self.caller = caller

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        """The page ``template`` with ``values``."""
        principal = None if self.caller is None else self.caller.principal
        context = {
            "t": self.words,
            "lang": self.words.lang,
            "other_lang": next(lang for lang in LANGS if lang != self.words.lang),
            "csrf": self.csrf,
            "principal": principal,
            "here": self.request.url.path + (f"?{self.request.url.query}" if self.request.url.query else ""),
            **values,
        }
        response = _templates.TemplateResponse(self.request, template, context, status_code=status, headers=_HEADERS)
        if self.new_csrf:
            _set_cookie(self.state, response, CSRF_COOKIE, self.csrf, max_age=None)
        return response

    def problem(self, exc: GatewayError) -> HTMLResponse:
        """A problem as an error page with its status."""
        key = f"error.{exc.status}"
        title = self.words(key) if self.words.has(key) else self.words("error.other")
        return self.render("error.html", exc.status, title=title, detail=exc.detail)

    def check_csrf(self, given: object) -> None:
        """Forbidden unless the form's token equals the cookie's."""
        cookie = self.request.cookies.get(CSRF_COOKIE, "")
        if not (isinstance(given, str) and _CSRF.match(cookie) and hmac.compare_digest(given, cookie)):
            raise Forbidden("the form's CSRF token is missing or does not match: reload the page and try again")


def _set_cookie(state: GatewayState, response: Response, name: str, value: str, max_age: int | None) -> None:
    secure = state.settings.siwe_uri.startswith("https:")
    response.set_cookie(name, value, max_age=max_age, path="/ui", secure=secure, httponly=True, samesite="strict")


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


async def _signed_in(request: Request) -> Caller | None:
    """The caller of the session cookie, or None without a live session (an account without roles: 403)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        return await resolve_caller(request, _bearer(token))
    except NotAuthenticated:
        return None


def _bearer(token: str) -> HTTPAuthorizationCredentials:
    return HTTPAuthorizationCredentials(scheme="Bearer", credentials=token)


def _number(text: str | None, pattern: re.Pattern[str], name: str, low: int, high: int) -> int | None:
    """A query parameter read as an integer in [low, high]; InvalidInput naming it otherwise."""
    if text is None or text == "":
        return None
    if not pattern.match(text) or not low <= int(text) <= high:
        raise InvalidInput(f"{name} must be a whole number from {low} to {high}, got {text[:40]!r}")
    return int(text)


# ------------------------------------------------------------------ sign-in, sign-out, language


@router.get("", response_class=HTMLResponse)
@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> Response:
    """The budget overview when signed in, else the sign-in page."""
    return _see_other("/ui/budget" if await _signed_in(request) else "/ui/sign-in")


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_page(request: Request) -> Response:
    """The sign-in page: on a dev chain, a form to sign in as one of the demo accounts."""
    context = _Context(request)
    chain_id = context.state.ledger.chain_id
    people = [(index, _PEOPLE.get(index, "")) for index in DEV_ACCOUNTS] if chain_id in DEV_CHAIN_IDS else []
    return context.render("sign_in.html", people=people, chain_id=chain_id)


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in(request: Request) -> Response:
    """Sign in as demo account N (dev chains only): the gateway signs a Sign-In with Ethereum message with the dev
    mnemonic's key N and opens a session through the same check as ``POST /auth/sign-in``."""
    context = _Context(request)
    state = context.state
    try:
        form = await request.form()
        context.check_csrf(form.get("csrf"))
        chain_id = state.ledger.chain_id
        if chain_id not in DEV_CHAIN_IDS:
            raise Forbidden(context.words("sign_in.not_dev", chain_id=chain_id))
        index = _number(_text(form.get("account")), _PAGE, "account", DEV_ACCOUNTS.start, DEV_ACCOUNTS.stop - 1)
        if index is None:
            raise InvalidInput("account: choose a demo account")
        await limit_sign_in(request, state)
        token, max_age = await run_in_threadpool(_dev_sign_in, state, index)
    except GatewayError as exc:
        return context.problem(exc)
    response = _see_other("/ui/budget")
    _set_cookie(state, response, SESSION_COOKIE, token, max_age=max_age)
    return response


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _dev_sign_in(state: GatewayState, index: int) -> tuple[str, int]:
    """A session for dev account ``index``, signed in as any wallet would: (token, seconds it lasts)."""
    account = dev_account(index, state.ledger.chain_id)  # refuses any chain but a dev one, again
    settings = state.settings
    issued = state.auth.issue_nonce()
    message = SiweMessage(
        domain=settings.siwe_domain,
        address=account.address,
        uri=settings.siwe_uri,
        chain_id=state.ledger.chain_id,
        nonce=issued.nonce,
        issued_at=state.auth.as_datetime(int(state.clock())),
        statement=settings.siwe_statement,
    ).to_text()
    signature = bytes(account.sign_message(encode_defunct(text=message)).signature)
    with state.sessions() as db:
        signed = state.auth.sign_in(db, message, signature, state.directory)
    state.metrics.sign_ins.labels("ok").inc()
    return signed.token, max(signed.expires_at - int(state.clock()), 1)


@router.post("/sign-out", response_class=HTMLResponse)
async def sign_out(request: Request) -> Response:
    """End the session of the cookie."""
    context = _Context(request)
    try:
        form = await request.form()
        context.check_csrf(form.get("csrf"))
    except GatewayError as exc:
        return context.problem(exc)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await run_in_threadpool(_end_session, context.state, token)
    response = _see_other("/ui/sign-in")
    response.delete_cookie(SESSION_COOKIE, path="/ui", httponly=True, samesite="strict")
    return response


def _end_session(state: GatewayState, token: str) -> None:
    with state.sessions() as db, contextlib.suppress(NotAuthenticated):  # already ended
        state.auth.sign_out(db, state.auth.authenticate(db, token))


@router.get("/lang/{lang}", response_class=HTMLResponse)
async def switch_language(request: Request, lang: str, next: str = "/ui") -> Response:
    """Show the pages in ``lang`` (ja or en) from now on, then go back to ``next`` (a page of the dashboard)."""
    context = _Context(request)
    if lang not in LANGS:
        return context.problem(InvalidInput(f"language must be one of {', '.join(LANGS)}, got {lang[:20]!r}"))
    response = _see_other(_back_to(next))
    _set_cookie(context.state, response, LANG_COOKIE, lang, max_age=365 * 86_400)
    return response


def _back_to(next: str) -> str:
    """``next`` if it is a page of the dashboard (its path and query kept), else ``/ui``: never another site."""
    matched = _NEXT.match(next)
    if matched is None or ".." in matched.group("path").split("/"):
        return "/ui"
    return next


# ------------------------------------------------------------------ read-only pages


@router.get("/budget", response_class=HTMLResponse)
async def budget_overview(request: Request, year: str | None = None, page: str | None = None) -> Response:
    """A fiscal year's budget: each item's and each line's appropriation, obligated, disbursed, available and
    pending transfers (the lines ``_LINE_PAGE`` at a time), and the year's burn-rate chart."""
    caller = await _signed_in(request)
    if caller is None:
        return _see_other("/ui/sign-in")
    context = _Context(request, caller)
    try:
        fiscal_year = _number(year, _YEAR, "year", 1, 9_998)
        number = _number(page, _PAGE, "page", 1, 100_000) or 1
        summary, lines, count = await run_in_threadpool(_budget, context.state, caller, fiscal_year, number)
    except GatewayError as exc:
        return context.problem(exc)
    pages = max((count + _LINE_PAGE - 1) // _LINE_PAGE, 1)
    if number > pages:
        return context.problem(NotFound(f"no page {number} of lines: this year's lines fill {pages}"))
    chart = overview_chart(summary)
    return context.render(
        "budget.html",
        summary=summary,
        lines=lines,
        years=_years(summary.fiscal_year),
        chart=chart,
        page=number,
        pages=pages,
        line_count=count,
    )


def _budget(state: GatewayState, caller: Caller, fiscal_year: int | None, page: int) -> tuple[Any, list[Any], int]:
    if caller.mirror is None:
        raise ServiceUnavailable("the mirror has not synced this chain yet: run the indexer")
    clock = read_clock(state.ledger, caller.mirror, _IDLE_DAYS)
    year = fiscal_year or fiscal_year_of(clock.now)
    reader = BudgetReader(state.engine, state.ledger.chain_id, caller.principal)
    return reader.overview(year, clock, _IDLE_DAYS, offset=(page - 1) * _LINE_PAGE, limit=_LINE_PAGE)


def _years(year: int) -> list[int]:
    return [y for y in range(year - 2, year + 3) if 1 <= y <= 9_998]


@router.get("/procurements", response_class=HTMLResponse)
async def procurements(
    request: Request,
    page: str | None = None,
    q: str | None = None,
    status: str | None = None,
    year: str | None = None,
) -> Response:
    """The procurements visible to the account, oldest first, a page at a time: searched and filtered as the
    API's ``GET /procurements?q=&status=&fiscalYear=`` (the same filter model and listing)."""
    caller = await _signed_in(request)
    if caller is None:
        return _see_other("/ui/sign-in")
    context = _Context(request, caller)
    given = {"q": q or None, "status": status or None, "year": year or None}
    try:
        number = _number(page, _PAGE, "page", 1, 100_000) or 1
        filters = procurement_filters(given)
        reader = await get_reader(request, _bearer(request.cookies[SESSION_COOKIE]))
        rows, count = await run_in_threadpool(
            reader.rows, LISTINGS["procurements"], Page(offset=(number - 1) * _PAGE_SIZE, limit=_PAGE_SIZE), filters
        )
    except GatewayError as exc:
        return context.problem(exc)
    pages = max((count + _PAGE_SIZE - 1) // _PAGE_SIZE, 1)
    shown = {name: value for name, value in given.items() if value is not None}
    return context.render("procurements.html", rows=rows, count=count, page=number, pages=pages, given=shown)


@router.get("/procurements/{procurement_id}", response_class=HTMLResponse)
async def procurement(request: Request, procurement_id: str) -> Response:
    """One procurement: its milestone timeline, evidence and attestations, payments (exact yen), amendments,
    disputes and red flags (gateway/web/procurement_records.py)."""
    caller = await _signed_in(request)
    if caller is None:
        return _see_other("/ui/sign-in")
    context = _Context(request, caller)
    try:
        reader = await get_reader(request, _bearer(request.cookies[SESSION_COOKIE]))
        detail = await procurement_detail(reader, procurement_id)
        records = await run_in_threadpool(procurement_records, request.app.state, reader, detail)
    except GatewayError as exc:
        return context.problem(exc)
    return context.render("procurement.html", p=detail, r=records)


@router.get("/{path:path}", response_class=HTMLResponse)
async def no_such_page(request: Request, path: str) -> Response:
    """Any other address under /ui: a 404 page (not the API's problem+json)."""
    return _Context(request, await _signed_in(request)).problem(NotFound(f"no page /ui/{path[:100]}"))
