"""OCDS pages for the gateway: the mapping and packages of ``indexer.ocds``, one page of procurements at a time, or
the whole release package streamed (the dashboard's download; the exporter `procure audit export-ocds` uses).

The public sees every procurement with its classified fields withheld; an auditor's session sees them. Block times
come from the node (remembered across requests), spec files from ``spec_dir`` (loaded once).
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from chain.errors import ConfigurationError, LedgerError
from chain.roles import org_code
from gateway.core.config import Settings
from gateway.errors import InvalidInput, NotFound, ServiceUnavailable
from gateway.ledger import Ledger
from indexer.ocds.packages import Export, escrows_named, package_header, package_text
from indexer.ocds.releases import ChainBlockTimes, Publication
from indexer.ocds.specs import SpecRegister, default_spec_paths

__all__ = ["OCDS_CURSOR_PATTERN", "OcdsPage", "OcdsPublisher", "decode_ocds_cursor"]

_log = logging.getLogger(__name__)
OCDS_CURSOR_PATTERN = r"^[0-9]{1,19}-[0-9]{1,9}-0x[0-9a-fA-F]{40}$"
_CURSOR = re.compile(OCDS_CURSOR_PATTERN)


def decode_ocds_cursor(cursor: str) -> tuple[int, int, str]:
    """The procurement position in a cursor (``<block>-<logIndex>-<escrow>``, as given in a page's next link)."""
    if not _CURSOR.match(cursor):
        raise InvalidInput("cursor must look like <block>-<logIndex>-<escrow>, as returned in the Link header")
    block, log, escrow = cursor.split("-")
    return int(block), int(log), escrow


@dataclass(frozen=True)
class OcdsPage:
    """A package and where the next page starts (None: this was the last)."""

    package: dict[str, Any]
    next_cursor: str | None


class OcdsPublisher:
    """Release and record packages of the mirror, a page of procurements at a time."""

    def __init__(self, settings: Settings, ledger: Ledger, engine: Engine) -> None:
        self.paths = [settings.spec_dir] if settings.spec_dir is not None else default_spec_paths(settings.var_dir)
        self.stamp: tuple[int, ...] | None = None
        self.publication = Publication(
            ocid_prefix=settings.ocid_prefix,
            gateway_url=settings.siwe_uri,
            publisher=settings.publisher_name,
        )
        self._specs()
        self.engine = engine
        self.chain_id = ledger.chain_id
        self.block_times = ChainBlockTimes(ledger.rpc)

    def _specs(self) -> None:
        """Read the spec folders again when one changed (a procurement created since keeps its spec there: its
        classified fields must be withheld from its first release on)."""
        stamp = tuple(path.stat().st_mtime_ns if path.exists() else 0 for path in self.paths)
        if stamp == self.stamp:
            return
        try:
            specs = SpecRegister.load(self.paths)
        except LedgerError as exc:  # a spec file that is not one: its path and problem go to the log only
            _log.error("OCDS spec register: %s", exc)
            raise ServiceUnavailable(
                "the OCDS publication is unavailable: a spec file is invalid (see the log)"
            ) from None
        self.publication = dataclasses.replace(self.publication, specs=specs)
        self.stamp = stamp

    def ocids(self) -> Callable[[str, str, str], str | None]:
        """How reads name procurements by their ocid, as the OCDS publication does: a function of a procurement's
        buying ministry (its id), on-chain id and spec hash (0x-hex, as mirrored) giving its spec's ocid, else the
        prefix, ministry and id; None while its registered spec is not the one it committed to, or while a spec file
        is invalid (the OCDS routes say why). The spec folders are looked at once per call of this method."""
        try:
            self._specs()
        except ServiceUnavailable:
            return lambda ministry_org, procurement_id, spec_hash: None
        publication = self.publication

        def ocid_of(ministry_org: str, procurement_id: str, spec_hash: str) -> str | None:
            try:
                spec = publication.specs.get(ministry_org, procurement_id, spec_hash)
            except LedgerError:
                return None
            return publication.ocid(org_code(bytes.fromhex(ministry_org[2:])), procurement_id, spec)

        return ocid_of

    def page(
        self,
        kind: str,
        *,
        auditor: bool,
        cursor: str | None = None,
        limit: int = 10,
        name: str | None = None,
    ) -> OcdsPage:
        """A ``release`` or ``record`` package of ``limit`` procurements after ``cursor`` (or those named)."""
        after = None if cursor is None else decode_ocds_cursor(cursor)
        self._specs()
        with self.engine.connect() as conn:
            escrows = None
            if name is not None:
                try:
                    escrows = escrows_named(conn, self.chain_id, name)
                except ConfigurationError as exc:
                    raise InvalidInput(f"procurementId: {exc}") from None
                if not escrows:
                    raise NotFound(f"no procurement {name!r} in the mirror")
            export = Export(
                conn,
                self.chain_id,
                self.publication,
                self.block_times,
                public=not auditor,
                escrows=escrows,
                after=after,
                limit=limit,
                batch=limit,
            )
            try:
                procurements = list(export.procurements())
            except ConfigurationError as exc:  # a registered spec that is not the committed one
                _log.error("OCDS export: %s", exc)
                raise ServiceUnavailable(
                    "the OCDS publication is unavailable: a registered spec does not match the chain (see the log)"
                ) from None
            last = procurements[-1].position if procurements else None
            if name is not None or len(procurements) < limit or last is None or not export.more_after(last):
                last = None
            if kind == "record":
                items = [export.record(procurement) for procurement in procurements]
            else:
                items = [release for procurement in procurements for release in procurement.releases]
        uri = f"{self.publication.gateway_url.rstrip('/')}/ocds/{kind}s"
        package = package_header(kind, self.publication, uri, int(time.time())) | {f"{kind}s": items}
        next_cursor = None if last is None else f"{last[0]}-{last[1]}-{last[2]}"
        return OcdsPage(package, next_cursor)

    def whole_releases(self, *, auditor: bool) -> Iterator[str]:
        """The whole release package, every procurement's releases in creation order, as text a piece at a time
        (``Export.releases`` and ``package_text``, as `procure audit export-ocds --format release-package`). Holds one
        database connection until the last piece; a registered spec found not to match the chain midway stops the
        stream (the package is then not valid JSON, never silently short) and is logged."""
        self._specs()
        uri = f"{self.publication.gateway_url.rstrip('/')}/ocds/releases"
        header = package_header("release", self.publication, uri, int(time.time()))
        with self.engine.connect() as conn:
            export = Export(conn, self.chain_id, self.publication, self.block_times, public=not auditor)
            try:
                yield from package_text("release", header, export.releases())
            except ConfigurationError as exc:
                _log.error("OCDS export: %s (the download was cut)", exc)
                raise
