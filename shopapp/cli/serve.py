"""`make run` / `python -m shopapp serve`: set up and run every process on embedded defaults.

Applies migrations, starts an embedded Redis when `REDIS_URL` is unset, then gunicorn (`wsgi:app`) and
`python -m shopapp worker` under one supervisor. Ctrl+C (SIGINT) or SIGTERM stops every child; if one
child dies, the others are stopped too.

Nothing it starts is reachable from other machines unless asked: gunicorn binds `BIND_HOST` (default
127.0.0.1, in dev mode and under `shopify app dev` alike: the Shopify CLI's proxy forwards its tunnel to
`localhost:PORT`), and the embedded Redis listens on 127.0.0.1 and requires a password generated for
each run (passed to the children in `REDIS_URL`).
"""
from __future__ import annotations

import ipaddress
import os
import secrets
import sys

import click

from shopapp import logs
from shopapp.cli.build import settings
from shopapp.cli.supervisor import Supervisor
from shopapp.config import DEV_CREDENTIALS_FILE, DEV_SHOP, INSTANCE_DIR, ROOT, Config

# What `make run` listens on unless BIND_HOST says otherwise: this machine only.
LOCAL_BIND_HOST = "127.0.0.1"


@click.command("serve")
def serve_command() -> int:
    """Run web, worker and (if REDIS_URL is unset) an embedded Redis."""
    from shopapp.db import migrate
    from shopapp.embedded_redis import EmbeddedRedis

    config = settings(web=True)
    _announce_credentials(config)
    migrate.upgrade(config.DATABASE_URL)
    bind_host = config.BIND_HOST or LOCAL_BIND_HOST
    env = dict(os.environ, PORT=str(config.PORT), BIND_HOST=bind_host)
    if config.DEV_MODE:
        env["SHOPAPP_DEV"] = "1"
    # The children write to this terminal (or not): decided once here, so web, worker and gunicorn agree.
    env["LOG_FORMAT"] = "json" if logs.use_json_lines(config.LOG_FORMAT, config.DEV_MODE) else "plain"
    redis = None
    if not config.redis_configured:
        redis = EmbeddedRedis(INSTANCE_DIR / "redis", password=secrets.token_urlsafe(32)).start()
        env["REDIS_URL"] = redis.url
        print(f"shopapp: embedded Redis on {redis.public_url}, password-protected (data in instance/redis)",
              flush=True)
    supervisor = Supervisor("shopapp")
    supervisor.handle_signals()
    try:
        supervisor.spawn("web", [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"], env,
                         cwd=ROOT)
        supervisor.spawn("worker", [sys.executable, "-m", "shopapp", "worker"], env, cwd=ROOT)
        _announce(config, bind_host)
        code = supervisor.wait()
    finally:
        supervisor.stop()
        if redis is not None:
            redis.stop()
    print("shopapp: stopped", flush=True)
    return code


def _announce_credentials(config: Config) -> None:
    where = INSTANCE_DIR / DEV_CREDENTIALS_FILE
    if config.dev_credentials_generated:
        print(f"shopapp: no SHOPIFY_API_KEY/SHOPIFY_API_SECRET set: dev mode with local credentials from {where}")
    elif config.encryption_key_generated:
        print(f"shopapp: SHOPAPP_ENCRYPTION_KEY is not set: tokens at rest use the local key in {where} "
              "(set your own in production)")


def _announce(config: Config, bind_host: str) -> None:
    everywhere = ipaddress.ip_address(bind_host).is_unspecified
    local = LOCAL_BIND_HOST if everywhere else bind_host
    url = f"http://{f'[{local}]' if ':' in local else local}:{config.PORT}"
    reach = "every interface: reachable from other machines" if everywhere else "reachable from this address only"
    lines = [f"shopapp: listening on {bind_host} port {config.PORT} ({reach}; set BIND_HOST to change)",
             f"shopapp: running at {url}  (health: {url}/healthz, readiness: {url}/readyz)"]
    if config.DEV_MODE:
        lines.append(f"shopapp: open {url}/ in a browser (dev shop {DEV_SHOP}), then in another terminal:")
        lines.append("          .venv/bin/python -m shopapp webhook trigger orders/create")
    else:
        lines.append(f"shopapp: the app's public URL is {config.APP_URL} (open it from the store's admin)")
    lines.append("shopapp: press Ctrl+C to stop")
    print("\n".join(lines), flush=True)


def register(group: click.Group) -> None:
    group.add_command(serve_command)
