"""Sign-In with Ethereum (EIP-4361) messages: build, parse (strictly, per the ABNF), and recover the signer.

The message is signed with ``personal_sign`` (EIP-191 version 0x45), i.e. eth-account's ``encode_defunct``.
Checking the message against the server's expectations (domain, chain, nonce, times) is the caller's job:
see gateway.services.auth.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils.address import is_checksum_address

__all__ = ["MAX_MESSAGE_LENGTH", "SiweError", "SiweMessage", "format_time", "recover_address"]

MAX_MESSAGE_LENGTH = 4096

_HEADER = " wants you to sign in with your Ethereum account:"
_DOMAIN = re.compile(r"^(?:(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://)?(?P<domain>[A-Za-z0-9.\-_~%!$&'()*+,;=:@\[\]]+)$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s]+$")
_NONCE = re.compile(r"^[A-Za-z0-9]{8,64}$")
_CHAIN_ID = re.compile(r"^[1-9][0-9]{0,19}$")
_REQUEST_ID = re.compile(r"^[^\s]{0,200}$")
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")


class SiweError(ValueError):
    """The text is not a well-formed EIP-4361 message."""


def format_time(moment: dt.datetime) -> str:
    """RFC 3339 in UTC with a ``Z``, to the second."""
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _parse_time(value: str, what: str) -> dt.datetime:
    if not _RFC3339.match(value):
        raise SiweError(f"{what} is not an RFC 3339 date-time: {value!r}")
    text = value.replace("Z", "+00:00")
    # Python parses at most microseconds: drop extra fraction digits.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise SiweError(f"{what} is not a valid date-time: {value!r}") from exc


@dataclass(frozen=True)
class SiweMessage:
    """One EIP-4361 message."""

    domain: str
    address: str
    uri: str
    chain_id: int
    nonce: str
    issued_at: dt.datetime
    statement: str | None = None
    version: str = "1"
    expiration_time: dt.datetime | None = None
    not_before: dt.datetime | None = None
    request_id: str | None = None
    resources: tuple[str, ...] = field(default_factory=tuple)
    scheme: str | None = None

    def __post_init__(self) -> None:
        match = _DOMAIN.match(("" if self.scheme is None else self.scheme + "://") + self.domain)
        if match is None or match.group("domain") != self.domain:
            raise SiweError(f"invalid domain {self.domain!r}")
        if not _ADDRESS.match(self.address) or not is_checksum_address(self.address):
            raise SiweError(f"address must be an EIP-55 checksummed address, got {self.address!r}")
        if self.statement is not None and ("\n" in self.statement or "\r" in self.statement):
            raise SiweError("statement must be one line")
        if not _URI.match(self.uri):
            raise SiweError(f"invalid URI {self.uri!r}")
        if self.version != "1":
            raise SiweError(f"unsupported version {self.version!r}")
        if not 0 < self.chain_id < 2**64:
            raise SiweError(f"invalid chain id {self.chain_id}")
        if not _NONCE.match(self.nonce):
            raise SiweError("nonce must be 8 to 64 letters and digits")
        for moment in (self.issued_at, self.expiration_time, self.not_before):
            if moment is not None and moment.tzinfo is None:
                raise SiweError("times must carry a time zone")
        if self.request_id is not None and not _REQUEST_ID.match(self.request_id):
            raise SiweError("invalid request id")
        for resource in self.resources:
            if not _URI.match(resource):
                raise SiweError(f"invalid resource URI {resource!r}")

    def to_text(self) -> str:
        """The exact text to sign."""
        prefix = "" if self.scheme is None else self.scheme + "://"
        lines = [f"{prefix}{self.domain}{_HEADER}", self.address, ""]
        if self.statement is not None:
            lines += [self.statement, ""]
        else:
            lines += [""]
        lines += [
            f"URI: {self.uri}",
            f"Version: {self.version}",
            f"Chain ID: {self.chain_id}",
            f"Nonce: {self.nonce}",
            f"Issued At: {format_time(self.issued_at)}",
        ]
        if self.expiration_time is not None:
            lines.append(f"Expiration Time: {format_time(self.expiration_time)}")
        if self.not_before is not None:
            lines.append(f"Not Before: {format_time(self.not_before)}")
        if self.request_id is not None:
            lines.append(f"Request ID: {self.request_id}")
        if self.resources:
            lines.append("Resources:")
            lines += [f"- {resource}" for resource in self.resources]
        return "\n".join(lines)

    @classmethod
    def parse(cls, text: str) -> SiweMessage:
        """Parse a message, strictly: any deviation from the EIP-4361 layout is a SiweError."""
        if len(text) > MAX_MESSAGE_LENGTH:
            raise SiweError(f"message longer than {MAX_MESSAGE_LENGTH} characters")
        if "\r" in text:
            raise SiweError("message lines must end with LF only")
        lines = text.split("\n")
        if len(lines) < 9 or not lines[0].endswith(_HEADER):
            raise SiweError("not a Sign-In with Ethereum message")
        match = _DOMAIN.match(lines[0][: -len(_HEADER)])
        if match is None:
            raise SiweError("invalid domain line")
        address = lines[1]
        if lines[2] != "":
            raise SiweError("expected an empty line after the address")
        index = 3
        statement: str | None = None
        if lines[index] != "":
            statement = lines[index]
            index += 1
        if lines[index] != "":
            raise SiweError("expected an empty line before the URI")
        index += 1

        def optional(tag: str) -> str | None:
            nonlocal index
            if index < len(lines) and lines[index].startswith(tag + ": "):
                value = lines[index][len(tag) + 2 :]
                index += 1
                return value
            return None

        def required(tag: str) -> str:
            value = optional(tag)
            if value is None:
                raise SiweError(f"missing {tag!r} line")
            return value

        uri = required("URI")
        version = required("Version")
        chain_id = required("Chain ID")
        nonce = required("Nonce")
        issued_at = required("Issued At")
        expiration = optional("Expiration Time")
        not_before = optional("Not Before")
        request_id = optional("Request ID")
        resources: list[str] = []
        if index < len(lines) and lines[index] == "Resources:":
            index += 1
            while index < len(lines) and lines[index].startswith("- "):
                resources.append(lines[index][2:])
                index += 1
        if index != len(lines):
            raise SiweError(f"unexpected line {index + 1}: {lines[index][:40]!r}")
        if not _CHAIN_ID.match(chain_id):
            raise SiweError("invalid chain id")
        return cls(
            scheme=match.group("scheme"),
            domain=match.group("domain"),
            address=address,
            statement=statement,
            uri=uri,
            version=version,
            chain_id=int(chain_id),
            nonce=nonce,
            issued_at=_parse_time(issued_at, "Issued At"),
            expiration_time=None if expiration is None else _parse_time(expiration, "Expiration Time"),
            not_before=None if not_before is None else _parse_time(not_before, "Not Before"),
            request_id=request_id,
            resources=tuple(resources),
        )


def recover_address(text: str, signature: bytes) -> str:
    """The address that personal_signed ``text``; SiweError if the signature is malformed."""
    try:
        return str(Account.recover_message(encode_defunct(text=text), signature=signature))
    except Exception as exc:
        raise SiweError(f"cannot recover a signer: {type(exc).__name__}") from None
