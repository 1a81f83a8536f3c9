"""`procure audit export-ocds`: the mirror published as OCDS 1.1 (release or record package, CSV, XLSX).

Registered on the `audit` group (scripts/cli_indexer.py). The mapping lives in ``indexer.ocds``; this command only
reads options, opens the mirror and the node (for block times) and writes.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import click

from scripts._common import Context, MomentType, clean_errors, mirror_options, pass_context

__all__ = ["export_ocds"]

_FORMATS = ("record-package", "release-package", "csv", "xlsx")


@click.command("export-ocds")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(_FORMATS),
    default="record-package",
    show_default=True,
    help="A record package (releases and compiled records), a release package, or the releases flattened.",
)
@click.option(
    "--procurement",
    "name",
    default=None,
    help="Only this procurement: its ocid, escrow address or on-chain id. [default: every one]",
)
@click.option(
    "--since",
    type=MomentType(end_of_day=False),
    default=None,
    help="Only releases dated from then on (records: procurements with one): a date (00:00 JST that day), a time "
    "with its offset or unix seconds.",
)
@click.option(
    "--public/--auditor",
    default=True,
    show_default=True,
    help="Withhold the fields each spec marks classified (declared in withheldInformation), or include them.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Write here (a folder for csv, a file otherwise). [default: stdout; csv and xlsx need --out]",
)
@mirror_options
@click.option(
    "--gateway-url",
    envvar="PROCURE_GATEWAY_URL",
    default="http://127.0.0.1:8000",
    show_default=True,
    help="Where documents are served (each document's url).",
)
@click.option("--publisher", default="Procurement ledger", show_default=True, help="The packages' publisher name.")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Processes compiling records side by side (record-package; each asks the node for block times).",
)
@click.option(
    "--reference-merge",
    is_flag=True,
    help="Compile records with ocdsmerge, the reference implementation (the same bytes, several times slower): "
    "to re-check the publication's own compile.",
)
@pass_context
@clean_errors
def export_ocds(
    context: Context,
    output_format: str,
    name: str | None,
    since: int | None,
    public: bool,
    out: Path | None,
    db: str | None,
    spec_paths: tuple[Path, ...],
    ocid_prefix: str,
    gateway_url: str,
    publisher: str,
    workers: int,
    reference_merge: bool,
) -> None:
    """Publish the mirror as OCDS 1.1: one release per state change of each procurement (block times from the mirror),
    streamed, validated against the vendored schemas with the declared extensions."""
    from chain.errors import ConfigurationError
    from indexer.ocds.flatten import flatten_package
    from indexer.ocds.packages import Export, escrows_named, mirrored_chain, package_header, write_package
    from indexer.ocds.releases import ChainBlockTimes, Publication

    flat = output_format in ("csv", "xlsx")
    if flat and out is None:
        raise ConfigurationError(f"--format {output_format} writes files: give --out")
    publication = Publication(
        ocid_prefix=ocid_prefix, gateway_url=gateway_url, publisher=publisher, specs=context.specs(spec_paths)
    )
    with context.mirror(db) as engine, engine.connect() as conn:
        chain_id = mirrored_chain(conn)
        escrows = None
        if name is not None:
            escrows = escrows_named(conn, chain_id, name)
            if not escrows:
                raise ConfigurationError(f"no procurement {name!r} in the mirror")
        export = Export(
            conn,
            chain_id,
            publication,
            ChainBlockTimes(context.rpc()),
            public=public,
            escrows=escrows,
            since=since,
            reference_merge=reference_merge,
        )
        kind = "record" if output_format == "record-package" else "release"
        uri = f"{gateway_url.rstrip('/')}/ocds/{kind}s"
        header = package_header(kind, publication, uri, int(time.time()))
        items = export.encoded_records(workers) if kind == "record" else export.releases()
        if flat:
            assert out is not None
            with tempfile.TemporaryDirectory() as folder:
                package = Path(folder) / "releases.json"
                with package.open("w", encoding="utf-8") as file:
                    count = write_package(file, kind, header, items)
                flatten_package(package, out, output_format)
        elif out is None:
            count = write_package(sys.stdout, kind, header, items)
        else:
            partial = out.with_name(out.name + f".{os.getpid()}.part")
            with partial.open("w", encoding="utf-8") as file:
                count = write_package(file, kind, header, items)
            partial.replace(out)  # a reader never sees half a package
    view = "public" if public else "auditor's"
    click.echo(f"{count} {kind}s exported ({view} view){'' if out is None else f' to {out}'}", err=True)
