"""Fetching and decoding a range of logs, in the indexer's process or in a fetch process of its own.

A range's logs are fetched (``fetch_raw``: headers, ``eth_getLogs``, block times, the check that the chain did not
move meanwhile), cut into the pieces written one transaction each (``pieces``), and decoded **without trust**
(``decode_logs``): a log of a system contract by that contract's kind, any other one as an escrow's, since escrows
are learnt only as their creation events are mapped. The indexer then keeps a log only if its emitter is trusted by
then (``indexer.sync.map_decoded``), so the decoding needs nothing the mapping learns and can run ahead of it.

A catch-up over HTTP runs it in a process of its own (``python -m indexer._fetcher PID``; the parent side is
``indexer.pipeline.FetchProcess``): the JSON parsing of the node's replies and the decoding then no longer hold the
indexer's GIL while it maps and plans. The process reads a hello (the node's URL, the system's kinds, the events'
ABIs), says it is ready, then reads requests ``(id, lo, hi, size, limit)`` and answers each with a header and, unless
the range is to be fetched again, its decoded pieces, each sent as soon as it is decoded, as plain tuples over
``marshal``. A ProviderError of ``eth_getLogs`` is a value the indexer adapts its span to; a log that cannot be
decoded is an ``Undecodable`` the indexer raises only if its emitter is trusted. This module imports only what that
needs (not eth-abi), so that the process is ready in about a tenth of a second; the ranges the indexer asks before
that, it fetches and decodes itself.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import IO, Any, NamedTuple

from chain.connection import JsonRpc
from chain.errors import DecodeError, ProviderError
from chain.genesis_events import GenesisLog, genesis_raw_logs
from chain.logs import ChainSource, DecodedLog, EventDecoder, Header, checksum, gc_paused, quantity
from indexer._pipes import die_with_parent, receive, send

__all__ = [
    "Decoded",
    "Fetched",
    "Piece",
    "Undecodable",
    "chain_logs",
    "decode_logs",
    "decoded_pieces",
    "fetch_raw",
    "from_wire",
    "one_piece",
    "pieces",
]


class Undecodable(NamedTuple):
    """A log whose data does not match the event its topic names: an error only if its emitter is trusted."""

    emitter: str
    message: str


Decoded = DecodedLog | Undecodable
# One transaction's worth of a range: its logs decoded, how many were ignored (no event of their emitter's kind),
# and the block (and its hash) the cursor moves to.
Piece = tuple[list[Decoded], int, int, str]


@dataclass(frozen=True, slots=True)
class Fetched:
    """A fetched range: its first and last headers, how many logs the node gave, the ProviderError of its
    ``eth_getLogs`` if it failed (then no logs), and its pieces, decoded as they are iterated (once)."""

    lo: int
    hi: int
    top: Header
    first: Header
    count: int
    error: ProviderError | None
    pieces: Iterator[Piece]


def chain_logs(
    source: ChainSource, topics: Sequence[str], genesis: Sequence[GenesisLog], lo: int, hi: int
) -> list[dict[str, Any]]:
    """The logs of blocks ``lo`` to ``hi`` as the node gives them; from block 0, the events of a deployment placed
    in the genesis come first (``SystemAddresses.genesis_logs``: chain/genesis_events.py)."""
    raw = source.logs(lo, hi, topics)
    if lo == 0 and genesis:
        block = source.header(0)
        if block is None:  # pragma: no cover - every chain has a block 0
            raise ProviderError("the node has no block 0")
        raw = genesis_raw_logs(genesis, block.hash, source.block_times([0])[0]) + raw
    return raw


def fetch_raw(
    source: ChainSource, logs: Callable[[int, int], list[dict[str, Any]]], lo: int, hi: int
) -> tuple[Header, Header, list[dict[str, Any]], ProviderError | None] | None:
    """The headers of ``hi`` and ``lo`` and the logs of ``[lo, hi]`` (``logs``) with their block times, or the
    ProviderError of fetching them; None when the chain moved under us (fetch again)."""
    top, first = source.headers([hi, lo]) if hi != lo else source.headers([hi]) * 2
    if top is None or first is None:
        return None  # the chain got shorter: the next step sees it
    try:
        raw = source.with_block_times(logs(lo, hi))
    except ProviderError as exc:
        return top, first, [], exc
    again = source.header(hi)
    if (
        again is None
        or again.hash != top.hash
        or any(quantity(log["blockNumber"]) == hi and str(log["blockHash"]).lower() != top.hash for log in raw)
    ):
        return None  # a reorg during the fetch
    return top, first, raw, None


def one_piece(count: int, size: int) -> bool:
    """Whether a range of ``count`` logs is written whole (at most one and a half times ``size``), not in pieces.

    Cutting a range costs a transaction more; not cutting it makes the last range of a catch-up, which is planned
    and then written with nothing else to overlap either, up to twice as long: 1.5 beat 2 (the budget benchmark's
    last range of 14,500 logs became two) and 1 (ranges of 12,000 logs cut in two) in session 11's measurements."""
    return 2 * count <= 3 * size


def pieces(raw: list[dict[str, Any]], size: int, hi: int, hi_hash: str) -> list[tuple[list[dict[str, Any]], int, str]]:
    """Split a range of more logs than ``one_piece`` allows into pieces of about equal size, at most about ``size``
    logs each, never inside a block, each with the block and block hash its transaction moves the cursor to; the
    last piece ends at ``hi``. Equal pieces keep the last one, whose write nothing overlaps in a pipelined catch-up,
    as short as the others (8,000 + 15,500 logs became 3 x 7,840)."""
    if one_piece(len(raw), size):
        return [(raw, hi, hi_hash)]
    size = -(-len(raw) // -(-len(raw) // size))  # n logs in ceil(n / size) pieces
    cut_up: list[tuple[list[dict[str, Any]], int, str]] = []
    start = 0
    last = quantity(raw[-1]["blockNumber"])
    while len(raw) - start > size:
        cut = start + size
        block = quantity(raw[cut - 1]["blockNumber"])
        while cut < len(raw) and quantity(raw[cut]["blockNumber"]) == block:
            cut += 1
        if cut >= len(raw) or last == block:
            break
        cut_up.append((raw[start:cut], block, str(raw[cut - 1]["blockHash"]).lower()))
        start = cut
    cut_up.append((raw[start:], hi, hi_hash))
    return cut_up


def decode_logs(
    decoder: EventDecoder, raw_logs: Sequence[Mapping[str, Any]], kinds: Mapping[str, str], chain_id: int
) -> tuple[list[Decoded], int]:
    """Decode each log by the kind of its emitter in ``kinds`` (the system's contracts), as an escrow's if it is
    not there, trusting none: the decoded logs in order, an ``Undecodable`` for each one whose data does not match
    its event, and how many logs were ignored (their topic is no event of that kind)."""
    out: list[Decoded] = []
    ignored = 0
    decode = decoder.decode
    with gc_paused():  # hundreds of thousands of small objects: see chain.logs.gc_paused
        for raw in raw_logs:
            emitter = checksum(str(raw["address"]))
            try:
                log = decode(raw, kinds.get(emitter, "escrow"), chain_id)
            except DecodeError as exc:
                out.append(Undecodable(emitter, str(exc)))
                continue
            if log is None:
                ignored += 1
            else:
                out.append(log)
    return out, ignored


def decoded_pieces(
    decoder: EventDecoder,
    raw: list[dict[str, Any]],
    kinds: Mapping[str, str],
    chain_id: int,
    size: int,
    hi: int,
    hi_hash: str,
) -> Iterator[Piece]:
    """The range's ``pieces``, each decoded (``decode_logs``) only when the iteration comes to it."""
    for piece, end, end_hash in pieces(raw, size, hi, hi_hash):
        decoded, ignored = decode_logs(decoder, piece, kinds, chain_id)
        yield decoded, ignored, end, end_hash


# ---------------------------------------------------------------- the wire


def _to_wire(log: Decoded) -> tuple[Any, ...]:
    """A decoded log as plain values for ``marshal`` (which takes no NamedTuple or mapping proxy)."""
    if isinstance(log, Undecodable):
        return tuple(log)
    return (*log[:10], dict(log.raw_strings) if log.raw_strings else None, log.block_time)


def from_wire(values: Sequence[tuple[Any, ...]]) -> list[Decoded]:
    """The decoded logs ``_to_wire`` made; the shared empty ``raw_strings`` back in place. Each is made with
    ``tuple.__new__`` (a NamedTuple's own ``__new__`` is a Python call per log)."""
    new, no_strings = tuple.__new__, _NO_STRINGS
    return [
        new(DecodedLog, (*value[:10], no_strings, value[11])) if len(value) == 12 and value[10] is None else _odd(value)
        for value in values
    ]


_NO_STRINGS = DecodedLog._field_defaults["raw_strings"]  # the one shared empty mapping


def _odd(value: tuple[Any, ...]) -> Decoded:
    if len(value) == 2:
        return Undecodable(*value)
    return tuple.__new__(DecodedLog, (*value[:10], MappingProxyType(value[10]), value[11]))


def _header(header: Header) -> tuple[int, str, str]:
    return (header.number, header.hash, header.parent_hash)


# ---------------------------------------------------------------- the fetch process


def serve(parent: int) -> int:
    """Answer the indexer's requests (read from stdin) on stdout until it closes the pipe (or is gone)."""
    die_with_parent(parent)
    # Nothing here makes cycles: reference counting frees every range, and the collector would only traverse them.
    gc.disable()
    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    try:
        url, timeout, chain_id, topics, kinds, genesis, abis = receive(requests)
        source = ChainSource(JsonRpc(url, timeout=timeout))
        decoder = EventDecoder.from_event_abis(abis)
        placed = tuple(GenesisLog(address, tuple(log_topics), data) for address, log_topics, data in genesis)

        def logs(lo: int, hi: int) -> list[dict[str, Any]]:
            return chain_logs(source, topics, placed, lo, hi)

        send(replies, ("ready", -1))
        while True:
            number, lo, hi, size, limit = receive(requests)
            _answer(replies, number, source, logs, decoder, kinds, chain_id, lo, hi, size, limit)
    except (EOFError, BrokenPipeError):
        pass
    return 0


def _answer(
    replies: IO[bytes],
    number: int,
    source: ChainSource,
    logs: Callable[[int, int], list[dict[str, Any]]],
    decoder: EventDecoder,
    kinds: Mapping[str, str],
    chain_id: int,
    lo: int,
    hi: int,
    size: int,
    limit: int,
) -> None:
    """Request ``number``: ("moved", n), or ("raise", n, error type, message, JSON-RPC error), or ("range", n, top,
    first, count, logs' error, decoded) and, if decoded (no error, and at most ``limit`` logs unless a single
    block), ("piece", n, logs, ignored, end, end hash, last) for each piece."""
    try:
        fetched = fetch_raw(source, logs, lo, hi)
        if fetched is None:
            send(replies, ("moved", number))
            return
        top, first, raw, error = fetched
        decode = error is None and (len(raw) <= limit or hi == lo)
        failed = None if error is None else (str(error), error.error)
        send(replies, ("range", number, _header(top), _header(first), len(raw), failed, decode))
        if not decode:
            return
        cut = pieces(raw, size, hi, top.hash)
        for index, (piece, end, end_hash) in enumerate(cut):
            decoded, ignored = decode_logs(decoder, piece, kinds, chain_id)
            send(
                replies,
                ("piece", number, [_to_wire(log) for log in decoded], ignored, end, end_hash, index == len(cut) - 1),
            )
    except (EOFError, BrokenPipeError):
        raise
    except Exception as exc:  # handed to the indexer, which raises it
        data = exc.error if isinstance(exc, ProviderError) else None
        send(replies, ("raise", number, type(exc).__name__, str(exc), data))


if __name__ == "__main__":
    sys.exit(serve(int(sys.argv[1])))
