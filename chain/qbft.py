"""QBFT's block ``extraData``, as Hyperledger Besu encodes it (``QbftExtraDataCodec``).

An RLP list: ``[vanity (32 bytes), [validator addresses], vote, round, [committed seals]]`` where ``vote`` is an
empty list or ``[address, 0xff (add) | empty (drop)]``, ``round`` a big-endian integer with no leading zeros, and
each seal a 65-byte signature. A genesis block carries the validators and nothing else: zero vanity, no vote,
round 0, no seals. Checked against Besu's own test vector (tests/resources/besu/).
"""

from __future__ import annotations

from dataclasses import dataclass

import rlp

from chain.abi import checksum
from chain.errors import ConfigurationError

__all__ = ["QbftExtraData", "QbftVote", "decode_extra_data", "encode_extra_data", "genesis_extra_data"]

VANITY_BYTES = 32
_ADD = b"\xff"


@dataclass(frozen=True)
class QbftVote:
    """A validator's vote carried by a block: add ``address`` to the validators, or drop it."""

    address: str
    add: bool


@dataclass(frozen=True)
class QbftExtraData:
    """The decoded fields of a QBFT ``extraData``."""

    vanity: bytes
    validators: tuple[str, ...]
    vote: QbftVote | None = None
    round: int = 0
    seals: tuple[bytes, ...] = ()


def _address(value: str) -> bytes:
    raw = bytes.fromhex(value.removeprefix("0x"))
    if len(raw) != 20:
        raise ConfigurationError(f"a validator address is 20 bytes, not {len(raw)}: {value}")
    return raw


def encode_extra_data(data: QbftExtraData) -> bytes:
    """The RLP bytes of ``data``, as Besu's ``QbftExtraDataCodec.encode`` writes them."""
    if len(data.vanity) != VANITY_BYTES:
        raise ConfigurationError(f"the vanity is {VANITY_BYTES} bytes, not {len(data.vanity)}")
    if data.round < 0 or data.round >= 2**32:
        raise ConfigurationError(f"the round is a 32-bit unsigned integer, not {data.round}")
    vote: list[bytes] = []
    if data.vote is not None:
        vote = [_address(data.vote.address), _ADD if data.vote.add else b""]
    validators = [_address(validator) for validator in data.validators]
    round_bytes = data.round.to_bytes(4, "big").lstrip(b"\x00")
    return bytes(rlp.encode([data.vanity, validators, vote, round_bytes, list(data.seals)]))


def decode_extra_data(raw: bytes) -> QbftExtraData:
    """The fields of a QBFT ``extraData``; ConfigurationError naming what is malformed."""
    try:
        items = rlp.decode(raw)
    except rlp.exceptions.DecodingError as exc:
        raise ConfigurationError(f"extraData is not RLP: {exc}") from exc
    if not isinstance(items, list) or len(items) != 5:
        raise ConfigurationError("extraData is not a list of vanity, validators, vote, round and seals")
    vanity, validators, vote, round_bytes, seals = items
    if not isinstance(vanity, bytes) or not isinstance(validators, list) or not isinstance(seals, list):
        raise ConfigurationError("extraData's vanity, validators or seals have the wrong shape")
    if not all(isinstance(v, bytes) and len(v) == 20 for v in validators):
        raise ConfigurationError("extraData's validators are not all 20-byte addresses")
    if not isinstance(round_bytes, bytes) or len(round_bytes) > 4 or round_bytes[:1] == b"\x00":
        raise ConfigurationError("extraData's round is not a 32-bit integer without leading zeros")
    decoded_vote = None
    if vote != []:
        if not (isinstance(vote, list) and len(vote) == 2 and isinstance(vote[0], bytes) and len(vote[0]) == 20):
            raise ConfigurationError("extraData's vote is not [address, type]")
        if vote[1] not in (_ADD, b""):
            raise ConfigurationError(f"extraData's vote type is neither add (0xff) nor drop: {vote[1]!r}")
        decoded_vote = QbftVote(checksum("0x" + vote[0].hex()), vote[1] == _ADD)
    if not all(isinstance(seal, bytes) for seal in seals):
        raise ConfigurationError("extraData's seals are not byte strings")
    return QbftExtraData(
        vanity=vanity,
        validators=tuple(checksum("0x" + v.hex()) for v in validators),
        vote=decoded_vote,
        round=int.from_bytes(round_bytes, "big"),
        seals=tuple(seals),
    )


def genesis_extra_data(validators: list[str]) -> bytes:
    """A genesis block's ``extraData``: the validators, zero vanity, no vote, round 0, no seals (Besu's
    ``QbftExtraDataCodec.encodeFromAddresses``)."""
    if not validators:
        raise ConfigurationError("a QBFT network needs at least one validator")
    if len({v.lower() for v in validators}) != len(validators):
        raise ConfigurationError("a validator is listed twice")
    return encode_extra_data(QbftExtraData(vanity=bytes(VANITY_BYTES), validators=tuple(validators)))
