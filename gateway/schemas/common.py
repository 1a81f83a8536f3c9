"""Shared field types: camelCase JSON, exact integers (yen never a float), hex values checked by pattern."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

__all__ = [
    "UINT64_MAX",
    "UINT256_MAX",
    "Address",
    "ApiModel",
    "Bytes32",
    "Signature",
    "Uint64",
    "Uint256",
    "Yen",
]

UINT64_MAX = 2**64 - 1
UINT256_MAX = 2**256 - 1
_DECIMAL = re.compile(r"^[0-9]{1,78}$")


def _exact_integer(value: Any) -> Any:
    """Accept a JSON integer or a decimal string; refuse floats, booleans and anything else."""
    if isinstance(value, bool):
        raise ValueError("expected an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _DECIMAL.match(value):
        return int(value)
    raise ValueError("expected an integer or a decimal string (never a float)")


Uint256 = Annotated[
    int,
    BeforeValidator(_exact_integer),
    Field(ge=0, le=UINT256_MAX),
]
Yen = Annotated[
    int,
    BeforeValidator(_exact_integer),
    Field(ge=0, le=UINT256_MAX, description="An amount in yen (integer; no minor unit)."),
]
Uint64 = Annotated[int, BeforeValidator(_exact_integer), Field(ge=0, le=UINT64_MAX)]
Bytes32 = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{64}$", description="32 bytes, 0x-prefixed hex.")]
Address = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$", description="An account or contract address.")]
Signature = Annotated[
    str, Field(pattern=r"^0x[0-9a-fA-F]{130}$", description="A 65-byte ECDSA signature (r, s, v), 0x-prefixed hex.")
]


class ApiModel(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields are refused."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")
