"""OCDS release packages and record packages, streamed: the mirror's procurements are read a batch at a time and
their releases (or records) written out as they are built, so a publication of any size never sits in memory.

Records are compiled with the merge rules of the vendored release schema (the declared extensions applied), nothing
fetched: by ``indexer.ocds.compiled`` (OCDS's merge routine over the nested releases, ocdsmerge's output to the
byte), or by ocdsmerge itself, the reference an auditor can re-check with (``reference_merge``). A public export cuts
each procurement's classified fields from its releases before anything is written or merged
(``indexer.ocds.withheld``); an auditor's export keeps them.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TextIO

import ocdsmerge
from sqlalchemy import Connection, and_, or_, select

from chain.times import iso
from indexer.models import ProcurementRow
from indexer.ocds.compiled import compile_release
from indexer.ocds.releases import BlockTimes, Publication, ReleaseBuilder, chunks
from indexer.ocds.schema import EXTENSIONS, release_schema
from indexer.ocds.withheld import withhold

__all__ = [
    "Export",
    "ProcurementReleases",
    "escrows_named",
    "mirrored_chain",
    "package_header",
    "package_text",
    "write_package",
]

_p = ProcurementRow.__table__.c


@dataclass(frozen=True)
class ProcurementReleases:
    """One procurement's releases as exported (classified fields cut in a public export)."""

    escrow: str
    position: tuple[int, int, str]  # its creation's (block, log index, escrow): the export's order, a page cursor
    ocid: str
    releases: list[dict[str, Any]]


@dataclass
class Export:
    """What to export: every procurement of the chain, or those given (escrow addresses), created after a position,
    with a release since a time; public (classified fields cut) or for auditors."""

    conn: Connection
    chain_id: int
    publication: Publication
    block_times: BlockTimes
    public: bool = True
    escrows: Sequence[str] | None = None
    since: int | None = None  # unix time: only releases dated from then on (records: procurements with one)
    after: tuple[int, int, str] | None = None  # creation position to start after (a page cursor)
    limit: int | None = None  # procurements at most
    batch: int = 200
    reference_merge: bool = False  # compile records with ocdsmerge (the reference; slower), not ``compile_release``

    def procurements(self) -> Iterator[ProcurementReleases]:
        """The selected procurements in creation order, each with its releases."""
        builder = ReleaseBuilder(self.conn, self.chain_id, self.publication, self.block_times)
        after = self.after
        left = self.limit
        while left is None or left > 0:
            size = self.batch if left is None else min(self.batch, left)
            rows = self._page(after, size)
            if not rows:
                return
            after = (rows[-1].block_number, rows[-1].log_index, rows[-1].escrow)
            for row, spec, releases in builder.releases(rows):
                if self.public and spec is not None and spec.classified:
                    releases = [withhold(release, spec.classified) for release in releases]
                if self.since is not None:
                    since = iso(self.since)
                    if not any(_at_or_after(release["date"], since) for release in releases):
                        continue
                ocid = releases[0]["ocid"]
                yield ProcurementReleases(row.escrow, (row.block_number, row.log_index, row.escrow), ocid, releases)
            if left is not None:
                left -= len(rows)
            if len(rows) < size:
                return

    def more_after(self, position: tuple[int, int, str]) -> bool:
        """Whether a selected procurement follows ``position`` (a page's last): no empty last page."""
        return bool(self._page(position, 1))

    def _page(self, after: tuple[int, int, str] | None, size: int) -> list[Any]:
        statement = select(ProcurementRow.__table__).where(_p.chain_id == self.chain_id)
        if self.escrows is not None:
            statement = statement.where(_p.escrow.in_(list(self.escrows)))
        if after is not None:
            block, log, escrow = after  # the escrow breaks ties on nodes that number logs per transaction
            statement = statement.where(
                or_(
                    _p.block_number > block,
                    and_(_p.block_number == block, _p.log_index > log),
                    and_(_p.block_number == block, _p.log_index == log, _p.escrow > escrow),
                )
            )
        order = (_p.block_number, _p.log_index, _p.escrow)
        return list(self.conn.execute(statement.order_by(*order).limit(size)).all())

    # ------------------------------------------------------------ what a package holds

    def releases(self) -> Iterator[dict[str, Any]]:
        """Every selected release, in order."""
        since = None if self.since is None else iso(self.since)
        for procurement in self.procurements():
            for release in procurement.releases:
                if since is None or _at_or_after(release["date"], since):
                    yield release

    @cached_property
    def _merger(self) -> ocdsmerge.Merger:
        return ocdsmerge.Merger(schema=release_schema())

    def record(self, procurement: ProcurementReleases) -> dict[str, Any]:
        """A procurement's record: its releases and the release compiled from them."""
        if self.reference_merge:
            compiled = self._merger.create_compiled_release(procurement.releases)
        else:
            compiled = compile_release(procurement.releases)
        return {"ocid": procurement.ocid, "releases": procurement.releases, "compiledRelease": compiled}

    def records(self) -> Iterator[dict[str, Any]]:
        """Every selected procurement's record, in order."""
        for procurement in self.procurements():
            yield self.record(procurement)

    def encoded_records(self, workers: int = 1) -> Iterator[str]:
        """Every selected record as JSON text, in order; with ``workers`` > 1, that many processes build and compile
        batches side by side (each with its own connection; the block times must survive pickling)."""
        if workers <= 1:
            for record in self.records():
                yield _encoded(record)
            return
        url = self.conn.engine.url.render_as_string(hide_password=False)
        tasks = (
            _Batch(
                url,
                self.chain_id,
                self.publication,
                self.block_times,
                self.public,
                self.since,
                list(escrows),
                self.reference_merge,
            )
            for page in self._escrow_batches()
            for escrows in chunks(page, _WORKER_BATCH)
        )
        with multiprocessing.get_context("spawn").Pool(workers) as pool:  # no fork of a live connection
            for texts in pool.imap(_compile_batch, tasks):
                yield from texts

    def _escrow_batches(self) -> Iterator[list[str]]:
        after, left = self.after, self.limit
        while left is None or left > 0:
            size = self.batch if left is None else min(self.batch, left)
            rows = self._page(after, size)
            if not rows:
                return
            after = (rows[-1].block_number, rows[-1].log_index, rows[-1].escrow)
            yield [row.escrow for row in rows]
            if left is not None:
                left -= len(rows)
            if len(rows) < size:
                return


@dataclass(frozen=True)
class _Batch:
    """A batch of procurements for a worker process: where the mirror is, and what to export of them."""

    url: str
    chain_id: int
    publication: Publication
    block_times: BlockTimes
    public: bool
    since: int | None
    escrows: list[str]
    reference_merge: bool = False


# Procurements per worker task: a task's rows, records and their JSON text sit in the worker, in the pipe and in the
# writer at once (at 200 procurements of ~100 events each, the export's processes together peaked at 711 MB).
_WORKER_BATCH = 50
_ENGINES: dict[str, Any] = {}  # a worker's engine per mirror URL


def _compile_batch(batch: _Batch) -> list[str]:
    """A worker's part: the batch's records as JSON text, in creation order."""
    from indexer.schema import make_engine

    engine = _ENGINES.get(batch.url)
    if engine is None:
        engine = _ENGINES[batch.url] = make_engine(batch.url)
    with engine.connect() as conn:
        export = Export(
            conn,
            batch.chain_id,
            batch.publication,
            batch.block_times,
            public=batch.public,
            escrows=batch.escrows,
            since=batch.since,
            batch=len(batch.escrows),
            reference_merge=batch.reference_merge,
        )
        return [_encoded(record) for record in export.records()]


# A package's JSON: UTF-8 as it is, json.dumps's separators. Releases and records are trees built fresh from the
# mirror (no cycles), so the encoder does not look for any (a tenth of its time).
_encoded = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode


def _at_or_after(date: str, since: str) -> bool:
    return dt.datetime.fromisoformat(date) >= dt.datetime.fromisoformat(since)


def package_header(kind: str, publication: Publication, uri: str, published: int) -> dict[str, Any]:
    """A release or record package's metadata: its uri, publication time, publisher and declared extensions."""
    publisher: dict[str, Any] = {"name": publication.publisher}
    if publication.publisher_uri:
        publisher["uri"] = publication.publisher_uri
    if kind not in ("release", "record"):
        raise ValueError(f"no {kind!r} package: release or record")
    return {
        "uri": uri,
        "version": "1.1",
        "publishedDate": iso(published),
        "publisher": publisher,
        "extensions": list(EXTENSIONS),
    }


def write_package(out: TextIO, kind: str, header: dict[str, Any], items: Iterator[dict[str, Any] | str]) -> int:
    """A release (``kind`` release: items are releases) or record package written to ``out`` item by item (a dict,
    or its JSON text); the number of items. Integers stay integers (yen are never floats)."""
    counted = _Counted(items)
    for text in package_text(kind, header, counted):
        out.write(text)
    return counted.count


def package_text(kind: str, header: dict[str, Any], items: Iterator[dict[str, Any] | str]) -> Iterator[str]:
    """``write_package``'s text, a piece at a time (the header, then each item): for a streamed response."""
    body = _encoded(header)
    yield body[:-1] + f', "{kind}s": ['
    first = True
    for item in items:
        yield "\n" if first else ",\n"
        yield item if isinstance(item, str) else _encoded(item)
        first = False
    yield "\n]}\n"


class _Counted:
    """An iterator that counts what it gave."""

    def __init__(self, items: Iterator[dict[str, Any] | str]) -> None:
        self.items = items
        self.count = 0

    def __iter__(self) -> _Counted:
        return self

    def __next__(self) -> dict[str, Any] | str:
        item = next(self.items)
        self.count += 1
        return item


_UNREGISTERED_OCID = re.compile(r"^ocds-[a-z0-9]{6}-(?P<ministry>.{1,16})-(?P<id>[0-9a-f]{64})$")


def escrows_named(conn: Connection, chain_id: int, name: str) -> list[str]:
    """The escrows of the mirror's procurements named ``name``: its ocid, escrow address or on-chain id
    (``chain.parse_procurement_name``, whose ConfigurationError names what is wrong with anything else), or the ocid
    published for a procurement without a registered spec (``<prefix>-<ministry>-<on-chain id>``, ``Publication``);
    a procurement id may be used by several ministries."""
    from chain.abi import checksum
    from chain.procurement_name import parse_procurement_name
    from chain.roles import org_id

    named = parse_procurement_name(name)
    statement = select(_p.escrow).where(_p.chain_id == chain_id)
    if named.escrow is not None:
        return [row.escrow for row in conn.execute(statement.where(_p.escrow == checksum(named.escrow)))]
    assert named.procurement_id is not None
    found = [
        row.escrow for row in conn.execute(statement.where(_p.procurement_id == "0x" + named.procurement_id.hex()))
    ]
    unregistered = _UNREGISTERED_OCID.match(name)
    if unregistered is not None and unregistered["ministry"].isascii():
        ministry = "0x" + org_id(unregistered["ministry"]).hex()
        statement = statement.where(_p.procurement_id == "0x" + unregistered["id"], _p.ministry_org == ministry)
        found += [row.escrow for row in conn.execute(statement)]
    return found


def mirrored_chain(conn: Connection) -> int:
    """The chain id the mirror holds (ConfigurationError if it holds none, or several)."""
    from chain.errors import ConfigurationError
    from indexer.models import CursorRow

    chains = [row.chain_id for row in conn.execute(select(CursorRow.__table__.c.chain_id))]
    if len(chains) != 1:
        held = "no chain (run `procure index` first)" if not chains else f"chains {sorted(chains)}"
        raise ConfigurationError(f"the mirror holds {held}; OCDS exports one chain")
    return int(chains[0])
