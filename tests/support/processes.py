"""Real processes for tests: gunicorn web servers and RQ workers, started and stopped cleanly."""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from shopapp.embedded_redis import free_port

ROOT = Path(__file__).resolve().parent.parent.parent


class Process:
    """A child process in its own session, with its output in a log file."""

    def __init__(self, args: list[str], env: dict, log_path: Path, cwd: Path = ROOT):
        self.args, self.env, self.log_path, self.cwd = args, env, log_path, cwd
        self.proc: subprocess.Popen | None = None

    def start(self) -> Process:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (closed by stop(), with the process)
        self.proc = subprocess.Popen(self.args, env=self.env, cwd=self.cwd, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        return self

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, signum: int) -> None:
        if self.alive():
            os.kill(self.proc.pid, signum)

    def kill(self) -> None:
        """SIGKILL the process and its group at once."""
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, wait, then SIGKILL what is left of the group."""
        if self.proc is None:
            return None
        if self.alive():
            self.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        code = self.proc.wait()
        self._log.close()
        return code

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_lines(self) -> list[dict]:
        """Each line of the output as the app and gunicorn write it (JSON), or `{"msg": line}` for another."""
        lines = []
        for line in self.output().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            lines.append(record if isinstance(record, dict) else {"msg": line})
        return lines

    def error_lines(self) -> list[str]:
        """The lines logged at ERROR or CRITICAL, and any traceback's first line."""
        return [line.get("msg", "") for line in self.log_lines()
                if line.get("level") in ("error", "critical") or "Traceback" in line.get("msg", "")]


class WebServer(Process):
    """gunicorn serving wsgi:app with the repository's gunicorn.conf.py."""

    def __init__(self, env: dict, log_path: Path, port: int | None = None, workers: int = 1,
                 extra_args: list[str] | None = None, bind_host: str | None = "127.0.0.1", cwd: Path = ROOT):
        """`bind_host`: BIND_HOST, or None to leave it unset (gunicorn.conf.py's default); `cwd`: the checkout."""
        self.port = port or free_port()
        env = dict(env, PORT=str(self.port), WEB_CONCURRENCY=str(workers))
        env.pop("BIND_HOST", None)
        if bind_host is not None:
            env["BIND_HOST"] = bind_host
        super().__init__([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", *(extra_args or []),
                          "wsgi:app"], env, log_path, cwd)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> WebServer:
        super().start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"gunicorn exited:\n{self.output()[-3000:]}")
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not answer /healthz within {timeout}s:\n{self.output()[-3000:]}")


class WorkerProcess(Process):
    """`python -m shopapp worker` (RQ workers for the app's queue)."""

    def __init__(self, env: dict, log_path: Path, extra_args: list[str] | None = None, cwd: Path = ROOT):
        super().__init__([sys.executable, "-m", "shopapp", "worker", *(extra_args or [])], env, log_path, cwd)


def serve_env(instance_dir: Path, **extra: str) -> dict:
    """The environment of a fresh `make run`: none of the suite's Shopify, shopapp, Redis or database
    settings, its own instance directory and port, one web process; plus `extra`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SHOPIFY_", "SHOPAPP_", "REDIS_", "DATABASE_", "TEST_", "BIND_", "METRICS_"))}
    env.update(SHOPAPP_INSTANCE_DIR=str(instance_dir), PORT=str(free_port()), WEB_CONCURRENCY="1", **extra)
    return env


class ServeProcess(Process):
    """`python -m shopapp serve` (what `make run` runs): web, worker and, without REDIS_URL, an embedded Redis."""

    def __init__(self, env: dict, log_path: Path):
        super().__init__([sys.executable, "-m", "shopapp", "serve"], env, log_path)
        self.port = int(env["PORT"])

    def start(self, timeout: float = 60.0) -> ServeProcess:
        from shopapp.testing import wait_until

        super().start()
        wait_until(self._ready, timeout=timeout, what="serve answering /readyz",
                   explain=lambda: self.output()[-3000:])
        return self

    def _ready(self) -> bool:
        if not self.alive():
            raise RuntimeError(f"serve exited:\n{self.output()[-3000:]}")
        try:
            return requests.get(f"http://127.0.0.1:{self.port}/readyz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def child(self, name: str):
        """The psutil.Process of the direct child whose command line names `name` (gunicorn, redis-server)."""
        import psutil

        return next(c for c in psutil.Process(self.pid).children() if name in " ".join(c.cmdline()))
