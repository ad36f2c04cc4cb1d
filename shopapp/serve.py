"""`make run` / `python -m shopapp serve`: set up and run every process on embedded defaults.

Applies migrations, starts an embedded Redis when `REDIS_URL` is unset, then gunicorn (`wsgi:app`) and an
RQ worker. SIGINT or SIGTERM stops every child; if one child dies, the others are stopped too.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from shopapp.config import DEV_SHOP, INSTANCE_DIR, ROOT, Config
from shopapp.embedded_redis import EmbeddedRedis

STOP_TIMEOUT = 15.0


class Supervisor:
    """Starts child processes and stops them all together."""

    def __init__(self):
        self.children: list[tuple[str, subprocess.Popen]] = []
        self.redis: EmbeddedRedis | None = None
        self.stopping = False

    def spawn(self, name: str, args: list[str], env: dict) -> None:
        self.children.append((name, subprocess.Popen(args, env=env, cwd=ROOT)))

    def stop(self) -> None:
        self.stopping = True
        for _name, proc in self.children:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT
        for _name, proc in self.children:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.redis:
            self.redis.stop()

    def wait(self) -> int:
        """Block until a child exits or a stop signal arrives; return the exit code."""
        while not self.stopping:
            for name, proc in self.children:
                code = proc.poll()
                if code is not None:
                    print(f"shopapp: {name} exited with code {code}; stopping the rest", file=sys.stderr)
                    return code or 1
            time.sleep(0.2)
        return 0


def main() -> int:
    config = Config.from_env()
    if config.dev_credentials_generated:
        print("shopapp: no SHOPIFY_API_KEY/SHOPIFY_API_SECRET set: dev mode with local credentials "
              f"from {INSTANCE_DIR / 'dev-credentials.json'}")
    elif config.encryption_key_generated:
        print("shopapp: SHOPAPP_ENCRYPTION_KEY is not set: tokens at rest use the local key in "
              f"{INSTANCE_DIR / 'dev-credentials.json'} (set your own in production)")
    from shopapp import migrate

    migrate.upgrade(config.DATABASE_URL)
    supervisor = Supervisor()
    env = dict(os.environ, PORT=str(config.PORT))
    if config.DEV_MODE:
        env["SHOPAPP_DEV"] = "1"
    if not config.REDIS_URL:
        supervisor.redis = EmbeddedRedis(INSTANCE_DIR / "redis").start()
        env["REDIS_URL"] = supervisor.redis.url
        print(f"shopapp: embedded Redis on {supervisor.redis.url} (data in instance/redis)")

    def on_signal(signum, _frame):
        supervisor.stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        supervisor.spawn("web", [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"], env)
        supervisor.spawn("worker", [sys.executable, "-m", "shopapp", "worker"], env)
        _announce(config)
        code = supervisor.wait()
    finally:
        supervisor.stop()
    print("shopapp: stopped")
    return code


def _announce(config: Config) -> None:
    url = f"http://127.0.0.1:{config.PORT}"
    lines = [f"shopapp: running at {url}  (health: {url}/healthz, readiness: {url}/readyz)"]
    if config.DEV_MODE:
        lines.append(f"shopapp: open {url}/ in a browser (dev shop {DEV_SHOP}), then in another terminal:")
        lines.append("          .venv/bin/python -m shopapp webhook trigger orders/create")
    else:
        lines.append("shopapp: install the app on a development store (`shopify app dev`) to open it in the admin")
    lines.append("shopapp: press Ctrl+C to stop")
    print("\n".join(lines), flush=True)
