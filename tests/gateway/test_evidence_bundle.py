"""A bundle manifest: several documents submitted as one piece of evidence (gateway/evidence_bundle.py)."""

from __future__ import annotations

import json

import pytest

from gateway.evidence_bundle import MAX_BUNDLE_DOCUMENTS, BundleMember, bundle_manifest, bundle_members

A = BundleMember("0x" + "aa" * 32, "report.pdf", "application/pdf", 10)
B = BundleMember("0x" + "bb" * 32, "data.csv", "text/csv", 20)


def test_a_manifest_round_trips_and_is_canonical() -> None:
    manifest = bundle_manifest([A, B])
    assert bundle_members(manifest) == [A, B]
    assert manifest == bundle_manifest([A, B])  # the same documents, the same bytes, the same hash
    assert b" " not in manifest
    assert bundle_manifest([B, A]) != manifest  # the order is the supplier's, and signed


def test_a_bundle_holds_two_to_the_limit_of_distinct_documents() -> None:
    with pytest.raises(ValueError, match="2 to"):
        bundle_manifest([A])
    with pytest.raises(ValueError, match="once"):
        bundle_manifest([A, A])
    many = [BundleMember("0x" + f"{i:064x}", f"{i}.pdf", "application/pdf", 1) for i in range(MAX_BUNDLE_DOCUMENTS + 1)]
    with pytest.raises(ValueError, match="2 to"):
        bundle_manifest(many)


@pytest.mark.parametrize(
    "body",
    [
        b"%PDF-1.7 not json",
        b"{not json",
        json.dumps({"evidenceBundle": 2, "documents": []}).encode(),
        json.dumps({"evidenceBundle": 1, "documents": [A.as_json()]}).encode(),  # one document is no bundle
        json.dumps({"evidenceBundle": 1, "documents": [A.as_json(), A.as_json()]}).encode(),
        json.dumps({"evidenceBundle": 1, "documents": [A.as_json(), B.as_json()], "extra": 1}).encode(),
        json.dumps({"evidenceBundle": 1, "documents": [A.as_json(), {**B.as_json(), "size": -1}]}).encode(),
        json.dumps({"evidenceBundle": 1, "documents": [A.as_json(), {**B.as_json(), "size": True}]}).encode(),
        json.dumps({"evidenceBundle": 1, "documents": [A.as_json(), {**B.as_json(), "documentHash": "0x12"}]}).encode(),
        json.dumps({"evidenceBundle": 1, "documents": [A.as_json(), {**B.as_json(), "filename": "x" * 256}]}).encode(),
        json.dumps({"evidenceBundle": 1, "documents": [A.as_json(), {**B.as_json(), "hidden": "x"}]}).encode(),
    ],
)
def test_anything_else_is_an_ordinary_document(body: bytes) -> None:
    assert bundle_members(body) is None
