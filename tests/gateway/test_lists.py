"""The lists: a query parameter a list does not take is refused, never ignored; refunds are listed with
payments; times come with their ISO 8601 form."""

from __future__ import annotations

import datetime as dt

import pytest

from chain.clients import DAY
from tests.gateway.conftest import Api
from tests.helpers import new_escrow


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/payments", {"ministry": "MOFA"}),
        ("/procurements", {"ministri": "MOD"}),
        ("/milestones", {"procurementId": "0x" + "00" * 32, "colour": "red"}),
        ("/attestations", {"pass": "true"}),
    ],
)
def test_an_unknown_filter_is_a_422_naming_it(api: Api, path: str, query: dict[str, str]) -> None:
    api.sync()
    auditor = api.sign_in("auditor")
    response = api.client.get(path, headers=auditor, params=query)
    assert response.status_code == 422, response.text
    body = response.json()
    unknown = next(name for name in query if name not in ("procurementId",))
    assert body["errors"][0]["loc"] == ["query", unknown]
    assert body["detail"].startswith(f"query.{unknown}: unknown filter {unknown!r}; this list takes ")
    assert "limit" in body["detail"]
    assert "offset" in body["detail"]


def test_known_filters_and_paging_still_work(api: Api, procurement: str) -> None:
    api.sync()
    auditor = api.sign_in("auditor")
    response = api.client.get("/procurements", headers=auditor, params={"ministry": "MOD", "limit": 5, "offset": 0})
    assert response.status_code == 200, response.text
    assert response.json()["count"] >= 1


def test_refunds_are_listed_with_payments(api: Api) -> None:
    world = api.world
    escrow, params = new_escrow(world)
    pid = "0x" + bytes(params[0]).hex()
    world.tester.time_travel(params[5][0] + DAY)  # milestone 0 is past due, never delivered: the ministry reclaims
    world.sender("officer").transact(escrow.functions.reclaim(0))
    api.sync()
    auditor = api.sign_in("auditor")
    rows = api.client.get("/payments", headers=auditor, params={"procurementId": pid}).json()
    assert rows["count"] == 1
    (refund,) = rows["data"]
    assert refund["kind"] == "refunded"
    assert refund["amount"] == str(params[4][0])
    assert refund["to"] == world.system.budget
    assert refund["supplier"] is None
    only = api.client.get("/payments", headers=auditor, params={"procurementId": pid, "kind": "released"}).json()
    assert only["count"] == 0


def test_reads_carry_iso_8601_times_and_organization_names(api: Api, procurement: str) -> None:
    api.sync()
    auditor = api.sign_in("auditor")
    detail = api.client.get(f"/procurements/{procurement}", headers=auditor).json()
    for milestone in detail["milestones"]:
        due = dt.datetime.fromisoformat(milestone["dueAt"])
        assert due.utcoffset() == dt.timedelta(hours=9)
        assert int(due.timestamp()) == milestone["dueDate"]
    assert detail["pausedUntilAt"] is None
    assert (detail["ministry"], detail["ministryName"]) == ("MOD", "Ministry of Defense")
    assert (detail["supplierOrg"], detail["supplierOrgName"]) == ("NVE", "Nippon Vision Electronics K.K.")
