"""EIP-4361 messages: exact layout, strict parsing, signer recovery."""

from __future__ import annotations

import datetime as dt

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from gateway.siwe import SiweError, SiweMessage, recover_address

ADDRESS = "0xbE0bEa083be1E3BD1d31B88C15c8Fa554Fe879B7"
ISSUED = dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.UTC)

# The example layout of EIP-4361, with our values.
FULL = """\
https://ledger.example.go.jp wants you to sign in with your Ethereum account:
0xbE0bEa083be1E3BD1d31B88C15c8Fa554Fe879B7

Sign in to the procurement ledger gateway.

URI: https://ledger.example.go.jp/login
Version: 1
Chain ID: 1337
Nonce: 32891756abcdef01
Issued At: 2026-04-01T09:00:00Z
Expiration Time: 2026-04-01T09:10:00Z
Not Before: 2026-04-01T08:59:00Z
Request ID: req-42
Resources:
- ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/
- https://example.com/my-web2-claim.json"""


def _message(**overrides: object) -> SiweMessage:
    fields: dict[str, object] = {
        "domain": "localhost:8000",
        "address": ADDRESS,
        "uri": "http://localhost:8000",
        "chain_id": 31337,
        "nonce": "abcdef0123456789",
        "issued_at": ISSUED,
    }
    fields.update(overrides)
    return SiweMessage(**fields)  # type: ignore[arg-type]


def test_full_message_round_trips_exactly() -> None:
    message = SiweMessage.parse(FULL)
    assert message.scheme == "https"
    assert message.domain == "ledger.example.go.jp"
    assert message.statement == "Sign in to the procurement ledger gateway."
    assert message.chain_id == 1337
    assert message.expiration_time == ISSUED + dt.timedelta(minutes=10)
    assert message.not_before == ISSUED - dt.timedelta(minutes=1)
    assert message.request_id == "req-42"
    assert len(message.resources) == 2
    assert message.to_text() == FULL


def test_minimal_message_without_statement() -> None:
    text = _message().to_text()
    assert text.split("\n")[2:5] == ["", "", "URI: http://localhost:8000"]
    assert SiweMessage.parse(text) == _message()


def test_fractional_seconds_and_offsets_parse() -> None:
    text = _message().to_text().replace("2026-04-01T09:00:00Z", "2026-04-01T18:00:00.123456789+09:00")
    assert SiweMessage.parse(text).issued_at == ISSUED + dt.timedelta(microseconds=123456)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda t: t.replace(ADDRESS, ADDRESS.lower()),  # not EIP-55
        lambda t: t.replace("Version: 1", "Version: 2"),
        lambda t: t.replace("Chain ID: 31337", "Chain ID: 0x7a69"),
        lambda t: t.replace("Nonce: abcdef0123456789", "Nonce: short"),
        lambda t: t.replace("Issued At: 2026-04-01T09:00:00Z", "Issued At: yesterday"),
        lambda t: t.replace("Issued At: 2026-04-01T09:00:00Z", "Issued At: 2026-04-01T09:00:00"),
        lambda t: t.replace("\n", "\r\n"),
        lambda t: t + "\nExtra: line",
        lambda t: t.replace("URI: http://localhost:8000\n", ""),
        lambda t: t.replace(" wants you to sign in", " wants you to log in"),
        lambda t: "x" * 5000,
        lambda t: "",
    ],
    ids=[
        "lowercase-address",
        "version",
        "hex-chain",
        "short-nonce",
        "bad-time",
        "no-zone",
        "crlf",
        "trailing",
        "no-uri",
        "header",
        "huge",
        "empty",
    ],
)
def test_malformed_messages_are_refused(mutate: object) -> None:
    text = mutate(_message().to_text())  # type: ignore[operator]
    with pytest.raises(SiweError):
        SiweMessage.parse(text)


def test_invalid_fields_are_refused_when_building() -> None:
    with pytest.raises(SiweError):
        _message(statement="two\nlines")
    with pytest.raises(SiweError):
        _message(uri="not a uri")
    with pytest.raises(SiweError):
        _message(issued_at=dt.datetime(2026, 4, 1))  # naive


def test_recover_address_matches_personal_sign() -> None:
    account = Account.create()
    text = _message(address=account.address).to_text()
    signature = account.sign_message(encode_defunct(text=text)).signature
    assert recover_address(text, bytes(signature)) == account.address
    assert recover_address(text + " ", bytes(signature)) != account.address
    with pytest.raises(SiweError):
        recover_address(text, b"\x00" * 65)


# ---------------------------------------------------------------- the EIP-4361 grammar, clause by clause


@pytest.mark.parametrize(
    "mutate",
    [
        lambda t: t.replace("\n\nURI:", "\nSign in, s'il vous plaît.\n\nURI:"),  # statement: ASCII only
        lambda t: t.replace("\n\nURI:", "\nログイン\n\nURI:"),
        lambda t: t.replace("\n\nURI:", '\nSay "hi"\n\nURI:'),  # '"' is neither reserved nor unreserved
        lambda t: t.replace("\n\nURI:", "\n100% sure\n\nURI:"),  # nor is '%'
        lambda t: t.replace("\n\nURI:", "\ntab\there\n\nURI:"),
        lambda t: t + "\nResources:",  # a Resources line with no resource
        lambda t: t + "\nResources:\n- not a uri",
        lambda t: t + "\nResources:\n- https://example.com/a b",
        lambda t: t.replace("URI: http://localhost:8000", "URI: http://localhost:8000/ü"),
        lambda t: t.replace("URI: http://localhost:8000", "URI: http://[::zz]:8000"),
        lambda t: t.replace("URI: http://localhost:8000", "URI: 1http://localhost"),
        lambda t: t.replace("localhost:8000 wants", "1ftp://localhost:8000 wants"),  # scheme starts with a letter
        lambda t: t.replace("localhost:8000 wants", "local host:8000 wants"),
        lambda t: t.replace("localhost:8000 wants", " wants"),  # empty domain
        lambda t: t.replace("localhost:8000 wants", "localhost:80a wants"),
        lambda t: t.replace("Chain ID: 31337", "Chain ID: \uff13\uff11\uff13\uff13\uff17"),  # not DIGIT
        lambda t: t.replace("Issued At: 2026", "Issued At: \uff12026"),
        lambda t: t.replace("Nonce: abcdef0123456789", "Nonce: abcdef0123456789é"),
        lambda t: t.replace("Issued At: 2026-04-01T09:00:00Z", "Issued At: 2026-04-01 09:00:00Z"),
        lambda t: t + "\nRequest ID: a b",
        lambda t: t + "\nRequest ID: 50%",
    ],
    ids=[
        "statement-latin1",
        "statement-japanese",
        "statement-quote",
        "statement-percent",
        "statement-tab",
        "empty-resources",
        "resource-not-uri",
        "resource-space",
        "uri-non-ascii",
        "uri-bad-ipv6",
        "uri-scheme-digit",
        "scheme-digit",
        "domain-space",
        "domain-empty",
        "domain-port",
        "chain-unicode-digits",
        "time-unicode-digits",
        "nonce-non-ascii",
        "time-space",
        "request-id-space",
        "request-id-bad-percent",
    ],
)
def test_what_the_grammar_forbids_is_refused(mutate: object) -> None:
    text = mutate(_message().to_text())  # type: ignore[operator]
    with pytest.raises(SiweError):
        SiweMessage.parse(text)


@pytest.mark.parametrize(
    ("mutate", "check"),
    [
        (lambda t: t.replace("localhost:8000 wants", "https://localhost:8000 wants"), lambda m: m.scheme == "https"),
        (lambda t: t.replace("localhost:8000 wants", "ftp://localhost:8000 wants"), lambda m: m.scheme == "ftp"),
        (
            lambda t: t.replace("localhost:8000 wants", "user:pw@[::1]:8000 wants"),
            lambda m: m.domain.endswith("]:8000"),
        ),
        (
            lambda t: t.replace("\n\nURI:", "\nI accept: https://x.example/tos?a=1&b=[2] #1 @ ~_-.!$'()*+,;=\n\nURI:"),
            None,
        ),
        (lambda t: t.replace("URI: http://localhost:8000", "URI: urn:uuid:6e8bc430-9c3a-11d9-9669"), None),
        (lambda t: t.replace("Issued At: 2026-04-01T09:00:00Z", "Issued At: 2026-04-01t09:00:00z"), None),
        (lambda t: t.replace("Nonce: abcdef0123456789", "Nonce: " + "a1" * 100), None),  # no upper bound
        (lambda t: t + "\nRequest ID: ", lambda m: m.request_id == ""),
        (lambda t: t + "\nResources:\n- ipfs://bafy/x\n- https://e.example/%20?q#f", lambda m: len(m.resources) == 2),
    ],
    ids=[
        "https",
        "ftp-parses",
        "userinfo-ipv6",
        "statement-reserved",
        "urn",
        "lowercase-t-z",
        "long-nonce",
        "empty-request-id",
        "resources",
    ],
)
def test_what_the_grammar_allows_is_accepted(mutate: object, check: object) -> None:
    message = SiweMessage.parse(mutate(_message().to_text()))  # type: ignore[operator]
    assert check is None or check(message)  # type: ignore[operator]
