"""A client of the gateway for people without a wallet: sign in, fetch typed data, sign locally, post.

The key never leaves the caller's process. Before signing, the client checks that the typed data the gateway
returned says what the caller asked for (action, fields, chain, signer): a gateway cannot get a different
action signed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import mimetypes
from pathlib import Path
from typing import Any

import httpx

from chain import (
    ACCESS_REGISTRY,
    ACTIONS,
    BUDGET_OFFICE,
    ActionType,
    KeyHolder,
    SignedContract,
    signer_of,
    typed_data_digest,
)
from chain.errors import LedgerError
from gateway.evidence_bundle import BundleMember, bundle_manifest
from gateway.siwe import SiweMessage

__all__ = ["ACTS_PATHS", "GatewayClient", "GatewayError"]

#: Where the acts of a contract with one instance are routed (no procurement in the path); the gateway's routes
#: are made under these (gateway/relay/pipeline.py).
ACTS_PATHS: dict[SignedContract, str] = {BUDGET_OFFICE: "/budget/actions", ACCESS_REGISTRY: "/registry/actions"}


class GatewayError(LedgerError):
    """The gateway refused a request (its problem details), or answered something unexpected."""

    def __init__(self, status: int, title: str, detail: str, body: dict[str, Any] | None = None) -> None:
        self.status = status
        self.title = title
        self.detail = detail
        self.body = body or {}
        raw = self.body.get("raw")
        self.raw = str(raw) if raw else None
        """A contract's refusal as Solidity writes it (what `procure --verbose` adds to the detail)."""
        prefix = f"gateway answered {status} {title}" if status else title
        super().__init__(f"{prefix}: {detail}")


class GatewayClient:
    """One signed-in account talking to one gateway."""

    def __init__(self, base_url: str, account: KeyHolder, *, http: httpx.Client | None = None) -> None:
        self.account = signer_of(account)
        self.http = http or httpx.Client(base_url=base_url, timeout=60.0)
        self.token: str | None = None
        self.expires_at: str | None = None
        self.chain_id: int | None = None

    # ------------------------------------------------------------ plumbing

    def _check(self, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {}
            raise GatewayError(
                response.status_code,
                str(body.get("title", response.reason_phrase)),
                str(body.get("detail", response.text[:200])),
                body if isinstance(body, dict) else None,
            )
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.content

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise GatewayError(0, "Gateway unreachable", f"{self.http.base_url}{path}: {exc}") from None

    def chain_id_hint(self) -> int:
        """The chain id the gateway serves (from a sign-in nonce; used to pick dev keys)."""
        nonce = self._check(self._send("POST", "/auth/nonce"))
        return int(nonce["chainId"])

    def _headers(self) -> dict[str, str]:
        if self.token is None:
            self.sign_in()
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET a path as the signed-in account."""
        return self._check(self._send("GET", path, params=params, headers=self._headers()))

    # ------------------------------------------------------------ identity

    def sign_in(self) -> dict[str, Any]:
        """Sign-In with Ethereum: get a nonce, sign the EIP-4361 message locally, open a session."""
        nonce = self._check(self._send("POST", "/auth/nonce"))
        now = dt.datetime.now(dt.UTC)
        message = SiweMessage(
            domain=nonce["domain"],
            address=self.account.address,
            uri=nonce["uri"],
            chain_id=int(nonce["chainId"]),
            nonce=nonce["nonce"],
            issued_at=now,
            statement=nonce.get("statement"),
            expiration_time=now + dt.timedelta(minutes=10),
        ).to_text()
        signature = "0x" + self.account.sign_text(message).hex()
        session = self._check(self._send("POST", "/auth/sign-in", json={"message": message, "signature": signature}))
        self.token = str(session["token"])
        self.expires_at = str(session.get("expiresAt", ""))
        self.chain_id = int(nonce["chainId"])
        account: dict[str, Any] = session["account"]
        return account

    # ------------------------------------------------------------ evidence

    def upload(self, path: Path, content_type: str | None = None) -> dict[str, Any]:
        """Upload a document to the evidence store; returns its metadata (hash, size, type, URI)."""
        data = path.read_bytes()
        kind = content_type or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        response = self._send("POST", "/evidence", headers=self._headers(), files={"file": (path.name, data, kind)})
        document: dict[str, Any] = self._check(response)
        expected = "0x" + hashlib.sha256(data).hexdigest()
        if str(document.get("documentHash", "")).lower() != expected:
            raise GatewayError(502, "Bad evidence hash", f"stored {document.get('documentHash')}, sent {expected}")
        return document

    def upload_bundle(self, paths: list[Path]) -> dict[str, Any]:
        """Upload several documents and the bundle manifest listing them (gateway/evidence_bundle.py); returns
        the manifest's metadata: its hash is what a submission signs."""
        members = []
        for path in paths:
            stored = self.upload(path)
            members.append(
                BundleMember(
                    document_hash=str(stored["documentHash"]).lower(),
                    filename=path.name,
                    content_type=str(stored["contentType"]),
                    size=int(stored["size"]),
                )
            )
        manifest = bundle_manifest(members)
        response = self._send(
            "POST",
            "/evidence",
            headers=self._headers(),
            files={"file": ("evidence-bundle.json", manifest, "application/json")},
        )
        document: dict[str, Any] = self._check(response)
        expected = "0x" + hashlib.sha256(manifest).hexdigest()
        if str(document.get("documentHash", "")).lower() != expected:
            raise GatewayError(502, "Bad evidence hash", f"stored {document.get('documentHash')}, sent {expected}")
        return document

    def download(self, path: str, document_hash: str) -> bytes:
        """GET a document and check it is the one named (its SHA-256)."""
        response = self._send("GET", path, headers=self._headers())
        self._check(response)  # raises on a refusal
        raw = response.content  # the exact bytes (a JSON document is not parsed)
        if "0x" + hashlib.sha256(raw).hexdigest() == document_hash.lower():
            return raw
        raise GatewayError(502, "Bad evidence hash", f"the gateway served other bytes than {document_hash}")

    # ------------------------------------------------------------ signed actions

    def act(
        self,
        procurement_id: str | None,
        action: str,
        fields: dict[str, Any],
        *,
        wait: bool = True,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Fetch the typed data of ``action`` (a primary type), check it, sign it locally and post it.

        ``fields`` are the action's fields as the API takes them (chain.ACTIONS; a struct as a mapping); the
        relay result. An act of a contract with one instance names no procurement (``procurement_id`` None): it goes
        to the budget office's or the registry's routes (``ACTS_PATHS``).
        """
        declared = ACTIONS.get(action)
        if declared is None:
            raise GatewayError(400, "Unknown action", f"{action!r} is not one of {sorted(ACTIONS)}")
        if declared.contract in ACTS_PATHS:
            path = f"{ACTS_PATHS[declared.contract]}/{declared.verb}"
            typed = self._check(self._send("POST", f"{path}/typed-data", json=fields, headers=self._headers()))
        else:
            path = f"/procurements/{procurement_id}/actions/{declared.verb}"
            typed = self.get(path, params=fields)
        self._verify(declared, fields, typed)
        signature = "0x" + self.account.sign_digest(typed_data_digest(typed["typedData"])).hex()
        body = {**fields, "deadline": typed["deadline"], "nonce": typed["nonce"], "signature": signature}
        headers = self._headers() | ({"Idempotency-Key": idempotency_key} if idempotency_key else {})
        response = self._send("POST", path, json=body, headers=headers, params={"wait": "true"} if wait else None)
        result: dict[str, Any] = self._check(response)
        return result

    def _verify(self, action: ActionType, fields: dict[str, Any], typed: dict[str, Any]) -> None:
        """Refuse to sign typed data that is not exactly the requested action: its type and field list, the
        contract's domain on this chain, this account, and every field as the declaration says it is signed
        (a choice by its index, a field left out at its default, a document's URI at its ni: URI)."""
        data = typed.get("typedData", {})
        message = data.get("message", {})
        domain = data.get("domain", {})
        problems = []
        if data.get("primaryType") != action.primary_type or typed.get("action") != action.primary_type:
            problems.append(f"primary type {data.get('primaryType')!r}")
        if data.get("types", {}).get(action.primary_type) != action.eip712_types:
            problems.append("field list")
        contract = action.contract
        expected_domain = (contract.domain_name, contract.domain_version, self.chain_id)
        if (domain.get("name"), domain.get("version"), domain.get("chainId")) != expected_domain:
            problems.append(f"domain {domain}")
        if str(typed.get("signer", "")).lower() != self.account.address.lower():
            problems.append(f"signer {typed.get('signer')}")
        stored = {field.name for field in action.fields if field.stored}
        for name, value in action.message(fields).items():
            if value is None and name in stored:
                continue  # filled in from the stored amendment: the contract refuses any other content
            signed = message.get(name)
            if _normal(signed) != _normal(value):
                problems.append(f"{name}: asked {value!r}, typed data says {signed!r}")
        if problems:
            raise GatewayError(502, "Typed data does not match the request", "; ".join(problems))


def _normal(value: Any) -> Any:
    """A typed-data value in one form: bytes and hex as lowercase 0x-hex, decimal strings as integers (a struct's
    and a list's members too)."""
    if isinstance(value, dict):
        return {key: _normal(member) for key, member in value.items()}
    if isinstance(value, list | tuple):
        return [_normal(member) for member in value]
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, str) and value.startswith("0x"):
        return value.lower()
    if isinstance(value, str) and value.isdecimal() and value.isascii():  # uint256 values come as decimal strings
        return int(value)
    return value
