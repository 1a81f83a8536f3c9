"""Shared field types: camelCase JSON, exact integers (yen never a float), hex values checked by pattern.

Wide integers (uint64 and uint256: amounts, nonces, deadlines) are read from a JSON integer or a decimal
string, and always written as a decimal string: JavaScript's numbers are exact only up to 2^53, so a client
generated from the OpenAPI schema must never receive one as a JSON number. A JSON number written ``2.0`` is
the integer 2 (as JSON Schema has it) and is accepted while such numbers are exact, up to 2^53; a fraction
never is. Their schemas use the standard ``minimum``/``maximum`` and a pattern that matches exactly the decimal
strings in range, so that what the schema allows is exactly what the gateway accepts.

A signature is normalized where it is parsed: ``v`` of 0 or 1 (some hardware-wallet stacks) becomes 27 or 28
and a high ``s`` becomes its low twin, the only form the contracts' ECDSA accepts (EIP-2). The signer it
recovers to is unchanged.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema
from pydantic.alias_generators import to_camel

__all__ = [
    "UINT64_MAX",
    "UINT256_MAX",
    "Address",
    "ApiModel",
    "BlockTime",
    "Bytes32",
    "FromJsonText",
    "Signature",
    "Uint64",
    "Uint256",
    "Yen",
    "decimal_pattern",
    "integer_pattern",
    "wide_integer",
]

UINT64_MAX = 2**64 - 1
UINT256_MAX = 2**256 - 1
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_SIGNATURE_PATTERN = r"^0x[0-9a-fA-F]{130}$"
_EXACT_FLOAT = 2**53


def decimal_pattern(maximum: int) -> str:
    """A regular expression matching exactly the decimal strings of 0 to ``maximum`` (no sign, no leading 0)."""
    digits = str(maximum)
    size = len(digits)
    alternatives = ["0", f"[1-9][0-9]{{0,{size - 2}}}"]  # every number with fewer digits
    for i, digit in enumerate(map(int, digits)):  # same length: equal up to i, then a smaller digit
        low = 1 if i == 0 else 0
        if digit > low:
            smaller = str(low) if digit - 1 == low else f"[{low}-{digit - 1}]"
            alternatives.append(f"{digits[:i]}{smaller}[0-9]{{{size - i - 1}}}")
    alternatives.append(digits)
    return "^(?:" + "|".join(alternatives) + ")$"


def integer_pattern(maximum: int, *, signed: bool = False) -> str:
    """``decimal_pattern``, with an optional minus sign when ``signed`` (from -``maximum`` to ``maximum``)."""
    pattern = decimal_pattern(maximum)
    return "^-?" + pattern[1:] if signed else pattern


def wide_integer(maximum: int, name: str, description: str, *, signed: bool = False) -> tuple[Any, ...]:
    """The annotations of an integer type from 0 (``signed``: from -``maximum``) to ``maximum``: read from an
    integer or a decimal string, written as a decimal string, documented as such."""
    pattern = integer_pattern(maximum, signed=signed)
    decimal = re.compile(pattern)
    minimum = -maximum if signed else 0
    bounds = f"from -{name} to {name}" if signed else f"from 0 to {name}"

    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise ValueError("expected an integer, got a boolean")
        if isinstance(value, float) and value.is_integer() and abs(value) <= _EXACT_FLOAT:
            value = int(value)  # 2.0 is the integer 2 in JSON (and JSON Schema), and exact up to 2^53
        if isinstance(value, int):
            if not minimum <= value <= maximum:
                raise ValueError(f"must be {bounds}")
            return value
        if isinstance(value, str) and decimal.match(value):
            return int(value)
        raise ValueError(
            f"expected an integer {bounds}, or the same as a decimal string (a number with a fraction, "
            "or one written with a point or an exponent beyond 2^53, is not exact)"
        )

    string = {"type": "string", "pattern": pattern}
    return (
        BeforeValidator(parse),
        PlainSerializer(str, return_type=str, when_used="json"),
        WithJsonSchema(
            {
                "anyOf": [{"type": "integer", "minimum": minimum, "maximum": maximum}, string],
                "description": f"{description} An integer, or the same as a decimal string.",
            },
            mode="validation",
        ),
        WithJsonSchema({**string, "description": f"{description} A decimal string."}, mode="serialization"),
    )


Uint256 = Annotated[int, *wide_integer(UINT256_MAX, "2^256-1", "A uint256.")]
Uint64 = Annotated[int, *wide_integer(UINT64_MAX, "2^64-1", "A uint64.")]
Yen = Annotated[int, *wide_integer(UINT256_MAX, "2^256-1", "An amount in yen (no minor unit).")]
Bytes32 = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{64}$", description="32 bytes, 0x-prefixed hex.")]
Address = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$", description="An account or contract address.")]


def _canonical_signature(value: Any) -> Any:
    """``v`` as 27/28 and ``s`` in the lower half of the curve order; the same signer recovers from it."""
    if not isinstance(value, str) or not re.match(_SIGNATURE_PATTERN, value):
        return value  # the pattern below reports it
    r, s, v = value[2:66], int(value[66:130], 16), int(value[130:], 16)
    if v in (0, 1):
        v += 27
    if s > _SECP256K1_N // 2 and v in (27, 28):
        s, v = _SECP256K1_N - s, 55 - v
    return f"0x{r.lower()}{s:064x}{v:02x}"


_SIGNATURE_DESCRIPTION = "A 65-byte ECDSA signature (r, s, v), 0x-prefixed hex; v may be 0/1 or 27/28, s high or low."
Signature = Annotated[
    str,
    BeforeValidator(_canonical_signature),
    Field(pattern=_SIGNATURE_PATTERN),
    WithJsonSchema({"type": "string", "pattern": _SIGNATURE_PATTERN, "description": _SIGNATURE_DESCRIPTION}),
]


def _from_json_text(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


# A value the mirror keeps as JSON text (an event's arguments, a panel): read as the value it holds.
FromJsonText = BeforeValidator(_from_json_text)


class ApiModel(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields are refused."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


def _block_time(value: Any) -> Any:
    """A block's unix time (as the mirror keeps it) in ISO 8601 with the JST offset; a text time as it is."""
    from chain.times import iso

    return iso(value) if isinstance(value, int) and not isinstance(value, bool) else value


# Next to a block number: its block's time, ISO 8601 with its offset (JST); null where the mirror does not hold it
# yet (a block mirrored before its time was recorded, until the indexer fills it in).
BlockTime = Annotated[
    str | None,
    BeforeValidator(_block_time),
    Field(description="The block's time, ISO 8601 with its offset (JST), e.g. 2027-06-30T23:59:59+09:00."),
]
