"""Function results whose values are all static are read in place (chain/abi.py ``_static_decoder``): exactly what
eth-abi decodes, addresses checksummed, and refused where eth-abi refuses (too few bytes, a value out of range,
padding that is not zero)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from eth_abi.abi import decode as abi_decode

from chain import Build, DecodeError, compile_contracts
from chain.abi import _checksummer, _static_reader, abi_type

_CONTRACTS = ("AccessRegistry", "BudgetLedger", "BudgetOffice", "MilestoneEscrow", "ProcurementFactory", "YenToken")


def _static_functions(build: Build) -> list[tuple[str, str, list[dict[str, Any]]]]:
    return [
        (name, entry["name"], entry["outputs"])
        for name in _CONTRACTS
        for entry in build.codec(name).abi
        if entry.get("type") == "function"
        and entry.get("outputs")
        and all(_static_reader(param) is not None for param in entry["outputs"])
    ]


def _eth_abi(outputs: list[dict[str, Any]]) -> Callable[[bytes], tuple[Any, ...]]:
    types, fixes = [abi_type(p) for p in outputs], [_checksummer(p) for p in outputs]
    return lambda raw: tuple(v if fix is None else fix(v) for fix, v in zip(fixes, abi_decode(types, raw), strict=True))


def _word(rng: random.Random) -> bytes:
    """A word of every shape a value or a hostile node could give: small, bool-like, address-like, any."""
    shape = rng.randrange(6)
    if shape == 0:
        return bytes(31) + bytes([rng.randrange(3)])
    if shape == 1:
        return bytes(12) + rng.randbytes(20)
    if shape == 2:
        return bytes(24) + rng.randbytes(8)
    if shape == 3:
        return rng.randbytes(4) + bytes(28)  # a bytes4, or padding that is not zero
    return rng.randbytes(32)


def _outcome(decode: Callable[[bytes], tuple[Any, ...]], raw: bytes) -> tuple[Any, ...] | str:
    try:
        return decode(raw)
    except Exception:  # eth-abi's own errors, or ours: the same refusal
        return "refused"


def test_static_results_are_what_eth_abi_decodes() -> None:
    build = compile_contracts()
    functions = _static_functions(build)
    names = {(contract, function) for contract, function, _ in functions}
    assert ("MilestoneEscrow", "milestone") in names
    assert ("MilestoneEscrow", "totals") in names
    rng = random.Random(19)
    outcomes = {"decoded": 0, "refused": 0}
    for contract, function, outputs in functions:
        fast, slow = build.codec(contract).function(function).decode, _eth_abi(outputs)
        words = len(outputs) + 16  # at least as many words as the result holds (a struct is several), often more
        for _ in range(200):
            raw = b"".join(_word(rng) for _ in range(rng.randrange(words + 1)))  # too few words, often
            expected = _outcome(slow, raw)
            assert _outcome(fast, raw) == expected, (contract, function, raw.hex())
            outcomes["refused" if expected == "refused" else "decoded"] += 1
    assert outcomes["decoded"] > 100
    assert outcomes["refused"] > 100


@pytest.mark.parametrize(
    ("word", "why"),
    [
        (bytes(30) + b"\x01\x00", "a uint8 status past 255"),
        (b"\x01" + bytes(31), "a uint64 past its range"),
    ],
)
def test_out_of_range_is_refused(word: bytes, why: str) -> None:
    milestone = compile_contracts().codec("MilestoneEscrow").function("milestone")
    raw = bytearray(32 * 8)
    index = 2 if "uint8" in why else 1  # (amount, dueDate, status, ...)
    raw[32 * index : 32 * index + 32] = word
    with pytest.raises(DecodeError, match="out of range"):
        milestone.decode(bytes(raw))


def test_a_short_result_is_refused() -> None:
    totals = compile_contracts().codec("MilestoneEscrow").function("totals")
    with pytest.raises(DecodeError, match="a result of 96 bytes where 128 are expected"):
        totals.decode(bytes(96))
    assert totals.decode(bytes(128) + b"\xff" * 5) == (0, 0, 0, 0)  # bytes past the values: ignored, as by eth-abi
