"""Offline validation of OCDS exports, shared by the indexer's and the gateway's tests.

* ``schema_errors``: jsonschema Draft 4 with format checks on, against the vendored package schemas with the
  declared extensions applied to the release schema (the package schemas' ``$ref`` to the release schema is
  resolved to that merged schema, never fetched).
* ``cove_report``: libcoveocds (the official validator) with the standard zip copied into ``tests/resources``
  and the declared extensions' URLs answered from the vendored copies (``indexer/ocds/schema/extensions``) by a
  requests adapter mounted on ocdsextensionregistry's session: nothing leaves the machine.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jsonschema
import requests
from referencing import Registry, Resource
from requests.adapters import BaseAdapter
from urllib3.response import HTTPResponse

from indexer.ocds.schema import EXTENSIONS, SCHEMA_DIR, package_schema, release_schema

STANDARD_ZIP = Path(__file__).resolve().parent / "resources" / "standard-1__1__5.zip"
_STANDARD_BASE = "https://standard.open-contracting.org/schema/1__1__5/"
_RELEASE_URL = _STANDARD_BASE + "release-schema.json"
_RELEASE_PACKAGE_URL = "https://standard.open-contracting.org/schema/1__1__5/release-package-schema.json"
_EXTENSION_BASES = {url.rsplit("/", 1)[0] + "/": url for url in EXTENSIONS}


def _folder(extension_url: str) -> Path:
    repo = extension_url.split("/")[4]  # https://raw.githubusercontent.com/<org>/<repo>/<ref>/extension.json
    return SCHEMA_DIR / "extensions" / repo


def _validator(kind: str) -> jsonschema.Draft4Validator:
    release = release_schema()
    registry: Registry[Any] = Registry().with_resources(
        [
            (_RELEASE_URL, Resource.from_contents(release)),
            (_RELEASE_PACKAGE_URL, Resource.from_contents(package_schema("release"))),
        ]
    )
    return jsonschema.Draft4Validator(
        package_schema(kind), registry=registry, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER
    )


def schema_errors(package: dict[str, Any], kind: str) -> list[str]:
    """Every error of a ``release`` or ``record`` package (and of each release and compiled release in it)."""
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in _validator(kind).iter_errors(package)]
    release = jsonschema.Draft4Validator(release_schema(), format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
    items = package.get("releases", []) if kind == "release" else []
    for record in package.get("records", []):
        items = [*items, *record["releases"], record["compiledRelease"]]
    for item in items:  # the package schemas check releases only by their $ref: say it again, release by release
        errors += [f"{item.get('id')} {list(e.absolute_path)}: {e.message}" for e in release.iter_errors(item)]
    return errors


def _vendored(url: str) -> bytes | None:
    """A declared extension's file (raw.githubusercontent.com) or its repository's archive (github.com), from
    the vendored copy; None for anything else."""
    for base, extension in _EXTENSION_BASES.items():
        folder = _folder(extension)
        if url.startswith(base):
            path = folder / url[len(base) :]
            return path.read_bytes() if path.is_file() else None
        org, repo, ref = extension.split("/")[3:6]
        if url == f"https://github.com/{org}/{repo}/archive/{ref}.zip":
            archive = io.BytesIO()
            with zipfile.ZipFile(archive, "w") as zipped:
                zipped.writestr(f"{repo}-{ref}/", b"")  # first, as in GitHub's archives: the others are under it
                for path in sorted(folder.rglob("*")):
                    if path.is_file():
                        zipped.write(path, f"{repo}-{ref}/{path.relative_to(folder)}")
            return archive.getvalue()
    return None


class _VendoredExtensions(BaseAdapter):
    """Answers the declared extensions' URLs from the vendored files; 404 for anything else."""

    def send(  # the transport options mean nothing to files on disk
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        response = requests.Response()
        response.url = str(request.url)
        response.request = request
        content = _vendored(response.url)
        found = content is not None
        content = content or b""
        response.status_code = 200 if found else 404
        response.reason = "OK" if found else "Not Found"
        response._content = content
        # requests-cache (ocdsextensionregistry's session) keeps the raw response: give it one
        response.raw = HTTPResponse(
            body=io.BytesIO(content), status=response.status_code, preload_content=False, request_url=response.url
        )
        return response

    def close(self) -> None:
        """Nothing to release."""


class _StandardFromZip:
    """What jsonref asks of ``requests`` (``get(url).json()``), answered from the standard zip: the record package
    schema's reference to the versioned release schema is resolved there."""

    @staticmethod
    def get(url: str, **kwargs: Any) -> requests.Response:
        response = requests.Response()
        response.url = url
        name = url.removeprefix(_STANDARD_BASE)
        with zipfile.ZipFile(STANDARD_ZIP) as standard:
            member = f"standard-1__1__5/schema/{name}"
            found = url.startswith(_STANDARD_BASE) and member in standard.namelist()
            response._content = standard.read(member) if found else b""
        response.status_code = 200 if found else 404
        return response


@contextmanager
def _offline_extensions() -> Iterator[None]:
    import jsonref
    from ocdsextensionregistry import util

    session = util.session
    saved = dict(session.adapters)
    session.mount("https://raw.githubusercontent.com/", _VendoredExtensions())
    session.mount("https://github.com/", _VendoredExtensions())
    saved_requests = jsonref.requests
    jsonref.requests = _StandardFromZip
    try:
        yield
    finally:
        session.adapters.clear()
        session.adapters.update(saved)
        jsonref.requests = saved_requests


def cove_report(package: dict[str, Any], kind: str) -> dict[str, Any]:
    """libcoveocds' report on a ``release`` or ``record`` package, offline."""
    from libcoveocds.api import ocds_json_output
    from libcoveocds.config import LibCoveOCDSConfig

    config = LibCoveOCDSConfig()
    config.config["context"] = "api"
    config.config["standard_zip"] = STANDARD_ZIP.as_uri()
    with tempfile.TemporaryDirectory() as folder, _offline_extensions():
        path = Path(folder) / "package.json"
        path.write_text(json.dumps(package), encoding="utf-8")
        report: dict[str, Any] = ocds_json_output(
            folder, str(path), schema_version="1.1", lib_cove_ocds_config=config, record_pkg=kind == "record"
        )
    return report
