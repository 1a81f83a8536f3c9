"""Sign-In with Ethereum (EIP-4361) messages: build, parse (strictly, per the ABNF), and recover the signer.

The message is signed with ``personal_sign`` (EIP-191 version 0x45, chain/signing.py's ``personal_digest``).
Parsing follows the EIP's ABNF, with RFC 3986 for the scheme, the domain (an authority), URIs and the request
id, and RFC 3339 for times: ASCII only, a statement of reserved and unreserved characters and spaces, a
nonce of at least 8 letters and digits, a chain id of digits. Three choices go beyond the ABNF, as spruceid's
reference parsers do: the address must carry its EIP-55 checksum, the domain and a statement must not be
empty, and a ``Resources:`` line must be followed by at least one resource (so that every message accepted
here reads the same to every parser, and formats back to the exact text). Checking the message against the
server's expectations (scheme, domain, chain, nonce, times) is the caller's job: see gateway.services.auth.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from dataclasses import dataclass, field

from chain import is_checksum_address, personal_digest, recover

__all__ = ["MAX_MESSAGE_LENGTH", "SiweError", "SiweMessage", "format_time", "is_uri", "recover_address"]

MAX_MESSAGE_LENGTH = 4096

_HEADER = " wants you to sign in with your Ethereum account:"

# RFC 3986, as character classes (ASCII only: a class never matches anything else).
_UNRESERVED = r"A-Za-z0-9\-._~"
_SUB_DELIMS = r"!$&'()*+,;="
_PCT_ENCODED = r"%[0-9A-Fa-f]{2}"
_PCHAR = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:@]|{_PCT_ENCODED})"
_SCHEME = r"[A-Za-z][A-Za-z0-9+\-.]*"
_USERINFO = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:]|{_PCT_ENCODED})*+"
_IP_LITERAL = rf"\[(?:[0-9A-Fa-f:.]+|[vV][0-9A-Fa-f]+\.[{_UNRESERVED}{_SUB_DELIMS}:]+)\]"
_REG_NAME = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}]|{_PCT_ENCODED})*+"
_AUTHORITY = rf"(?:{_USERINFO}@)?(?P<host>{_IP_LITERAL}|{_REG_NAME})(?::[0-9]*+)?"
_SEGMENT = rf"{_PCHAR}*+"
_SEGMENT_NZ = rf"{_PCHAR}++"
_HIER_PART = (
    rf"(?://{_AUTHORITY}(?:/{_SEGMENT})*+|/(?:{_SEGMENT_NZ}(?:/{_SEGMENT})*+)?|{_SEGMENT_NZ}(?:/{_SEGMENT})*+|)"
)
_QUERY = rf"(?:{_PCHAR}|[/?])*+"
_URI = re.compile(rf"^{_SCHEME}:{_HIER_PART}(?:\?{_QUERY})?(?:#{_QUERY})?$")
_DOMAIN_LINE = re.compile(rf"^(?:(?P<scheme>{_SCHEME})://)?(?P<domain>{_AUTHORITY})$")
_REQUEST_ID = re.compile(rf"^{_PCHAR}*+$")
# EIP-4361
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_STATEMENT = re.compile(rf"^[{_UNRESERVED}:/?#\[\]@{_SUB_DELIMS} ]+$")
_NONCE = re.compile(r"^[A-Za-z0-9]{8,}$")
_CHAIN_ID = re.compile(r"^[0-9]+$")
# RFC 3339 date-time ("T" and "Z" are case-insensitive in ABNF)
_DATE_TIME = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)


def _host_ok(host: str | None) -> bool:
    """An IPv6 literal must be an IPv6 address (the pattern only checks its characters)."""
    if host is None or not host.startswith("[") or host[1:2] in ("v", "V"):
        return True
    try:
        ipaddress.IPv6Address(host[1:-1])
    except ValueError:
        return False
    return True


def is_uri(value: str) -> bool:
    """True if ``value`` is an RFC 3986 URI (scheme, then ``:``, then the rest by the grammar)."""
    match = _URI.match(value)
    return match is not None and _host_ok(match.group("host"))


class SiweError(ValueError):
    """The text is not a well-formed EIP-4361 message."""


def format_time(moment: dt.datetime) -> str:
    """RFC 3339 in UTC with a ``Z``, to the second."""
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _parse_time(value: str, what: str) -> dt.datetime:
    if not _DATE_TIME.match(value):
        raise SiweError(f"{what} is not an RFC 3339 date-time: {value[:40]!r}")
    text = value.upper().replace("Z", "+00:00")
    text = re.sub(r"(\.[0-9]{6})[0-9]+", r"\1", text)  # Python parses at most microseconds
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise SiweError(f"{what} is not a valid date-time: {value[:40]!r}") from exc


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
        if self.scheme is not None and not re.fullmatch(_SCHEME, self.scheme):
            raise SiweError(f"invalid scheme {self.scheme[:40]!r}")
        match = _DOMAIN_LINE.match(self.domain)
        if not self.domain or match is None or match.group("scheme") is not None or not _host_ok(match.group("host")):
            raise SiweError(f"the domain must be an RFC 3986 authority, got {self.domain[:80]!r}")
        if not _ADDRESS.match(self.address) or not is_checksum_address(self.address):
            raise SiweError(f"address must be an EIP-55 checksummed address, got {self.address[:50]!r}")
        if self.statement is not None and not _STATEMENT.match(self.statement):
            raise SiweError(
                "the statement must be one line of ASCII letters, digits, spaces and RFC 3986 reserved or "
                "unreserved characters"
            )
        if not is_uri(self.uri):
            raise SiweError(f"invalid URI {self.uri[:80]!r}")
        if self.version != "1":
            raise SiweError(f"unsupported version {self.version[:10]!r}")
        if not 0 < self.chain_id < 2**64:
            raise SiweError(f"invalid chain id {self.chain_id}")
        if not _NONCE.match(self.nonce):
            raise SiweError("nonce must be at least 8 letters and digits")
        for moment in (self.issued_at, self.expiration_time, self.not_before):
            if moment is not None and moment.tzinfo is None:
                raise SiweError("times must carry a time zone")
        if self.request_id is not None and not _REQUEST_ID.match(self.request_id):
            raise SiweError("the request id must be RFC 3986 path characters")
        for resource in self.resources:
            if not is_uri(resource):
                raise SiweError(f"invalid resource URI {resource[:80]!r}")

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
        """Parse a message, strictly: any deviation from the EIP-4361 grammar is a SiweError."""
        if len(text) > MAX_MESSAGE_LENGTH:
            raise SiweError(f"message longer than {MAX_MESSAGE_LENGTH} characters")
        if not text.isascii():
            raise SiweError("a sign-in message is ASCII only")
        if "\r" in text:
            raise SiweError("message lines must end with LF only")
        lines = text.split("\n")
        if len(lines) < 9 or not lines[0].endswith(_HEADER):
            raise SiweError("not a Sign-In with Ethereum message")
        match = _DOMAIN_LINE.match(lines[0][: -len(_HEADER)])
        if match is None:
            raise SiweError("the first line must be [scheme://]domain, then the EIP-4361 header")
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
            if not resources:
                raise SiweError("'Resources:' must be followed by at least one '- <URI>' line")
        if index != len(lines):
            raise SiweError(f"unexpected line {index + 1}: {lines[index][:40]!r}")
        if not _CHAIN_ID.match(chain_id) or len(chain_id) > 20:
            raise SiweError("the chain id must be an EIP-155 chain id in decimal digits")
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
        return recover(personal_digest(text), bytes(signature))
    except ValueError as exc:
        raise SiweError(f"cannot recover a signer: {exc}") from None
