"""Migrations build a fresh database that matches the models, and downgrade cleanly."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

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
