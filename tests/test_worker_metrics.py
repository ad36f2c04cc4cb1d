"""The worker command's metrics listener (METRICS_PORT) against a real `python -m shopapp worker`: guarded like
`/metrics` on the web process (METRICS_TOKEN, or direct scrapes from loopback or a private network only) and
listening on loopback unless METRICS_BIND says otherwise."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
import requests

from shopapp.embedded_redis import free_port
from shopapp.jobs import queue as jobs_queue
from shopapp.testing import SHOP, wait_until
from tests.support.metrics_text import value
from tests.support.network import connection_refused, listening_addresses, other_local_address
from tests.support.processes import WorkerProcess

pytestmark = pytest.mark.slow

TOKEN = "scrape-token-0123456789"


@dataclass
class MetricsWorker:
    worker: WorkerProcess
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/metrics"


@pytest.fixture
def metrics_worker(worker_process, tmp_path):
    """metrics_worker(**env) -> a worker command serving METRICS_PORT, once its listener is up."""
    def start(**env) -> MetricsWorker:
        port = free_port()
        worker = worker_process(env={"METRICS_DIR": str(tmp_path / "metrics"), "METRICS_PORT": str(port), **env})
        wait_until(lambda: listening_addresses(worker.pid, port), what="the worker's metrics listener",
                   explain=lambda: worker.output()[-2000:] if worker.alive() else "worker exited: " + worker.output())
        return MetricsWorker(worker, port)
    return start


def test_worker_command_serves_this_machines_metrics_on_metrics_port(metrics_worker, app, tmp_path):
    import tests.support.test_jobs  # noqa: F401  (the kind, for start_merchant_job's check)

    served = metrics_worker()
    jobs_queue.start_merchant_job(app, SHOP, "test_permanent")
    count = ("shopapp_job_duration_seconds_count", {"kind": "test_permanent", "outcome": "failed"})

    def scraped() -> float:
        response = requests.get(served.url, timeout=10)
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        return value(response.text, count[0], **count[1])
    wait_until(lambda: scraped() == 1, what="the job the worker ran, in its metrics")
    assert list((tmp_path / "metrics").glob("worker-*"))


def test_worker_metrics_listener_binds_loopback_by_default(metrics_worker):
    served = metrics_worker()
    assert listening_addresses(served.worker.pid, served.port) == {"127.0.0.1"}


def test_metrics_bind_0_0_0_0_listens_on_every_interface(metrics_worker):
    served = metrics_worker(METRICS_BIND="0.0.0.0")
    assert listening_addresses(served.worker.pid, served.port) == {"0.0.0.0"}


@pytest.mark.parametrize(("bind", "reachable"), [(None, False), ("0.0.0.0", True)])
def test_other_interfaces_reach_the_listener_only_when_metrics_bind_says_so(metrics_worker, bind, reachable):
    address = other_local_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to connect from")
    served = metrics_worker(**({"METRICS_BIND": bind} if bind else {}))
    assert connection_refused(address, served.port) is not reachable


def test_worker_metrics_need_the_token_when_one_is_set(metrics_worker):
    served = metrics_worker(METRICS_TOKEN=TOKEN)
    assert requests.get(served.url, timeout=10).status_code == 404
    assert requests.get(served.url, headers={"Authorization": "Bearer wrong"}, timeout=10).status_code == 404
    assert requests.get(served.url, headers={"Authorization": TOKEN}, timeout=10).status_code == 404
    ok = requests.get(served.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert ok.status_code == 200
    assert ok.headers["Content-Type"].startswith("text/plain; version=")  # Prometheus' exposition format


@pytest.mark.parametrize("header", [{"X-Forwarded-For": "203.0.113.9"}, {"Forwarded": "for=203.0.113.9"}])
def test_worker_metrics_through_a_proxy_need_the_token(metrics_worker, header):
    served = metrics_worker()
    response = requests.get(served.url, headers=header, timeout=10)
    assert response.status_code == 404
    assert response.text == "not found\n"


@pytest.mark.parametrize(("method", "path"), [("POST", "/metrics"), ("GET", "/healthz"), ("GET", "/metrics/x")])
def test_worker_metrics_listener_answers_nothing_else(metrics_worker, method, path):
    served = metrics_worker()
    response = requests.request(method, f"http://127.0.0.1:{served.port}{path}", timeout=10)
    assert response.status_code == 404
    assert response.text == "not found\n"
