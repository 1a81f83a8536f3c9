"""The lean read path: a procurement's detail in two queries, scoped by role, with roles cached per mirror version.

The roles of a signed-in account are cached under the mirror's version (its cursor row, rewritten by every
commit of the indexer), never for a time: a revocation is refused on the first request after it is mirrored.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, update

from chain.roles import Role
from gateway.identity import MirrorDirectory, mirror_version
from indexer.models import CursorRow
from tests.gateway.conftest import Api


@contextmanager
def _statements(api: Api) -> Iterator[list[str]]:
    """The SQL statements the app's engine runs inside the block."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(api.state.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(api.state.engine, "before_cursor_execute", record)


def test_detail_is_two_queries_once_the_roles_are_cached(api: Api, procurement: str) -> None:
    api.sync()
    auditor = api.sign_in("auditor")
    assert api.client.get(f"/procurements/{procurement}", headers=auditor).status_code == 200
    with _statements(api) as seen:
        response = api.client.get(f"/procurements/{procurement}", headers=auditor)
    assert response.status_code == 200
    assert len(seen) == 2, seen  # the session with the mirror's version; the procurement with its milestones


def test_detail_matches_the_list_and_the_milestone_reads(api: Api, procurement: str) -> None:
    api.sync()
    auditor = api.sign_in("auditor")
    detail = api.client.get(f"/procurements/{procurement}", headers=auditor).json()
    listed = api.client.get("/procurements", headers=auditor).json()["data"][0]
    milestones = api.client.get("/milestones", headers=auditor, params={"procurementId": procurement}).json()
    assert {key: value for key, value in detail.items() if key != "milestones"} == listed
    # A listed milestone is the detail's, with its procurement in words (the detail says them once, at its head).
    words = ("ocid", "title", "ministry", "ministryName", "supplierOrg", "supplierOrgName")
    for of_detail, of_list in zip(detail["milestones"], milestones["data"], strict=True):
        assert of_list == of_detail | {key: detail[key] for key in words}
    assert detail["ocid"] == f"ocds-b5fd17-MOD-{detail['procurementId'][2:]}"  # no spec registered: the prefix's
    assert [m["milestoneId"] for m in detail["milestones"]] == [0, 1, 2]
    assert detail["totals"]["held"] == detail["totals"]["funded"] != "0"


@pytest.mark.parametrize(
    ("label", "visible"),
    [
        ("auditor", True),
        ("supplier", True),
        ("supplier_colleague", True),  # the same supplier organization
        ("other_supplier", False),
        ("officer", True),
        ("officer2", True),  # the same ministry
        ("mofa_officer", False),
        ("eval1", True),  # on the panel
        ("eval3", True),
        ("eval4", False),
        ("reviewer", False),  # no dispute
    ],
)
def test_detail_is_scoped_by_role(api: Api, procurement: str, label: str, visible: bool) -> None:
    api.sync()
    response = api.client.get(f"/procurements/{procurement}", headers=api.sign_in(label))
    if visible:
        assert response.status_code == 200, response.text
        assert response.json()["procurementId"] == procurement
    else:
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/problem+json")


def test_review_body_sees_a_disputed_procurement(api: Api, procurement: str) -> None:
    escrow = api.world.escrow(api.state.ledger.escrows_of(bytes.fromhex(procurement[2:]))[0])
    supplier = api.world.sender("supplier")
    supplier.transact(escrow.functions.submitEvidence(0, b"\x11" * 32, "ipfs://delivery-note"))
    supplier.transact(escrow.functions.openDispute(0, b"\x33" * 32))
    api.sync()
    detail = api.client.get(f"/procurements/{procurement}", headers=api.sign_in("reviewer"))
    assert detail.status_code == 200
    assert detail.json()["milestones"][0]["status"] == "Disputed"


def test_revocation_is_refused_once_mirrored_although_the_roles_were_cached(api: Api, procurement: str) -> None:
    api.sync()
    evaluator = api.sign_in("eval3")
    for _ in range(2):  # the second read is served from the role cache
        assert api.client.get(f"/procurements/{procurement}", headers=evaluator).status_code == 200
    api.world.sender("admin").transact(
        api.world.registry.functions.revokeRole(Role.EVALUATOR.id, api.world.eval3.address)
    )
    assert api.client.get(f"/procurements/{procurement}", headers=evaluator).status_code == 200  # not mirrored yet
    api.sync()
    response = api.client.get(f"/procurements/{procurement}", headers=evaluator)
    assert response.status_code == 403
    assert response.json()["type"].endswith("account-not-permitted")
    assert api.client.get("/auth/me", headers=evaluator).status_code == 403


def test_sign_out_ends_the_session_at_once(api: Api, procurement: str) -> None:
    api.sync()
    auditor = api.sign_in("auditor")
    assert api.client.get(f"/procurements/{procurement}", headers=auditor).status_code == 200
    assert api.client.post("/auth/sign-out", headers=auditor).status_code == 200
    assert api.client.get(f"/procurements/{procurement}", headers=auditor).status_code == 401


def test_detail_before_the_mirror_exists_is_503(api: Api, procurement: str) -> None:
    response = api.client.get(f"/procurements/{procurement}", headers=api.sign_in("auditor"))
    assert response.status_code == 503


def test_unknown_procurement_is_404(api: Api, procurement: str) -> None:
    api.sync()
    response = api.client.get("/procurements/0x" + "ab" * 32, headers=api.sign_in("auditor"))
    assert response.status_code == 404


def test_mirror_directory_caches_per_version_only(api: Api, procurement: str) -> None:
    api.sync()
    engine, chain_id = api.state.engine, api.state.ledger.chain_id
    directory = MirrorDirectory(engine, chain_id)
    address = api.world.eval3.address
    with engine.connect() as conn:
        version = mirror_version(conn, chain_id)
    assert version is not None
    assert directory.cached(address, version) is None
    first = directory.lookup(address, version)
    assert Role.EVALUATOR in first.roles
    assert directory.cached(address, version) == first
    assert directory.cached(address, None) is None  # no version, no cached answer

    # Any commit of the indexer (here: a cursor rewritten as a rollback would) is a new version: a miss.
    with engine.begin() as conn:
        conn.execute(
            update(CursorRow).where(CursorRow.chain_id == chain_id).values(updated_at_ms=CursorRow.updated_at_ms + 1)
        )
    with engine.connect() as conn:
        newer = mirror_version(conn, chain_id)
    assert newer is not None
    assert newer != version
    assert directory.cached(address, newer) is None
    api.world.sender("admin").transact(
        api.world.registry.functions.revokeRole(Role.EVALUATOR.id, api.world.eval3.address)
    )
    api.sync()
    assert directory.lookup(address).roles == frozenset()  # reads the new version itself
    assert directory.cached(address, version) == first  # an old version's answer is never served for a new one


def test_point_reads_in_the_thread_pool_behave_the_same(api: Api, procurement: str) -> None:
    # What a network database (PostgreSQL) gets: the same reads, run off the event loop.
    api.state.inline_point_reads = False
    api.sync()
    auditor = api.sign_in("auditor")
    detail = api.client.get(f"/procurements/{procurement}", headers=auditor)
    assert detail.status_code == 200
    assert len(detail.json()["milestones"]) == 3
    assert api.client.get(f"/procurements/{procurement}", headers=api.sign_in("other_supplier")).status_code == 404
    assert api.client.get("/auth/me", headers=auditor).status_code == 200


def test_a_procurement_id_of_two_ministries_names_the_callers_or_is_a_conflict(api: Api, procurement: str) -> None:
    """Procurement ids are scoped by ministry: MOFA may use MOD's id. Each ministry's officer reads its own
    procurement under the id, from the mirror and from the chain; an auditor, who sees both, is told why not."""
    world = api.world
    mod_escrow = api.state.ledger.escrows_of(bytes.fromhex(procurement[2:]))[0]
    params = world.procurement_params(procurement_id=bytes.fromhex(procurement[2:]), title="MOFA's own")
    mofa_escrow, _ = world.create_procurement(params, 0, label="mofa_officer")
    api.sync()
    for label, escrow in (("officer", mod_escrow), ("mofa_officer", mofa_escrow)):
        headers = api.sign_in(label)
        for path in (f"/procurements/{procurement}", f"/procurements/{procurement}/state"):
            response = api.client.get(path, headers=headers)
            assert response.status_code == 200, (label, path, response.text)
            assert response.json()["escrow"] == escrow
    auditor = api.sign_in("auditor")
    for path in (f"/procurements/{procurement}", f"/procurements/{procurement}/state"):
        response = api.client.get(path, headers=auditor)
        assert response.status_code == 409, response.text
        assert "unique within its ministry only" in response.json()["detail"]
        assert mod_escrow in response.json()["detail"]
        assert mofa_escrow in response.json()["detail"]


@pytest.mark.parametrize(
    ("path", "table", "index"),
    [
        ("/events", "events", "ix_events_chain_id_emitter_block_number_log_index"),
        ("/attestations", "attestations", "ix_attestations_chain_id_escrow_block_number_log_index"),
    ],
)
def test_a_procurements_page_reads_its_rows_by_index(
    api: Api, procurement: str, path: str, table: str, index: str
) -> None:
    """A procurement's events and attestations pages find its rows through an index on (chain id, its escrow, chain
    order), not by walking the table's key in chain order and filtering every row of the chain: SQLite chose that
    walk to avoid a sort, and a page took 1.4-1.6 s on a 1.19M-event mirror (issue 19). The plan does not depend on
    how many rows the mirror holds (no statistics are gathered), so this small mirror shows the large one's."""
    api.sync()
    auditor = api.sign_in("auditor")
    captured: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        captured.append((statement, parameters))

    event.listen(api.state.engine, "before_cursor_execute", record)
    try:
        response = api.client.get(path, headers=auditor, params={"procurementId": procurement})
    finally:
        event.remove(api.state.engine, "before_cursor_execute", record)
    assert response.status_code == 200, response.text
    pages = [(s, p) for s, p in captured if f"FROM {table}" in s and "ORDER BY" in s and "count(" not in s]
    assert pages, captured
    with api.state.engine.connect() as conn:
        for statement, parameters in pages:
            plan = [row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)]
            reads = [step for step in plan if f" {table} " in f" {step} " and step.startswith(("SCAN", "SEARCH"))]
            assert any(index in step for step in reads), plan
            assert not any(step.startswith("SCAN") for step in reads), plan
