"""Migrations build a fresh database that matches the models, and downgrade cleanly."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from shopapp.db import Database, migrate
from shopapp.models import Base


def _fresh_url(tmp_path):
    # On PostgreSQL the session database is already at head; use SQLite for the up/down round trip
    # there too, and compare the PostgreSQL schema separately below.
    return f"sqlite:///{tmp_path / 'fresh.sqlite3'}"


def test_upgrade_builds_every_table_of_the_models(tmp_path):
    url = _fresh_url(tmp_path)
    migrate.upgrade(url)
    tables = set(inspect(Database(url).engine).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_schema_after_upgrade_matches_the_models(database_url):
    database = Database(database_url)
    with database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    database.dispose()
    assert diff == []


def test_downgrade_to_base_removes_every_table(tmp_path):
    url = _fresh_url(tmp_path)
    migrate.upgrade(url)
    migrate.downgrade(url, "base")
    assert set(inspect(Database(url).engine).get_table_names()) <= {"alembic_version"}


def test_upgrade_is_idempotent(tmp_path):
    url = _fresh_url(tmp_path)
    migrate.upgrade(url)
    migrate.upgrade(url)


def test_upgrade_to_the_event_dedupe_keeps_every_row_and_the_first_event_id(tmp_path):
    # Before 0003 one event could be recorded twice (two subscriptions); the unique index needs one.
    url = _fresh_url(tmp_path)
    migrate.upgrade(url, "0002")
    database = Database(url)
    row = ("INSERT INTO webhook_events (webhook_id, event_id, topic, shop_domain, api_version, received_at, status) "
           "VALUES (:w, :e, 'orders/create', 'a.myshopify.com', '2025-10', '2026-11-25 10:00:00', 'processed')")
    with database.engine.begin() as conn:
        for webhook_id, event_id in [("w1", "e1"), ("w2", "e1"), ("w3", "e2"), ("w4", None)]:
            conn.execute(text(row), {"w": webhook_id, "e": event_id})
    migrate.upgrade(url)
    with database.engine.connect() as conn:
        rows = conn.execute(text("SELECT webhook_id, event_id FROM webhook_events ORDER BY id")).all()
    database.dispose()
    assert [tuple(r) for r in rows] == [("w1", "e1"), ("w2", None), ("w3", "e2"), ("w4", None)]


def test_downgrade_from_the_event_dedupe_restores_a_required_api_version(tmp_path):
    url = _fresh_url(tmp_path)
    migrate.upgrade(url)
    database = Database(url)
    with database.engine.begin() as conn:
        conn.execute(text("INSERT INTO webhook_events (webhook_id, topic, shop_domain, received_at, status) "
                          "VALUES ('w1', 'shop/redact', 'a.myshopify.com', '2026-11-25 10:00:00', 'received')"))
    migrate.downgrade(url, "0005")
    with database.engine.connect() as conn:
        assert conn.execute(text("SELECT api_version FROM webhook_events")).scalar_one() == ""
    database.dispose()
