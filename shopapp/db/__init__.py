"""Database engine and sessions: one engine per process, a session per request or per task.

`init_app(app)` binds the engine; views use `request_session()`, closed at teardown; tasks and CLI
commands use `with get_db().session() as session:` and commit themselves. SQLite's locking and
checkpointing live in `shopapp.db.sqlite`; migrations in `shopapp.db.migrate`.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app, g
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from shopapp.db import sqlite
from shopapp.green import under_gevent


class Database:
    """An engine and its session factory."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self.Session = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that is closed (and rolled back if not committed) on exit."""
        session = self.Session()
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def serialized_writes(self) -> Iterator[None]:
        """Queue this write transaction behind the other processes' (SQLite files); nothing elsewhere.

        For the hot writers (webhook ingestion): see `shopapp.db.sqlite.serialized_writes`.
        """
        path = self.engine.url.database if self.engine.dialect.name == "sqlite" else None
        with sqlite.serialized_writes(path):
            yield

    def dispose(self) -> None:
        self.engine.dispose()


# A pooled server connection unused for this long is pinged before it is handed out.
PING_IDLE_SECONDS = 5.0
# Connections one process keeps to PostgreSQL (or PgBouncer): POOL_SIZE, plus POOL_OVERFLOW in a burst.
POOL_SIZE = 10
POOL_OVERFLOW = 20
# psycopg connection options for PostgreSQL; DATABASE_URL's query string overrides any of them.
# - prepare_threshold None: no server-side prepared statements. psycopg prepares a statement on its fifth
#   use on a connection; behind PgBouncer in transaction mode the next transaction may run on another server
#   connection ("prepared statement "_pg3_0" does not exist"). Off always, so PgBouncer needs no setting;
#   it costs ~10-15% of a trivial job's database work, measured straight to PostgreSQL (bench/prepared.py).
# - connect_timeout and the TCP options: a link that silently drops packets fails a connect after 5 s and a
#   statement whose data goes unacknowledged after 15 s, instead of hanging for minutes; idle pooled
#   connections are probed after 30 s.
POSTGRESQL_CONNECT_ARGS = {"prepare_threshold": None, "connect_timeout": 5, "tcp_user_timeout": 15_000,
                           "keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 5, "keepalives_count": 3}


def make_engine(url: str) -> Engine:
    """An engine tuned for the backend: WAL and a busy timeout on SQLite; on PostgreSQL no prepared
    statements (PgBouncer-safe), bounded network waits and idle-ping."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    query = make_url(url).query
    connect_args = {name: value for name, value in POSTGRESQL_CONNECT_ARGS.items() if name not in query}
    engine = create_engine(url, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW, pool_timeout=10,
                           connect_args=connect_args)
    event.listen(engine.pool, "checkin", _mark_idle)
    event.listen(engine.pool, "checkout", _ping_if_idle)
    return engine


def _mark_idle(_dbapi_connection, record) -> None:
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_connection, record, _proxy) -> None:
    """Ping a connection that sat in the pool for PING_IDLE_SECONDS; a dead one is replaced.

    SQLAlchemy's pool_pre_ping pings on every checkout: a round trip per transaction, a sixth of a
    worker's time per trivial job. A connection in steady use is left alone: if the server went away
    under it, the statement fails with a disconnect error, SQLAlchemy discards every pooled connection,
    and the caller's usual failure path applies (503 to Shopify, a job attempt retried). Connections
    that sat idle through an outage or a server restart are caught here, before they are used.
    """
    idle_since = record.info.get("idle_since")
    if idle_since is None or time.monotonic() - idle_since < PING_IDLE_SECONDS:
        return
    try:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        dbapi_connection.rollback()
    except Exception as exc:  # any failure: the pool closes this connection and checks out another
        raise DisconnectionError(f"pooled connection is dead: {type(exc).__name__}") from exc


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    sqlite.set_pragmas(dbapi_connection, gevent=under_gevent())


def init_app(app: Flask) -> None:
    """Create the engine for `DATABASE_URL` and close request sessions at teardown."""
    app.extensions["db"] = Database(app.config["DATABASE_URL"])
    app.teardown_appcontext(_close_request_session)


def get_db(app: Flask | None = None) -> Database:
    """The app's Database."""
    return (app or current_app).extensions["db"]


def request_session() -> Session:
    """The session of the current request or app context, created on first use."""
    if "db_session" not in g:
        g.db_session = get_db().Session()
    return g.db_session


def _close_request_session(_exc) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
