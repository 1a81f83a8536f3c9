"""How people name a procurement: its ocid, its escrow's address, or its on-chain id; read in one place.

A procurement's on-chain id is keccak256 of its OCDS ocid (``ocds-b5fd17-MOD-2026-0042``: ``ocds-``, the
publisher's 6-character prefix, then the local id); its escrow is the contract holding its money. Every command
and endpoint that takes a procurement takes any of the three, read by ``parse_procurement_name``:

* ``0x`` and 40 hex digits: an escrow address;
* ``0x`` and 64 hex digits: an on-chain procurement id;
* anything else starting with ``0x``, or bare hex of an address's or an id's length, is refused (an address
  with a digit missing is never hashed as if it were an ocid, to end in a 404);
* else an ocid (the spec file's ``id``): ASCII, no whitespace, no ``#``, at most 128 characters; hashed.

Standard library only until an ocid is hashed (``chain.signing``'s keccak, loaded then).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chain.errors import ConfigurationError

__all__ = ["OCID_MAX_LENGTH", "ProcurementName", "ocid_problem", "parse_procurement_name"]

OCID_MAX_LENGTH = 128
_ADDRESS = re.compile(r"^0[xX][0-9a-fA-F]{40}$")
_ID = re.compile(r"^0[xX][0-9a-fA-F]{64}$")
_BARE_HEX = re.compile(r"^(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$")


@dataclass(frozen=True)
class ProcurementName:
    """A procurement as named: by its ocid or on-chain id (``procurement_id``), or by its ``escrow``."""

    text: str  # as given
    procurement_id: bytes | None = None  # the on-chain id (of an ocid: its keccak256)
    escrow: str | None = None  # the escrow's address, lowercase 0x-hex
    ocid: str | None = None  # the ocid, when given as one

    @property
    def kind(self) -> str:
        """``ocid``, ``id`` or ``escrow``."""
        return "escrow" if self.escrow is not None else "ocid" if self.ocid is not None else "id"


def ocid_problem(value: str) -> str | None:
    """What is wrong with ``value`` as an ocid (None if nothing): the rule the spec file's ``id`` follows too."""
    if not value or len(value) > OCID_MAX_LENGTH:
        return f"an ocid has 1 to {OCID_MAX_LENGTH} characters"
    if not value.isascii() or any(c.isspace() for c in value) or "#" in value:
        return "an ocid is ASCII without spaces or '#'"
    if value[:2] in ("0x", "0X") or _BARE_HEX.match(value):
        return "an ocid does not look like hex (0x... names an escrow address or an on-chain procurement id)"
    return None


def parse_procurement_name(text: str) -> ProcurementName:
    """Read a procurement's name (see the module docstring); ConfigurationError naming what is wrong."""
    if _ADDRESS.match(text):
        return ProcurementName(text=text, escrow="0x" + text[2:].lower())
    if _ID.match(text):
        return ProcurementName(text=text, procurement_id=bytes.fromhex(text[2:]))
    if text[:2] in ("0x", "0X"):
        raise ConfigurationError(
            f"{text!r} is neither an escrow address (0x and 40 hex digits, {len(text) - 2} given) nor a procurement "
            "id (0x and 64 hex digits); give the procurement's ocid, its escrow address or its id"
        )
    problem = ocid_problem(text)
    if problem is not None:
        raise ConfigurationError(
            f"{text[:80]!r} is not a procurement: {problem}; give its ocid (e.g. ocds-b5fd17-MOD-2026-0042), its "
            "escrow address or its id"
        )
    from chain.signing import keccak

    return ProcurementName(text=text, procurement_id=keccak(text.encode("utf-8")), ocid=text)
