"""Several documents submitted as one piece of evidence: a bundle manifest.

A milestone's evidence is one document hash on chain. To submit several documents, the supplier uploads each,
then uploads a manifest listing them (this JSON, ``application/json``) and submits the manifest's hash: the
chain then commits to every listed document through the manifest. The gateway serves a bundle's members to
whoever may read the submission (``GET /procurements/{id}/milestones/{m}/evidence/...``), and
``procure client evidence`` downloads them all, checking each hash.

The manifest is canonical JSON (sorted keys, no spaces), so the same documents in the same order always give the
same hash. Standard library only.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

__all__ = ["MAX_BUNDLE_DOCUMENTS", "MAX_MANIFEST_BYTES", "BundleMember", "bundle_manifest", "bundle_members"]

MAX_BUNDLE_DOCUMENTS = 64
MAX_MANIFEST_BYTES = MAX_BUNDLE_DOCUMENTS * 1024  # a larger document is never read as a manifest
_VERSION = 1
_HASH = re.compile(r"^0x[0-9a-f]{64}$")


@dataclass(frozen=True)
class BundleMember:
    """One document of a bundle, as the supplier uploaded it."""

    document_hash: str  # 0x and 64 lowercase hex digits (SHA-256)
    filename: str
    content_type: str
    size: int

    def as_json(self) -> dict[str, object]:
        """The member's entry in the manifest."""
        return {
            "documentHash": self.document_hash,
            "filename": self.filename,
            "contentType": self.content_type,
            "size": self.size,
        }


def bundle_manifest(members: list[BundleMember]) -> bytes:
    """The manifest of ``members`` (2 to MAX_BUNDLE_DOCUMENTS distinct documents), as canonical JSON bytes."""
    if not 2 <= len(members) <= MAX_BUNDLE_DOCUMENTS:
        raise ValueError(f"a bundle holds 2 to {MAX_BUNDLE_DOCUMENTS} documents, not {len(members)}")
    hashes = [m.document_hash for m in members]
    if len(set(hashes)) != len(hashes):
        raise ValueError("a bundle lists each document once")
    body = {"evidenceBundle": _VERSION, "documents": [m.as_json() for m in members]}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def bundle_members(data: bytes) -> list[BundleMember] | None:
    """The members listed by a manifest; None if ``data`` is not a well-formed bundle manifest (then it is an
    ordinary document, and only itself is the evidence)."""
    if not data.startswith(b"{") or len(data) > MAX_MANIFEST_BYTES:
        return None
    try:
        body = json.loads(data)
    except ValueError:
        return None
    if (
        not isinstance(body, dict)
        or body.get("evidenceBundle") != _VERSION
        or set(body) != {"evidenceBundle", "documents"}
    ):
        return None
    documents = body["documents"]
    if not isinstance(documents, list) or not 2 <= len(documents) <= MAX_BUNDLE_DOCUMENTS:
        return None
    members = []
    for entry in documents:
        if not isinstance(entry, dict) or set(entry) != {"documentHash", "filename", "contentType", "size"}:
            return None
        digest, filename, content_type, size = (
            entry["documentHash"],
            entry["filename"],
            entry["contentType"],
            entry["size"],
        )
        if not isinstance(digest, str) or not _HASH.match(digest):
            return None
        if not isinstance(filename, str) or not isinstance(content_type, str) or len(filename) > 255:
            return None
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            return None
        members.append(BundleMember(digest, filename, content_type[:127], size))
    if len({m.document_hash for m in members}) != len(members):
        return None
    return members
