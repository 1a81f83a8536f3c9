"""OCDS release packages flattened to CSV (a folder of sheets) or XLSX with flattentool, against the vendored
release schema (the declared extensions applied; nothing fetched). flattentool reads the whole package: a
publication is flattened from the package file the streamed export wrote."""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path

from indexer.ocds.schema import release_schema

__all__ = ["FORMATS", "flatten_package"]

FORMATS = ("csv", "xlsx")


def flatten_package(package: Path, output: Path, output_format: str) -> None:
    """The release package at ``package`` flattened into ``output`` (CSV: a folder of sheets; XLSX: a file)."""
    if output_format not in FORMATS:
        raise ValueError(f"no {output_format!r} flattening: one of {', '.join(FORMATS)}")
    import flattentool  # loaded only for a flat export (it pulls in openpyxl and more)

    with tempfile.TemporaryDirectory() as folder:
        schema = Path(folder) / "release-schema.json"
        schema.write_text(json.dumps(release_schema()), encoding="utf-8")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # flattentool warns about every field the schema does not list
            flattentool.flatten(
                str(package),
                schema=str(schema),
                output_name=str(output),
                output_format=output_format,
                main_sheet_name="releases",
                root_list_path="releases",
                root_id="ocid",
                disable_local_refs=True,
                remove_empty_schema_columns=True,
            )
