"""A chain's finality: when a mined block can no longer be undone, one setting per chain (``finality`` in its
deployment manifest). ``immediate``: a block is final once mined (QBFT, IBFT: what `procure network init` writes);
a number N: a block is final once N blocks are on top of it (a chain that can reorganize). Without the setting a
chain is taken to reorganize no deeper than a dev chain (``DEFAULT_FINALITY``: 0 blocks, as before the setting).

The indexer stays ``depth`` blocks behind the head (``confirmations_for``: an explicit ``--confirmations`` wins, with
a warning where it contradicts the setting); the gateway says of a relayed action whether it is final
(``is_final``).
"""

from __future__ import annotations

from dataclasses import dataclass

from chain.errors import ConfigurationError

__all__ = ["DEFAULT_FINALITY", "IMMEDIATE", "Finality", "confirmations_for", "is_final"]

_MAX_DEPTH = 10_000


@dataclass(frozen=True)
class Finality:
    """How many blocks must be on top of a block before it is final (0 for ``immediate``)."""

    depth: int
    immediate: bool = False

    @classmethod
    def parse(cls, value: object) -> Finality:
        """``"immediate"``, or a depth of 0 to 10,000 blocks (a number or its decimal text); a clear error else."""
        if value == "immediate":
            return IMMEDIATE
        if isinstance(value, str) and value.isascii() and value.isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_DEPTH:
            raise ConfigurationError(
                f"finality is 'immediate' (QBFT, IBFT) or a number of blocks from 0 to {_MAX_DEPTH}, not {value!r}"
            )
        return cls(value)

    def to_json(self) -> str | int:
        """As the manifest writes it."""
        return "immediate" if self.immediate else self.depth

    def __str__(self) -> str:
        return "immediate (final once mined)" if self.immediate else f"{self.depth} blocks on top"


IMMEDIATE = Finality(0, immediate=True)
DEFAULT_FINALITY = Finality(0)


def is_final(block: int | None, head: int, finality: Finality) -> bool:
    """Whether what was mined in ``block`` (None: not mined yet) is final when the chain's head is ``head``."""
    return block is not None and 0 <= block <= head - finality.depth


def confirmations_for(finality: Finality, explicit: int | None) -> tuple[int, str | None]:
    """How many blocks an indexer stays behind the head, and a warning when an explicit ``--confirmations``
    contradicts the chain's finality: fewer than its depth may mirror blocks a reorg undoes (the indexer rolls them
    back, but a reader may have seen them); more than an immediately final chain needs only delays the mirror."""
    if explicit is None or explicit == finality.depth:
        return finality.depth, None
    if explicit < finality.depth:
        return explicit, (
            f"--confirmations {explicit} is below the chain's finality ({finality}): the mirror may show blocks "
            "that are not final yet"
        )
    if finality.immediate:
        return explicit, (
            f"--confirmations {explicit} on a chain whose finality is immediate: the mirror lags {explicit} "
            "blocks for nothing"
        )
    return explicit, None
