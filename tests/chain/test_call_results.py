"""Function results of integers, bools, addresses, ``bytesN``, tuples and dynamic arrays of them are read in place
(chain/abi.py ``_tuple_decoder``): exactly what eth-abi decodes, addresses checksummed, and refused where eth-abi
refuses (too few bytes, an offset or length past the end, a value out of range, padding that is not zero)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode

from chain import Build, DecodeError, compile_contracts
from chain.abi import _checksummer, _result_reader, _tuple_decoder, abi_type

_CONTRACTS = ("AccessRegistry", "BudgetLedger", "BudgetOffice", "MilestoneEscrow", "ProcurementFactory", "YenToken")


def _in_place_functions(build: Build) -> list[tuple[str, str, list[dict[str, Any]]]]:
    return [
        (name, entry["name"], entry["outputs"])
        for name in _CONTRACTS
        for entry in build.codec(name).abi
        if entry.get("type") == "function"
        and entry.get("outputs")
        and all(_result_reader(param) is not None for param in entry["outputs"])
    ]


def _eth_abi(outputs: list[dict[str, Any]]) -> Callable[[bytes], tuple[Any, ...]]:
    types, fixes = [abi_type(p) for p in outputs], [_checksummer(p) for p in outputs]
    return lambda raw: tuple(v if fix is None else fix(v) for fix, v in zip(fixes, abi_decode(types, raw), strict=True))


def _value(param: dict[str, Any], rng: random.Random) -> Any:
    """A random value of ``param``'s type, as eth-abi encodes it."""
    kind = str(param["type"])
    if kind.endswith("[]"):
        return [_value(dict(param, type=kind[:-2]), rng) for _ in range(rng.randrange(4))]
    if kind == "tuple":
        return tuple(_value(component, rng) for component in param["components"])
    if kind.startswith("uint"):
        return rng.randrange(1 << int(kind[4:] or 256))
    if kind.startswith("int"):
        bits = int(kind[3:] or 256)
        return rng.randrange(-(1 << (bits - 1)), 1 << (bits - 1))
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "address":
        return "0x" + rng.randbytes(20).hex()
    return rng.randbytes(int(kind[5:]))  # bytesN


def _word(rng: random.Random) -> bytes:
    """A word of every shape a value or a hostile node could give: bool-like, an offset or length, address-like,
    small, bytes4-like (or padding that is not zero), any."""
    shape = rng.randrange(6)
    if shape == 0:
        return bytes(31) + bytes([rng.randrange(3)])
    if shape == 1:
        return (32 * rng.randrange(20)).to_bytes(32, "big")
    if shape == 2:
        return bytes(12) + rng.randbytes(20)
    if shape == 3:
        return bytes(24) + rng.randbytes(8)
    if shape == 4:
        return rng.randbytes(4) + bytes(28)
    return rng.randbytes(32)


def _outcome(decode: Callable[[bytes], tuple[Any, ...]], raw: bytes) -> tuple[Any, ...] | str:
    try:
        return decode(raw)
    except Exception:  # eth-abi's own errors, or ours: the same refusal
        return "refused"


def test_results_read_in_place_are_what_eth_abi_decodes() -> None:
    """Every result of the ledger's contracts that is read in place, encoded from random values and then often
    damaged (words overwritten, cut short, lengthened): the same values as eth-abi's, or a refusal where it
    refuses."""
    build = compile_contracts()
    functions = _in_place_functions(build)
    names = {(contract, function) for contract, function, _ in functions}
    assert ("MilestoneEscrow", "milestone") in names
    assert ("MilestoneEscrow", "terms") in names  # a struct with a dynamic array of addresses
    rng = random.Random(19)
    outcomes = {"decoded": 0, "refused": 0}
    for contract, function, outputs in functions:
        fast, slow = build.codec(contract).function(function).decode, _eth_abi(outputs)
        types = [abi_type(p) for p in outputs]
        for _ in range(150):
            raw = bytearray(abi_encode(types, [_value(p, rng) for p in outputs]))
            for _ in range(rng.randrange(4)):
                at = 32 * rng.randrange(len(raw) // 32)
                raw[at : at + 32] = _word(rng)
            if rng.random() < 0.15:
                raw = raw[: rng.randrange(len(raw) + 1)]
            if rng.random() < 0.1:
                raw += rng.randbytes(32)
            expected = _outcome(slow, bytes(raw))
            assert _outcome(fast, bytes(raw)) == expected, (contract, function, raw.hex())
            outcomes["refused" if expected == "refused" else "decoded"] += 1
    assert outcomes["decoded"] > 1000
    assert outcomes["refused"] > 1000  # both paths were exercised


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


def test_an_array_longer_than_the_result_is_refused() -> None:
    reader = _result_reader({"type": "uint256[]"})
    assert reader is not None
    decode = _tuple_decoder([reader])
    words = [0x20, 3, 7, 8, 9]  # the offset, the length, the values
    assert decode(b"".join(w.to_bytes(32, "big") for w in words)) == ((7, 8, 9),)
    short = b"".join(w.to_bytes(32, "big") for w in words[:-1])  # a word past a uint's end would read as 0
    with pytest.raises(DecodeError, match="an array of 3 values past the end of a 128-byte result"):
        decode(short)
    with pytest.raises(DecodeError, match="an offset or length at byte 4096"):
        decode((4096).to_bytes(32, "big") + short)
