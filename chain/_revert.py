"""Turn raw revert data into a ContractRevert that names the Solidity custom error."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from typing import Any

from eth_abi.abi import decode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3.exceptions import ContractCustomError, ContractLogicError, ContractPanicError

from chain.errors import ContractRevert, TransactionFailed

__all__ = ["ErrorDecoder", "is_tester_revert"]

_PANIC_CODES = {
    0x01: "assertion failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division by zero",
    0x21: "invalid enum value",
    0x31: "pop on empty array",
    0x32: "array index out of bounds",
    0x41: "out of memory",
    0x51: "call to uninitialized function",
}


def _abi_type(param: dict[str, Any]) -> str:
    kind: str = param["type"]
    if kind.startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in param["components"]) + ")" + kind[len("tuple") :]
    return kind


class ErrorDecoder:
    """Decodes revert data with the custom errors of a set of ABIs."""

    def __init__(self, error_abis: Iterable[dict[str, Any]]) -> None:
        self._errors: dict[bytes, dict[str, Any]] = {}
        for entry in error_abis:
            types = [_abi_type(p) for p in entry["inputs"]]
            selector = keccak(text=f"{entry['name']}({','.join(types)})")[:4]
            self._errors[selector] = {"name": entry["name"], "inputs": entry["inputs"], "types": types}

    def decode(self, data: bytes | str | None) -> ContractRevert | None:
        """The custom error encoded in ``data``, or None if the selector is unknown."""
        raw = _to_bytes(data)
        if raw is None or len(raw) < 4:
            return None
        selector, body = raw[:4], raw[4:]
        if selector == keccak(text="Error(string)")[:4]:
            (reason,) = decode(["string"], body)
            return ContractRevert("Error", {"reason": reason})
        if selector == keccak(text="Panic(uint256)")[:4]:
            (code,) = decode(["uint256"], body)
            return ContractRevert("Panic", {"code": code, "meaning": _PANIC_CODES.get(code, "unknown")})
        entry = self._errors.get(selector)
        if entry is None:
            return None
        values = [_checksum(t, v) for t, v in zip(entry["types"], decode(entry["types"], body), strict=True)]
        names = [p["name"] or f"arg{i}" for i, p in enumerate(entry["inputs"])]
        return ContractRevert(entry["name"], dict(zip(names, values, strict=True)))

    def from_exception(self, exc: BaseException) -> ContractRevert | TransactionFailed:
        """Map a web3 exception raised by a reverted call or transaction to a project exception."""
        data: Any = None
        if isinstance(exc, ContractCustomError | ContractLogicError | ContractPanicError):
            data = exc.data
        elif is_tester_revert(exc):
            data = _tester_revert_data(exc)
        if isinstance(data, dict):
            data = data.get("data")
        decoded = self.decode(data)
        if decoded is not None:
            return decoded
        message = str(exc) or type(exc).__name__
        return TransactionFailed(f"reverted without a known error: {message}")


def _checksum(abi_type: str, value: Any) -> Any:
    if abi_type == "address":
        return to_checksum_address(value)
    if abi_type == "address[]":
        return [to_checksum_address(v) for v in value]
    return value


def is_tester_revert(exc: BaseException) -> bool:
    """True for eth-tester's TransactionFailed (web3's in-process provider raises it for some reverts)."""
    return type(exc).__name__ == "TransactionFailed" and type(exc).__module__.startswith("eth_tester")


def _tester_revert_data(exc: BaseException) -> bytes | None:
    # web3's eth-tester provider re-raises custom errors as "execution reverted: b'...'" (a bytes repr).
    match = re.search(r"execution reverted: (b'.*'|b\".*\")\s*$", str(exc), re.DOTALL)
    if match is None:
        return None
    try:
        value = ast.literal_eval(match.group(1))
    except (ValueError, SyntaxError):
        return None
    return value if isinstance(value, bytes) else None


def _to_bytes(data: bytes | str | None) -> bytes | None:
    if data is None:
        return None
    if isinstance(data, bytes | bytearray):
        return bytes(data)
    text = data.strip()
    if text.startswith("0x"):
        text = text[2:]
    try:
        return bytes.fromhex(text)
    except ValueError:
        return None
