"""The gateway's own tables come from its Alembic migrations, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from gateway.models import GatewayBase
from gateway.schema import alembic_config, upgrade
from indexer.schema import upgrade as upgrade_mirror
from tests.indexer.conftest import db_url, engine, postgres_server

__all__ = ["db_url", "engine", "postgres_server"]  # fixtures, re-used from the indexer's tests


def _differences(engine: Engine) -> list[Any]:
    def gateway_only(name: str | None, kind: str, _parent: Any) -> bool:
        return kind != "table" or (name or "").startswith("gateway_")

    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_name": gateway_only, "version_table": "gateway_alembic_version"}
        )
        return list(compare_metadata(context, GatewayBase.metadata))


def _version(engine: Engine) -> str:
    with engine.connect() as connection:
        return str(connection.execute(text("SELECT version_num FROM gateway_alembic_version")).scalar_one())


def test_migrations_build_the_models_from_an_empty_database(engine: Engine) -> None:
    upgrade(engine)
    upgrade(engine)  # idempotent
    assert _differences(engine) == []
    assert _version(engine) == "0004"
    assert {t for t in inspect(engine).get_table_names() if t.startswith("gateway_")} == {
        "gateway_alembic_version",
        "gateway_documents",
        "gateway_idempotency_keys",
        "gateway_relayer_leases",
        "gateway_relays",
        "gateway_sessions",
        "gateway_siwe_nonces",
        "gateway_uploads",
    }


def test_gateway_and_mirror_migrations_share_a_database_without_touching_each_other(engine: Engine) -> None:
    upgrade_mirror(engine)
    upgrade(engine)
    upgrade_mirror(engine)
    tables = set(inspect(engine).get_table_names())
    assert {"alembic_version", "gateway_alembic_version", "procurements", "gateway_sessions"} <= tables
    assert _differences(engine) == []


def _tables_of_0001_without_version(engine: Engine) -> None:
    """The gateway's tables as they were before migrations existed (the shape of 0001), with rows."""
    upgrade(engine, "0001")
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE gateway_alembic_version"))
        connection.execute(text("INSERT INTO gateway_siwe_nonces (nonce, issued_at, expires_at) VALUES ('n1', 1, 2)"))
        connection.execute(
            text("INSERT INTO gateway_siwe_nonces (nonce, issued_at, expires_at, used_at) VALUES ('n2', 1, 2, 1)")
        )
        connection.execute(
            text(
                "INSERT INTO gateway_documents (sha256, size, content_type, filename, uploaded_by, uploader_org, "
                "uploaded_at) VALUES ('ab', 3, 'application/pdf', 'report.pdf', '0x01', 'NVE', 100)"
            )
        )


def test_tables_made_before_the_migrations_are_adopted_with_their_rows(engine: Engine) -> None:
    _tables_of_0001_without_version(engine)
    upgrade(engine)
    assert _version(engine) == "0004"
    assert _differences(engine) == []
    with engine.connect() as connection:
        # Outstanding nonces of the old kind are gone (nonces are signed now), used ones stay until they expire.
        assert connection.execute(text("SELECT nonce FROM gateway_siwe_nonces")).scalars().all() == ["n2"]
        assert connection.execute(text("SELECT sha256, size, stored_at FROM gateway_documents")).all() == [
            ("ab", 3, 100)
        ]
        uploads = connection.execute(
            text("SELECT sha256, uploaded_by, uploader_org, filename, content_type, uploaded_at FROM gateway_uploads")
        ).all()
        assert uploads == [("ab", "0x01", "NVE", "report.pdf", "application/pdf", 100)]


def test_downgrade_gives_each_document_its_first_upload_back(engine: Engine) -> None:
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO gateway_documents (sha256, size, stored_at) VALUES ('ab', 3, 100)"))
        for uploader, name in (("0x01", "first.pdf"), ("0x02", "second.pdf")):
            connection.execute(
                text(
                    "INSERT INTO gateway_uploads (sha256, uploaded_by, uploader_org, filename, content_type, "
                    "uploaded_at) VALUES ('ab', :who, NULL, :name, 'application/pdf', 100)"
                ),
                {"who": uploader, "name": name},
            )
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0001")
    assert _version(engine) == "0001"
    with engine.connect() as connection:
        row = connection.execute(text("SELECT uploaded_by, filename, uploaded_at FROM gateway_documents")).one()
    assert tuple(row) == ("0x01", "first.pdf", 100)
    assert "gateway_uploads" not in inspect(engine).get_table_names()


def test_relays_and_leases_come_and_go_with_0003(engine: Engine) -> None:
    upgrade(engine)
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")
    assert not {"gateway_relays", "gateway_relayer_leases"} & set(inspect(engine).get_table_names())
    upgrade(engine)
    assert _differences(engine) == []


def test_0004_gives_relays_their_signature_and_keeps_the_rows_before_it(engine: Engine) -> None:
    upgrade(engine, "0003")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO gateway_relays (tx_hash, relayer, relayer_nonce, primary_type, contract, signer, "
                'signer_nonce, deadline, gas_limit, "transaction", status, submitted_at, gateway) '
                "VALUES ('0xab', '0x01', 0, 'Attest', '0x02', '0x03', 5, '9', 1, '{}', 'mined', 1.5, 'a gateway')"
            )
        )
    upgrade(engine)
    assert _version(engine) == "0004"
    assert _differences(engine) == []
    with engine.connect() as connection:
        assert connection.execute(text("SELECT tx_hash, signature FROM gateway_relays")).all() == [("0xab", None)]
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0003")
    assert "signature" not in {column["name"] for column in inspect(engine).get_columns("gateway_relays")}
    with engine.connect() as connection:
        assert connection.execute(text("SELECT tx_hash FROM gateway_relays")).scalars().all() == ["0xab"]
