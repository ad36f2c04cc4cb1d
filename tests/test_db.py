"""The engine's pool on PostgreSQL: a connection that died while idle in the pool is replaced before use."""
from __future__ import annotations

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.exc import SQLAlchemyError

from shopapp import db as db_module
from shopapp.db import Database


@pytest.fixture
def pg_database(db) -> Database:
    if make_url(db.url).get_backend_name() != "postgresql":
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL): a SQLite connection cannot be cut by a server")
    database = Database(db.url)
    yield database
    database.dispose()


def _kill_pooled_connection(pg_database: Database, killer: Database) -> None:
    with pg_database.engine.connect() as conn:  # the pool's only connection, checked in again afterwards
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    with killer.engine.begin() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()


def test_connection_killed_while_idle_is_replaced_before_use(pg_database, db, monkeypatch):
    monkeypatch.setattr(db_module, "PING_IDLE_SECONDS", 0.0)  # everything counts as idle
    _kill_pooled_connection(pg_database, db)
    with pg_database.engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1


def test_connection_in_steady_use_is_not_pinged(pg_database, db, monkeypatch):
    # Without the ping the first statement on the dead connection fails; the pool then starts afresh.
    monkeypatch.setattr(db_module, "PING_IDLE_SECONDS", 3600.0)
    _kill_pooled_connection(pg_database, db)
    with pytest.raises(SQLAlchemyError), pg_database.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    with pg_database.engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1
