"""Acting from the dashboard: the signed actions a signed-in account may take on a procurement or on the budget,
signed in the browser, and sign-in with an injected wallet.

The page never relays by itself: every step is the JSON API's own route, called inside the process with the
session's bearer token (``call_api``): the typed data to sign (``GET /procurements/{id}/actions/<verb>``, ``POST
/budget/actions/<verb>/typed-data``), the relay (``POST .../actions/<verb>``), the evidence upload (``POST
/evidence``), the wallet's sign-in (``/auth/nonce``, ``/auth/sign-in``). So the roles checked, the signature
checked against the content and every refusal are the API's. An action is offered only to an account holding one
of its signer roles (the API's own check, ``require_roles``); posting it anyway is the API's 403.

Before signing, the page shows what is signed in words (action, procurement, milestone, amounts in exact yen,
deadline in JST) beside the raw typed data. Two signers put the signature on the same form: an injected wallet
(static/wallet.js: ``eth_signTypedData_v4``), or, on a dev chain only (``chain.DEV_CHAIN_IDS``), the demo
account of the signed-in address (as ``procure --dev-account N``): never offered, and refused here, on any other
chain. The demo signer signs the typed data the API returns for the posted content, never typed data the browser
sends. Every POST carries the page's CSRF token (double submit, on top of SameSite=Strict cookies).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import httpx
from eth_utils.address import to_checksum_address
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from chain import (
    ACTIONS,
    BUDGET_OFFICE,
    DEV_CHAIN_IDS,
    MILESTONE_ESCROW,
    ActionField,
    ActionType,
    FieldKind,
    dev_account,
    typed_data_digest,
)
from chain.actions import LINE_KEY, SignedContract
from chain.roles import org_code
from chain.times import JST
from gateway.deps import Caller
from gateway.errors import Forbidden, GatewayError, InvalidInput, NotFound
from gateway.identity import Principal
from gateway.siwe import SiweMessage
from gateway.web.pages import (
    DEV_ACCOUNTS,
    SESSION_COOKIE,
    _Context,
    _see_other,
    _set_cookie,
    _signed_in,
    _templates,
)

__all__ = ["PAGE_ACTIONS", "ApiProblem", "call_api", "offered", "router"]

router = APIRouter(prefix="/ui", include_in_schema=False)

#: The actions the dashboard offers, by verb: on a procurement, and on the budget.
PAGE_ACTIONS: dict[str, ActionType] = {
    action.verb: action
    for action in ACTIONS.values()
    if action.verb
    in ("submit-evidence", "attest", "propose-amendment", "approve-amendment", "request-transfer", "approve-transfer")
}
_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")
_DIGITS = re.compile(r"^[0-9]{1,30}$")
_DATE = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})$")
_SIGNATURE = re.compile(r"^0x[0-9a-fA-F]{130}$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_TX_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")
_MAX_BODY = 16_384  # the signed content a form carries back (JSON): far more than any declared action's


# ------------------------------------------------------------------ the API, called inside the process


class ApiProblem(GatewayError):
    """A problem the API answered (its problem+json), passed on to the page with its own status and detail."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status  # type: ignore[misc]  # this answer's status: the API's kinds of problem are many


async def call_api(request: Request, method: str, path: str, token: str | None, **kwargs: Any) -> Any:
    """The JSON answer of the API's route ``method path`` for the session ``token`` (the client address and
    request id the page was asked with); the API's problem as a GatewayError of its status otherwise."""
    client = request.client
    transport = httpx.ASGITransport(
        app=request.app, client=(client.host, client.port) if client is not None else ("127.0.0.1", 0)
    )
    headers = {name: value for name, value in request.headers.items() if name in ("x-forwarded-for", "x-request-id")}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    async with httpx.AsyncClient(transport=transport, base_url=str(request.base_url).rstrip("/")) as api:
        answer = await api.request(method, path, headers=headers, timeout=None, **kwargs)
    if answer.status_code < 400:
        return answer.json()
    try:
        problem = answer.json()
    except ValueError:
        problem = {"detail": answer.text[:500]}
    detail = str(problem.get("detail", ""))
    issues = problem.get("errors") or []
    if issues:
        detail += ": " + "; ".join(f"{'.'.join(str(p) for p in i.get('loc', [])[1:])}: {i.get('msg')}" for i in issues)
    raise ApiProblem(answer.status_code, detail)


def _token(request: Request) -> str:
    return request.cookies.get(SESSION_COOKIE, "")


# ------------------------------------------------------------------ what an account may do, and its form


def may_act(principal: Principal | None, action: ActionType) -> bool:
    """Whether ``principal`` holds one of the action's signer roles (the API's ``require_roles``)."""
    return principal is not None and principal.has(*action.signers)


def offered(principal: Principal | None, on: str) -> list[ActionType]:
    """The actions the dashboard offers ``principal`` on a procurement (``on="procurement"``) or the budget."""
    contract = MILESTONE_ESCROW if on == "procurement" else BUDGET_OFFICE
    return [a for a in PAGE_ACTIONS.values() if a.contract == contract and may_act(principal, a)]


@dataclass(frozen=True)
class Input:
    """One control of an action's form: its name (dotted for a struct's field), the field, and its choices."""

    name: str
    field: ActionField
    options: tuple[tuple[str, str], ...] = ()  # (value, label): a select


def _asked(field: ActionField) -> bool:
    """Whether the form asks for the field (the rest is filled in: a stored value, a round, a document's URI)."""
    return not field.stored and field.kind not in (FieldKind.ROUND, FieldKind.DOCUMENT_URI)


def inputs(
    fields: tuple[ActionField, ...], choices: dict[str, tuple[tuple[str, str], ...]], prefix: str = ""
) -> list[Input]:
    """The controls of ``fields``: a line key is one choice among the visible lines, another struct its fields."""
    found: list[Input] = []
    for field in fields:
        name = prefix + field.name
        if not _asked(field):
            continue
        if field.struct is not None and field.struct != LINE_KEY:
            found += inputs(field.struct.fields, choices, name + ".")
            continue
        options = choices.get(field.name, ())
        if field.kind in (FieldKind.FLAG,):
            options = ((field.words[0], field.words[0]), (field.words[1], field.words[1]))
        elif field.kind is FieldKind.CHOICE:
            options = tuple((choice, choice) for choice in field.choices)
        elif field.struct == LINE_KEY:
            options = choices.get("line", ())
        found.append(Input(name, field, options))
    return found


def values_of(fields: tuple[ActionField, ...], given: Any, prefix: str = "") -> dict[str, Any]:
    """The fields' values in the API's words from the form's text; InvalidInput naming the first one wrong."""
    values: dict[str, Any] = {}
    for field in fields:
        name = prefix + field.name
        if not _asked(field):
            continue
        if field.struct is not None and field.struct != LINE_KEY:
            values[field.name] = values_of(field.struct.fields, given, name + ".")
            continue
        text = given.get(name)
        text = text.strip() if isinstance(text, str) else ""
        if text == "" and field.default is not None:
            continue
        if text == "":
            raise InvalidInput(f"{name}: required")
        values[field.name] = _value(field, name, text)
    return values


def _value(field: ActionField, name: str, text: str) -> Any:
    kind = field.kind
    if field.struct == LINE_KEY:
        parts = text.split("/")
        if len(parts) != 5 or not parts[0].isdigit():
            raise InvalidInput(f"{name}: choose a budget line")
        return dict(zip((f.name for f in LINE_KEY.fields), [int(parts[0]), *parts[1:]], strict=True))
    if kind in (FieldKind.YEN, FieldKind.NUMBER):
        plain = text.replace(",", "").replace("_", "")
        if not _DIGITS.match(plain):
            raise InvalidInput(f"{name}: a whole number (yen have no minor unit), got {text[:40]!r}")
        return int(plain)
    if kind is FieldKind.FLAG:
        if text not in field.words:
            raise InvalidInput(f"{name}: one of {', '.join(field.words)}, got {text[:40]!r}")
        return text == field.words[0]
    if kind is FieldKind.CHOICE:
        if text not in field.choices:
            raise InvalidInput(f"{name}: one of {', '.join(field.choices)}, got {text[:40]!r}")
        return text
    if kind is FieldKind.TIME:
        day = _DATE.match(text)
        if day is None:
            raise InvalidInput(f"{name}: a date as YYYY-MM-DD, got {text[:40]!r}")
        try:
            year, month, date = (int(part) for part in day.groups())
            end = dt.datetime(year, month, date, 23, 59, 59, tzinfo=JST)  # the end of that day, in JST
        except ValueError:
            raise InvalidInput(f"{name}: no such date {text!r}") from None
        return int(end.timestamp())
    if kind is FieldKind.DOCUMENT:
        if not _HASH.match(text):
            raise InvalidInput(f"{name}: the uploaded document's SHA-256 as 0x and 64 hex digits")
        return text.lower()
    if kind is FieldKind.HASH:  # a hash as given, else the SHA-256 of the text (a report's, a rationale's words)
        return text.lower() if _HASH.match(text) else "0x" + hashlib.sha256(text.encode()).hexdigest()
    return text


# ------------------------------------------------------------------ what is signed, in words


def words_of(action: ActionType, message: dict[str, Any], t: Any) -> list[tuple[str, str]]:
    """The signed message's fields as people read them: (label, value), a struct's fields one by one."""
    return _words(action.fields, message, t, "")


def _words(fields: tuple[ActionField, ...], message: dict[str, Any], t: Any, prefix: str) -> list[tuple[str, str]]:
    said: list[tuple[str, str]] = []
    for field in fields:
        value, label = message.get(field.name), _label(t, prefix + field.name)
        if field.struct == LINE_KEY and isinstance(value, dict):
            said.append((label, _line_words(value)))
        elif field.struct is not None and isinstance(value, dict):
            said += _words(field.struct.fields, value, t, prefix + field.name + ".")
        else:
            said.append((label, _word(field, value, t)))
    return said


def _label(t: Any, name: str) -> str:
    key = f"act.field.{name}"
    return str(t(key)) if t.has(key) else name


def _code(value: Any) -> str:
    return org_code(bytes.fromhex(value[2:])) if isinstance(value, str) and _HASH.match(value) else str(value)


def _line_words(value: dict[str, Any]) -> str:
    codes = [_code(value.get(name)) for name in ("ministry", "organization", "item", "subItem")]
    return f"FY{value.get('fiscalYear')} " + " / ".join(codes)


def _word(field: ActionField, value: Any, t: Any) -> str:
    if value is None:
        return "-"
    kind = field.kind
    if kind is FieldKind.YEN:
        return str(t.yen(int(value)))
    if kind is FieldKind.TIME or (kind is FieldKind.NUMBER and field.name.endswith("At")):  # a moment: in JST
        return str(t.time(int(value))) if int(value) else "-"
    if kind is FieldKind.FLAG:
        word = field.words[0] if value in (True, "true") else field.words[1]
        return str(t(f"act.word.{word}")) if t.has(f"act.word.{word}") else word
    if kind is FieldKind.CHOICE and str(value).isdigit() and int(value) < len(field.choices):
        choice = field.choices[int(value)]
        return str(t(f"act.choice.{choice}")) if t.has(f"act.choice.{choice}") else choice
    if kind is FieldKind.CODE:
        return _code(value)
    return str(value)


# ------------------------------------------------------------------ the act pages


@dataclass
class _Act:
    """One action asked on a page: where it acts, and the API's routes for it."""

    action: ActionType
    back: str  # the page it is taken from
    typed_data_path: str
    relay_path: str
    relays_path: str  # the API's status of this contract's relays: .../relays/{txHash}
    procurement: dict[str, Any] | None = None

    @property
    def page_path(self) -> str:
        return f"{self.back}/act/{self.action.verb}"


def _action(verb: str, contract: SignedContract) -> ActionType:
    action = PAGE_ACTIONS.get(verb)
    if action is None or action.contract != contract:
        raise NotFound(f"no action {verb[:60]!r} here (the dashboard offers: {', '.join(PAGE_ACTIONS)})")
    return action


async def _procurement_act(request: Request, caller: Caller, procurement_id: str, verb: str) -> _Act:
    action = _action(verb, MILESTONE_ESCROW)
    detail = await call_api(request, "GET", f"/procurements/{procurement_id}", _token(request))
    if not may_act(caller.principal, action):
        raise Forbidden(f"this action needs one of the roles: {', '.join(r.value for r in action.signers)}")
    escrow = detail["escrow"]
    path = f"/procurements/{escrow}/actions/{action.verb}"
    relays = f"/procurements/{escrow}/actions/relays"
    return _Act(action, f"/ui/procurements/{escrow}", path, path, relays, detail)


def _budget_act(caller: Caller, verb: str) -> _Act:
    action = _action(verb, BUDGET_OFFICE)
    if not may_act(caller.principal, action):
        raise Forbidden(f"this action needs one of the roles: {', '.join(r.value for r in action.signers)}")
    path = f"/budget/actions/{action.verb}"
    return _Act(action, "/ui/budget", f"{path}/typed-data", path, "/budget/actions/relays")


async def _choices(request: Request, act: _Act) -> dict[str, tuple[tuple[str, str], ...]]:
    """The options of the act's selects: the procurement's milestones and unapproved amendments, or the visible
    budget lines and pending transfers."""
    token = _token(request)
    choices: dict[str, tuple[tuple[str, str], ...]] = {}
    if act.procurement is not None:
        milestones = act.procurement["milestones"]
        choices = {"milestoneId": tuple((str(m["milestoneId"]), str(m["milestoneId"])) for m in milestones)}
        if any(f.name == "amendmentId" for f in act.action.fields):
            query = {"procurementId": act.procurement["escrow"], "limit": 500}
            amendments = (await call_api(request, "GET", "/amendments", token, params=query))["data"]
            choices["amendmentId"] = tuple(
                (str(a["amendmentId"]), f"{a['amendmentId']}: {a['kind']} ({a['milestoneId']})")
                for a in amendments
                if a["approvedBy"] is None
            )
        return choices
    lines = (await call_api(request, "GET", "/budget/lines", token, params={"limit": 500}))["data"]
    keys = [
        ("/".join([str(x["fiscalYear"]), x["ministry"], x["organization"], x["item"], x["subItem"]]), x) for x in lines
    ]
    choices["line"] = tuple(
        (key, f"{x['ministry']} {x['item']} / {x['subItem']} (FY{x['fiscalYear']})") for key, x in keys
    )
    if any(f.name == "transferId" for f in act.action.fields):
        pending: dict[int, str] = {}
        for line in lines:
            if line["pendingTransfers"]:
                one = await call_api(request, "GET", f"/budget/lines/{line['fiscalYear']}/{line['series']}", token)
                for p in one["pending"]:
                    pending[int(p["transferId"])] = f"{p['transferId']}: {p['fromSubItem']} -> {p['toSubItem']}"
        choices["transferId"] = tuple((str(k), v) for k, v in sorted(pending.items()))
    return choices


def _round(act: _Act, values: dict[str, Any]) -> None:
    """An attestation's round: the milestone's current one, as the procurement page shows it."""
    if act.procurement is None or not any(f.kind is FieldKind.ROUND for f in act.action.fields):
        return
    milestones = {m["milestoneId"]: m for m in act.procurement["milestones"]}
    milestone = milestones.get(values.get("milestoneId"))
    if milestone is None:
        raise InvalidInput(f"milestoneId: the procurement has milestones {', '.join(map(str, milestones))}")
    values["round"] = milestone["round"]


async def _typed_data(request: Request, act: _Act, values: dict[str, Any], deadline: int | None) -> Any:
    """The API's typed data for ``values``: a GET with a query for a procurement's action, a POST of JSON for a
    budget act."""
    token = _token(request)
    if act.procurement is not None:
        query = {k: ("true" if v is True else "false" if v is False else str(v)) for k, v in values.items()}
        if deadline is not None:
            query["deadline"] = str(deadline)
        return await call_api(request, "GET", act.typed_data_path, token, params=query)
    body = {**values, **({} if deadline is None else {"deadline": deadline})}
    return await call_api(request, "POST", act.typed_data_path, token, json=body)


def _signed_content(values: dict[str, Any], typed: dict[str, Any]) -> dict[str, Any]:
    """What the relay POST carries besides the signature: the fields as asked (the API fills in the same stored
    values and defaults again, and refuses a signature of anything else), the nonce and deadline signed."""
    return {**values, "nonce": typed["nonce"], "deadline": typed["deadline"]}


def dev_index(address: str, chain_id: int) -> int | None:
    """The demo account index of ``address`` on a dev chain (None elsewhere, or for any other address)."""
    return _dev_indexes(chain_id).get(address.lower()) if chain_id in DEV_CHAIN_IDS else None


@cache
def _dev_indexes(chain_id: int) -> dict[str, int]:
    return {dev_account(index, chain_id).address.lower(): index for index in DEV_ACCOUNTS}


async def _render_act(
    request: Request, context: _Context, act: _Act, status: int = 200, error: str | None = None, **values: Any
) -> HTMLResponse:
    chain_id = context.state.ledger.chain_id
    principal = None if context.caller is None else context.caller.principal
    demo = principal is not None and await run_in_threadpool(dev_index, principal.address, chain_id) is not None
    return context.render(
        "act.html",
        status,
        act=act,
        action=act.action,
        error=error,
        chain_id=chain_id,
        demo_signer=demo,
        **values,
    )


async def _show(request: Request, act: _Act, caller: Caller) -> Response:
    """The act's form, or (once its fields are given) what is signed, in words and as typed data."""
    context = _Context(request, caller)
    choices = await _choices(request, act)
    controls = inputs(act.action.fields, choices)
    given = request.query_params
    if "review" not in given:
        return await _render_act(request, context, act, controls=controls, given=given)
    try:
        values = values_of(act.action.fields, given)
        _round(act, values)
        typed = await _typed_data(request, act, values, None)
    except GatewayError as exc:
        return await _render_act(request, context, act, exc.status, exc.detail, controls=controls, given=given)
    words = words_of(act.action, typed["typedData"]["message"], context.words)
    return await _render_act(
        request,
        context,
        act,
        controls=controls,
        given=given,
        typed=typed,
        words=words,
        content=json.dumps(_signed_content(values, typed), separators=(",", ":")),
        typed_json=json.dumps(typed["typedData"], indent=2),
    )


async def _relay(request: Request, act: _Act, caller: Caller) -> Response:
    """Relay the signed content of the form through the API, signed by the wallet or (dev chains) the demo signer."""
    context = _Context(request, caller)
    form = await request.form()
    context.check_csrf(form.get("csrf"))
    content = _content(form)
    signer = form.get("signer")
    if signer == "dev":
        signature = await _dev_signature(request, context, act, content)
    elif signer == "wallet":
        signature = str(form.get("signature") or "")
        if not _SIGNATURE.match(signature):
            raise InvalidInput("signature: the wallet's signature (0x and 130 hex digits) is missing: sign first")
    else:
        raise InvalidInput("signer: sign with your wallet or, on a dev chain, the demo account")
    result = await call_api(request, "POST", act.relay_path, _token(request), json={**content, "signature": signature})
    return await _render_act(request, context, act, 200, None, result=result, controls=[], given={})


async def _relay_status(request: Request, act: _Act, caller: Caller, tx_hash: str) -> Response:
    """A relayed action's status as the API knows it: pending, mined, or reverted with the contract's words."""
    if not _TX_HASH.match(tx_hash):
        raise InvalidInput(f"transaction: 0x and 64 hex digits, got {tx_hash[:80]!r}")
    result = await call_api(request, "GET", f"{act.relays_path}/{tx_hash}", _token(request))
    return await _render_act(request, _Context(request, caller), act, result=result, controls=[], given={})


def _content(form: FormData) -> dict[str, Any]:
    text = form.get("content")
    if not isinstance(text, str) or not 2 <= len(text) <= _MAX_BODY:
        raise InvalidInput("content: the signed content is missing or too long: review the action again")
    try:
        content = json.loads(text)
    except ValueError:
        raise InvalidInput("content: not JSON: review the action again") from None
    if not isinstance(content, dict) or "deadline" not in content:
        raise InvalidInput("content: not an action's fields and deadline: review the action again")
    return content


async def _dev_signature(request: Request, context: _Context, act: _Act, content: dict[str, Any]) -> str:
    """The demo account's signature of the typed data the API makes of ``content`` (dev chains only)."""
    chain_id = context.state.ledger.chain_id
    if chain_id not in DEV_CHAIN_IDS:
        raise Forbidden(context.words("sign_in.not_dev", chain_id=chain_id))
    assert context.caller is not None
    index = await run_in_threadpool(dev_index, context.caller.principal.address, chain_id)
    if index is None:
        raise Forbidden("the demo signer signs only for the demo accounts: sign with your wallet")
    fields = {k: v for k, v in content.items() if k not in ("deadline", "nonce", "signature")}
    typed = await _typed_data(request, act, fields, int(content["deadline"]))
    if "nonce" in content and int(content["nonce"]) != int(typed["nonce"]):
        raise InvalidInput("the nonce you reviewed was used meanwhile: review the action again")
    account = dev_account(index, chain_id)
    signature = await run_in_threadpool(account.sign_digest, typed_data_digest(typed["typedData"]))
    return "0x" + signature.hex()


async def _guarded(request: Request, run: Any) -> Response:
    caller = await _signed_in(request)
    if caller is None:
        return _see_other("/ui/sign-in")
    try:
        response: Response = await run(caller)
    except GatewayError as exc:
        return _Context(request, caller).problem(exc)
    return response


@router.get("/procurements/{procurement_id}/act/{verb}", response_class=HTMLResponse)
async def procurement_act_page(request: Request, procurement_id: str, verb: str) -> Response:
    """An action on a procurement: its form, then what is signed."""

    async def run(caller: Caller) -> Response:
        return await _show(request, await _procurement_act(request, caller, procurement_id, verb), caller)

    return await _guarded(request, run)


@router.post("/procurements/{procurement_id}/act/{verb}", response_class=HTMLResponse)
async def procurement_act(request: Request, procurement_id: str, verb: str) -> Response:
    """Relay a signed action on a procurement (through the API's route)."""

    async def run(caller: Caller) -> Response:
        return await _relay(request, await _procurement_act(request, caller, procurement_id, verb), caller)

    return await _guarded(request, run)


@router.get("/budget/act/{verb}", response_class=HTMLResponse)
async def budget_act_page(request: Request, verb: str) -> Response:
    """A budget act: its form, then what is signed."""

    async def run(caller: Caller) -> Response:
        return await _show(request, _budget_act(caller, verb), caller)

    return await _guarded(request, run)


@router.post("/budget/act/{verb}", response_class=HTMLResponse)
async def budget_act(request: Request, verb: str) -> Response:
    """Relay a signed budget act (through the API's route)."""

    async def run(caller: Caller) -> Response:
        return await _relay(request, _budget_act(caller, verb), caller)

    return await _guarded(request, run)


@router.get("/procurements/{procurement_id}/act/{verb}/relays/{tx_hash}", response_class=HTMLResponse)
async def procurement_act_status(request: Request, procurement_id: str, verb: str, tx_hash: str) -> Response:
    """A relayed action on a procurement: pending, mined, or reverted and why."""

    async def run(caller: Caller) -> Response:
        act = await _procurement_act(request, caller, procurement_id, verb)
        return await _relay_status(request, act, caller, tx_hash)

    return await _guarded(request, run)


@router.get("/budget/act/{verb}/relays/{tx_hash}", response_class=HTMLResponse)
async def budget_act_status(request: Request, verb: str, tx_hash: str) -> Response:
    """A relayed budget act: pending, mined, or reverted and why."""

    async def run(caller: Caller) -> Response:
        return await _relay_status(request, _budget_act(caller, verb), caller, tx_hash)

    return await _guarded(request, run)


@router.post("/procurements/{procurement_id}/evidence", response_class=HTMLResponse)
async def upload_evidence(request: Request, procurement_id: str) -> Response:
    """Upload a document (the API's ``POST /evidence``), then review submitting it for the chosen milestone."""

    async def run(caller: Caller) -> Response:
        act = await _procurement_act(request, caller, procurement_id, "submit-evidence")
        form = await request.form()
        _Context(request, caller).check_csrf(form.get("csrf"))
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise InvalidInput("file: choose the document to upload")
        milestone = str(form.get("milestoneId") or "")
        if not milestone.isdigit():
            raise InvalidInput("milestoneId: choose a milestone")
        data = await upload.read()
        kind = upload.content_type or "application/octet-stream"
        stored = await call_api(
            request, "POST", "/evidence", _token(request), files={"file": (upload.filename, data, kind)}
        )
        query = httpx.QueryParams({"milestoneId": milestone, "documentHash": stored["documentHash"], "review": "1"})
        return _see_other(f"{act.page_path}?{query}")

    return await _guarded(request, run)


# ------------------------------------------------------------------ sign-in with an injected wallet


@router.post("/sign-in/wallet/message")
async def wallet_message(request: Request) -> Response:
    """The Sign-In with Ethereum message for the wallet's address to sign (with the API's ``/auth/nonce``)."""
    context = _Context(request)
    try:
        form = await request.form()
        context.check_csrf(form.get("csrf"))
        address = str(form.get("address") or "")
        if not _ADDRESS.match(address):
            raise InvalidInput("address: the wallet's account as 0x and 40 hex digits")
        nonce = await call_api(request, "GET", "/auth/nonce", None)
        message = SiweMessage(
            domain=nonce["domain"],
            address=to_checksum_address(address),
            uri=nonce["uri"],
            chain_id=nonce["chainId"],
            nonce=nonce["nonce"],
            issued_at=dt.datetime.fromtimestamp(int(context.state.clock()), tz=dt.UTC),
            statement=nonce["statement"],
        ).to_text()
    except GatewayError as exc:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status)
    return JSONResponse({"message": message, "chainId": nonce["chainId"]}, headers={"Cache-Control": "no-store"})


@router.post("/sign-in/wallet")
async def wallet_sign_in(request: Request) -> Response:
    """Open the page session of a wallet's signed message (the API's ``/auth/sign-in``, which checks it)."""
    context = _Context(request)
    try:
        form = await request.form()
        context.check_csrf(form.get("csrf"))
        body = {"message": str(form.get("message") or ""), "signature": str(form.get("signature") or "")}
        session = await call_api(request, "POST", "/auth/sign-in", None, json=body)
    except GatewayError as exc:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status)
    expires = dt.datetime.fromisoformat(session["expiresAt"]).timestamp()
    response = JSONResponse({"next": "/ui/budget"})
    max_age = max(int(expires - context.state.clock()), 1)
    _set_cookie(context.state, response, SESSION_COOKIE, session["token"], max_age=max_age)
    return response


# The pages include the actions partial (templates/_actions.html), which asks what the account may do here.
_templates.env.globals["offered_actions"] = offered
