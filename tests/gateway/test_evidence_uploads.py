"""Evidence stored once by content, but each uploader with its own record: no one sees another organization's
filename or uploader, and everyone can read back what it uploaded."""

from __future__ import annotations

from typing import Any

import pytest

from tests.gateway.conftest import Api

CONTENT = b"%PDF-1.7 identical bytes from two organizations"


def _upload(api: Api, label: str, name: str, content: bytes = CONTENT, content_type: str = "application/pdf") -> Any:
    response = api.client.post("/evidence", headers=api.sign_in(label), files={"file": (name, content, content_type)})
    assert response.status_code == 201, response.text
    return response.json()


def _meta(api: Api, label: str, document: str) -> Any:
    return api.client.get(f"/evidence/{document}/meta", headers=api.sign_in(label))


@pytest.fixture
def both(api: Api) -> str:
    """The same bytes uploaded by NVE's supplier, then by OTHERCO's; the document hash."""
    first = _upload(api, "supplier", "nve-acceptance.pdf")
    second = _upload(api, "other_supplier", "otherco-quote.pdf", content_type="text/plain")
    assert first["documentHash"] == second["documentHash"]
    return str(first["documentHash"])


def test_the_second_uploader_gets_its_own_record(api: Api, both: str) -> None:
    mine = _meta(api, "other_supplier", both)
    assert mine.status_code == 200
    assert mine.json()["uploadedBy"] == api.world.accounts["other_supplier"].address
    assert mine.json()["filename"] == "otherco-quote.pdf"
    download = api.client.get(f"/evidence/{both}", headers=api.sign_in("other_supplier"))
    assert download.status_code == 200
    assert download.content == CONTENT
    assert download.headers["content-type"].startswith("text/plain")  # its own declared type


def test_the_first_uploader_and_its_organization_see_only_their_record(api: Api, both: str) -> None:
    for label in ("supplier", "supplier_colleague"):
        record = _meta(api, label, both).json()
        assert record["uploadedBy"] == api.world.accounts["supplier"].address
        assert record["filename"] == "nve-acceptance.pdf"
        assert record["contentType"] == "application/pdf"


def test_a_bystander_learns_nothing(api: Api, both: str) -> None:
    assert _meta(api, "eval4", both).status_code == 404
    assert api.client.get(f"/evidence/{both}", headers=api.sign_in("eval4")).status_code == 404


def test_a_reupload_replaces_the_uploaders_own_metadata_only(api: Api, both: str) -> None:
    _upload(api, "other_supplier", "renamed.pdf")
    assert _meta(api, "other_supplier", both).json()["filename"] == "renamed.pdf"
    assert _meta(api, "supplier", both).json()["filename"] == "nve-acceptance.pdf"
    with api.state.engine.connect() as connection:
        uploads = connection.exec_driver_sql("SELECT uploaded_by FROM gateway_uploads ORDER BY id").scalars().all()
        documents = connection.exec_driver_sql("SELECT count(*) FROM gateway_documents").scalar()
    assert uploads == [api.world.accounts["supplier"].address, api.world.accounts["other_supplier"].address]
    assert documents == 1


def test_readers_of_a_submission_see_the_submitters_record(api: Api, procurement: str, both: str) -> None:
    supplier = api.sign_in("supplier")
    fields = {"milestoneId": 0, "documentHash": both}
    assert api.act("supplier", supplier, procurement, "submit-evidence", fields, wait=True).status_code == 200
    api.sync()
    for label in ("eval1", "auditor", "officer"):
        record = _meta(api, label, both)
        assert record.status_code == 200, (label, record.text)
        assert record.json()["filename"] == "nve-acceptance.pdf", label
    assert _meta(api, "other_supplier", both).json()["filename"] == "otherco-quote.pdf"


def test_a_supplier_cannot_submit_a_document_only_another_organization_uploaded(api: Api, procurement: str) -> None:
    theirs = _upload(api, "other_supplier", "theirs.pdf", content=b"only OTHERCO has these bytes")
    supplier = api.sign_in("supplier")
    params = {"milestoneId": 0, "documentHash": theirs["documentHash"]}
    response = api.client.get(f"/procurements/{procurement}/actions/submit-evidence", headers=supplier, params=params)
    assert response.status_code == 422
    assert "not uploaded by your organization" in response.json()["detail"]


def test_an_auditor_sees_an_unsubmitted_document_by_its_first_upload(api: Api, both: str) -> None:
    assert _meta(api, "auditor", both).json()["filename"] == "nve-acceptance.pdf"
