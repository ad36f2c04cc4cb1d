"""`make run` (python -m shopapp serve): everything up on embedded defaults, and nothing left after a stop."""
import signal
import subprocess
import sys
import time

import psutil
import pytest
import requests

from tests.support.processes import ROOT, serve_env

pytestmark = [pytest.mark.slow, pytest.mark.nodb]


def _clean_env(tmp_path, **extra):
    return serve_env(tmp_path / "instance", **extra)


def _start(env):
    return subprocess.Popen([sys.executable, "-m", "shopapp", "serve"], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_ready(port, proc, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read()
        try:
            if requests.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError("serve did not become ready")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_serve_runs_on_embedded_defaults_and_stops_every_child(tmp_path, signum):
    env = _clean_env(tmp_path)
    proc = _start(env)
    _wait_ready(env["PORT"], proc)
    assert requests.get(f"http://127.0.0.1:{env['PORT']}/healthz").status_code == 200
    children = psutil.Process(proc.pid).children(recursive=True)
    assert any("redis-server" in " ".join(c.cmdline()) for c in children)
    assert (tmp_path / "instance" / "shopapp.sqlite3").exists()
    proc.send_signal(signum)
    output, _ = proc.communicate(timeout=40)
    assert "dev mode" in output and "running at" in output
    time.sleep(0.5)
    assert [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE] == []


def test_serve_uses_given_redis_url_and_starts_no_redis(tmp_path, redis_server):
    env = _clean_env(tmp_path, REDIS_URL=redis_server.url)
    proc = _start(env)
    try:
        _wait_ready(env["PORT"], proc)
        children = psutil.Process(proc.pid).children(recursive=True)
        assert not any("redis-server" in " ".join(c.cmdline()) for c in children)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=40)
