"""GET /audit/flags and the ``flags`` count of the procurement reads, on a live world: a MOD procurement whose due
date was amended three times (amendment-count), a plain one, and a MOFA one; each role's view, hostile callers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from eth_utils.crypto import keccak
from fastapi.testclient import TestClient

from gateway.main import create_app
from gateway.services.flags import FlagSnapshot
from indexer.flags import Flag
from tests.gateway.conftest import Api, make_settings
from tests.helpers import amendment_content, new_escrow
from tests.world import World

ROLES_SEEING_ALL = ("auditor", "finance")
REFUSED = ("supplier", "eval1", "reviewer")


@pytest.fixture(scope="module")
def flags_api(session_world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, dict[str, str]]]:
    """The three procurements mirrored and the gateway over them; their escrows by name."""
    world = session_world
    snapshot = world.tester.take_snapshot()
    year, lines = world.fiscal_year, dict(world.lines)
    tmp = tmp_path_factory.mktemp("flags-gateway")
    try:
        amended, _ = new_escrow(world, title="Radar spares, rescheduled")
        for n in range(3):
            due = world.now() + (200 + n) * 86_400
            world.sender("officer").transact(amended.functions.proposeAmendment(2, 1, 0, due, keccak(text=str(n))))
            approval = amendment_content(amended, n)
            world.sender("officer2").transact(amended.functions.approveAmendment(*approval.values()))
        plain, _ = new_escrow(world, title="Night-vision goggles, plain")
        mofa, _ = world.create_procurement(world.procurement_params(title="MOFA goggles"), 0, label="mofa_officer")
        app = create_app(make_settings(tmp), rpc=world.rpc, system=world.system, build=world.build)
        with TestClient(app, raise_server_exceptions=False) as client:
            api = Api(client=client, world=world, app=app)
            api.sync()
            yield api, {"amended": amended.address, "plain": plain.address, "mofa": mofa}
    finally:
        world.tester.revert_to_snapshot(snapshot)
        world.fiscal_year, world.lines = year, lines


_SESSIONS: dict[tuple[int, str], dict[str, str]] = {}


def _session(api: Api, label: str) -> dict[str, str]:
    """``label``'s Authorization header, signed in once per app (sign-ins are rate-limited)."""
    key = (id(api.app), label)
    if key not in _SESSIONS:
        _SESSIONS[key] = api.sign_in(label)
    return _SESSIONS[key]


def _get(api: Api, label: str | None, params: dict[str, Any] | None = None) -> Any:
    headers = _session(api, label) if label else {}
    return api.client.get("/audit/flags", headers=headers, params=params)


@pytest.mark.parametrize("label", ROLES_SEEING_ALL)
def test_auditors_and_the_finance_authority_read_every_flag(flags_api: tuple[Api, dict[str, str]], label: str) -> None:
    api, escrows = flags_api
    response = _get(api, label)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == 1
    (flag,) = body["data"]
    assert flag["rule"] == "amendment-count"
    assert flag["escrow"] == escrows["amended"]
    assert flag["buyer"] == "MOD"
    assert flag["records"]["amendments"] == [0, 1, 2]
    assert body["asOfBlock"] == api.world.rpc.block_number()
    assert {rule["id"] for rule in body["rules"]} >= {"amendment-growth", "year-end-rush"}
    assert "single-bid" in {entry["id"] for entry in body["notComputable"]}


def test_a_ministry_reads_its_own_flags_only(flags_api: tuple[Api, dict[str, str]]) -> None:
    api, _ = flags_api
    assert _get(api, "officer").json()["count"] == 1
    assert _get(api, "officer", {"ministry": "mod"}).json()["count"] == 1
    mofa = _get(api, "mofa_officer")
    assert mofa.status_code == 200
    assert mofa.json()["count"] == 0
    refused = _get(api, "mofa_officer", {"ministry": "MOD"})
    assert refused.status_code == 403
    assert "reads the flags of MOFA only, not of MOD" in refused.json()["detail"]


@pytest.mark.parametrize("label", REFUSED)
def test_suppliers_evaluators_review_bodies_and_strangers_are_refused(
    flags_api: tuple[Api, dict[str, str]], label: str
) -> None:
    response = _get(flags_api[0], label)
    assert response.status_code == 403, response.text
    assert "detail" in response.json()


def test_no_session_is_401(flags_api: tuple[Api, dict[str, str]]) -> None:
    assert _get(flags_api[0], None).status_code == 401


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"ministri": "MOD"}, "ministri"),
        ({"fy": "twenty"}, "fy"),
        ({"fy": "1999"}, "fy"),
        ({"rule": "no-such-rule"}, "no-such-rule"),
        ({"rule": "'; DROP TABLE procurements; --"}, "rule"),
        ({"ministry": "M" * 17}, "ministry"),
        ({"limit": "0"}, "limit"),
        ({"offset": "-1"}, "offset"),
    ],
)
def test_hostile_query_strings_are_422_naming_the_parameter(
    flags_api: tuple[Api, dict[str, str]], params: dict[str, str], named: str
) -> None:
    response = _get(flags_api[0], "auditor", params)
    assert response.status_code == 422, response.text
    assert named in response.text


def test_filters_and_pages(flags_api: tuple[Api, dict[str, str]]) -> None:
    api, _ = flags_api
    assert _get(api, "auditor", {"rule": "amendment-count"}).json()["count"] == 1
    assert _get(api, "auditor", {"rule": "amendment-growth"}).json()["count"] == 0
    assert _get(api, "auditor", {"ministry": "MOFA"}).json()["count"] == 0
    assert _get(api, "auditor", {"fy": str(api.world.fiscal_year)}).json()["count"] == 1
    assert _get(api, "auditor", {"fy": str(api.world.fiscal_year + 1)}).json()["count"] == 0
    beyond = _get(api, "auditor", {"offset": "1"}).json()
    assert beyond["data"] == []
    assert beyond["count"] == 1


def test_procurement_reads_carry_the_flag_count_for_those_who_may_read_flags(
    flags_api: tuple[Api, dict[str, str]],
) -> None:
    api, escrows = flags_api
    listed = api.client.get("/procurements", headers=_session(api, "auditor")).json()["data"]
    counts = {p["escrow"]: p["flags"] for p in listed}
    assert counts == {escrows["amended"]: 1, escrows["plain"]: 0, escrows["mofa"]: 0}
    officer = _session(api, "officer")
    assert api.client.get(f"/procurements/{escrows['amended']}", headers=officer).json()["flags"] == 1
    supplier = _session(api, "supplier")
    assert {p["flags"] for p in api.client.get("/procurements", headers=supplier).json()["data"]} == {None}
    assert api.client.get(f"/procurements/{escrows['amended']}", headers=supplier).json()["flags"] is None


def test_a_flag_counts_for_its_procurement_and_each_one_its_records_name() -> None:
    one, two = "0x" + "aa" * 20, "0x" + "BB" * 20
    flags = [
        Flag("amendment-count", "MOD", "3 amendments", {"escrow": one}, escrow=one),
        Flag("payment-acceptance", "MOD", "paid twice", {"escrows": [one, two]}, escrow=two),
        Flag("year-end-rush", "MOD", "rushed", {"escrows": [two.lower()]}),
    ]
    snapshot = FlagSnapshot.of(7, flags)
    assert snapshot.count(one.upper().replace("0X", "0x")) == 2
    assert snapshot.count(two) == 2
    assert snapshot.count("0x" + "cc" * 20) == 0
