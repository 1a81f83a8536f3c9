"""The content-addressed evidence store: named by SHA-256, atomic, limited, re-verified on read."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from chain import ni_uri
from gateway.errors import EvidenceCorrupted, InvalidInput, NotFound, PayloadTooLarge
from gateway.services.evidence import EvidenceStore, parse_digest


def test_put_names_the_document_by_its_hash(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path, max_bytes=1024)
    digest, size = store.put(io.BytesIO(b"hello"))
    assert digest == hashlib.sha256(b"hello").hexdigest()
    assert size == 5
    assert store.path_for(digest).read_bytes() == b"hello"
    assert store.read_verified("0x" + digest.upper(), 5) == b"hello"
    assert store.put(io.BytesIO(b"hello")) == (digest, 5)  # idempotent
    assert not list((tmp_path / "tmp").iterdir())


def test_oversized_document_leaves_nothing_behind(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path, max_bytes=10)
    with pytest.raises(PayloadTooLarge):
        store.put(io.BytesIO(b"x" * 11))
    assert not list((tmp_path / "tmp").iterdir())
    assert not (tmp_path / "sha256").exists()


def test_changed_document_is_reported_and_healed_by_a_new_upload(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path, max_bytes=1024)
    digest, size = store.put(io.BytesIO(b"original"))
    path = store.path_for(digest)
    path.chmod(0o640)
    path.write_bytes(b"tampered")
    with pytest.raises(EvidenceCorrupted):
        store.read_verified(digest, size)
    store.put(io.BytesIO(b"original"))
    assert store.read_verified(digest, size) == b"original"


def test_missing_and_malformed_hashes(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path, max_bytes=1024)
    with pytest.raises(NotFound):
        store.read_verified("ab" * 32, 1)
    with pytest.raises(InvalidInput):
        parse_digest("../../etc/passwd")


def test_ni_uri_is_rfc_6920() -> None:
    # RFC 6920 section 3, example: sha-256 of "Hello World!".
    digest = hashlib.sha256(b"Hello World!").hexdigest()
    assert ni_uri(digest) == "ni:///sha-256;f4OxZX_x_FO5LcGBSKHWXfwtSx-j1ncoSt3SABJtkGk"
