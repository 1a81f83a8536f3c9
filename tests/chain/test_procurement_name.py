"""A procurement named by its ocid, its escrow address or its on-chain id; anything hex-like that is neither is
refused with a sentence saying what it is not, never hashed as if it were an ocid."""

from __future__ import annotations

import pytest
from eth_utils.crypto import keccak

from chain import ConfigurationError, ProcurementFile, ocid_problem, parse_procurement_name

OCID = "ocds-b5fd17-MOD-2026-0042"
ESCROW = "0x9B54a1F6c3B0fD4E8b0a3C1e5d7F2a4b6C8d4f6C"


def test_an_ocid_is_hashed_into_the_on_chain_id() -> None:
    named = parse_procurement_name(OCID)
    assert named.kind == "ocid"
    assert named.procurement_id == keccak(text=OCID)
    assert named.escrow is None


def test_an_escrow_address_and_an_id_are_taken_as_they_are() -> None:
    by_escrow = parse_procurement_name(ESCROW)
    assert by_escrow.kind == "escrow"
    assert by_escrow.escrow == ESCROW.lower()
    assert by_escrow.procurement_id is None
    pid = "0x" + keccak(text=OCID).hex()
    by_id = parse_procurement_name(pid.upper().replace("0X", "0x"))
    assert by_id.kind == "id"
    assert by_id.procurement_id == keccak(text=OCID)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (ESCROW[:-1], "39 given"),  # an address with a digit missing
        (ESCROW + "0", "41 given"),
        ("0x" + "ab" * 31, "62 given"),
        ("0xocds-b5fd17", "neither an escrow address"),
        (ESCROW[2:], "does not look like hex"),  # an address without its 0x
        ("ab" * 32, "does not look like hex"),
        ("ocds b5fd17", "without spaces"),
        ("ocds-b5fd17-MOD#1", "without spaces or '#'"),
        ("", "1 to 128 characters"),
        ("x" * 129, "1 to 128 characters"),
        ("ocds-b5fd17-防衛", "ASCII"),
    ],
)
def test_a_name_that_is_none_of_the_three_is_refused(text: str, said: str) -> None:
    with pytest.raises(ConfigurationError, match=said.replace("(", r"\(")):
        parse_procurement_name(text)


def test_a_spec_file_id_follows_the_same_rule() -> None:
    assert ocid_problem(OCID) is None
    assert ocid_problem("0x" + "12" * 20) is not None
    with pytest.raises(ValueError, match="does not look like hex"):
        ProcurementFile.model_validate(
            {"id": ESCROW, "title": "t", "ministry": "MOD", "supplier": ESCROW, "evaluators": [], "quorum": 1}
        )
