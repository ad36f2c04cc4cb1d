"""Where the web side listens, and who may talk to it: gunicorn's bind (BIND_HOST; loopback in dev mode),
`make run` (`python -m shopapp serve`) and its embedded Redis, which other hosts cannot reach and other users
cannot use without the password generated for each run. (The worker's METRICS_PORT: test_worker_metrics.py.)"""
from __future__ import annotations

import stat
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis as redis_lib
import requests

from shopapp.embedded_redis import EmbeddedRedis
from tests.support.network import connection_refused, listening_addresses, listening_ports, other_local_address
from tests.support.processes import ServeProcess, serve_env

pytestmark = [pytest.mark.slow, pytest.mark.nodb]


@pytest.fixture(scope="module")
def dev_serve(tmp_path_factory):
    """`make run` without credentials (dev mode) and without BIND_HOST: what a new developer starts."""
    directory = tmp_path_factory.mktemp("serve-dev")
    served = ServeProcess(serve_env(directory / "instance"), directory / "serve.log").start()
    yield served
    served.stop()


def redis_port(served: ServeProcess) -> int:
    (port,) = listening_ports(served.child("redis-server").pid)
    return port


def children_redis_url(served: ServeProcess) -> str:
    return served.child("gunicorn").environ()["REDIS_URL"]


# --- gunicorn (the web process) ------------------------------------------------------------------------

def test_gunicorn_in_production_binds_every_interface_by_default(web_server):
    server = web_server(bind_host=None)  # the suite's settings: credentials set, not dev mode
    assert listening_addresses(server.pid, server.port) == {"0.0.0.0"}


def test_gunicorn_in_dev_mode_binds_loopback_by_default(web_server):
    server = web_server(env={"SHOPAPP_DEV": "1"}, bind_host=None)
    assert listening_addresses(server.pid, server.port) == {"127.0.0.1"}


def test_gunicorn_without_credentials_is_in_dev_mode_and_binds_loopback(web_server):
    server = web_server(env={"SHOPIFY_API_SECRET": ""}, bind_host=None)
    assert listening_addresses(server.pid, server.port) == {"127.0.0.1"}


def test_bind_host_overrides_the_default(web_server):
    server = web_server(env={"SHOPAPP_DEV": "1"}, bind_host="0.0.0.0")
    assert listening_addresses(server.pid, server.port) == {"0.0.0.0"}


# --- make run ------------------------------------------------------------------------------------------

def test_make_run_listens_on_loopback_only(dev_serve):
    assert listening_addresses(dev_serve.child("gunicorn").pid, dev_serve.port) == {"127.0.0.1"}
    assert "dev mode" in dev_serve.output()


def test_make_run_says_where_it_listens(dev_serve):
    output = dev_serve.output()
    assert f"listening on 127.0.0.1 port {dev_serve.port} (reachable from this address only" in output
    assert f"running at http://127.0.0.1:{dev_serve.port}" in output


def test_make_run_cannot_be_reached_from_another_interface(dev_serve):
    address = other_local_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to connect from")
    assert connection_refused(address, dev_serve.port)


def test_make_run_binds_every_interface_when_bind_host_says_so(tmp_path):
    served = ServeProcess(serve_env(tmp_path / "instance", BIND_HOST="0.0.0.0"), tmp_path / "serve.log").start()
    try:
        assert listening_addresses(served.child("gunicorn").pid, served.port) == {"0.0.0.0"}
        assert f"listening on 0.0.0.0 port {served.port} (every interface" in served.output()
        assert requests.get(f"http://127.0.0.1:{served.port}/healthz", timeout=10).status_code == 200
    finally:
        served.stop()


# --- the embedded Redis of make run -------------------------------------------------------------------

def test_embedded_redis_listens_on_loopback_only(dev_serve):
    redis_server = dev_serve.child("redis-server")
    assert listening_addresses(redis_server.pid, redis_port(dev_serve)) == {"127.0.0.1"}


def test_embedded_redis_refuses_a_client_without_its_password(dev_serve):
    # retry=None: redis-py would retry an AuthenticationError (a ConnectionError) for seconds.
    for stranger in (redis_lib.Redis(port=redis_port(dev_serve), retry=None),
                     redis_lib.Redis(port=redis_port(dev_serve), password="guessed", retry=None)):
        with pytest.raises(redis_lib.AuthenticationError):
            stranger.ping()
        stranger.close()


def test_the_children_reach_the_embedded_redis_with_the_password_in_redis_url(dev_serve):
    url = children_redis_url(dev_serve)
    assert len(urlsplit(url).password) >= 32
    assert urlsplit(url).port == redis_port(dev_serve)
    client = redis_lib.Redis.from_url(url)
    assert client.ping()
    client.close()


def test_the_embedded_redis_password_is_printed_nowhere_and_kept_private(dev_serve):
    password = urlsplit(children_redis_url(dev_serve)).password
    assert password not in dev_serve.output()
    assert f"embedded Redis on redis://127.0.0.1:{redis_port(dev_serve)}/0, password-protected" in dev_serve.output()
    for child in dev_serve.child("gunicorn").parent().children(recursive=True):
        assert password not in " ".join(child.cmdline())  # `ps` shows command lines to every user
    config = Path(dev_serve.env["SHOPAPP_INSTANCE_DIR"]) / "redis" / EmbeddedRedis.CONFIG_FILE
    assert stat.S_IMODE(config.stat().st_mode) == 0o600

