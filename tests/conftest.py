"""This project's own fixtures, on top of shopapp's test kit (`shopapp.testing.plugin`): real gunicorn
servers and worker processes, and a local stand-in for Shopify's OAuth and Admin GraphQL endpoints.

The kit gives `redis`, `db`, `app`, `client`, `signed_webhook`, `session_token`, `run_handler`,
`read_job` and `rq_worker`; this suite also loads its test job kinds (`tests.support.test_jobs`).
"""
from __future__ import annotations

import itertools

import pytest

from shopapp.testing import SHOP
from tests.support.features import TEST_FEATURES
from tests.support.processes import WebServer, WorkerProcess

# The dashboard's browser fixtures (browser, stack, open_dashboard) live in tests/support/dashboard.py.
pytest_plugins = ["shopapp.testing.plugin", "tests.support.dashboard"]


@pytest.fixture
def app_env(app_env) -> dict:
    """The kit's environment, with this suite's test job kinds loaded in every process."""
    return dict(app_env, FEATURES=TEST_FEATURES)


@pytest.fixture
def fake_shopify():
    """A local stand-in for Shopify's OAuth and Admin GraphQL endpoints (tests/support/fake_shopify.py).

    Point the app at it with `config.with_overrides(SHOPIFY_ADMIN_ORIGIN=fake_shopify.url)` or, for
    subprocesses, `SHOPIFY_ADMIN_ORIGIN` in their environment.
    """
    from shopapp.testing import API_KEY, API_SECRET
    from tests.support.fake_shopify import FakeShopify

    server = FakeShopify(API_KEY, API_SECRET).start()
    yield server
    server.stop()


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


@pytest.fixture
def api(client, session_token):
    """api(method, path, shop=SHOP, token=..., **kwargs): a request to the page's API with a valid session token."""
    def call(method, path, shop=SHOP, token=None, headers=None, **kwargs):
        headers = dict(headers or {})
        headers.setdefault("Authorization", f"Bearer {token or session_token(shop=shop)}")
        return client.open(path, method=method, headers=headers, **kwargs)
    return call
